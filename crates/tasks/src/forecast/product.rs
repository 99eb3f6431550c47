//! The forecast a run delivers: by default (`eval.product = "validation"`) whichever of the
//! model and the baselines had the lowest mean absolute error on the validation rows, one
//! `data.horizon` from every `eval.stride`-th validation origin. On a short series a network
//! can lose to a naive or exponential-smoothing forecast; the run then says so and delivers the
//! baseline ("validation chose the seasonal naive; the network is not used") instead of a
//! forecast worse than doing nothing. `results.json` carries every forecaster's validation
//! MAE as `valid_<key>_mae`, the product's test errors as `product_*` and its source as
//! `product_from_<key>` = 1 (`test` for the model).

use std::fmt;

use burn::prelude::Device;
use serde::{Deserialize, Serialize};

use super::ForecastModel;
use super::config::ForecastExperiment;
use super::data::Prepared;
use super::score::{FORECASTERS, ForecastReport, dlinear_baseline, score_with};

/// `eval.product`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Product {
    /// The forecaster with the lowest validation MAE.
    Validation,
    /// Always the model.
    Model,
}

/// What validation chose.
#[derive(Clone, Debug, PartialEq)]
pub struct Choice {
    /// The report row's name (`model`, `seasonal naive`, …).
    pub name: &'static str,
    /// Its `results` key prefix.
    pub key: &'static str,
    /// Its validation MAE.
    pub valid_mae: f64,
    /// The model's validation MAE.
    pub model_valid_mae: f64,
    /// Validation origins.
    pub windows: usize,
}

impl fmt::Display for Choice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.key {
            "test" => write!(
                f,
                "The product is the model: the lowest validation MAE ({:.4}, {} window(s))",
                self.valid_mae, self.windows
            ),
            _ => write!(
                f,
                "The product is the {}: validation chose it (MAE {:.4} against the model's {:.4}, {} window(s)); the network is not used",
                self.name, self.valid_mae, self.model_valid_mae, self.windows
            ),
        }
    }
}

/// Origins of the validation forecasts: from the first validation row every `eval.stride`
/// rows while `data.horizon` fits.
pub fn validation_origins(e: &ForecastExperiment, p: &Prepared) -> Vec<usize> {
    let [train_end, valid_end, _] = p.splits.bounds;
    (train_end.max(e.data.lookback)..)
        .step_by(e.eval.stride)
        .take_while(|o| o + e.data.horizon <= valid_end)
        .collect()
}

/// The test report of the model and the baselines on `origins`, with the product chosen on
/// validation (`eval.product = "validation"`) added: its errors as `product_*`.
pub fn score(
    e: &ForecastExperiment,
    p: &Prepared,
    model: &ForecastModel,
    origins: &[usize],
    steps: usize,
    device: &Device,
) -> anyhow::Result<ForecastReport> {
    let dlinear = dlinear_baseline(e, p);
    let mut report = score_with(e, p, model, &dlinear, origins, steps, device)?;
    let valid = validation_origins(e, p);
    if e.eval.product == Product::Model || valid.is_empty() {
        return Ok(report);
    }
    let on_valid = score_with(e, p, model, &dlinear, &valid, e.data.horizon, device)?;
    let choice = choose(&on_valid.results, valid.len());
    for (_, key) in FORECASTERS {
        if let Some(&mae) = on_valid.results.get(&format!("{key}_mae")) {
            report.results.insert(format!("valid_{key}_mae"), mae);
        }
    }
    for (k, v) in report.results.clone() {
        if let Some(metric) = k.strip_prefix(&format!("{}_", choice.key)) {
            report.results.insert(format!("product_{metric}"), v);
        }
    }
    report
        .results
        .insert(format!("product_from_{}", choice.key), 1.0);
    report.product = Some(choice);
    Ok(report)
}

/// The forecaster with the lowest validation MAE in `results`; the model on a tie.
pub fn choose(results: &crate::run::Results, windows: usize) -> Choice {
    let mae = |key: &str| results.get(&format!("{key}_mae")).copied();
    let model_valid_mae = mae("test").unwrap_or(f64::INFINITY);
    let (name, key, valid_mae) = FORECASTERS
        .iter()
        .filter_map(|&(name, key)| mae(key).filter(|m| m.is_finite()).map(|m| (name, key, m)))
        .fold(("model", "test", model_valid_mae), |best, next| {
            if next.2 < best.2 { next } else { best }
        });
    Choice {
        name,
        key,
        valid_mae,
        model_valid_mae,
        windows,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lowest_validation_error_wins_and_the_model_wins_ties() {
        let results: crate::run::Results = [
            ("test_mae", 2.0),
            ("naive_mae", 3.0),
            ("snaive_mae", 1.5),
            ("dlinear_mae", 1.5),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        let c = choose(&results, 4);
        assert_eq!(
            (c.key, c.valid_mae, c.model_valid_mae),
            ("snaive", 1.5, 2.0)
        );
        assert!(c.to_string().contains("the network is not used"), "{c}");
        let mut tie = results.clone();
        tie.insert("test_mae".into(), 1.5);
        assert_eq!(choose(&tie, 4).key, "test");
        let mut nan = results;
        nan.insert("snaive_mae".into(), f64::NAN);
        nan.insert("dlinear_mae".into(), f64::NAN);
        assert_eq!(choose(&nan, 4).key, "test");
    }
}
