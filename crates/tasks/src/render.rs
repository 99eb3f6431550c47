//! [`LineRenderer`]: one readable line per epoch (train and valid loss, plus any other numeric
//! metric) for logs and pipes, where burn's CLI renderer prints debug dumps without values
//! (tracel-ai/burn#2302); every epoch's means also go to `metrics.csv`.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;

use burn::train::logger::{EvaluationProgressLogger, TrainingProgressLogger};
use burn::train::metric::{MetricDefinition, MetricId, NumericEntry};
use burn::train::renderer::{
    EvaluationName, MetricState, MetricsRenderer, MetricsRendererEvaluation,
    MetricsRendererTraining,
};

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

/// Prints `epoch 3/10  train loss 1.8123  valid loss 1.9034` once per epoch and appends the same
/// numbers to `metrics.csv` (`epoch,split,metric,value`).
pub struct LineRenderer {
    names: std::collections::HashMap<MetricId, String>,
    train: Means,
    valid: Means,
    epoch: usize,
    total_epochs: usize,
    last_train: BTreeMap<String, f64>,
    csv: PathBuf,
}

impl LineRenderer {
    /// A renderer that writes `metrics.csv` at `csv`.
    pub fn new(csv: PathBuf) -> Self {
        Self {
            names: std::collections::HashMap::new(),
            train: Means::default(),
            valid: Means::default(),
            epoch: 1,
            total_epochs: 0,
            last_train: BTreeMap::new(),
            csv,
        }
    }

    fn record(&mut self, split: Split, state: MetricState) {
        if let MetricState::Numeric(entry, Some(value)) = state {
            let name = self
                .names
                .get(&entry.metric_id)
                .cloned()
                .unwrap_or_else(|| format!("{:?}", entry.metric_id));
            match split {
                Split::Train => self.train.add(name, &value),
                Split::Valid => self.valid.add(name, &value),
            }
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

impl MetricsRendererTraining for LineRenderer {
    fn update_train(&mut self, state: MetricState) {
        self.record(Split::Train, state);
    }

    fn update_valid(&mut self, state: MetricState) {
        self.record(Split::Valid, state);
    }
}

impl MetricsRendererEvaluation for LineRenderer {
    fn update_test(&mut self, _name: EvaluationName, _state: MetricState) {}
}

impl TrainingProgressLogger for LineRenderer {
    fn start(
        &mut self,
        total_epochs: usize,
        starting_epoch: usize,
        _total_items: Option<usize>,
        _label: Option<&str>,
    ) {
        self.total_epochs = total_epochs;
        self.epoch = starting_epoch.max(1);
    }

    fn update_epoch(&mut self, _epoch: usize) {
        // The epoch is counted at the end of each validation split (see `end_split`).
    }

    fn start_split(&mut self, _split: &str, _total_items: usize) {}

    fn update_split(&mut self, _items_processed: usize) {}

    fn end_split(&mut self) {
        let train = self.train.take();
        if !train.is_empty() {
            self.write_csv("train", &train);
            self.last_train = train;
            return;
        }
        let valid = self.valid.take();
        if !valid.is_empty() {
            self.write_csv("valid", &valid);
            println!(
                "epoch {}/{}{}{}",
                self.epoch,
                self.total_epochs,
                format_means("train", &self.last_train),
                format_means("valid", &valid)
            );
            self.epoch += 1;
        }
    }

    fn end(&mut self) {}

    fn log_event_training(&mut self, _event: String) {
        // burn-train reports every iteration here; the per-epoch line says what matters.
    }
}

impl EvaluationProgressLogger for LineRenderer {
    fn start_global_progress(&mut self, _total_tests: usize) {}
    fn start_test(&mut self, _name: &str, _total_items: usize) {}
    fn update_test_progress(&mut self, _items_processed: usize) {}
    fn end_test(&mut self) {}
    fn end_global_progress(&mut self) {}
    fn log_event_evaluation(&mut self, event: String) {
        println!("{event}");
    }
}

impl MetricsRenderer for LineRenderer {
    fn manual_close(&mut self) {}

    fn register_metric(&mut self, definition: MetricDefinition) {
        self.names
            .insert(definition.metric_id.clone(), definition.name.to_string());
    }
}
