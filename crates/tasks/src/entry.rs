//! A task behind a name: [`Registered`], what the task-independent commands (`train`,
//! `resume`, `eval`, `sweep`, `--print-config`) and the command line see of a task, and
//! [`Entry`], the [`Registered`] form of any [`Task`]. The list of tasks is
//! [`registry::TASKS`](crate::registry::TASKS).

use std::marker::PhantomData;
use std::path::{Path, PathBuf};

use burn::prelude::Device;

use crate::config::ExperimentFile;
use crate::run::new_run_dir;
use crate::task::{self, Task, TaskConfig, Trained};
use crate::task_command::TaskCommand;

/// A task as the commands see it (the generic lifecycle of [`crate::task`] behind a name).
pub trait Registered: Sync {
    /// The `task` key.
    fn name(&self) -> &'static str;
    /// The resolved config of an experiment file with overrides, as TOML.
    fn print_config(&self, file: &ExperimentFile, overrides: &[String]) -> anyhow::Result<String>;
    /// Trains into a new run directory under `runs`; returns it and the final results.
    fn train(
        &self,
        file: &ExperimentFile,
        overrides: &[String],
        runs: &Path,
        device: &Device,
    ) -> anyhow::Result<(PathBuf, Trained)>;
    /// Continues the run in `dir`.
    fn resume(&self, dir: &Path, device: &Device) -> anyhow::Result<Trained>;
    /// The report of the run's saved model.
    fn eval(&self, dir: &Path, device: &Device) -> anyhow::Result<String>;
    /// The task's own commands.
    fn commands(&self) -> &'static [&'static dyn TaskCommand];
}

/// The [`Registered`] form of a [`Task`].
pub struct Entry<T>(PhantomData<fn() -> T>);

impl<T> Default for Entry<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> Entry<T> {
    /// The entry of `T`.
    pub const fn new() -> Self {
        Self(PhantomData)
    }
}

impl<T: Task> Registered for Entry<T> {
    fn name(&self) -> &'static str {
        T::NAME
    }

    fn print_config(&self, file: &ExperimentFile, overrides: &[String]) -> anyhow::Result<String> {
        Ok(task::resolve_file::<T>(Some(file), overrides)?.toml)
    }

    fn train(
        &self,
        file: &ExperimentFile,
        overrides: &[String],
        runs: &Path,
        device: &Device,
    ) -> anyhow::Result<(PathBuf, Trained)> {
        let task::Resolved { config, toml, name } = task::resolve_file::<T>(Some(file), overrides)?;
        let text = toml;
        // The folders this run makes; a run that fails before it starts leaves none behind.
        let made: Vec<PathBuf> = [runs.to_path_buf(), runs.join(&name)]
            .into_iter()
            .filter(|p| !p.exists())
            .collect();
        let dir = new_run_dir(runs, &name, config.train().seed)?;
        match task::train_validated::<T>(&config, &text, &dir, device, None) {
            Ok(results) => Ok((dir, results)),
            Err(e) => {
                crate::run::discard_if_unstarted(&dir);
                if !dir.exists() {
                    for folder in made.iter().rev() {
                        let _ = std::fs::remove_dir(folder);
                    }
                }
                Err(e)
            }
        }
    }

    fn resume(&self, dir: &Path, device: &Device) -> anyhow::Result<Trained> {
        task::resume::<T>(dir, device)
    }

    fn eval(&self, dir: &Path, device: &Device) -> anyhow::Result<String> {
        Ok(task::evaluate::<T>(dir, device)?.to_string())
    }

    fn commands(&self) -> &'static [&'static dyn TaskCommand] {
        T::COMMANDS
    }
}
