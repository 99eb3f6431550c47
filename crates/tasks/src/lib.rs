//! # rnnlab-tasks
//!
//! The three tasks of rnnlab on burn-train's `Learner` and the `rnnlab` command line:
//! - [`charlm`]: character (or word/BPE) language modelling and text generation;
//! - [`sentiment`]: sentence classification with masked pooling;
//! - [`forecast`]: uni- and multivariate time-series forecasting with baselines and backtests.
//!
//! [`training`] holds what they share (schedules, global-norm clipping, checkpoints, `fit`),
//! [`config`] the layered experiment configs, [`run`] the run directories.
#![warn(missing_docs)]

pub mod charlm;
pub mod commands;
pub mod config;
pub mod device;
pub mod experiment;
pub mod forecast;
pub mod metrics;
pub mod plot;
pub mod render;
pub mod run;
pub mod sentiment;
pub mod training;
pub mod weights;
