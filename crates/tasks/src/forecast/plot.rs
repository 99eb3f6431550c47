//! A forecast drawn for one origin: as an SVG chart, and as terminal sparklines.

use std::path::Path;

use super::score::{ForecastReport, OriginForecast};
use crate::plot::{Line, line_chart, sparkline};

/// Draws column `column` of `forecast` (history, actual, model, naive, seasonal naive) to an
/// SVG file; the x axis is the row number.
pub fn forecast_svg(
    report: &ForecastReport,
    forecast: &OriginForecast,
    column: usize,
    path: &Path,
) -> anyhow::Result<()> {
    let o = forecast.origin as f64;
    let h = forecast.history[column].len() as f64;
    let at = |start: f64, v: &[f32]| -> Vec<(f64, f64)> {
        v.iter()
            .enumerate()
            .map(|(i, &y)| (start + i as f64, y as f64))
            .collect()
    };
    // The forecast lines start from the last observed value, so they join the history.
    let joined = |v: &[f32]| -> Vec<(f64, f64)> {
        let mut points = forecast.history[column]
            .last()
            .map(|&y| vec![(o - 1.0, y as f64)])
            .unwrap_or_default();
        points.extend(at(o, v));
        points
    };
    let lines = vec![
        Line {
            name: "observed".into(),
            points: {
                let mut p = at(o - h, &forecast.history[column]);
                p.extend(
                    joined(&forecast.actual[column])
                        .into_iter()
                        .skip(usize::from(h > 0.0)),
                );
                p
            },
        },
        Line {
            name: "model".into(),
            points: joined(&forecast.model[column]),
        },
        Line {
            name: "naive".into(),
            points: joined(&forecast.naive[column]),
        },
        Line {
            name: "seasonal naive".into(),
            points: joined(&forecast.seasonal[column]),
        },
    ];
    let mut lines = lines;
    if let Some(ets) = forecast.ets.get(column) {
        lines.push(Line {
            name: "ETS".into(),
            points: joined(ets),
        });
    }
    let title = format!(
        "{}: forecast from row {} ({} scale)",
        report.columns[column], forecast.origin, report.scale
    );
    line_chart(path, &title, "row", &lines)
}

/// Sparklines of the actual values and each forecast of column `column`, on one scale.
pub fn terminal_summary(forecast: &OriginForecast, column: usize) -> String {
    let rows = [
        ("actual", &forecast.actual[column]),
        ("model", &forecast.model[column]),
        ("naive", &forecast.naive[column]),
        ("seasonal naive", &forecast.seasonal[column]),
    ];
    let all = rows.iter().flat_map(|(_, v)| v.iter().map(|&x| x as f64));
    let (lo, hi) = all.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| {
        (a.min(x), b.max(x))
    });
    rows.iter()
        .map(|(name, v)| {
            let values: Vec<f64> = v.iter().map(|&x| x as f64).collect();
            let mean_err = v
                .iter()
                .zip(forecast.actual[column].iter())
                .map(|(p, a)| (p - a).abs() as f64)
                .sum::<f64>()
                / v.len().max(1) as f64;
            format!(
                "{name:<15}{}  (mean |error| {mean_err:.4})\n",
                sparkline(&values, lo, hi)
            )
        })
        .collect()
}
