//! The sentiment task's commands: `predict` (with `--explain`, or `--with` more runs as an
//! ensemble) and `ensemble`.

use std::path::PathBuf;

use anyhow::bail;
use burn::prelude::Device;

use super::SentimentTask;
use crate::task::load;
use crate::task_command::{Cmd, inputs};

/// `rnnlab predict` on a sentiment run.
pub static PREDICT: Cmd<PredictArgs> = Cmd::new(
    "predict",
    "Classify sentences with a sentiment run: each line printed is the class name \
     (`data.label_names`), its probability and the sentence",
    predict,
);

/// `rnnlab ensemble`.
pub static ENSEMBLE: Cmd<EnsembleArgs> = Cmd::new(
    "ensemble",
    "Several sentiment runs of one data split (e.g. a `sweep` over `train.seed`) as one \
     classifier: the mean of their class probabilities, scored on their test split beside \
     each run and the TF-IDF + logistic-regression baseline",
    ensemble,
);

/// The arguments of `predict` on a sentiment run.
#[derive(clap::Args, Debug)]
pub struct PredictArgs {
    /// The run directory.
    pub run: PathBuf,
    /// The sentences: flags may come before or after them, and any other value starting with
    /// `-` is a sentence too.
    #[arg(required_unless_present = "file", allow_hyphen_values = true)]
    pub texts: Vec<String>,
    /// Read the inputs from this file, one per line (`-` = standard input); blank lines are
    /// skipped.
    #[arg(long)]
    pub file: Option<PathBuf>,
    /// Another sentiment run to average class probabilities with (repeat the flag for more:
    /// an ensemble, as `rnnlab ensemble` scores it).
    #[arg(long = "with")]
    pub with: Vec<PathBuf>,
    /// Weighs the words of each sentence: the tokens the class rests on (attention weights,
    /// or occlusion).
    #[arg(long)]
    pub explain: bool,
}

/// The arguments of `ensemble`.
#[derive(clap::Args, Debug)]
pub struct EnsembleArgs {
    /// The run directories (two or more).
    #[arg(id = "run", required = true, num_args = 1..)]
    pub runs: Vec<PathBuf>,
}

fn ensemble(a: EnsembleArgs, device: &Device) -> anyhow::Result<()> {
    print!("{}", super::ensemble::ensemble(&a.runs, device)?);
    Ok(())
}

fn predict(a: PredictArgs, device: &Device) -> anyhow::Result<()> {
    let texts = inputs(
        a.texts,
        a.file.as_deref(),
        "nothing to predict: no sentences or files",
    )?;
    let lines = if a.with.is_empty() {
        one_run(&a.run, &texts, a.explain, device)?
    } else {
        if a.explain {
            bail!("--explain shows one run; leave out --with");
        }
        let runs: Vec<PathBuf> = std::iter::once(a.run).chain(a.with).collect();
        with_others(&runs, &texts, device)?
    };
    for line in lines {
        println!("{line}");
    }
    Ok(())
}

/// One line per sentence (and with `explain`, one more: its top tokens).
fn one_run(
    dir: &std::path::Path,
    texts: &[String],
    explain: bool,
    device: &Device,
) -> anyhow::Result<Vec<String>> {
    let run = load::<SentimentTask>(dir, device)?;
    let labels = run.config.class_names();
    let mut lines = Vec::new();
    for text in texts {
        let e = super::predict(&run, text, device)?;
        lines.push(format!(
            "{} ({:.3})  {text}",
            labels[e.label], e.probabilities[e.label]
        ));
        if explain {
            let top: Vec<String> = e
                .top(5)
                .iter()
                .map(|(w, v)| format!("{w} {v:.3}"))
                .collect();
            lines.push(format!("  top tokens by {}: {}", e.method, top.join(", ")));
        }
    }
    Ok(lines)
}

/// `predict --with`: each sentence's class from the mean of the runs' class probabilities.
fn with_others(runs: &[PathBuf], texts: &[String], device: &Device) -> anyhow::Result<Vec<String>> {
    let members = super::ensemble::members(runs, "predict --with", device)?;
    let labels = members[0].config.class_names();
    let mut mean = vec![vec![0f32; labels.len()]; texts.len()];
    for member in &members {
        for (m, p) in mean.iter_mut().zip(super::classify(member, texts, device)?) {
            for (m, p) in m.iter_mut().zip(p) {
                *m += p / members.len() as f32;
            }
        }
    }
    let predicted = super::score::argmax(&mean);
    Ok(texts
        .iter()
        .zip(predicted.iter().zip(&mean))
        .map(|(text, (&label, p))| format!("{} ({:.3})  {text}", labels[label], p[label]))
        .collect())
}
