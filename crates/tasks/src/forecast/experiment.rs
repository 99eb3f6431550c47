//! The forecasting experiment: config, training, test evaluation next to the naive and
//! seasonal-naive baselines, rolling-origin backtests and forecast plots, all from a run
//! directory (`config.toml`, `scaler.json`, `model.bpk`).

use std::fmt;
use std::path::Path;

use anyhow::bail;
use burn::Tensor;
use burn::data::dataloader::DataLoaderBuilder;
use burn::data::dataset::Dataset;
use burn::module::Module;
use burn::prelude::Device;
use burn::tensor::TensorData;
use rnnlab_data::timeseries::{
    Features, Scaler, ScalerKind, Series, SplitSpec, TsBatcher, TsSplits, WindowConfig,
};
use rnnlab_models::RecurrentConfig;
use serde::{Deserialize, Serialize};

use super::{ForecastConfig, ForecastModel, Residual};
use crate::charlm::experiment::parse_cell;
use crate::metrics::{ForecastErrors, naive_forecast, seasonal_naive_forecast};
use crate::run::{Results, finish};
use crate::training::fit::MODEL_FILE;
use crate::training::{Loaders, TrainSection, fit, load_model};

/// Everything a forecasting run is built from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ForecastExperiment {
    /// Always `forecast`.
    pub task: String,
    /// Run name: runs go to `runs/<name>/<run-id>/`.
    pub name: String,
    /// The series, its windows and split.
    pub data: DataSection,
    /// The network.
    pub model: ModelSection,
    /// Optimisation.
    pub train: TrainSection,
    /// How the test split is scored.
    pub eval: EvalSection,
}

/// `[data]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataSection {
    /// CSV file: a date column and numeric columns.
    pub path: String,
    /// The date column's header.
    pub date_column: String,
    /// The predicted column (for `S` and `MS`).
    pub target: String,
    /// `S` (target → target), `M` (all → all) or `MS` (all → target).
    pub features: Features,
    /// Input steps.
    pub lookback: usize,
    /// Steps the model predicts at once.
    pub horizon: usize,
    /// Steps between training window starts.
    pub stride: usize,
    /// End rows (exclusive) of train / validation / test; all 0 = use the fractions.
    pub train_end: usize,
    /// End of the validation rows.
    pub valid_end: usize,
    /// End of the test rows.
    pub test_end: usize,
    /// Training fraction of the rows (when the end rows are 0).
    pub train_fraction: f64,
    /// Validation fraction (when the end rows are 0); the rest is test.
    pub valid_fraction: f64,
    /// `zscore`, `minmax` or `none`, fitted on the training rows.
    pub scaler: ScalerKind,
    /// Model the natural log of the values (all must be positive); forecasts are
    /// exponentiated back.
    pub log: bool,
    /// Season length in steps: the seasonal-naive baseline, MASE and `model.residual =
    /// "seasonal"`.
    pub season: usize,
    /// Windows per batch.
    pub batch_size: usize,
}

/// `[model]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelSection {
    /// `rnn`, `lstm` or `gru`.
    pub cell: String,
    /// Hidden size.
    pub d_hidden: usize,
    /// Stacked layers.
    pub n_layers: usize,
    /// Dropout between layers.
    pub dropout: f64,
    /// `none`, `last` (predict changes from the last value) or `seasonal` (from one season
    /// back).
    pub residual: Residual,
    /// Feed the encoder each window minus its last value (every column), so that a level
    /// drift between the splits does not put the test windows outside what it learnt.
    pub relative_input: bool,
}

/// `[eval]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvalSection {
    /// Steps forecast from each test origin; 0 = `data.horizon`. Longer horizons roll the
    /// model forward on its own forecasts (needs `S` or `M`).
    pub horizon: usize,
    /// Steps between test origins (1 = every window, as in the Informer protocol).
    pub stride: usize,
    /// Score on the model's scale (`true`: z-scored, as ETTh1 results are published) or on
    /// the original values (`false`).
    pub scaled: bool,
}

impl Default for ForecastExperiment {
    fn default() -> Self {
        Self {
            task: "forecast".into(),
            name: "forecast".into(),
            data: DataSection {
                path: "datasets/timeseries/ETTh1.csv".into(),
                date_column: "date".into(),
                target: "OT".into(),
                features: Features::S,
                lookback: 96,
                horizon: 24,
                stride: 1,
                train_end: 0,
                valid_end: 0,
                test_end: 0,
                train_fraction: 0.7,
                valid_fraction: 0.1,
                scaler: ScalerKind::Zscore,
                log: false,
                season: 24,
                batch_size: 32,
            },
            model: ModelSection {
                cell: "lstm".into(),
                d_hidden: 64,
                n_layers: 1,
                dropout: 0.0,
                residual: Residual::None,
                relative_input: false,
            },
            train: TrainSection {
                grad_clip: 1.0,
                early_stopping: 3,
                keep_best: true,
                ..TrainSection::new(10, 1e-3)
            },
            eval: EvalSection {
                horizon: 0,
                stride: 1,
                scaled: false,
            },
        }
    }
}

impl ForecastExperiment {
    /// Rejects impossible values, naming the key.
    pub fn validate(&self) -> anyhow::Result<()> {
        if self.task != "forecast" {
            bail!("task = {:?}: this is a forecast experiment", self.task);
        }
        parse_cell(&self.model.cell)?;
        self.train.validate_for(false)?;
        let d = &self.data;
        crate::config::require_nonzero(&[
            ("data.lookback", d.lookback),
            ("data.horizon", d.horizon),
            ("data.stride", d.stride),
            ("data.season", d.season),
            ("data.batch_size", d.batch_size),
            ("eval.stride", self.eval.stride),
            ("model.d_hidden", self.model.d_hidden),
            ("model.n_layers", self.model.n_layers),
        ])?;
        if self.eval.horizon != 0 && self.eval.horizon < d.horizon {
            bail!(
                "eval.horizon = {}: must be 0 or at least data.horizon = {}",
                self.eval.horizon,
                d.horizon
            );
        }
        if self.eval_horizon() > d.horizon && d.features == Features::MS {
            bail!(
                "eval.horizon = {}: rolling forecasts need features S or M",
                self.eval.horizon
            );
        }
        if self.model.residual == Residual::Seasonal && d.season > d.lookback {
            bail!(
                "data.season = {}: model.residual = \"seasonal\" needs season <= data.lookback = {}",
                d.season,
                d.lookback
            );
        }
        Ok(())
    }

    /// Steps forecast from each test origin.
    pub fn eval_horizon(&self) -> usize {
        if self.eval.horizon == 0 {
            self.data.horizon
        } else {
            self.eval.horizon
        }
    }

    fn window_config(&self) -> WindowConfig {
        let d = &self.data;
        let split = if d.train_end == 0 && d.valid_end == 0 && d.test_end == 0 {
            SplitSpec::Fractions {
                train: d.train_fraction,
                valid: d.valid_fraction,
            }
        } else {
            SplitSpec::Rows {
                train_end: d.train_end,
                valid_end: d.valid_end,
                test_end: d.test_end,
            }
        };
        WindowConfig {
            lookback: d.lookback,
            horizon: d.horizon,
            stride: d.stride,
            features: d.features,
            target: d.target.clone(),
            split,
            scaler: d.scaler,
        }
    }
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
}

/// Reads and prepares the experiment's series; `scaler` (a run's saved one) replaces the
/// freshly fitted scaler.
pub fn prepare(e: &ForecastExperiment, scaler: Option<Scaler>) -> anyhow::Result<Prepared> {
    let d = &e.data;
    let series = Series::from_csv(Path::new(&d.path), &d.date_column)?;
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
    if let Some(s) = scaler {
        if s.columns != series.names() {
            bail!(
                "scaler.json: its columns {:?} are not the series' {:?}",
                s.columns,
                series.names()
            );
        }
        splits.scaler = s;
    }
    let mut model_values = logged.values().to_vec();
    splits.scaler.transform(&mut model_values);
    let target = series.column_index(&d.target)?;
    let all: Vec<usize> = (0..c).collect();
    let (inputs, outputs) = match d.features {
        Features::S => (vec![target], vec![target]),
        Features::M => (all.clone(), all),
        Features::MS => (all, vec![target]),
    };
    if splits.bounds[2] - splits.bounds[1] < e.eval_horizon() {
        bail!(
            "eval.horizon = {}: longer than the {} test rows",
            e.eval_horizon(),
            splits.bounds[2] - splits.bounds[1]
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
    })
}

fn build(e: &ForecastExperiment, p: &Prepared, device: &Device) -> anyhow::Result<ForecastModel> {
    let m = &e.model;
    let outputs: Vec<usize> = p
        .outputs
        .iter()
        .map(|o| {
            p.inputs
                .iter()
                .position(|i| i == o)
                .expect("outputs are among the inputs")
        })
        .collect();
    let rnn = RecurrentConfig::new(parse_cell(&m.cell)?, p.inputs.len(), m.d_hidden)
        .with_n_layers(m.n_layers)
        .with_dropout(m.dropout);
    ForecastConfig::new(rnn, e.data.lookback, e.data.horizon, outputs, m.residual)
        .with_season(e.data.season)
        .with_relative_input(m.relative_input)
        .try_init(device)
        .map_err(|err| anyhow::anyhow!("model.{err}"))
}

crate::experiment::impl_experiment!(ForecastExperiment, train);

/// Trains into `dir` (or resumes it from `resume`'s checkpoint); returns and saves the test
/// metrics of the model and the baselines.
pub fn train(
    experiment: &ForecastExperiment,
    resolved_toml: &str,
    dir: &Path,
    device: &Device,
    resume: Option<usize>,
) -> anyhow::Result<Results> {
    experiment.validate()?;
    let saved = match resume {
        Some(_) => Some(Scaler::load(&dir.join("scaler.json"))?),
        None => None,
    };
    let prepared = prepare(experiment, saved)?;
    let mut model = crate::training::seeded_init(experiment.train.seed, device, |cpu| {
        build(experiment, &prepared, cpu)
    })?;
    model.grad_clip = experiment.train.grad_clip;
    if let Some(epoch) = resume {
        crate::training::checkpoint::check_fits(&model, dir, epoch)?;
    }
    let d = &experiment.data;
    let train_device = device.clone().autodiff();
    let batcher = TsBatcher {
        lookback: d.lookback,
        horizon: d.horizon,
    };
    let steps = prepared.splits.train.len().div_ceil(d.batch_size);
    let loaders = Loaders {
        train: DataLoaderBuilder::new(batcher.clone())
            .set_device(train_device.clone())
            .batch_size(d.batch_size)
            .shuffle(experiment.train.seed)
            .build(prepared.splits.train.clone()),
        valid: DataLoaderBuilder::new(batcher)
            .set_device(train_device.clone())
            .batch_size(d.batch_size.max(256))
            .build(prepared.splits.valid.clone()),
        steps_per_epoch: steps,
    };
    if resume.is_none() {
        crate::run::create(dir, resolved_toml)?;
        prepared.splits.scaler.save(&dir.join("scaler.json"))?;
    }
    let started = std::time::Instant::now();
    let fitted = fit(
        model.train().fork(&train_device),
        loaders,
        |t| t,
        &experiment.train,
        dir,
        resume,
    )?;
    let seconds = started.elapsed().as_secs_f64();
    if let Some(reason) = fitted.stopped {
        bail!("training stopped: {reason}");
    }
    let mut model = fitted.model;
    model.grad_clip = 0.0;
    let model = model.fork(device);
    let report = score(
        experiment,
        &prepared,
        &model,
        &test_origins(experiment, &prepared),
        experiment.eval_horizon(),
        device,
    );
    let text = report.to_string();
    finish(
        dir,
        report.results,
        (fitted.epochs_run, fitted.epoch),
        seconds,
        &text,
    )
}

/// A trained forecasting run, loaded back.
pub struct LoadedRun {
    /// The model on the requested device.
    pub model: ForecastModel,
    /// The resolved experiment.
    pub experiment: ForecastExperiment,
    /// The series with the run's saved scaler.
    pub prepared: Prepared,
}

/// Loads `dir`; every missing file is an error naming it.
pub fn load_run(dir: &Path, device: &Device) -> anyhow::Result<LoadedRun> {
    let (experiment, _): (ForecastExperiment, _) = crate::experiment::of_run(dir)?;
    let scaler = Scaler::load(&dir.join("scaler.json"))?;
    let prepared = prepare(&experiment, Some(scaler))?;
    let mut model = build(&experiment, &prepared, device)?;
    load_model(&mut model, &dir.join(MODEL_FILE))?;
    Ok(LoadedRun {
        model,
        experiment,
        prepared,
    })
}

/// Origins of the test forecasts: from the first test row every `eval.stride` rows while the
/// eval horizon fits.
pub fn test_origins(e: &ForecastExperiment, p: &Prepared) -> Vec<usize> {
    let [_, valid_end, test_end] = p.splits.bounds;
    (valid_end..)
        .step_by(e.eval.stride)
        .take_while(|o| o + e.eval_horizon() <= test_end)
        .collect()
}

/// Forecasts of one origin: the model's and the baselines', on the evaluation scale, for
/// each predicted column (`[steps]` each).
#[derive(Clone, Debug)]
pub struct OriginForecast {
    /// First predicted row.
    pub origin: usize,
    /// Per predicted column: up to three horizons of values before the origin.
    pub history: Vec<Vec<f32>>,
    /// Per predicted column: actual values.
    pub actual: Vec<Vec<f32>>,
    /// Per predicted column: the model.
    pub model: Vec<Vec<f32>>,
    /// Per predicted column: repeat-last.
    pub naive: Vec<Vec<f32>>,
    /// Per predicted column: repeat-last-season.
    pub seasonal: Vec<Vec<f32>>,
}

/// Errors of the model and the baselines over a set of origins.
#[derive(Clone, Debug)]
pub struct ForecastReport {
    /// `test_*`, `naive_*`, `snaive_*` for mae, mse, rmse, mape, smape, mase, and `windows`.
    pub results: Results,
    /// The forecasts, origin by origin.
    pub forecasts: Vec<OriginForecast>,
    /// The predicted columns' names.
    pub columns: Vec<String>,
    /// `original` or `scaled`.
    pub scale: &'static str,
}

impl fmt::Display for ForecastReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let r = &self.results;
        writeln!(
            f,
            "{} forecast windows, {} column(s), errors on the {} scale",
            r.get("windows").copied().unwrap_or(0.0),
            self.columns.len(),
            self.scale
        )?;
        writeln!(
            f,
            "{:<16}{:>12}{:>14}{:>12}{:>9}{:>9}{:>9}",
            "", "MAE", "MSE", "RMSE", "MAPE", "sMAPE", "MASE"
        )?;
        for (name, key) in [
            ("model", "test"),
            ("naive", "naive"),
            ("seasonal naive", "snaive"),
        ] {
            let g = |m: &str| r.get(&format!("{key}_{m}")).copied().unwrap_or(f64::NAN);
            writeln!(
                f,
                "{name:<16}{:>12.4}{:>14.4}{:>12.4}{:>9.4}{:>9.4}{:>9.4}",
                g("mae"),
                g("mse"),
                g("rmse"),
                g("mape"),
                g("smape"),
                g("mase")
            )?;
        }
        Ok(())
    }
}

/// Model forecasts on the model's scale: per origin, `[steps × n_out]` row-major.
fn model_forecasts(
    model: &ForecastModel,
    e: &ForecastExperiment,
    p: &Prepared,
    origins: &[usize],
    steps: usize,
    device: &Device,
) -> Vec<Vec<f32>> {
    let (l, h) = (e.data.lookback, e.data.horizon);
    let c = p.series.names().len();
    let (n_in, n_out) = (p.inputs.len(), p.outputs.len());
    let mut out = Vec::with_capacity(origins.len());
    for chunk in origins.chunks(256) {
        let b = chunk.len();
        let input: Vec<f32> = chunk
            .iter()
            .flat_map(|&o| {
                (o - l..o)
                    .flat_map(|r| p.inputs.iter().map(move |&col| p.model_values[r * c + col]))
            })
            .collect();
        let mut x = Tensor::<3>::from_data(TensorData::new(input, [b, l, n_in]), device);
        let mut parts: Vec<Tensor<3>> = Vec::new();
        let mut made = 0;
        while made < steps {
            let pred = model.forward(x.clone());
            made += h;
            if made < steps {
                // Roll forward on the forecast (inputs are the outputs for S and M).
                x = Tensor::cat(vec![x, pred.clone()], 1).narrow(1, h, l);
            }
            parts.push(pred);
        }
        let all: Vec<f32> = Tensor::cat(parts, 1)
            .narrow(1, 0, steps)
            .into_data()
            .convert::<f32>()
            .try_to_vec::<f32>()
            .unwrap_or_default();
        out.extend(all.chunks(steps * n_out).map(<[f32]>::to_vec));
    }
    out
}

/// Scores the model and both baselines on `origins`, `steps` ahead each.
pub fn score(
    e: &ForecastExperiment,
    p: &Prepared,
    model: &ForecastModel,
    origins: &[usize],
    steps: usize,
    device: &Device,
) -> ForecastReport {
    let c = p.series.names().len();
    let rows = p.series.len();
    // Each column on the evaluation scale.
    let column = |col: usize| -> Vec<f32> {
        (0..rows)
            .map(|r| {
                if e.eval.scaled {
                    p.model_values[r * c + col]
                } else {
                    p.series.values()[r * c + col]
                }
            })
            .collect()
    };
    let to_eval = |col: usize, v: &mut [f32]| {
        if !e.eval.scaled {
            p.splits.scaler.inverse(col, v);
            if e.data.log {
                v.iter_mut().for_each(|x| *x = x.exp());
            }
        }
    };
    let predictions = model_forecasts(model, e, p, origins, steps, device);
    let cols: Vec<Vec<f32>> = p.outputs.iter().map(|&col| column(col)).collect();
    let n_out = p.outputs.len();
    let season = e.data.season;
    let forecasts: Vec<OriginForecast> = origins
        .iter()
        .zip(&predictions)
        .map(|(&o, pred)| {
            let mut f = OriginForecast {
                origin: o,
                history: Vec::new(),
                actual: Vec::new(),
                model: Vec::new(),
                naive: Vec::new(),
                seasonal: Vec::new(),
            };
            for (k, &col) in p.outputs.iter().enumerate() {
                let mut m: Vec<f32> = (0..steps).map(|s| pred[s * n_out + k]).collect();
                to_eval(col, &mut m);
                let history = &cols[k][..o];
                f.history
                    .push(cols[k][o.saturating_sub(3 * steps)..o].to_vec());
                f.actual.push(cols[k][o..o + steps].to_vec());
                f.model.push(m);
                f.naive.push(naive_forecast(history, steps));
                f.seasonal.push(seasonal_naive_forecast(
                    history,
                    steps,
                    season.min(history.len()),
                ));
            }
            f
        })
        .collect();
    let train_end = p.splits.bounds[0];
    let mut results = Results::new();
    for (key, pick) in [
        (
            "test",
            (|f: &OriginForecast| &f.model) as fn(&OriginForecast) -> &Vec<Vec<f32>>,
        ),
        ("naive", |f| &f.naive),
        ("snaive", |f| &f.seasonal),
    ] {
        let per_column: Vec<ForecastErrors> = (0..n_out)
            .map(|k| {
                let pred: Vec<f32> = forecasts
                    .iter()
                    .flat_map(|f| pick(f)[k].iter().copied())
                    .collect();
                let actual: Vec<f32> = forecasts
                    .iter()
                    .flat_map(|f| f.actual[k].iter().copied())
                    .collect();
                ForecastErrors::new(&pred, &actual, &cols[k][..train_end], season)
            })
            .collect();
        let mean =
            |g: fn(&ForecastErrors) -> f64| per_column.iter().map(g).sum::<f64>() / n_out as f64;
        results.insert(format!("{key}_mae"), mean(|x| x.mae));
        results.insert(format!("{key}_mse"), mean(|x| x.mse));
        results.insert(format!("{key}_rmse"), mean(|x| x.mse).sqrt());
        results.insert(format!("{key}_mape"), mean(|x| x.mape));
        results.insert(format!("{key}_smape"), mean(|x| x.smape));
        results.insert(format!("{key}_mase"), mean(|x| x.mase));
    }
    results.insert("windows".into(), origins.len() as f64);
    ForecastReport {
        results,
        forecasts,
        columns: p
            .outputs
            .iter()
            .map(|&i| p.series.names()[i].clone())
            .collect(),
        scale: if e.eval.scaled { "scaled" } else { "original" },
    }
}

/// The saved model on the run's test origins (`rnnlab eval` / `rnnlab forecast`).
pub fn evaluate(dir: &Path, device: &Device) -> anyhow::Result<ForecastReport> {
    let run = load_run(dir, device)?;
    let origins = test_origins(&run.experiment, &run.prepared);
    if origins.is_empty() {
        bail!(
            "the test rows hold no forecast of eval.horizon = {} steps",
            run.experiment.eval_horizon()
        );
    }
    Ok(score(
        &run.experiment,
        &run.prepared,
        &run.model,
        &origins,
        run.experiment.eval_horizon(),
        device,
    ))
}

/// Rolling-origin backtest: origins every `step` rows from the start of the validation rows,
/// each forecasting `horizon` steps with the trained model (not refitted).
pub fn backtest(
    dir: &Path,
    horizon: Option<usize>,
    step: Option<usize>,
    device: &Device,
) -> anyhow::Result<ForecastReport> {
    let run = load_run(dir, device)?;
    let e = &run.experiment;
    let horizon = horizon.unwrap_or(e.data.horizon);
    let step = step.unwrap_or(horizon);
    if horizon == 0 || step == 0 {
        bail!("--horizon and --step must be at least 1");
    }
    if horizon > e.data.horizon && e.data.features == Features::MS {
        bail!("--horizon {horizon}: rolling forecasts need features S or M");
    }
    let [train_end, _, test_end] = run.prepared.splits.bounds;
    let origins: Vec<usize> = (train_end.max(e.data.lookback)..)
        .step_by(step)
        .take_while(|o| o + horizon <= test_end)
        .collect();
    if origins.is_empty() {
        bail!("--horizon {horizon}: no origin fits between row {train_end} and row {test_end}");
    }
    Ok(score(
        e,
        &run.prepared,
        &run.model,
        &origins,
        horizon,
        device,
    ))
}
