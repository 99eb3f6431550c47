//! `rnnlab translate RUN "..." --plot-attention out.svg`: the attention matrix of one sentence,
//! source tokens across, output tokens down, each cell the weight that output step gave that
//! source position (each row sums to 1).

use std::path::Path;

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::plot::heat;

/// Side of one cell, in pixels.
const CELL: i32 = 36;

/// Draws the `weights` (one row per entry of `outputs`, one column per entry of `sources`) to
/// the SVG file `path` (written whole or not at all).
pub fn attention_svg(
    sources: &[String],
    outputs: &[String],
    weights: &[Vec<f32>],
    path: &Path,
) -> anyhow::Result<()> {
    anyhow::ensure!(
        !sources.is_empty() && !outputs.is_empty() && weights.len() == outputs.len(),
        "nothing to plot in {}",
        path.display()
    );
    anyhow::ensure!(
        weights.iter().all(|row| row.len() == sources.len()),
        "{}: the attention rows do not match the source tokens",
        path.display()
    );
    let longest = |v: &[String]| v.iter().map(|t| t.chars().count()).max().unwrap_or(0) as i32;
    let (left, top) = (20 + 9 * longest(outputs), 20 + 9 * longest(sources));
    let (w, h) = (
        left + CELL * sources.len() as i32 + 20,
        top + CELL * outputs.len() as i32 + 20,
    );
    crate::plot::write_svg(path, (w as u32, h as u32), |root| {
        let font = ("sans-serif", 15).into_font();
        for (j, s) in sources.iter().enumerate() {
            let x = left + CELL * j as i32 + CELL / 2;
            let style = font
                .clone()
                .transform(FontTransform::Rotate270)
                .color(&BLACK)
                .pos(Pos::new(HPos::Left, VPos::Center));
            root.draw(&Text::new(s.clone(), (x, top - 6), style))?;
        }
        for (i, (o, row)) in outputs.iter().zip(weights).enumerate() {
            let y = top + CELL * i as i32;
            let style = font
                .clone()
                .color(&BLACK)
                .pos(Pos::new(HPos::Right, VPos::Center));
            root.draw(&Text::new(o.clone(), (left - 6, y + CELL / 2), style))?;
            for (j, &v) in row.iter().enumerate() {
                let x = left + CELL * j as i32;
                root.draw(&Rectangle::new(
                    [(x, y), (x + CELL - 1, y + CELL - 1)],
                    heat(v as f64).filled(),
                ))?;
            }
        }
        Ok(())
    })
}
