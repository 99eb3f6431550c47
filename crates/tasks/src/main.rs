//! The `rnnlab` command line. (Over 400 lines because it is the clap definition of every
//! subcommand with its documented flags, and their dispatch; the work is in the library.)

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use rnnlab_tasks::charlm::SamplingConfig;
use rnnlab_tasks::forecast::ForecastTask;
use rnnlab_tasks::registry::require;
use rnnlab_tasks::task::Task;
use rnnlab_tasks::task::load;
use rnnlab_tasks::{commands, device, forecast, run};

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
    /// Train from an experiment file (`task = "charlm" | "sentiment" | "forecast" | "speech" |
    /// "translate"`);
    /// `key=value` overrides win over the file.
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
    /// Sample text from a trained char-LM run.
    Generate {
        /// The run directory (`runs/<name>/<run-id>`).
        run: PathBuf,
        /// Text to start from.
        #[arg(long, default_value = "\n")]
        prompt: String,
        /// Tokens to generate.
        #[arg(long, default_value_t = 500)]
        length: usize,
        /// Sampling temperature: 0 = greedy, else a positive number.
        #[arg(long, default_value_t = 0.8, allow_negative_numbers = true)]
        temperature: f64,
        /// Keep the k most likely tokens (0 = all).
        #[arg(long, default_value_t = 0)]
        top_k: usize,
        /// Nucleus sampling threshold in (0, 1] (1 = off).
        #[arg(long, default_value_t = 1.0, allow_negative_numbers = true)]
        top_p: f64,
        /// Seed of the draws.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// As for `train`.
        #[arg(long)]
        device: Option<String>,
    },
    /// Metrics of a run's saved model on its evaluation split (test for sentiment,
    /// forecasting and speech, validation for language models).
    Eval {
        /// The run directory.
        run: PathBuf,
        /// As for `train`.
        #[arg(long)]
        device: Option<String>,
    },
    /// Several sentiment runs of one data split (e.g. a `sweep` over `train.seed`) as one
    /// classifier: the mean of their class probabilities, scored on their test split beside
    /// each run and the TF-IDF + logistic-regression baseline.
    Ensemble {
        /// The run directories (two or more).
        #[arg(required = true, num_args = 1..)]
        runs: Vec<PathBuf>,
        /// As for `train`.
        #[arg(long)]
        device: Option<String>,
    },
    /// Classify sentences with a sentiment run, or WAV recordings with a speech run: each line
    /// printed is the class name (`data.label_names`; the digit for speech), its probability
    /// and the input.
    Predict {
        /// The run directory.
        run: PathBuf,
        /// Another sentiment run to average class probabilities with (repeat the flag for more:
        /// an ensemble, as `rnnlab ensemble` scores it).
        #[arg(long = "with")]
        with: Vec<PathBuf>,
        /// The sentences, or the WAV files of a speech run. `--file`, `--with`, `--explain`,
        /// `--plot` and `--device` may come before or after them; any other value starting
        /// with `-` is an input too.
        #[arg(required_unless_present = "file", allow_hyphen_values = true)]
        texts: Vec<String>,
        /// Read inputs (sentences, or WAV paths) from this file, one per line (`-` = standard
        /// input); blank lines are skipped.
        #[arg(long)]
        file: Option<PathBuf>,
        /// Show the tokens that weighed most (attention weights, or occlusion; sentiment).
        #[arg(long)]
        explain: bool,
        /// Draw the recording's log-mel spectrogram and the frame-wise digit probabilities
        /// to this SVG file (speech; one recording).
        #[arg(long)]
        plot: Option<PathBuf>,
        /// As for `train`.
        #[arg(long)]
        device: Option<String>,
    },
    /// Translate sentences with a translation run: one line per input, its translation (the
    /// normalised text the model writes: lower case, no accents, punctuation spaced). Unknown
    /// words are read as `<unk>` and named on standard error; an input without letters, one
    /// longer than the run trained on, or one of only unknown words is an error.
    Translate {
        /// The run directory.
        run: PathBuf,
        /// The sentences. `--file`, `--beam`, `--plot-attention` and `--device` may come before
        /// or after them; any other value starting with `-` is a sentence too.
        #[arg(required_unless_present = "file", allow_hyphen_values = true)]
        texts: Vec<String>,
        /// Read sentences from this file, one per line (`-` = standard input); blank lines are
        /// skipped.
        #[arg(long)]
        file: Option<PathBuf>,
        /// Beam width (1 = greedy); default the run's `decode.beam`.
        #[arg(long)]
        beam: Option<String>,
        /// Draw the sentence's attention matrix (source tokens × output tokens) to this SVG
        /// file (one sentence).
        #[arg(long)]
        plot_attention: Option<PathBuf>,
        /// As for `train`.
        #[arg(long)]
        device: Option<String>,
    },
    /// Forecast the test split of a forecasting run; show one origin and optionally plot it.
    Forecast {
        /// The run directory.
        run: PathBuf,
        /// Write the forecast of the shown origin as SVG.
        #[arg(long)]
        plot: Option<PathBuf>,
        /// Which test origin to show (0 = first; default the last).
        #[arg(long)]
        origin: Option<usize>,
        /// As for `train`.
        #[arg(long)]
        device: Option<String>,
    },
    /// Rolling-origin backtest of a forecasting run over its validation and test rows.
    Backtest {
        /// The run directory.
        run: PathBuf,
        /// Steps forecast from each origin (default the model's horizon).
        #[arg(long)]
        horizon: Option<usize>,
        /// Rows between origins (default the horizon).
        #[arg(long)]
        step: Option<usize>,
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

fn after_training(
    trained: &commands::Trained,
    device: &burn::prelude::Device,
) -> anyhow::Result<()> {
    println!("run: {}", trained.dir.display());
    let kept = trained.results.get("kept_epoch").map(|&e| e as usize);
    let _ = rnnlab_tasks::plot::loss_curves(
        &rnnlab_tasks::training::history::History::read(&trained.dir.join("metrics.csv"))?,
        kept,
        &trained.dir.join("loss.svg"),
    );
    // The report the task wrote when it scored the trained model; nothing is evaluated twice.
    let report = trained.dir.join("report.txt");
    print!(
        "{}",
        std::fs::read_to_string(&report)
            .map_err(|e| anyhow::anyhow!("{}: cannot read: {e}", report.display()))?
    );
    if trained.task == rnnlab_tasks::charlm::CharLmTask::NAME {
        let sampling = SamplingConfig {
            temperature: 0.8,
            top_k: 0,
            top_p: 1.0,
            seed: 0,
        };
        // Word and BPE tokenizers have no token for a bare newline: start those from a name.
        let sample = commands::generate(&trained.dir, "\n", 200, sampling.clone(), device)
            .or_else(|_| commands::generate(&trained.dir, "ROMEO:", 200, sampling, device))?;
        println!("sample:\n{sample}");
    }
    Ok(())
}

/// A value that followed a task-specific command's inputs: clap takes every later value as an
/// input (so that a sentence may start with `-`), so flags written after them are found here.
enum Trailing {
    /// A flag without a value.
    Switch(&'static str),
    /// A flag with its value (`--flag v` or `--flag=v`).
    Value(&'static str, String),
    /// An input.
    Input(String),
}

/// Splits `args` into inputs and the `switches` and `valued` flags among them.
fn trailing_flags(
    args: Vec<String>,
    switches: &[&'static str],
    valued: &[&'static str],
) -> anyhow::Result<Vec<Trailing>> {
    let mut out = Vec::new();
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) => (f.to_string(), Some(v.to_string())),
            None => (arg.clone(), None),
        };
        if let Some(&s) = switches.iter().find(|&&s| s == flag && inline.is_none()) {
            out.push(Trailing::Switch(s));
        } else if let Some(&v) = valued.iter().find(|&&v| v == flag) {
            let value = match inline {
                Some(value) => value,
                None => args
                    .next()
                    .ok_or_else(|| anyhow::anyhow!("{v}: expected a value after it"))?,
            };
            out.push(Trailing::Value(v, value));
        } else {
            out.push(Trailing::Input(arg));
        }
    }
    Ok(out)
}

/// `inputs` followed by the lines of `file` (if any); `nothing` is the error when both are
/// empty.
fn with_file(
    mut inputs: Vec<String>,
    file: Option<&std::path::Path>,
    nothing: &str,
) -> anyhow::Result<Vec<String>> {
    if let Some(path) = file {
        inputs.extend(read_sentences(path)?);
    }
    anyhow::ensure!(!inputs.is_empty(), "{nothing}");
    Ok(inputs)
}

/// The non-blank lines of `path` (`-` = standard input), trimmed.
fn read_sentences(path: &std::path::Path) -> anyhow::Result<Vec<String>> {
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

/// `key=a,b` → every combination of overrides.
fn grid(overrides: &[String]) -> Vec<Vec<String>> {
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

fn run(cli: Cli) -> anyhow::Result<()> {
    // A forced instruction-set path the processor lacks is one error line before any work.
    rnnlab_models::op::cpu_isa()?;
    match cli.command {
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
            let trained = commands::train(&file, &overrides, &runs, &device)?;
            after_training(&trained, &device)
        }
        Command::Resume { run, device } => {
            let device = choose_device(device.as_deref())?;
            let trained = commands::resume(&run, &device)?;
            after_training(&trained, &device)
        }
        Command::Sweep {
            file,
            overrides,
            runs,
            device,
        } => {
            let device = choose_device(device.as_deref())?;
            let combos = grid(&overrides);
            // Validate every combination before training any.
            for combo in &combos {
                commands::check(&file, combo)?;
            }
            let mut dirs = Vec::new();
            for (i, combo) in combos.iter().enumerate() {
                println!("sweep {}/{}: {}", i + 1, combos.len(), combo.join(" "));
                let trained = commands::train(&file, combo, &runs, &device)?;
                println!("run: {}", trained.dir.display());
                dirs.push(trained.dir);
            }
            print!("{}", run::compare_table(&dirs));
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
            anyhow::ensure!(
                temperature.is_finite() && temperature >= 0.0,
                "--temperature {temperature}: expected 0 (greedy) or a positive number"
            );
            anyhow::ensure!(
                top_p > 0.0 && top_p <= 1.0,
                "--top-p {top_p}: expected a number in (0, 1] (1 = off)"
            );
            let device = choose_device(device.as_deref())?;
            let sampling = SamplingConfig {
                temperature,
                top_k,
                top_p,
                seed,
            };
            println!(
                "{}",
                commands::generate(&run, &prompt, length, sampling, &device)?
            );
            Ok(())
        }
        Command::Eval { run, device } => {
            let device = choose_device(device.as_deref())?;
            print!("{}", commands::eval(&run, &device)?);
            Ok(())
        }
        Command::Ensemble { runs, device } => {
            let device = choose_device(device.as_deref())?;
            print!("{}", commands::ensemble(&runs, &device)?);
            Ok(())
        }
        Command::Predict {
            run,
            with,
            texts: texts_in,
            file,
            explain,
            plot,
            device,
        } => {
            let (mut file, mut explain, mut plot, mut device) = (file, explain, plot, device);
            let mut with = with;
            let mut texts = Vec::new();
            let values = ["--plot", "--file", "--device", "--with"];
            for flag in trailing_flags(texts_in, &["--explain"], &values)? {
                match flag {
                    Trailing::Switch("--explain") => explain = true,
                    Trailing::Switch(_) => {}
                    Trailing::Value("--plot", v) => plot = Some(PathBuf::from(v)),
                    Trailing::Value("--file", v) => file = Some(PathBuf::from(v)),
                    Trailing::Value("--with", v) => with.push(PathBuf::from(v)),
                    Trailing::Value(_, v) => device = Some(v),
                    Trailing::Input(text) => texts.push(text),
                }
            }
            let texts = with_file(
                texts,
                file.as_deref(),
                "nothing to predict: no sentences or files",
            )?;
            let device = choose_device(device.as_deref())?;
            let plot = plot.as_deref();
            for line in commands::predict(&run, &with, &texts, explain, plot, &device)? {
                println!("{line}");
            }
            Ok(())
        }
        Command::Translate {
            run,
            texts: texts_in,
            file,
            beam,
            plot_attention,
            device,
        } => {
            let (mut file, mut beam, mut plot, mut device) = (file, beam, plot_attention, device);
            let mut texts = Vec::new();
            let valued = ["--file", "--beam", "--plot-attention", "--device"];
            for flag in trailing_flags(texts_in, &[], &valued)? {
                match flag {
                    Trailing::Value("--file", v) => file = Some(PathBuf::from(v)),
                    Trailing::Value("--beam", v) => beam = Some(v),
                    Trailing::Value("--plot-attention", v) => plot = Some(PathBuf::from(v)),
                    Trailing::Value(_, v) => device = Some(v),
                    Trailing::Switch(_) => {}
                    Trailing::Input(text) => texts.push(text),
                }
            }
            let texts = with_file(
                texts,
                file.as_deref(),
                "nothing to translate: no sentences or file",
            )?;
            let beam = match beam {
                None => None,
                Some(b) => Some(b.parse::<usize>().map_err(|_| {
                    anyhow::anyhow!("--beam {b}: expected a whole number from 1 to 100")
                })?),
            };
            let device = choose_device(device.as_deref())?;
            for line in commands::translate(&run, &texts, beam, plot.as_deref(), &device)? {
                println!("{line}");
            }
            Ok(())
        }
        Command::Forecast {
            run,
            plot,
            origin,
            device,
        } => {
            require::<ForecastTask>(&run, "forecast")?;
            let device = choose_device(device.as_deref())?;
            let report = rnnlab_tasks::task::evaluate::<ForecastTask>(&run, &device)?;
            let n = report.forecasts.len();
            let index = origin.unwrap_or(n - 1);
            anyhow::ensure!(
                index < n,
                "--origin {index}: there are {n} test origins (0..{})",
                n - 1
            );
            let shown = &report.forecasts[index];
            print!("{report}");
            let column = report.columns.len() - 1;
            println!(
                "origin {index} (row {}), column {}:",
                shown.origin, report.columns[column]
            );
            print!("{}", forecast::plot::terminal_summary(shown, column));
            if let Some(path) = plot {
                forecast::plot::forecast_svg(&report, shown, column, &path)?;
                println!("plot: {}", path.display());
            }
            Ok(())
        }
        Command::Backtest {
            run,
            horizon,
            step,
            device,
        } => {
            require::<ForecastTask>(&run, "backtest")?;
            let device = choose_device(device.as_deref())?;
            let loaded = load::<ForecastTask>(&run, &device)?;
            let report = forecast::score::backtest(&loaded, horizon, step, &device)?;
            let column = report.columns.len() - 1;
            println!(
                "{:>8}  {:>10}  {:>10}  {:>10}  {:>10}   (MAE per origin, column {}; ETS refitted at each)",
                "row", "model", "naive", "seasonal", "ETS", report.columns[column]
            );
            for f in &report.forecasts {
                let mae = |v: &[f32]| {
                    v.iter()
                        .zip(&f.actual[column])
                        .map(|(p, a)| (p - a).abs() as f64)
                        .sum::<f64>()
                        / v.len() as f64
                };
                let ets = f
                    .ets
                    .get(column)
                    .map_or("-".into(), |e| format!("{:.4}", mae(e)));
                println!(
                    "{:>8}  {:>10.4}  {:>10.4}  {:>10.4}  {ets:>10}",
                    f.origin,
                    mae(&f.model[column]),
                    mae(&f.naive[column]),
                    mae(&f.seasonal[column])
                );
            }
            print!("{report}");
            Ok(())
        }
        Command::Compare { paths } => {
            let runs = run::find_runs(&paths);
            anyhow::ensure!(
                !runs.is_empty(),
                "no run directories (with config.toml) under {paths:?}"
            );
            print!("{}", run::compare_table(&runs));
            Ok(())
        }
        Command::Weights { file } => {
            print!("{}", rnnlab_tasks::weights::describe(&file)?);
            Ok(())
        }
    }
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

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // One line, whatever the sources' formatting (toml's messages span lines).
            let message = format!("{e:#}");
            let words: Vec<&str> = message.split_whitespace().collect();
            eprintln!("error: {}", words.join(" "));
            ExitCode::FAILURE
        }
    }
}
