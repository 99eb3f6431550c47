//! A task's own command ([`TaskCommand`]; [`Cmd`] makes one from clap's derive API) and
//! what such commands share: reading inputs from arguments and a file, positive numbers, clap
//! errors as one line. The command line adds every task's commands ([`crate::cli`]).

use std::marker::PhantomData;
use std::path::Path;

use anyhow::bail;
use burn::prelude::Device;
use clap::{ArgMatches, Args, Command, FromArgMatches};

/// One subcommand of a task, run on one of its runs.
pub trait TaskCommand: Sync {
    /// Its name (`generate`).
    fn name(&self) -> &'static str;
    /// Its clap definition: help and arguments; the first positional is `run`.
    fn command(&self) -> Command;
    /// Runs it (`args` parsed by [`command`](Self::command)) on `device`, printing its
    /// output.
    fn run(&self, args: &ArgMatches, device: &Device) -> anyhow::Result<()>;
}

/// A [`TaskCommand`] from clap's derive API: the arguments `A` (their doc comments are the
/// help) and the function that runs them.
pub struct Cmd<A> {
    name: &'static str,
    about: &'static str,
    run: fn(A, &Device) -> anyhow::Result<()>,
    args: PhantomData<fn() -> A>,
}

impl<A> Cmd<A> {
    /// The command `name` (help `about`) that parses `A` and calls `run`.
    pub const fn new(
        name: &'static str,
        about: &'static str,
        run: fn(A, &Device) -> anyhow::Result<()>,
    ) -> Self {
        Self {
            name,
            about,
            run,
            args: PhantomData,
        }
    }
}

impl<A: Args + FromArgMatches> TaskCommand for Cmd<A> {
    fn name(&self) -> &'static str {
        self.name
    }

    fn command(&self) -> Command {
        // After `augment_args`, which would set the arguments' doc comment as the about.
        A::augment_args(Command::new(self.name)).about(self.about)
    }

    fn run(&self, args: &ArgMatches, device: &Device) -> anyhow::Result<()> {
        let parsed = A::from_arg_matches(args).map_err(|e| anyhow::anyhow!(one_line(&e)))?;
        (self.run)(parsed, device)
    }
}

/// A clap error as one line naming the flag and what was expected (`--beam x: expected a
/// whole number from 1 to 100`, `--beam: expected a value after it`).
pub fn one_line(e: &clap::Error) -> String {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    let get = |kind| match e.get(kind) {
        Some(ContextValue::String(s)) => Some(s.clone()),
        Some(ContextValue::Strings(all)) => Some(all.join(", ")),
        _ => None,
    };
    let flag = get(ContextKind::InvalidArg).map(|a| a.split(' ').next().unwrap_or("").to_string());
    let value = get(ContextKind::InvalidValue);
    match (e.kind(), flag, value) {
        (ErrorKind::InvalidValue, Some(flag), Some(value)) if value.is_empty() => {
            format!("{flag}: expected a value after it")
        }
        (ErrorKind::ValueValidation | ErrorKind::InvalidValue, Some(flag), Some(value)) => {
            let why = std::error::Error::source(e)
                .map(ToString::to_string)
                .or_else(|| get(ContextKind::ValidValue).map(|v| format!("expected one of {v}")))
                .unwrap_or_else(|| "invalid value".into());
            format!("{flag} {value}: {why}")
        }
        _ => {
            // clap's message without its usage and hint, on one line.
            let text = e.render().to_string();
            let message = text.split("\n\nUsage:").next().unwrap_or("");
            let message = message.split("\n\nFor more").next().unwrap_or("");
            let message = message.replace("\n\n  tip:", "; tip:");
            let words: Vec<&str> = message.split_whitespace().collect();
            let line = words.join(" ");
            line.strip_prefix("error: ").unwrap_or(&line).to_string()
        }
    }
}

/// A whole number of at least 1 (`--length`, `--beam`…).
pub fn positive(value: &str) -> Result<usize, String> {
    match value.parse::<usize>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err("expected a whole number, at least 1".into()),
    }
}

/// `inputs` followed by the lines of `file` (if any; `-` is standard input); `nothing` is the
/// error when both are empty.
pub fn inputs(
    mut inputs: Vec<String>,
    file: Option<&Path>,
    nothing: &str,
) -> anyhow::Result<Vec<String>> {
    if let Some(path) = file {
        inputs.extend(read_lines(path)?);
    }
    if inputs.is_empty() {
        bail!("{nothing}");
    }
    Ok(inputs)
}

/// The non-blank lines of `path` (`-` = standard input), trimmed.
fn read_lines(path: &Path) -> anyhow::Result<Vec<String>> {
    let text = if path.as_os_str() == "-" {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)
            .map_err(|e| anyhow::anyhow!("standard input: cannot read: {e}"))?;
        text
    } else {
        rnnlab_data::io::read_text(path)?
    };
    Ok(text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect())
}

#[cfg(test)]
mod tests {
    use clap::Arg;

    use super::*;

    #[test]
    fn clap_errors_are_one_line_naming_the_flag() {
        let cli = Command::new("x").arg(Arg::new("n").long("length").value_parser(positive));
        let e = cli
            .clone()
            .try_get_matches_from(["x", "--length", "0"])
            .unwrap_err();
        assert_eq!(
            one_line(&e),
            "--length 0: expected a whole number, at least 1"
        );
        let e = cli
            .clone()
            .try_get_matches_from(["x", "--length"])
            .unwrap_err();
        assert_eq!(one_line(&e), "--length: expected a value after it");
        let e = cli.try_get_matches_from(["x", "--nope"]).unwrap_err();
        assert!(
            one_line(&e).starts_with("unexpected argument '--nope'"),
            "{}",
            one_line(&e)
        );
        let e = Command::new("x")
            .arg(Arg::new("file").required(true))
            .try_get_matches_from(["x"])
            .unwrap_err();
        assert_eq!(
            one_line(&e),
            "the following required arguments were not provided: <file>"
        );
    }
}
