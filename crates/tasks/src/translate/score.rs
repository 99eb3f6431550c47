//! Scoring on the test split, in memory: corpus BLEU and chrF (sacrebleu's defaults, every
//! reference translation of a source sentence used) of greedy and beam decoding, beside the
//! copy-the-source baseline on the same sentences.

use std::fmt;

use burn::prelude::Device;

use super::bleu::{corpus_bleu, corpus_chrf};
use super::config::TranslateExperiment;
use super::data::TranslateData;
use super::decode::{Decoding, decode_all};
use super::model::Seq2Seq;
use crate::run::Results;
use crate::task::Report;

/// Sentences decoded at once in scoring.
const BATCH: usize = 64;

/// BLEU and chrF of one system.
#[derive(Clone, Debug, PartialEq)]
pub struct Scores {
    /// Corpus BLEU (0–100).
    pub bleu: f64,
    /// Corpus chrF (0–100).
    pub chrf: f64,
}

impl Scores {
    fn of(hypotheses: &[String], references: &[Vec<String>]) -> Self {
        Self {
            bleu: corpus_bleu(hypotheses, references).score,
            chrf: corpus_chrf(hypotheses, references),
        }
    }
}

/// Test-split scores of a run.
#[derive(Clone, Debug)]
pub struct TranslateReport {
    /// Greedy decoding.
    pub greedy: Scores,
    /// Beam search.
    pub beam: Scores,
    /// The source sentence as its own translation.
    pub copy: Scores,
    /// Beam width and length penalty.
    pub decoding: Decoding,
    /// Test source sentences.
    pub n_sources: usize,
    /// Their references.
    pub n_references: usize,
    /// Training pairs.
    pub n_train: usize,
    /// Validation pairs.
    pub n_valid: usize,
    /// A few test sentences: source, beam output, first reference.
    pub examples: Vec<[String; 3]>,
}

impl Report for TranslateReport {
    /// `test_bleu_greedy`, `test_chrf_greedy`, `test_bleu_beam`, `test_chrf_beam` and the
    /// copy baseline's `baseline_copy_bleu`, `baseline_copy_chrf`.
    fn results(&self) -> Results {
        Results::from([
            ("test_bleu_greedy".into(), self.greedy.bleu),
            ("test_chrf_greedy".into(), self.greedy.chrf),
            ("test_bleu_beam".into(), self.beam.bleu),
            ("test_chrf_beam".into(), self.beam.chrf),
            ("baseline_copy_bleu".into(), self.copy.bleu),
            ("baseline_copy_chrf".into(), self.copy.chrf),
        ])
    }
}

impl fmt::Display for TranslateReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "test split: {} source sentences, {} reference translations (normalised text); \
             {} training and {} validation pairs",
            self.n_sources, self.n_references, self.n_train, self.n_valid
        )?;
        writeln!(f, "{:<40}{:>8}{:>8}", "", "BLEU", "chrF")?;
        let beam = format!(
            "model, beam {} (length penalty {})",
            self.decoding.beam, self.decoding.length_penalty
        );
        for (name, s) in [
            ("model, greedy", &self.greedy),
            (beam.as_str(), &self.beam),
            ("copy the source (baseline)", &self.copy),
        ] {
            writeln!(f, "{name:<40}{:>8.2}{:>8.2}", s.bleu, s.chrf)?;
        }
        writeln!(f, "examples (source → beam output | a reference):")?;
        for [s, h, r] in &self.examples {
            writeln!(f, "  {s} → {h} | {r}")?;
        }
        Ok(())
    }
}

/// Scores `model` on the test split with greedy and beam decoding.
pub fn score(
    e: &TranslateExperiment,
    data: &TranslateData,
    model: &Seq2Seq,
    device: &Device,
) -> anyhow::Result<TranslateReport> {
    let sources = data
        .test
        .iter()
        .map(|h| data.vocabs.source.encode(&h.source))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let references: Vec<Vec<String>> = data.test.iter().map(|h| h.references.clone()).collect();
    let decoding = e.decoding();
    let run = |how: Decoding| -> anyhow::Result<Vec<String>> {
        Ok(decode_all(model, &sources, how, BATCH, device)?
            .iter()
            .map(|t| data.vocabs.target.decode(&t.tokens))
            .collect())
    };
    let greedy = run(Decoding {
        beam: 1,
        ..decoding
    })?;
    let beam = run(decoding)?;
    let copies: Vec<String> = data.test.iter().map(|h| h.source.clone()).collect();
    // Five sentences spread over the test split (it runs in source order).
    let examples = (0..data.test.len())
        .step_by(data.test.len().div_ceil(5).max(1))
        .map(|i| {
            [
                data.test[i].source.clone(),
                beam[i].clone(),
                data.test[i].references[0].clone(),
            ]
        })
        .collect();
    Ok(TranslateReport {
        greedy: Scores::of(&greedy, &references),
        beam: Scores::of(&beam, &references),
        copy: Scores::of(&copies, &references),
        decoding,
        n_sources: data.test.len(),
        n_references: references.iter().map(Vec::len).sum(),
        n_train: data.train.len(),
        n_valid: data.valid.len(),
        examples,
    })
}
