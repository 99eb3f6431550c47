//! [`SpecAugment`]: time and feature masks on the training features (Park et al. 2019).

use burn::Tensor;
use burn::prelude::Device;
use burn::tensor::{Bool, Distribution, Int};
use serde::{Deserialize, Serialize};

/// `[augment]`: SpecAugment-style masks (Park et al. 2019) on the training features, drawn
/// anew for every batch from the device's generator; validation, test and `predict` see the
/// features unmasked. A masked value is 0, the training mean of the normalised features.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpecAugment {
    /// Time masks per recording (0 = none).
    pub time_masks: usize,
    /// Each time mask covers 0 to this many consecutive frames (uniformly drawn).
    pub time_width: usize,
    /// Feature masks per recording (0 = none); with deltas the feature axis holds the static
    /// coefficients, then their deltas.
    pub feature_masks: usize,
    /// Each feature mask covers 0 to this many consecutive features.
    pub feature_width: usize,
}

/// `n` random spans per row over an axis of `size` (`limits` `[B, 1]`: each row's own size),
/// each 0 to `width` wide: true inside a span, `[B, size]`.
fn spans(
    n: usize,
    width: usize,
    size: usize,
    limits: Tensor<2>,
    device: &Device,
) -> Tensor<2, Bool> {
    let b = limits.dims()[0];
    let index = Tensor::<1, Int>::arange(0..size as i64, device)
        .float()
        .reshape([1, size])
        .expand([b, size]);
    let mut mask = Tensor::<2>::zeros([b, size], device).equal_elem(1.0);
    for _ in 0..n {
        let u = Tensor::<2>::random([b, 2], Distribution::Uniform(0.0, 1.0), device);
        let w = (u.clone().narrow(1, 0, 1) * (width as f32 + 1.0))
            .floor()
            .clamp_max(width as f32);
        let room = (limits.clone() - w.clone() + 1.0).clamp_min(1.0);
        let start = (u.narrow(1, 1, 1) * room.clone())
            .floor()
            .min_pair(room - 1.0);
        let end = start.clone() + w;
        let inside = index
            .clone()
            .greater_equal(start.expand([b, size]))
            .bool_and(index.clone().lower(end.expand([b, size])));
        mask = mask.bool_or(inside);
    }
    mask
}

impl SpecAugment {
    /// Whether any mask is configured.
    pub fn is_on(&self) -> bool {
        (self.time_masks > 0 && self.time_width > 0)
            || (self.feature_masks > 0 && self.feature_width > 0)
    }

    /// `x` `[B, T, F]` with each row's `lengths` → `x` with its masked values set to 0.
    pub fn forward(&self, x: Tensor<3>, lengths: &[usize]) -> Tensor<3> {
        let [b, t, f] = x.dims();
        let device = x.device();
        let lens: Vec<f32> = lengths.iter().map(|&l| l as f32).collect();
        let lens = Tensor::<1>::from_floats(lens.as_slice(), &device).reshape([b, 1]);
        let time = spans(self.time_masks, self.time_width, t, lens, &device);
        let feats = Tensor::<2>::full([b, 1], f as f32, &device);
        let feature = spans(self.feature_masks, self.feature_width, f, feats, &device);
        let mask = time
            .reshape([b, t, 1])
            .expand([b, t, f])
            .bool_or(feature.reshape([b, 1, f]).expand([b, t, f]));
        x.mask_fill(mask, 0.0)
    }
}

#[cfg(test)]
mod tests {
    use rnnlab_models::{Pooling, RecurrentConfig};

    use super::*;
    use crate::speech::SpeechConfig;

    #[test]
    fn masks_stay_inside_each_recording_and_within_their_widths() {
        let device = Device::flex().autodiff();
        device.seed(3);
        let aug = SpecAugment {
            time_masks: 2,
            time_width: 3,
            feature_masks: 1,
            feature_width: 2,
        };
        let (b, t, f) = (16, 12, 6);
        let lengths: Vec<usize> = (0..b).map(|i| 4 + i % 8).collect();
        let x = Tensor::<3>::ones([b, t, f], &device);
        let y: Vec<f32> = aug.forward(x, &lengths).into_data().try_to_vec().unwrap();
        let mut any = false;
        for (row, &len) in lengths.iter().enumerate() {
            let at = |tt: usize, ff: usize| y[(row * t + tt) * f + ff];
            // A frame is time-masked when all its features are 0.
            let masked: Vec<usize> = (0..t)
                .filter(|&tt| (0..f).all(|ff| at(tt, ff) == 0.0))
                .collect();
            let cols: Vec<usize> = (0..f)
                .filter(|&ff| (0..t).all(|tt| at(tt, ff) == 0.0))
                .collect();
            assert!(cols.len() <= 2, "feature mask wider than 2: {cols:?}");
            let time_masked: Vec<usize> = if cols.len() == f { vec![] } else { masked };
            assert!(time_masked.len() <= 6, "two masks of at most 3 frames");
            assert!(
                time_masked.iter().all(|&tt| tt < len),
                "a mask past the end: {time_masked:?}"
            );
            any |= !time_masked.is_empty() || !cols.is_empty();
        }
        assert!(any, "some mask was drawn");
        // Off the autodiff device nothing is masked.
        let model = SpeechConfig::new(
            2,
            RecurrentConfig::new(rnnlab_models::CellType::Gru, f, 4),
            Pooling::Mean,
            aug,
        )
        .try_init(&Device::flex())
        .unwrap();
        let plain = Tensor::<3>::ones([2, t, f], &Device::flex());
        let mask = Tensor::<2>::ones([2, t], &Device::flex()).equal_elem(1.0);
        let a = model.forward(plain.clone(), &[t, t], mask.clone()).logits;
        let b2 = model.forward(plain, &[t, t], mask).logits;
        assert_eq!(a.into_data(), b2.into_data());
    }
}
