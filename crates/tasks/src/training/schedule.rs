//! [`LrSchedule`]: warm-up, then constant, cosine or reduce-on-plateau, as a burn
//! [`LrScheduler`] so that burn-train steps it and checkpoints its state. Reduce-on-plateau
//! needs the validation loss, which burn's schedulers never see: the renderer feeds it through
//! the shared [`Plateau`] handle at the end of each validation split.

use std::sync::{Arc, Mutex};

use burn::optim::LearningRate;
use burn::optim::lr_scheduler::{LrScheduler, LrSchedulerRecord};

use super::section::{ScheduleKind, TrainSection};

/// Reduce-on-plateau state, shared between the scheduler and the renderer.
#[derive(Clone, Debug, PartialEq)]
pub struct PlateauState {
    /// Multiplier currently applied to the base learning rate.
    pub scale: f64,
    /// Best validation loss so far.
    pub best: f64,
    /// Epochs since it improved.
    pub bad_epochs: usize,
}

/// A handle on the plateau state; `observe` is a no-op unless the schedule is `plateau`.
#[derive(Clone, Debug)]
pub struct Plateau {
    state: Arc<Mutex<PlateauState>>,
    enabled: bool,
    factor: f64,
    patience: usize,
    min_scale: f64,
}

impl Plateau {
    /// Records an epoch's validation loss; returns the new scale when the rate dropped.
    pub fn observe(&self, valid_loss: f64) -> Option<f64> {
        if !self.enabled {
            return None;
        }
        let mut s = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // PyTorch's default threshold: a relative improvement of 1e-4.
        if valid_loss < s.best * (1.0 - 1e-4) {
            s.best = valid_loss;
            s.bad_epochs = 0;
            return None;
        }
        s.bad_epochs += 1;
        if s.bad_epochs >= self.patience && s.scale > self.min_scale {
            s.scale = (s.scale * self.factor).max(self.min_scale);
            s.bad_epochs = 0;
            return Some(s.scale);
        }
        None
    }

    /// The current state.
    pub fn state(&self) -> PlateauState {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

/// The learning-rate schedule of a run.
#[derive(Clone, Debug)]
pub struct LrSchedule {
    kind: ScheduleKind,
    base: f64,
    min: f64,
    warmup: usize,
    total: usize,
    step: usize,
    plateau: Plateau,
}

impl LrSchedule {
    /// The schedule of `train` over `total_steps` optimiser steps.
    pub fn new(train: &TrainSection, total_steps: usize) -> Self {
        let plateau = Plateau {
            state: Arc::new(Mutex::new(PlateauState {
                scale: 1.0,
                best: f64::INFINITY,
                bad_epochs: 0,
            })),
            enabled: train.schedule == ScheduleKind::Plateau,
            factor: train.plateau_factor,
            patience: train.plateau_patience.max(1),
            min_scale: train.min_lr / train.lr,
        };
        Self {
            kind: train.schedule,
            base: train.lr,
            min: train.min_lr,
            warmup: train.warmup_steps,
            total: total_steps.max(1),
            step: 0,
            plateau,
        }
    }

    /// The handle the renderer feeds validation losses to.
    pub fn plateau(&self) -> Plateau {
        self.plateau.clone()
    }

    /// The learning rate of optimiser step `step` (1-based).
    fn rate(&self, step: usize) -> f64 {
        let lr = match self.kind {
            ScheduleKind::Constant => self.base,
            ScheduleKind::Plateau => self.base * self.plateau.state().scale,
            ScheduleKind::Cosine => {
                let t = (step.min(self.total) as f64) / self.total as f64;
                self.min + (self.base - self.min) * 0.5 * (1.0 + (std::f64::consts::PI * t).cos())
            }
        };
        if self.warmup > 0 && step < self.warmup {
            lr * step as f64 / self.warmup as f64
        } else {
            lr
        }
    }
}

impl LrScheduler for LrSchedule {
    fn step(&mut self) -> LearningRate {
        self.step += 1;
        self.rate(self.step)
    }

    fn to_record(&self) -> LrSchedulerRecord {
        let s = self.plateau.state();
        LrSchedulerRecord::new()
            .with_scalar("step", self.step as u64)
            .with_scalar("plateau_scale", s.scale)
            .with_scalar("plateau_best", s.best)
            .with_scalar("plateau_bad_epochs", s.bad_epochs as u64)
    }

    fn load_record(&mut self, record: LrSchedulerRecord) {
        if let Some(step) = record.scalar::<u64>("step") {
            self.step = step as usize;
        }
        let mut s = self
            .plateau
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(scale) = record.scalar::<f64>("plateau_scale") {
            s.scale = scale;
        }
        if let Some(best) = record.scalar::<f64>("plateau_best") {
            s.best = best;
        }
        if let Some(bad) = record.scalar::<u64>("plateau_bad_epochs") {
            s.bad_epochs = bad as usize;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn section(kind: ScheduleKind) -> TrainSection {
        TrainSection {
            schedule: kind,
            min_lr: 0.1,
            plateau_patience: 2,
            ..TrainSection::new(1, 1.0)
        }
    }

    #[test]
    fn warmup_then_cosine_reaches_the_floor() {
        let mut s = LrSchedule::new(
            &TrainSection {
                warmup_steps: 4,
                ..section(ScheduleKind::Cosine)
            },
            100,
        );
        let rates: Vec<f64> = (0..100).map(|_| s.step()).collect();
        let cosine_1 = 0.1 + 0.9 * 0.5 * (1.0 + (std::f64::consts::PI / 100.0).cos());
        assert!(
            (rates[0] - 0.25 * cosine_1).abs() < 1e-12,
            "warm-up: {}",
            rates[0]
        );
        assert!((rates[49] - 0.55).abs() < 1e-12, "half way: {}", rates[49]);
        assert!((rates[99] - 0.1).abs() < 1e-12);
        assert!(rates[10..].windows(2).all(|w| w[1] <= w[0]));
    }

    #[test]
    fn plateau_halves_after_patience_and_stops_at_min_lr() {
        let mut s = LrSchedule::new(&section(ScheduleKind::Plateau), 10);
        let p = s.plateau();
        assert_eq!(s.step(), 1.0);
        assert_eq!(p.observe(2.0), None);
        assert_eq!(p.observe(1.9), None, "improved");
        assert_eq!(p.observe(1.95), None, "one bad epoch");
        assert_eq!(p.observe(1.95), Some(0.5), "two bad epochs");
        assert_eq!(s.step(), 0.5);
        for _ in 0..10 {
            p.observe(5.0);
        }
        assert!((s.step() - 0.1).abs() < 1e-12, "floor");
        // The state survives a checkpoint.
        let record = s.to_record();
        let mut fresh = LrSchedule::new(&section(ScheduleKind::Plateau), 10);
        fresh.load_record(record);
        assert_eq!(fresh.plateau().state(), p.state());
        assert_eq!(fresh.step, s.step);
    }

    #[test]
    fn plateau_handle_is_inert_for_other_schedules() {
        let mut s = LrSchedule::new(&section(ScheduleKind::Constant), 10);
        let p = s.plateau();
        for _ in 0..5 {
            assert_eq!(p.observe(3.0), None);
        }
        assert_eq!(s.step(), 1.0);
    }
}
