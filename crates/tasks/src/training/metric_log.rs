//! [`RunMetricLog`]: burn-train's metric store without files of its own. burn's default
//! `FileMetricLogger` writes `train/epoch-N/*.log` from a background thread that panics when a
//! write fails (a full disk); this store keeps the running process's entries in memory and
//! answers for the epochs before a resume from `metrics.csv`, which the run writes itself and
//! whose write errors stop training with a message.

use std::collections::HashMap;

use burn::train::logger::MetricLogger;
use burn::train::metric::store::{EpochSummary, MetricsUpdate, Split};
use burn::train::metric::{MetricDefinition, MetricId, NumericEntry};

use super::history::History;

/// (metric name, split, epoch).
type Key = (String, String, usize);

/// The metric entries early stopping and best-epoch checkpointing read.
#[derive(Default)]
pub struct RunMetricLog {
    names: HashMap<MetricId, String>,
    /// This process's entries, serialised as burn serialises them.
    entries: HashMap<Key, Vec<String>>,
    /// Epoch means of the epochs a resumed run did before (`metrics.csv`).
    before: HashMap<Key, f64>,
}

impl RunMetricLog {
    /// A store that knows the epoch means of `history` (empty for a new run).
    pub fn new(history: &History) -> Self {
        let before = history
            .rows
            .iter()
            .filter(|r| r.split == "train" || r.split == "valid")
            .map(|r| ((r.metric.clone(), r.split.clone(), r.epoch), r.value))
            .collect();
        Self {
            before,
            ..Self::default()
        }
    }
}

impl MetricLogger for RunMetricLog {
    fn log(&mut self, update: MetricsUpdate, epoch: usize, split: &Split) {
        for numeric in update.entries_numeric {
            let entry = numeric.entry;
            if entry.serialized_entry.is_not_available() {
                continue;
            }
            let Some(name) = self.names.get(&entry.metric_id) else {
                continue;
            };
            self.entries
                .entry((name.clone(), split.to_string(), epoch))
                .or_default()
                .push(entry.serialized_entry.serialized);
        }
    }

    fn read_numeric(
        &mut self,
        name: &str,
        epoch: usize,
        split: &Split,
    ) -> Result<Vec<NumericEntry>, String> {
        let key = (name.to_string(), split.to_string(), epoch);
        if let Some(entries) = self.entries.get(&key) {
            return entries
                .iter()
                .map(|e| NumericEntry::deserialize(e))
                .collect();
        }
        Ok(self
            .before
            .get(&key)
            .map(|&mean| vec![NumericEntry::Final(mean)])
            .unwrap_or_default())
    }

    fn log_metric_definition(&mut self, definition: MetricDefinition) {
        self.names
            .insert(definition.metric_id, definition.name.to_string());
    }

    fn log_epoch_summary(&mut self, _summary: EpochSummary) {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::training::history::Row;

    #[test]
    fn earlier_epochs_come_from_the_history_and_unknown_ones_are_empty() {
        let row = |epoch, split: &str, value| Row {
            epoch,
            step: 10 * epoch,
            split: split.into(),
            metric: "Loss".into(),
            value,
        };
        let history = History {
            rows: vec![
                row(1, "train", 2.5),
                row(1, "valid", 2.25),
                row(1, "train_steps", 9.0),
            ],
        };
        let mut log = RunMetricLog::new(&history);
        let read = |log: &mut RunMetricLog, epoch, split| log.read_numeric("Loss", epoch, &split);
        let mean = |v: Result<Vec<NumericEntry>, String>| match v.unwrap().as_slice() {
            [NumericEntry::Final(x)] => Some(*x),
            [] => None,
            other => panic!("{other:?}"),
        };
        assert_eq!(mean(read(&mut log, 1, Split::Valid)), Some(2.25));
        assert_eq!(mean(read(&mut log, 1, Split::Train)), Some(2.5));
        assert_eq!(mean(read(&mut log, 2, Split::Valid)), None);
    }
}
