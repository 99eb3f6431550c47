//! [`Experiment`]: what the commands need of every task's experiment type, so that `train`,
//! `resume`, `check` and loading a run are written once.

use std::path::Path;

use anyhow::Context;
use burn::prelude::Device;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::run::Results;
use crate::training::TrainSection;

/// A task's resolved experiment file.
pub trait Experiment: Serialize + DeserializeOwned + Default {
    /// The experiment's name (the folder under `runs/`).
    fn name(&self) -> &str;
    /// Its `[train]` section.
    fn train_section(&self) -> &TrainSection;
    /// Checks every value, naming the key of the first impossible one.
    fn validate(&self) -> anyhow::Result<()>;
    /// Trains into `dir` (a new run, or `resume` from that epoch's checkpoint); returns the
    /// final metrics. `resolved_toml` is saved as the run's `config.toml`.
    fn train(
        &self,
        resolved_toml: &str,
        dir: &Path,
        device: &Device,
        resume: Option<usize>,
    ) -> anyhow::Result<Results>;
}

/// Resolves an experiment file with `key=value` overrides: the typed, validated experiment
/// and the resolved config as TOML.
pub fn resolve<E: Experiment>(file: &Path, overrides: &[String]) -> anyhow::Result<(E, String)> {
    let (experiment, table): (E, _) = crate::config::resolve(Some(file), overrides)?;
    experiment.validate()?;
    let text = toml::to_string(&table).context("cannot print the config")?;
    Ok((experiment, text))
}

/// The experiment a run directory was trained with (`config.toml`), validated; a missing
/// file is an error that says the directory is not a run.
pub fn of_run<E: Experiment>(dir: &Path) -> anyhow::Result<(E, String)> {
    resolve(&crate::run::config_of_run(dir)?, &[])
}

/// Implements [`Experiment`] for a task's experiment type from its `name` and `train`
/// fields, its inherent `validate` and its module's `train` function.
macro_rules! impl_experiment {
    ($experiment:ty, $train:path) => {
        impl $crate::experiment::Experiment for $experiment {
            fn name(&self) -> &str {
                &self.name
            }

            fn train_section(&self) -> &$crate::training::TrainSection {
                &self.train
            }

            fn validate(&self) -> anyhow::Result<()> {
                <$experiment>::validate(self)
            }

            fn train(
                &self,
                resolved_toml: &str,
                dir: &std::path::Path,
                device: &burn::prelude::Device,
                resume: Option<usize>,
            ) -> anyhow::Result<$crate::run::Results> {
                $train(self, resolved_toml, dir, device, resume)
            }
        }
    };
}
pub(crate) use impl_experiment;
