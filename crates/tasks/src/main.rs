//! The `rnnlab` command line.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use rnnlab_data::tokenizer::Tokenizer;
use rnnlab_tasks::charlm::experiment::{CharLmExperiment, load_run, train};
use rnnlab_tasks::charlm::{Sampler, SamplingConfig};

/// rnnlab: recurrent networks on burn.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Train a character language model from an experiment file (`key=value` overrides win).
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
    /// Sample text from a trained run directory.
    Generate {
        /// The run directory (`runs/<name>/<run-id>`).
        run: PathBuf,
        /// Text to start from.
        #[arg(long, default_value = "\n")]
        prompt: String,
        /// Characters to generate.
        #[arg(long, default_value_t = 500)]
        length: usize,
        /// Sampling temperature (0 = greedy).
        #[arg(long, default_value_t = 0.8)]
        temperature: f64,
        /// Keep the k most likely characters (0 = all).
        #[arg(long, default_value_t = 0)]
        top_k: usize,
        /// Nucleus sampling threshold (1 = off).
        #[arg(long, default_value_t = 1.0)]
        top_p: f64,
        /// Seed of the draws.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// As for `train`.
        #[arg(long)]
        device: Option<String>,
    },
    /// List the tensors (names and shapes) of a PyTorch `.pt`/`.pth` or `.safetensors` file.
    Weights {
        /// The weight file.
        file: PathBuf,
    },
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Train {
            file,
            overrides,
            print_config,
            runs,
            device,
        } => {
            let device = rnnlab_tasks::device::choose(device.as_deref())?;
            let (experiment, table): (CharLmExperiment, _) =
                rnnlab_tasks::config::resolve(Some(&file), &overrides)?;
            let resolved = toml::to_string(&table).context("cannot print the config")?;
            if print_config {
                print!("{resolved}");
                return Ok(());
            }
            let stamp = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)?
                .as_secs();
            let dir = runs
                .join(&experiment.name)
                .join(format!("{stamp}-seed{}", experiment.train.seed));
            if dir.exists() {
                anyhow::bail!(
                    "{} exists already; refusing to overwrite a run",
                    dir.display()
                );
            }
            let summary = train(&experiment, &resolved, &dir, &device)?;
            println!("run: {}", summary.dir.display());
            println!(
                "valid loss {:.4} nats/char ({:.4} bits/char, perplexity {:.2})",
                summary.valid_loss,
                summary.valid_loss / std::f64::consts::LN_2,
                summary.valid_loss.exp()
            );
            let loaded = load_run(&dir, &device)?;
            let prompt = loaded.tokenizer.encode("\n")?;
            let sampler = Sampler::new(SamplingConfig {
                temperature: 0.8,
                top_k: 0,
                top_p: 1.0,
                seed: 0,
            });
            let sample = sampler.generate(&loaded.model, &prompt, 200, &device);
            println!("sample:\n{}", loaded.tokenizer.decode(&sample));
            Ok(())
        }
        Command::Generate {
            run,
            prompt,
            length,
            temperature,
            top_k,
            top_p,
            seed,
            device,
        } => {
            let device = rnnlab_tasks::device::choose(device.as_deref())?;
            let loaded = load_run(&run, &device)?;
            let ids = loaded.tokenizer.encode(&prompt)?;
            anyhow::ensure!(!ids.is_empty(), "--prompt must not be empty");
            let sampler = Sampler::new(SamplingConfig {
                temperature,
                top_k,
                top_p,
                seed,
            });
            let out = sampler.generate(&loaded.model, &ids, length, &device);
            println!("{prompt}{}", loaded.tokenizer.decode(&out));
            Ok(())
        }
        Command::Weights { file } => {
            print!("{}", rnnlab_tasks::weights::describe(&file)?);
            Ok(())
        }
    }
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
