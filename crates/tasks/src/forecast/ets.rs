//! The exponential-smoothing baseline: `augurs-ets`'s AutoETS (the ETS form with the lowest
//! AICc among additive or multiplicative error and none/additive/damped trend), refitted at
//! every origin on the values before it, as a forecaster would run it. augurs-ets fits
//! non-seasonal forms only; the seasonal-naive baseline covers seasonality.

use anyhow::anyhow;
use augurs_core::{Fit, Predict};
use augurs_ets::AutoETS;

/// AutoETS forecasts of `steps` values from each origin of `column`, each fitted on the
/// `window` values before its origin (0 = all of them). Origins are split over two threads.
pub fn forecasts(
    column: &[f32],
    origins: &[usize],
    steps: usize,
    window: usize,
) -> anyhow::Result<Vec<Vec<f32>>> {
    let one = |origin: usize| -> anyhow::Result<Vec<f32>> {
        let start = match window {
            0 => 0,
            w => origin.saturating_sub(w),
        };
        let history: Vec<f64> = column[start..origin]
            .iter()
            .map(|&v| f64::from(v))
            .collect();
        let fitted = AutoETS::non_seasonal()
            .fit(&history)
            // A series that defeats the search still gets a forecast: simple exponential
            // smoothing.
            .or_else(|_| AutoETS::new(1, "ANN").and_then(|s| s.fit(&history)))
            .map_err(|e| anyhow!("ETS baseline at row {origin}: {e}"))?;
        let point = fitted
            .predict(steps, None)
            .map_err(|e| anyhow!("ETS baseline at row {origin}: {e}"))?
            .point;
        Ok(point.into_iter().map(|v| v as f32).collect())
    };
    let half = origins.len().div_ceil(2);
    let (a, b) = origins.split_at(half);
    std::thread::scope(|s| {
        let first = s.spawn(|| {
            a.iter()
                .map(|&o| one(o))
                .collect::<anyhow::Result<Vec<_>>>()
        });
        let mut second: Vec<Vec<f32>> = b.iter().map(|&o| one(o)).collect::<anyhow::Result<_>>()?;
        let mut out = first
            .join()
            .map_err(|_| anyhow!("ETS baseline: a worker thread panicked"))??;
        out.append(&mut second);
        Ok(out)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn follows_a_trend_and_refits_per_origin() {
        // A noisy upward trend.
        let series: Vec<f32> = (0..120)
            .map(|t| 50.0 + 2.0 * t as f32 + [0.5, -0.3, 0.2, -0.4][t % 4])
            .collect();
        let out = forecasts(&series, &[80, 100], 10, 0).unwrap();
        assert_eq!((out.len(), out[0].len()), (2, 10));
        for (k, origin) in [80usize, 100].into_iter().enumerate() {
            for (s, &value) in out[k].iter().enumerate() {
                let truth = 50.0 + 2.0 * (origin + s) as f32;
                assert!((value - truth).abs() < 3.0, "{k} {s}: {value} vs {truth}");
            }
        }
        // Refitted: the later origin sees the later level, not the earlier forecast's.
        assert!(out[1][0] > out[0][9]);
        // A trailing window gives a forecast too.
        assert_eq!(forecasts(&series, &[100], 5, 30).unwrap()[0].len(), 5);
    }
}
