//! What each `rnnlab` subcommand does, dispatched on the experiment's or run's `task`.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use burn::prelude::Device;
use rnnlab_data::tokenizer::Tokenizer;

use crate::charlm::experiment::{self as charlm, CharLmExperiment};
use crate::charlm::{Sampler, SamplingConfig};
use crate::experiment::{self, Experiment, resolve};
use crate::forecast::experiment::{self as forecast, ForecastExperiment};
use crate::run::{Results, TaskKind, new_run_dir, task_of, task_of_run};
use crate::sentiment::experiment::{self as sentiment, SentimentExperiment};
use crate::training::checkpoint;

/// The resolved config of an experiment file, as TOML.
pub fn print_config(file: &Path, overrides: &[String]) -> anyhow::Result<String> {
    Ok(match task_of(file)? {
        TaskKind::Charlm => resolve::<CharLmExperiment>(file, overrides)?.1,
        TaskKind::Sentiment => resolve::<SentimentExperiment>(file, overrides)?.1,
        TaskKind::Forecast => resolve::<ForecastExperiment>(file, overrides)?.1,
    })
}

/// Resolves and validates an experiment with overrides, without training.
pub fn check(file: &Path, overrides: &[String]) -> anyhow::Result<()> {
    print_config(file, overrides).map(drop)
}

/// A finished training run.
pub struct Trained {
    /// Its directory.
    pub dir: PathBuf,
    /// Its task.
    pub task: TaskKind,
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
    fn new_run<E: Experiment>(
        file: &Path,
        overrides: &[String],
        runs: &Path,
        device: &Device,
    ) -> anyhow::Result<(PathBuf, Results)> {
        let (e, text) = resolve::<E>(file, overrides)?;
        let dir = new_run_dir(runs, e.name(), e.train_section().seed);
        let results = e.train(&text, &dir, device, None)?;
        Ok((dir, results))
    }
    let task = task_of(file)?;
    let (dir, results) = match task {
        TaskKind::Charlm => new_run::<CharLmExperiment>(file, overrides, runs, device)?,
        TaskKind::Sentiment => new_run::<SentimentExperiment>(file, overrides, runs, device)?,
        TaskKind::Forecast => new_run::<ForecastExperiment>(file, overrides, runs, device)?,
    };
    Ok(Trained { dir, task, results })
}

/// `rnnlab resume`: continues a run from its last complete checkpoint.
pub fn resume(dir: &Path, device: &Device) -> anyhow::Result<Trained> {
    fn go_on<E: Experiment>(dir: &Path, device: &Device) -> anyhow::Result<Results> {
        let (e, text) = experiment::of_run::<E>(dir)?;
        let done = checkpoint::latest_complete(&dir.join("checkpoint")).with_context(|| {
            format!(
                "{}: no complete checkpoint (model, optim and scheduler) to resume from",
                dir.join("checkpoint").display()
            )
        })?;
        let planned = e.train_section().epochs;
        if done >= planned {
            bail!(
                "{}: all {planned} epochs are done (checkpoint of epoch {done}); nothing to resume",
                dir.display()
            );
        }
        e.train(&text, dir, device, Some(done))
    }
    let task = task_of_run(dir)?;
    let results = match task {
        TaskKind::Charlm => go_on::<CharLmExperiment>(dir, device)?,
        TaskKind::Sentiment => go_on::<SentimentExperiment>(dir, device)?,
        TaskKind::Forecast => go_on::<ForecastExperiment>(dir, device)?,
    };
    Ok(Trained {
        dir: dir.to_path_buf(),
        task,
        results,
    })
}

/// `rnnlab eval`: the run's report on its evaluation split, recomputed from the saved model
/// (the same text `train` printed and saved as `report.txt`).
pub fn eval(dir: &Path, device: &Device) -> anyhow::Result<String> {
    Ok(match task_of_run(dir)? {
        TaskKind::Charlm => charlm::describe(&charlm::evaluate(dir, device)?),
        TaskKind::Sentiment => sentiment::evaluate(dir, device)?.to_string(),
        TaskKind::Forecast => forecast::evaluate(dir, device)?.to_string(),
    })
}

/// `rnnlab generate`: samples `length` tokens after `prompt`.
pub fn generate(
    dir: &Path,
    prompt: &str,
    length: usize,
    sampling: SamplingConfig,
    device: &Device,
) -> anyhow::Result<String> {
    let task = task_of_run(dir)?;
    if task != TaskKind::Charlm {
        bail!(
            "{}: a {} run; `generate` needs a charlm run",
            dir.display(),
            task.name()
        );
    }
    let loaded = charlm::load_run(dir, device)?;
    let ids = loaded.tokenizer.encode(prompt)?;
    if ids.is_empty() {
        bail!("--prompt must not be empty");
    }
    let out = Sampler::new(sampling).generate(&loaded.model, &ids, length, device);
    Ok(format!("{prompt}{}", loaded.tokenizer.decode(&out)))
}

/// Requires a run of `task` for a task-specific command.
pub fn require(dir: &Path, task: TaskKind, command: &str) -> anyhow::Result<()> {
    let found = task_of_run(dir)?;
    if found != task {
        bail!(
            "{}: a {} run; `{command}` needs a {} run",
            dir.display(),
            found.name(),
            task.name()
        );
    }
    Ok(())
}
