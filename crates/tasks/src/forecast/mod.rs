//! Time-series forecasting: a recurrent encoder over the lookback window and a linear head
//! predicting the whole horizon at once, optionally on top of a naive or seasonal-naive base;
//! evaluation next to the naive baselines, rolling-origin backtests and plots.

pub mod experiment;
mod model;
pub mod plot;

pub use model::{ForecastConfig, ForecastModel, Residual};
