//! Task metrics as plain functions over host values: classification scores with a confusion
//! matrix, and forecast errors next to the naive baselines they are judged against.

use burn::Tensor;
use burn::tensor::Int;

/// Binary or multi-class scores from predicted and true class indices.
#[derive(Clone, Debug, PartialEq)]
pub struct ClassificationReport {
    /// `confusion[truth][prediction]` counts.
    pub confusion: Vec<Vec<usize>>,
    /// Fraction of correct predictions.
    pub accuracy: f64,
    /// Per class: of the items predicted as the class, the fraction that are (0 when none).
    pub precision: Vec<f64>,
    /// Per class: of the items of the class, the fraction predicted as it (0 when none).
    pub recall: Vec<f64>,
    /// Per class: harmonic mean of precision and recall (0 when both are 0).
    pub f1: Vec<f64>,
}

impl ClassificationReport {
    /// Scores `predictions` against `truth` over `n_classes` classes.
    ///
    /// # Panics
    /// If the slices differ in length or a class index is out of range.
    pub fn new(predictions: &[usize], truth: &[usize], n_classes: usize) -> Self {
        assert_eq!(predictions.len(), truth.len(), "one prediction per item");
        let mut confusion = vec![vec![0; n_classes]; n_classes];
        for (&p, &t) in predictions.iter().zip(truth) {
            confusion[t][p] += 1;
        }
        let ratio = |a: usize, b: usize| if b == 0 { 0.0 } else { a as f64 / b as f64 };
        let correct: usize = (0..n_classes).map(|c| confusion[c][c]).sum();
        let predicted = |c: usize| (0..n_classes).map(|t| confusion[t][c]).sum::<usize>();
        let actual = |c: usize| confusion[c].iter().sum::<usize>();
        let precision: Vec<f64> = (0..n_classes)
            .map(|c| ratio(confusion[c][c], predicted(c)))
            .collect();
        let recall: Vec<f64> = (0..n_classes)
            .map(|c| ratio(confusion[c][c], actual(c)))
            .collect();
        let f1 = precision
            .iter()
            .zip(&recall)
            .map(|(p, r)| {
                if p + r == 0.0 {
                    0.0
                } else {
                    2.0 * p * r / (p + r)
                }
            })
            .collect();
        Self {
            accuracy: ratio(correct, truth.len()),
            confusion,
            precision,
            recall,
            f1,
        }
    }
}

impl ClassificationReport {
    /// Per-class precision, recall and F1, then the confusion matrix, one line per class
    /// (`labels` in class order).
    pub fn table(&self, labels: &[String]) -> String {
        use std::fmt::Write;
        let w = labels.iter().map(|l| l.len()).max().unwrap_or(5).max(9);
        let mut f = String::new();
        let _ = writeln!(f, "{:<w$}  precision  recall  f1", "class");
        for (i, l) in labels.iter().enumerate() {
            let _ = writeln!(
                f,
                "{l:<w$}  {:>9.4}  {:>6.4}  {:.4}",
                self.precision[i], self.recall[i], self.f1[i]
            );
        }
        let _ = writeln!(f, "confusion (rows: truth, columns: predicted)");
        let most = self.confusion.iter().flatten().max().copied().unwrap_or(0);
        let c = labels
            .iter()
            .map(|l| l.len())
            .max()
            .unwrap_or(1)
            .max(most.to_string().len());
        let _ = write!(f, "{:<w$}", "");
        for l in labels {
            let _ = write!(f, "  {l:>c$}");
        }
        let _ = writeln!(f);
        for (i, l) in labels.iter().enumerate() {
            let _ = write!(f, "{l:<w$}");
            for n in &self.confusion[i] {
                let _ = write!(f, "  {n:>c$}");
            }
            let _ = writeln!(f);
        }
        f
    }

    /// `test_accuracy` and macro `test_precision`/`test_recall`/`test_f1` of this report, with
    /// `baseline_accuracy` and `baseline_f1` of `baseline`'s (as `results.json` holds them).
    pub fn results_beside(&self, baseline: &ClassificationReport) -> crate::run::Results {
        let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
        crate::run::Results::from([
            ("test_accuracy".into(), self.accuracy),
            ("test_precision".into(), mean(&self.precision)),
            ("test_recall".into(), mean(&self.recall)),
            ("test_f1".into(), self.macro_f1()),
            ("baseline_accuracy".into(), baseline.accuracy),
            ("baseline_f1".into(), baseline.macro_f1()),
        ])
    }

    /// The unweighted mean of the per-class F1 scores.
    pub fn macro_f1(&self) -> f64 {
        self.f1.iter().sum::<f64>() / self.f1.len().max(1) as f64
    }
}

/// Forecast errors over aligned predictions and targets (any shape, flattened).
#[derive(Clone, Debug, PartialEq)]
pub struct ForecastErrors {
    /// Mean absolute error.
    pub mae: f64,
    /// Mean squared error.
    pub mse: f64,
    /// Root mean squared error.
    pub rmse: f64,
    /// Mean absolute percentage error, as a fraction (items with a zero target are skipped).
    pub mape: f64,
    /// Symmetric MAPE `mean(2|p − y| / (|p| + |y|))`, as a fraction.
    pub smape: f64,
    /// MAE divided by the in-sample MAE of the seasonal naive forecast with period `m` on the
    /// training series (Hyndman & Koehler 2006); `NaN` when that scale is 0.
    pub mase: f64,
}

impl ForecastErrors {
    /// Errors of `predictions` against `targets`, with MASE scaled by `train` and `season`
    /// (`season = 1` for the non-seasonal naive scale).
    pub fn new(predictions: &[f32], targets: &[f32], train: &[f32], season: usize) -> Self {
        assert_eq!(
            predictions.len(),
            targets.len(),
            "one prediction per target"
        );
        assert!(!targets.is_empty(), "no targets");
        let n = targets.len() as f64;
        let pairs = || {
            predictions
                .iter()
                .zip(targets)
                .map(|(&p, &y)| (p as f64, y as f64))
        };
        let mae = mae(predictions, targets);
        let mse = pairs().map(|(p, y)| (p - y).powi(2)).sum::<f64>() / n;
        let nonzero: Vec<(f64, f64)> = pairs().filter(|(_, y)| *y != 0.0).collect();
        let mape = nonzero
            .iter()
            .map(|(p, y)| ((p - y) / y).abs())
            .sum::<f64>()
            / nonzero.len().max(1) as f64;
        let smape = pairs()
            .map(|(p, y)| {
                if p == 0.0 && y == 0.0 {
                    0.0
                } else {
                    2.0 * (p - y).abs() / (p.abs() + y.abs())
                }
            })
            .sum::<f64>()
            / n;
        let scale = if train.len() > season {
            train
                .windows(season + 1)
                .map(|w| (w[season] as f64 - w[0] as f64).abs())
                .sum::<f64>()
                / (train.len() - season) as f64
        } else {
            f64::NAN
        };
        let mase = if scale > 0.0 { mae / scale } else { f64::NAN };
        Self {
            mae,
            mse,
            rmse: mse.sqrt(),
            mape,
            smape,
            mase,
        }
    }
}

/// Mean absolute error of `predictions` against `targets` (same length, not empty).
pub fn mae(predictions: &[f32], targets: &[f32]) -> f64 {
    predictions
        .iter()
        .zip(targets)
        .map(|(&p, &y)| (p as f64 - y as f64).abs())
        .sum::<f64>()
        / targets.len() as f64
}

/// The naive forecast: the last observed value repeated over the horizon.
pub fn naive_forecast(history: &[f32], horizon: usize) -> Vec<f32> {
    let last = *history.last().expect("a non-empty history");
    vec![last; horizon]
}

/// The seasonal naive forecast: each step repeats the value one season earlier.
///
/// # Panics
/// If the history is shorter than one season.
pub fn seasonal_naive_forecast(history: &[f32], horizon: usize, season: usize) -> Vec<f32> {
    assert!(
        season >= 1 && history.len() >= season,
        "a history of at least one season"
    );
    let last_season = &history[history.len() - season..];
    (0..horizon).map(|h| last_season[h % season]).collect()
}

/// The values of an integer tensor read back from its device as indices; a failed read (a
/// lost device, say) is an error, never an empty list.
pub fn read_ints<const D: usize>(t: Tensor<D, Int>) -> anyhow::Result<Vec<usize>> {
    let v = t
        .into_data()
        .convert::<i64>()
        .try_to_vec::<i64>()
        .map_err(|e| anyhow::anyhow!("cannot read a tensor back from the device: {e:?}"))?;
    v.into_iter()
        .map(|x| usize::try_from(x).map_err(|_| anyhow::anyhow!("negative index {x} read back")))
        .collect()
}

/// The values of a float tensor read back from its device as `f32`; a failed read is an
/// error, never an empty list.
pub fn read_floats<const D: usize>(t: Tensor<D>) -> anyhow::Result<Vec<f32>> {
    t.into_data()
        .convert::<f32>()
        .try_to_vec::<f32>()
        .map_err(|e| anyhow::anyhow!("cannot read a tensor back from the device: {e:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classification_report_by_hand() {
        // truth:      1 1 1 0 0 0 0 1
        // prediction: 1 1 0 0 0 1 0 1
        let r = ClassificationReport::new(&[1, 1, 0, 0, 0, 1, 0, 1], &[1, 1, 1, 0, 0, 0, 0, 1], 2);
        assert_eq!(r.confusion, vec![vec![3, 1], vec![1, 3]]);
        assert_eq!(r.accuracy, 0.75);
        assert_eq!((r.precision[1], r.recall[1], r.f1[1]), (0.75, 0.75, 0.75));
        let none = ClassificationReport::new(&[0, 0], &[0, 1], 2);
        assert_eq!(
            (none.precision[1], none.recall[1], none.f1[1]),
            (0.0, 0.0, 0.0)
        );
    }

    #[test]
    fn forecast_errors_and_baselines_by_hand() {
        let e = ForecastErrors::new(&[110.0, 90.0], &[100.0, 100.0], &[1.0, 3.0, 2.0, 4.0], 1);
        assert_eq!((e.mae, e.mse, e.rmse), (10.0, 100.0, 10.0));
        assert!((e.mape - 0.1).abs() < 1e-12);
        assert!((e.smape - (20.0 / 210.0 + 20.0 / 190.0) / 2.0).abs() < 1e-12);
        // Naive in-sample MAE of [1, 3, 2, 4] = (2 + 1 + 2) / 3.
        assert!((e.mase - 10.0 / (5.0 / 3.0)).abs() < 1e-12);
        assert_eq!(naive_forecast(&[1.0, 2.0, 3.0], 2), vec![3.0, 3.0]);
        assert_eq!(
            seasonal_naive_forecast(&[1.0, 2.0, 3.0, 4.0, 5.0], 5, 2),
            vec![4.0, 5.0, 4.0, 5.0, 4.0]
        );
    }

    #[test]
    fn airline_seasonal_naive_mape_matches_the_published_baseline() {
        // The reference: seasonal naive on the last 36 months of airline passengers
        // has MAPE 0.1319 when each of the 36 months repeats the same month of the last
        // training year.
        let path = rnnlab_data::shipped_datasets_dir().join("timeseries/airline_passengers.csv");
        let series = rnnlab_data::timeseries::Series::from_csv(&path, "Month").unwrap();
        let y = series.column("#Passengers").unwrap();
        let (train, test) = y.split_at(108);
        let forecast = seasonal_naive_forecast(train, 36, 12);
        let e = ForecastErrors::new(&forecast, test, train, 12);
        assert!((e.mape - 0.1319).abs() < 5e-4, "{}", e.mape);
    }
}
