//! The translation task's command: `translate` (one line per sentence; `--plot-attention`
//! draws one sentence's attention).

use std::path::PathBuf;

use anyhow::bail;
use burn::prelude::Device;

use super::TranslateTask;
use crate::task::load;
use crate::task_command::{Cmd, inputs};

/// `rnnlab translate`.
pub static TRANSLATE: Cmd<TranslateArgs> = Cmd::new(
    "translate",
    "Translate sentences with a translation run: one line per input, its translation (the \
     normalised text the model writes: lower case, no accents, punctuation spaced). Unknown \
     words are read as `<unk>` and named on standard error; an input without letters, one \
     longer than the run trained on, or one of only unknown words is an error",
    translate,
);

/// The arguments of `translate`.
#[derive(clap::Args, Debug)]
pub struct TranslateArgs {
    /// The run directory.
    pub run: PathBuf,
    /// The sentences: flags may come before or after them, and any other value starting with
    /// `-` is a sentence too.
    #[arg(required_unless_present = "file", allow_hyphen_values = true)]
    pub texts: Vec<String>,
    /// Read sentences from this file, one per line (`-` = standard input); blank lines are
    /// skipped.
    #[arg(long)]
    pub file: Option<PathBuf>,
    /// Beam width (1 = greedy); default the run's `decode.beam`.
    #[arg(long, value_parser = beam)]
    pub beam: Option<usize>,
    /// Draw the sentence's attention matrix (source tokens × output tokens) to this SVG file
    /// (one sentence).
    #[arg(long)]
    pub plot_attention: Option<PathBuf>,
}

fn beam(value: &str) -> Result<usize, String> {
    value
        .parse()
        .map_err(|_| "expected a whole number from 1 to 100".to_string())
}

fn translate(a: TranslateArgs, device: &Device) -> anyhow::Result<()> {
    let texts = inputs(
        a.texts,
        a.file.as_deref(),
        "nothing to translate: no sentences or file",
    )?;
    let run = load::<TranslateTask>(&a.run, device)?;
    if a.plot_attention.is_some() {
        if texts.len() != 1 {
            bail!(
                "--plot-attention draws one sentence; {} were given",
                texts.len()
            );
        }
        if run.model.attention.is_none() {
            bail!("--plot-attention: this run has no attention (model.attention = \"none\")");
        }
    }
    let translated = super::translate(&run, &texts, a.beam, device)?;
    if let (Some(path), Some(t)) = (&a.plot_attention, translated.first()) {
        super::attention_svg(
            &t.source_tokens,
            &t.output_tokens,
            &t.translation.attention,
            path,
        )?;
    }
    for t in translated {
        if !t.unknown.is_empty() {
            eprintln!(
                "note: {:?}: not in the run's vocabulary, read as <unk>: {}",
                t.input,
                t.unknown.join(", ")
            );
        }
        println!("{}", t.output);
    }
    Ok(())
}
