//! Plots: SVG line charts (plotters) for loss curves and forecasts, and terminal sparklines.

use std::path::Path;

use anyhow::Context;
use plotters::prelude::*;

/// One named line of `(x, y)` points.
pub struct Line {
    /// Legend text.
    pub name: String,
    /// The points, in x order.
    pub points: Vec<(f64, f64)>,
}

const COLORS: [RGBColor; 5] = [
    RGBColor(0, 0, 0),
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
];

/// The drawing area of an SVG file being drawn.
pub type Svg<'a> = DrawingArea<SVGBackend<'a>, plotters::coord::Shift>;

/// Draws an SVG of `size` pixels (white background) with `draw` and writes it to `path` whole
/// or not at all: drawn into a temporary file, renamed over `path`, the temporary file removed
/// if drawing or writing fails.
pub fn write_svg(
    path: &Path,
    size: (u32, u32),
    draw: impl FnOnce(&Svg<'_>) -> Result<(), Box<dyn std::error::Error>>,
) -> anyhow::Result<()> {
    let tmp = path.with_extension("svg.tmp");
    let drawn = {
        let root = SVGBackend::new(&tmp, size).into_drawing_area();
        root.fill(&WHITE)
            .map_err(Into::into)
            .and_then(|()| draw(&root))
            .and_then(|()| root.present().map_err(Into::into))
            .map_err(|e| anyhow::anyhow!("cannot draw {}: {e}", path.display()))
    };
    let written = drawn.and_then(|()| {
        std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))
    });
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

/// A dark-to-bright colour for `t` in `[0, 1]` (viridis' end points and middle).
pub fn heat(t: f64) -> RGBColor {
    const STOPS: [(f64, f64, f64); 3] = [
        (68.0, 1.0, 84.0),
        (33.0, 145.0, 140.0),
        (253.0, 231.0, 37.0),
    ];
    let t = t.clamp(0.0, 1.0) * 2.0;
    let (i, f) = ((t.floor() as usize).min(1), t - t.floor().min(1.0));
    let (a, b) = (STOPS[i], STOPS[i + 1]);
    let mix = |x: f64, y: f64| (x + (y - x) * f).round() as u8;
    RGBColor(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

/// Draws `lines` into an SVG file at `path` (written to a temporary file, then renamed); the
/// legend sits in a panel right of the plot, never over the data, and lines of few points get
/// a marker at each point.
pub fn line_chart(path: &Path, title: &str, x_label: &str, lines: &[Line]) -> anyhow::Result<()> {
    line_chart_with(path, title, x_label, lines, None)
}

/// One legend line at height `y` of a legend panel: a stroke of `color`, then `name`.
pub fn legend_entry<C: Color>(
    legend: &DrawingArea<SVGBackend<'_>, plotters::coord::Shift>,
    y: i32,
    color: C,
    name: &str,
) -> Result<(), Box<dyn std::error::Error>> {
    legend.draw(&PathElement::new(
        vec![(8, y), (30, y)],
        color.stroke_width(2),
    ))?;
    legend.draw(&Text::new(
        name.to_string(),
        (36, y - 7),
        ("sans-serif", 14),
    ))?;
    Ok(())
}

/// [`line_chart`] with the x values written by `x_format` (dates, say).
pub fn line_chart_with(
    path: &Path,
    title: &str,
    x_label: &str,
    lines: &[Line],
    x_format: Option<&dyn Fn(&f64) -> String>,
) -> anyhow::Result<()> {
    let points = lines
        .iter()
        .flat_map(|l| l.points.iter())
        .filter(|p| p.0.is_finite() && p.1.is_finite());
    let (mut x0, mut x1, mut y0, mut y1) = (
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::INFINITY,
        f64::NEG_INFINITY,
    );
    for &(x, y) in points {
        (x0, x1, y0, y1) = (x0.min(x), x1.max(x), y0.min(y), y1.max(y));
    }
    if !x0.is_finite() {
        anyhow::bail!("nothing to plot in {}", path.display());
    }
    let pad = ((y1 - y0) * 0.05).max(1e-9);
    let (x1, y0, y1) = (if x1 > x0 { x1 } else { x0 + 1.0 }, y0 - pad, y1 + pad);
    write_svg(path, (1060, 420), |root| {
        let (plot, legend) = root.split_horizontally(880);
        let mut chart = ChartBuilder::on(&plot)
            .caption(title, ("sans-serif", 20))
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(60)
            .build_cartesian_2d(x0..x1, y0..y1)?;
        let mut mesh = chart.configure_mesh();
        mesh.x_desc(x_label);
        if let Some(format) = x_format {
            mesh.x_label_formatter(format).x_labels(6);
        }
        mesh.draw()?;
        for (i, line) in lines.iter().enumerate() {
            let color = COLORS[i % COLORS.len()];
            chart.draw_series(LineSeries::new(
                line.points.iter().copied(),
                color.stroke_width(2),
            ))?;
            if line.points.len() < 40 {
                chart.draw_series(
                    line.points
                        .iter()
                        .map(|&p| Circle::new(p, 3, color.filled())),
                )?;
            }
            legend_entry(&legend, 40 + 22 * i as i32, color, &line.name)?;
        }
        Ok(())
    })
}

/// `▁▂▃▄▅▆▇█` for `values`, on the scale of `[lo, hi]`.
pub fn sparkline(values: &[f64], lo: f64, hi: f64) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    values
        .iter()
        .map(|&v| {
            if !v.is_finite() {
                return ' ';
            }
            let t = if hi > lo { (v - lo) / (hi - lo) } else { 0.5 };
            BARS[((t * 7.0).round() as isize).clamp(0, 7) as usize]
        })
        .collect()
}

/// The training loss every `train.log_every` steps and the validation loss at the end of each
/// epoch (and, for classifiers, the validation accuracy), against optimiser steps, from a
/// run's `metrics.csv`; the kept epoch is marked. Drawn to `path`.
pub fn loss_curves(
    history: &crate::training::history::History,
    kept_epoch: Option<usize>,
    path: &Path,
) -> anyhow::Result<()> {
    let points = |split: &str, metric: &str| -> Vec<(f64, f64)> {
        history
            .by_step(split, metric)
            .into_iter()
            .map(|(s, v)| (s as f64, v))
            .collect()
    };
    let mut lines = vec![
        Line {
            name: "train loss".into(),
            points: points("train_steps", "Loss"),
        },
        Line {
            name: "valid loss".into(),
            points: points("valid", "Loss"),
        },
        Line {
            name: "valid accuracy".into(),
            points: points("valid", "Accuracy"),
        },
    ];
    if let Some(kept) = kept_epoch {
        let at: Vec<(f64, f64)> = history
            .rows
            .iter()
            .filter(|r| r.epoch == kept && r.split == "valid" && r.metric == "Loss")
            .map(|r| (r.step as f64, r.value))
            .collect();
        lines.push(Line {
            name: format!("kept epoch {kept}"),
            points: at,
        });
    }
    lines.retain(|l| !l.points.is_empty());
    line_chart(path, "training curves", "optimiser step", &lines)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sparklines_span_the_scale() {
        assert_eq!(sparkline(&[0.0, 0.5, 1.0, f64::NAN], 0.0, 1.0), "▁▅█ ");
    }

    #[test]
    fn charts_are_svg_files() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("c.svg");
        let line = Line {
            name: "actual".into(),
            points: vec![(0.0, 1.0), (1.0, 3.0), (2.0, 2.0)],
        };
        line_chart(&path, "t", "step", &[line]).unwrap();
        let svg = std::fs::read_to_string(&path).unwrap();
        assert!(
            svg.starts_with("<svg") && svg.contains("actual") && svg.contains("<polyline"),
            "{svg}"
        );
        assert!(line_chart(&path, "t", "x", &[]).is_err());
    }
}
