//! Checkpoint averaging (`train.average`): the kept weights become the element-wise mean of the
//! kept epoch's weights and those of the epochs just before it, read back from their
//! checkpoints. Averaging the weights of consecutive epochs of one run (Vaswani et al. 2017;
//! SWA, Izmailov et al. 2018) lands nearer the middle of the basin the run wanders in, which
//! lowers the variance between seeds at no cost at inference: the result is still one model.

use std::ops::RangeInclusive;
use std::path::Path;

use burn::Tensor;
use burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
use burn::store::ModuleRecord;

use super::checkpoint;

/// The epochs a run keeping `kept` averages with `train.average = n` (n ≥ 1): the `n` epochs
/// ending at `kept`, fewer when the run has not had that many.
pub fn window(kept: usize, n: usize) -> RangeInclusive<usize> {
    (kept + 1).saturating_sub(n.max(1)).max(1)..=kept
}

/// `model` with the mean weights of the model checkpoints of `epochs` in `dir` (each one read
/// into a copy of `model`, which gives the architecture); a missing or unreadable checkpoint
/// is an error naming its file.
pub fn from_checkpoints<M: Module>(
    model: M,
    dir: &Path,
    epochs: RangeInclusive<usize>,
) -> anyhow::Result<M> {
    let mut models = Vec::new();
    for epoch in epochs {
        let path = checkpoint::path(dir, "model", epoch);
        let record = ModuleRecord::load(path.clone()).map_err(|e| {
            anyhow::anyhow!(
                "{}: cannot read the checkpoint to average (train.average): {e:?}",
                path.display()
            )
        })?;
        models.push(model.clone().load_record(record));
    }
    Ok(mean(model, &models))
}

/// `base` with each float parameter replaced by its element-wise mean over `models` (one
/// architecture, at least one model); `base` gives the parameter ids and training state.
pub fn mean<M: Module>(base: M, models: &[M]) -> M {
    assert!(!models.is_empty(), "nothing to average");
    let mut sums = floats(&models[0]);
    for model in &models[1..] {
        for (sum, value) in sums.iter_mut().zip(floats(model)) {
            *sum = sum.clone() + value;
        }
    }
    let n = models.len() as f32;
    base.map(&mut Replace {
        means: sums
            .into_iter()
            .map(|sum| sum / n)
            .collect::<Vec<_>>()
            .into_iter(),
    })
}

/// The float parameters of `module`, detached and flattened, in visiting order.
fn floats<M: Module>(module: &M) -> Vec<Tensor<1>> {
    struct Collect(Vec<Tensor<1>>);
    impl ModuleVisitor for Collect {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            let value = param.val().detach();
            let n = value.dims().iter().product::<usize>();
            self.0.push(value.reshape([n]));
        }
    }
    let mut collect = Collect(Vec::new());
    module.visit(&mut collect);
    collect.0
}

/// Replaces each float parameter, in visiting order, with the next of `means` (flattened).
struct Replace {
    means: std::vec::IntoIter<Tensor<1>>,
}

impl ModuleMapper for Replace {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let mean = self
            .means
            .next()
            .expect("the averaged models have the base's parameters");
        param.map(|value| mean.reshape(value.dims()).to_device(&value.device()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::nn::{Linear, LinearConfig};
    use burn::prelude::Device;

    fn weights(model: &Linear) -> Vec<f32> {
        let mut out = floats(model)
            .into_iter()
            .flat_map(|t| crate::metrics::read_floats(t).unwrap())
            .collect::<Vec<_>>();
        out.iter_mut().for_each(|v| *v = (*v * 1e4).round() / 1e4);
        out
    }

    #[test]
    fn the_mean_of_three_models_is_their_elementwise_mean() {
        let device = Device::flex();
        let models: Vec<Linear> = (0..3)
            .map(|_| LinearConfig::new(3, 2).init(&device))
            .collect();
        let each: Vec<Vec<f32>> = models.iter().map(weights).collect();
        let averaged = weights(&mean(models[0].clone(), &models));
        assert_eq!(averaged.len(), 3 * 2 + 2, "weight and bias");
        for (i, got) in averaged.iter().enumerate() {
            let expected = (each[0][i] + each[1][i] + each[2][i]) / 3.0;
            assert!(
                (got - expected).abs() < 2e-4,
                "{i}: {got} against {expected}"
            );
        }
        assert_ne!(averaged, each[0], "the base's own weights are replaced");
        assert_eq!(weights(&mean(models[1].clone(), &models[1..2])), each[1]);
    }

    #[test]
    fn the_window_ends_at_the_kept_epoch_and_starts_at_epoch_one_at_the_earliest() {
        assert_eq!(window(8, 3), 6..=8);
        assert_eq!(window(8, 1), 8..=8);
        assert_eq!(window(2, 5), 1..=2);
        assert_eq!(window(3, 0), 3..=3);
    }
}
