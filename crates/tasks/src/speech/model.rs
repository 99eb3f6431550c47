//! [`SpeechClassifier`]: SpecAugment-style masking (training only) → recurrent stack over the
//! padded frames with their true lengths → masked pooling → linear head.

use burn::Tensor;
use burn::config::Config;
use burn::module::Module;
use burn::nn::loss::{CTCLossConfig, CrossEntropyLossConfig, Reduction};
use burn::nn::{Dropout, DropoutConfig, Linear, LinearConfig};
use burn::prelude::Device;
use burn::tensor::activation::log_softmax;
use burn::tensor::{Bool, ExecutionError, Int, TensorData};
use burn::train::ClassificationOutput;
use burn::train::metric::{Adaptor, ItemLazy, LossInput};
use rnnlab_data::audio::FrameBatch;
use rnnlab_models::{
    Attention, AttentionConfig, ConfigError, Pooled, Pooling, Recurrent, RecurrentConfig, pool,
};

pub use super::augment::SpecAugment;
use crate::training::Objective;

/// Configuration of a [`SpeechClassifier`].
#[derive(Config, Debug)]
pub struct SpeechConfig {
    /// Number of classes.
    pub n_classes: usize,
    /// The recurrent stack; its `d_input` is the feature size.
    pub rnn: RecurrentConfig,
    /// Pooling over the frames.
    pub pooling: Pooling,
    /// Masking of the training features.
    pub augment: SpecAugment,
    /// Dropout on the pooled vector (training only).
    #[config(default = 0.0)]
    pub dropout: f64,
}

impl SpeechConfig {
    /// Builds the model, or names the invalid key.
    pub fn try_init(&self, device: &Device) -> Result<SpeechClassifier, ConfigError> {
        if self.n_classes < 2 {
            return Err(ConfigError {
                key: "n_classes",
                message: "need at least 2 classes".into(),
            });
        }
        if !(0.0..1.0).contains(&self.dropout) {
            return Err(ConfigError {
                key: "dropout",
                message: format!("{}: must be in [0, 1)", self.dropout),
            });
        }
        let rnn = self.rnn.try_init(device)?;
        let d = rnn.d_output();
        Ok(SpeechClassifier {
            attention: (self.pooling == Pooling::Attention)
                .then(|| AttentionConfig::new(d).init(device)),
            head: LinearConfig::new(d, self.n_classes).init(device),
            rnn,
            dropout: DropoutConfig::new(self.dropout).init(),
            pooling: self.pooling,
            augment: self.augment,
        })
    }
}

/// A recurrent classifier of feature sequences (one class per recording).
#[derive(Module, Debug)]
pub struct SpeechClassifier {
    /// The recurrent stack (batch-first).
    pub rnn: Recurrent,
    /// Attention pooling parameters (with `Pooling::Attention`).
    pub attention: Option<Attention>,
    /// Dropout on the pooled vector.
    pub dropout: Dropout,
    /// Classifier head.
    pub head: Linear,
    /// Pooling over the frames.
    #[module(skip)]
    pub pooling: Pooling,
    /// Masking of the training features.
    #[module(skip)]
    pub augment: SpecAugment,
}

/// Logits and, with attention pooling, the per-frame weights.
pub struct Classified {
    /// `[B, n_classes]`.
    pub logits: Tensor<2>,
    /// `[B, T]` attention weights (attention pooling only).
    pub weights: Option<Tensor<2>>,
}

impl SpeechClassifier {
    /// `features` `[B, T, F]` (padded) with each row's `lengths` → the stack's outputs
    /// `[B, T, D]` and final state. Masks the features first when on an autodiff (training)
    /// device and `[augment]` asks for it.
    pub fn encode(
        &self,
        features: Tensor<3>,
        lengths: &[usize],
    ) -> (Tensor<3>, rnnlab_models::RecurrentState) {
        let x = if features.device().is_autodiff() && self.augment.is_on() {
            self.augment.forward(features, lengths)
        } else {
            features
        };
        self.rnn.forward_with_lengths(x, lengths, None)
    }

    /// `features` `[B, T, F]` with each row's `lengths` → `[B, T, n_classes]`: the head applied
    /// to every frame's output (what `predict --plot` draws). With mean pooling the logits of
    /// [`forward`](Self::forward) are exactly their mean over the real frames (the head is
    /// linear), with attention pooling their attention-weighted mean.
    pub fn frame_logits(&self, features: Tensor<3>, lengths: &[usize]) -> Tensor<3> {
        self.head.forward(self.encode(features, lengths).0)
    }

    /// `features` `[B, T, F]` (padded), each row's `lengths`, `mask` `[B, T]` (true on real
    /// frames) → logits `[B, n_classes]`.
    pub fn forward(
        &self,
        features: Tensor<3>,
        lengths: &[usize],
        mask: Tensor<2, Bool>,
    ) -> Classified {
        let (out, state) = self.encode(features, lengths);
        let Pooled { vector, weights } = pool(
            self.pooling,
            self.attention.as_ref(),
            out,
            state.hidden,
            lengths,
            mask,
        );
        Classified {
            logits: self.head.forward(self.dropout.forward(vector)),
            weights,
        }
    }

    /// Cross-entropy on a batch (each recording's first target is its class).
    pub fn forward_classification(&self, batch: FrameBatch) -> ClassificationOutput {
        let b = batch.lengths.len();
        let labels = batch.targets.narrow(1, 0, 1).reshape([b]);
        let out = self.forward(batch.features, &batch.lengths, batch.mask);
        let loss = CrossEntropyLossConfig::new()
            .init(&out.logits.device())
            .forward(out.logits.clone(), labels.clone());
        ClassificationOutput::new(loss, out.logits, labels)
    }
}

impl Objective for SpeechClassifier {
    type Batch = FrameBatch;
    type Output = ClassificationOutput;

    fn objective(&self, batch: FrameBatch) -> ClassificationOutput {
        self.forward_classification(batch)
    }

    fn loss(output: &ClassificationOutput) -> Tensor<1> {
        output.loss.clone()
    }
}

/// The CTC acoustic model of `target = "sequence"`: the same network, read frame by frame
/// (class 0 is the blank, class `d + 1` the digit `d`).
#[derive(Module, Debug)]
pub struct CtcModel {
    /// The network (its pooled output is not used).
    pub net: SpeechClassifier,
}

impl CtcModel {
    /// `features` `[B, T, F]` with each row's `lengths` → log-probabilities `[B, T, 11]`
    /// (dropout before the head in training).
    pub fn log_probs(&self, features: Tensor<3>, lengths: &[usize]) -> Tensor<3> {
        let (out, _) = self.net.encode(features, lengths);
        log_softmax(self.net.head.forward(self.net.dropout.forward(out)), 2)
    }

    /// The mean CTC loss per target digit (PyTorch's `reduction = "mean"`) of a batch.
    pub fn forward_ctc(&self, batch: FrameBatch) -> CtcOutput {
        let device = batch.features.device();
        let ints = |v: &[usize]| {
            let v: Vec<i64> = v.iter().map(|&x| x as i64).collect();
            Tensor::<1, Int>::from_data(TensorData::new(v.clone(), [v.len()]), &device)
        };
        let lp = self.log_probs(batch.features, &batch.lengths);
        let loss = CTCLossConfig::new()
            .with_zero_infinity(true)
            .init()
            .forward_with_reduction(
                lp.swap_dims(0, 1),
                batch.targets,
                ints(&batch.lengths),
                ints(&batch.target_lengths),
                Reduction::Mean,
            );
        CtcOutput { loss }
    }
}

/// A CTC step's output: its loss.
pub struct CtcOutput {
    /// `[1]`.
    pub loss: Tensor<1>,
}

impl ItemLazy for CtcOutput {
    fn sync(self) -> Result<Self, ExecutionError> {
        self.loss.device().flush()?;
        Ok(Self {
            loss: self.loss.without_autodiff(),
        })
    }
}

impl Adaptor<LossInput> for CtcOutput {
    fn adapt(&self) -> LossInput {
        LossInput::new(self.loss.clone())
    }
}

impl Objective for CtcModel {
    type Batch = FrameBatch;
    type Output = CtcOutput;

    fn objective(&self, batch: FrameBatch) -> CtcOutput {
        self.forward_ctc(batch)
    }

    fn loss(output: &CtcOutput) -> Tensor<1> {
        output.loss.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ctc_learns_to_spell_digit_strings_from_their_frames() {
        use burn::data::dataloader::batcher::Batcher;
        use burn::optim::AdamConfig;
        use burn::train::TrainStep;
        use rnnlab_data::audio::{Features, FrameBatcher, FrameItem};

        use crate::training::{Policy, Step};

        // Digit d is 4 frames of one-hot feature d, between 2 frames of silence (all zero).
        let item = |digits: &[u32]| {
            let f = 4;
            let mut values = vec![0f32; 2 * f];
            for &d in digits {
                for _ in 0..4 {
                    let mut frame = vec![0f32; f];
                    frame[d as usize] = 1.0;
                    values.extend(frame);
                }
                values.extend(vec![0f32; 2 * f]);
            }
            FrameItem {
                features: Features {
                    frames: values.len() / f,
                    values,
                    dim: f,
                },
                targets: digits.iter().map(|d| d + 1).collect(),
            }
        };
        let strings: Vec<Vec<u32>> =
            vec![vec![0, 1], vec![2], vec![3, 3], vec![1, 2, 0], vec![3, 0]];
        let device = Device::flex().autodiff();
        device.seed(2);
        let off = SpecAugment {
            time_masks: 0,
            time_width: 0,
            feature_masks: 0,
            feature_width: 0,
        };
        let rnn =
            RecurrentConfig::new(rnnlab_models::CellType::Gru, 4, 16).with_bidirectional(true);
        let net = SpeechConfig::new(11, rnn, Pooling::Mean, off)
            .try_init(&device)
            .unwrap();
        let mut model = Step::new(CtcModel { net }, Policy::new(1.0, false));
        let items: Vec<FrameItem> = strings.iter().map(|s| item(s)).collect();
        let batch = FrameBatcher.batch(items.clone(), &device);
        let mut optim = AdamConfig::new().init();
        for _ in 0..150 {
            let out = TrainStep::step(&model, batch.clone());
            model = model.optimize(&mut optim, 0.02.into(), out.grads);
        }
        let valid = model.model.valid();
        let plain = Device::flex();
        for (s, it) in strings.iter().zip(items) {
            let b = FrameBatcher.batch(vec![it], &plain);
            let t = b.lengths[0];
            let lp: Vec<f32> = valid
                .log_probs(b.features, &b.lengths)
                .into_data()
                .try_to_vec()
                .unwrap();
            let rows: Vec<Vec<f32>> = lp.chunks(11).map(<[f32]>::to_vec).collect();
            assert_eq!(rows.len(), t);
            assert_eq!(&super::super::ctc::greedy(&rows), s, "greedy");
            assert_eq!(&super::super::ctc::beam(&rows, 4).0, s, "beam");
        }
    }
}
