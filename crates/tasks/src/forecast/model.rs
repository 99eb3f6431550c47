//! [`ForecastModel`]: one of two designs.
//! - Direct: a recurrent encoder over the steps → last output → linear head to
//!   `horizon × n_out`, added to a base forecast (nothing, the last value, or the value one
//!   season earlier).
//! - Segment (SegRNN, [`SegmentRnn`]): every column its own series, a recurrent encoder over
//!   segments of it and one decoder step per output segment.

use burn::Tensor;
use burn::config::Config;
use burn::module::Module;
use burn::nn::loss::{MseLoss, Reduction};
use burn::nn::{Linear, LinearConfig};
use burn::prelude::Device;
use burn::train::RegressionOutput;
use rnnlab_data::timeseries::TsBatch;
use rnnlab_models::{ConfigError, Recurrent, RecurrentConfig, SegmentRnn};
use serde::{Deserialize, Serialize};

use crate::training::Objective;

/// What the network's output is added to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Residual {
    /// Nothing: the head predicts the values.
    None,
    /// The last input step (the naive forecast): the head predicts changes.
    Last,
    /// The input one season before each predicted step (the seasonal-naive forecast).
    Seasonal,
}

/// The design of a [`ForecastModel`] (`model.kind`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ForecastKind {
    /// An encoder over the steps and a linear head to the whole horizon.
    Direct,
    /// SegRNN: an encoder over segments of each column, decoded in parallel.
    Segment,
}

/// Configuration of a direct [`ForecastModel`].
#[derive(Config, Debug)]
pub struct ForecastConfig {
    /// The encoder; `d_input` is the number of input columns.
    pub rnn: RecurrentConfig,
    /// Input steps.
    pub lookback: usize,
    /// Predicted steps.
    pub horizon: usize,
    /// Predicted columns: their indices among the input columns.
    pub outputs: Vec<usize>,
    /// The base forecast.
    pub residual: Residual,
    /// Season length (for `Residual::Seasonal`).
    #[config(default = 1)]
    pub season: usize,
    /// Feed the encoder each window minus its last step (every column), so that it sees
    /// shapes rather than levels: a level never seen in training (a drift between the splits)
    /// looks like the ones it learnt (NLinear's normalisation).
    #[config(default = false)]
    pub relative_input: bool,
}

impl ForecastConfig {
    /// Builds the model, or names the invalid key.
    pub fn try_init(&self, device: &Device) -> Result<ForecastModel, ConfigError> {
        if self.horizon == 0 || self.lookback == 0 {
            return Err(ConfigError {
                key: "horizon",
                message: "lookback and horizon must be at least 1".into(),
            });
        }
        if self.residual == Residual::Seasonal && (self.season == 0 || self.season > self.lookback)
        {
            return Err(ConfigError {
                key: "season",
                message: format!(
                    "{}: a seasonal base needs 1 <= season <= lookback ({})",
                    self.season, self.lookback
                ),
            });
        }
        let rnn = self.rnn.try_init(device)?;
        Ok(ForecastModel {
            head: Some(
                LinearConfig::new(rnn.d_output(), self.horizon * self.outputs.len()).init(device),
            ),
            rnn: Some(rnn),
            segment: None,
            horizon: self.horizon,
            outputs: self.outputs.clone(),
            residual: self.residual,
            season: self.season,
            relative_input: self.relative_input,
        })
    }
}

/// A multi-step recurrent forecaster: the direct design (`rnn` and `head`) or the segment
/// design (`segment`). The direct design's fields keep the names they had before the segment
/// design existed, so that older runs' weights still load.
#[derive(Module, Debug)]
pub struct ForecastModel {
    /// Direct: the encoder over the steps (batch-first).
    pub rnn: Option<Recurrent>,
    /// Direct: last output → every predicted value.
    pub head: Option<Linear>,
    /// Segment: SegRNN over every input column; the predicted columns are picked from its
    /// forecast.
    pub segment: Option<SegmentRnn>,
    /// Predicted steps.
    #[module(skip)]
    pub horizon: usize,
    /// Predicted columns among the inputs.
    #[module(skip)]
    pub outputs: Vec<usize>,
    /// The base forecast (direct).
    #[module(skip)]
    pub residual: Residual,
    /// Season length.
    #[module(skip)]
    pub season: usize,
    /// The encoder sees each window minus its last step.
    #[module(skip)]
    pub relative_input: bool,
}

impl ForecastModel {
    /// The segment design over `outputs` (indices among the input columns) of its forecast.
    pub fn segment(net: SegmentRnn, horizon: usize, outputs: Vec<usize>) -> Self {
        Self {
            rnn: None,
            head: None,
            segment: Some(net),
            horizon,
            outputs,
            residual: Residual::None,
            season: 1,
            relative_input: false,
        }
    }

    /// `input` `[B, lookback, n_in]` → forecast `[B, horizon, n_out]`.
    pub fn forward(&self, input: Tensor<3>) -> Tensor<3> {
        if let Some(net) = &self.segment {
            return self.pick(net.forward(input));
        }
        let (out, _) = self
            .encoder()
            .forward(self.encoder_input(input.clone()), None);
        self.decode(out, input)
    }

    /// The direct design's encoder.
    ///
    /// # Panics
    /// On a segment model.
    pub fn encoder(&self) -> &Recurrent {
        self.rnn.as_ref().expect("the direct design has an encoder")
    }

    /// The predicted columns of `x` `[B, T, n_in]` → `[B, T, n_out]`.
    pub fn pick(&self, x: Tensor<3>) -> Tensor<3> {
        if self.outputs.len() == x.dims()[2]
            && self.outputs.iter().enumerate().all(|(i, &c)| i == c)
        {
            return x;
        }
        let cols: Vec<Tensor<3>> = self
            .outputs
            .iter()
            .map(|&c| x.clone().narrow(2, c, 1))
            .collect();
        Tensor::cat(cols, 2)
    }

    /// What the encoder reads of `input` `[B, lookback, n_in]`: the window, or (with
    /// `relative_input`) the window minus its last step.
    pub fn encoder_input(&self, input: Tensor<3>) -> Tensor<3> {
        let l = input.dims()[1];
        match self.relative_input {
            true => input.clone() - input.narrow(1, l - 1, 1),
            false => input,
        }
    }

    /// The forecast `[B, horizon, n_out]` from the encoder's output `out` `[B, lookback, ·]`
    /// over [`encoder_input`](Self::encoder_input)`(input)`.
    pub fn decode(&self, out: Tensor<3>, input: Tensor<3>) -> Tensor<3> {
        let [b, l, _] = input.dims();
        let (h, n_out) = (self.horizon, self.outputs.len());
        let d = out.dims()[2];
        let last = out.narrow(1, l - 1, 1).reshape([b, d]);
        let head = self.head.as_ref().expect("the direct design has a head");
        let delta = head.forward(last).reshape([b, h, n_out]);
        let pick = |x: Tensor<3>| self.pick(x);
        match self.residual {
            Residual::None => delta,
            Residual::Last => delta + pick(input.narrow(1, l - 1, 1)).expand([b, h, n_out]),
            Residual::Seasonal => {
                let s = self.season;
                let season = pick(input.narrow(1, l - s, s));
                let reps = h.div_ceil(s);
                let base = Tensor::cat(vec![season; reps], 1).narrow(1, 0, h);
                delta + base
            }
        }
    }

    /// Mean squared error on a batch.
    pub fn forward_regression(&self, batch: TsBatch) -> RegressionOutput {
        let pred = self.forward(batch.input);
        let [b, h, c] = pred.dims();
        let (pred, target) = (pred.reshape([b, h * c]), batch.target.reshape([b, h * c]));
        let loss = MseLoss::new().forward(pred.clone(), target.clone(), Reduction::Mean);
        RegressionOutput::new(loss, pred, target)
    }
}

impl Objective for ForecastModel {
    type Batch = TsBatch;
    type Output = RegressionOutput;

    fn objective(&self, batch: TsBatch) -> RegressionOutput {
        self.forward_regression(batch)
    }

    fn loss(output: &RegressionOutput) -> Tensor<1> {
        output.loss.clone()
    }
}

#[cfg(test)]
mod tests {
    use burn::tensor::TensorData;
    use rnnlab_models::CellType;

    use super::*;

    fn model(residual: Residual, season: usize) -> ForecastModel {
        let device = Device::flex();
        let rnn = RecurrentConfig::new(CellType::Gru, 2, 4);
        let mut m = ForecastConfig::new(rnn, 6, 5, vec![1], residual)
            .with_season(season)
            .try_init(&device)
            .unwrap();
        // A zero head: the forecast is the base alone.
        let head = m.head.as_mut().unwrap();
        head.weight = head.weight.clone().map(|w| w.zeros_like());
        head.bias = head.bias.clone().map(|b| b.map(|t| t.zeros_like()));
        m
    }

    #[test]
    fn residual_bases_are_the_naive_forecasts() {
        let device = Device::flex();
        // Column 1 holds 10, 11, ..., 15.
        let values: Vec<f32> = (0..6).flat_map(|i| [0.0, 10.0 + i as f32]).collect();
        let input = Tensor::<3>::from_data(TensorData::new(values, [1, 6, 2]), &device);
        let run = |m: ForecastModel| -> Vec<f32> {
            m.forward(input.clone())
                .into_data()
                .try_to_vec::<f32>()
                .unwrap()
        };
        assert_eq!(run(model(Residual::Last, 1)), vec![15.0; 5]);
        assert_eq!(
            run(model(Residual::Seasonal, 3)),
            vec![13.0, 14.0, 15.0, 13.0, 14.0]
        );
        assert_eq!(run(model(Residual::None, 1)), vec![0.0; 5]);
        let bad = ForecastConfig::new(
            RecurrentConfig::new(CellType::Gru, 2, 4),
            6,
            5,
            vec![1],
            Residual::Seasonal,
        )
        .with_season(7)
        .try_init(&device);
        assert_eq!(bad.unwrap_err().key, "season");
    }

    #[test]
    fn relative_input_ignores_the_level_of_the_window() {
        let device = Device::flex();
        let rnn = RecurrentConfig::new(CellType::Lstm, 2, 4);
        let config = ForecastConfig::new(rnn, 6, 3, vec![1], Residual::Last);
        let relative = config
            .clone()
            .with_relative_input(true)
            .try_init(&device)
            .unwrap();
        let mut absolute = relative.clone();
        absolute.relative_input = false;
        let window = |level: f32| {
            let values: Vec<f32> = (0..6)
                .flat_map(|i| [level + (i as f32).sin(), level + 0.1 * i as f32])
                .collect();
            Tensor::<3>::from_data(TensorData::new(values, [1, 6, 2]), &device)
        };
        let change = |m: &ForecastModel, level: f32| -> Vec<f32> {
            let x = window(level);
            let last = x.clone().narrow(1, 5, 1).narrow(2, 1, 1);
            (m.forward(x) - last)
                .into_data()
                .try_to_vec::<f32>()
                .unwrap()
        };
        // Relative: the same shape at another level forecasts the same changes.
        let (low, high) = (change(&relative, 0.0), change(&relative, 5.0));
        for (a, b) in low.iter().zip(&high) {
            assert!((a - b).abs() < TOLERANCE, "{low:?} vs {high:?}");
        }
        // Absolute: the level changes the forecast changes.
        let (low, high) = (change(&absolute, 0.0), change(&absolute, 5.0));
        assert!(low.iter().zip(&high).any(|(a, b)| (a - b).abs() > 1e-3));
    }

    /// f32 round-off on values of a few units.
    const TOLERANCE: f32 = 1e-5;
}
