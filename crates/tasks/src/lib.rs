//! # rnnlab-tasks
//!
//! The four tasks of rnnlab on burn-train's `Learner` and the `rnnlab` command line:
//! - [`charlm`]: character (or word/BPE) language modelling and text generation;
//! - [`sentiment`]: sentence classification with masked pooling;
//! - [`forecast`]: uni- and multivariate time-series forecasting with baselines and backtests;
//! - [`speech`]: spoken-digit recognition from WAV files (log-mel/MFCC features).
//!
//! [`task`] is the lifecycle every task shares (the [`Task`](task::Task) trait with generic
//! `train`, `resume`, `eval` and run loading) and [`registry`] the one list of tasks;
//! [`training`] holds the training machinery (schedules, the step policy with global-norm
//! clipping, checkpoints, the renderer, `fit`), [`config`] the layered experiment configs,
//! [`run`] the run directories.
//!
//! A new task is one folder with its `config.rs`, `data.rs`, `model.rs`, `score.rs` and its
//! `impl Task`, plus one line in [`registry::TASKS`].
#![warn(missing_docs)]

pub mod charlm;
pub mod commands;
pub mod config;
pub mod device;
pub mod forecast;
pub mod metrics;
pub mod plot;
pub mod registry;
pub mod run;
pub mod sentiment;
pub mod speech;
pub mod task;
pub mod training;
pub mod translate;
pub mod weights;
