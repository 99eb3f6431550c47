//! The forecasting data: the columns the run uses read from the CSV (missing cells handled by
//! `data.missing`), optionally logged, scaled with the scaler fitted on the training rows
//! (the run's [`ForecastArtefacts`]), cut into windows; the model built for them; the loaders.

use std::path::Path;

use anyhow::bail;
use burn::data::dataloader::DataLoaderBuilder;
use burn::data::dataset::Dataset;
use burn::prelude::Device;
use rnnlab_data::timeseries::{
    Features, MissingCount, Scaler, Series, TsBatch, TsBatcher, TsSplits,
};
use rnnlab_models::{RecurrentConfig, SegmentRnnConfig};
use serde::{Deserialize, Serialize};

use super::config::ForecastExperiment;
use super::{ForecastConfig, ForecastKind, ForecastModel};
use crate::task::model_error;
use crate::training::Loaders;

/// What a forecasting run fits on its training rows.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ForecastArtefacts {
    /// The scaler of the columns the run reads (their names, in order).
    pub scaler: Scaler,
}

/// The scaler of a run from before `artefacts.json` (`scaler.json`), if `dir` has one.
pub fn legacy(dir: &Path) -> Option<anyhow::Result<ForecastArtefacts>> {
    let path = dir.join("scaler.json");
    path.is_file().then(|| {
        Ok(ForecastArtefacts {
            scaler: Scaler::load(&path)?,
        })
    })
}

/// The input and predicted columns (indices into `names`, the columns the run reads).
pub fn columns(
    e: &ForecastExperiment,
    names: &[String],
) -> anyhow::Result<(Vec<usize>, Vec<usize>)> {
    let d = &e.data;
    let Some(target) = names.iter().position(|n| *n == d.target) else {
        bail!(
            "data.target = {:?}: not among the columns {names:?}",
            d.target
        );
    };
    let all: Vec<usize> = (0..names.len()).collect();
    Ok(match d.features {
        Features::S => (vec![target], vec![target]),
        Features::M => (all.clone(), all),
        Features::MS => (all, vec![target]),
    })
}

/// The series on the original and on the model's scale, with the split and columns.
pub struct Prepared {
    /// As read.
    pub series: Series,
    /// Row-major `[rows, columns]`: log (if set), then scaled.
    pub model_values: Vec<f32>,
    /// Windows and the fitted scaler.
    pub splits: TsSplits,
    /// Input columns.
    pub inputs: Vec<usize>,
    /// Predicted columns.
    pub outputs: Vec<usize>,
    /// Cells filled or rows dropped by `data.missing`.
    pub missing: MissingCount,
}

/// Reads and prepares the experiment's series; a run's artefacts replace the freshly fitted
/// scaler.
pub fn prepare(
    e: &ForecastExperiment,
    artefacts: Option<ForecastArtefacts>,
) -> anyhow::Result<Prepared> {
    let d = &e.data;
    // Only the columns the run uses are read: a gap or a non-positive value elsewhere in the
    // file does not concern it.
    let used = match d.features {
        Features::S => Some(vec![d.target.clone()]),
        Features::M | Features::MS => None,
    };
    let (series, missing) = Series::read(
        Path::new(&d.path),
        &d.date_column,
        used.as_deref(),
        d.missing,
    )?;
    let c = series.names().len();
    let logged = if d.log {
        let mut v = series.values().to_vec();
        for (i, x) in v.iter_mut().enumerate() {
            if *x <= 0.0 {
                bail!(
                    "{}: row {}, column {:?}: {x} is not positive; data.log = true needs positive values",
                    d.path,
                    i / c + 1,
                    series.names()[i % c]
                );
            }
            *x = x.ln();
        }
        series.with_values(v)?
    } else {
        series.clone()
    };
    let mut splits = e
        .window_config()
        .build(&logged)
        .map_err(|err| anyhow::anyhow!("data: {err}"))?;
    if let Some(ForecastArtefacts { scaler: s }) = artefacts {
        if s.columns != series.names() {
            bail!(
                "the run's scaler: its columns {:?} are not the series' {:?}",
                s.columns,
                series.names()
            );
        }
        splits.scaler = s;
    }
    let mut model_values = logged.values().to_vec();
    splits.scaler.transform(&mut model_values);
    series.column_index(&d.target)?;
    let (inputs, outputs) = columns(e, series.names())?;
    if splits.bounds[2] - splits.bounds[1] < e.eval_horizon() {
        bail!(
            "eval.horizon = {}: longer than the {} test rows",
            e.eval_horizon(),
            splits.bounds[2] - splits.bounds[1]
        );
    }
    if d.season >= splits.bounds[0] {
        bail!(
            "data.season = {}: not shorter than the {} training rows; the seasonal baselines and \
             MASE need at least one season of training values",
            d.season,
            splits.bounds[0]
        );
    }
    if splits.valid.len() == 0 {
        bail!(
            "data: the validation rows {}..{} hold no window of data.horizon = {} steps",
            splits.bounds[0],
            splits.bounds[1],
            d.horizon
        );
    }
    Ok(Prepared {
        series,
        model_values,
        splits,
        inputs,
        outputs,
        missing,
    })
}

/// The untrained model for the columns the run's scaler names.
pub fn build(
    e: &ForecastExperiment,
    artefacts: &ForecastArtefacts,
    device: &Device,
) -> anyhow::Result<ForecastModel> {
    let m = &e.model;
    let (inputs, outputs) = columns(e, &artefacts.scaler.columns)?;
    let outputs: Vec<usize> = outputs
        .iter()
        .map(|o| {
            inputs
                .iter()
                .position(|i| i == o)
                .expect("outputs are among the inputs")
        })
        .collect();
    let d_input = match m.kind {
        ForecastKind::Direct => inputs.len(),
        // The segment embeddings are d_hidden wide.
        ForecastKind::Segment => m.d_hidden,
    };
    let rnn = RecurrentConfig::new(m.cell, d_input, m.d_hidden)
        .with_n_layers(m.n_layers)
        .with_dropout(m.dropout);
    let rnn = m.stack.apply(rnn);
    if m.kind == ForecastKind::Segment {
        let d = &e.data;
        let net = SegmentRnnConfig::new(rnn, d.lookback, d.horizon, m.segment_length, inputs.len())
            .with_channel_embedding(m.channel_embedding)
            .with_dropout(m.head_dropout)
            .with_norm(m.segment_norm)
            .try_init(device)
            .map_err(model_error)?;
        return Ok(ForecastModel::segment(net, d.horizon, outputs));
    }
    ForecastConfig::new(rnn, e.data.lookback, e.data.horizon, outputs, m.residual)
        .with_season(e.data.season)
        .with_relative_input(m.relative_input)
        .try_init(device)
        .map_err(model_error)
}

/// Shuffled training windows and validation windows.
pub fn loaders(
    e: &ForecastExperiment,
    p: &Prepared,
    device: &Device,
) -> anyhow::Result<Loaders<TsBatch>> {
    let d = &e.data;
    let batcher = TsBatcher {
        lookback: d.lookback,
        horizon: d.horizon,
    };
    Ok(Loaders {
        train: DataLoaderBuilder::new(batcher.clone())
            .set_device(device.clone())
            .batch_size(d.batch_size)
            .shuffle(e.train.seed)
            .build(p.splits.train.clone()),
        valid: DataLoaderBuilder::new(batcher)
            .set_device(device.clone())
            .batch_size(d.batch_size.max(256))
            .build(p.splits.valid.clone()),
        steps_per_epoch: p.splits.train.len().div_ceil(d.batch_size),
    })
}
