//! DLinear (Zeng, Chen, Zhang & Xu 2023, "Are Transformers Effective for Time Series
//! Forecasting?"): each input window split by a moving average into a trend and a remainder
//! (the "seasonal" part), one linear map from the lookback to the horizon per part, the two
//! forecasts summed. Channel-independent: every column goes through the same two maps (the
//! paper's `individual = False`).

use burn::Tensor;
use burn::config::Config;
use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::prelude::Device;
use burn::tensor::TensorData;

use crate::ConfigError;

/// Configuration of [`DLinear`].
#[derive(Config, Debug)]
pub struct DLinearConfig {
    /// Input steps `L`.
    pub lookback: usize,
    /// Predicted steps `H`.
    pub horizon: usize,
    /// Width of the moving average (odd); the paper's 25.
    #[config(default = 25)]
    pub kernel: usize,
}

impl DLinearConfig {
    /// Builds the model, or names the invalid key.
    pub fn try_init(&self, device: &Device) -> Result<DLinear, ConfigError> {
        if self.lookback == 0 || self.horizon == 0 {
            return Err(ConfigError {
                key: "lookback",
                message: "lookback and horizon must be at least 1".into(),
            });
        }
        if self.kernel.is_multiple_of(2) {
            return Err(ConfigError {
                key: "kernel",
                message: format!("{}: the moving average needs an odd width", self.kernel),
            });
        }
        let linear = || LinearConfig::new(self.lookback, self.horizon).init(device);
        Ok(DLinear {
            seasonal: linear(),
            trend: linear(),
            kernel: self.kernel,
        })
    }

    /// Builds the model.
    ///
    /// # Panics
    /// On an invalid configuration (see [`try_init`](Self::try_init)).
    pub fn init(&self, device: &Device) -> DLinear {
        self.try_init(device).unwrap_or_else(|e| panic!("{e}"))
    }
}

/// Moving-average decomposition and one linear map per component.
#[derive(Module, Debug)]
pub struct DLinear {
    /// The remainder's map, `L → H`.
    pub seasonal: Linear,
    /// The trend's map, `L → H`.
    pub trend: Linear,
    /// Width of the moving average.
    #[module(skip)]
    pub kernel: usize,
}

impl DLinear {
    /// `input` `[B, L, C]` → forecast `[B, H, C]`, each column from its own window.
    pub fn forward(&self, input: Tensor<3>) -> Tensor<3> {
        let [b, l, c] = input.dims();
        let rows = input.swap_dims(1, 2).reshape([b * c, l]);
        let trend = self.trend_of(rows.clone());
        let seasonal = rows - trend.clone();
        let out = self.seasonal.forward(seasonal) + self.trend.forward(trend);
        let h = out.dims()[1];
        out.reshape([b, c, h]).swap_dims(1, 2)
    }

    /// The moving average of each row of `rows` `[N, L]` (`[N, L]`), the window's first and
    /// last values repeated past its ends, as in the paper's code.
    pub fn trend_of(&self, rows: Tensor<2>) -> Tensor<2> {
        let l = rows.dims()[1];
        let device = rows.device();
        let a = Tensor::<2>::from_data(
            TensorData::new(averaging_matrix(l, self.kernel), [l, l]),
            &device,
        );
        rows.matmul(a.transpose())
    }
}

/// `A` `[L, L]` row-major with `trend = A · x`: row `t` averages `x[clamp(t + j, 0, L − 1)]`
/// for `j` in `−(k − 1)/2 ..= (k − 1)/2`.
pub fn averaging_matrix(l: usize, kernel: usize) -> Vec<f32> {
    let half = (kernel - 1) / 2;
    let mut a = vec![0.0f32; l * l];
    for t in 0..l {
        for j in 0..kernel {
            let s = (t + j).saturating_sub(half).min(l - 1);
            a[t * l + s] += 1.0 / kernel as f32;
        }
    }
    a
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(t: Tensor<3>) -> Vec<f32> {
        t.into_data().try_to_vec::<f32>().unwrap()
    }

    /// A window of 5 with a width-3 average, worked by hand: x = 1, 2, 4, 8, 16 padded to
    /// 1, [1, 2, 4, 8, 16], 16 gives the trend 4/3, 7/3, 14/3, 28/3, 40/3.
    #[test]
    fn trend_matches_a_hand_computed_case() {
        let device = Device::flex();
        let model = DLinearConfig::new(5, 2).with_kernel(3).init(&device);
        let x = Tensor::<2>::from_data(
            TensorData::new(vec![1.0f32, 2., 4., 8., 16.], [1, 5]),
            &device,
        );
        let trend = model.trend_of(x).into_data().try_to_vec::<f32>().unwrap();
        let expected = [4.0 / 3.0, 7.0 / 3.0, 14.0 / 3.0, 28.0 / 3.0, 40.0 / 3.0];
        for (a, b) in trend.iter().zip(expected) {
            assert!((a - b).abs() < 1e-5, "{trend:?}");
        }
    }

    /// With hand-set maps (the seasonal map reads the last remainder, the trend map sums the
    /// trend), the forecast is what those sums give, column by column.
    #[test]
    fn forecast_matches_a_hand_computed_case() {
        let device = Device::flex();
        let mut model = DLinearConfig::new(3, 2).with_kernel(3).init(&device);
        // Linear weights are [d_input, d_output]: output j = Σ_i x_i w[i][j] + b[j].
        let w_seasonal = [0.0f32, 0.0, 0.0, 0.0, 1.0, 2.0];
        let w_trend = [1.0f32, 0.0, 1.0, 0.0, 1.0, 0.0];
        let set = |lin: &mut Linear, w: [f32; 6], bias: [f32; 2]| {
            lin.weight = lin
                .weight
                .clone()
                .map(|_| Tensor::from_data(TensorData::new(w.to_vec(), [3, 2]), &device));
            lin.bias = lin.bias.clone().map(|p| {
                p.map(|_| Tensor::from_data(TensorData::new(bias.to_vec(), [2]), &device))
            });
        };
        set(&mut model.seasonal, w_seasonal, [0.5, 0.0]);
        set(&mut model.trend, w_trend, [0.0, 0.0]);
        // Two columns: 3, 0, 6 and 1, 1, 1.
        let x = Tensor::<3>::from_data(
            TensorData::new(vec![3.0f32, 1., 0., 1., 6., 1.], [1, 3, 2]),
            &device,
        );
        // Column 0: padded 3, [3, 0, 6], 6 → trend 2, 3, 4; remainder 1, −3, 2.
        // Step 0: remainder₂ (2) + 0.5 + trend sum (9) = 11.5; step 1: 2·remainder₂ = 4.
        // Column 1: constant → trend 1, 1, 1, remainder 0: step 0 = 0.5 + 3, step 1 = 0.
        let out = read(model.forward(x));
        assert_eq!(out.len(), 4);
        let expected = [11.5, 3.5, 4.0, 0.0]; // [H, C] row-major
        for (a, b) in out.iter().zip(expected) {
            assert!((a - b).abs() < 1e-5, "{out:?}");
        }
    }

    #[test]
    fn an_even_kernel_is_one_clear_error() {
        let err = DLinearConfig::new(8, 2)
            .with_kernel(4)
            .try_init(&Device::flex())
            .unwrap_err();
        assert_eq!(err.key, "kernel");
    }
}
