//! The task-independent `rnnlab` subcommands (`train`, `resume`, `sweep`, `eval`): each finds
//! the task through the [`registry`](crate::registry). A task's own commands live in its
//! folder ([`TaskCommand`](crate::task_command::TaskCommand)).

use std::path::{Path, PathBuf};

use burn::prelude::Device;

use crate::config::ExperimentFile;
use crate::registry::{task_of, task_of_run};
use crate::task::Trained;

/// The resolved config of an experiment file, as TOML.
pub fn print_config(file: &Path, overrides: &[String]) -> anyhow::Result<String> {
    let file = ExperimentFile::read(file)?;
    task_of(&file)?.print_config(&file, overrides)
}

/// `rnnlab train`: validates everything, then trains into a new run directory under `runs`;
/// returns it with what the run printed and saved.
pub fn train(
    file: &Path,
    overrides: &[String],
    runs: &Path,
    device: &Device,
) -> anyhow::Result<(PathBuf, Trained)> {
    let file = ExperimentFile::read(file)?;
    task_of(&file)?.train(&file, overrides, runs, device)
}

/// `rnnlab resume`: continues a run from its last complete checkpoint.
pub fn resume(dir: &Path, device: &Device) -> anyhow::Result<Trained> {
    task_of_run(dir)?.resume(dir, device)
}

/// `rnnlab eval`: the run's report on its evaluation split, recomputed from the saved model
/// (the same text `train` printed and saved as `report.txt`).
pub fn eval(dir: &Path, device: &Device) -> anyhow::Result<String> {
    task_of_run(dir)?.eval(dir, device)
}

/// `rnnlab sweep`: validates every combination of the comma-separated override values, then
/// trains each (printing `sweep i/n: overrides` and the run directory before and after), and
/// returns the comparison table of the runs.
pub fn sweep(
    file: &Path,
    overrides: &[String],
    runs: &Path,
    device: &Device,
) -> anyhow::Result<String> {
    let file = ExperimentFile::read(file)?;
    let task = task_of(&file)?;
    let combos = grid(overrides);
    // Every combination is valid before any trains.
    for combo in &combos {
        task.print_config(&file, combo)?;
    }
    let mut dirs = Vec::new();
    for (i, combo) in combos.iter().enumerate() {
        println!("sweep {}/{}: {}", i + 1, combos.len(), combo.join(" "));
        let (dir, _) = task.train(&file, combo, runs, device)?;
        println!("run: {}", dir.display());
        dirs.push(dir);
    }
    Ok(crate::run::compare_table(
        &dirs,
        &crate::registry::resolved_config,
    ))
}

/// `key=a,b` → every combination of overrides (a value in brackets or quotes is one value).
pub fn grid(overrides: &[String]) -> Vec<Vec<String>> {
    let mut combos: Vec<Vec<String>> = vec![Vec::new()];
    for item in overrides {
        let (key, values) = item.split_once('=').unwrap_or((item, ""));
        let values: Vec<&str> = if values.starts_with('[') || values.starts_with('"') {
            vec![values]
        } else {
            values.split(',').collect()
        };
        combos = combos
            .into_iter()
            .flat_map(|c| {
                values
                    .iter()
                    .map(move |v| [c.clone(), vec![format!("{key}={v}")]].concat())
            })
            .collect();
    }
    combos
}

#[cfg(test)]
mod tests {
    use super::grid;

    #[test]
    fn grid_is_every_combination() {
        let g = grid(&["a=1,2".into(), "b=[3,4]".into(), "c=x".into()]);
        assert_eq!(
            g,
            [
                ["a=1", "b=[3,4]", "c=x"].map(String::from).to_vec(),
                ["a=2", "b=[3,4]", "c=x"].map(String::from).to_vec(),
            ]
        );
    }
}
