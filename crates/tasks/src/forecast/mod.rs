//! Time-series forecasting: a recurrent encoder over the lookback window and a linear head
//! predicting the whole horizon at once, optionally on top of a naive or seasonal-naive base;
//! or SegRNN's segment-wise recurrence ([`ForecastKind::Segment`]); scored beside the naive,
//! seasonal-naive, exponential-smoothing and DLinear baselines, with rolling-origin backtests
//! and plots. One file per job: [`config`], [`data`], [`model`](ForecastModel), [`score`],
//! [`ets`] (the ETS baseline), [`dlinear`] (the DLinear baseline), [`plot`].

mod commands;
pub mod config;
pub mod data;
pub mod dlinear;
pub mod ets;
mod inspect;
mod model;
pub mod plot;
pub mod product;
#[cfg(test)]
mod protocol_tests;
pub mod score;
pub mod theta;

use anyhow::bail;
use burn::prelude::Device;
use rnnlab_data::timeseries::TsBatch;

pub use commands::{BACKTEST, BacktestArgs, FORECAST, ForecastArgs};
pub use config::ForecastExperiment;
pub use inspect::{INSPECT, InspectArgs};
pub use model::{ForecastConfig, ForecastKind, ForecastModel, Residual};

use crate::task::Task;
use crate::task_command::TaskCommand;
use crate::training::Loaders;

/// The forecasting task (`task = "forecast"`).
pub struct ForecastTask;

impl Task for ForecastTask {
    const NAME: &'static str = "forecast";
    type Config = ForecastExperiment;
    type Artefacts = data::ForecastArtefacts;
    type Data = data::Prepared;
    type Model = ForecastModel;
    type Report = score::ForecastReport;

    fn data(
        config: &ForecastExperiment,
        artefacts: Option<data::ForecastArtefacts>,
    ) -> anyhow::Result<data::Prepared> {
        data::prepare(config, artefacts)
    }

    fn legacy_artefacts(
        _config: &ForecastExperiment,
        dir: &std::path::Path,
    ) -> Option<anyhow::Result<data::ForecastArtefacts>> {
        data::legacy(dir)
    }

    fn artefacts(data: &data::Prepared) -> data::ForecastArtefacts {
        data::ForecastArtefacts {
            scaler: data.splits.scaler.clone(),
        }
    }

    fn model(
        config: &ForecastExperiment,
        artefacts: &data::ForecastArtefacts,
        device: &Device,
    ) -> anyhow::Result<ForecastModel> {
        data::build(config, artefacts, device)
    }

    fn loaders(
        config: &ForecastExperiment,
        data: &data::Prepared,
        device: &Device,
    ) -> anyhow::Result<Loaders<TsBatch>> {
        data::loaders(config, data, device)
    }

    const COMMANDS: &'static [&'static dyn TaskCommand] =
        &[&commands::FORECAST, &commands::BACKTEST, &inspect::INSPECT];

    fn score(
        config: &ForecastExperiment,
        data: &data::Prepared,
        model: &ForecastModel,
        device: &Device,
    ) -> anyhow::Result<score::ForecastReport> {
        let origins = score::test_origins(config, data);
        if origins.is_empty() {
            bail!(
                "the test rows hold no forecast of eval.horizon = {} steps",
                config.eval_horizon()
            );
        }
        product::score(config, data, model, &origins, config.eval_horizon(), device)
    }
}
