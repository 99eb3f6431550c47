//! The sentiment experiment file: `[data]`, `[model]`, `[train]`, `[baseline]`, their
//! defaults and validation.

use anyhow::bail;
use rnnlab_data::subwords::Subwords;
use rnnlab_models::{CellType, RecurrentConfig};
use serde::{Deserialize, Serialize};

use super::{Pooling, SentimentConfig};
use crate::config::{StackOptions, WordSplitting};
use crate::task::TaskConfig;
use crate::training::{KeepBestBy, TrainSection};

/// Everything a sentiment run is built from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SentimentExperiment {
    /// Always `sentiment`.
    pub task: String,
    /// Run name: runs go to `runs/<name>/<run-id>/`.
    pub name: String,
    /// The labelled sentences and their split.
    pub data: DataSection,
    /// The network.
    pub model: ModelSection,
    /// Optimisation.
    pub train: TrainSection,
    /// The TF-IDF + logistic-regression baseline scored beside the model.
    pub baseline: BaselineSection,
}

/// How the labelled sentences are stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DataFormat {
    /// A folder with `rt-polarity.neg` and `rt-polarity.pos` (one sentence per line).
    Mr,
    /// A file of `text<TAB>label` lines; every label must be in `data.labels`.
    Tsv,
}

/// `[baseline]`: TF-IDF over word n-grams (scikit-learn's `TfidfVectorizer` defaults: raw
/// counts, smooth idf `ln((1 + n) / (1 + df)) + 1`, rows L2-normalised) and multinomial
/// logistic regression with an L2 penalty (`linfa-logistic`), fitted on the training split.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BaselineSection {
    /// Longest word n-gram (2 = unigrams and bigrams).
    pub ngram_max: usize,
    /// n-grams in fewer training sentences are dropped.
    pub min_df: usize,
    /// Keep at most this many n-grams, the most frequent by document frequency.
    pub max_features: usize,
    /// L2 penalty weight (`1 / C` in scikit-learn terms).
    pub alpha: f64,
}

/// `[data]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataSection {
    /// `mr`: a folder with `rt-polarity.neg`/`.pos`; `tsv`: a file of `text<TAB>label` lines.
    pub format: DataFormat,
    /// The folder (`mr`) or file (`tsv`).
    pub path: String,
    /// Class labels as the data writes them, in class-index order (`tsv` labels must be
    /// among them; MR's are `negative`, `positive`).
    pub labels: Vec<String>,
    /// What `predict` and the report call each class (same order as `labels`); empty = the
    /// labels themselves.
    pub label_names: Vec<String>,
    /// Fraction of each class held out for validation.
    pub valid_fraction: f64,
    /// Fraction of each class held out for test.
    pub test_fraction: f64,
    /// Seed of the stratified split (kept apart from `train.seed`, so the test set stays put).
    pub split_seed: u64,
    /// Words seen fewer times in training become `<unk>`.
    pub min_freq: usize,
    /// How sentences are split into words (the model's tokenizer and the baseline's).
    pub words: WordSplitting,
    /// Sentences per batch (batches hold sentences of similar length).
    pub batch_size: usize,
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
    /// Hidden size per direction.
    pub d_hidden: usize,
    /// Stacked layers.
    pub n_layers: usize,
    /// Run a reverse direction too.
    pub bidirectional: bool,
    /// `last`, `mean` or `attention`.
    pub pooling: Pooling,
    /// Dropout on embeddings, between layers and before the head.
    pub dropout: f64,
    /// Buckets of a linear bag of uni- and bigrams added to the logits (a wide path beside the
    /// recurrent one); 0 = the recurrent path alone.
    pub ngram_buckets: usize,
    /// Hash buckets of fastText subwords (each word's vector also averages the vectors of its
    /// character n-grams, so unseen words get one); 0 = word vectors alone.
    pub subword_buckets: usize,
    /// Shortest subword n-gram, in characters of `<word>`.
    pub subword_min: usize,
    /// Longest subword n-gram.
    pub subword_max: usize,
    /// Give each token, beside its word vector, the Naive-Bayes log-count ratios (NBSVM's
    /// features) of its word and of the bigram ending at it, one per class: fitted on the
    /// training sentences (saved with the run's artefacts), each training sentence's own fitted on the
    /// other `nb_folds` folds.
    pub nb_features: bool,
    /// Additive smoothing of the ratios' counts.
    pub nb_alpha: f64,
    /// Folds of the out-of-fold ratios of the training sentences.
    pub nb_folds: usize,
    /// Embedding dropout: whole tokens dropped from the embedding matrix, one mask per batch
    /// (training only).
    pub embed_dropout: f64,
    /// The recurrent stack's normalisation and regularisers (`norm`, `dropout_kind`,
    /// `input_dropout`, `output_dropout`, `weight_drop`, `zoneout`).
    #[serde(flatten)]
    pub stack: StackOptions,
}

impl Default for SentimentExperiment {
    fn default() -> Self {
        Self {
            task: "sentiment".into(),
            name: "sentiment".into(),
            data: DataSection {
                format: DataFormat::Mr,
                path: "datasets/sentiment/mr".into(),
                labels: vec!["negative".into(), "positive".into()],
                label_names: Vec::new(),
                valid_fraction: 0.1,
                test_fraction: 0.1,
                split_seed: 0,
                min_freq: 2,
                words: WordSplitting::default(),
                batch_size: 32,
            },
            model: ModelSection {
                cell: CellType::Gru,
                d_embed: 128,
                d_hidden: 128,
                n_layers: 1,
                bidirectional: true,
                pooling: Pooling::Attention,
                dropout: 0.5,
                ngram_buckets: 0,
                subword_buckets: 0,
                subword_min: 3,
                subword_max: 5,
                nb_features: false,
                nb_alpha: 1.0,
                nb_folds: 5,
                embed_dropout: 0.0,
                stack: StackOptions::default(),
            },
            train: TrainSection {
                grad_clip: 5.0,
                early_stopping: 3,
                keep_best: true,
                keep_best_by: KeepBestBy::Accuracy,
                ..TrainSection::new(10, 2e-3)
            },
            baseline: BaselineSection {
                ngram_max: 2,
                min_df: 2,
                max_features: 10_000,
                alpha: 1.0,
            },
        }
    }
}

impl TaskConfig for SentimentExperiment {
    fn train(&self) -> &TrainSection {
        &self.train
    }

    fn validate(&self) -> anyhow::Result<()> {
        crate::config::require_width(&[
            ("model.d_embed", self.model.d_embed),
            ("model.d_hidden", self.model.d_hidden),
        ])?;
        crate::config::require_nonzero(&[
            ("model.n_layers", self.model.n_layers),
            ("data.batch_size", self.data.batch_size),
            ("baseline.ngram_max", self.baseline.ngram_max),
            ("baseline.max_features", self.baseline.max_features),
        ])?;
        if !(self.baseline.alpha > 0.0 && self.baseline.alpha.is_finite()) {
            bail!(
                "baseline.alpha = {}: must be a positive number",
                self.baseline.alpha
            );
        }
        if !self.data.label_names.is_empty()
            && self.data.label_names.len() != self.data.labels.len()
        {
            bail!(
                "data.label_names: {} names for {} labels; give one per label or none",
                self.data.label_names.len(),
                self.data.labels.len()
            );
        }
        if self.data.labels.len() < 2 {
            bail!("data.labels: need at least two class names");
        }
        if self.data.format == DataFormat::Mr && self.data.labels.len() != 2 {
            bail!("data.labels: MR has two classes (negative, positive)");
        }
        let (v, t) = (self.data.valid_fraction, self.data.test_fraction);
        if !(v > 0.0 && t > 0.0 && v + t < 1.0) {
            bail!(
                "data.valid_fraction = {v}, data.test_fraction = {t}: need both > 0 and a sum below 1"
            );
        }
        let m = &self.model;
        if m.subword_buckets == 1 {
            bail!("model.subword_buckets = 1: give 0 (no subwords) or at least 2 buckets");
        }
        if !(1 <= m.subword_min && m.subword_min <= m.subword_max && m.subword_max <= 16) {
            bail!(
                "model.subword_min = {}, model.subword_max = {}: need 1 <= min <= max <= 16",
                m.subword_min,
                m.subword_max
            );
        }
        if !(m.nb_alpha > 0.0 && m.nb_alpha.is_finite()) {
            bail!("model.nb_alpha = {}: must be a positive number", m.nb_alpha);
        }
        if m.nb_folds < 2 {
            bail!("model.nb_folds = {}: need at least 2 folds", m.nb_folds);
        }
        crate::config::require_probabilities(&[
            ("model.dropout", self.model.dropout),
            ("model.embed_dropout", self.model.embed_dropout),
        ])?;
        self.model.stack.validate(self.model.cell)?;
        Ok(())
    }
}

impl SentimentExperiment {
    /// The model's config for a vocabulary of `vocab_size` words.
    pub fn model_config(&self, vocab_size: usize) -> SentimentConfig {
        let m = &self.model;
        let d_features = self.nb_width();
        let rnn = RecurrentConfig::new(m.cell, m.d_embed + d_features, m.d_hidden)
            .with_n_layers(m.n_layers)
            .with_bidirectional(m.bidirectional)
            .with_dropout(if m.n_layers > 1 { m.dropout } else { 0.0 });
        SentimentConfig::new(
            vocab_size,
            self.data.labels.len(),
            m.stack.apply(rnn),
            m.pooling,
        )
        .with_embed_dropout(m.embed_dropout)
        .with_dropout(m.dropout)
        .with_ngram_buckets(m.ngram_buckets)
        .with_subword_buckets(m.subword_buckets)
        .with_d_features(d_features)
    }

    /// Features per token from the log-count ratios: two per class, or none without
    /// `model.nb_features`.
    pub fn nb_width(&self) -> usize {
        match self.model.nb_features {
            true => 2 * self.data.labels.len(),
            false => 0,
        }
    }

    /// How words are cut into subwords, when the model has them.
    pub fn subwords(&self) -> Option<Subwords> {
        let m = &self.model;
        (m.subword_buckets > 0).then_some(Subwords {
            buckets: m.subword_buckets,
            min_n: m.subword_min,
            max_n: m.subword_max,
        })
    }

    /// The display name of each class (`data.label_names`, else `data.labels`).
    pub fn class_names(&self) -> &[String] {
        match self.data.label_names.is_empty() {
            true => &self.data.labels,
            false => &self.data.label_names,
        }
    }
}
