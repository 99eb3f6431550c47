//! The char LM's commands: `generate`, and the sample printed after training.

use std::path::PathBuf;

use anyhow::bail;
use burn::prelude::Device;
use rnnlab_data::tokenizer::{AnyTokenizer, Tokenizer};

use super::{CharLm, CharLmTask, Sampler, SamplingConfig};
use crate::task::load;
use crate::task_command::{Cmd, positive};

/// `rnnlab generate`.
pub static GENERATE: Cmd<GenerateArgs> = Cmd::new(
    "generate",
    "Sample text from a trained char-LM run",
    generate,
);

/// The arguments of `generate`.
#[derive(clap::Args, Debug)]
pub struct GenerateArgs {
    /// The run directory (`runs/<name>/<run-id>`).
    pub run: PathBuf,
    /// Text to start from.
    #[arg(long, default_value = "\n")]
    pub prompt: String,
    /// Tokens to generate (at least 1).
    #[arg(long, default_value_t = 500, value_parser = positive)]
    pub length: usize,
    /// Sampling temperature: 0 = greedy, else a positive number.
    #[arg(long, default_value_t = 0.8, allow_negative_numbers = true)]
    pub temperature: f64,
    /// Keep the k most likely tokens (0 = all).
    #[arg(long, default_value_t = 0)]
    pub top_k: usize,
    /// Nucleus sampling threshold in (0, 1] (1 = off).
    #[arg(long, default_value_t = 1.0, allow_negative_numbers = true)]
    pub top_p: f64,
    /// Seed of the draws.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

fn generate(a: GenerateArgs, device: &Device) -> anyhow::Result<()> {
    if !(a.temperature.is_finite() && a.temperature >= 0.0) {
        bail!(
            "--temperature {}: expected 0 (greedy) or a positive number",
            a.temperature
        );
    }
    if !(a.top_p > 0.0 && a.top_p <= 1.0) {
        bail!("--top-p {}: expected a number in (0, 1] (1 = off)", a.top_p);
    }
    let run = load::<CharLmTask>(&a.run, device)?;
    let tokenizer = &run.artefacts.tokenizer;
    let ids = tokenizer.encode(&a.prompt)?;
    if ids.is_empty() {
        bail!("--prompt must not be empty");
    }
    let sampling = SamplingConfig {
        temperature: a.temperature,
        top_k: a.top_k,
        top_p: a.top_p,
        seed: a.seed,
    };
    let continuation = sample(&run.model, tokenizer, &ids, a.length, sampling, device);
    println!("{}{continuation}", a.prompt);
    Ok(())
}

/// The text of `length` tokens sampled after `prompt` (ids).
pub fn sample(
    model: &CharLm,
    tokenizer: &AnyTokenizer,
    prompt: &[u32],
    length: usize,
    sampling: SamplingConfig,
    device: &Device,
) -> String {
    let out = Sampler::new(sampling).generate(model, prompt, length, device);
    tokenizer.decode(&out)
}

/// What `train` prints after the report: 200 tokens sampled at temperature 0.8 from the
/// trained model, starting from a new line (or, for a tokenizer without one, from the first
/// validation token).
pub fn after_training(
    data: &super::data::LmData,
    model: &CharLm,
    device: &Device,
) -> anyhow::Result<Option<String>> {
    let tokenizer = &data.tokenizer;
    let prompt = match tokenizer.encode("\n") {
        Ok(ids) if !ids.is_empty() => ids,
        _ => data.valid_ids.iter().take(1).copied().collect(),
    };
    if prompt.is_empty() {
        return Ok(None);
    }
    let sampling = SamplingConfig {
        temperature: 0.8,
        top_k: 0,
        top_p: 1.0,
        seed: 0,
    };
    let text = sample(model, tokenizer, &prompt, 200, sampling, device);
    Ok(Some(format!(
        "sample:\n{}{text}",
        tokenizer.decode(&prompt)
    )))
}
