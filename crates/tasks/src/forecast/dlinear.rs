//! The DLinear baseline (Zeng, Chen, Zhang & Xu 2023), trained at scoring time on the run's
//! own training windows as the paper's code (cure-lab/LTSF-Linear) trains it: each predicted
//! column its own series through one set of weights, MSE, Adam (PyTorch's `ε = 1e-8`) at
//! `baseline.dlinear_lr` for two epochs and halved after each later one (its `type1`
//! schedule), batches of `baseline.dlinear_batch_size` windows, early stopping on the
//! validation windows after `baseline.dlinear_patience` epochs without improvement, the best
//! epoch's weights kept. The defaults (0.005, batches of 32, 10 epochs, patience 3) are the
//! settings of its ETTh1 linear-model script (`scripts/EXP-LongForecasting/Linear/etth1.sh`). It
//! is seeded by `train.seed` and runs on flex, so `eval` retrains the same baseline; on the
//! ETTh1 windows it takes a few seconds.
//!
//! On a short series that schedule barely moves the weights (the airline series has 61
//! training windows: two optimiser steps per epoch, the rate halving after each), so
//! `baseline.dlinear_fit = "lstsq"` fits the same model by least squares instead. DLinear is
//! linear in the window (`W_s (x − A x) + W_t A x` with the fixed moving average `A`), so its
//! least-squares optimum is the ordinary least-squares map from the window to the horizon,
//! set as both parts' weights.

use burn::Tensor;
use burn::module::Module;
use burn::optim::{AdamConfig, GradientsParams};
use burn::prelude::Device;
use burn::tensor::TensorData;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use rnnlab_models::{DLinear, DLinearConfig};

use super::config::{DLinearFit, ForecastExperiment};
use super::data::Prepared;
use crate::metrics::read_floats;

/// The predicted columns of a run on the model's scale, one `Vec` per column.
struct Columns {
    values: Vec<Vec<f32>>,
}

impl Columns {
    fn new(p: &Prepared) -> Self {
        let c = p.series.names().len();
        let rows = p.series.len();
        Self {
            values: p
                .outputs
                .iter()
                .map(|&col| (0..rows).map(|r| p.model_values[r * c + col]).collect())
                .collect(),
        }
    }

    /// Rows `from..from + len` of every column, `[starts, len, columns]` row-major.
    fn windows(&self, starts: &[usize], offset: usize, len: usize) -> Vec<f32> {
        starts
            .iter()
            .flat_map(|&s| {
                (s + offset..s + offset + len)
                    .flat_map(move |r| self.values.iter().map(move |col| col[r]))
            })
            .collect()
    }
}

/// Window starts in `lo..hi` whose `window` rows fit, every `stride`.
fn starts(lo: usize, hi: usize, window: usize, stride: usize) -> Vec<usize> {
    (lo..)
        .step_by(stride)
        .take_while(|s| s + window <= hi)
        .collect()
}

/// DLinear trained on the run's training windows (see the module doc).
pub fn train(e: &ForecastExperiment, p: &Prepared) -> anyhow::Result<DLinear> {
    if e.baseline.dlinear_fit == DLinearFit::Lstsq {
        return least_squares(e, p);
    }
    let b = &e.baseline;
    let (l, h) = (e.data.lookback, e.data.horizon);
    let [train_end, valid_end, _] = p.splits.bounds;
    let columns = Columns::new(p);
    let n = columns.values.len();
    let mut train = starts(0, train_end, l + h, e.data.stride);
    let valid = starts(train_end.saturating_sub(l), valid_end, l + h, 1);
    let flex = Device::flex();
    let autodiff = flex.clone().autodiff();
    let config = DLinearConfig::new(l, h).with_kernel(b.dlinear_kernel);
    // Validate before taking the initialisation lock.
    config
        .try_init(&flex)
        .map_err(|err| anyhow::anyhow!("baseline.dlinear_{err}"))?;
    let mut model = crate::training::seeded_init(e.train.seed, &flex, |_| config.init(&autodiff));
    let tensor = |starts: &[usize], offset: usize, len: usize, device: &Device| {
        Tensor::<3>::from_data(
            TensorData::new(columns.windows(starts, offset, len), [starts.len(), len, n]),
            device,
        )
    };
    let valid_loss = |m: &DLinear| -> anyhow::Result<f64> {
        let mut sum = 0.0;
        for chunk in valid.chunks(256) {
            let err = m.forward(tensor(chunk, 0, l, &flex)) - tensor(chunk, l, h, &flex);
            sum += read_floats(err.square().sum())?[0] as f64;
        }
        Ok(sum / (valid.len() * h * n).max(1) as f64)
    };
    let mut optim = AdamConfig::new().with_epsilon(1e-8).init();
    let mut rng = StdRng::seed_from_u64(e.train.seed ^ 0xd11ea5);
    let mut best = (f64::INFINITY, model.valid());
    let mut since_best = 0;
    for epoch in 0..b.dlinear_epochs {
        // Fisher–Yates with the run's seed.
        for i in (1..train.len()).rev() {
            train.swap(i, rng.random_range(0..=i));
        }
        // LTSF-Linear's `type1`: lr, lr, lr/2, lr/4, … (halved after every epoch from the second).
        let lr = b.dlinear_lr * 0.5f64.powi(epoch.saturating_sub(1) as i32);
        for chunk in train.chunks(b.dlinear_batch_size) {
            let err =
                model.forward(tensor(chunk, 0, l, &autodiff)) - tensor(chunk, l, h, &autodiff);
            let grads = GradientsParams::from_grads(err.square().mean().backward(), &model);
            model = optim.step(lr, model, grads);
        }
        let loss = valid_loss(&model.valid())?;
        if loss < best.0 {
            best = (loss, model.valid());
            since_best = 0;
        } else {
            since_best += 1;
            if since_best >= b.dlinear_patience {
                break;
            }
        }
    }
    Ok(best.1)
}

/// DLinear's forecasts of `steps` values from each origin, rolled forward on its own forecasts
/// past `data.horizon`: per origin `[steps × n_out]` row-major on the model's scale.
pub fn forecasts(
    model: &DLinear,
    e: &ForecastExperiment,
    p: &Prepared,
    origins: &[usize],
    steps: usize,
) -> anyhow::Result<Vec<Vec<f32>>> {
    let (l, h) = (e.data.lookback, e.data.horizon);
    let columns = Columns::new(p);
    let n = columns.values.len();
    let flex = Device::flex();
    let mut out = Vec::with_capacity(origins.len());
    for chunk in origins.chunks(256) {
        let before: Vec<usize> = chunk.iter().map(|o| o - l).collect();
        let mut x = Tensor::<3>::from_data(
            TensorData::new(columns.windows(&before, 0, l), [chunk.len(), l, n]),
            &flex,
        );
        let mut parts = Vec::new();
        let mut made = 0;
        while made < steps {
            let y = model.forward(x.clone());
            made += h;
            if made < steps {
                x = Tensor::cat(vec![x, y.clone()], 1).narrow(1, h, l);
            }
            parts.push(y);
        }
        let all = read_floats(Tensor::cat(parts, 1).narrow(1, 0, steps))?;
        out.extend(all.chunks(steps * n).map(<[f32]>::to_vec));
    }
    Ok(out)
}

/// DLinear set to the least-squares map from each training window of each predicted column to
/// its horizon (a tiny ridge, `1e-8` of the mean diagonal, keeps the solve defined).
fn least_squares(e: &ForecastExperiment, p: &Prepared) -> anyhow::Result<DLinear> {
    let (l, h) = (e.data.lookback, e.data.horizon);
    let columns = Columns::new(p);
    let train = starts(0, p.splits.bounds[0], l + h, e.data.stride);
    // Normal equations over [x, 1]: G = Σ z zᵀ, R = Σ z yᵀ.
    let k = l + 1;
    let (mut g, mut r) = (vec![0.0f64; k * k], vec![0.0f64; k * h]);
    for col in &columns.values {
        for &s in &train {
            let z: Vec<f64> = col[s..s + l]
                .iter()
                .map(|&v| f64::from(v))
                .chain([1.0])
                .collect();
            let y = &col[s + l..s + l + h];
            for i in 0..k {
                for j in 0..k {
                    g[i * k + j] += z[i] * z[j];
                }
                for (j, &v) in y.iter().enumerate() {
                    r[i * h + j] += z[i] * f64::from(v);
                }
            }
        }
    }
    let ridge = 1e-8 * (0..k).map(|i| g[i * k + i]).sum::<f64>() / k as f64;
    (0..k).for_each(|i| g[i * k + i] += ridge);
    let w = solve_spd(&g, &r, k, h).ok_or_else(|| {
        anyhow::anyhow!("baseline.dlinear_fit = \"lstsq\": the training windows are degenerate")
    })?;
    let device = Device::flex();
    let mut model = DLinearConfig::new(l, h)
        .with_kernel(e.baseline.dlinear_kernel)
        .try_init(&device)
        .map_err(|err| anyhow::anyhow!("baseline.dlinear_{err}"))?;
    let weight: Vec<f32> = w[..l * h].iter().map(|&v| v as f32).collect();
    let bias: Vec<f32> = w[l * h..].iter().map(|&v| v as f32).collect();
    let set = |lin: &mut burn::nn::Linear, bias: Vec<f32>| {
        lin.weight = lin
            .weight
            .clone()
            .map(|_| Tensor::from_data(TensorData::new(weight.clone(), [l, h]), &device));
        lin.bias = lin
            .bias
            .clone()
            .map(|b| b.map(|_| Tensor::from_data(TensorData::new(bias, [h]), &device)));
    };
    set(&mut model.seasonal, bias);
    set(&mut model.trend, vec![0.0; h]);
    Ok(model)
}

/// Solves `G X = R` for a symmetric positive definite `G` `[k, k]` and `R` `[k, m]` (row-major)
/// by Cholesky; `None` when `G` is not positive definite.
fn solve_spd(g: &[f64], r: &[f64], k: usize, m: usize) -> Option<Vec<f64>> {
    let mut c = vec![0.0f64; k * k]; // lower triangle: G = C Cᵀ
    for i in 0..k {
        for j in 0..=i {
            let dot: f64 = (0..j).map(|t| c[i * k + t] * c[j * k + t]).sum();
            if i == j {
                let d = g[i * k + i] - dot;
                if d <= 0.0 || !d.is_finite() {
                    return None;
                }
                c[i * k + i] = d.sqrt();
            } else {
                c[i * k + j] = (g[i * k + j] - dot) / c[j * k + j];
            }
        }
    }
    let mut x = r.to_vec();
    for col in 0..m {
        for i in 0..k {
            let dot: f64 = (0..i).map(|t| c[i * k + t] * x[t * m + col]).sum();
            x[i * m + col] = (x[i * m + col] - dot) / c[i * k + i];
        }
        for i in (0..k).rev() {
            let dot: f64 = (i + 1..k).map(|t| c[t * k + i] * x[t * m + col]).sum();
            x[i * m + col] = (x[i * m + col] - dot) / c[i * k + i];
        }
    }
    Some(x)
}

#[cfg(test)]
mod tests {
    use super::solve_spd;

    /// G = [[4, 2], [2, 3]], R = [[2, 8], [1, 7]]: X = G⁻¹ R = [[0.5, 1.25], [0, 1.5]].
    #[test]
    fn cholesky_solves_a_hand_worked_system() {
        let x = solve_spd(&[4.0, 2.0, 2.0, 3.0], &[2.0, 8.0, 1.0, 7.0], 2, 2).unwrap();
        for (a, b) in x.iter().zip([0.5, 1.25, 0.0, 1.5]) {
            assert!((a - b).abs() < 1e-12, "{x:?}");
        }
        assert!(solve_spd(&[1.0, 2.0, 2.0, 1.0], &[1.0, 1.0], 2, 1).is_none());
    }
}
