//! The tasks the `rnnlab` command knows, by their `task` key. Registering a task is one line
//! in [`TASKS`]; every command that is not task-specific (`train`, `resume`, `eval`, `sweep`,
//! `--print-config`) reaches it through [`Registered`].

use std::marker::PhantomData;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use burn::prelude::Device;

use crate::run::{Results, new_run_dir};
use crate::task::{self, Task, TaskConfig};

/// Every task: one line each.
pub static TASKS: &[&dyn Registered] = &[
    &Entry::<crate::charlm::CharLmTask>(PhantomData),
    &Entry::<crate::sentiment::SentimentTask>(PhantomData),
    &Entry::<crate::forecast::ForecastTask>(PhantomData),
    &crate::speech::SPEECH,
    &Entry::<crate::translate::TranslateTask>(PhantomData),
];

/// A task as the commands see it (the generic lifecycle of [`crate::task`] behind a name).
pub trait Registered: Sync {
    /// The `task` key.
    fn name(&self) -> &'static str;
    /// The resolved config of an experiment file with overrides, as TOML.
    fn print_config(&self, file: &Path, overrides: &[String]) -> anyhow::Result<String>;
    /// Trains into a new run directory under `runs`; returns it and the final results.
    fn train(
        &self,
        file: &Path,
        overrides: &[String],
        runs: &Path,
        device: &Device,
    ) -> anyhow::Result<(PathBuf, Results)>;
    /// Continues the run in `dir`.
    fn resume(&self, dir: &Path, device: &Device) -> anyhow::Result<Results>;
    /// The report of the run's saved model.
    fn eval(&self, dir: &Path, device: &Device) -> anyhow::Result<String>;
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

    fn print_config(&self, file: &Path, overrides: &[String]) -> anyhow::Result<String> {
        Ok(task::resolve::<T>(Some(file), overrides)?.1)
    }

    fn train(
        &self,
        file: &Path,
        overrides: &[String],
        runs: &Path,
        device: &Device,
    ) -> anyhow::Result<(PathBuf, Results)> {
        let (config, text) = task::resolve::<T>(Some(file), overrides)?;
        // The folders this run makes; a run that fails before it starts leaves none behind.
        let name = task::run_name(&text)?;
        let made: Vec<PathBuf> = [runs.to_path_buf(), runs.join(&name)]
            .into_iter()
            .filter(|p| !p.exists())
            .collect();
        let dir = new_run_dir(runs, &name, config.train().seed)?;
        match task::train::<T>(&config, &text, &dir, device, None) {
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

    fn resume(&self, dir: &Path, device: &Device) -> anyhow::Result<Results> {
        task::resume::<T>(dir, device)
    }

    fn eval(&self, dir: &Path, device: &Device) -> anyhow::Result<String> {
        Ok(task::evaluate::<T>(dir, device)?.to_string())
    }
}

/// The names of every task, quoted, for messages.
fn names() -> String {
    let quoted: Vec<String> = TASKS.iter().map(|t| format!("{:?}", t.name())).collect();
    quoted.join(", ")
}

/// The task of an experiment file (or a run's `config.toml`), from its `task` key.
pub fn task_of(path: &Path) -> anyhow::Result<&'static dyn Registered> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("{}: cannot read", path.display()))?;
    let table: toml::Table = toml::from_str(&text)
        .map_err(|e| anyhow::anyhow!("{}: {}", path.display(), e.to_string().trim_end()))?;
    match table.get("task").and_then(|v| v.as_str()) {
        Some(name) => match TASKS.iter().find(|t| t.name() == name) {
            Some(task) => Ok(*task),
            None => bail!(
                "{}: task = {name:?}: expected one of {}",
                path.display(),
                names()
            ),
        },
        None => bail!(
            "{}: missing key `task`: expected task = one of {}",
            path.display(),
            names()
        ),
    }
}

/// The task of a run directory, from its `config.toml`.
pub fn task_of_run(dir: &Path) -> anyhow::Result<&'static dyn Registered> {
    task_of(&crate::run::config_of_run(dir)?)
}

/// Requires a run of task `T` for a task-specific command (`generate`, `predict`, …).
pub fn require<T: Task>(dir: &Path, command: &str) -> anyhow::Result<()> {
    let found = task_of_run(dir)?.name();
    if found != T::NAME {
        bail!(
            "{}: a {found} run; `{command}` needs a {} run",
            dir.display(),
            T::NAME
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_key_is_required_and_checked() {
        let tmp = tempfile::tempdir().unwrap();
        let p = tmp.path().join("x.toml");
        std::fs::write(&p, "name = \"x\"\n").unwrap();
        let err = task_of(&p).err().unwrap().to_string();
        assert!(err.contains("missing key `task`"), "{err}");
        std::fs::write(&p, "task = \"vision\"\n").unwrap();
        let err = task_of(&p).err().unwrap().to_string();
        assert!(
            err.contains("task = \"vision\": expected one of \"charlm\", \"sentiment\""),
            "{err}"
        );
        std::fs::write(&p, "task = \"forecast\"\n").unwrap();
        assert_eq!(task_of(&p).unwrap().name(), "forecast");
    }
}
