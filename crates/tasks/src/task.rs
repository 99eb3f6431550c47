//! [`Task`]: the one lifecycle every task shares — validate → read the data and fit (or load)
//! its artefacts → seeded initialisation → loaders → [`fit()`] → score the model in memory, with
//! its baseline → `results.json` and `report.txt`. A task supplies its config, data, model and
//! scoring; [`train`], [`resume`], [`evaluate`] and [`load`] are written here once.

use std::fmt::Display;
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, bail};
use burn::module::Module;
use burn::prelude::Device;
use burn::train::SupervisedTraining;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::run::{Results, finish};
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

/// One task: its config, data and artefacts, model and report types.
pub trait Task: 'static {
    /// The `task` key of its experiment files.
    const NAME: &'static str;
    /// Its config.
    type Config: TaskConfig;
    /// The data read for a run, with what was fitted on the training split (tokenizer,
    /// scaler) and is saved in the run directory.
    type Data;
    /// Its model (validation mode outside training).
    type Model: Objective;
    /// Its scores.
    type Report: Report;

    /// Reads the data. A new run (`run = None`) fits its artefacts on the training split; a
    /// run directory loads those it saved.
    fn data(config: &Self::Config, run: Option<&Path>) -> anyhow::Result<Self::Data>;
    /// What inference on new inputs needs from the run in `run` (`predict`): by default all
    /// of [`data`](Self::data); a task whose artefacts suffice overrides it, so that a run
    /// predicts without its training data at hand.
    fn artefacts(config: &Self::Config, run: &Path) -> anyhow::Result<Self::Data> {
        Self::data(config, Some(run))
    }
    /// Saves the fitted artefacts into a new run directory.
    fn save(data: &Self::Data, dir: &Path) -> anyhow::Result<()>;
    /// The untrained model for `config` and `data` on `device`.
    fn model(
        config: &Self::Config,
        data: &Self::Data,
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

/// Resolves an experiment file with `key=value` overrides: the typed, validated config and
/// the resolved config as TOML (what the run saves as `config.toml`).
pub fn resolve<T: Task>(
    file: Option<&Path>,
    overrides: &[String],
) -> anyhow::Result<(T::Config, String)> {
    let (config, table): (T::Config, _) = crate::config::resolve(file, overrides)?;
    let task = table.get("task").and_then(|v| v.as_str()).unwrap_or("");
    if task != T::NAME {
        bail!("task = {task:?}: this is a {} experiment", T::NAME);
    }
    validate::<T>(&config)?;
    let text = toml::to_string(&table).context("cannot print the config")?;
    Ok((config, text))
}

/// The run name (`name`, the folder under `runs/`) of a resolved config.
pub fn run_name(resolved_toml: &str) -> anyhow::Result<String> {
    let table: toml::Table = toml::from_str(resolved_toml).context("cannot read the config")?;
    match table.get("name").and_then(|v| v.as_str()) {
        Some(name) if !name.is_empty() => Ok(name.to_string()),
        _ => bail!("name: expected the run name, a non-empty string"),
    }
}

/// The experiment a run directory was trained with (`config.toml`), validated.
pub fn config_of_run<T: Task>(dir: &Path) -> anyhow::Result<(T::Config, String)> {
    resolve::<T>(Some(&crate::run::config_of_run(dir)?), &[])
}

/// Trains `config` into `dir` on `device`: a new run (`resume = None`), or the run in `dir`
/// continued from that epoch's checkpoint. Nothing is written before the data and the model
/// are known to be valid. Returns the final results, also saved as `results.json`.
pub fn train<T: Task>(
    config: &T::Config,
    resolved_toml: &str,
    dir: &Path,
    device: &Device,
    resume: Option<usize>,
) -> anyhow::Result<Results> {
    validate::<T>(config)?;
    // A warm start reads its artefacts from the run it starts from; a resumed run its own.
    let init = warm_start::<T>(config)?;
    let artefacts = match (resume, &init) {
        (Some(_), _) => Some(dir),
        (None, Some(init)) => Some(init.as_path()),
        (None, None) => None,
    };
    let data = T::data(config, artefacts)?;
    // Initialised on the CPU from the seed, then moved: one seed gives the same initial
    // weights on every device.
    let mut model = seeded_init(config.train().seed, device, |cpu| {
        T::model(config, &data, cpu)
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
        T::save(&data, dir)?;
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
    let found = crate::registry::task_of_run(&dir)
        .map_err(|e| anyhow::anyhow!("train.init_from = {from:?}: {e}"))?
        .name();
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
pub fn resume<T: Task>(dir: &Path, device: &Device) -> anyhow::Result<Results> {
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
    train::<T>(&config, &text, dir, device, Some(done))
}

/// Scores the kept model (validation mode, on `device`) and writes `results.json` and
/// `report.txt`.
fn score_and_finish<T: Task>(
    config: &T::Config,
    data: &T::Data,
    fitted: crate::training::Fitted<Step<T::Model>>,
    dir: &Path,
    seconds: f64,
    device: &Device,
) -> anyhow::Result<Results> {
    let model = fitted.model.model.valid().fork(device);
    let report = T::score(config, data, &model, device)?;
    let mut results = report.results();
    if fitted.averaged > 1 {
        results.insert("averaged_epochs".into(), fitted.averaged as f64);
    }
    finish(
        dir,
        results,
        (fitted.epochs_run, fitted.epoch),
        seconds,
        &report.to_string(),
    )
}

/// Writes the final files of a run whose epochs all finished (`model.bpk` from the kept
/// checkpoint, then the scores); `train_seconds` is 0, the training time being unknown.
fn finish_from_checkpoints<T: Task>(
    config: &T::Config,
    dir: &Path,
    device: &Device,
) -> anyhow::Result<Results> {
    let data = T::data(config, Some(dir))?;
    let model = seeded_init(config.train().seed, device, |cpu| {
        T::model(config, &data, cpu)
    })?;
    let fitted = crate::training::fit::kept_from_checkpoints(
        Step::new(model, T::policy(config)),
        config.train(),
        dir,
    )?;
    score_and_finish::<T>(config, &data, fitted, dir, 0.0, device)
}

/// A trained run, loaded back.
pub struct Loaded<T: Task> {
    /// The resolved experiment.
    pub config: T::Config,
    /// Its data and the artefacts the run saved.
    pub data: T::Data,
    /// The saved model (validation mode) on the requested device.
    pub model: T::Model,
}

/// Loads the run in `dir` (written by [`train`]); every missing file is an error naming it.
pub fn load<T: Task>(dir: &Path, device: &Device) -> anyhow::Result<Loaded<T>> {
    load_with::<T>(dir, device, |config| T::data(config, Some(dir)))
}

/// Loads the run in `dir` for inference on new inputs: its config, its
/// [`artefacts`](Task::artefacts) and its model.
pub fn load_for_inference<T: Task>(dir: &Path, device: &Device) -> anyhow::Result<Loaded<T>> {
    load_with::<T>(dir, device, |config| T::artefacts(config, dir))
}

fn load_with<T: Task>(
    dir: &Path,
    device: &Device,
    data: impl FnOnce(&T::Config) -> anyhow::Result<T::Data>,
) -> anyhow::Result<Loaded<T>> {
    let (config, _) = config_of_run::<T>(dir)?;
    let data = data(&config)?;
    let mut model = T::model(&config, &data, device)?;
    load_model(&mut model, &dir.join(MODEL_FILE))?;
    Ok(Loaded {
        config,
        data,
        model,
    })
}

/// The run's report on its evaluation split, recomputed from the saved model (`rnnlab eval`;
/// the same text `train` printed and saved as `report.txt`).
pub fn evaluate<T: Task>(dir: &Path, device: &Device) -> anyhow::Result<T::Report> {
    let run = load::<T>(dir, device)?;
    T::score(&run.config, &run.data, &run.model, device)
}

/// `model.{message}` for an error from a model config's `try_init`.
pub fn model_error(e: impl Display) -> anyhow::Error {
    anyhow::anyhow!("model.{e}")
}
