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

/// Draws `lines` into an SVG file at `path` (written to a temporary file, then renamed).
pub fn line_chart(path: &Path, title: &str, x_label: &str, lines: &[Line]) -> anyhow::Result<()> {
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
    let tmp = path.with_extension("svg.tmp");
    {
        let root = SVGBackend::new(&tmp, (900, 420)).into_drawing_area();
        let draw = || -> Result<(), Box<dyn std::error::Error + '_>> {
            root.fill(&WHITE)?;
            let mut chart = ChartBuilder::on(&root)
                .caption(title, ("sans-serif", 20))
                .margin(12)
                .x_label_area_size(36)
                .y_label_area_size(60)
                .build_cartesian_2d(x0..x1, y0..y1)?;
            chart.configure_mesh().x_desc(x_label).draw()?;
            for (i, line) in lines.iter().enumerate() {
                let color = COLORS[i % COLORS.len()];
                chart
                    .draw_series(LineSeries::new(
                        line.points.iter().copied(),
                        color.stroke_width(2),
                    ))?
                    .label(line.name.clone())
                    .legend(move |(x, y)| {
                        PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2))
                    });
            }
            chart
                .configure_series_labels()
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK)
                .draw()?;
            root.present()?;
            Ok(())
        };
        draw().map_err(|e| anyhow::anyhow!("cannot draw {}: {e}", path.display()))?;
    }
    std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))
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

/// The train and valid loss per epoch of a run's `metrics.csv`, drawn to `path`.
pub fn loss_curves(history: &crate::training::history::History, path: &Path) -> anyhow::Result<()> {
    let lines: Vec<Line> = ["train", "valid"]
        .iter()
        .map(|split| Line {
            name: format!("{split} loss"),
            points: history
                .curve(split, "Loss")
                .into_iter()
                .map(|(e, v)| (e as f64, v))
                .collect(),
        })
        .filter(|l| !l.points.is_empty())
        .collect();
    line_chart(path, "loss per epoch", "epoch", &lines)
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
