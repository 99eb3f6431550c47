//! The sentiment experiment: config, training on burn-train's Learner, test-split evaluation
//! and predictions from a run directory (`config.toml`, `tokenizer.json`, `model.bpk`).

use std::fmt;
use std::path::Path;

use anyhow::bail;
use burn::data::dataloader::DataLoaderBuilder;
use burn::module::Module;
use burn::prelude::Device;
use burn::train::metric::AccuracyMetric;
use rnnlab_data::classification::{
    ClassBatcher, ClassDataset, Labelled, load_mr, load_tsv, stratified_split,
};
use rnnlab_data::tokenizer::{AnyTokenizer, Tokenizer, WordConfig, WordTokenizer};
use rnnlab_models::RecurrentConfig;
use serde::{Deserialize, Serialize};

use super::{Explanation, Pooling, SentimentClassifier, SentimentConfig, explain};
use crate::charlm::experiment::parse_cell;
use crate::metrics::ClassificationReport;
use crate::run::{Results, finish};
use crate::training::fit::MODEL_FILE;
use crate::training::{Loaders, TrainSection, fit, load_model};

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
}

/// `[data]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataSection {
    /// `mr`: a folder with `rt-polarity.neg`/`.pos`; `tsv`: a file of `text<TAB>label` lines.
    pub format: String,
    /// The folder (`mr`) or file (`tsv`).
    pub path: String,
    /// Class names, in class-index order (`tsv` labels must be among them).
    pub labels: Vec<String>,
    /// Fraction of each class held out for validation.
    pub valid_fraction: f64,
    /// Fraction of each class held out for test.
    pub test_fraction: f64,
    /// Seed of the stratified split (kept apart from `train.seed`, so the test set stays put).
    pub split_seed: u64,
    /// Words seen fewer times in training become `<unk>`.
    pub min_freq: usize,
    /// Sentences per batch (batches hold sentences of similar length).
    pub batch_size: usize,
}

/// `[model]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelSection {
    /// `rnn`, `lstm` or `gru`.
    pub cell: String,
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
}

impl Default for SentimentExperiment {
    fn default() -> Self {
        Self {
            task: "sentiment".into(),
            name: "sentiment".into(),
            data: DataSection {
                format: "mr".into(),
                path: "datasets/sentiment/mr".into(),
                labels: vec!["negative".into(), "positive".into()],
                valid_fraction: 0.1,
                test_fraction: 0.1,
                split_seed: 0,
                min_freq: 2,
                batch_size: 32,
            },
            model: ModelSection {
                cell: "gru".into(),
                d_embed: 128,
                d_hidden: 128,
                n_layers: 1,
                bidirectional: true,
                pooling: Pooling::Attention,
                dropout: 0.5,
            },
            train: TrainSection {
                grad_clip: 5.0,
                early_stopping: 3,
                keep_best: true,
                keep_best_by: "accuracy".into(),
                ..TrainSection::new(10, 2e-3)
            },
        }
    }
}

impl SentimentExperiment {
    /// Rejects impossible values, naming the key.
    pub fn validate(&self) -> anyhow::Result<()> {
        if self.task != "sentiment" {
            bail!("task = {:?}: this is a sentiment experiment", self.task);
        }
        parse_cell(&self.model.cell)?;
        self.train.validate()?;
        crate::config::require_nonzero(&[
            ("model.d_embed", self.model.d_embed),
            ("model.d_hidden", self.model.d_hidden),
            ("model.n_layers", self.model.n_layers),
            ("data.batch_size", self.data.batch_size),
        ])?;
        if !matches!(self.data.format.as_str(), "mr" | "tsv") {
            bail!(
                "data.format = {:?}: expected \"mr\" or \"tsv\"",
                self.data.format
            );
        }
        if self.data.labels.len() < 2 {
            bail!("data.labels: need at least two class names");
        }
        if self.data.format == "mr" && self.data.labels.len() != 2 {
            bail!("data.labels: MR has two classes (negative, positive)");
        }
        let (v, t) = (self.data.valid_fraction, self.data.test_fraction);
        if !(v > 0.0 && t > 0.0 && v + t < 1.0) {
            bail!(
                "data.valid_fraction = {v}, data.test_fraction = {t}: need both > 0 and a sum below 1"
            );
        }
        if !(0.0..1.0).contains(&self.model.dropout) {
            bail!("model.dropout = {}: must be in [0, 1)", self.model.dropout);
        }
        Ok(())
    }

    fn model_config(&self, vocab_size: usize) -> anyhow::Result<SentimentConfig> {
        let m = &self.model;
        let rnn = RecurrentConfig::new(parse_cell(&m.cell)?, m.d_embed, m.d_hidden)
            .with_n_layers(m.n_layers)
            .with_bidirectional(m.bidirectional)
            .with_dropout(if m.n_layers > 1 { m.dropout } else { 0.0 });
        Ok(
            SentimentConfig::new(vocab_size, self.data.labels.len(), rnn, m.pooling)
                .with_dropout(m.dropout),
        )
    }

    fn examples(&self) -> anyhow::Result<Vec<Labelled>> {
        let path = Path::new(&self.data.path);
        Ok(match self.data.format.as_str() {
            "mr" => load_mr(path)?,
            _ => {
                let labels: Vec<&str> = self.data.labels.iter().map(String::as_str).collect();
                load_tsv(path, &labels)?
            }
        })
    }
}

fn build(
    experiment: &SentimentExperiment,
    vocab_size: usize,
    device: &Device,
) -> anyhow::Result<SentimentClassifier> {
    experiment
        .model_config(vocab_size)?
        .try_init(device)
        .map_err(|e| anyhow::anyhow!("model.{e}"))
}

crate::experiment::impl_experiment!(SentimentExperiment, train);

/// Trains into `dir` (or resumes it from `resume`'s checkpoint); returns and saves the final
/// metrics (test split).
pub fn train(
    experiment: &SentimentExperiment,
    resolved_toml: &str,
    dir: &Path,
    device: &Device,
    resume: Option<usize>,
) -> anyhow::Result<Results> {
    experiment.validate()?;
    let examples = experiment.examples()?;
    let labels: Vec<usize> = examples.iter().map(|e| e.label).collect();
    let d = &experiment.data;
    let split = stratified_split(&labels, d.valid_fraction, d.test_fraction, d.split_seed)?;
    let tokenizer = match resume {
        Some(_) => AnyTokenizer::load(&dir.join("tokenizer.json"))?,
        None => AnyTokenizer::Word(WordTokenizer::fit(
            split.train.iter().map(|&i| examples[i].text.as_str()),
            &WordConfig {
                lowercase: true,
                min_freq: d.min_freq,
                max_size: None,
            },
        )),
    };
    let mut model = crate::training::seeded_init(experiment.train.seed, device, |cpu| {
        build(experiment, tokenizer.vocab_size(), cpu)
    })?;
    model.grad_clip = experiment.train.grad_clip;
    if let Some(epoch) = resume {
        crate::training::checkpoint::check_fits(&model, dir, epoch)?;
    }
    let pad = 0;
    let train_data = ClassDataset::new(&examples, &split.train, &tokenizer, pad)?
        .bucket_by_length(d.batch_size, experiment.train.seed);
    let valid_data = ClassDataset::new(&examples, &split.valid, &tokenizer, pad)?
        .bucket_by_length(d.batch_size, 0);
    let steps = split.train.len().div_ceil(d.batch_size);
    let train_device = device.clone().autodiff();
    let loader = |data: ClassDataset| {
        DataLoaderBuilder::new(ClassBatcher { pad_id: pad })
            .set_device(train_device.clone())
            .batch_size(d.batch_size)
            .build(data)
    };
    let loaders = Loaders {
        train: loader(train_data),
        valid: loader(valid_data),
        steps_per_epoch: steps,
    };
    if resume.is_none() {
        crate::run::create(dir, resolved_toml)?;
        tokenizer.save(&dir.join("tokenizer.json"))?;
    }
    let started = std::time::Instant::now();
    let fitted = fit(
        model.train().fork(&train_device),
        loaders,
        |t| {
            t.metric_train_numeric(AccuracyMetric::new())
                .metric_valid_numeric(AccuracyMetric::new())
        },
        &experiment.train,
        dir,
        resume,
    )?;
    let seconds = started.elapsed().as_secs_f64();
    if let Some(reason) = fitted.stopped {
        bail!("training stopped: {reason}");
    }
    let report = evaluate(dir, device)?;
    let results = report.results();
    finish(
        dir,
        results,
        (fitted.epochs_run, fitted.epoch),
        seconds,
        &report.to_string(),
    )
}

/// A trained sentiment run, loaded back.
pub struct LoadedRun {
    /// The model (validation mode) on the requested device.
    pub model: SentimentClassifier,
    /// Its word tokenizer.
    pub tokenizer: AnyTokenizer,
    /// The resolved experiment.
    pub experiment: SentimentExperiment,
}

/// Loads `dir`; every missing file is an error naming it.
pub fn load_run(dir: &Path, device: &Device) -> anyhow::Result<LoadedRun> {
    let (experiment, _): (SentimentExperiment, _) = crate::experiment::of_run(dir)?;
    let tokenizer = AnyTokenizer::load(&dir.join("tokenizer.json"))?;
    let mut model = build(&experiment, tokenizer.vocab_size(), device)?;
    load_model(&mut model, &dir.join(MODEL_FILE))?;
    Ok(LoadedRun {
        model,
        tokenizer,
        experiment,
    })
}

/// Test-split scores of a run.
#[derive(Clone, Debug)]
pub struct SentimentReport {
    /// Class names.
    pub labels: Vec<String>,
    /// Scores and confusion matrix.
    pub report: ClassificationReport,
    /// Test sentences.
    pub n_test: usize,
    /// The split, for the record.
    pub split: String,
}

impl SentimentReport {
    /// `test_accuracy`, macro `test_precision`/`test_recall`/`test_f1`.
    pub fn results(&self) -> Results {
        let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
        Results::from([
            ("test_accuracy".into(), self.report.accuracy),
            ("test_precision".into(), mean(&self.report.precision)),
            ("test_recall".into(), mean(&self.report.recall)),
            ("test_f1".into(), mean(&self.report.f1)),
        ])
    }
}

impl fmt::Display for SentimentReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let r = &self.report;
        writeln!(f, "test split: {} sentences ({})", self.n_test, self.split)?;
        writeln!(f, "accuracy {:.4}", r.accuracy)?;
        let w = self
            .labels
            .iter()
            .map(|l| l.len())
            .max()
            .unwrap_or(5)
            .max(9);
        writeln!(f, "{:<w$}  precision  recall  f1", "class")?;
        for (i, l) in self.labels.iter().enumerate() {
            writeln!(
                f,
                "{l:<w$}  {:>9.4}  {:>6.4}  {:.4}",
                r.precision[i], r.recall[i], r.f1[i]
            )?;
        }
        writeln!(f, "confusion (rows: truth, columns: predicted)")?;
        write!(f, "{:<w$}", "")?;
        for l in &self.labels {
            write!(f, "  {l:>w$}")?;
        }
        writeln!(f)?;
        for (i, l) in self.labels.iter().enumerate() {
            write!(f, "{l:<w$}")?;
            for c in &r.confusion[i] {
                write!(f, "  {c:>w$}")?;
            }
            writeln!(f)?;
        }
        Ok(())
    }
}

/// Scores the run's saved model on its test split.
pub fn evaluate(dir: &Path, device: &Device) -> anyhow::Result<SentimentReport> {
    let run = load_run(dir, device)?;
    let e = &run.experiment;
    let examples = e.examples()?;
    let labels: Vec<usize> = examples.iter().map(|x| x.label).collect();
    let split = stratified_split(
        &labels,
        e.data.valid_fraction,
        e.data.test_fraction,
        e.data.split_seed,
    )?;
    let data = ClassDataset::new(&examples, &split.test, &run.tokenizer, 0)?;
    let loader = DataLoaderBuilder::new(ClassBatcher { pad_id: 0 })
        .set_device(device.clone())
        .batch_size(e.data.batch_size)
        .build(data);
    let (mut predicted, mut truth) = (Vec::new(), Vec::new());
    for batch in loader.iter() {
        let batch = batch?;
        let n = batch.lengths.len();
        truth.extend(
            batch
                .labels
                .clone()
                .into_data()
                .convert::<i64>()
                .try_to_vec::<i64>()
                .unwrap_or_default(),
        );
        let out = run.model.forward(batch.tokens, &batch.lengths, batch.mask);
        predicted.extend(
            out.logits
                .argmax(1)
                .reshape([n])
                .into_data()
                .convert::<i64>()
                .try_to_vec::<i64>()
                .unwrap_or_default(),
        );
    }
    let to_usize = |v: Vec<i64>| v.into_iter().map(|x| x as usize).collect::<Vec<_>>();
    let report =
        ClassificationReport::new(&to_usize(predicted), &to_usize(truth), e.data.labels.len());
    Ok(SentimentReport {
        labels: e.data.labels.clone(),
        report,
        n_test: split.test.len(),
        split: format!(
            "stratified {}/{}/{} of {} with data.split_seed = {}",
            split.train.len(),
            split.valid.len(),
            split.test.len(),
            examples.len(),
            e.data.split_seed
        ),
    })
}

/// Classifies `text` with the run's model and weighs its tokens.
pub fn predict(run: &LoadedRun, text: &str, device: &Device) -> anyhow::Result<Explanation> {
    let ids = run.tokenizer.encode(text)?;
    if ids.is_empty() {
        bail!("nothing to classify: the text has no words");
    }
    let words: Vec<String> = text.split_whitespace().map(str::to_string).collect();
    let words = if words.len() == ids.len() {
        words
    } else {
        ids.iter().map(|&i| run.tokenizer.decode(&[i])).collect()
    };
    Ok(explain(&run.model, &ids, &words, 0, device))
}
