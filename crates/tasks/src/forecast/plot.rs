//! A forecast drawn for one origin: as an SVG chart, and as terminal sparklines.

use std::path::Path;

use super::score::{ForecastReport, OriginForecast};
use crate::plot::{Line, line_chart_with, sparkline};

/// Draws column `column` of `forecast` (history, actual, model and every baseline) to an SVG
/// file, with a vertical line at the origin; the x axis is labelled with the series' dates.
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
    let (lo, hi) = lines
        .iter()
        .flat_map(|l| l.points.iter().map(|p| p.1))
        .filter(|y| y.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), y| {
            (a.min(y), b.max(y))
        });
    if lo.is_finite() {
        lines.push(Line {
            name: "origin".into(),
            points: vec![(o - 0.5, lo), (o - 0.5, hi)],
        });
    }
    let date = |row: usize| report.dates.get(row).cloned();
    let origin_date = date(forecast.origin).unwrap_or_else(|| format!("row {}", forecast.origin));
    let title = format!(
        "{}: forecast from {origin_date} ({} scale)",
        report.columns[column], report.scale
    );
    let x_format = |x: &f64| {
        let row = x.round().max(0.0) as usize;
        date(row).unwrap_or_else(|| format!("{row}"))
    };
    line_chart_with(path, &title, "date", &lines, Some(&x_format))
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
