//! `rnnlab inspect`: one self-contained HTML page (no network access, no scripts) showing what
//! a trained recurrent stack does on one input, in the manner of Karpathy, Johnson & Fei-Fei
//! (2015), "Visualizing and Understanding Recurrent Networks":
//! - the input coloured by the activation of chosen units (by default the units most
//!   correlated with simple input features, such as the position in the line or being inside
//!   quotes, and the most active ones);
//! - gate saturation per layer: for every unit, the fraction of steps each gate spends below
//!   0.1 (left-saturated) and above 0.9 (right-saturated), as their Figure 3;
//! - gradient flow: `‖∂L/∂h_t‖` against the distance from the loss, on a log scale, a line per
//!   layer.
//!
//! A task builds an [`Inspection`] from a [`StackTrace`] of its model on the input
//! ([`Inspection::new`]) and writes it with [`write()`]; the page is `html.rs`.

mod html;

use std::path::Path;

use anyhow::{Context, bail};
use rnnlab_models::StackTrace;

use crate::metrics::read_floats;

/// Below this a gate is left-saturated, above `1 −` it right-saturated (Karpathy et al.).
pub const SATURATED: f64 = 0.1;

/// One unit's activation at every step of the input.
#[derive(Clone, Debug)]
pub struct UnitTrack {
    /// Layer (and direction) and unit, e.g. `layer 1 unit 17`.
    pub label: String,
    /// Why it is shown.
    pub why: String,
    /// Its hidden state at every step.
    pub values: Vec<f64>,
}

/// The saturation of one gate of one layer-direction: per unit, the fraction of steps below
/// [`SATURATED`] and above `1 − SATURATED`.
#[derive(Clone, Debug)]
pub struct GateSaturation {
    /// The gate's name (`i`, `f`, `o`, `r`, `z`…).
    pub gate: &'static str,
    /// Per unit.
    pub left: Vec<f64>,
    /// Per unit.
    pub right: Vec<f64>,
}

/// What the page shows.
#[derive(Clone, Debug)]
pub struct Inspection {
    /// The page's title.
    pub title: String,
    /// The input, one display string per step.
    pub tokens: Vec<String>,
    /// The units shown over the input.
    pub units: Vec<UnitTrack>,
    /// Per layer-direction (its label and its gates in (0, 1)).
    pub saturation: Vec<(String, Vec<GateSaturation>)>,
    /// Per layer-direction: its label and `‖∂L/∂h‖` at distance 0, 1, … from the loss.
    pub flow: Vec<(String, Vec<f64>)>,
    /// What the loss of the gradient flow is.
    pub loss: String,
    /// What the task adds (token weights, an attention matrix), shown after the units.
    pub extras: Vec<Extra>,
}

/// A task's own section of the page.
#[derive(Clone, Debug)]
pub enum Extra {
    /// A weight per input step (e.g. attention pooling's), shown over the input.
    TokenWeights {
        /// What the weights are.
        title: String,
        /// One per step of [`Inspection::tokens`].
        weights: Vec<f64>,
    },
    /// A matrix (e.g. translation attention: a row per output token, a column per input one).
    Matrix {
        /// What it is.
        title: String,
        /// Row labels.
        rows: Vec<String>,
        /// Column labels.
        columns: Vec<String>,
        /// `values[row][column]`, in [0, 1].
        values: Vec<Vec<f64>>,
    },
}

/// A named per-step feature of the input that a unit may follow (e.g. "inside quotes").
pub type Feature = (&'static str, Vec<f64>);

impl Inspection {
    /// The page of a trace of one sequence (batch row 0) of `tokens.len()` steps: the units
    /// of `chosen` (`(layer-direction, unit)`) or, when empty, for each feature the top layer's
    /// unit most correlated with it and the top layer's two most active units; the saturation
    /// of every gate whose values lie in [0, 1]; the gradient flow from `flow` (per
    /// layer-direction, per step: [`StackTrace::hidden_grad_norms`]), measured from the last
    /// step.
    pub fn new(
        title: String,
        tokens: Vec<String>,
        trace: &StackTrace,
        chosen: &[(usize, usize)],
        features: &[Feature],
        flow: Vec<Vec<f64>>,
        loss: String,
    ) -> anyhow::Result<Self> {
        let steps = tokens.len();
        let label = |index: usize| {
            let l = &trace.layers[index];
            let directions = trace.layers.iter().filter(|x| x.layer == l.layer).count();
            if directions == 2 {
                format!("layer {} {}", l.layer, ["forward", "backward"][l.direction])
            } else {
                format!("layer {}", l.layer)
            }
        };
        // Per layer-direction, per unit, the hidden state at every step of row 0.
        let mut hidden = Vec::with_capacity(trace.layers.len());
        for layer in &trace.layers {
            let [_, t, h] = layer.hidden.dims();
            if t != steps {
                bail!("the trace has {t} steps for {steps} tokens");
            }
            let values = read_floats(layer.hidden.clone().narrow(0, 0, 1))?;
            hidden.push(
                (0..h)
                    .map(|u| (0..t).map(|s| f64::from(values[s * h + u])).collect())
                    .collect::<Vec<Vec<f64>>>(),
            );
        }
        let mut units = Vec::new();
        for &(index, unit) in chosen {
            let Some(layer) = hidden.get(index) else {
                bail!(
                    "--units {index}:{unit}: the stack has layers 0..{} (layer-directions)",
                    hidden.len()
                );
            };
            let Some(values) = layer.get(unit) else {
                bail!(
                    "--units {index}:{unit}: {} has units 0..{}",
                    label(index),
                    layer.len()
                );
            };
            units.push(UnitTrack {
                label: format!("{} unit {unit}", label(index)),
                why: "chosen (--units)".into(),
                values: values.clone(),
            });
        }
        if chosen.is_empty() {
            let top = trace.layers.len() - 1;
            let layer = &hidden[top];
            for (name, feature) in features {
                let best = (0..layer.len())
                    .map(|u| (u, correlation(&layer[u], feature)))
                    .filter(|(_, r)| r.is_finite())
                    .max_by(|a, b| a.1.abs().total_cmp(&b.1.abs()));
                if let Some((u, r)) = best {
                    units.push(UnitTrack {
                        label: format!("{} unit {u}", label(top)),
                        why: format!("most correlated with {name} (r = {r:+.2})"),
                        values: layer[u].clone(),
                    });
                }
            }
            let mut active: Vec<(usize, f64)> = (0..layer.len())
                .map(|u| {
                    (
                        u,
                        layer[u].iter().map(|v| v.abs()).sum::<f64>() / steps as f64,
                    )
                })
                .collect();
            active.sort_by(|a, b| b.1.total_cmp(&a.1));
            for &(u, mean) in active.iter().take(2) {
                units.push(UnitTrack {
                    label: format!("{} unit {u}", label(top)),
                    why: format!("among the most active (mean |h| = {mean:.2})"),
                    values: layer[u].clone(),
                });
            }
        }
        let mut saturation = Vec::new();
        for (index, layer) in trace.layers.iter().enumerate() {
            let mut gates = Vec::new();
            for (name, gate) in &layer.gates {
                let [_, t, h] = gate.dims();
                let values = read_floats(gate.clone().narrow(0, 0, 1))?;
                let (lo, hi) = values
                    .iter()
                    .fold((f32::MAX, f32::MIN), |(lo, hi), &v| (lo.min(v), hi.max(v)));
                if lo < 0.0 || hi > 1.0 {
                    continue; // a candidate (tanh), not a gate
                }
                let share = |test: &dyn Fn(f64) -> bool| -> Vec<f64> {
                    (0..h)
                        .map(|u| {
                            (0..t)
                                .filter(|&s| test(f64::from(values[s * h + u])))
                                .count() as f64
                                / t as f64
                        })
                        .collect()
                };
                gates.push(GateSaturation {
                    gate: name,
                    left: share(&|v| v < SATURATED),
                    right: share(&|v| v > 1.0 - SATURATED),
                });
            }
            saturation.push((label(index), gates));
        }
        let flow = flow
            .into_iter()
            .enumerate()
            .map(|(index, per_step)| {
                let by_distance = per_step.iter().rev().copied().collect();
                (label(index), by_distance)
            })
            .collect();
        Ok(Self {
            title,
            tokens,
            units,
            saturation,
            flow,
            loss,
            extras: Vec::new(),
        })
    }
}

/// Pearson's correlation of two series (NaN where either is constant).
fn correlation(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len() as f64;
    let (ma, mb) = (a.iter().sum::<f64>() / n, b.iter().sum::<f64>() / n);
    let (mut ab, mut aa, mut bb) = (0.0, 0.0, 0.0);
    for (x, y) in a.iter().zip(b) {
        ab += (x - ma) * (y - mb);
        aa += (x - ma).powi(2);
        bb += (y - mb).powi(2);
    }
    ab / (aa * bb).sqrt()
}

/// Parses `--units`: comma-separated `unit` (top layer) or `layer:unit` (layer-direction
/// index as in the trace).
pub fn parse_units(spec: &str, top: usize) -> anyhow::Result<Vec<(usize, usize)>> {
    spec.split(',')
        .filter(|s| !s.trim().is_empty())
        .map(|part| {
            let part = part.trim();
            let parsed = match part.split_once(':') {
                Some((l, u)) => l.parse().ok().zip(u.parse().ok()),
                None => part.parse().ok().map(|u| (top, u)),
            };
            parsed.with_context(|| {
                format!("--units {spec}: expected units like 17 or 1:17 (layer:unit), got {part:?}")
            })
        })
        .collect()
}

/// Writes the page to `path` whole or not at all (through a temporary file beside it).
pub fn write(inspection: &Inspection, path: &Path) -> anyhow::Result<()> {
    let page = html::page(inspection);
    let tmp = path.with_extension("html.partial");
    let written = std::fs::write(&tmp, page).and_then(|()| std::fs::rename(&tmp, path));
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        bail!("--out {}: cannot write the page: {e}", path.display());
    }
    Ok(())
}
