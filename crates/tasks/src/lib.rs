//! # rnnlab-tasks
//!
//! The tasks (text generation, sentiment, forecasting) and the `rnnlab` command line. The
//! training commands are being built (see the project's issues); today the CLI inspects PyTorch
//! weight files, and [`config`] resolves layered experiment configurations.
#![warn(missing_docs)]

pub mod charlm;
pub mod config;
pub mod device;
pub mod grad_clip;
pub mod metrics;
pub mod render;
pub mod weights;
