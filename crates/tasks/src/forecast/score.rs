//! Scoring a forecaster: its forecasts from every test origin beside the naive, seasonal-naive
//! and exponential-smoothing (refitted at each origin) baselines, and rolling-origin backtests.

use std::fmt;

use anyhow::bail;
use burn::Tensor;
use burn::prelude::Device;
use burn::tensor::TensorData;
use rnnlab_data::timeseries::{Features, MissingCount};

use super::config::ForecastExperiment;
use super::data::Prepared;
use super::{ForecastModel, ForecastTask};
use crate::metrics::{ForecastErrors, naive_forecast, read_floats, seasonal_naive_forecast};
use crate::run::Results;
use crate::task::{Loaded, Report};

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
    /// Per predicted column: AutoETS refitted on the values before the origin (empty when
    /// `baseline.ets = false`).
    pub ets: Vec<Vec<f32>>,
    /// Per predicted column: the Theta method refitted on the values before the origin (empty
    /// when `baseline.theta = false`).
    pub theta: Vec<Vec<f32>>,
    /// Per predicted column: DLinear trained on the training windows (empty when
    /// `baseline.dlinear = false`).
    pub dlinear: Vec<Vec<f32>>,
}

/// Errors of the model and the baselines over a set of origins.
#[derive(Clone, Debug)]
pub struct ForecastReport {
    /// `test_*`, `naive_*`, `snaive_*`, `ets_*`, `theta_*`, `dlinear_*` for mae, mse, rmse, mape, smape, mase, and
    /// `windows`.
    pub results: Results,
    /// The forecasts, origin by origin.
    pub forecasts: Vec<OriginForecast>,
    /// The predicted columns' names.
    pub columns: Vec<String>,
    /// `original` or `scaled`.
    pub scale: &'static str,
    /// What `data.missing` did.
    pub missing: MissingCount,
    /// The series' dates (labels for plots).
    pub dates: Vec<String>,
    /// The ETS form fitted at the last origin (e.g. `MSTL(12) + ETS(A,Ad,N)`).
    pub ets_form: String,
    /// Why the DLinear baseline could not be fitted, when it could not.
    pub dlinear_failed: Option<String>,
    /// How the DLinear baseline was fitted, for the report.
    pub dlinear_fit: &'static str,
    /// Which forecast validation chose as the product (`eval.product = "validation"`).
    pub product: Option<super::product::Choice>,
}

impl Report for ForecastReport {
    fn results(&self) -> Results {
        self.results.clone()
    }
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
        for (name, key) in FORECASTERS {
            if !r.contains_key(&format!("{key}_mae")) {
                continue;
            }
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
        match r.contains_key("ets_mae") {
            true => writeln!(
                f,
                "ETS ({} at the last origin) and Theta are refitted at every origin on the values before it; the model is not refitted",
                self.ets_form
            )?,
            false => writeln!(f, "(ETS baseline off: baseline.ets = false)")?,
        }
        if let Some(choice) = &self.product {
            writeln!(f, "{choice}")?;
        }
        if let Some(why) = &self.dlinear_failed {
            writeln!(f, "DLinear could not be fitted: {why}")?;
        }
        if r.contains_key("dlinear_mae") {
            writeln!(
                f,
                "DLinear is {} on the training windows (every predicted column through one set of weights)",
                self.dlinear_fit
            )?;
        }
        if self.missing.filled + self.missing.dropped > 0 {
            writeln!(
                f,
                "data.missing: {} cell(s) filled, {} row(s) dropped",
                self.missing.filled, self.missing.dropped
            )?;
        }
        Ok(())
    }
}

/// The report's rows: each forecaster's name and its `results` key prefix.
pub const FORECASTERS: [(&str, &str); 6] = [
    ("model", "test"),
    ("naive", "naive"),
    ("seasonal naive", "snaive"),
    ("ETS (refit)", "ets"),
    ("Theta (refit)", "theta"),
    ("DLinear", "dlinear"),
];

/// Which forecast of an origin a row of the report scores.
type Forecaster = fn(&OriginForecast) -> &Vec<Vec<f32>>;

fn model_forecasts(
    model: &ForecastModel,
    e: &ForecastExperiment,
    p: &Prepared,
    origins: &[usize],
    steps: usize,
    device: &Device,
) -> anyhow::Result<Vec<Vec<f32>>> {
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
        let all = read_floats(Tensor::cat(parts, 1).narrow(1, 0, steps))?;
        out.extend(all.chunks(steps * n_out).map(<[f32]>::to_vec));
    }
    Ok(out)
}

/// The Theta method refitted at every origin of `column` on the `window` values before it
/// (all of them when 0), with period `season`; the last value repeated where the history is
/// too short to fit.
fn theta_forecasts(
    column: &[f32],
    origins: &[usize],
    steps: usize,
    window: usize,
    season: usize,
) -> anyhow::Result<Vec<Vec<f32>>> {
    super::ets::on_two_threads(origins, |origin| {
        let history = super::ets::history(column, origin, window);
        Ok(match super::theta::theta(&history, season, steps) {
            Some(t) => t.forecast.into_iter().map(|v| v as f32).collect(),
            None => naive_forecast(&column[..origin], steps),
        })
    })
}

/// The run's DLinear baseline: `Ok(None)` when `baseline.dlinear = false`, `Err` (why) when
/// it cannot be fitted (its rows are then left out and the report says why).
pub type DLinearBaseline = Result<Option<rnnlab_models::DLinear>, String>;

/// Fits the run's DLinear baseline (see [`DLinearBaseline`]).
pub fn dlinear_baseline(e: &ForecastExperiment, p: &Prepared) -> DLinearBaseline {
    match e.baseline.dlinear {
        true => super::dlinear::train(e, p)
            .map(Some)
            .map_err(|err| format!("{err:#}")),
        false => Ok(None),
    }
}

/// Scores the model and the baselines on `origins`, `steps` ahead each.
pub fn score(
    e: &ForecastExperiment,
    p: &Prepared,
    model: &ForecastModel,
    origins: &[usize],
    steps: usize,
    device: &Device,
) -> anyhow::Result<ForecastReport> {
    score_with(e, p, model, &dlinear_baseline(e, p), origins, steps, device)
}

/// [`score`] with the DLinear baseline already fitted.
pub fn score_with(
    e: &ForecastExperiment,
    p: &Prepared,
    model: &ForecastModel,
    dlinear: &DLinearBaseline,
    origins: &[usize],
    steps: usize,
    device: &Device,
) -> anyhow::Result<ForecastReport> {
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
    let predictions = model_forecasts(model, e, p, origins, steps, device)?;
    let cols: Vec<Vec<f32>> = p.outputs.iter().map(|&col| column(col)).collect();
    // ETS and Theta are fitted on the evaluation scale's values before each origin.
    let mut ets_form = String::new();
    let ets: Vec<Vec<Vec<f32>>> = match e.baseline.ets {
        true => cols
            .iter()
            .map(|col| {
                let (f, form) = super::ets::forecasts(
                    col,
                    origins,
                    steps,
                    e.baseline.ets_window,
                    e.data.season,
                )?;
                ets_form = form;
                Ok(f)
            })
            .collect::<anyhow::Result<_>>()?,
        false => Vec::new(),
    };
    let theta: Vec<Vec<Vec<f32>>> = match e.baseline.theta {
        true => cols
            .iter()
            .map(|col| theta_forecasts(col, origins, steps, e.baseline.ets_window, e.data.season))
            .collect::<anyhow::Result<_>>()?,
        false => Vec::new(),
    };
    // A DLinear that cannot be fitted leaves its rows out and says why; the model's report
    // stands.
    let (dlinear, dlinear_failed) = match dlinear {
        Ok(Some(trained)) => match super::dlinear::forecasts(trained, e, p, origins, steps) {
            Ok(f) => (f, None),
            Err(err) => (Vec::new(), Some(format!("{err:#}"))),
        },
        Ok(None) => (Vec::new(), None),
        Err(why) => (Vec::new(), Some(why.clone())),
    };
    let n_out = p.outputs.len();
    let season = e.data.season;
    let forecasts: Vec<OriginForecast> = origins
        .iter()
        .zip(&predictions)
        .enumerate()
        .map(|(i, (&o, pred))| {
            let mut f = OriginForecast {
                origin: o,
                history: Vec::new(),
                actual: Vec::new(),
                model: Vec::new(),
                naive: Vec::new(),
                seasonal: Vec::new(),
                ets: ets.iter().map(|per_origin| per_origin[i].clone()).collect(),
                theta: theta
                    .iter()
                    .map(|per_origin| per_origin[i].clone())
                    .collect(),
                dlinear: Vec::new(),
            };
            for (k, &col) in p.outputs.iter().enumerate() {
                let mut m: Vec<f32> = (0..steps).map(|s| pred[s * n_out + k]).collect();
                to_eval(col, &mut m);
                if let Some(d) = dlinear.get(i) {
                    let mut d: Vec<f32> = (0..steps).map(|s| d[s * n_out + k]).collect();
                    to_eval(col, &mut d);
                    f.dlinear.push(d);
                }
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
    let mut scored: Vec<(&str, Forecaster)> = vec![
        ("test", |f| &f.model),
        ("naive", |f| &f.naive),
        ("snaive", |f| &f.seasonal),
    ];
    if e.baseline.ets {
        scored.push(("ets", |f| &f.ets));
    }
    if e.baseline.theta {
        scored.push(("theta", |f| &f.theta));
    }
    if !dlinear.is_empty() {
        scored.push(("dlinear", |f| &f.dlinear));
    }
    for (key, pick) in scored {
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
    Ok(ForecastReport {
        results,
        forecasts,
        columns: p
            .outputs
            .iter()
            .map(|&i| p.series.names()[i].clone())
            .collect(),
        scale: if e.eval.scaled { "scaled" } else { "original" },
        missing: p.missing,
        dates: p.series.dates().to_vec(),
        ets_form,
        dlinear_failed,
        dlinear_fit: match e.baseline.dlinear_fit {
            super::config::DLinearFit::Adam => "trained by Adam",
            super::config::DLinearFit::Lstsq => "fitted by least squares",
        },
        product: None,
    })
}

/// Rolling-origin backtest: origins every `step` rows from the start of the validation rows,
/// each forecasting `horizon` steps with the trained model (not refitted).
pub fn backtest(
    run: &Loaded<ForecastTask>,
    horizon: Option<usize>,
    step: Option<usize>,
    device: &Device,
) -> anyhow::Result<ForecastReport> {
    let e = &run.config;
    let horizon = horizon.unwrap_or(e.data.horizon);
    let step = step.unwrap_or(horizon);
    if horizon == 0 || step == 0 {
        bail!("--horizon and --step must be at least 1");
    }
    if horizon > e.data.horizon && e.data.features == Features::MS {
        bail!("--horizon {horizon}: rolling forecasts need features S or M");
    }
    let data = run.data()?;
    let [train_end, _, test_end] = data.splits.bounds;
    let origins: Vec<usize> = (train_end.max(e.data.lookback)..)
        .step_by(step)
        .take_while(|o| o + horizon <= test_end)
        .collect();
    if origins.is_empty() {
        bail!("--horizon {horizon}: no origin fits between row {train_end} and row {test_end}");
    }
    score(e, &data, &run.model, &origins, horizon, device)
}
