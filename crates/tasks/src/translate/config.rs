//! The translation experiment file: `[data]` (with `[data.vocab]`), `[model]`, `[objective]`,
//! `[train]` and `[decode]`, their defaults and validation.

use anyhow::bail;
use rnnlab_models::{CellType, Score};
use serde::{Deserialize, Serialize};

use crate::config::StackOptions;
use crate::task::TaskConfig;
use crate::training::{KeepBestBy, TrainSection};

/// Everything a translation run is built from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TranslateExperiment {
    /// Always `translate`.
    pub task: String,
    /// Run name: runs go to `runs/<name>/<run-id>/`.
    pub name: String,
    /// The sentence pairs, their split and vocabularies.
    pub data: DataSection,
    /// The encoder–decoder.
    pub model: ModelSection,
    /// What training minimises.
    pub objective: ObjectiveSection,
    /// Optimisation.
    pub train: TrainSection,
    /// How test sentences and `rnnlab translate` inputs are decoded.
    pub decode: DecodeSection,
}

/// Which pairs are used.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Split {
    /// The PyTorch seq2seq tutorial's filter: both sides under `max_words` words and the
    /// English side opening with "i am", "he is", "you are"… (12,441 pairs of the shipped
    /// file with `max_words = 10`).
    Tutorial,
    /// Every pair whose two sides are under `max_words` words.
    All,
}

/// How a language's text becomes ids.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VocabKind {
    /// Words (and punctuation marks) seen at least `min_freq` times in training; the rest
    /// are `<unk>`.
    Word,
    /// Byte-level BPE of `bpe_size` symbols learnt on the training side (no unknowns).
    Bpe,
}

/// `[data]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataSection {
    /// A file of `English<TAB>other` lines (Tatoeba/ManyThings).
    pub path: String,
    /// `tutorial` or `all`.
    pub split: Split,
    /// Pairs keep fewer than this many words (after normalisation) on both sides; also the
    /// longest input `rnnlab translate` accepts (`max_words - 1` words).
    pub max_words: usize,
    /// Translate the second column into English instead of English into it.
    pub reverse: bool,
    /// Pairs per batch (batches hold sources of similar length).
    pub batch_size: usize,
    /// Both languages' vocabularies, each fitted on the training split.
    pub vocab: VocabSection,
}

/// `[data.vocab]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VocabSection {
    /// `word` or `bpe`.
    pub kind: VocabKind,
    /// `word`: words seen fewer times in training are `<unk>` (so `<unk>` is trained on).
    pub min_freq: usize,
    /// `bpe`: symbols per language (the 256 bytes included).
    pub bpe_size: usize,
}

/// The attention of the decoder over the encoder outputs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AttentionKind {
    /// No attention: the decoder sees the source only through its initial state.
    None,
    /// Bahdanau (additive).
    Additive,
    /// Luong dot.
    Dot,
    /// Luong general.
    General,
}

impl AttentionKind {
    /// The score of the attention, if any.
    pub fn score(self) -> Option<Score> {
        match self {
            AttentionKind::None => None,
            AttentionKind::Additive => Some(Score::Additive),
            AttentionKind::Dot => Some(Score::Dot),
            AttentionKind::General => Some(Score::General),
        }
    }
}

/// `[model]`. (Without `deny_unknown_fields`, which serde's `flatten` does not support: the
/// layered config already rejects every key the defaults lack, naming it and its line.)
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelSection {
    /// `rnn`, `lstm`, `gru`, `slstm` (xLSTM), `mingru` or `minlstm`, in the encoder and the
    /// decoder.
    pub cell: CellType,
    /// Embedding width of both languages.
    pub d_embed: usize,
    /// Hidden size of the decoder and of each encoder direction.
    pub d_hidden: usize,
    /// Stacked layers of the encoder and of the decoder.
    pub n_layers: usize,
    /// A reverse encoder direction too.
    pub bidirectional: bool,
    /// `none`, `additive`, `dot` or `general`.
    pub attention: AttentionKind,
    /// Input feeding (Luong): the previous step's attentional vector is part of the next
    /// decoder input.
    pub input_feeding: bool,
    /// Dropout on embeddings, between layers and before the output layer.
    pub dropout: f64,
    /// Embedding dropout: whole tokens dropped from the embedding matrix, one mask per batch
    /// (training only).
    pub embed_dropout: f64,
    /// The recurrent stack's normalisation and regularisers (`norm`, `dropout_kind`,
    /// `input_dropout`, `output_dropout`, `weight_drop`, `zoneout`).
    #[serde(flatten)]
    pub stack: StackOptions,
}

/// `[objective]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ObjectiveSection {
    /// Teacher forcing: the chance that a training step's decoder input is the reference
    /// token (else the model's own previous prediction), drawn per sentence and step.
    pub teacher_forcing: f64,
    /// Label smoothing of the cross-entropy (0 = none).
    pub label_smoothing: f64,
}

/// `[decode]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecodeSection {
    /// Hypotheses kept by the beam search (greedy decoding is always reported too; 1 is
    /// greedy).
    pub beam: usize,
    /// GNMT length penalty α: hypotheses rank by log-probability / ((5 + length) / 6)^α
    /// (0 = raw log-probability, which favours short outputs).
    pub length_penalty: f64,
    /// Longest output in tokens; each sentence also stops at twice its source length + 5.
    pub max_len: usize,
}

impl Default for TranslateExperiment {
    fn default() -> Self {
        Self {
            task: "translate".into(),
            name: "translate".into(),
            data: DataSection {
                path: "datasets/translation/eng-fra/pairs.tsv".into(),
                split: Split::Tutorial,
                max_words: 10,
                reverse: false,
                batch_size: 64,
                vocab: VocabSection {
                    kind: VocabKind::Word,
                    min_freq: 2,
                    bpe_size: 2000,
                },
            },
            model: ModelSection {
                cell: CellType::Gru,
                d_embed: 128,
                d_hidden: 128,
                n_layers: 1,
                bidirectional: true,
                attention: AttentionKind::Additive,
                input_feeding: true,
                dropout: 0.3,
                embed_dropout: 0.0,
                stack: StackOptions::default(),
            },
            objective: ObjectiveSection {
                teacher_forcing: 1.0,
                label_smoothing: 0.1,
            },
            train: TrainSection {
                grad_clip: 5.0,
                early_stopping: 5,
                keep_best: true,
                keep_best_by: KeepBestBy::Loss,
                ..TrainSection::new(35, 2e-3)
            },
            decode: DecodeSection {
                beam: 5,
                length_penalty: 1.0,
                max_len: 40,
            },
        }
    }
}

impl TaskConfig for TranslateExperiment {
    fn train(&self) -> &TrainSection {
        &self.train
    }

    fn validate(&self) -> anyhow::Result<()> {
        let m = &self.model;
        crate::config::require_width(&[
            ("model.d_embed", m.d_embed),
            ("model.d_hidden", m.d_hidden),
        ])?;
        crate::config::require_nonzero(&[
            ("model.n_layers", m.n_layers),
            ("data.batch_size", self.data.batch_size),
            ("data.vocab.min_freq", self.data.vocab.min_freq),
            ("decode.beam", self.decode.beam),
            ("decode.max_len", self.decode.max_len),
        ])?;
        if !(2..=1000).contains(&self.data.max_words) {
            bail!(
                "data.max_words = {}: expected 2 to 1000",
                self.data.max_words
            );
        }
        if self.data.vocab.kind == VocabKind::Bpe
            && !(257..=1_000_000).contains(&self.data.vocab.bpe_size)
        {
            bail!(
                "data.vocab.bpe_size = {}: expected 257 (the 256 bytes and one merge) to 1000000",
                self.data.vocab.bpe_size
            );
        }
        m.stack.validate(m.cell)?;
        for (key, v) in [
            ("model.dropout", m.dropout),
            ("model.embed_dropout", m.embed_dropout),
            ("objective.label_smoothing", self.objective.label_smoothing),
        ] {
            if !(v.is_finite() && (0.0..1.0).contains(&v)) {
                bail!("{key} = {v}: must be in [0, 1)");
            }
        }
        let tf = self.objective.teacher_forcing;
        if !(tf.is_finite() && (0.0..=1.0).contains(&tf)) {
            bail!("objective.teacher_forcing = {tf}: must be in [0, 1]");
        }
        let lp = self.decode.length_penalty;
        if !(lp.is_finite() && (0.0..=10.0).contains(&lp)) {
            bail!("decode.length_penalty = {lp}: expected 0 to 10");
        }
        if self.decode.beam > 100 {
            bail!("decode.beam = {}: at most 100", self.decode.beam);
        }
        if self.decode.max_len > 10_000 {
            bail!("decode.max_len = {}: at most 10000", self.decode.max_len);
        }
        Ok(())
    }
}

impl TranslateExperiment {
    /// The model's config for vocabularies of `source` and `target` ids.
    pub fn model_config(&self, source: usize, target: usize) -> super::model::Seq2SeqConfig {
        let m = &self.model;
        let encoder = rnnlab_models::RecurrentConfig::new(m.cell, m.d_embed, m.d_hidden)
            .with_n_layers(m.n_layers)
            .with_bidirectional(m.bidirectional)
            .with_dropout(if m.n_layers > 1 { m.dropout } else { 0.0 });
        super::model::Seq2SeqConfig::new(source, target, m.stack.apply(encoder))
            .with_embed_dropout(m.embed_dropout)
            .with_attention(m.attention.score())
            .with_input_feeding(m.input_feeding)
            .with_dropout(m.dropout)
            .with_teacher_forcing(self.objective.teacher_forcing)
            .with_label_smoothing(self.objective.label_smoothing)
    }

    /// The `[decode]` settings.
    pub fn decoding(&self) -> super::decode::Decoding {
        super::decode::Decoding {
            beam: self.decode.beam,
            length_penalty: self.decode.length_penalty,
            max_len: self.decode.max_len,
        }
    }
}
