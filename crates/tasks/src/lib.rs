//! # rnnlab-tasks
//!
//! The tasks of rnnlab and the `rnnlab` command line. The tasks are those of
//! [`registry::TASKS`] (a test keeps this list in step with it):
//! - [`charlm`]: character (or word/BPE) language modelling and text generation;
//! - [`sentiment`]: sentence classification with masked pooling;
//! - [`forecast`]: uni- and multivariate time-series forecasting with baselines and backtests;
//! - [`speech`]: spoken-digit recognition from WAV files (log-mel/MFCC features);
//! - [`translate`]: machine translation with attention and beam search;
//! - [`memory`]: how far back a recurrent network remembers: the adding problem, copy memory
//!   and parity with longer test strings, generated from a seed.
//!
//! [`task`] is the lifecycle every task shares (the [`Task`](task::Task) trait: its config,
//! artefacts, data, model, report and commands, with generic `train`, `resume`, `eval` and
//! run loading) and [`registry`] the one list of tasks; [`cli`] adds every task's commands to
//! the command line; [`training`] holds the training machinery (schedules, the step policy
//! with global-norm clipping, checkpoints, the renderer, `fit`), [`config`] the layered
//! experiment configs, [`run`] the run directories.
//!
//! A new task is one folder with its `config.rs`, `data.rs`, `model.rs`, `score.rs`,
//! `commands.rs` and its `impl Task`, plus one line in [`registry::TASKS`]; a new command of a
//! task is one [`task_command::Cmd`] in its `commands.rs` and one entry in its
//! [`Task::COMMANDS`](task::Task::COMMANDS).
#![warn(missing_docs)]

pub mod charlm;
pub mod cli;
pub mod commands;
pub mod config;
pub mod device;
pub mod entry;
pub mod forecast;
pub mod inspect;
pub mod memory;
pub mod metrics;
pub mod plot;
pub mod registry;
pub mod run;
pub mod sentiment;
pub mod speech;
pub mod task;
pub mod task_command;
pub mod training;
pub mod translate;
pub mod weights;
