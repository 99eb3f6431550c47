//! What each `rnnlab` subcommand does. The task-independent ones go through the
//! [`registry`](crate::registry); the task-specific ones live with their task.

use std::path::{Path, PathBuf};

use anyhow::bail;
use burn::prelude::Device;
use rnnlab_data::tokenizer::Tokenizer;

use crate::charlm::{CharLmTask, Sampler, SamplingConfig};
use crate::registry::{require, task_of, task_of_run};
use crate::run::Results;
use crate::task::Task;

/// The resolved config of an experiment file, as TOML.
pub fn print_config(file: &Path, overrides: &[String]) -> anyhow::Result<String> {
    task_of(file)?.print_config(file, overrides)
}

/// Resolves and validates an experiment with overrides, without training.
pub fn check(file: &Path, overrides: &[String]) -> anyhow::Result<()> {
    print_config(file, overrides).map(drop)
}

/// A finished training run.
pub struct Trained {
    /// Its directory.
    pub dir: PathBuf,
    /// Its task's name.
    pub task: &'static str,
    /// Its final metrics.
    pub results: Results,
}

/// `rnnlab train`: validates everything, then trains into a new run directory under `runs`.
pub fn train(
    file: &Path,
    overrides: &[String],
    runs: &Path,
    device: &Device,
) -> anyhow::Result<Trained> {
    let task = task_of(file)?;
    let (dir, results) = task.train(file, overrides, runs, device)?;
    Ok(Trained {
        dir,
        task: task.name(),
        results,
    })
}

/// `rnnlab resume`: continues a run from its last complete checkpoint.
pub fn resume(dir: &Path, device: &Device) -> anyhow::Result<Trained> {
    let task = task_of_run(dir)?;
    let results = task.resume(dir, device)?;
    Ok(Trained {
        dir: dir.to_path_buf(),
        task: task.name(),
        results,
    })
}

/// `rnnlab eval`: the run's report on its evaluation split, recomputed from the saved model
/// (the same text `train` printed and saved as `report.txt`).
pub fn eval(dir: &Path, device: &Device) -> anyhow::Result<String> {
    task_of_run(dir)?.eval(dir, device)
}

/// `rnnlab generate`: samples `length` tokens after `prompt`.
pub fn generate(
    dir: &Path,
    prompt: &str,
    length: usize,
    sampling: SamplingConfig,
    device: &Device,
) -> anyhow::Result<String> {
    require::<CharLmTask>(dir, "generate")?;
    let loaded = crate::task::load::<CharLmTask>(dir, device)?;
    let tokenizer = &loaded.data.tokenizer;
    let ids = tokenizer.encode(prompt)?;
    if ids.is_empty() {
        bail!("--prompt must not be empty");
    }
    let out = Sampler::new(sampling).generate(&loaded.model, &ids, length, device);
    Ok(format!("{prompt}{}", tokenizer.decode(&out)))
}

/// `rnnlab ensemble`: several sentiment runs of one split as one classifier, scored on their
/// test split beside each member and the baseline.
pub fn ensemble(runs: &[PathBuf], device: &Device) -> anyhow::Result<String> {
    Ok(crate::sentiment::ensemble::ensemble(runs, device)?.to_string())
}

/// `rnnlab predict`: one line per input — for a sentiment run each input is a sentence, for a
/// speech run the path of a WAV file. `explain` adds the tokens a sentence's class rests on;
/// `plot` draws a single recording's spectrogram and frame-wise prediction. `with`: more
/// sentiment runs whose class probabilities are averaged with `run`'s (an ensemble).
pub fn predict(
    run: &Path,
    with: &[PathBuf],
    inputs: &[String],
    explain: bool,
    plot: Option<&Path>,
    device: &Device,
) -> anyhow::Result<Vec<String>> {
    if !with.is_empty() {
        if explain || plot.is_some() {
            bail!("--explain and --plot show one run; leave out --with");
        }
        return predict_ensemble(run, with, inputs, device);
    }
    let task = task_of_run(run)?.name();
    if task == crate::speech::SpeechTask::NAME {
        if explain {
            bail!("--explain weighs the words of a sentiment run; for a speech run use --plot");
        }
        return crate::speech::predict_lines(run, inputs, plot, device);
    }
    if plot.is_some() {
        bail!("--plot draws speech predictions; this is a {task} run");
    }
    require::<crate::sentiment::SentimentTask>(run, "predict")?;
    let loaded = crate::task::load_for_inference::<crate::sentiment::SentimentTask>(run, device)?;
    let labels = loaded.config.class_names();
    let mut lines = Vec::new();
    for text in inputs {
        let e = crate::sentiment::predict(&loaded, text, device)?;
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
fn predict_ensemble(
    run: &Path,
    with: &[PathBuf],
    inputs: &[String],
    device: &Device,
) -> anyhow::Result<Vec<String>> {
    let runs: Vec<PathBuf> = std::iter::once(run.to_path_buf())
        .chain(with.iter().cloned())
        .collect();
    let members = crate::sentiment::ensemble::members(&runs, device)?;
    let labels = members[0].config.class_names();
    let mut mean = vec![vec![0f32; labels.len()]; inputs.len()];
    for member in &members {
        for (m, p) in mean
            .iter_mut()
            .zip(crate::sentiment::classify(member, inputs, device)?)
        {
            for (m, p) in m.iter_mut().zip(p) {
                *m += p / members.len() as f32;
            }
        }
    }
    let predicted = crate::sentiment::score::argmax(&mean);
    Ok(inputs
        .iter()
        .zip(predicted.iter().zip(&mean))
        .map(|(text, (&label, p))| format!("{} ({:.3})  {text}", labels[label], p[label]))
        .collect())
}

/// `rnnlab translate`: one line per input, its translation (normalised text); `beam`
/// overrides the run's `decode.beam`; `plot` draws a single sentence's attention matrix.
/// Unknown words are named on standard error.
pub fn translate(
    run: &Path,
    inputs: &[String],
    beam: Option<usize>,
    plot: Option<&Path>,
    device: &Device,
) -> anyhow::Result<Vec<String>> {
    use crate::translate::TranslateTask;
    require::<TranslateTask>(run, "translate")?;
    let loaded = crate::task::load_for_inference::<TranslateTask>(run, device)?;
    if plot.is_some() {
        if inputs.len() != 1 {
            bail!(
                "--plot-attention draws one sentence; {} were given",
                inputs.len()
            );
        }
        if loaded.model.attention.is_none() {
            bail!("--plot-attention: this run has no attention (model.attention = \"none\")");
        }
    }
    let translated = crate::translate::translate(&loaded, inputs, beam, device)?;
    if let (Some(path), Some(t)) = (plot, translated.first()) {
        crate::translate::attention_svg(
            &t.source_tokens,
            &t.output_tokens,
            &t.translation.attention,
            path,
        )?;
    }
    Ok(translated
        .into_iter()
        .map(|t| {
            if !t.unknown.is_empty() {
                eprintln!(
                    "note: {:?}: not in the run's vocabulary, read as <unk>: {}",
                    t.input,
                    t.unknown.join(", ")
                );
            }
            t.output
        })
        .collect())
}
