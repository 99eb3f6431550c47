//! Variable-length batches with PyTorch's packed-sequence semantics, done with masks.
//!
//! For a sequence of length `L`, steps `t >= L` neither change the state nor produce output:
//! the output there is zero, the final state is the state after step `L − 1`, and a reverse
//! direction, which walks from `T − 1` down to `0`, keeps its initial state until `t = L − 1`,
//! so it starts at the sequence's own last step, exactly like `pack_padded_sequence`.

use burn::Tensor;
use burn::prelude::Device;
use burn::tensor::TensorData;

/// Per-step `[1, B]` masks (column layout, like the loop's states) (1 where `t < length`), built once per forward and shared by all
/// layers and directions.
#[derive(Clone, Debug)]
pub(crate) struct StepMasks {
    masks: Vec<Tensor<2>>,
}

impl StepMasks {
    /// Masks for `lengths` over `time` steps, or `None` when every sequence is full length (the
    /// unmasked loop is then exact and cheaper).
    pub fn new(lengths: &[usize], time: usize, device: &Device) -> Option<Self> {
        if lengths.iter().all(|&l| l == time) {
            return None;
        }
        let batch = lengths.len();
        let masks = (0..time)
            .map(|t| {
                let values: Vec<f32> = lengths
                    .iter()
                    .map(|&l| if t < l { 1.0 } else { 0.0 })
                    .collect();
                Tensor::from_data(TensorData::new(values, [1, batch]), device)
            })
            .collect();
        Some(Self { masks })
    }

    /// Applies step `t`'s mask: returns `(output, next h, next c)`.
    pub fn apply(
        &self,
        t: usize,
        h_new: Tensor<2>,
        h_old: Tensor<2>,
        c_new: Option<Tensor<2>>,
        c_old: Option<Tensor<2>>,
    ) -> (Tensor<2>, Tensor<2>, Option<Tensor<2>>) {
        let m = self.masks[t].clone();
        let y = h_new.clone() * m.clone();
        let h = h_old.clone() + (h_new - h_old) * m.clone();
        let c = match (c_new, c_old) {
            (Some(c_new), Some(c_old)) => Some(c_old.clone() + (c_new - c_old) * m),
            _ => None,
        };
        (y, h, c)
    }
}
