//! Sentence classification (MR polarity by default): embedding → (bi)recurrent stack → masked
//! pooling (last state, mean or attention) → linear head, scored beside TF-IDF + logistic
//! regression, with predictions and explanations. One file per job: [`config`], [`data`],
//! [`model`](SentimentClassifier), [`score`], [`tfidf`] (the baseline), `explain`, and
//! [`ensemble`] (several runs as one classifier).

mod commands;
pub mod config;
pub mod data;
pub mod ensemble;
mod explain;
mod inspect;
mod model;
pub mod score;
pub mod tfidf;

use burn::data::dataloader::batcher::Batcher;
use burn::prelude::Device;
use burn::tensor::activation::softmax;
use burn::train::SupervisedTraining;
use burn::train::metric::AccuracyMetric;
use rnnlab_data::classification::{ClassBatch, ClassBatcher};
use rnnlab_data::tokenizer::Tokenizer;

pub use commands::{ENSEMBLE, EnsembleArgs, PREDICT, PredictArgs};
pub use config::SentimentExperiment;
pub use explain::{Explanation, explain};
pub use inspect::{INSPECT, InspectArgs};
pub use model::{NgramBag, SentimentClassifier, SentimentConfig};
pub use rnnlab_models::Pooling;

use crate::task::{Loaded, Task, model_error};
use crate::task_command::TaskCommand;
use crate::training::{Loaders, Step};

/// The sentence-classification task (`task = "sentiment"`).
pub struct SentimentTask;

impl Task for SentimentTask {
    const NAME: &'static str = "sentiment";
    const HAS_ACCURACY: bool = true;
    type Config = SentimentExperiment;
    type Artefacts = data::Encoder;
    type Data = data::SentimentData;
    type Model = SentimentClassifier;
    type Report = score::SentimentReport;

    fn data(
        config: &SentimentExperiment,
        artefacts: Option<data::Encoder>,
    ) -> anyhow::Result<Self::Data> {
        data::read(config, artefacts)
    }

    fn artefacts(data: &Self::Data) -> data::Encoder {
        data.encoder.clone()
    }

    fn legacy_artefacts(
        config: &SentimentExperiment,
        dir: &std::path::Path,
    ) -> Option<anyhow::Result<data::Encoder>> {
        data::legacy(config, dir)
    }

    fn check(config: &SentimentExperiment, encoder: &data::Encoder) -> anyhow::Result<()> {
        data::check(config, encoder)
    }

    fn model(
        config: &SentimentExperiment,
        encoder: &data::Encoder,
        device: &Device,
    ) -> anyhow::Result<SentimentClassifier> {
        config
            .model_config(encoder.tokenizer.vocab_size())
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

    const COMMANDS: &'static [&'static dyn TaskCommand] =
        &[&commands::PREDICT, &commands::ENSEMBLE, &inspect::INSPECT];

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
    let tokenizer = &run.artefacts.tokenizer;
    let item = run.artefacts.query(text)?;
    let words = data::words(tokenizer, text);
    let words = if words.len() == item.ids.len() {
        words
    } else {
        item.ids.iter().map(|&i| tokenizer.decode(&[i])).collect()
    };
    explain(
        &run.model,
        item,
        &words,
        run.artefacts.ratios.as_ref(),
        data::PAD,
        device,
    )
}

/// The class probabilities the run's model gives each of `texts` (one row each, in order),
/// in padded batches of `data.batch_size`, without weighing tokens.
pub fn classify(
    run: &Loaded<SentimentTask>,
    texts: &[String],
    device: &Device,
) -> anyhow::Result<Vec<Vec<f32>>> {
    let batcher = ClassBatcher { pad_id: data::PAD };
    let n_classes = run.config.data.labels.len();
    let mut out = Vec::with_capacity(texts.len());
    for chunk in texts.chunks(run.config.data.batch_size.max(1)) {
        let items = chunk
            .iter()
            .map(|text| run.artefacts.query(text))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let logits = run.model.forward(batcher.batch(items, device)).logits;
        let p = crate::metrics::read_floats(softmax(logits, 1))?;
        out.extend(p.chunks(n_classes).map(<[f32]>::to_vec));
    }
    Ok(out)
}
