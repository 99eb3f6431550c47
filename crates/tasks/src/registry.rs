//! The tasks the `rnnlab` command knows, by their `task` key. Registering a task is one line
//! in [`TASKS`]; every command that is not task-specific (`train`, `resume`, `eval`, `sweep`,
//! `--print-config`) reaches it through [`Registered`], and its own commands through
//! [`cli`](crate::cli).

use std::path::Path;

use anyhow::bail;

use crate::config::ExperimentFile;
pub use crate::entry::{Entry, Registered};

/// Every task: one line each.
pub static TASKS: &[&dyn Registered] = &[
    &Entry::<crate::charlm::CharLmTask>::new(),
    &Entry::<crate::sentiment::SentimentTask>::new(),
    &Entry::<crate::forecast::ForecastTask>::new(),
    &crate::speech::SPEECH,
    &Entry::<crate::translate::TranslateTask>::new(),
    &Entry::<crate::memory::MemoryTask>::new(),
];

/// The names of every task, quoted, for messages and help.
pub fn names() -> String {
    let quoted: Vec<String> = TASKS.iter().map(|t| format!("{:?}", t.name())).collect();
    quoted.join(", ")
}

/// The task of an experiment file (or a run's `config.toml`), from its `task` key.
pub fn task_of(file: &ExperimentFile) -> anyhow::Result<&'static dyn Registered> {
    let path = file.path();
    match file.task() {
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
    task_of(&ExperimentFile::read(&crate::run::config_of_run(dir)?)?)
}

/// A run's config with every default filled in (what `--print-config` prints for it); `None`
/// when it cannot be read or resolved.
pub fn resolved_config(dir: &Path) -> Option<String> {
    let file = ExperimentFile::read(&crate::run::config_of_run(dir).ok()?).ok()?;
    task_of(&file).ok()?.print_config(&file, &[]).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_key_is_required_and_checked() {
        let tmp = tempfile::tempdir().unwrap();
        let p = tmp.path().join("x.toml");
        std::fs::write(&p, "name = \"x\"\n").unwrap();
        let err = task_of(&ExperimentFile::read(&p).unwrap())
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("missing key `task`"), "{err}");
        std::fs::write(&p, "task = \"vision\"\n").unwrap();
        let err = task_of(&ExperimentFile::read(&p).unwrap())
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.contains("task = \"vision\": expected one of \"charlm\", \"sentiment\""),
            "{err}"
        );
        std::fs::write(&p, "task = \"forecast\"\n").unwrap();
        assert_eq!(
            task_of(&ExperimentFile::read(&p).unwrap()).unwrap().name(),
            "forecast"
        );
    }

    #[test]
    fn the_binary_only_parses_and_dispatches() {
        let main = include_str!("main.rs");
        assert!(main.lines().count() <= 250, "main.rs stays short");
        for task in TASKS {
            assert!(
                !main.contains(task.name()),
                "main.rs names no task ({})",
                task.name()
            );
        }
    }

    #[test]
    fn docs_name_every_registered_task() {
        let lib = include_str!("lib.rs");
        for task in TASKS {
            let name = task.name();
            assert!(lib.contains(&format!("[`{name}`]")), "lib.rs lists {name}");
            assert!(
                env!("CARGO_PKG_DESCRIPTION").contains(name),
                "the crate describes {name}"
            );
        }
    }
}
