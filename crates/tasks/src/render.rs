//! [`RunRenderer`]: what a training run shows and records.
//!
//! - On a terminal it drives burn's TUI dashboard; elsewhere (CI, `| tee`) it prints one
//!   readable line per epoch with the train and valid means of every numeric metric, since
//!   burn's CLI renderer prints debug dumps without values (tracel-ai/burn#2302).
//! - Either way it appends each epoch's means to `metrics.csv` (`epoch,split,metric,value`).
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
        }
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
        if let Some(value) = value {
            match split {
                Split::Train => self.train.add(name, value),
                Split::Valid => self.valid.add(name, value),
            }
        }
    }

    fn stop(&mut self, reason: String) {
        let mut stopped = self.stopped.lock().expect("stop reason poisoned");
        if stopped.is_none() {
            self.interrupter.stop(Some(&reason));
            *stopped = Some(reason);
        }
    }

    fn write_csv(&self, split: &str, means: &BTreeMap<String, f64>) {
        let new = !self.csv.exists();
        if let Ok(mut file) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.csv)
        {
            if new {
                let _ = writeln!(file, "epoch,split,metric,value");
            }
            for (name, value) in means {
                let _ = writeln!(file, "{},{split},{name},{value}", self.epoch);
            }
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
        if let Some(tui) = &mut self.tui {
            tui.start_split(split, total_items);
        }
    }

    fn update_split(&mut self, items_processed: usize) {
        self.iteration += 1;
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
