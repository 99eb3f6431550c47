//! Scoring a sentence classifier on the test split, in memory, beside the TF-IDF + logistic
//! regression baseline fitted on the same training sentences.

use std::fmt;

use burn::data::dataloader::DataLoaderBuilder;
use burn::prelude::Device;
use burn::tensor::activation::softmax;
use rnnlab_data::classification::ClassBatcher;

use super::SentimentClassifier;
use super::config::SentimentExperiment;
use super::data::{PAD, SentimentData, words};
use crate::metrics::ClassificationReport;
use crate::run::Results;
use crate::task::Report;

/// Test-split scores of a run.
#[derive(Clone, Debug)]
pub struct SentimentReport {
    /// Class names.
    pub labels: Vec<String>,
    /// Scores and confusion matrix.
    pub report: ClassificationReport,
    /// The TF-IDF + logistic-regression baseline on the same test sentences.
    pub baseline: ClassificationReport,
    /// With `model.nb_features`, Naive Bayes on the model's own log-count ratios, on the same
    /// test sentences: what the ratios alone are worth.
    pub nb: Option<ClassificationReport>,
    /// Test sentences.
    pub n_test: usize,
    /// The split, for the record.
    pub split: String,
}

impl Report for SentimentReport {
    /// `test_accuracy`, macro `test_precision`/`test_recall`/`test_f1`, and the baseline's
    /// `baseline_accuracy`, `baseline_f1`, and with log-count ratios `nb_accuracy`, `nb_f1`.
    fn results(&self) -> Results {
        let mut results = self.report.results_beside(&self.baseline);
        if let Some(nb) = &self.nb {
            results.insert("nb_accuracy".into(), nb.accuracy);
            results.insert("nb_f1".into(), nb.macro_f1());
        }
        results
    }
}

impl fmt::Display for SentimentReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let r = &self.report;
        writeln!(f, "test split: {} sentences ({})", self.n_test, self.split)?;
        let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
        writeln!(f, "{:<34}{:>9}{:>10}", "", "accuracy", "macro F1")?;
        writeln!(f, "{:<34}{:>9.4}{:>10.4}", "model", r.accuracy, mean(&r.f1))?;
        writeln!(
            f,
            "{:<34}{:>9.4}{:>10.4}",
            "TF-IDF + logistic regression",
            self.baseline.accuracy,
            mean(&self.baseline.f1)
        )?;
        if let Some(nb) = &self.nb {
            writeln!(
                f,
                "{:<34}{:>9.4}{:>10.4}",
                "Naive Bayes on the model's ratios",
                nb.accuracy,
                mean(&nb.f1)
            )?;
        }
        writeln!(f, "model, per class:")?;
        write!(f, "{}", r.table(&self.labels))
    }
}

/// The class probabilities `model` gives the sentences `indices` of `data` (one row each, in
/// order), and their true classes.
pub fn probabilities(
    e: &SentimentExperiment,
    data: &SentimentData,
    model: &SentimentClassifier,
    indices: &[usize],
    device: &Device,
) -> anyhow::Result<(Vec<Vec<f32>>, Vec<usize>)> {
    let loader = DataLoaderBuilder::new(ClassBatcher { pad_id: PAD })
        .set_device(device.clone())
        .batch_size(e.data.batch_size)
        .build(data.dataset(indices)?);
    let n_classes = e.data.labels.len();
    let (mut probabilities, mut truth) = (Vec::new(), Vec::new());
    for batch in loader.iter() {
        let batch = batch?;
        truth.extend(crate::metrics::read_ints(batch.labels.clone())?);
        let out = model.forward(batch);
        let p = crate::metrics::read_floats(softmax(out.logits, 1))?;
        probabilities.extend(p.chunks(n_classes).map(<[f32]>::to_vec));
    }
    Ok((probabilities, truth))
}

/// The most probable class of each row.
pub fn argmax(probabilities: &[Vec<f32>]) -> Vec<usize> {
    probabilities
        .iter()
        .map(|p| {
            (0..p.len())
                .max_by(|&a, &b| p[a].total_cmp(&p[b]).then(b.cmp(&a)))
                .unwrap_or(0)
        })
        .collect()
}

/// The TF-IDF + logistic-regression baseline of `data`'s split: fitted on its training
/// sentences, scored on its test sentences.
pub fn baseline(
    e: &SentimentExperiment,
    data: &SentimentData,
) -> anyhow::Result<ClassificationReport> {
    let ex = &data.examples;
    let train: Vec<(Vec<String>, usize)> = data
        .split
        .train
        .iter()
        .map(|&i| (words(&data.encoder.tokenizer, &ex[i].text), ex[i].label))
        .collect();
    let test: Vec<Vec<String>> = data
        .split
        .test
        .iter()
        .map(|&i| words(&data.encoder.tokenizer, &ex[i].text))
        .collect();
    let truth: Vec<usize> = data.split.test.iter().map(|&i| ex[i].label).collect();
    let n_classes = e.data.labels.len();
    let predicted = super::tfidf::fit_predict(&train, &test, n_classes, &e.baseline)?;
    Ok(ClassificationReport::new(&predicted, &truth, n_classes))
}

/// With log-count ratios (`model.nb_features`), Naive Bayes on them alone, scored on `data`'s
/// test split: what the model's features are worth without the model.
pub fn naive_bayes(
    e: &SentimentExperiment,
    data: &SentimentData,
) -> anyhow::Result<Option<ClassificationReport>> {
    let Some(ratios) = &data.encoder.ratios else {
        return Ok(None);
    };
    let (mut predicted, mut truth) = (Vec::new(), Vec::new());
    for &i in &data.split.test {
        let ex = &data.examples[i];
        predicted.push(ratios.classify(&data.encoder.item(&ex.text, 0)?.ids));
        truth.push(ex.label);
    }
    Ok(Some(ClassificationReport::new(
        &predicted,
        &truth,
        e.data.labels.len(),
    )))
}

/// Scores `model` on the test split and fits and scores the baseline.
pub fn score(
    e: &SentimentExperiment,
    data: &SentimentData,
    model: &SentimentClassifier,
    device: &Device,
) -> anyhow::Result<SentimentReport> {
    let (probabilities, truth) = probabilities(e, data, model, &data.split.test, device)?;
    let report = ClassificationReport::new(&argmax(&probabilities), &truth, e.data.labels.len());
    Ok(SentimentReport {
        labels: e.class_names().to_vec(),
        report,
        nb: naive_bayes(e, data)?,
        baseline: baseline(e, data)?,
        n_test: data.split.test.len(),
        split: data.describe_split(e.data.split_seed),
    })
}
