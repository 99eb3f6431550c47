//! Segment-wise recurrence with parallel multi-step decoding (SegRNN: Lin, Lin, Jiang, Wang &
//! Fan 2023, "SegRNN: Segment Recurrent Neural Network for Long-Term Time Series
//! Forecasting", arXiv:2308.11200).
//!
//! Each column of the window is its own series (channel independence: one set of weights for
//! every column). Its `L` steps are cut into `L / W` segments of `W`, each embedded by
//! `ReLU(Linear(W → d))`, and a recurrent stack reads the `L / W` embeddings: a few recurrent
//! steps instead of `L`. The horizon's `H / W` output segments are then decoded in parallel,
//! not one after another: every output segment is one recurrent step from the encoder's final
//! state, its input the segment's position embedding beside the column's embedding, its
//! output mapped to `W` values by `Linear(d → W)`. No forecast is fed back, so errors do not
//! accumulate along the horizon.

use burn::Tensor;
use burn::config::Config;
use burn::module::{Module, Param};
use burn::nn::{Dropout, DropoutConfig, Initializer, Linear, LinearConfig};
use burn::prelude::Device;
use burn::serde::{Deserialize, Serialize};
use burn::tensor::activation::relu;

use crate::{ConfigError, Recurrent, RecurrentConfig, RecurrentState, StackTrace};

/// How each window is normalised before the network and restored after.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(crate = "burn::serde", rename_all = "lowercase")]
pub enum SegmentNorm {
    /// Subtract each column's last value and add it back to the forecast (SegRNN's default).
    Last,
    /// RevIN without the affine map (Kim et al. 2022): each column's mean and standard
    /// deviation over the window (biased, `ε = 1e-5`) normalise it and de-normalise the forecast.
    Revin,
    /// None.
    None,
}

/// Configuration of [`SegmentRnn`].
#[derive(Config, Debug)]
pub struct SegmentRnnConfig {
    /// The recurrent stack (unidirectional); its `d_input` is the segment embedding's width
    /// `d`. SegRNN uses one GRU layer with `d_hidden = d_input`.
    pub rnn: RecurrentConfig,
    /// Input steps `L`, a multiple of `segment`.
    pub lookback: usize,
    /// Predicted steps `H`, a multiple of `segment`.
    pub horizon: usize,
    /// Segment length `W`.
    pub segment: usize,
    /// Columns `C` of the series (the channel embedding has one row per column).
    pub n_channels: usize,
    /// Decoder inputs: half position embedding, half channel embedding (SegRNN's
    /// `channel_id = 1`); all position embedding when false.
    #[config(default = true)]
    pub channel_embedding: bool,
    /// Dropout before the output map, in training only (SegRNN's 0.5).
    #[config(default = 0.0)]
    pub dropout: f64,
    /// The window normalisation.
    #[config(default = "SegmentNorm::Last")]
    pub norm: SegmentNorm,
}

impl SegmentRnnConfig {
    /// Builds the model, or names the invalid key.
    pub fn try_init(&self, device: &Device) -> Result<SegmentRnn, ConfigError> {
        let err = |key, message: String| Err(ConfigError { key, message });
        if self.segment == 0 || self.n_channels == 0 {
            return err(
                "segment",
                "segment and n_channels must be at least 1".into(),
            );
        }
        for (key, steps) in [("lookback", self.lookback), ("horizon", self.horizon)] {
            if steps == 0 || steps % self.segment != 0 {
                return err(
                    key,
                    format!(
                        "{steps}: must be a positive multiple of the segment length {}",
                        self.segment
                    ),
                );
            }
        }
        if self.rnn.bidirectional {
            return err(
                "rnn.bidirectional",
                "the decoder steps the stack forward: it must be unidirectional".into(),
            );
        }
        if !self.rnn.batch_first {
            return err("rnn.batch_first", "must be true".into());
        }
        if !(0.0..1.0).contains(&self.dropout) {
            return err("dropout", format!("{}: must be in [0, 1)", self.dropout));
        }
        let d = self.rnn.d_input;
        let (d_position, d_channel) = match self.channel_embedding {
            true => (d - d / 2, d / 2),
            false => (d, 0),
        };
        if d_channel == 0 && self.channel_embedding {
            return err(
                "rnn.d_input",
                format!("{d}: a channel embedding needs a width of at least 2"),
            );
        }
        let rnn = self.rnn.try_init(device)?;
        let normal = Initializer::Normal {
            mean: 0.0,
            std: 1.0,
        };
        let segments_out = self.horizon / self.segment;
        Ok(SegmentRnn {
            embed: LinearConfig::new(self.segment, d).init(device),
            predict: LinearConfig::new(rnn.d_output(), self.segment).init(device),
            position: normal.init([segments_out, d_position], device),
            channel: (d_channel > 0).then(|| normal.init([self.n_channels, d_channel], device)),
            rnn,
            dropout: DropoutConfig::new(self.dropout).init(),
            segment: self.segment,
            norm: self.norm,
        })
    }

    /// Builds the model.
    ///
    /// # Panics
    /// On an invalid configuration (see [`try_init`](Self::try_init)).
    pub fn init(&self, device: &Device) -> SegmentRnn {
        self.try_init(device).unwrap_or_else(|e| panic!("{e}"))
    }
}

/// SegRNN: a recurrent stack over segments of each column, decoded in parallel.
#[derive(Module, Debug)]
pub struct SegmentRnn {
    /// Segment → embedding `W → d` (followed by a ReLU).
    pub embed: Linear,
    /// The recurrent stack over the segment embeddings, and the decoder's one step.
    pub rnn: Recurrent,
    /// Decoder output → segment values `d_out → W`.
    pub predict: Linear,
    /// One embedding per output segment `[H / W, d − d/2]` (`[H / W, d]` without the channel
    /// embedding).
    pub position: Param<Tensor<2>>,
    /// One embedding per column `[C, d/2]`.
    pub channel: Option<Param<Tensor<2>>>,
    /// Before `predict`.
    pub dropout: Dropout,
    /// Segment length `W`.
    #[module(skip)]
    pub segment: usize,
    /// The window normalisation.
    #[module(skip)]
    pub norm: SegmentNorm,
}

impl SegmentRnn {
    /// `input` `[B, L, C]` → forecast `[B, H, C]`.
    ///
    /// With weight drop in training, the encoder and the decoder share one drawn mask per call.
    pub fn forward(&self, input: Tensor<3>) -> Tensor<3> {
        let rnn = self.rnn.with_weight_drop_drawn(&input.device());
        let (x, restore) = self.normalise(input);
        let [b, _, c] = x.dims();
        let (_, state) = rnn.forward(self.embedded(x), None);
        let y = self.decode_with(&rnn, state, b, c);
        restore.apply(y)
    }

    /// [`forward`](Self::forward) with the encoder traced ([`Recurrent::trace`]): the trace over
    /// the segments (rows in `(b, c)` order, one per column of each window) and the forecast
    /// `[B, H, C]` decoded from the traced final state, differentiable through the trace's
    /// probes.
    pub fn trace(&self, input: Tensor<3>) -> (StackTrace, Tensor<3>) {
        let rnn = self.rnn.with_weight_drop_drawn(&input.device());
        let (x, restore) = self.normalise(input);
        let [b, _, c] = x.dims();
        let trace = rnn.trace(self.embedded(x), None, None);
        let y = self.decode_with(&rnn, trace.state.clone(), b, c);
        (trace, restore.apply(y))
    }

    /// The encoder's final state for `x` `[B, L, C]` (normalised): one sequence of `L / W`
    /// segment embeddings per column, rows in `(b, c)` order. Also returns `[B, C]`.
    pub fn encode(&self, x: Tensor<3>) -> (RecurrentState, [usize; 2]) {
        let (out, state) = self.rnn.forward(self.embedded(x.clone()), None);
        drop(out);
        let [b, _, c] = x.dims();
        (state, [b, c])
    }

    /// The segment embeddings the encoder reads: `x` `[B, L, C]` → `[B·C, L / W, d]`.
    pub fn embedded(&self, x: Tensor<3>) -> Tensor<3> {
        let [b, l, c] = x.dims();
        let w = self.segment;
        let segments = x.swap_dims(1, 2).reshape([b * c, l / w, w]);
        relu(self.embed.forward(segments))
    }

    /// The horizon from the encoder's final `state` (rows `(b, c)`): every output segment one
    /// step of the stack from that state → `[B, H, C]`.
    pub fn decode(&self, state: RecurrentState, b: usize, c: usize) -> Tensor<3> {
        self.decode_with(&self.rnn, state, b, c)
    }

    /// [`decode`](Self::decode) with `rnn` (the stack, or a copy with its weight-drop masks
    /// drawn).
    fn decode_with(&self, rnn: &Recurrent, state: RecurrentState, b: usize, c: usize) -> Tensor<3> {
        let position = self.position.val();
        let [m, d_position] = position.dims();
        let inputs = match &self.channel {
            Some(channel) => {
                let channel = channel.val();
                let d_channel = channel.dims()[1];
                assert_eq!(
                    channel.dims()[0],
                    c,
                    "SegmentRnn: the input has {c} columns, the channel embedding {}",
                    channel.dims()[0]
                );
                let position = position.unsqueeze_dim::<3>(0).expand([c, m, d_position]);
                let channel = channel.unsqueeze_dim::<3>(1).expand([c, m, d_channel]);
                Tensor::cat(vec![position, channel], 2)
            }
            None => position.unsqueeze_dim::<3>(0).expand([c, m, d_position]),
        };
        let d = inputs.dims()[2];
        // Rows (b, c, j): column c's embedding with output segment j's position.
        let inputs = inputs
            .unsqueeze_dim::<4>(0)
            .expand([b, c, m, d])
            .reshape([b * c * m, d]);
        let repeat = |s: Tensor<3>| {
            let [layers, rows, width] = s.dims();
            s.unsqueeze_dim::<4>(2)
                .expand([layers, rows, m, width])
                .reshape([layers, rows * m, width])
        };
        let state = RecurrentState {
            hidden: repeat(state.hidden),
            cell: state.cell.map(repeat),
        };
        let (out, _) = rnn.step(inputs, Some(state));
        let values = self.predict.forward(self.dropout.forward(out)); // [b·c·m, W]
        values.reshape([b, c, m * self.segment]).swap_dims(1, 2)
    }

    /// `input` normalised, and how to restore a forecast.
    fn normalise(&self, input: Tensor<3>) -> (Tensor<3>, Restore) {
        let l = input.dims()[1];
        match self.norm {
            SegmentNorm::Last => {
                let last = input.clone().narrow(1, l - 1, 1);
                (
                    input - last.clone(),
                    Restore {
                        scale: None,
                        shift: Some(last),
                    },
                )
            }
            SegmentNorm::Revin => {
                let mean = input.clone().mean_dim(1);
                let centred = input - mean.clone();
                let std = (centred.clone().square().mean_dim(1) + REVIN_EPS).sqrt();
                (
                    centred / std.clone(),
                    Restore {
                        scale: Some(std),
                        shift: Some(mean),
                    },
                )
            }
            SegmentNorm::None => (
                input,
                Restore {
                    scale: None,
                    shift: None,
                },
            ),
        }
    }
}

/// RevIN's `ε` (its code's default).
const REVIN_EPS: f32 = 1e-5;

/// The inverse of a window normalisation: `y · scale + shift`, with per-column `[B, 1, C]`
/// statistics (none for `SegmentNorm::None`).
struct Restore {
    scale: Option<Tensor<3>>,
    shift: Option<Tensor<3>>,
}

impl Restore {
    fn apply(self, y: Tensor<3>) -> Tensor<3> {
        let [b, h, c] = y.dims();
        let y = match self.scale {
            Some(scale) => y * scale.expand([b, h, c]),
            None => y,
        };
        match self.shift {
            Some(shift) => y + shift.expand([b, h, c]),
            None => y,
        }
    }
}
