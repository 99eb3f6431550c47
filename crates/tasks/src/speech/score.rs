//! Scoring on the test split, in memory: a spoken-digit classifier beside the logistic
//! regression on per-recording feature statistics fitted on the same training recordings; a
//! CTC model's greedy and beam transcripts of digit strings beside that classifier applied to
//! energy segments.

use std::fmt;
use std::path::Path;

use anyhow::Context;
use burn::prelude::Device;
use rnnlab_data::audio::{Clip, Features};

use super::config::{N_DIGITS, SpeechExperiment};
use super::ctc::{self, ErrorRates};
use super::data::{Sample, SpeechData, frame_loader};
use super::{CtcModel, SpeechClassifier};
use crate::metrics::{ClassificationReport, read_floats, read_ints};
use crate::run::Results;
use crate::task::Report;

/// Test-split scores of a run.
#[derive(Clone, Debug)]
pub struct SpeechReport {
    /// Class names (`0`…`9`).
    pub labels: Vec<String>,
    /// Scores and confusion matrix.
    pub report: ClassificationReport,
    /// The baseline on the same test recordings.
    pub baseline: ClassificationReport,
    /// Test recordings.
    pub n_test: usize,
    /// The split, for the record.
    pub split: String,
}

impl Report for SpeechReport {
    /// `test_accuracy`, macro `test_precision`/`test_recall`/`test_f1`, and the baseline's
    /// `baseline_accuracy`, `baseline_f1`.
    fn results(&self) -> Results {
        self.report.results_beside(&self.baseline)
    }
}

impl fmt::Display for SpeechReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let r = &self.report;
        writeln!(f, "test split: {} recordings ({})", self.n_test, self.split)?;
        writeln!(f, "{:<44}{:>9}{:>10}", "", "accuracy", "macro F1")?;
        writeln!(
            f,
            "{:<44}{:>9.4}{:>10.4}",
            "model",
            r.accuracy,
            r.macro_f1()
        )?;
        writeln!(
            f,
            "{:<44}{:>9.4}{:>10.4}",
            "logistic regression on feature mean + std",
            self.baseline.accuracy,
            self.baseline.macro_f1()
        )?;
        writeln!(f, "model, per digit:")?;
        write!(f, "{}", r.table(&self.labels))
    }
}

/// The model's class for every recording of `indices`, in that order.
pub fn classify(
    model: &SpeechClassifier,
    data: &SpeechData,
    indices: &[usize],
    batch_size: usize,
    device: &Device,
) -> anyhow::Result<Vec<usize>> {
    let loader = frame_loader(data.items(indices), batch_size, None, device);
    let mut out = Vec::with_capacity(indices.len());
    for batch in loader.iter() {
        let batch = batch?;
        let n = batch.lengths.len();
        let logits = model
            .forward(batch.features, &batch.lengths, batch.mask)
            .logits;
        out.extend(read_ints(logits.argmax(1).reshape([n]))?);
    }
    Ok(out)
}

/// Scores `model` on the test split and fits and scores the baseline.
pub fn score(
    e: &SpeechExperiment,
    data: &SpeechData,
    model: &SpeechClassifier,
    device: &Device,
) -> anyhow::Result<SpeechReport> {
    let test = &data.split.test;
    let truth: Vec<usize> = test
        .iter()
        .map(|&i| data.recordings[i].digit as usize)
        .collect();
    let predicted = classify(model, data, test, e.data.batch_size, device)?;
    let train = data.training_recordings();
    let test_features: Vec<_> = test.iter().map(|&i| &data.features[i]).collect();
    let baseline = super::baseline::fit_predict(&train, &test_features, e.baseline.alpha)?;
    Ok(SpeechReport {
        labels: (0..N_DIGITS).map(|d| d.to_string()).collect(),
        report: ClassificationReport::new(&predicted, &truth, N_DIGITS),
        baseline: ClassificationReport::new(&baseline, &truth, N_DIGITS),
        n_test: test.len(),
        split: data.describe_split(&e.data.split),
    })
}

/// Test-split error rates of a `target = "sequence"` run.
#[derive(Clone, Debug)]
pub struct SequenceReport {
    /// Greedy (best-path) decoding.
    pub greedy: ErrorRates,
    /// Prefix beam search.
    pub beam: ErrorRates,
    /// The beam width.
    pub width: usize,
    /// The energy-segmentation + logistic-regression baseline.
    pub baseline: ErrorRates,
    /// Test strings.
    pub n_test: usize,
    /// Their digits in all.
    pub n_digits: usize,
    /// The split, for the record.
    pub split: String,
}

impl Report for SequenceReport {
    /// `test_wer`, `test_cer`, `test_string_accuracy` (beam search), the same ending in
    /// `_greedy`, and the baseline's `baseline_wer`, `baseline_cer`, `baseline_string_accuracy`.
    fn results(&self) -> Results {
        let mut r = Results::new();
        for (prefix, suffix, e) in [
            ("test", "", &self.beam),
            ("test", "_greedy", &self.greedy),
            ("baseline", "", &self.baseline),
        ] {
            r.insert(format!("{prefix}_wer{suffix}"), e.wer);
            r.insert(format!("{prefix}_cer{suffix}"), e.cer);
            r.insert(
                format!("{prefix}_string_accuracy{suffix}"),
                e.string_accuracy,
            );
        }
        r
    }
}

impl fmt::Display for SequenceReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "test split: {} digit strings, {} digits ({})",
            self.n_test, self.n_digits, self.split
        )?;
        writeln!(
            f,
            "{:<40}{:>8}{:>8}{:>16}",
            "", "WER", "CER", "strings right"
        )?;
        let beam = format!("model, beam search (width {})", self.width);
        for (name, e) in [
            ("model, greedy", &self.greedy),
            (beam.as_str(), &self.beam),
            ("energy segments + logistic regression", &self.baseline),
        ] {
            writeln!(
                f,
                "{name:<40}{:>8.4}{:>8.4}{:>16.4}",
                e.wer, e.cer, e.string_accuracy
            )?;
        }
        Ok(())
    }
}

/// Every test string's frame log-probabilities `[frames][11]`, in order.
pub fn log_probs(
    model: &CtcModel,
    data: &SpeechData,
    samples: &[Sample],
    batch_size: usize,
    device: &Device,
) -> anyhow::Result<Vec<Vec<Vec<f32>>>> {
    let loader = frame_loader(data.string_items(samples), batch_size, None, device);
    let mut out = Vec::with_capacity(samples.len());
    for batch in loader.iter() {
        let batch = batch?;
        let lengths = batch.lengths.clone();
        let lp = model.log_probs(batch.features, &batch.lengths);
        let [_, t, c] = lp.dims();
        let values = read_floats(lp)?;
        for (row, &len) in lengths.iter().enumerate() {
            out.push(
                (0..len)
                    .map(|i| values[(row * t + i) * c..(row * t + i + 1) * c].to_vec())
                    .collect(),
            );
        }
    }
    Ok(out)
}

/// Scores a CTC model on the test strings with greedy and beam decoding, and the baseline.
pub fn score_sequences(
    e: &SpeechExperiment,
    data: &SpeechData,
    model: &CtcModel,
    device: &Device,
) -> anyhow::Result<SequenceReport> {
    let strings = data
        .strings
        .as_ref()
        .context("a sequence run without digit strings")?;
    let test = &strings.test;
    let refs: Vec<Vec<u32>> = test.iter().map(|s| s.digits.clone()).collect();
    let lps = log_probs(model, data, test, e.data.batch_size, device)?;
    let greedy: Vec<Vec<u32>> = lps.iter().map(|lp| ctc::greedy(lp)).collect();
    let beam: Vec<Vec<u32>> = lps
        .iter()
        .map(|lp| ctc::beam(lp, e.decode.beam).0)
        .collect();
    // Baseline: a classifier of isolated training recordings on energy segments.
    let train = data.training_recordings();
    let classifier = super::baseline::Classifier::fit(&train, e.baseline.alpha)?;
    let x = &data.extractor;
    let mut segmented = Vec::with_capacity(test.len());
    for s in test {
        let clip = s.clip.as_ref().context("a test string without its audio")?;
        let db = super::baseline::frame_db(&clip.samples, x.frame_len(), x.hop());
        let mut pieces = Vec::new();
        for (a, b) in super::baseline::segments(&db) {
            let end = ((b - 1) * x.hop() + x.frame_len()).min(clip.samples.len());
            let piece = Clip {
                samples: clip.samples[a * x.hop()..end].to_vec(),
                sample_rate: clip.sample_rate,
            };
            let mut f = x.compute(&piece, Path::new("a segment"))?;
            data.normalizer.transform(&mut f.values);
            pieces.push(f);
        }
        let refs: Vec<&Features> = pieces.iter().collect();
        segmented.push(
            classifier
                .predict(&refs)
                .into_iter()
                .map(|d| d as u32)
                .collect(),
        );
    }
    Ok(SequenceReport {
        greedy: ErrorRates::new(&greedy, &refs),
        beam: ErrorRates::new(&beam, &refs),
        width: e.decode.beam,
        baseline: ErrorRates::new(&segmented, &refs),
        n_test: test.len(),
        n_digits: refs.iter().map(Vec::len).sum(),
        split: format!(
            "{}-{} digits per string, made from the test recordings; {}",
            e.data.sequences.min_digits,
            e.data.sequences.max_digits,
            data.describe_split(&e.data.split)
        ),
    })
}
