//! [`RunRenderer`]: what a training run shows and records. (Over 400 lines because burn's
//! renderer is five traits whose every method must also be forwarded to the dashboard.)
//!
//! - On a terminal it drives burn's TUI dashboard; elsewhere (CI, `| tee`) it prints one
//!   readable line per epoch with the train and valid means of every numeric metric, since
//!   burn's CLI renderer prints debug dumps without values (tracel-ai/burn#2302).
//! - Either way it appends each epoch's means to `metrics.csv`
//!   (`epoch,step,split,metric,value`), and every `train.log_every` steps the mean training
//!   loss of those steps (split `train_steps`); on a pipe it prints a progress line every ten
//!   such rows (or after 30 s without one): step, loss, items/s and the epoch's ETA.
//! - It watches the training loss: a NaN or infinite loss stops the run through burn's
//!   [`Interrupter`] (the step that produced it applied no update; see
//!   [`crate::training::grad_clip::gradients`]).
//! - It feeds each epoch's validation loss to the reduce-on-plateau schedule.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use burn::train::Interrupter;
use burn::train::logger::{EvaluationProgressLogger, TrainingProgressLogger};
use burn::train::metric::{MetricDefinition, MetricId, NumericEntry};
use burn::train::renderer::{
    EvaluationName, MetricState, MetricsRenderer, MetricsRendererEvaluation,
    MetricsRendererTraining,
};

use crate::training::schedule::Plateau;

/// Each numeric metric over one split of one epoch: burn's final epoch value when it sends
/// one, else the mean of the per-batch values.
#[derive(Default)]
struct Means {
    sums: BTreeMap<String, (f64, usize, Option<f64>)>,
}

impl Means {
    fn add(&mut self, name: String, entry: &NumericEntry) {
        let slot = self.sums.entry(name).or_default();
        match entry {
            NumericEntry::Value(v) => {
                slot.0 += v;
                slot.1 += 1;
            }
            NumericEntry::Aggregated {
                aggregated_value,
                count,
            } => {
                slot.0 += aggregated_value * *count as f64;
                slot.1 += count;
            }
            NumericEntry::Final(v) => slot.2 = Some(*v),
        }
    }

    fn take(&mut self) -> BTreeMap<String, f64> {
        std::mem::take(&mut self.sums)
            .into_iter()
            .map(|(k, (s, n, last))| (k, last.unwrap_or(s / n.max(1) as f64)))
            .collect()
    }
}

/// Why training stopped early, when the renderer stopped it.
pub type StopReason = Arc<Mutex<Option<String>>>;

/// The renderer of a training run (see the module docs).
pub struct RunRenderer {
    names: HashMap<MetricId, String>,
    train: Means,
    valid: Means,
    epoch: usize,
    iteration: usize,
    total_epochs: usize,
    last_train: BTreeMap<String, f64>,
    csv: PathBuf,
    tui: Option<Box<dyn MetricsRenderer>>,
    interrupter: Interrupter,
    plateau: Option<Plateau>,
    stopped: StopReason,
    progress: Progress,
}

/// Step-level logging and progress lines.
#[derive(Default)]
struct Progress {
    steps_per_epoch: usize,
    log_every: usize,
    /// Optimiser steps done since the run started (resumed runs count the epochs before).
    step: usize,
    in_train: bool,
    total_items: usize,
    started: Option<std::time::Instant>,
    last_print: Option<std::time::Instant>,
    loss_sum: f64,
    loss_count: usize,
    last_loss: f64,
}

impl RunRenderer {
    /// A renderer writing `csv`, stopping training through `interrupter` on a non-finite loss,
    /// and showing burn's TUI dashboard when `tui` is given.
    pub fn new(
        csv: PathBuf,
        interrupter: Interrupter,
        tui: Option<Box<dyn MetricsRenderer>>,
    ) -> Self {
        Self {
            names: HashMap::new(),
            train: Means::default(),
            valid: Means::default(),
            epoch: 1,
            iteration: 0,
            total_epochs: 0,
            last_train: BTreeMap::new(),
            csv,
            tui,
            interrupter,
            plateau: None,
            stopped: StopReason::default(),
            progress: Progress::default(),
        }
    }

    /// Logs the training loss every `log_every` of the `steps_per_epoch` steps (0 = about 50
    /// times per epoch).
    pub fn with_steps(mut self, steps_per_epoch: usize, log_every: usize) -> Self {
        self.progress.steps_per_epoch = steps_per_epoch;
        self.progress.log_every = match log_every {
            0 => steps_per_epoch.div_ceil(50).max(1),
            n => n,
        };
        self
    }

    /// Feeds each epoch's validation loss to `plateau`.
    pub fn with_plateau(mut self, plateau: Plateau) -> Self {
        self.plateau = Some(plateau);
        self
    }

    /// Where the reason for an early stop is left.
    pub fn stop_reason(&self) -> StopReason {
        self.stopped.clone()
    }

    fn record(&mut self, split: Split, state: &MetricState) {
        let MetricState::Numeric(entry, value) = state else {
            return;
        };
        let name = self
            .names
            .get(&entry.metric_id)
            .cloned()
            .unwrap_or_else(|| format!("{:?}", entry.metric_id));
        if let (Split::Train, "Loss") = (split, name.as_str()) {
            // burn drops NaN values (a tick without a value); infinities come through.
            let bad = match value {
                None => Some(f64::NAN),
                Some(NumericEntry::Value(v) | NumericEntry::Final(v)) if !v.is_finite() => Some(*v),
                Some(NumericEntry::Aggregated {
                    aggregated_value: v,
                    ..
                }) if !v.is_finite() => Some(*v),
                _ => None,
            };
            if let Some(v) = bad {
                self.stop(format!(
                    "the training loss became {v} at epoch {} iteration {}",
                    self.epoch, self.iteration
                ));
            }
        }
        let step_loss = match value {
            Some(NumericEntry::Value(v)) => Some(*v),
            Some(NumericEntry::Aggregated {
                aggregated_value, ..
            }) => Some(*aggregated_value),
            _ => None,
        };
        if let (Split::Train, "Loss", Some(v)) = (split, name.as_str(), step_loss)
            && v.is_finite()
        {
            self.progress.loss_sum += v;
            self.progress.loss_count += 1;
            self.progress.last_loss = v;
        }
        if let Some(value) = value {
            match split {
                Split::Train => self.train.add(name, value),
                Split::Valid => self.valid.add(name, value),
            }
        }
    }

    fn stop(&mut self, reason: String) {
        let mut stopped = self
            .stopped
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if stopped.is_none() {
            self.interrupter.stop(Some(&reason));
            *stopped = Some(reason);
        }
    }

    /// Appends rows; a failed write (a full disk) stops training with a message naming the
    /// file, since the rows are what resume, early stopping and `loss.svg` read.
    fn write_csv(&mut self, split: &str, means: &BTreeMap<String, f64>) {
        let new = !self.csv.exists();
        // One write per call, so a kill cannot leave half a row behind another.
        let mut text = String::new();
        if new {
            text.push_str(super::history::HEADER);
            text.push('\n');
        }
        for (name, value) in means {
            text.push_str(&format!(
                "{},{},{split},{name},{value}\n",
                self.epoch, self.progress.step
            ));
        }
        let written = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.csv)
            .and_then(|mut file| file.write_all(text.as_bytes()));
        if let Err(e) = written {
            self.stop(format!("{}: cannot write: {e}", self.csv.display()));
        }
    }

    /// After each training step: the step-loss row and the progress line when due.
    fn after_train_step(&mut self, items: usize) {
        let p = &mut self.progress;
        p.step += 1;
        let now = std::time::Instant::now();
        let started = *p.started.get_or_insert(now);
        let due = p.log_every > 0 && p.step.is_multiple_of(p.log_every);
        if due && p.loss_count > 0 {
            let mean = p.loss_sum / p.loss_count as f64;
            (p.loss_sum, p.loss_count) = (0.0, 0);
            self.write_csv("train_steps", &BTreeMap::from([("Loss".to_string(), mean)]));
        }
        let p = &mut self.progress;
        let quiet_for = now.duration_since(p.last_print.unwrap_or(started));
        // A line about five times per epoch (every 10 × log_every steps), or after 30 s quiet.
        let print_every = p.log_every.saturating_mul(10).max(1);
        if self.tui.is_none() && (p.step.is_multiple_of(print_every) || quiet_for.as_secs() >= 30) {
            p.last_print = Some(now);
            let secs = now.duration_since(started).as_secs_f64().max(1e-9);
            let rate = items as f64 / secs;
            let left = p.total_items.saturating_sub(items) as f64 / rate.max(1e-9);
            let in_epoch = self.iteration;
            println!(
                "epoch {}/{} step {in_epoch}/{}  loss {:.4}  {:.0} items/s  ETA {}:{:02}",
                self.epoch,
                self.total_epochs,
                p.steps_per_epoch,
                p.last_loss,
                rate,
                (left as u64) / 60,
                (left as u64) % 60
            );
        }
    }
}

#[derive(Clone, Copy)]
enum Split {
    Train,
    Valid,
}

fn format_means(split: &str, means: &BTreeMap<String, f64>) -> String {
    means
        .iter()
        .map(|(name, v)| format!("  {split} {} {v:.4}", name.to_lowercase()))
        .collect()
}

impl MetricsRendererTraining for RunRenderer {
    fn update_train(&mut self, state: MetricState) {
        self.record(Split::Train, &state);
        if let Some(tui) = &mut self.tui {
            tui.update_train(state);
        }
    }

    fn update_valid(&mut self, state: MetricState) {
        self.record(Split::Valid, &state);
        if let Some(tui) = &mut self.tui {
            tui.update_valid(state);
        }
    }

    fn on_train_end(
        &mut self,
        summary: Option<burn::train::LearnerSummary>,
    ) -> Result<(), Box<dyn core::error::Error>> {
        match &mut self.tui {
            Some(tui) => tui.on_train_end(summary),
            None => Ok(()),
        }
    }
}

impl MetricsRendererEvaluation for RunRenderer {
    fn update_test(&mut self, name: EvaluationName, state: MetricState) {
        if let Some(tui) = &mut self.tui {
            tui.update_test(name, state);
        }
    }
}

impl TrainingProgressLogger for RunRenderer {
    fn start(
        &mut self,
        total_epochs: usize,
        starting_epoch: usize,
        total_items: Option<usize>,
        label: Option<&str>,
    ) {
        self.total_epochs = total_epochs;
        self.epoch = starting_epoch.max(1);
        self.progress.step = (self.epoch - 1) * self.progress.steps_per_epoch;
        if let Some(tui) = &mut self.tui {
            tui.start(total_epochs, starting_epoch, total_items, label);
        }
    }

    fn update_epoch(&mut self, epoch: usize) {
        // The epoch is counted at the end of each validation split (see `end_split`).
        if let Some(tui) = &mut self.tui {
            tui.update_epoch(epoch);
        }
    }

    fn start_split(&mut self, split: &str, total_items: usize) {
        self.iteration = 0;
        self.progress.in_train = split.eq_ignore_ascii_case("train");
        self.progress.total_items = total_items;
        self.progress.started = None;
        self.progress.last_print = None;
        // Each epoch's step rows average its own steps only (so a resumed epoch repeats them).
        (self.progress.loss_sum, self.progress.loss_count) = (0.0, 0);
        if let Some(tui) = &mut self.tui {
            tui.start_split(split, total_items);
        }
    }

    fn update_split(&mut self, items_processed: usize) {
        self.iteration += 1;
        if self.progress.in_train {
            self.after_train_step(items_processed);
        }
        if let Some(tui) = &mut self.tui {
            tui.update_split(items_processed);
        }
    }

    fn end_split(&mut self) {
        if let Some(tui) = &mut self.tui {
            tui.end_split();
        }
        let train = self.train.take();
        if !train.is_empty() {
            self.write_csv("train", &train);
            self.last_train = train;
            return;
        }
        let valid = self.valid.take();
        if !valid.is_empty() {
            self.write_csv("valid", &valid);
            let mut line = format!(
                "epoch {}/{}{}{}",
                self.epoch,
                self.total_epochs,
                format_means("train", &self.last_train),
                format_means("valid", &valid)
            );
            if let (Some(plateau), Some(loss)) = (&self.plateau, valid.get("Loss"))
                && let Some(scale) = plateau.observe(*loss)
            {
                line.push_str(&format!("  (plateau: learning rate ×{scale})"));
            }
            if self.tui.is_none() {
                println!("{line}");
            }
            self.epoch += 1;
        }
    }

    fn end(&mut self) {
        if let Some(tui) = &mut self.tui {
            tui.end();
        }
    }

    fn log_event_training(&mut self, event: String) {
        // burn-train reports every iteration here; the per-epoch line says what matters.
        if let Some(tui) = &mut self.tui {
            tui.log_event_training(event);
        }
    }
}

impl EvaluationProgressLogger for RunRenderer {
    fn start_global_progress(&mut self, total_tests: usize) {
        if let Some(tui) = &mut self.tui {
            tui.start_global_progress(total_tests);
        }
    }
    fn start_test(&mut self, name: &str, total_items: usize) {
        if let Some(tui) = &mut self.tui {
            tui.start_test(name, total_items);
        }
    }
    fn update_test_progress(&mut self, items_processed: usize) {
        if let Some(tui) = &mut self.tui {
            tui.update_test_progress(items_processed);
        }
    }
    fn end_test(&mut self) {
        if let Some(tui) = &mut self.tui {
            tui.end_test();
        }
    }
    fn end_global_progress(&mut self) {
        if let Some(tui) = &mut self.tui {
            tui.end_global_progress();
        }
    }
    fn log_event_evaluation(&mut self, event: String) {
        match &mut self.tui {
            Some(tui) => tui.log_event_evaluation(event),
            None => println!("{event}"),
        }
    }
}

impl MetricsRenderer for RunRenderer {
    fn manual_close(&mut self) {
        if let Some(tui) = &mut self.tui {
            tui.manual_close();
        }
    }

    fn register_metric(&mut self, definition: MetricDefinition) {
        self.names
            .insert(definition.metric_id.clone(), definition.name.to_string());
        if let Some(tui) = &mut self.tui {
            tui.register_metric(definition);
        }
    }
}
