//! `[train]`: the optimisation settings every task shares.

use anyhow::bail;
use serde::{Deserialize, Serialize};

/// How the learning rate moves during training.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ScheduleKind {
    /// `lr` throughout (after the warm-up).
    Constant,
    /// Cosine annealing from `lr` to `min_lr` over all training steps.
    Cosine,
    /// `lr`, multiplied by `plateau_factor` whenever the validation loss has not improved for
    /// `plateau_patience` epochs (never below `min_lr`).
    Plateau,
}

/// Which validation metric picks the kept epoch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeepBestBy {
    /// The lowest validation loss.
    Loss,
    /// The highest validation accuracy (classification tasks).
    Accuracy,
}

/// `[train]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainSection {
    /// Passes over the training data.
    pub epochs: usize,
    /// Peak learning rate (Adam, or AdamW when `weight_decay > 0`).
    pub lr: f64,
    /// Seed of initialisation, shuffling and dropout: a run on `flex` repeats bit for bit.
    pub seed: u64,
    /// Decoupled weight decay (AdamW); 0 = plain Adam.
    pub weight_decay: f64,
    /// Clip gradients to this global L2 norm (PyTorch's `clip_grad_norm_`); 0 = off.
    pub grad_clip: f64,
    /// `constant`, `cosine` or `plateau`.
    pub schedule: ScheduleKind,
    /// Linear warm-up over this many optimiser steps; 0 = none.
    pub warmup_steps: usize,
    /// `plateau`: factor applied to the learning rate on a plateau.
    pub plateau_factor: f64,
    /// `plateau`: epochs without validation improvement before the rate drops.
    pub plateau_patience: usize,
    /// Floor of the learning rate for `cosine` and `plateau`.
    pub min_lr: f64,
    /// Stop after this many epochs without validation-loss improvement; 0 = never.
    pub early_stopping: usize,
    /// Keep the weights of the epoch with the best validation `keep_best_by` (else the last
    /// epoch's).
    pub keep_best: bool,
    /// `loss` (lowest validation loss) or, for classification, `accuracy` (highest).
    pub keep_best_by: KeepBestBy,
    /// Keep the element-wise mean of the weights of this many epochs ending at the kept one
    /// (checkpoint averaging; fewer when the run has had fewer epochs); 1 = the kept epoch's
    /// own weights. Above 1, every epoch's checkpoint stays on disk.
    pub average: usize,
    /// Every this many optimiser steps, write the mean training loss of those steps to
    /// `metrics.csv` (0 = about 50 times per epoch); on a pipe a progress line follows every
    /// ten such rows, or after 30 s without one.
    pub log_every: usize,
    /// Warm start: a finished run directory whose weights and artefacts (tokenizer, scaler,
    /// normaliser) this run starts from; the same task and architecture. Empty = from scratch.
    pub init_from: String,
    /// Data-parallel training across these devices (`["flex", "flex"]`, `["wgpu:0",
    /// "wgpu:1"]`): every optimiser step takes one batch on each device and sums their
    /// gradients on the first (burn-train's multi-device strategy), so a step sees
    /// `devices × batch_size` items; clipping applies to each device's gradients before the
    /// sum. Empty (or one device) = the command's `--device`. Scoring runs on `--device`.
    pub devices: Vec<String>,
}

impl TrainSection {
    /// The shared defaults with a task's own epochs and learning rate.
    pub fn new(epochs: usize, lr: f64) -> Self {
        Self {
            epochs,
            lr,
            seed: 0,
            weight_decay: 0.0,
            grad_clip: 0.0,
            schedule: ScheduleKind::Constant,
            warmup_steps: 0,
            plateau_factor: 0.5,
            plateau_patience: 1,
            min_lr: 0.0,
            early_stopping: 0,
            keep_best: false,
            keep_best_by: KeepBestBy::Loss,
            average: 1,
            log_every: 0,
            init_from: String::new(),
            devices: Vec::new(),
        }
    }

    /// Rejects impossible values, naming the key, for a task that reports accuracy
    /// (`has_accuracy`) or not, which decides whether `keep_best_by = "accuracy"` is possible.
    pub fn validate_for(&self, has_accuracy: bool) -> anyhow::Result<()> {
        if !has_accuracy && self.keep_best_by != KeepBestBy::Loss {
            bail!(
                "train.keep_best_by = \"accuracy\": only \"loss\" for this task (it has no accuracy)"
            );
        }
        crate::config::require_nonzero(&[
            ("train.epochs", self.epochs),
            ("train.average", self.average),
        ])?;
        if !(self.lr > 0.0 && self.lr.is_finite()) {
            bail!("train.lr = {}: must be a positive number", self.lr);
        }
        for (key, value) in [
            ("train.weight_decay", self.weight_decay),
            ("train.grad_clip", self.grad_clip),
            ("train.min_lr", self.min_lr),
        ] {
            if !(value >= 0.0 && value.is_finite()) {
                bail!("{key} = {value}: must be zero or a positive number");
            }
        }
        if self.min_lr > self.lr {
            bail!(
                "train.min_lr = {}: must not exceed train.lr = {}",
                self.min_lr,
                self.lr
            );
        }
        if !(self.plateau_factor > 0.0 && self.plateau_factor < 1.0) {
            bail!(
                "train.plateau_factor = {}: must be between 0 and 1 (exclusive)",
                self.plateau_factor
            );
        }
        for name in &self.devices {
            crate::device::parse(name).map_err(|e| anyhow::anyhow!("train.devices: {e}"))?;
        }
        if self.schedule == ScheduleKind::Plateau && self.plateau_patience == 0 {
            bail!("train.plateau_patience = 0: must be at least 1 with schedule = \"plateau\"");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn impossible_values_name_the_key() {
        let ok = TrainSection::new(1, 1e-3);
        ok.validate_for(true).unwrap();
        let cases = [
            (
                TrainSection {
                    epochs: 0,
                    ..ok.clone()
                },
                "train.epochs = 0",
            ),
            (
                TrainSection {
                    lr: -1.0,
                    ..ok.clone()
                },
                "train.lr = -1",
            ),
            (
                TrainSection {
                    lr: f64::NAN,
                    ..ok.clone()
                },
                "train.lr = NaN",
            ),
            (
                TrainSection {
                    grad_clip: -0.5,
                    ..ok.clone()
                },
                "train.grad_clip = -0.5",
            ),
            (
                TrainSection {
                    min_lr: 1.0,
                    ..ok.clone()
                },
                "train.min_lr = 1",
            ),
            (
                TrainSection {
                    plateau_factor: 1.5,
                    ..ok.clone()
                },
                "train.plateau_factor",
            ),
        ];
        for (section, expected) in cases {
            let err = section.validate_for(true).unwrap_err().to_string();
            assert!(err.starts_with(expected), "{err}");
        }
    }
}
