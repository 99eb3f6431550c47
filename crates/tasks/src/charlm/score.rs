//! Scoring a language model: every token of the validation split once, beside the
//! interpolated Kneser-Ney n-gram baseline fitted on the same training tokens.

use std::fmt;

use burn::data::dataloader::DataLoaderBuilder;
use burn::prelude::Device;
use rnnlab_data::lm::{LmBatcher, WindowDataset};
use rnnlab_data::tokenizer::Tokenizer;

use super::CharLm;
use super::config::CharLmExperiment;
use super::data::LmData;
use super::ngram::KneserNey;
use crate::run::Results;
use crate::task::Report;

/// Validation scores of a language model and its n-gram baseline.
#[derive(Clone, Debug)]
pub struct LmReport {
    /// The model: mean nats per token.
    pub nats_per_token: f64,
    /// The model: nats per character of the validation text.
    pub nats_per_char: f64,
    /// Tokens the model scored.
    pub tokens: usize,
    /// The baseline: nats per token over every validation token.
    pub baseline_nats_per_token: f64,
    /// The baseline: nats per character.
    pub baseline_nats_per_char: f64,
    /// The baseline's order.
    pub baseline_order: usize,
}

impl Report for LmReport {
    /// `valid_loss` (nats/token), `valid_perplexity`, `valid_nats_per_char`,
    /// `valid_bits_per_char`, `valid_tokens`, and the same for `baseline_…`.
    fn results(&self) -> Results {
        let ln2 = std::f64::consts::LN_2;
        Results::from([
            ("valid_loss".into(), self.nats_per_token),
            ("valid_perplexity".into(), self.nats_per_token.exp()),
            ("valid_nats_per_char".into(), self.nats_per_char),
            ("valid_bits_per_char".into(), self.nats_per_char / ln2),
            ("valid_tokens".into(), self.tokens as f64),
            ("baseline_loss".into(), self.baseline_nats_per_token),
            ("baseline_nats_per_char".into(), self.baseline_nats_per_char),
            (
                "baseline_bits_per_char".into(),
                self.baseline_nats_per_char / ln2,
            ),
            ("baseline_order".into(), self.baseline_order as f64),
        ])
    }
}

impl fmt::Display for LmReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ln2 = std::f64::consts::LN_2;
        writeln!(f, "validation split, {} tokens scored", self.tokens)?;
        writeln!(
            f,
            "{:<28}{:>12}{:>12}{:>12}{:>12}",
            "", "nats/token", "nats/char", "bits/char", "perplexity"
        )?;
        for (name, token, char) in [
            ("model", self.nats_per_token, self.nats_per_char),
            (
                &*format!("Kneser-Ney {}-gram baseline", self.baseline_order),
                self.baseline_nats_per_token,
                self.baseline_nats_per_char,
            ),
        ] {
            writeln!(
                f,
                "{name:<28}{token:>12.4}{char:>12.4}{:>12.4}{:>12.2}",
                char / ln2,
                token.exp()
            )?;
        }
        let gain = self.baseline_nats_per_char - self.nats_per_char;
        writeln!(
            f,
            "the model is {:.4} nats/char {} than the baseline",
            gain.abs(),
            if gain >= 0.0 { "better" } else { "worse" }
        )
    }
}

/// Scores every token of the validation split once (non-overlapping windows of `seq_len`)
/// and the n-gram baseline on all validation tokens.
pub fn score(
    e: &CharLmExperiment,
    data: &LmData,
    model: &CharLm,
    device: &Device,
) -> anyhow::Result<LmReport> {
    let d = &e.data;
    let ids = &data.valid_ids;
    let windows = WindowDataset::new(ids.clone(), d.seq_len)?.with_stride(d.seq_len);
    let loader = DataLoaderBuilder::new(LmBatcher)
        .set_device(device.clone())
        .batch_size(d.batch_size)
        .build(windows);
    let (mut nats, mut tokens) = (0.0f64, 0usize);
    for batch in loader.iter() {
        let batch = batch?;
        let [b, t] = batch.target.dims();
        let loss: f64 = model.forward_loss(batch).loss.into_scalar::<f64>();
        nats += loss * (b * t) as f64;
        tokens += b * t;
    }
    let per_token = nats / tokens.max(1) as f64;
    // The tokens scored cover the split but for the last partial window: scale by the
    // characters those tokens span (the split's characters × scored / total tokens).
    let chars_scored = data.valid_chars as f64 * tokens as f64 / ids.len().max(1) as f64;
    let order = e.baseline.order;
    let ngram = KneserNey::fit(&data.train_ids, data.tokenizer.vocab_size(), order)?;
    let baseline = ngram.nats(ids);
    Ok(LmReport {
        nats_per_token: per_token,
        nats_per_char: nats / chars_scored.max(1.0),
        tokens,
        baseline_nats_per_token: baseline / ids.len().max(1) as f64,
        baseline_nats_per_char: baseline / data.valid_chars.max(1) as f64,
        baseline_order: order,
    })
}
