//! [`SentimentClassifier`]: embedding → recurrent stack (optionally bidirectional) over the
//! padded batch with its true lengths → masked pooling → linear head.

use burn::Tensor;
use burn::config::Config;
use burn::module::Module;
use burn::nn::loss::CrossEntropyLossConfig;
use burn::nn::{Dropout, DropoutConfig, Embedding, EmbeddingConfig, Linear, LinearConfig};
use burn::prelude::Device;
use burn::tensor::{Bool, Int};
use burn::train::ClassificationOutput;
use rnnlab_data::classification::ClassBatch;
use rnnlab_models::{
    Attention, AttentionConfig, ConfigError, Pooled, Pooling, Recurrent, RecurrentConfig, pool,
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
}

impl SentimentConfig {
    /// Builds the model, or names the invalid key.
    pub fn try_init(&self, device: &Device) -> Result<SentimentClassifier, ConfigError> {
        if self.vocab_size == 0 || self.n_classes < 2 {
            return Err(ConfigError {
                key: "n_classes",
                message: "need a vocabulary and at least 2 classes".into(),
            });
        }
        if !(0.0..1.0).contains(&self.dropout) {
            return Err(ConfigError {
                key: "dropout",
                message: format!("{}: must be in [0, 1)", self.dropout),
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

impl SentimentClassifier {
    /// A padded batch (`tokens` `[B, T]`, its lengths and `mask` `[B, T]`, its `pieces`
    /// `[B, T, K]` when the model has subwords, its `features` `[B, T, d_features]` when it
    /// takes them; labels unused) → logits `[B, n_classes]` and the attention weights `[B, T]`
    /// when pooling by attention.
    ///
    /// # Panics
    /// When the model takes features and the batch has none of that width.
    pub fn forward(&self, batch: ClassBatch) -> Classified {
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
        let words = self.embedding.forward(tokens);
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
        let (out, state) = self.rnn.forward_with_lengths(x, &lengths, None);
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
mod tests {
    use burn::data::dataloader::batcher::Batcher;
    use burn::optim::AdamConfig;
    use rnnlab_data::classification::{ClassBatcher, ClassItem};
    use rnnlab_models::CellType;

    use super::*;
    use crate::training::{Policy, Step};
    use burn::train::TrainStep;

    /// Class 1 iff token 3 occurs anywhere; padding must not change anything.
    fn items() -> Vec<ClassItem> {
        (0..32)
            .map(|i| {
                let len = 2 + i % 5;
                let mut ids: Vec<u32> =
                    (0..len).map(|j| 4 + ((i * 7 + j * 3) % 5) as u32).collect();
                let label = i % 2;
                if label == 1 {
                    ids[(i / 2) % len] = 3;
                }
                ClassItem {
                    ids,
                    label,
                    ..ClassItem::default()
                }
            })
            .collect()
    }

    #[test]
    fn every_pooling_learns_a_keyword_task_and_ignores_padding() {
        for (pooling, bi, buckets) in [
            (Pooling::Last, true, 0),
            (Pooling::Mean, false, 0),
            (Pooling::Attention, true, 0),
            (Pooling::Mean, false, 37),
        ] {
            let device = Device::flex().autodiff();
            device.seed(1);
            let rnn = RecurrentConfig::new(CellType::Gru, 8, 12).with_bidirectional(bi);
            let mut model = Step::new(
                SentimentConfig::new(10, 2, rnn, pooling)
                    .with_ngram_buckets(buckets)
                    .try_init(&device)
                    .unwrap(),
                Policy::new(1.0, false),
            );
            let batch = ClassBatcher { pad_id: 0 }.batch(items(), &device);
            let mut optim = AdamConfig::new().init();
            for _ in 0..80 {
                let out = TrainStep::step(&model, batch.clone());
                model = model.optimize(&mut optim, 0.03.into(), out.grads);
            }
            let valid = model.model.valid();
            let out = valid
                .forward_classification(ClassBatcher { pad_id: 0 }.batch(items(), &Device::flex()));
            let predicted: Vec<i64> = out
                .output
                .argmax(1)
                .reshape([32])
                .into_data()
                .convert::<i64>()
                .try_to_vec::<i64>()
                .unwrap();
            let correct = predicted
                .iter()
                .enumerate()
                .filter(|(i, p)| **p == (*i % 2) as i64)
                .count();
            assert!(correct >= 30, "{pooling:?}: {correct}/32");
            // One sentence alone gives the same logits as inside the padded batch.
            let one = ClassBatcher { pad_id: 0 }.batch(vec![items()[2].clone()], &Device::flex());
            let alone = valid.forward(one);
            let full = ClassBatcher { pad_id: 0 }.batch(items(), &Device::flex());
            let batched = valid.forward(full);
            let a: Vec<f32> = alone.logits.into_data().try_to_vec::<f32>().unwrap();
            let b: Vec<f32> = batched
                .logits
                .narrow(0, 2, 1)
                .into_data()
                .try_to_vec::<f32>()
                .unwrap();
            for (x, y) in a.iter().zip(&b) {
                assert!(
                    (x - y).abs() < 1e-4,
                    "{pooling:?}: padding changed the logits"
                );
            }
            if let Some(bag) = &valid.bag {
                let moved: f32 = bag.bigrams.weight.val().abs().sum().into_scalar();
                assert!(moved > 0.0, "the bag trained from zero");
            }
            if pooling == Pooling::Attention {
                let w: Vec<f32> = batched
                    .weights
                    .unwrap()
                    .narrow(0, 2, 1)
                    .into_data()
                    .try_to_vec::<f32>()
                    .unwrap();
                let len = items()[2].ids.len();
                assert!((w[..len].iter().sum::<f32>() - 1.0).abs() < 1e-5);
                assert!(w[len..].iter().all(|&v| v == 0.0), "no weight on padding");
            }
        }
    }

    #[test]
    fn token_features_reach_the_recurrent_stack() {
        // Every sentence has the same ids; only a feature of one of its tokens tells the class.
        let items: Vec<ClassItem> = (0..16)
            .map(|i| {
                let label = i % 2;
                let sign = if label == 1 { 1.0 } else { -1.0 };
                ClassItem {
                    ids: vec![4, 5, 6],
                    label,
                    features: (0..3)
                        .map(|t| vec![if t == i % 3 { sign } else { 0.0 }])
                        .collect(),
                    ..ClassItem::default()
                }
            })
            .collect();
        let device = Device::flex().autodiff();
        device.seed(2);
        let rnn = RecurrentConfig::new(CellType::Gru, 9, 8);
        let config = SentimentConfig::new(10, 2, rnn, Pooling::Mean).with_d_features(1);
        let mut model = Step::new(config.try_init(&device).unwrap(), Policy::new(1.0, false));
        assert_eq!(
            model.model.embedding.weight.dims(),
            [10, 8],
            "d_input − d_features"
        );
        let batch = ClassBatcher { pad_id: 0 }.batch(items.clone(), &device);
        let mut optim = AdamConfig::new().init();
        for _ in 0..60 {
            let out = TrainStep::step(&model, batch.clone());
            model = model.optimize(&mut optim, 0.03.into(), out.grads);
        }
        let out = model
            .model
            .valid()
            .forward(ClassBatcher { pad_id: 0 }.batch(items, &Device::flex()));
        let predicted: Vec<i64> = out
            .logits
            .argmax(1)
            .reshape([16])
            .into_data()
            .convert::<i64>()
            .try_to_vec::<i64>()
            .unwrap();
        let expected: Vec<i64> = (0..16).map(|i| i % 2).collect();
        assert_eq!(predicted, expected);
        let too_wide = SentimentConfig::new(
            10,
            2,
            RecurrentConfig::new(CellType::Gru, 4, 8),
            Pooling::Mean,
        )
        .with_d_features(4)
        .try_init(&Device::flex());
        assert_eq!(too_wide.unwrap_err().key, "d_features");
    }

    /// Sentences of three words whose class is the stem of one of them (`superb…` or
    /// `dismal…`); the test keywords have suffixes training never saw, so the vocabulary maps
    /// them to `<unk>` and only their pieces can tell the classes apart.
    fn stems(suffixes: &[String], vocab: &mut Vec<String>, grow: bool) -> Vec<ClassItem> {
        let subwords = rnnlab_data::subwords::Subwords {
            buckets: 4096,
            min_n: 3,
            max_n: 5,
        };
        let fillers = ["the", "film", "was", "so", "very"];
        let mut out = Vec::new();
        for (i, suffix) in suffixes.iter().enumerate() {
            for (label, stem) in ["dismal", "superb"].into_iter().enumerate() {
                let keyword = format!("{stem}{suffix}");
                let mut words = vec![fillers[i % 5].to_string(), fillers[(i * 3 + 1) % 5].into()];
                words.insert(i % 3, keyword.clone());
                if grow && !vocab.contains(&keyword) {
                    vocab.push(keyword);
                }
                let ids = words
                    .iter()
                    .map(|w| vocab.iter().position(|v| v == w).unwrap_or(1) as u32)
                    .collect();
                out.push(ClassItem {
                    ids,
                    label,
                    pieces: subwords.of_words(&words),
                    ..ClassItem::default()
                });
            }
        }
        out
    }

    #[test]
    fn subwords_classify_words_the_vocabulary_never_saw() {
        let mut vocab: Vec<String> = ["<pad>", "<unk>", "the", "film", "was", "so", "very"]
            .map(String::from)
            .to_vec();
        let seen: Vec<String> = ('a'..='p').map(String::from).collect();
        let unseen: Vec<String> = "qrstuvwx"
            .chars()
            .flat_map(|a| ['y', 'z'].map(|b| format!("{a}{b}")))
            .collect();
        let train = stems(&seen, &mut vocab, true);
        let test = stems(&unseen, &mut vocab, false);
        assert!(
            test.iter().all(|item| item.ids.contains(&1)),
            "test keywords are <unk>"
        );
        let device = Device::flex().autodiff();
        device.seed(3);
        let rnn = RecurrentConfig::new(CellType::Gru, 8, 12);
        let mut model = Step::new(
            SentimentConfig::new(vocab.len(), 2, rnn, Pooling::Mean)
                .with_subword_buckets(4096)
                .try_init(&device)
                .unwrap(),
            Policy::new(1.0, false),
        );
        let batch = ClassBatcher { pad_id: 0 }.batch(train, &device);
        assert_eq!(batch.pieces.as_ref().unwrap().dims()[..2], [32, 3]);
        let mut optim = AdamConfig::new().init();
        for _ in 0..100 {
            let out = TrainStep::step(&model, batch.clone());
            model = model.optimize(&mut optim, 0.03.into(), out.grads);
        }
        let valid = model.model.valid();
        let correct = |items: Vec<ClassItem>| {
            let n = items.len();
            let labels: Vec<usize> = items.iter().map(|i| i.label).collect();
            let out = valid.forward(ClassBatcher { pad_id: 0 }.batch(items, &Device::flex()));
            let predicted = out
                .logits
                .argmax(1)
                .reshape([n])
                .into_data()
                .convert::<i64>()
                .try_to_vec::<i64>()
                .unwrap();
            predicted
                .iter()
                .zip(&labels)
                .filter(|(p, l)| **p == **l as i64)
                .count()
        };
        let with = correct(test.clone());
        // Without pieces, each test pair is the same ids: one of the two is right, no more.
        let without = correct(
            test.into_iter()
                .map(|item| ClassItem {
                    pieces: Vec::new(),
                    ..item
                })
                .collect(),
        );
        assert_eq!(without, 16, "ids alone cannot tell the unseen words apart");
        assert!(
            with >= 28,
            "{with}/32 unseen keywords classified by their pieces"
        );
    }
}
