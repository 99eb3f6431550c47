//! The char-LM experiment file: `[data]`, `[model]`, `[train]`, `[baseline]`, their defaults
//! and validation.

use anyhow::bail;
use rnnlab_data::tokenizer::UnknownPolicy;
use rnnlab_models::{CellType, RecurrentConfig};
use serde::{Deserialize, Serialize};

use super::CharLmConfig;
use crate::config::{StackOptions, WordSplitting};
use crate::task::TaskConfig;
use crate::training::TrainSection;

/// Everything a char-LM run is built from (see `experiments/*.toml`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CharLmExperiment {
    /// Always `charlm`.
    pub task: String,
    /// Run name: runs go to `runs/<name>/<run-id>/`.
    pub name: String,
    /// The text corpus.
    pub data: DataSection,
    /// The network.
    pub model: ModelSection,
    /// Optimisation.
    pub train: TrainSection,
    /// The n-gram baseline scored beside the model.
    pub baseline: BaselineSection,
}

/// Which tokens the model reads and predicts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenizerKind {
    /// Characters (every character of the training text; others become `<unk>`).
    Char,
    /// Words (see `data.words`).
    Word,
    /// Byte-level BPE learnt on the training text (`data.bpe_vocab_size`).
    Bpe,
}

/// `[baseline]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BaselineSection {
    /// Order of the interpolated Kneser-Ney n-gram model over the run's tokens (5 = a
    /// character 5-gram with the char tokenizer).
    pub order: usize,
}

/// `[data]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataSection {
    /// UTF-8 text file.
    pub path: String,
    /// First fraction for training, the rest for validation (nanoGPT: 0.9).
    pub train_fraction: f64,
    /// `char`, `word` or `bpe` (byte-level BPE learnt on the training text).
    pub tokenizer: TokenizerKind,
    /// How the `word` tokenizer splits text.
    pub words: WordSplitting,
    /// Vocabulary size of the `bpe` tokenizer.
    pub bpe_vocab_size: usize,
    /// Tokens per training window.
    pub seq_len: usize,
    /// Windows per batch.
    pub batch_size: usize,
    /// Training windows start every `window_stride` tokens (1 = every window per epoch).
    pub window_stride: usize,
    /// Validation windows (during training) start every `valid_stride` tokens; the final
    /// evaluation always scores the whole validation split.
    pub valid_stride: usize,
    /// A character the char tokenizer lacks (the run's own meeting the validation text, or the
    /// one of `train.init_from` meeting a new corpus): `unk` (it becomes `<unk>`) or `error`
    /// (one error naming it, its line and column).
    pub unknown: UnknownPolicy,
    /// Truncated BPTT with carried state: `batch_size` contiguous streams read in order, each
    /// batch starting from the previous batch's final state (`window_stride` is then unused).
    pub tbptt: bool,
}

/// `[model]`. (Without `deny_unknown_fields`, which serde's `flatten` does not support: the
/// layered config already rejects every key the defaults lack, naming it and its line.)
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelSection {
    /// `rnn`, `lstm`, `gru`, `slstm` (xLSTM's scalar-memory LSTM), or the min cells `mingru`,
    /// `minlstm` (gates from the input only).
    pub cell: CellType,
    /// Embedding size.
    pub d_embed: usize,
    /// Hidden size.
    pub d_hidden: usize,
    /// Stacked layers.
    pub n_layers: usize,
    /// Dropout between layers.
    pub dropout: f64,
    /// Embedding dropout: whole tokens dropped from the embedding matrix, one mask per batch
    /// (training only).
    pub embed_dropout: f64,
    /// The recurrent stack's normalisation and regularisers (`norm`, `dropout_kind`,
    /// `input_dropout`, `output_dropout`, `weight_drop`, `zoneout`).
    #[serde(flatten)]
    pub stack: StackOptions,
}

impl Default for CharLmExperiment {
    fn default() -> Self {
        Self {
            task: "charlm".into(),
            name: "charlm".into(),
            data: DataSection {
                path: "datasets/text/tinyshakespeare.txt".into(),
                train_fraction: 0.9,
                tokenizer: TokenizerKind::Char,
                words: WordSplitting::default(),
                bpe_vocab_size: 1000,
                seq_len: 100,
                batch_size: 32,
                window_stride: 50,
                valid_stride: 500,
                tbptt: false,
                unknown: UnknownPolicy::Unk,
            },
            model: ModelSection {
                cell: CellType::Lstm,
                d_embed: 64,
                d_hidden: 256,
                n_layers: 2,
                dropout: 0.0,
                embed_dropout: 0.0,
                stack: StackOptions::default(),
            },
            train: TrainSection::new(1, 2e-3),
            baseline: BaselineSection { order: 5 },
        }
    }
}

impl TaskConfig for CharLmExperiment {
    fn train(&self) -> &TrainSection {
        &self.train
    }

    fn validate(&self) -> anyhow::Result<()> {
        crate::config::require_width(&[
            ("model.d_embed", self.model.d_embed),
            ("model.d_hidden", self.model.d_hidden),
        ])?;
        crate::config::require_nonzero(&[("model.n_layers", self.model.n_layers)])?;
        if !(self.data.train_fraction > 0.0 && self.data.train_fraction < 1.0) {
            bail!(
                "data.train_fraction = {}: must be between 0 and 1 (exclusive)",
                self.data.train_fraction
            );
        }
        crate::config::require_nonzero(&[
            ("data.seq_len", self.data.seq_len),
            ("data.batch_size", self.data.batch_size),
            ("data.window_stride", self.data.window_stride),
            ("data.valid_stride", self.data.valid_stride),
            ("baseline.order", self.baseline.order),
        ])?;
        crate::config::require_probabilities(&[
            ("model.dropout", self.model.dropout),
            ("model.embed_dropout", self.model.embed_dropout),
        ])?;
        self.model.stack.validate(self.model.cell)?;
        Ok(())
    }
}

impl CharLmExperiment {
    /// The model's config for a vocabulary of `vocab_size` tokens.
    pub fn model_config(&self, vocab_size: usize) -> CharLmConfig {
        let rnn = RecurrentConfig::new(self.model.cell, self.model.d_embed, self.model.d_hidden)
            .with_n_layers(self.model.n_layers)
            .with_dropout(self.model.dropout);
        CharLmConfig::new(vocab_size, self.model.stack.apply(rnn))
            .with_embed_dropout(self.model.embed_dropout)
    }
}
