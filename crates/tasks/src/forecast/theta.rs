//! The Theta method (Assimakopoulos & Nikolopoulos 2000), the M3 competition's best method and
//! a standard forecasting baseline, in the form of Hyndman & Billah (2003) that statsmodels'
//! `ThetaModel` implements with its defaults (which `tests/fixtures/theta.json` holds, made by
//! `tests/fixtures/make_theta_fixture.py`):
//!
//! 1. With a period `m > 1` and at least two periods of history, test for seasonality: the
//!    lag-`m` autocorrelation `r_m` with `n r_m² / Σ_{k<m} r_k² > 2.7055` (10 % of a χ²(1));
//!    if seasonal, divide by (or, when the series is not positive or a seasonal index is not,
//!    subtract) the seasonal indices of a classical decomposition (centred moving average).
//! 2. `b0`: the slope of an OLS line through the deseasonalised series; `α`: simple exponential
//!    smoothing fitted by least squares from the first value as initial level.
//! 3. Forecast `h` steps ahead (θ = 2): `ℓ_n + b0/2 · (h − 1 + 1/α − (1 − α)^n / α)`, then
//!    re-seasonalised.

/// A fitted Theta forecaster's forecast and what it did.
#[derive(Clone, Debug, PartialEq)]
pub struct Theta {
    /// The forecast.
    pub forecast: Vec<f64>,
    /// The SES smoothing parameter.
    pub alpha: f64,
    /// The trend line's slope.
    pub b0: f64,
    /// `Some("mul" | "add")` when the series was deseasonalised.
    pub seasonal: Option<&'static str>,
}

/// The Theta method's forecast of `steps` values after `y` with period `period` (1 = none).
/// `None` when `y` has fewer than 2 values or is not finite.
pub fn theta(y: &[f64], period: usize, steps: usize) -> Option<Theta> {
    let n = y.len();
    if n < 2 || y.iter().any(|v| !v.is_finite()) {
        return None;
    }
    let mut mul = y.iter().all(|&v| v > 0.0);
    let mut indices: Option<Vec<f64>> = None;
    if period > 1 && n >= 2 * period && seasonality_test(y, period) {
        let mut s = seasonal_indices(y, period, mul);
        if mul && s.iter().any(|&v| v <= 0.0) {
            mul = false;
            s = seasonal_indices(y, period, false);
        }
        indices = Some(s);
    }
    let adjusted: Vec<f64> = match &indices {
        Some(s) => y
            .iter()
            .enumerate()
            .map(|(t, &v)| {
                if mul {
                    v / s[t % period]
                } else {
                    v - s[t % period]
                }
            })
            .collect(),
        None => y.to_vec(),
    };
    let b0 = ols_slope(&adjusted);
    let alpha = ses_alpha(&adjusted);
    let level = ses_level(&adjusted, alpha);
    let forecast = (0..steps)
        .map(|k| {
            let mut h = k as f64;
            if alpha > 0.0 {
                h += 1.0 / alpha - (1.0 - alpha).powi(n as i32) / alpha;
            }
            let value = level + 0.5 * b0 * h;
            match &indices {
                Some(s) if mul => value * s[(n + k) % period],
                Some(s) => value + s[(n + k) % period],
                None => value,
            }
        })
        .collect();
    Some(Theta {
        forecast,
        alpha,
        b0,
        seasonal: indices.map(|_| if mul { "mul" } else { "add" }),
    })
}

/// statsmodels' seasonality test: `n r_m² / Σ_{k<m} r_k²` above the 10 % point of χ²(1).
fn seasonality_test(y: &[f64], period: usize) -> bool {
    let n = y.len() as f64;
    let mean = y.iter().sum::<f64>() / n;
    let d: Vec<f64> = y.iter().map(|v| v - mean).collect();
    let var: f64 = d.iter().map(|v| v * v).sum();
    if var == 0.0 {
        return false;
    }
    let r = |k: usize| d.iter().zip(&d[k..]).map(|(a, b)| a * b).sum::<f64>() / var;
    let below: f64 = (0..period).map(|k| r(k).powi(2)).sum();
    n * r(period).powi(2) / below > 2.705543454095404
}

/// The seasonal indices of a classical decomposition: the centred moving average of `period`
/// (half weights at both ends for an even period) as trend, the mean detrended value at each
/// position of the period, normalised to mean 1 (`mul`) or 0.
fn seasonal_indices(y: &[f64], period: usize, mul: bool) -> Vec<f64> {
    let filter: Vec<f64> = if period.is_multiple_of(2) {
        let mut f = vec![1.0 / period as f64; period + 1];
        f[0] = 0.5 / period as f64;
        f[period] = 0.5 / period as f64;
        f
    } else {
        vec![1.0 / period as f64; period]
    };
    let half = filter.len() / 2;
    let (mut sums, mut counts) = (vec![0.0f64; period], vec![0usize; period]);
    for t in half..y.len().saturating_sub(filter.len() - 1 - half) {
        let trend: f64 = filter
            .iter()
            .enumerate()
            .map(|(j, w)| w * y[t + j - half])
            .sum();
        let detrended = if mul { y[t] / trend } else { y[t] - trend };
        sums[t % period] += detrended;
        counts[t % period] += 1;
    }
    let mut s: Vec<f64> = sums
        .iter()
        .zip(&counts)
        .map(|(s, &c)| s / c as f64)
        .collect();
    let mean = s.iter().sum::<f64>() / period as f64;
    for v in &mut s {
        if mul {
            *v /= mean;
        } else {
            *v -= mean;
        }
    }
    s
}

/// The slope of the least-squares line through `(t, y_t)`, `t = 0, 1, …`.
fn ols_slope(y: &[f64]) -> f64 {
    let n = y.len() as f64;
    let t_mean = (n - 1.0) / 2.0;
    let y_mean = y.iter().sum::<f64>() / n;
    let (mut num, mut den) = (0.0, 0.0);
    for (t, &v) in y.iter().enumerate() {
        let dt = t as f64 - t_mean;
        num += dt * (v - y_mean);
        den += dt * dt;
    }
    num / den
}

/// The SES level after `y` with smoothing `alpha`, starting from `y[0]`.
fn ses_level(y: &[f64], alpha: f64) -> f64 {
    y.iter().fold(y[0], |l, &v| alpha * v + (1.0 - alpha) * l)
}

/// The sum of squared one-step errors of SES with `alpha`, starting from `y[0]`.
fn ses_sse(y: &[f64], alpha: f64) -> f64 {
    let mut level = y[0];
    let mut sse = 0.0;
    for &v in y {
        sse += (v - level).powi(2);
        level = alpha * v + (1.0 - alpha) * level;
    }
    sse
}

/// `α` in [0, 1] minimising [`ses_sse`]: a coarse grid, then golden-section search around its
/// best point (the SSE need not be unimodal over the whole interval).
fn ses_alpha(y: &[f64]) -> f64 {
    // 21 grid points and 35 golden-section steps: 0.05 · 0.618³⁵ ≈ 2e-9 (the refits at
    // thousands of hourly origins make the count matter).
    let grid = 20;
    let best = (0..=grid)
        .map(|i| i as f64 / grid as f64)
        .min_by(|a, b| ses_sse(y, *a).total_cmp(&ses_sse(y, *b)))
        .unwrap_or(0.5);
    let step = 1.0 / grid as f64;
    let (mut lo, mut hi) = ((best - step).max(0.0), (best + step).min(1.0));
    let ratio = (5f64.sqrt() - 1.0) / 2.0;
    for _ in 0..35 {
        let a = hi - ratio * (hi - lo);
        let b = lo + ratio * (hi - lo);
        if ses_sse(y, a) < ses_sse(y, b) {
            hi = b;
        } else {
            lo = a;
        }
    }
    (lo + hi) / 2.0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// statsmodels' forecasts, alphas and slopes (`tests/fixtures/theta.json`).
    #[test]
    fn matches_statsmodels() {
        let cases: serde_json::Value =
            serde_json::from_str(include_str!("../../tests/fixtures/theta.json")).unwrap();
        for case in cases.as_array().unwrap() {
            let name = case["name"].as_str().unwrap();
            let floats = |k: &str| -> Vec<f64> {
                case[k]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|v| v.as_f64().unwrap())
                    .collect()
            };
            let n = |k: &str| case[k].as_u64().unwrap() as usize;
            let got = theta(&floats("series"), n("period"), n("steps")).unwrap();
            let expected_seasonal = case["deseasonalized"]
                .as_bool()
                .unwrap()
                .then(|| case["method"].as_str().unwrap());
            assert_eq!(got.seasonal, expected_seasonal, "{name}");
            let b0 = case["b0"].as_f64().unwrap();
            assert!(
                (got.b0 - b0).abs() <= 1e-9 * b0.abs().max(1.0),
                "{name}: b0 {} vs {b0}",
                got.b0
            );
            let alpha = case["alpha"].as_f64().unwrap();
            // statsmodels' optimiser stops within about 2e-4 of the bound α = 1 where the
            // least-squares α is 1 (short_quarterly); elsewhere the two agree closer.
            assert!(
                (got.alpha - alpha).abs() < 5e-4,
                "{name}: alpha {} vs {alpha}",
                got.alpha
            );
            for (a, e) in got.forecast.iter().zip(floats("forecast")) {
                assert!(
                    (a - e).abs() <= 1e-4 * e.abs().max(1.0),
                    "{name}: {:?}",
                    got.forecast
                );
            }
        }
    }

    #[test]
    fn degenerate_input_gives_none() {
        assert!(theta(&[1.0], 1, 3).is_none());
        assert!(theta(&[1.0, f64::NAN, 2.0], 1, 3).is_none());
        // A constant series forecasts itself.
        let flat = theta(&[3.0; 20], 4, 5).unwrap();
        assert!(
            flat.forecast.iter().all(|v| (v - 3.0).abs() < 1e-9),
            "{flat:?}"
        );
    }
}
