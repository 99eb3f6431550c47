//! [`SentimentClassifier`]: embedding → recurrent stack (optionally bidirectional) over the
//! padded batch with its true lengths → masked pooling → linear head.

use burn::Tensor;
use burn::config::Config;
use burn::module::Module;
use burn::nn::loss::CrossEntropyLossConfig;
use burn::nn::{Dropout, DropoutConfig, Embedding, EmbeddingConfig, Linear, LinearConfig};
use burn::prelude::Device;
use burn::tensor::module::embedding;
use burn::tensor::{Bool, Int};
use burn::train::ClassificationOutput;
use rnnlab_data::classification::ClassBatch;
use rnnlab_models::{
    Attention, AttentionConfig, ConfigError, Pooled, Pooling, Recurrent, RecurrentConfig, pool,
    regularise,
};

use crate::training::Objective;

/// Configuration of a [`SentimentClassifier`].
#[derive(Config, Debug)]
pub struct SentimentConfig {
    /// Number of token ids.
    pub vocab_size: usize,
    /// Number of classes.
    pub n_classes: usize,
    /// The recurrent stack; its `d_input` is the embedding size plus `d_features`.
    pub rnn: RecurrentConfig,
    /// Pooling over time.
    pub pooling: Pooling,
    /// Dropout on the embeddings and on the pooled vector (training only).
    #[config(default = 0.0)]
    pub dropout: f64,
    /// Buckets of the linear bag of uni- and bigrams added to the logits (0 = none): a
    /// "wide" path beside the recurrent one, as fastText or NBSVM are wide models. Bigram ids
    /// are `(a · vocab + b) mod buckets`.
    #[config(default = 0)]
    pub ngram_buckets: usize,
    /// Buckets of fastText subword vectors (0 = none): each word's vector becomes
    /// `(E[word] + Σ S[piece]) / sqrt(1 + n_pieces)` over its hashed character n-grams (the
    /// batch's `pieces`), so words outside the vocabulary get vectors from their pieces.
    #[config(default = 0)]
    pub subword_buckets: usize,
    /// Dense per-token features (the batch's `features`, e.g. Naive-Bayes log-count ratios)
    /// concatenated to each word vector before the recurrent stack; 0 = none.
    #[config(default = 0)]
    pub d_features: usize,
    /// Embedding dropout: whole tokens dropped from the embedding matrix, one mask per batch
    /// (training only; see [`rnnlab_models::regularise`]).
    #[config(default = 0.0)]
    pub embed_dropout: f64,
}

impl SentimentConfig {
    /// Builds the model, or names the invalid key.
    pub fn try_init(&self, device: &Device) -> Result<SentimentClassifier, ConfigError> {
        if self.vocab_size == 0 {
            return Err(ConfigError {
                key: "vocab_size",
                message: "must be at least 1 (the model needs a vocabulary)".into(),
            });
        }
        if self.n_classes < 2 {
            return Err(ConfigError {
                key: "n_classes",
                message: format!("must be at least 2, got {}", self.n_classes),
            });
        }
        if !(0.0..1.0).contains(&self.dropout) {
            return Err(ConfigError {
                key: "dropout",
                message: format!("{}: must be in [0, 1)", self.dropout),
            });
        }
        if !(0.0..1.0).contains(&self.embed_dropout) {
            return Err(ConfigError {
                key: "embed_dropout",
                message: format!("{}: must be in [0, 1)", self.embed_dropout),
            });
        }
        if self.d_features >= self.rnn.d_input {
            return Err(ConfigError {
                key: "d_features",
                message: format!(
                    "{} features leave no room for a word vector in rnn.d_input = {}",
                    self.d_features, self.rnn.d_input
                ),
            });
        }
        let d_embed = self.rnn.d_input - self.d_features;
        let rnn = self.rnn.try_init(device)?;
        let d = rnn.d_output();
        let attention =
            (self.pooling == Pooling::Attention).then(|| AttentionConfig::new(d).init(device));
        Ok(SentimentClassifier {
            embedding: EmbeddingConfig::new(self.vocab_size, d_embed).init(device),
            subwords: (self.subword_buckets > 0)
                .then(|| EmbeddingConfig::new(self.subword_buckets, d_embed).init(device)),
            d_features: self.d_features,
            embed_dropout: self.embed_dropout,
            rnn,
            attention,
            dropout: DropoutConfig::new(self.dropout).init(),
            head: LinearConfig::new(d, self.n_classes).init(device),
            pooling: self.pooling,
            bag: (self.ngram_buckets > 0).then(|| {
                // Zero weights: training starts from the recurrent path alone.
                let zero = |n: usize| {
                    EmbeddingConfig::new(n, self.n_classes)
                        .with_initializer(burn::nn::Initializer::Zeros)
                        .init(device)
                };
                NgramBag {
                    unigrams: zero(self.vocab_size),
                    bigrams: zero(self.ngram_buckets),
                    vocab: self.vocab_size,
                    buckets: self.ngram_buckets,
                }
            }),
        })
    }
}

/// A recurrent sentence classifier.
#[derive(Module, Debug)]
pub struct SentimentClassifier {
    /// Token embedding.
    pub embedding: Embedding,
    /// Subword-bucket embedding `[buckets, d_embed]`, when configured.
    pub subwords: Option<Embedding>,
    /// The recurrent stack (batch-first).
    pub rnn: Recurrent,
    /// Attention pooling parameters (with `Pooling::Attention`).
    pub attention: Option<Attention>,
    /// Dropout on embeddings and the pooled vector.
    pub dropout: Dropout,
    /// Classifier head.
    pub head: Linear,
    /// Pooling over time.
    #[module(skip)]
    pub pooling: Pooling,
    /// Per-token features expected beside each word vector (0 = none).
    #[module(skip)]
    pub d_features: usize,
    /// Embedding dropout's probability (see the config).
    #[module(skip)]
    pub embed_dropout: f64,
    /// The linear bag of n-grams added to the logits, when configured.
    pub bag: Option<NgramBag>,
}

/// A linear model over the mean of a sentence's uni- and bigram vectors (one weight per class).
#[derive(Module, Debug)]
pub struct NgramBag {
    /// Per word: its weight for each class `[V, n_classes]`.
    pub unigrams: Embedding,
    /// Per bigram bucket `[buckets, n_classes]`.
    pub bigrams: Embedding,
    /// Vocabulary size (the bigram hash multiplier).
    #[module(skip)]
    pub vocab: usize,
    /// Bigram buckets.
    #[module(skip)]
    pub buckets: usize,
}

impl NgramBag {
    /// `tokens` `[B, T]`, `mask` `[B, T]` → logits `[B, n_classes]`: the mean over the real
    /// tokens of their unigram and bigram weights.
    pub fn forward(&self, tokens: Tensor<2, Int>, mask: Tensor<2, Bool>) -> Tensor<2> {
        let [b, t] = tokens.dims();
        let m = mask.clone().float();
        let n = m.clone().sum_dim(1).clamp_min(1.0); // [B, 1]
        let uni = self.unigrams.forward(tokens.clone()) * m.clone().reshape([b, t, 1]);
        let c = uni.dims()[2];
        let mut sum = uni.sum_dim(1).reshape([b, c]);
        if t > 1 {
            let ids = (tokens.clone().narrow(1, 0, t - 1) * self.vocab as i64
                + tokens.narrow(1, 1, t - 1))
            .remainder_scalar(self.buckets as i64);
            let m2 = m.clone().narrow(1, 0, t - 1) * m.narrow(1, 1, t - 1);
            let bi = self.bigrams.forward(ids) * m2.reshape([b, t - 1, 1]);
            sum = sum + bi.sum_dim(1).reshape([b, c]);
        }
        sum / n
    }
}

/// Logits and, with attention pooling, the per-token weights.
pub struct Classified {
    /// `[B, n_classes]`.
    pub logits: Tensor<2>,
    /// `[B, T]`, zero on padding, each row summing to 1 (attention pooling only).
    pub weights: Option<Tensor<2>>,
}

/// A batch as the stack's input, and what classifying its output needs
/// ([`SentimentClassifier::encode`]).
pub struct Encoded {
    /// The stack's input `[B, T, ·]`.
    pub x: Tensor<3>,
    /// Each row's length.
    pub lengths: Vec<usize>,
    /// `[B, T]`: true at real tokens.
    pub mask: Tensor<2, Bool>,
    /// The n-gram bag's logits `[B, n_classes]`, where the model has one.
    pub bag: Option<Tensor<2>>,
}

impl SentimentClassifier {
    /// A padded batch (`tokens` `[B, T]`, its lengths and `mask` `[B, T]`, its `pieces`
    /// `[B, T, K]` when the model has subwords, its `features` `[B, T, d_features]` when it
    /// takes them; labels unused) → logits `[B, n_classes]` and the attention weights `[B, T]`
    /// when pooling by attention.
    ///
    /// # Panics
    /// When the model takes features and the batch has none of that width.
    pub fn forward(&self, batch: ClassBatch) -> Classified {
        let encoded = self.encode(batch);
        let (out, state) = self
            .rnn
            .forward_with_lengths(encoded.x.clone(), &encoded.lengths, None);
        self.decide(out, state, encoded)
    }

    /// The stack's input for `batch` `[B, T, ·]` (embeddings, subwords, features), with what
    /// [`decide`](Self::decide) needs besides the stack's output.
    pub fn encode(&self, batch: ClassBatch) -> Encoded {
        let ClassBatch {
            tokens,
            lengths,
            mask,
            pieces,
            features,
            ..
        } = batch;
        let bag = self
            .bag
            .as_ref()
            .map(|bag| bag.forward(tokens.clone(), mask.clone()));
        let training = self.rnn.training(&tokens.device());
        let weight = regularise::embedding_dropout(
            self.embedding.weight.val(),
            self.embed_dropout,
            training,
        );
        let words = embedding(weight, tokens);
        let words = match (&self.subwords, pieces) {
            (Some(table), Some(pieces)) => subword_mean(table, words, pieces),
            _ => words,
        };
        let x = self.dropout.forward(words);
        let x = match (self.d_features, features) {
            (0, _) => x,
            (d, Some(features)) if features.dims()[2] == d => Tensor::cat(vec![x, features], 2),
            (d, other) => panic!(
                "the model takes {d} features per token; the batch has {:?}",
                other.map(|f| f.dims()[2])
            ),
        };
        Encoded {
            x,
            lengths,
            mask,
            bag,
        }
    }

    /// The logits (and attention weights) from the stack's output `[B, T, ·]` and final state
    /// over [`encode`](Self::encode)'s input.
    pub fn decide(
        &self,
        out: Tensor<3>,
        state: rnnlab_models::RecurrentState,
        encoded: Encoded,
    ) -> Classified {
        let Encoded {
            lengths, mask, bag, ..
        } = encoded;
        let Pooled {
            vector: pooled,
            weights,
        } = pool(
            self.pooling,
            self.attention.as_ref(),
            out,
            state.hidden,
            &lengths,
            mask,
        );
        let logits = self.head.forward(self.dropout.forward(pooled));
        Classified {
            logits: match bag {
                Some(bag) => logits + bag,
                None => logits,
            },
            weights,
        }
    }

    /// Cross-entropy on a batch.
    pub fn forward_classification(&self, batch: ClassBatch) -> ClassificationOutput {
        let labels = batch.labels.clone();
        let out = self.forward(batch);
        let loss = CrossEntropyLossConfig::new()
            .init(&out.logits.device())
            .forward(out.logits.clone(), labels.clone());
        ClassificationOutput::new(loss, out.logits, labels)
    }
}

/// fastText's word vector: `words` `[B, T, D]` plus the sum of each token's piece vectors
/// (`pieces` `[B, T, K]`, bucket 0 = none), divided by `sqrt(1 + n_pieces)` → `[B, T, D]`.
fn subword_mean(table: &Embedding, words: Tensor<3>, pieces: Tensor<3, Int>) -> Tensor<3> {
    let [b, t, k] = pieces.dims();
    let d = words.dims()[2];
    let real = pieces.clone().not_equal_elem(0).float(); // [B, T, K]
    let vectors = table
        .forward(pieces.reshape([b, t * k]))
        .reshape([b, t, k, d])
        * real.clone().unsqueeze_dim::<4>(3);
    let sum = vectors.sum_dim(2).reshape([b, t, d]);
    let n = real.sum_dim(2); // [B, T, 1]
    (words + sum) / (n + 1.0).sqrt()
}

impl Objective for SentimentClassifier {
    type Batch = ClassBatch;
    type Output = ClassificationOutput;

    fn objective(&self, batch: ClassBatch) -> ClassificationOutput {
        self.forward_classification(batch)
    }

    fn loss(output: &ClassificationOutput) -> Tensor<1> {
        output.loss.clone()
    }
}

#[cfg(test)]
#[path = "model_tests.rs"]
mod tests;
