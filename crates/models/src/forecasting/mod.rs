//! Long-horizon forecasters: [`SegmentRnn`] (SegRNN's segment-wise recurrence with parallel
//! multi-step decoding, any cell) and [`DLinear`] (the linear baseline of the long-horizon
//! papers). Both take `[B, L, C]` windows and return `[B, H, C]` forecasts, every column
//! through the same weights.

mod dlinear;
mod segment;
#[cfg(test)]
mod tests;

pub use dlinear::{DLinear, DLinearConfig, averaging_matrix};
pub use segment::{SegmentNorm, SegmentRnn, SegmentRnnConfig};
