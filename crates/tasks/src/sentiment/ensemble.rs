//! Several sentiment runs of one data split as one classifier: the mean of their class
//! probabilities (`rnnlab ensemble`, `rnnlab predict --with`). Runs that differ only in
//! `train.seed` (a `sweep` over it) are the usual members; any model settings may differ, the
//! split may not.

use std::fmt;
use std::path::{Path, PathBuf};

use anyhow::bail;
use burn::prelude::Device;

use super::SentimentTask;
use super::config::SentimentExperiment;
use super::score::{argmax, baseline, naive_bayes, probabilities};
use crate::metrics::ClassificationReport;
use crate::task::{Loaded, load, require};

/// What `rnnlab ensemble` prints: the ensemble's test scores beside each member's and the
/// TF-IDF + logistic-regression baseline's, on the members' common test split.
#[derive(Clone, Debug)]
pub struct EnsembleReport {
    /// Class names.
    pub labels: Vec<String>,
    /// Each member's run directory and test accuracy.
    pub members: Vec<(PathBuf, f64)>,
    /// The ensemble's scores and confusion matrix.
    pub report: ClassificationReport,
    /// The baseline, fitted on the common training split.
    pub baseline: ClassificationReport,
    /// Naive Bayes on the log-count ratios of the first member that has them, when one does.
    pub nb: Option<ClassificationReport>,
    /// Test sentences.
    pub n_test: usize,
    /// The split, for the record.
    pub split: String,
}

impl fmt::Display for EnsembleReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "test split: {} sentences ({})", self.n_test, self.split)?;
        writeln!(f, "{:<40}{:>9}{:>10}", "", "accuracy", "macro F1")?;
        let name = format!("ensemble of {} runs (mean probability)", self.members.len());
        let (r, b) = (&self.report, &self.baseline);
        writeln!(f, "{name:<40}{:>9.4}{:>10.4}", r.accuracy, r.macro_f1())?;
        let base = "TF-IDF + logistic regression";
        writeln!(f, "{base:<40}{:>9.4}{:>10.4}", b.accuracy, b.macro_f1())?;
        if let Some(nb) = &self.nb {
            let name = "Naive Bayes on the runs' ratios";
            writeln!(f, "{name:<40}{:>9.4}{:>10.4}", nb.accuracy, nb.macro_f1())?;
        }
        writeln!(f, "each run alone (test accuracy):")?;
        for (run, accuracy) in &self.members {
            writeln!(f, "  {accuracy:.4}  {}", run.display())?;
        }
        writeln!(f, "ensemble, per class:")?;
        write!(f, "{}", r.table(&self.labels))
    }
}

/// Checks that `run` (in `dir`) classifies into the classes of `first`.
fn same_classes(
    first: &SentimentExperiment,
    run: &SentimentExperiment,
    dir: &Path,
) -> anyhow::Result<()> {
    if run.data.labels != first.data.labels {
        bail!(
            "{}: data.labels {:?} differ from the first run's {:?}: an ensemble's runs classify \
             into the same classes",
            dir.display(),
            run.data.labels,
            first.data.labels
        );
    }
    Ok(())
}

/// `rnnlab ensemble`: scores the mean of the runs' class probabilities on their test split.
/// Every run must be a sentiment run of the same sentences and split (`data.path`, `format`,
/// `labels`, the fractions and `split_seed`): each then has the same test sentences, which
/// each member reads with its own tokenizer.
pub fn ensemble(runs: &[PathBuf], device: &Device) -> anyhow::Result<EnsembleReport> {
    let loaded = members(runs, "ensemble", device)?;
    let data = loaded
        .iter()
        .map(|run| run.data())
        .collect::<anyhow::Result<Vec<_>>>()?;
    let a = &data[0];
    for (dir, b) in runs.iter().zip(&data).skip(1) {
        let same_sentences = a.split.test == b.split.test
            && a.split.train == b.split.train
            && a.examples.len() == b.examples.len()
            && a.split.test.iter().all(|&i| a.examples[i] == b.examples[i]);
        if !same_sentences {
            bail!(
                "{}: its test split is not the first run's ({}): an ensemble's runs need the \
                 same data.path, data.format, data.labels, fractions and data.split_seed",
                dir.display(),
                runs[0].display()
            );
        }
    }
    let first = &loaded[0];
    let n_classes = first.config.data.labels.len();
    let test = &a.split.test;
    let mut sum = vec![vec![0f32; n_classes]; test.len()];
    let (mut members, mut truth) = (Vec::new(), Vec::new());
    for ((dir, run), data) in runs.iter().zip(&loaded).zip(&data) {
        let (p, t) = probabilities(&run.config, data, &run.model, test, device)?;
        let accuracy = ClassificationReport::new(&argmax(&p), &t, n_classes).accuracy;
        members.push((dir.clone(), accuracy));
        for (s, p) in sum.iter_mut().zip(&p) {
            for (s, p) in s.iter_mut().zip(p) {
                *s += p;
            }
        }
        truth = t;
    }
    Ok(EnsembleReport {
        labels: first.config.class_names().to_vec(),
        members,
        report: ClassificationReport::new(&argmax(&sum), &truth, n_classes),
        baseline: baseline(&first.config, a)?,
        nb: match loaded
            .iter()
            .zip(&data)
            .find(|(_, data)| data.encoder.ratios.is_some())
        {
            Some((run, data)) => naive_bayes(&run.config, data)?,
            None => None,
        },
        n_test: test.len(),
        split: a.describe_split(first.config.data.split_seed),
    })
}

/// The runs of an ensemble (`what` names the command: `ensemble`, `predict --with`): two
/// runs or more, each a sentiment run classifying into the first one's classes.
pub fn members(
    runs: &[PathBuf],
    what: &str,
    device: &Device,
) -> anyhow::Result<Vec<Loaded<SentimentTask>>> {
    if runs.len() < 2 {
        bail!("an ensemble needs two runs or more; {} given", runs.len());
    }
    let mut loaded: Vec<Loaded<SentimentTask>> = Vec::new();
    for dir in runs {
        require::<SentimentTask>(dir, what)?;
        let run = load::<SentimentTask>(dir, device)?;
        if let Some(first) = loaded.first() {
            same_classes(&first.config, &run.config, dir)?;
        }
        loaded.push(run);
    }
    Ok(loaded)
}
