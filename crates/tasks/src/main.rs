//! The `rnnlab` command line: the task-independent commands below, and every task's own
//! commands from the registry ([`rnnlab_tasks::cli`]). The work is in the library.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use rnnlab_tasks::cli::TaskCommands;
use rnnlab_tasks::task::Trained;
use rnnlab_tasks::task_command::one_line;
use rnnlab_tasks::{commands, device, registry, run};

/// A caching allocator: the recurrent op's per-call buffers (tens of MiB per training step) are
/// reused instead of being page-faulted in afresh (BENCHMARKS.md "Allocator").
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// rnnlab: recurrent networks on burn.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Train from an experiment file (its `task` key names the task); `key=value` overrides
    /// win over the file.
    Train {
        /// The experiment file (TOML; only what differs from the defaults).
        file: PathBuf,
        /// Overrides such as `model.d_hidden=512 train.seed=7`.
        overrides: Vec<String>,
        /// Print the resolved config and exit.
        #[arg(long)]
        print_config: bool,
        /// Where runs go: `<runs>/<name>/<run-id>/`.
        #[arg(long, default_value = "runs")]
        runs: PathBuf,
        /// `flex` (CPU) or `wgpu` (GPU; `cuda`, `ndarray` with those cargo features); default
        /// `BURN_DEVICE`, else flex.
        #[arg(long)]
        device: Option<String>,
    },
    /// Continue a run from its last complete checkpoint.
    Resume {
        /// The run directory.
        run: PathBuf,
        /// As for `train`.
        #[arg(long)]
        device: Option<String>,
    },
    /// Train every combination of comma-separated override values, then compare the runs.
    Sweep {
        /// The experiment file.
        file: PathBuf,
        /// Overrides; `key=a,b,c` tries each value.
        overrides: Vec<String>,
        /// Where runs go.
        #[arg(long, default_value = "runs")]
        runs: PathBuf,
        /// As for `train`.
        #[arg(long)]
        device: Option<String>,
    },
    /// Metrics of a run's saved model on its evaluation split (the split `train` reported
    /// on).
    Eval {
        /// The run directory.
        run: PathBuf,
        /// As for `train`.
        #[arg(long)]
        device: Option<String>,
    },
    /// One table of the final metrics of runs (run directories or folders of them).
    Compare {
        /// Runs or folders (`runs/*`).
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// List the tensors (names and shapes) of a PyTorch `.pt`/`.pth` or `.safetensors` file.
    Weights {
        /// The weight file.
        file: PathBuf,
    },
}

/// Prints what a finished training run reports: its directory, its report and the task's
/// extras ([`Task::after_training`](rnnlab_tasks::task::Task::after_training)).
fn print_trained(dir: &std::path::Path, trained: &Trained) {
    println!("run: {}", dir.display());
    print!("{}", trained.report);
    if let Some(after) = &trained.after {
        println!("{after}");
    }
}

fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Train {
            file,
            overrides,
            print_config,
            runs,
            device,
        } => {
            if print_config {
                print!("{}", commands::print_config(&file, &overrides)?);
                return Ok(());
            }
            let device = choose_device(device.as_deref())?;
            let (dir, trained) = commands::train(&file, &overrides, &runs, &device)?;
            print_trained(&dir, &trained);
        }
        Command::Resume { run, device } => {
            let device = choose_device(device.as_deref())?;
            print_trained(&run, &commands::resume(&run, &device)?);
        }
        Command::Sweep {
            file,
            overrides,
            runs,
            device,
        } => {
            let device = choose_device(device.as_deref())?;
            print!("{}", commands::sweep(&file, &overrides, &runs, &device)?);
        }
        Command::Eval { run, device } => {
            let device = choose_device(device.as_deref())?;
            print!("{}", commands::eval(&run, &device)?);
        }
        Command::Compare { paths } => {
            let runs = run::find_runs(&paths);
            anyhow::ensure!(
                !runs.is_empty(),
                "no run directories (with config.toml) under {paths:?}"
            );
            print!("{}", run::compare_table(&runs, &registry::resolved_config));
        }
        Command::Weights { file } => {
            print!("{}", rnnlab_tasks::weights::describe(&file)?);
        }
    }
    Ok(())
}

/// The run's device (`--device`, else `BURN_DEVICE`, else flex), also made burn's default
/// device: burn-train loads checkpoints (`resume`) onto the default device, which would
/// otherwise be the first GPU backend compiled in, even for a flex run.
fn choose_device(flag: Option<&str>) -> anyhow::Result<burn::prelude::Device> {
    let name = device::chosen_name(flag);
    let device = device::parse(&name)?;
    // SAFETY: called by each command before it starts any thread (no training, loader or
    // dashboard thread runs yet), so nothing reads the environment concurrently.
    unsafe { std::env::set_var("BURN_DEVICE", &name) };
    Ok(device)
}

/// The command line parsed by clap, the task commands from the registry included; a usage
/// error is one line.
fn parse(tasks: &TaskCommands) -> anyhow::Result<clap::ArgMatches> {
    let about = format!(
        "rnnlab: recurrent networks on burn. Tasks: {}",
        rnnlab_tasks::registry::names()
    );
    let cli = tasks.augment(Cli::command().about(about));
    let args = tasks.flags_first(std::env::args_os().collect())?;
    match cli.try_get_matches_from(args) {
        Ok(matches) => Ok(matches),
        // Help and version, asked for or shown for a bare `rnnlab`, are clap's to print.
        Err(e)
            if !e.use_stderr()
                || e.kind() == clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand =>
        {
            e.exit()
        }
        Err(e) => anyhow::bail!(one_line(&e)),
    }
}

/// Runs the parsed command: a task's, or one of [`Command`].
fn dispatch(tasks: &TaskCommands, matches: &clap::ArgMatches) -> anyhow::Result<()> {
    // A forced instruction-set path the processor lacks is one error line before any work.
    rnnlab_models::op::cpu_isa()?;
    match matches.subcommand() {
        Some((name, args)) if tasks.has(name) => tasks.run(name, args, choose_device),
        _ => run(Cli::from_arg_matches(matches)
            .map_err(|e| anyhow::anyhow!(one_line(&e)))?
            .command),
    }
}

/// Prints `e` as one line (whatever the sources' formatting: toml's messages span lines).
fn fail(e: &anyhow::Error, code: u8) -> ExitCode {
    let message = format!("{e:#}");
    let words: Vec<&str> = message.split_whitespace().collect();
    eprintln!("error: {}", words.join(" "));
    ExitCode::from(code)
}

fn main() -> ExitCode {
    let tasks = TaskCommands::from_registry();
    // Usage errors exit with 2, as clap's own do; every other error with 1.
    let matches = match parse(&tasks) {
        Ok(matches) => matches,
        Err(e) => return fail(&e, 2),
    };
    match dispatch(&tasks, &matches) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&e, 1),
    }
}
