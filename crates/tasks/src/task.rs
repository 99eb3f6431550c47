//! [`Task`]: the one lifecycle every task shares — validate → read the data and fit (or load)
//! its artefacts → seeded initialisation → loaders → [`fit()`] → score the model in memory, with
//! its baseline → `results.json` and `report.txt`. A task supplies its config, data, model and
//! scoring; [`train`], [`resume`], [`evaluate`] and [`load`] are written here once.
//!
//! (Over 400 lines: the trait and the lifecycle written once against it, including loading a run
//! back, read best in one file.)

use std::fmt::Display;
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, bail};
use burn::module::Module;
use burn::prelude::Device;
use burn::train::SupervisedTraining;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::config::ExperimentFile;
use crate::run::{Results, finish};
use crate::task_command::TaskCommand;
use crate::training::fit::MODEL_FILE;
use crate::training::step::{Clock, Objective, Policy, Reseed, Step};
use crate::training::{Loaders, TrainSection, checkpoint, fit, load_model, seeded_init};

/// A task's experiment: the typed `[data]`, `[model]`, `[train]`… sections of its file (and
/// its top-level `task` and `name` keys, which the lifecycle reads from the resolved table).
pub trait TaskConfig: Serialize + DeserializeOwned + Default + Clone + 'static {
    /// The `[train]` section.
    fn train(&self) -> &TrainSection;
    /// Checks every task-specific value, naming the key of the first impossible one.
    fn validate(&self) -> anyhow::Result<()>;
}

/// What scoring a model produces: the text `train` and `eval` print (with the baseline beside
/// the model) and the values saved in `results.json`.
pub trait Report: Display {
    /// The values under their `results.json` names (model first, then `baseline_*`…).
    fn results(&self) -> Results;
}

/// A run directory's artefacts: what was fitted on the training split (tokenizer, scaler,
/// normaliser…), one JSON file of the task's [`Task::Artefacts`].
pub const ARTEFACTS_FILE: &str = "artefacts.json";

/// One task: its config, artefacts, data, model and report types.
pub trait Task: 'static {
    /// The `task` key of its experiment files.
    const NAME: &'static str;
    /// Its config.
    type Config: TaskConfig;
    /// What a run fits on its training split and inference needs besides the model
    /// (tokenizer, scaler…), saved by the lifecycle as [`ARTEFACTS_FILE`].
    type Artefacts: Serialize + DeserializeOwned + Clone;
    /// The data read for a run (its splits), with its artefacts.
    type Data;
    /// Its model (validation mode outside training).
    type Model: Objective;
    /// Its scores.
    type Report: Report;

    /// Reads the data. A new run (`artefacts = None`) fits its artefacts on the training
    /// split; a resumed, warm-started or evaluated run passes those it saved.
    fn data(
        config: &Self::Config,
        artefacts: Option<Self::Artefacts>,
    ) -> anyhow::Result<Self::Data>;
    /// The artefacts `data` was read with (saved in a new run directory).
    fn artefacts(data: &Self::Data) -> Self::Artefacts;
    /// The artefacts of a run directory from before [`ARTEFACTS_FILE`] (one file per
    /// artefact: `tokenizer.json`, `scaler.json`…), when `dir` holds them, so that older runs
    /// still load; default: none.
    fn legacy_artefacts(
        _config: &Self::Config,
        _dir: &Path,
    ) -> Option<anyhow::Result<Self::Artefacts>> {
        None
    }
    /// Checks artefacts read from a run directory against its config (default: nothing to
    /// check); the error names what disagrees.
    fn check(_config: &Self::Config, _artefacts: &Self::Artefacts) -> anyhow::Result<()> {
        Ok(())
    }
    /// The untrained model for `config` and `artefacts` on `device`.
    fn model(
        config: &Self::Config,
        artefacts: &Self::Artefacts,
        device: &Device,
    ) -> anyhow::Result<Self::Model>;
    /// Training and validation batches on `device` (an autodiff device).
    fn loaders(
        config: &Self::Config,
        data: &Self::Data,
        device: &Device,
    ) -> anyhow::Result<Loaders<<Self::Model as Objective>::Batch>>;
    /// How training steps behave; by default global-norm clipping at `train.grad_clip`.
    fn policy(config: &Self::Config) -> Policy {
        Policy::new(config.train().grad_clip, false)
    }
    /// Registers the task's metrics besides the loss (default: none).
    fn metrics(
        training: SupervisedTraining<Step<Self::Model>>,
    ) -> SupervisedTraining<Step<Self::Model>> {
        training
    }
    /// Whether the task reports accuracy (so `train.keep_best_by = "accuracy"` is possible).
    const HAS_ACCURACY: bool = false;
    /// The task's own commands (`generate`, `predict`…), run on its runs.
    const COMMANDS: &'static [&'static dyn TaskCommand] = &[];
    /// What `train` and `resume` print after the report, from the trained model in memory
    /// (default: nothing; the char LM prints a sample).
    fn after_training(
        _config: &Self::Config,
        _data: &Self::Data,
        _model: &Self::Model,
        _device: &Device,
    ) -> anyhow::Result<Option<String>> {
        Ok(None)
    }
    /// Scores `model` (validation mode, on `device`) on the evaluation split, with the task's
    /// baselines on the same split.
    fn score(
        config: &Self::Config,
        data: &Self::Data,
        model: &Self::Model,
        device: &Device,
    ) -> anyhow::Result<Self::Report>;
}

/// Validates `config` as an experiment of task `T`.
pub fn validate<T: Task>(config: &T::Config) -> anyhow::Result<()> {
    config.train().validate_for(T::HAS_ACCURACY)?;
    if config.train().devices.len() > 1 && T::policy(config).carry.is_some() {
        bail!(
            "train.devices: a run that carries its state from batch to batch (truncated BPTT) \
             trains on one device; set data.tbptt = false or list one device"
        );
    }
    config.validate()
}

/// An experiment of task `T` resolved and validated.
pub struct Resolved<T: Task> {
    /// The typed config.
    pub config: T::Config,
    /// The resolved config as TOML (what the run saves as `config.toml`).
    pub toml: String,
    /// The run name (`name`, the folder under `runs/`).
    pub name: String,
}

/// Resolves an experiment file with `key=value` overrides: the typed, validated config and
/// the resolved config as TOML (what the run saves as `config.toml`).
pub fn resolve<T: Task>(
    file: Option<&Path>,
    overrides: &[String],
) -> anyhow::Result<(T::Config, String)> {
    let file = file.map(ExperimentFile::read).transpose()?;
    let resolved = resolve_file::<T>(file.as_ref(), overrides)?;
    Ok((resolved.config, resolved.toml))
}

/// [`resolve`] of a file already read.
pub fn resolve_file<T: Task>(
    file: Option<&ExperimentFile>,
    overrides: &[String],
) -> anyhow::Result<Resolved<T>> {
    let (config, table): (T::Config, _) = crate::config::resolve_file(file, overrides)?;
    let task = table.get("task").and_then(|v| v.as_str()).unwrap_or("");
    if task != T::NAME {
        bail!("task = {task:?}: this is a {} experiment", T::NAME);
    }
    validate::<T>(&config)?;
    let name = match table.get("name").and_then(|v| v.as_str()) {
        Some(name) if !name.is_empty() => name.to_string(),
        _ => bail!("name: expected the run name, a non-empty string"),
    };
    let toml = toml::to_string(&table).context("cannot print the config")?;
    Ok(Resolved { config, toml, name })
}

/// The experiment a run directory was trained with (`config.toml`), validated.
pub fn config_of_run<T: Task>(dir: &Path) -> anyhow::Result<(T::Config, String)> {
    resolve::<T>(Some(&crate::run::config_of_run(dir)?), &[])
}

/// What a finished training run returns.
#[derive(Clone, Debug)]
pub struct Trained {
    /// The final results (also saved as `results.json`).
    pub results: Results,
    /// The report on the evaluation split (also saved as `report.txt`).
    pub report: String,
    /// What the task prints after it ([`Task::after_training`]).
    pub after: Option<String>,
}

/// Trains `config` into `dir` on `device`: a new run (`resume = None`), or the run in `dir`
/// continued from that epoch's checkpoint. Nothing is written before the data and the model
/// are known to be valid.
pub fn train<T: Task>(
    config: &T::Config,
    resolved_toml: &str,
    dir: &Path,
    device: &Device,
    resume: Option<usize>,
) -> anyhow::Result<Trained> {
    validate::<T>(config)?;
    train_validated::<T>(config, resolved_toml, dir, device, resume)
}

/// [`train`] of a config [`resolve`] has validated.
pub(crate) fn train_validated<T: Task>(
    config: &T::Config,
    resolved_toml: &str,
    dir: &Path,
    device: &Device,
    resume: Option<usize>,
) -> anyhow::Result<Trained> {
    // A warm start reads its artefacts from the run it starts from; a resumed run its own.
    let init = warm_start::<T>(config)?;
    let artefacts = match (resume, &init) {
        (Some(_), _) => Some(read_artefacts::<T>(config, dir)?),
        (None, Some(init)) => Some(read_artefacts::<T>(config, init)?),
        (None, None) => None,
    };
    let data = T::data(config, artefacts)?;
    let artefacts = T::artefacts(&data);
    // Initialised on the CPU from the seed, then moved: one seed gives the same initial
    // weights on every device.
    let mut model = seeded_init(config.train().seed, device, |cpu| {
        T::model(config, &artefacts, cpu)
    })?;
    if let (None, Some(init)) = (resume, &init) {
        load_model(&mut model, &init.join(MODEL_FILE)).map_err(|e| {
            anyhow::anyhow!("train.init_from = {:?}: {e}", config.train().init_from)
        })?;
    }
    let train_device = device.clone().autodiff();
    let mut policy = T::policy(config);
    policy.reseed = Some(Reseed {
        seed: config.train().seed,
        clock: Arc::new(Clock::new(resume.unwrap_or(0))),
    });
    let step = Step::new(model, policy);
    if let Some(epoch) = resume {
        checkpoint::check_fits(&step, dir, epoch)?;
    }
    let loaders = T::loaders(config, &data, &train_device)?;
    if resume.is_none() {
        crate::run::create(dir, resolved_toml)?;
        write_artefacts::<T>(&artefacts, dir)?;
    }
    let started = std::time::Instant::now();
    let fitted = fit(
        step.train().fork(&train_device),
        loaders,
        T::metrics,
        config.train(),
        dir,
        resume,
    )?;
    let seconds = started.elapsed().as_secs_f64();
    if let Some(reason) = fitted.stopped {
        bail!("training stopped: {reason}");
    }
    score_and_finish::<T>(config, &data, fitted, dir, seconds, device)
}

/// The run `train.init_from` names, checked to be a finished run of task `T`.
fn warm_start<T: Task>(config: &T::Config) -> anyhow::Result<Option<std::path::PathBuf>> {
    let from = &config.train().init_from;
    if from.is_empty() {
        return Ok(None);
    }
    let dir = std::path::PathBuf::from(from);
    let found =
        task_of_run(&dir).map_err(|e| anyhow::anyhow!("train.init_from = {from:?}: {e}"))?;
    if found != T::NAME {
        bail!(
            "train.init_from = {from:?}: a {found} run; this is a {} experiment",
            T::NAME
        );
    }
    if !dir.join(MODEL_FILE).is_file() {
        bail!("train.init_from = {from:?}: no {MODEL_FILE}; is that run finished?");
    }
    Ok(Some(dir))
}

/// Continues the run in `dir` from its last complete checkpoint.
pub fn resume<T: Task>(dir: &Path, device: &Device) -> anyhow::Result<Trained> {
    let (config, text) = config_of_run::<T>(dir)?;
    let done = checkpoint::latest_complete(&dir.join("checkpoint")).with_context(|| {
        format!(
            "{}: no complete checkpoint (model, optim and scheduler) to resume from",
            dir.join("checkpoint").display()
        )
    })?;
    let planned = config.train().epochs;
    // A run that early stopping had ended, killed before its final files.
    let patience = config.train().early_stopping;
    let losses: Vec<f64> = crate::training::history::History::read(&dir.join("metrics.csv"))?
        .curve("valid", "Loss")
        .into_iter()
        .filter(|&(epoch, _)| epoch <= done)
        .map(|(_, loss)| loss)
        .collect();
    let stopped =
        losses.len() == done && crate::training::early_stop::no_improvement(&losses, patience);
    if done >= planned || stopped {
        if dir.join("results.json").is_file() {
            if done < planned {
                bail!(
                    "{}: early stopping ended this run after epoch {done} \
                     (train.early_stopping = {patience}); nothing to resume",
                    dir.display()
                );
            }
            bail!(
                "{}: all {planned} epochs are done (checkpoint of epoch {done}); nothing to resume",
                dir.display()
            );
        }
        // Every epoch is checkpointed (or early stopping had ended the run) but the run
        // stopped before its final files.
        return finish_from_checkpoints::<T>(&config, dir, device);
    }
    train_validated::<T>(&config, &text, dir, device, Some(done))
}

/// Scores the kept model (validation mode, on `device`), draws `loss.svg` and writes
/// `results.json` and `report.txt`.
fn score_and_finish<T: Task>(
    config: &T::Config,
    data: &T::Data,
    fitted: crate::training::Fitted<Step<T::Model>>,
    dir: &Path,
    seconds: f64,
    device: &Device,
) -> anyhow::Result<Trained> {
    let model = fitted.model.model.valid().fork(device);
    let report = T::score(config, data, &model, device)?;
    let mut results = report.results();
    if fitted.averaged > 1 {
        results.insert("averaged_epochs".into(), fitted.averaged as f64);
    }
    let report = report.to_string();
    let results = finish(
        dir,
        results,
        (fitted.epochs_run, fitted.epoch),
        seconds,
        &report,
    )?;
    // The run is finished and saved; a curve that cannot be drawn is a warning, not a failure.
    let svg = dir.join("loss.svg");
    if let Err(e) = crate::training::history::History::read(&dir.join("metrics.csv"))
        .and_then(|history| crate::plot::loss_curves(&history, Some(fitted.epoch), &svg))
    {
        eprintln!("warning: {}: not drawn: {e:#}", svg.display());
    }
    Ok(Trained {
        results,
        report,
        after: T::after_training(config, data, &model, device)?,
    })
}

/// Writes the final files of a run whose epochs all finished (`model.bpk` from the kept
/// checkpoint, then the scores); `train_seconds` is 0, the training time being unknown.
fn finish_from_checkpoints<T: Task>(
    config: &T::Config,
    dir: &Path,
    device: &Device,
) -> anyhow::Result<Trained> {
    let data = T::data(config, Some(read_artefacts::<T>(config, dir)?))?;
    let model = seeded_init(config.train().seed, device, |cpu| {
        T::model(config, &T::artefacts(&data), cpu)
    })?;
    let fitted = crate::training::fit::kept_from_checkpoints(
        Step::new(model, T::policy(config)),
        config.train(),
        dir,
    )?;
    score_and_finish::<T>(config, &data, fitted, dir, 0.0, device)
}

/// Saves a new run's artefacts as [`ARTEFACTS_FILE`] (atomically).
fn write_artefacts<T: Task>(artefacts: &T::Artefacts, dir: &Path) -> anyhow::Result<()> {
    let json = serde_json::to_string(artefacts).context("cannot write the artefacts")?;
    Ok(rnnlab_data::io::write_atomic(
        &dir.join(ARTEFACTS_FILE),
        json.as_bytes(),
    )?)
}

/// The artefacts the run in `dir` saved, checked against `config`.
pub fn read_artefacts<T: Task>(config: &T::Config, dir: &Path) -> anyhow::Result<T::Artefacts> {
    let path = dir.join(ARTEFACTS_FILE);
    if !path.exists()
        && let Some(legacy) = T::legacy_artefacts(config, dir)
    {
        let artefacts = legacy?;
        T::check(config, &artefacts).map_err(|e| anyhow::anyhow!("{}: {e}", dir.display()))?;
        return Ok(artefacts);
    }
    let text = rnnlab_data::io::read_text(&path)?;
    let artefacts: T::Artefacts = serde_json::from_str(&text).map_err(|e| {
        anyhow::anyhow!(
            "{}: not the artefacts of a {} run: {e}",
            path.display(),
            T::NAME
        )
    })?;
    T::check(config, &artefacts).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    Ok(artefacts)
}

/// A trained run, loaded back for inference: its config, artefacts and model; no data is
/// read ([`Loaded::data`] reads it).
pub struct Loaded<T: Task> {
    /// The resolved experiment.
    pub config: T::Config,
    /// What the run fitted on its training split.
    pub artefacts: T::Artefacts,
    /// The saved model (validation mode) on the requested device.
    pub model: T::Model,
}

impl<T: Task> Loaded<T> {
    /// The run's data (its splits), read with its artefacts.
    pub fn data(&self) -> anyhow::Result<T::Data> {
        T::data(&self.config, Some(self.artefacts.clone()))
    }
}

/// Loads the run in `dir` (written by [`train`]); every missing file is an error naming it.
pub fn load<T: Task>(dir: &Path, device: &Device) -> anyhow::Result<Loaded<T>> {
    let (config, _) = config_of_run::<T>(dir)?;
    let artefacts = read_artefacts::<T>(&config, dir)?;
    let mut model = T::model(&config, &artefacts, device)?;
    load_model(&mut model, &dir.join(MODEL_FILE))?;
    // Training flags are not saved with the weights: a fresh model has them on. `valid` turns
    // them off, so that the model stays in validation mode also when a command moves it to an
    // autodiff device (as `inspect` does for gradients).
    Ok(Loaded {
        config,
        artefacts,
        model: model.valid(),
    })
}

/// The run's report on its evaluation split, recomputed from the saved model (`rnnlab eval`;
/// the same text `train` printed and saved as `report.txt`).
pub fn evaluate<T: Task>(dir: &Path, device: &Device) -> anyhow::Result<T::Report> {
    let run = load::<T>(dir, device)?;
    T::score(&run.config, &run.data()?, &run.model, device)
}

/// The `task` key of the run in `dir` (from its `config.toml`).
pub fn task_of_run(dir: &Path) -> anyhow::Result<String> {
    let path = crate::run::config_of_run(dir)?;
    let file = ExperimentFile::read(&path)?;
    file.task()
        .map(str::to_string)
        .with_context(|| format!("{}: missing key `task`", path.display()))
}

/// Requires a run of task `T` for a task's command (`generate`, `ensemble`…).
pub fn require<T: Task>(dir: &Path, command: &str) -> anyhow::Result<()> {
    let found = task_of_run(dir)?;
    if found != T::NAME {
        bail!(
            "{}: a {found} run; `{command}` needs a {} run",
            dir.display(),
            T::NAME
        );
    }
    Ok(())
}

/// `model.{message}` for an error from a model config's `try_init`.
pub fn model_error(e: impl Display) -> anyhow::Error {
    anyhow::anyhow!("model.{e}")
}
