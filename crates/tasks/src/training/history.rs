//! `metrics.csv` (`epoch,step,split,metric,value`; files of the older `epoch,split,metric,value`
//! form read with step 0), read back: the best epoch for `keep_best`, the
//! curves for plots, and truncation when a run resumes from an earlier checkpoint.

use std::path::Path;

use anyhow::Context;

/// The header of `metrics.csv`.
pub const HEADER: &str = "epoch,step,split,metric,value";

/// One row of `metrics.csv`.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    /// 1-based epoch.
    pub epoch: usize,
    /// Optimiser steps done when the row was written (since the run started).
    pub step: usize,
    /// `train` or `valid` (epoch means), or `train_steps` (the mean over the last
    /// `train.log_every` steps).
    pub split: String,
    /// burn's metric name (`Loss`, `Accuracy`, ...).
    pub metric: String,
    /// The epoch's mean.
    pub value: f64,
}

/// The rows of a run's `metrics.csv`.
#[derive(Clone, Debug, Default)]
pub struct History {
    /// In file order.
    pub rows: Vec<Row>,
}

impl History {
    /// Reads `path`; a missing file is an empty history, a malformed line an error naming it.
    pub fn read(path: &Path) -> anyhow::Result<Self> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Self::default()),
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
        };
        let mut rows = Vec::new();
        // A last line without its newline is a row a kill cut short: it is dropped (a resumed
        // run writes it again), not an error.
        let complete = match text.rfind('\n') {
            Some(end) => &text[..=end],
            None => "",
        };
        for (i, line) in complete.lines().enumerate().skip(1) {
            let bad = || anyhow::anyhow!("{}:{}: expected `{HEADER}`", path.display(), i + 1);
            let parts: Vec<&str> = line.split(',').collect();
            let (epoch, step, split, metric, value) = match parts[..] {
                [e, st, sp, m, v] => (e, st, sp, m, v),
                [e, sp, m, v] => (e, "0", sp, m, v),
                _ => return Err(bad()),
            };
            rows.push(Row {
                epoch: epoch.parse().map_err(|_| bad())?,
                step: step.parse().map_err(|_| bad())?,
                split: split.into(),
                metric: metric.into(),
                value: value.parse().map_err(|_| bad())?,
            });
        }
        Ok(Self { rows })
    }

    /// Drops the rows of epochs after `epoch` (a resumed run redoes them), atomically.
    pub fn truncate(path: &Path, epoch: usize) -> anyhow::Result<()> {
        let history = Self::read(path)?;
        let mut text = format!("{HEADER}\n");
        for r in history.rows.iter().filter(|r| r.epoch <= epoch) {
            text.push_str(&format!(
                "{},{},{},{},{}\n",
                r.epoch, r.step, r.split, r.metric, r.value
            ));
        }
        rnnlab_data::io::write_atomic(path, text.as_bytes())?;
        Ok(())
    }

    /// The last epoch with a validation row.
    pub fn last_epoch(&self) -> Option<usize> {
        self.rows
            .iter()
            .filter(|r| r.split == "valid")
            .map(|r| r.epoch)
            .max()
    }

    /// `(epoch, value)` of `metric` on `split`, in epoch order.
    pub fn curve(&self, split: &str, metric: &str) -> Vec<(usize, f64)> {
        self.points(split, metric, |r| r.epoch)
    }

    /// `(step, value)` of `metric` on `split`, in step order.
    pub fn by_step(&self, split: &str, metric: &str) -> Vec<(usize, f64)> {
        self.points(split, metric, |r| r.step)
    }

    fn points(&self, split: &str, metric: &str, x: fn(&Row) -> usize) -> Vec<(usize, f64)> {
        let mut points: Vec<(usize, f64)> = self
            .rows
            .iter()
            .filter(|r| r.split == split && r.metric == metric)
            .map(|r| (x(r), r.value))
            .collect();
        points.sort_by_key(|p| p.0);
        points
    }

    /// The epoch with the lowest finite `metric` on `split` (the first one on ties).
    pub fn best_epoch(&self, split: &str, metric: &str) -> Option<usize> {
        self.curve(split, metric)
            .into_iter()
            .filter(|p| p.1.is_finite())
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .map(|p| p.0)
    }

    /// The epoch with the highest finite `metric` on `split` (the first one on ties).
    pub fn best_epoch_max(&self, split: &str, metric: &str) -> Option<usize> {
        self.curve(split, metric)
            .into_iter()
            .filter(|p| p.1.is_finite())
            .rev()
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .map(|p| p.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_finds_the_best_epoch_and_truncates() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("metrics.csv");
        std::fs::write(
            &path,
            "epoch,split,metric,value\n1,train,Loss,2\n1,valid,Loss,1.5\n2,train,Loss,1\n\
             2,valid,Loss,1.2\n3,train,Loss,0.5\n3,valid,Loss,1.3\n",
        )
        .unwrap();
        let h = History::read(&path).unwrap();
        assert_eq!(h.last_epoch(), Some(3));
        assert_eq!(h.best_epoch("valid", "Loss"), Some(2));
        assert_eq!(h.best_epoch_max("valid", "Loss"), Some(1));
        assert_eq!(h.curve("train", "Loss"), vec![(1, 2.0), (2, 1.0), (3, 0.5)]);
        History::truncate(&path, 1).unwrap();
        assert_eq!(History::read(&path).unwrap().last_epoch(), Some(1));
        std::fs::write(&path, "epoch,split,metric,value\n1,valid,Loss\n").unwrap();
        let err = History::read(&path).unwrap_err().to_string();
        assert!(
            err.ends_with("metrics.csv:2: expected `epoch,step,split,metric,value`"),
            "{err}"
        );
        std::fs::write(
            &path,
            "epoch,step,split,metric,value\n1,5,train_steps,Loss,2.5\n1,10,valid,Loss,2\n",
        )
        .unwrap();
        let h = History::read(&path).unwrap();
        assert_eq!(h.by_step("train_steps", "Loss"), [(5, 2.5)]);
        // A torn last row (no newline) is dropped.
        let torn = "epoch,step,split,metric,value\n1,5,train_steps,Loss,2.5\n1,10,val";
        std::fs::write(&path, torn).unwrap();
        assert_eq!(History::read(&path).unwrap().rows.len(), 1);
        assert_eq!(h.by_step("valid", "Loss"), [(10, 2.0)]);
        assert!(
            History::read(&tmp.path().join("none.csv"))
                .unwrap()
                .rows
                .is_empty()
        );
    }
}
