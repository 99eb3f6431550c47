//! The exponential-smoothing baseline, refitted at every origin on the values before it, as a
//! forecaster would run it: `augurs-ets`'s AutoETS (the ETS form with the lowest AICc among
//! additive or multiplicative error and none/additive/damped trend). `augurs-ets` fits
//! non-seasonal forms only, so with a season (`data.season > 1` and two seasons of history) the
//! series is first decomposed by MSTL (`stlrs`, Bandara et al. 2021) and AutoETS fitted to the
//! deseasonalised series; the forecast adds the last season of the seasonal component back
//! (statsforecast's and augurs-mstl's recipe). The report names the form fitted at the last
//! origin, e.g. `MSTL(12) + ETS(A,Ad,N)`.

use anyhow::anyhow;
use augurs_core::{Fit, Predict};
use augurs_ets::AutoETS;

/// AutoETS (seasonally adjusted when `season > 1`) forecasts of `steps` values from each
/// origin of `column`, each fitted on the `window` values before its origin (0 = all of
/// them), and the form fitted at the last origin.
pub fn forecasts(
    column: &[f32],
    origins: &[usize],
    steps: usize,
    window: usize,
    season: usize,
) -> anyhow::Result<(Vec<Vec<f32>>, String)> {
    let one = |origin: usize| -> anyhow::Result<(Vec<f32>, String)> {
        let history = history(column, origin, window);
        let fail = |e: &dyn std::fmt::Display| anyhow!("ETS baseline at row {origin}: {e}");
        let (adjusted, seasonal) = if season > 1 && history.len() >= 2 * season {
            let mstl = stlrs::Mstl::fit(&history, &[season]).map_err(|e| fail(&e))?;
            let seasonal = mstl.seasonal()[0].clone();
            let adjusted: Vec<f64> = history.iter().zip(&seasonal).map(|(y, s)| y - s).collect();
            (adjusted, Some(seasonal))
        } else {
            (history, None)
        };
        let fitted = AutoETS::non_seasonal()
            .fit(&adjusted)
            // A series that defeats the search still gets a forecast: simple exponential
            // smoothing.
            .or_else(|_| AutoETS::new(1, "ANN").and_then(|s| s.fit(&adjusted)))
            .map_err(|e| fail(&e))?;
        let model = fitted.model();
        let t = model.model_type();
        let damped = if model.damped() { "d" } else { "" };
        let mut form = format!("ETS({},{}{damped},{})", t.error, t.trend, t.season);
        let mut point = fitted.predict(steps, None).map_err(|e| fail(&e))?.point;
        if let Some(seasonal) = seasonal {
            let last = &seasonal[seasonal.len() - season..];
            for (k, v) in point.iter_mut().enumerate() {
                *v += last[k % season];
            }
            form = format!("MSTL({season}) + {form}");
        }
        Ok((point.into_iter().map(|v| v as f32).collect(), form))
    };
    let fitted = on_two_threads(origins, one)?;
    let form = fitted.last().map(|(_, f)| f.clone()).unwrap_or_default();
    Ok((fitted.into_iter().map(|(f, _)| f).collect(), form))
}

/// The `window` values of `column` before `origin` (0 = all of them), as f64.
pub fn history(column: &[f32], origin: usize, window: usize) -> Vec<f64> {
    let start = match window {
        0 => 0,
        w => origin.saturating_sub(w),
    };
    column[start..origin]
        .iter()
        .map(|&v| f64::from(v))
        .collect()
}

/// `one` for every origin, in order, the origins split over two threads.
pub fn on_two_threads<T: Send>(
    origins: &[usize],
    one: impl Fn(usize) -> anyhow::Result<T> + Sync,
) -> anyhow::Result<Vec<T>> {
    let half = origins.len().div_ceil(2);
    let (a, b) = origins.split_at(half);
    std::thread::scope(|s| {
        let first = s.spawn(|| {
            a.iter()
                .map(|&o| one(o))
                .collect::<anyhow::Result<Vec<_>>>()
        });
        let mut second: Vec<T> = b.iter().map(|&o| one(o)).collect::<anyhow::Result<_>>()?;
        let mut out = first
            .join()
            .map_err(|_| anyhow!("a baseline's worker thread panicked"))??;
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
        let (out, form) = forecasts(&series, &[80, 100], 10, 0, 1).unwrap();
        assert!(form.starts_with("ETS("), "{form}");
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
        assert_eq!(forecasts(&series, &[100], 5, 30, 1).unwrap().0[0].len(), 5);
    }

    /// A strongly seasonal series with a trend: the seasonal form beats the naive forecast by
    /// far, and the non-seasonal one (what AutoETS alone fits) does not.
    #[test]
    fn the_seasonal_form_follows_the_season() {
        let series: Vec<f32> = (0..240)
            .map(|t| {
                let t = t as f32;
                100.0
                    + 0.3 * t
                    + 20.0 * (2.0 * std::f32::consts::PI * t / 12.0).sin()
                    + 1.5 * (t * 7.3).sin()
            })
            .collect();
        let origins = [204, 216];
        let error = |f: &[Vec<f32>]| -> f32 {
            let mut sum = 0.0;
            for (k, &o) in origins.iter().enumerate() {
                for (s, v) in f[k].iter().enumerate() {
                    sum += (v - series[o + s]).abs();
                }
            }
            sum / (12 * origins.len()) as f32
        };
        let (seasonal, form) = forecasts(&series, &origins, 12, 0, 12).unwrap();
        let (plain, _) = forecasts(&series, &origins, 12, 0, 1).unwrap();
        let naive: Vec<Vec<f32>> = origins.iter().map(|&o| vec![series[o - 1]; 12]).collect();
        assert!(form.starts_with("MSTL(12) + ETS("), "{form}");
        let (e_seasonal, e_plain, e_naive) = (error(&seasonal), error(&plain), error(&naive));
        assert!(
            e_seasonal < e_naive / 4.0,
            "seasonal {e_seasonal} vs naive {e_naive} (non-seasonal {e_plain})"
        );
        assert!(
            e_plain > e_naive / 2.0,
            "the non-seasonal form cannot follow the season"
        );
    }
}
