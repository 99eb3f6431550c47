//! Sentence classification (MR polarity by default): embedding → (bi)recurrent stack → masked
//! pooling (last state, mean or attention) → linear head, scored beside TF-IDF + logistic
//! regression, with predictions and explanations. One file per job: [`config`], [`data`],
//! [`model`](SentimentClassifier), [`score`], [`tfidf`] (the baseline), `explain`, and
//! [`ensemble`] (several runs as one classifier).

pub mod config;
pub mod data;
pub mod ensemble;
mod explain;
mod model;
pub mod score;
pub mod tfidf;

use std::path::Path;

use anyhow::bail;
use burn::prelude::Device;
use burn::train::SupervisedTraining;
use burn::train::metric::AccuracyMetric;
use rnnlab_data::classification::ClassBatch;
use rnnlab_data::tokenizer::Tokenizer;

pub use config::SentimentExperiment;
pub use explain::{Explanation, explain};
pub use model::{NgramBag, SentimentClassifier, SentimentConfig};
pub use rnnlab_models::Pooling;

use crate::task::{Loaded, Task, model_error};
use crate::training::{Loaders, Step};

/// The sentence-classification task (`task = "sentiment"`).
pub struct SentimentTask;

impl Task for SentimentTask {
    const NAME: &'static str = "sentiment";
    const HAS_ACCURACY: bool = true;
    type Config = SentimentExperiment;
    type Data = data::SentimentData;
    type Model = SentimentClassifier;
    type Report = score::SentimentReport;

    fn data(config: &SentimentExperiment, run: Option<&Path>) -> anyhow::Result<Self::Data> {
        data::read(config, run)
    }

    fn artefacts(_config: &SentimentExperiment, run: &Path) -> anyhow::Result<Self::Data> {
        Ok(data::SentimentData {
            examples: Vec::new(),
            split: rnnlab_data::classification::Split {
                train: Vec::new(),
                valid: Vec::new(),
                test: Vec::new(),
            },
            tokenizer: rnnlab_data::tokenizer::AnyTokenizer::load(&run.join(data::TOKENIZER_FILE))?,
        })
    }

    fn save(data: &Self::Data, dir: &Path) -> anyhow::Result<()> {
        Ok(data.tokenizer.save(&dir.join(data::TOKENIZER_FILE))?)
    }

    fn model(
        config: &SentimentExperiment,
        data: &Self::Data,
        device: &Device,
    ) -> anyhow::Result<SentimentClassifier> {
        config
            .model_config(data.tokenizer.vocab_size())
            .try_init(device)
            .map_err(model_error)
    }

    fn loaders(
        config: &SentimentExperiment,
        data: &Self::Data,
        device: &Device,
    ) -> anyhow::Result<Loaders<ClassBatch>> {
        data::loaders(config, data, device)
    }

    fn metrics(
        training: SupervisedTraining<Step<SentimentClassifier>>,
    ) -> SupervisedTraining<Step<SentimentClassifier>> {
        training
            .metric_train_numeric(AccuracyMetric::new())
            .metric_valid_numeric(AccuracyMetric::new())
    }

    fn score(
        config: &SentimentExperiment,
        data: &Self::Data,
        model: &SentimentClassifier,
        device: &Device,
    ) -> anyhow::Result<score::SentimentReport> {
        score::score(config, data, model, device)
    }
}

/// Classifies `text` with the run's model and weighs its tokens.
pub fn predict(
    run: &Loaded<SentimentTask>,
    text: &str,
    device: &Device,
) -> anyhow::Result<Explanation> {
    let tokenizer = &run.data.tokenizer;
    let ids = tokenizer.encode(text)?;
    if ids.is_empty() {
        bail!("nothing to classify: the text has no words");
    }
    let words = score::words(tokenizer, text);
    let words = if words.len() == ids.len() {
        words
    } else {
        ids.iter().map(|&i| tokenizer.decode(&[i])).collect()
    };
    explain(&run.model, &ids, &words, data::PAD, device)
}
