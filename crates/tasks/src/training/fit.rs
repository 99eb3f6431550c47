//! [`fit`]: one task-independent training loop on burn-train's `SupervisedTraining`/`Learner`,
//! with our schedule, atomic checkpoints, resume, early stopping, best-epoch weights, the
//! non-finite-loss stop and the run renderer.

use std::io::IsTerminal;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use burn::data::dataloader::DataLoader;
use burn::module::Module;
use burn::optim::{AdamConfig, AdamWConfig};
use burn::prelude::Device;
use burn::store::ModuleRecord;
use burn::train::checkpoint::{
    ComposedCheckpointingStrategy, KeepLastNCheckpoints, MetricCheckpointingStrategy,
};
use burn::train::metric::store::{Aggregate, Direction, Split};
use burn::train::metric::{AccuracyMetric, LossMetric};
use burn::train::renderer::tui::TuiMetricsRendererWrapper;
use burn::train::{ExecutionStrategy, Learner, MultiDeviceOptim, SupervisedTraining};
use burn_store::{BurnpackStore, ModuleSnapshot};

use super::checkpoint::{self, AtomicCheckpointer};
use super::early_stop::ValidLossPatience;
use super::history::History;
use super::metric_log::RunMetricLog;
use super::render::RunRenderer;
use super::resumed_loader::ResumedLoader;
use super::schedule::LrSchedule;
use super::section::{KeepBestBy, TrainSection};
use super::step::{Objective, Step};

/// Training and validation loaders of batches `B`.
pub struct Loaders<B> {
    /// Training batches (shuffled by the caller with the run's seed).
    pub train: Arc<dyn DataLoader<B>>,
    /// Validation batches.
    pub valid: Arc<dyn DataLoader<B>>,
    /// Optimiser steps per epoch (for the cosine schedule).
    pub steps_per_epoch: usize,
}

/// The outcome of [`fit`].
pub struct Fitted<M> {
    /// The kept weights (best or last epoch; see `train.keep_best`), in validation mode.
    pub model: M,
    /// The epoch those weights come from.
    pub epoch: usize,
    /// Epochs run in total (early stopping may end a run before `train.epochs`).
    pub epochs_run: usize,
    /// Set when a non-finite loss stopped training: why.
    pub stopped: Option<String>,
    /// How many epochs' weights, ending at `epoch`, the kept weights average
    /// (`train.average`; 1 = that epoch's alone).
    pub averaged: usize,
}

/// Where `fit` saves the final weights.
pub const MODEL_FILE: &str = "model.bpk";

/// Trains `model` (already on the training device, in train mode) into the run directory `dir`.
/// `resume` continues from that epoch's checkpoint. `metrics` registers the task's metrics
/// besides the loss. The kept weights are saved atomically as `dir/model.bpk`.
pub fn fit<O: Objective>(
    model: Step<O>,
    loaders: Loaders<O::Batch>,
    metrics: impl FnOnce(SupervisedTraining<Step<O>>) -> SupervisedTraining<Step<O>>,
    train: &TrainSection,
    dir: &Path,
    resume: Option<usize>,
) -> anyhow::Result<Fitted<Step<O>>> {
    let checkpoints = dir.join("checkpoint");
    let ck = |name| {
        AtomicCheckpointer::new(&checkpoints, name)
            .with_context(|| format!("cannot create {}", checkpoints.display()))
    };
    let devices = train
        .devices
        .iter()
        .map(|name| crate::device::parse(name).map(Device::autodiff))
        .collect::<anyhow::Result<Vec<_>>>()?;
    // Each optimiser step takes one batch per device.
    let steps_per_epoch = loaders.steps_per_epoch.div_ceil(devices.len().max(1));
    let schedule = LrSchedule::new(train, train.epochs * steps_per_epoch.max(1));
    let plateau = schedule.plateau();
    let optimizer = if train.weight_decay > 0.0 {
        AdamWConfig::new()
            .with_weight_decay(train.weight_decay as f32)
            .init()
    } else {
        AdamConfig::new().init()
    };
    let csv = dir.join("metrics.csv");
    if let Some(epoch) = resume {
        History::truncate(&csv, epoch)?;
        // Temporary files of a write that a kill interrupted.
        if let Ok(entries) = std::fs::read_dir(&checkpoints) {
            for entry in entries.flatten() {
                if entry.path().extension().is_some_and(|e| e == "tmp") {
                    let _ = std::fs::remove_file(entry.path());
                }
            }
        }
    }
    let clock = model.policy.reseed.as_ref().map(|r| r.clock.clone());
    let train_loader =
        Arc::new(ResumedLoader::new(loaders.train, resume.unwrap_or(0)).with_clock(clock));
    let mut training = SupervisedTraining::new(dir, train_loader, loaders.valid)
        .metric_train_numeric(LossMetric::new())
        .metric_valid_numeric(LossMetric::new())
        .num_epochs(train.epochs)
        .with_metric_logger(RunMetricLog::new(&History::read(&csv)?))
        .with_custom_checkpointers(ck("model")?, ck("optim")?, ck("scheduler")?);
    training = metrics(training);
    if devices.len() > 1 {
        training = training.with_training_strategy(
            ExecutionStrategy::multi(devices, MultiDeviceOptim::OptimMainDevice).into(),
        );
    }
    // Keep the last two epochs (for resume) and the best one by the selection metric; every
    // epoch when the kept weights average several.
    let last = match train.average > 1 {
        true => train.epochs,
        false => 2,
    };
    let keep = ComposedCheckpointingStrategy::builder().add(KeepLastNCheckpoints::new(last));
    let keep = if train.keep_best_by == KeepBestBy::Accuracy {
        keep.add(MetricCheckpointingStrategy::new(
            &AccuracyMetric::new(),
            Aggregate::Mean,
            Direction::Highest,
            Split::Valid,
        ))
    } else {
        keep.add(MetricCheckpointingStrategy::new(
            &LossMetric::new(),
            Aggregate::Mean,
            Direction::Lowest,
            Split::Valid,
        ))
    };
    training = training.with_checkpointing_strategy(keep.build());
    if train.early_stopping > 0 {
        training = training.early_stopping(ValidLossPatience {
            patience: train.early_stopping,
        });
    }
    if let Some(epoch) = resume {
        training = training.checkpoint(epoch);
    }
    let interrupter = training.interrupter();
    let tui = std::io::stdout().is_terminal().then(|| {
        Box::new(TuiMetricsRendererWrapper::new(interrupter.clone(), resume))
            as Box<dyn burn::train::renderer::MetricsRenderer>
    });
    let renderer = RunRenderer::new(csv.clone(), interrupter, tui)
        .with_plateau(plateau)
        .with_steps(loaders.steps_per_epoch, train.log_every);
    let stop_reason = renderer.stop_reason();
    let training = training.renderer(Box::new(renderer));

    let learner = Learner::new(model, optimizer, schedule);
    let result = training.launch(learner);
    // Dropping the renderer closes the dashboard now. (burn's `manual_close` would keep it open
    // until the user presses `q`: a terminal run, or a sweep, would then never finish.)
    drop(result.renderer);
    if let Some(error) = &result.error {
        anyhow::bail!("training failed: {error}");
    }
    let stopped = stop_reason
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();
    let history = History::read(&csv)?;
    let epochs_run = history.last_epoch().unwrap_or(0);
    let model = result.model;
    let mut epoch = epochs_run;
    let best = match train.keep_best_by {
        KeepBestBy::Accuracy => history.best_epoch_max("valid", "Accuracy"),
        KeepBestBy::Loss => history.best_epoch("valid", "Loss"),
    };
    if let Some(reason) = &stopped {
        // The weights after the bad step are not kept: the last checkpoint is the last good one.
        let Some(good) = checkpoint::latest_complete(&checkpoints) else {
            return Ok(Fitted {
                model,
                epoch: 0,
                epochs_run,
                stopped: Some(format!(
                    "{reason}; no epoch had finished, so no model was saved"
                )),
                averaged: 1,
            });
        };
        // With `keep_best`, the best epoch before the divergence, when its checkpoint is kept
        // (the best one always is); else the last good one.
        let kept = fallback_epoch(best, good, train.keep_best, |e| {
            checkpoint::path(&checkpoints, "model", e).is_file()
        });
        let (model, averaged) = kept_weights(model, &checkpoints, kept, train, true)?;
        save_model(&model.model, &dir.join(MODEL_FILE))?;
        let which = match kept == good {
            true => "the last good checkpoint",
            false => "the best checkpoint (train.keep_best)",
        };
        return Ok(Fitted {
            model,
            epoch: kept,
            epochs_run,
            stopped: Some(format!(
                "{reason}; {} holds {which} (epoch {kept})",
                dir.join(MODEL_FILE).display()
            )),
            averaged,
        });
    }
    if train.keep_best
        && let Some(best) = best
    {
        epoch = best;
    }
    // The weights in memory are the last epoch's.
    let (model, averaged) = kept_weights(model, &checkpoints, epoch, train, epoch != epochs_run)?;
    save_model(&model.model, &dir.join(MODEL_FILE))?;
    Ok(Fitted {
        model,
        epoch,
        epochs_run,
        stopped,
        averaged,
    })
}

/// The kept weights of a run whose epochs all finished but whose `model.bpk` was never written
/// (a kill between the last checkpoint and the end): the best epoch's checkpoint with
/// `train.keep_best` (by `metrics.csv`), else the last complete one, loaded into `model` and
/// saved as `dir/model.bpk`.
pub fn kept_from_checkpoints<O: Objective>(
    model: Step<O>,
    train: &TrainSection,
    dir: &Path,
) -> anyhow::Result<Fitted<Step<O>>> {
    let checkpoints = dir.join("checkpoint");
    let last = checkpoint::latest_complete(&checkpoints).with_context(|| {
        format!(
            "{}: no complete checkpoint to finish from",
            checkpoints.display()
        )
    })?;
    let history = History::read(&dir.join("metrics.csv"))?;
    let best = match train.keep_best_by {
        KeepBestBy::Accuracy => history.best_epoch_max("valid", "Accuracy"),
        KeepBestBy::Loss => history.best_epoch("valid", "Loss"),
    };
    let kept = fallback_epoch(best, last, train.keep_best, |e| {
        checkpoint::path(&checkpoints, "model", e).is_file()
    });
    let (model, averaged) = kept_weights(model, &checkpoints, kept, train, true)?;
    save_model(&model.model, &dir.join(MODEL_FILE))?;
    Ok(Fitted {
        model,
        epoch: kept,
        epochs_run: history.last_epoch().unwrap_or(last),
        stopped: None,
        averaged,
    })
}

/// The weights kept for epoch `kept`: read from its checkpoint when `load` (else `model`
/// already holds them), or with `train.average = n > 1` the mean of the checkpoints of the
/// `n` epochs ending at `kept`; with how many epochs were averaged.
fn kept_weights<O: Objective>(
    model: Step<O>,
    checkpoints: &Path,
    kept: usize,
    train: &TrainSection,
    load: bool,
) -> anyhow::Result<(Step<O>, usize)> {
    let epochs = super::average::window(kept, train.average);
    let n = epochs.clone().count();
    if n > 1 {
        return Ok((
            super::average::from_checkpoints(model, checkpoints, epochs)?,
            n,
        ));
    }
    if !load {
        return Ok((model, 1));
    }
    let path = checkpoint::path(checkpoints, "model", kept);
    let record = ModuleRecord::load(path.clone())
        .map_err(|e| anyhow::anyhow!("{}: cannot read: {e:?}", path.display()))?;
    Ok((model.load_record(record), 1))
}

/// The epoch whose weights a diverged run keeps: with `keep_best`, the best epoch by the
/// selection metric when it is not after `good` (the last complete checkpoint) and its model
/// checkpoint `exists`; else `good`.
fn fallback_epoch(
    best: Option<usize>,
    good: usize,
    keep_best: bool,
    exists: impl Fn(usize) -> bool,
) -> usize {
    match best {
        Some(b) if keep_best && b <= good && exists(b) => b,
        _ => good,
    }
}

/// Saves `model` as burnpack at `path`, through a temporary file and a rename.
pub fn save_model<M: Module>(model: &M, path: &Path) -> anyhow::Result<()> {
    let tmp = path.with_extension("bpk.tmp");
    let mut store = BurnpackStore::from_file(&tmp)
        .auto_extension(false)
        .overwrite(true);
    model
        .save_into(&mut store)
        .map_err(|e| anyhow::anyhow!("cannot save {}: {e:?}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))
}

/// Loads the weights at `path` into `model` (built from the run's config); a missing file or
/// tensors that do not fit the config are errors naming the file.
pub fn load_model<M: Module>(model: &mut M, path: &Path) -> anyhow::Result<()> {
    if !path.is_file() {
        anyhow::bail!(
            "{}: missing; is this a finished run directory?",
            path.display()
        );
    }
    // The store validates shapes and refuses missing tensors: its error names them.
    let mut store = BurnpackStore::from_file(path);
    model
        .load_from(&mut store)
        .map_err(|e| anyhow::anyhow!("{}: does not fit the run's config: {e}", path.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::fallback_epoch;

    #[test]
    fn a_diverged_run_keeps_its_best_epoch_when_asked() {
        let all = |_| true;
        assert_eq!(fallback_epoch(Some(2), 5, true, all), 2);
        assert_eq!(fallback_epoch(Some(2), 5, false, all), 5, "keep_best off");
        assert_eq!(
            fallback_epoch(Some(6), 5, true, all),
            5,
            "best after the divergence"
        );
        assert_eq!(
            fallback_epoch(Some(2), 5, true, |e| e != 2),
            5,
            "checkpoint gone"
        );
        assert_eq!(fallback_epoch(None, 5, true, all), 5);
    }
}
