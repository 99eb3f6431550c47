//! The speech experiment file: `[data]` (with `[data.features]`), `[model]`, `[augment]`,
//! `[train]`, `[baseline]`, their defaults and validation.

use std::fmt;

use anyhow::bail;
use rnnlab_data::audio::FeatureConfig;
use rnnlab_models::{CellType, Pooling, RecurrentConfig};
use serde::{Deserialize, Serialize};

use super::model::{SpecAugment, SpeechConfig};
use crate::config::StackOptions;
use crate::task::TaskConfig;
use crate::training::{KeepBestBy, TrainSection};

/// Everything a speech run is built from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpeechExperiment {
    /// Always `speech`.
    pub task: String,
    /// Run name: runs go to `runs/<name>/<run-id>/`.
    pub name: String,
    /// The recordings, their split and their features.
    pub data: DataSection,
    /// The network.
    pub model: ModelSection,
    /// SpecAugment-style masking of the training features.
    pub augment: SpecAugment,
    /// Optimisation.
    pub train: TrainSection,
    /// The logistic-regression baseline scored beside the model.
    pub baseline: BaselineSection,
    /// Decoding of `target = "sequence"` runs.
    pub decode: DecodeSection,
}

/// What the model predicts from a recording.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Target {
    /// The one digit a recording speaks (utterance classification, 10 classes).
    Digit,
    /// Digit strings made by concatenating recordings (`[data.sequences]`), recognised with
    /// CTC: blank plus 10 digits per frame, greedy and beam decoding.
    Sequence,
}

/// Which recordings are tested on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Split {
    /// FSDD's official split: takes 0–4 of every speaker and digit are the test set.
    Official,
    /// Leave one speaker out: every recording of this speaker is the test set, and no
    /// recording of theirs is trained on (`"speaker:NAME"`).
    Speaker(String),
}

impl TryFrom<String> for Split {
    type Error = String;

    fn try_from(s: String) -> Result<Self, String> {
        match s.split_once(':') {
            None if s == "official" => Ok(Split::Official),
            Some(("speaker", name)) if !name.is_empty() => Ok(Split::Speaker(name.to_string())),
            _ => Err(format!(
                "{s:?}: expected \"official\" or \"speaker:NAME\" (leave that speaker out)"
            )),
        }
    }
}

impl From<Split> for String {
    fn from(s: Split) -> String {
        s.to_string()
    }
}

impl fmt::Display for Split {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Split::Official => write!(f, "official"),
            Split::Speaker(name) => write!(f, "speaker:{name}"),
        }
    }
}

/// `[data]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataSection {
    /// A folder of `{digit}_{speaker}_{take}.wav` files (FSDD's naming; other files are
    /// ignored).
    pub path: String,
    /// `digit`: one digit per recording.
    pub target: Target,
    /// `official` (takes 0–4 are the test set) or `speaker:NAME` (that speaker is).
    pub split: Split,
    /// Validation set: these many takes after the test takes (takes 5–9 by default) of every
    /// training speaker and digit, held out of training.
    pub valid_takes: usize,
    /// Recordings per batch (batches hold recordings of similar length).
    pub batch_size: usize,
    /// The acoustic features.
    pub features: FeatureConfig,
    /// How digit strings are made (`target = "sequence"`).
    pub sequences: SequenceSection,
}

/// `[data.sequences]`: digit strings synthesised deterministically from the split's
/// recordings — one speaker per string, each string at a random gain, recordings joined by
/// random silences, low white noise over the whole string. Training strings use training
/// recordings only, validation and test strings theirs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SequenceSection {
    /// Training strings.
    pub train: usize,
    /// Validation strings.
    pub valid: usize,
    /// Test strings.
    pub test: usize,
    /// Fewest digits in a string.
    pub min_digits: usize,
    /// Most digits in a string.
    pub max_digits: usize,
    /// Longest silence between two digits, and before the first and after the last, in ms
    /// (each uniformly drawn from 0 to this).
    pub max_gap_ms: f64,
    /// Each string's gain is drawn uniformly from ±this many dB.
    pub gain_db: f64,
    /// Noise level: white noise this many dB below the string's peak.
    pub noise_db: f64,
    /// Seed of the synthesis (kept apart from `train.seed`, so the test strings stay put).
    pub seed: u64,
}

/// `[decode]`: CTC decoding of `target = "sequence"` runs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecodeSection {
    /// Prefixes kept by the beam search (1 and up); greedy decoding is always reported too.
    pub beam: usize,
}

/// `[model]`. (Without `deny_unknown_fields`, which serde's `flatten` does not support: the
/// layered config already rejects every key the defaults lack, naming it and its line.)
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelSection {
    /// `rnn`, `lstm`, `gru`, `slstm` (xLSTM's scalar-memory LSTM), or the min cells `mingru`,
    /// `minlstm` (gates from the input only).
    pub cell: CellType,
    /// Hidden size per direction.
    pub d_hidden: usize,
    /// Stacked layers.
    pub n_layers: usize,
    /// Run a reverse direction too.
    pub bidirectional: bool,
    /// `last`, `mean` or `attention` pooling over the frames.
    pub pooling: Pooling,
    /// Dropout between layers and before the head.
    pub dropout: f64,
    /// The recurrent stack's normalisation and regularisers (`norm`, `dropout_kind`,
    /// `input_dropout`, `output_dropout`, `weight_drop`, `zoneout`).
    #[serde(flatten)]
    pub stack: StackOptions,
}

/// `[baseline]`: multinomial logistic regression with an L2 penalty (`linfa-logistic`) on each
/// recording's per-feature mean and standard deviation over its frames (the normalised
/// features the model sees), fitted on the training split.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BaselineSection {
    /// L2 penalty weight.
    pub alpha: f64,
}

impl Default for SpeechExperiment {
    fn default() -> Self {
        Self {
            task: "speech".into(),
            name: "speech".into(),
            data: DataSection {
                path: "datasets/speech/fsdd/recordings".into(),
                target: Target::Digit,
                split: Split::Official,
                valid_takes: 5,
                batch_size: 32,
                features: FeatureConfig::default(),
                sequences: SequenceSection {
                    train: 2000,
                    valid: 200,
                    test: 300,
                    min_digits: 3,
                    max_digits: 7,
                    max_gap_ms: 300.0,
                    gain_db: 6.0,
                    noise_db: 40.0,
                    seed: 0,
                },
            },
            model: ModelSection {
                cell: CellType::Gru,
                d_hidden: 64,
                n_layers: 2,
                bidirectional: true,
                pooling: Pooling::Mean,
                dropout: 0.2,
                stack: StackOptions::default(),
            },
            augment: SpecAugment {
                time_masks: 2,
                time_width: 5,
                feature_masks: 1,
                feature_width: 4,
            },
            train: TrainSection {
                grad_clip: 5.0,
                early_stopping: 5,
                keep_best: true,
                keep_best_by: KeepBestBy::Accuracy,
                ..TrainSection::new(25, 2e-3)
            },
            baseline: BaselineSection { alpha: 0.01 },
            decode: DecodeSection { beam: 8 },
        }
    }
}

impl TaskConfig for SpeechExperiment {
    fn train(&self) -> &TrainSection {
        &self.train
    }

    fn validate(&self) -> anyhow::Result<()> {
        crate::config::require_width(&[("model.d_hidden", self.model.d_hidden)])?;
        crate::config::require_nonzero(&[
            ("model.n_layers", self.model.n_layers),
            ("data.batch_size", self.data.batch_size),
        ])?;
        if let Err(e) = self.data.features.validate() {
            bail!("data.features.{e}");
        }
        crate::config::require_probabilities(&[("model.dropout", self.model.dropout)])?;
        self.model.stack.validate(self.model.cell)?;
        if !(self.baseline.alpha > 0.0 && self.baseline.alpha.is_finite()) {
            bail!(
                "baseline.alpha = {}: must be a positive number",
                self.baseline.alpha
            );
        }
        if self.data.split == Split::Official && self.data.valid_takes == 0 {
            bail!("data.valid_takes = 0: the validation split would be empty");
        }
        let q = &self.data.sequences;
        if self.data.target == Target::Sequence {
            crate::config::require_nonzero(&[
                ("data.sequences.train", q.train),
                ("data.sequences.valid", q.valid),
                ("data.sequences.test", q.test),
                ("data.sequences.min_digits", q.min_digits),
                ("decode.beam", self.decode.beam),
            ])?;
            if q.max_digits < q.min_digits || q.max_digits > 64 {
                bail!(
                    "data.sequences.max_digits = {}: expected min_digits ({}) to 64",
                    q.max_digits,
                    q.min_digits
                );
            }
            for (key, v, hi) in [
                ("max_gap_ms", q.max_gap_ms, 10_000.0),
                ("gain_db", q.gain_db, 40.0),
                ("noise_db", q.noise_db, 200.0),
            ] {
                if !(v.is_finite() && (0.0..=hi).contains(&v)) {
                    bail!("data.sequences.{key} = {v}: expected 0 to {hi}");
                }
            }
        }
        Ok(())
    }
}

impl SpeechExperiment {
    /// Classes per frame (CTC: blank + digits) or per recording.
    pub fn n_classes(&self) -> usize {
        match self.data.target {
            Target::Digit => N_DIGITS,
            Target::Sequence => N_DIGITS + 1,
        }
    }

    /// The model's config.
    pub fn model_config(&self) -> SpeechConfig {
        let m = &self.model;
        let rnn = RecurrentConfig::new(m.cell, self.data.features.dim(), m.d_hidden)
            .with_n_layers(m.n_layers)
            .with_bidirectional(m.bidirectional)
            .with_dropout(if m.n_layers > 1 { m.dropout } else { 0.0 });
        // CTC reads every frame: no pooling (and no attention weights) is built.
        let pooling = match self.data.target {
            Target::Digit => m.pooling,
            Target::Sequence => Pooling::Mean,
        };
        SpeechConfig::new(self.n_classes(), m.stack.apply(rnn), pooling, self.augment)
            .with_dropout(m.dropout)
    }
}

/// Classes of the digit target.
pub const N_DIGITS: usize = 10;
