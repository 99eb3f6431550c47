//! What each `rnnlab` subcommand does, dispatched on the experiment's or run's `task`.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use burn::prelude::Device;
use rnnlab_data::tokenizer::Tokenizer;

use crate::charlm::experiment::{self as charlm, CharLmExperiment};
use crate::charlm::{Sampler, SamplingConfig};
use crate::forecast::experiment::{self as forecast, ForecastExperiment};
use crate::run::{Results, TaskKind, new_run_dir, task_of, task_of_run};
use crate::sentiment::experiment::{self as sentiment, SentimentExperiment};
use crate::training::checkpoint;

/// Resolves an experiment file with overrides into the typed config's TOML (for
/// `--print-config` and the run directory) and its run name and seed.
fn resolve<T>(file: &Path, overrides: &[String]) -> anyhow::Result<(T, String)>
where
    T: serde::Serialize + serde::de::DeserializeOwned + Default,
{
    let (typed, table): (T, _) = crate::config::resolve(Some(file), overrides)?;
    let text = toml::to_string(&table).context("cannot print the config")?;
    Ok((typed, text))
}

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
    match task_of(file)? {
        TaskKind::Charlm => resolve::<CharLmExperiment>(file, overrides)?.0.validate(),
        TaskKind::Sentiment => resolve::<SentimentExperiment>(file, overrides)?
            .0
            .validate(),
        TaskKind::Forecast => resolve::<ForecastExperiment>(file, overrides)?.0.validate(),
    }
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
    let task = task_of(file)?;
    let (dir, results) = match task {
        TaskKind::Charlm => {
            let (e, text) = resolve::<CharLmExperiment>(file, overrides)?;
            e.validate()?;
            let dir = new_run_dir(runs, &e.name, e.train.seed);
            let r = charlm::train(&e, &text, &dir, device, None)?;
            (dir, r)
        }
        TaskKind::Sentiment => {
            let (e, text) = resolve::<SentimentExperiment>(file, overrides)?;
            e.validate()?;
            let dir = new_run_dir(runs, &e.name, e.train.seed);
            let r = sentiment::train(&e, &text, &dir, device, None)?;
            (dir, r)
        }
        TaskKind::Forecast => {
            let (e, text) = resolve::<ForecastExperiment>(file, overrides)?;
            e.validate()?;
            let dir = new_run_dir(runs, &e.name, e.train.seed);
            let r = forecast::train(&e, &text, &dir, device, None)?;
            (dir, r)
        }
    };
    Ok(Trained { dir, task, results })
}

/// `rnnlab resume`: continues a run from its last complete checkpoint.
pub fn resume(dir: &Path, device: &Device) -> anyhow::Result<Trained> {
    let task = task_of_run(dir)?;
    let config = dir.join("config.toml");
    let text = std::fs::read_to_string(&config)
        .with_context(|| format!("{}: cannot read", config.display()))?;
    let epoch = checkpoint::latest_complete(&dir.join("checkpoint")).with_context(|| {
        format!(
            "{}: no complete checkpoint (model, optim and scheduler) to resume from",
            dir.join("checkpoint").display()
        )
    })?;
    let results = match task {
        TaskKind::Charlm => {
            let (e, _) = resolve::<CharLmExperiment>(&config, &[])?;
            check_epochs(epoch, e.train.epochs, dir)?;
            charlm::train(&e, &text, dir, device, Some(epoch))?
        }
        TaskKind::Sentiment => {
            let (e, _) = resolve::<SentimentExperiment>(&config, &[])?;
            check_epochs(epoch, e.train.epochs, dir)?;
            sentiment::train(&e, &text, dir, device, Some(epoch))?
        }
        TaskKind::Forecast => {
            let (e, _) = resolve::<ForecastExperiment>(&config, &[])?;
            check_epochs(epoch, e.train.epochs, dir)?;
            forecast::train(&e, &text, dir, device, Some(epoch))?
        }
    };
    Ok(Trained {
        dir: dir.to_path_buf(),
        task,
        results,
    })
}

fn check_epochs(done: usize, planned: usize, dir: &Path) -> anyhow::Result<()> {
    if done >= planned {
        bail!(
            "{}: all {planned} epochs are done (checkpoint of epoch {done}); nothing to resume",
            dir.display()
        );
    }
    Ok(())
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
