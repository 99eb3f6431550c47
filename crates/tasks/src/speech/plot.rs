//! `rnnlab predict RUN a.wav --plot out.svg`: the recording's log-mel spectrogram above the
//! frame-wise probability of each class the model considers: for a digit classifier the head
//! applied to every frame's output (with mean pooling the recording's logits are their mean),
//! for CTC the per-frame posteriors whose spikes are the emitted digits.

use std::path::Path;

use plotters::prelude::*;

use super::Prediction;
use crate::plot::heat;

/// Draws `p` to the SVG file `path` (written whole or not at all).
pub fn prediction_svg(p: &Prediction, name: &str, path: &Path) -> anyhow::Result<()> {
    let frames = p.log_mel.len();
    let bands = p.log_mel.first().map_or(0, Vec::len);
    anyhow::ensure!(
        frames > 0 && bands > 0,
        "nothing to plot in {}",
        path.display()
    );
    let seconds = frames as f64 * p.hop_seconds;
    let (lo, hi) = p
        .log_mel
        .iter()
        .flatten()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| {
            (a.min(v as f64), b.max(v as f64))
        });
    // The classes worth a line: those some frame gives 10 % or more.
    let n = p.class_names.len();
    let classes: Vec<usize> = (0..n)
        .filter(|&c| p.frame_probabilities.iter().any(|f| f[c] >= 0.1))
        .collect();
    crate::plot::write_svg(path, (1000, 640), |root| {
        let (top, bottom) = root.split_vertically(340);
        // The same width as the lower chart's, so the time axes line up.
        let (top, _) = top.split_horizontally(880);
        let title = format!("{name}: predicted {} ({:.3})", p.text, p.probability);
        let mut spec = ChartBuilder::on(&top)
            .caption(title, ("sans-serif", 20))
            .margin(12)
            .x_label_area_size(30)
            .y_label_area_size(60)
            .build_cartesian_2d(0.0..seconds, 0.0..bands as f64)?;
        spec.configure_mesh()
            .disable_mesh()
            .y_desc("mel band")
            .draw()?;
        spec.draw_series(p.log_mel.iter().enumerate().flat_map(|(t, row)| {
            row.iter().enumerate().map(move |(m, &v)| {
                let x = t as f64 * p.hop_seconds;
                Rectangle::new(
                    [(x, m as f64), (x + p.hop_seconds, m as f64 + 1.0)],
                    heat((v as f64 - lo) / (hi - lo).max(1e-9)).filled(),
                )
            })
        }))?;
        let (plot, legend) = bottom.split_horizontally(880);
        let mut chart = ChartBuilder::on(&plot)
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(60)
            .build_cartesian_2d(0.0..seconds, 0.0..1.0)?;
        chart
            .configure_mesh()
            .x_desc("seconds")
            .y_desc("frame-wise probability")
            .draw()?;
        for (i, &d) in classes.iter().enumerate() {
            let color = Palette99::pick(d).to_rgba();
            chart.draw_series(LineSeries::new(
                p.frame_probabilities
                    .iter()
                    .enumerate()
                    .map(|(t, f)| ((t as f64 + 0.5) * p.hop_seconds, f[d] as f64)),
                color.stroke_width(2),
            ))?;
            crate::plot::legend_entry(&legend, 30 + 22 * i as i32, color, &p.class_names[d])?;
        }
        Ok(())
    })
}
