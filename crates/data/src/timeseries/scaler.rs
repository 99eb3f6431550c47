//! [`Scaler`]: per-column scaling fitted on the training rows only, saved next to a model for
//! the inverse transform at prediction time.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::DataError;
use crate::io::{read_text, write_atomic};

/// How columns are scaled.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ScalerKind {
    /// Unscaled.
    None,
    /// `(x − mean) / std` (population std, as scikit-learn's `StandardScaler` used by the
    /// Informer code).
    #[default]
    Zscore,
    /// `(x − min) / (max − min)` into `[0, 1]`.
    Minmax,
}

/// Per-column `offset` and `scale`: `scaled = (x − offset) / scale`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Scaler {
    /// The kind it was fitted as.
    pub kind: ScalerKind,
    /// Column names, in order.
    pub columns: Vec<String>,
    /// Subtracted first.
    pub offset: Vec<f32>,
    /// Divided by next (never 0: constant columns get 1).
    pub scale: Vec<f32>,
}

impl Scaler {
    /// Fits on `rows` of row-major `[N, C]` `values` (the training split only).
    pub fn fit(
        kind: ScalerKind,
        columns: &[String],
        values: &[f32],
        rows: std::ops::Range<usize>,
    ) -> Self {
        let c = columns.len();
        let column = |j: usize| rows.clone().map(move |i| values[i * c + j] as f64);
        let (offset, scale) = (0..c)
            .map(|j| match kind {
                ScalerKind::None => (0.0, 1.0),
                ScalerKind::Zscore => {
                    let n = rows.len() as f64;
                    let mean = column(j).sum::<f64>() / n;
                    let var = column(j).map(|x| (x - mean).powi(2)).sum::<f64>() / n;
                    (mean, var.sqrt())
                }
                ScalerKind::Minmax => {
                    let min = column(j).fold(f64::INFINITY, f64::min);
                    let max = column(j).fold(f64::NEG_INFINITY, f64::max);
                    (min, max - min)
                }
            })
            .map(|(o, s)| (o as f32, if s > 0.0 { s as f32 } else { 1.0 }))
            .unzip();
        Self {
            kind,
            columns: columns.to_vec(),
            offset,
            scale,
        }
    }

    /// Scales row-major `[N, C]` values in place.
    pub fn transform(&self, values: &mut [f32]) {
        let c = self.columns.len();
        for (i, v) in values.iter_mut().enumerate() {
            *v = (*v - self.offset[i % c]) / self.scale[i % c];
        }
    }

    /// Undoes the scaling of values of column `column`.
    pub fn inverse(&self, column: usize, values: &mut [f32]) {
        for v in values {
            *v = *v * self.scale[column] + self.offset[column];
        }
    }

    /// Writes the scaler as JSON (temporary file, then rename).
    pub fn save(&self, path: &Path) -> Result<(), DataError> {
        let json = serde_json::to_string_pretty(self).expect("a scaler serialises");
        write_atomic(path, json.as_bytes())
    }

    /// Reads a scaler written by [`save`](Self::save).
    pub fn load(path: &Path) -> Result<Self, DataError> {
        let scaler: Scaler = serde_json::from_str(&read_text(path)?).map_err(|e| {
            DataError::in_file(path, format!("not a saved scaler: {e}")).at_line(e.line())
        })?;
        let c = scaler.columns.len();
        if scaler.offset.len() != c || scaler.scale.len() != c {
            return Err(DataError::in_file(
                path,
                format!(
                    "{c} columns but {} offsets and {} scales",
                    scaler.offset.len(),
                    scaler.scale.len()
                ),
            ));
        }
        Ok(scaler)
    }
}
