//! The command line's task half: every task declares its own subcommands
//! ([`TaskCommand`]s, listed in
//! [`Task::COMMANDS`](crate::task::Task::COMMANDS)), and [`TaskCommands`] adds them to the
//! binary's clap definition and runs them. Two tasks may declare the same command
//! (`predict`: sentiment and speech): the command then takes the union of their flags, runs
//! the declaration of the run's task, and a flag only the other task has is an error naming
//! it. Every task command gets `--device`; its first positional, `run`, is the run directory
//! that picks the task.
//!
//! Task commands take free text (`rnnlab predict RUN "-ish film" --explain`): their inputs
//! accept values starting with `-`, which would make clap read every later flag as an input,
//! so [`TaskCommands::flags_first`] moves the flags it defines before the inputs first.

use std::ffi::OsString;
use std::path::PathBuf;

use anyhow::bail;
use burn::prelude::Device;
use clap::parser::ValueSource;
use clap::{Arg, ArgMatches, Command};

use crate::registry::TASKS;
use crate::task_command::TaskCommand;

/// The tasks that declare one command, each with its declaration.
type Declarations = Vec<(&'static str, &'static dyn TaskCommand)>;

/// Every task's commands, by name, with the tasks that declare each.
pub struct TaskCommands {
    commands: Vec<(Command, Declarations)>,
}

impl TaskCommands {
    /// The commands of every registered task.
    pub fn from_registry() -> Self {
        let mut commands: Vec<(Command, Declarations)> = Vec::new();
        for task in TASKS {
            for &command in task.commands() {
                match commands
                    .iter_mut()
                    .find(|(c, _)| c.get_name() == command.name())
                {
                    Some((merged, by)) => {
                        *merged = merge(merged.clone(), command.command(), task.name(), by);
                        by.push((task.name(), command));
                    }
                    None => commands.push((
                        command.command().arg(device_arg()),
                        vec![(task.name(), command)],
                    )),
                }
            }
        }
        Self { commands }
    }

    /// `cli` with every task command added.
    pub fn augment(&self, cli: Command) -> Command {
        cli.subcommands(self.commands.iter().map(|(c, _)| c.clone()))
    }

    /// Whether `name` is a task command.
    pub fn has(&self, name: &str) -> bool {
        self.commands.iter().any(|(c, _)| c.get_name() == name)
    }

    /// The command line with a task command's flags (and their values) moved before its
    /// inputs, so that inputs may start with `-` and flags may follow them. `--` ends the
    /// flags.
    pub fn flags_first(&self, args: Vec<OsString>) -> anyhow::Result<Vec<OsString>> {
        let Some((name, rest)) = args.get(1).zip(args.get(2..)) else {
            return Ok(args);
        };
        let Some((command, _)) = self.commands.iter().find(|(c, _)| c.get_name() == name) else {
            return Ok(args);
        };
        let mut command = command.clone();
        command.build();
        let (mut flags, mut others) = (Vec::new(), Vec::new());
        let mut rest = rest.iter();
        while let Some(arg) = rest.next() {
            let text = arg.to_string_lossy();
            if text == "--" {
                others.push(arg.clone());
                others.extend(rest.cloned());
                break;
            }
            let long = text.split_once('=').map_or(&*text, |(flag, _)| flag);
            let known = long
                .strip_prefix("--")
                .and_then(|l| command.get_arguments().find(|a| a.get_long() == Some(l)));
            match known {
                Some(flag) => {
                    flags.push(arg.clone());
                    if flag.get_action().takes_values() && !text.contains('=') {
                        match rest.next() {
                            Some(value) => flags.push(value.clone()),
                            None => bail!("{long}: expected a value after it"),
                        }
                    }
                }
                None => others.push(arg.clone()),
            }
        }
        Ok([&args[..2], &flags[..], &others[..]].concat())
    }

    /// Runs task command `name` on the run its `run` argument names, on the device
    /// `choose_device` makes of `--device`.
    pub fn run(
        &self,
        name: &str,
        args: &ArgMatches,
        choose_device: impl FnOnce(Option<&str>) -> anyhow::Result<Device>,
    ) -> anyhow::Result<()> {
        let Some((merged, by)) = self.commands.iter().find(|(c, _)| c.get_name() == name) else {
            bail!("`{name}`: not a task command");
        };
        let run = args
            .get_raw("run")
            .and_then(|mut v| v.next())
            .map(PathBuf::from)
            .ok_or_else(|| anyhow::anyhow!("`{name}`: expected a run directory"))?;
        let task = crate::task::task_of_run(&run)?;
        let Some(&(_, command)) = by.iter().find(|(t, _)| *t == task) else {
            let tasks: Vec<String> = by.iter().map(|(t, _)| format!("a {t} run")).collect();
            bail!(
                "{}: a {task} run; `{name}` needs {}",
                run.display(),
                tasks.join(" or ")
            );
        };
        // A flag that only another task's `name` takes.
        let own = command.command();
        for arg in merged.get_arguments() {
            let foreign = own.get_arguments().all(|a| a.get_id() != arg.get_id());
            if foreign
                && arg.get_id() != "device"
                && args.value_source(arg.get_id().as_str()) == Some(ValueSource::CommandLine)
            {
                let help = arg.get_help().map(|h| h.to_string()).unwrap_or_default();
                bail!(
                    "--{} {}: not for a {task} run",
                    arg.get_long().unwrap_or(arg.get_id().as_str()),
                    lower_first(help.trim_end_matches('.'))
                );
            }
        }
        let device = choose_device(args.get_one::<String>("device").map(String::as_str))?;
        command.run(args, &device)
    }
}

/// `--device`, which every task command takes.
fn device_arg() -> Arg {
    Arg::new("device").long("device").value_name("DEVICE").help(
        "`flex` (CPU) or `wgpu` (GPU; `cuda`, `ndarray` with those cargo features); default \
         `BURN_DEVICE`, else flex",
    )
}

/// `merged` (declared by the tasks in `by`) with `other`'s about and arguments (declared by
/// `task`): an argument both declare keeps the first one, its help naming each task's use
/// where they differ.
fn merge(
    merged: Command,
    other: Command,
    task: &str,
    by: &[(&'static str, &'static dyn TaskCommand)],
) -> Command {
    let about = match (merged.get_about(), other.get_about()) {
        (Some(a), Some(b)) => format!("{a}; or {}", lower_first(&b.to_string())),
        (a, b) => a.or(b).map(ToString::to_string).unwrap_or_default(),
    };
    let mut merged = merged.about(about);
    for arg in other.get_arguments() {
        let id = arg.get_id().clone();
        let first = merged.get_arguments().find(|a| *a.get_id() == id).cloned();
        match first {
            Some(first)
                if first.get_help().map(ToString::to_string)
                    != arg.get_help().map(ToString::to_string) =>
            {
                let help = format!(
                    "{} ({}); {} ({task})",
                    first
                        .get_help()
                        .map(ToString::to_string)
                        .unwrap_or_default(),
                    by.iter().map(|(t, _)| *t).collect::<Vec<_>>().join(", "),
                    lower_first(&arg.get_help().map(ToString::to_string).unwrap_or_default()),
                );
                merged = merged.mut_arg(id, |a| a.help(help));
            }
            Some(_) => {}
            None => merged = merged.arg(arg.clone()),
        }
    }
    merged
}

fn lower_first(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) => c.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(words: &[&str]) -> Vec<OsString> {
        words.iter().map(OsString::from).collect()
    }

    #[test]
    fn flags_move_before_inputs_and_help_merges() {
        let commands = TaskCommands::from_registry();
        let moved = commands
            .flags_first(args(&[
                "rnnlab",
                "predict",
                "RUN",
                "-ish",
                "--explain",
                "b",
                "--file=f",
                "--with",
                "R2",
                "--",
                "--explain",
            ]))
            .unwrap();
        assert_eq!(
            moved,
            args(&[
                "rnnlab",
                "predict",
                "--explain",
                "--file=f",
                "--with",
                "R2",
                "RUN",
                "-ish",
                "b",
                "--",
                "--explain"
            ])
        );
        let err = commands
            .flags_first(args(&["rnnlab", "translate", "RUN", "a", "--beam"]))
            .unwrap_err();
        assert_eq!(err.to_string(), "--beam: expected a value after it");
        // Not a task command: unchanged.
        let train = args(&["rnnlab", "train", "x.toml", "--runs", "r"]);
        assert_eq!(commands.flags_first(train.clone()).unwrap(), train);
        // `predict` is both sentiment's and speech's: it takes both tasks' flags.
        let (predict, by) = &commands.commands[commands
            .commands
            .iter()
            .position(|(c, _)| c.get_name() == "predict")
            .unwrap()];
        let tasks: Vec<&str> = by.iter().map(|(t, _)| *t).collect();
        assert_eq!(tasks, ["sentiment", "speech"]);
        for flag in ["with", "explain", "plot", "file", "device"] {
            assert!(
                predict.get_arguments().any(|a| a.get_id() == flag),
                "{flag}"
            );
        }
    }
}
