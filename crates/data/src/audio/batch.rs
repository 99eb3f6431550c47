//! Padded batches of feature sequences with their lengths, a mask and integer targets (one
//! class per recording, or a label sequence for CTC).

use burn::Tensor;
use burn::data::dataloader::batcher::Batcher;
use burn::prelude::Device;
use burn::tensor::{Bool, Int, TensorData};

use super::Features;

/// One recording's features and its targets.
#[derive(Clone, Debug, PartialEq)]
pub struct FrameItem {
    /// `[frames, dim]`.
    pub features: Features,
    /// Its class (one value) or label sequence.
    pub targets: Vec<u32>,
}

/// A batch of `B` recordings padded to the longest (`T` frames) and its targets padded to
/// the longest (`S`).
#[derive(Clone, Debug)]
pub struct FrameBatch {
    /// `[B, T, dim]`, zero after each recording's end.
    pub features: Tensor<3>,
    /// Frames of each recording.
    pub lengths: Vec<usize>,
    /// `[B, T]`, true on real frames.
    pub mask: Tensor<2, Bool>,
    /// `[B, S]` targets, zero-padded.
    pub targets: Tensor<2, Int>,
    /// Targets of each recording.
    pub target_lengths: Vec<usize>,
}

/// Builds [`FrameBatch`]es.
#[derive(Clone, Copy, Debug, Default)]
pub struct FrameBatcher;

impl Batcher<FrameItem, FrameBatch> for FrameBatcher {
    fn batch(&self, items: Vec<FrameItem>, device: &Device) -> FrameBatch {
        let b = items.len();
        let t = items.iter().map(|i| i.features.frames).max().unwrap_or(0);
        let s = items.iter().map(|i| i.targets.len()).max().unwrap_or(0);
        let dim = items.first().map_or(0, |i| i.features.dim);
        let mut features = vec![0f32; b * t * dim];
        let mut mask = vec![false; b * t];
        let mut targets = vec![0i64; b * s];
        for (row, item) in items.iter().enumerate() {
            let f = &item.features;
            features[row * t * dim..row * t * dim + f.values.len()].copy_from_slice(&f.values);
            mask[row * t..row * t + f.frames].fill(true);
            for (j, &y) in item.targets.iter().enumerate() {
                targets[row * s + j] = y as i64;
            }
        }
        FrameBatch {
            features: Tensor::from_data(TensorData::new(features, [b, t, dim]), device),
            lengths: items.iter().map(|i| i.features.frames).collect(),
            mask: Tensor::from_data(TensorData::new(mask, [b, t]), device),
            targets: Tensor::from_data(TensorData::new(targets, [b, s]), device),
            target_lengths: items.iter().map(|i| i.targets.len()).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pads_features_mask_and_targets() {
        let item = |frames: usize, targets: Vec<u32>| FrameItem {
            features: Features {
                values: (0..frames * 2).map(|v| v as f32 + 1.0).collect(),
                frames,
                dim: 2,
            },
            targets,
        };
        let b = FrameBatcher.batch(vec![item(3, vec![7]), item(1, vec![1, 2])], &Device::flex());
        assert_eq!(b.features.dims(), [2, 3, 2]);
        assert_eq!(b.lengths, [3, 1]);
        assert_eq!(b.target_lengths, [1, 2]);
        let f: Vec<f32> = b.features.into_data().try_to_vec().unwrap();
        assert_eq!(f, [1., 2., 3., 4., 5., 6., 1., 2., 0., 0., 0., 0.]);
        let m: Vec<bool> = b.mask.into_data().try_to_vec().unwrap();
        assert_eq!(m, [true, true, true, true, false, false]);
        let y: Vec<i64> = b.targets.into_data().convert::<i64>().try_to_vec().unwrap();
        assert_eq!(y, [7, 0, 1, 2]);
    }
}
