//! Pooling a recurrent stack's per-step outputs into one vector per sequence, over the real
//! steps only (the sentence classifier's and the spoken-digit classifier's shared head).

use burn::Tensor;
use burn::config::Config;
use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::prelude::Device;
use burn::serde::{Deserialize, Serialize};
use burn::tensor::Bool;
use burn::tensor::activation::softmax;

/// How per-step outputs become one vector.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(crate = "burn::serde", rename_all = "lowercase")]
pub enum Pooling {
    /// The final hidden state of the last layer (each direction's own last step).
    Last,
    /// The mean of the outputs over the real steps.
    Mean,
    /// Additive attention over the real steps (`vᵀ tanh(W h_t)`); its weights are exposed.
    Attention,
}

/// Configuration of [`Attention`] pooling.
#[derive(Config, Debug)]
pub struct AttentionConfig {
    /// Width of the pooled outputs.
    pub d_input: usize,
}

impl AttentionConfig {
    /// `W` `[d_input, d_input]` with a bias and `v` `[d_input, 1]` without.
    pub fn init(&self, device: &Device) -> Attention {
        Attention {
            proj: LinearConfig::new(self.d_input, self.d_input).init(device),
            score: LinearConfig::new(self.d_input, 1)
                .with_bias(false)
                .init(device),
        }
    }
}

/// Additive attention scores.
#[derive(Module, Debug)]
pub struct Attention {
    /// `W`.
    pub proj: Linear,
    /// `v`.
    pub score: Linear,
}

impl Attention {
    /// `out` `[B, T, D]`, `mask` `[B, T]` (true on real steps) → weights `[B, T]`, zero on
    /// padding, each row summing to 1.
    pub fn weights(&self, out: Tensor<3>, mask: Tensor<2, Bool>) -> Tensor<2> {
        let [b, t, _] = out.dims();
        let scores = self
            .score
            .forward(self.proj.forward(out).tanh())
            .reshape([b, t])
            .mask_fill(mask.bool_not(), -1.0e9);
        softmax(scores, 1)
    }
}

/// A pooled batch.
pub struct Pooled {
    /// `[B, D]`.
    pub vector: Tensor<2>,
    /// `[B, T]` attention weights (attention pooling only).
    pub weights: Option<Tensor<2>>,
}

/// Pools `out` `[B, T, D]` (a stack's outputs, padded) with the stack's final `hidden`
/// `[L·dirs, B, H]`, each row's `lengths` and `mask` `[B, T]`. `attention` is required for
/// [`Pooling::Attention`] (without it, that pooling falls back to [`Pooling::Last`]).
pub fn pool(
    pooling: Pooling,
    attention: Option<&Attention>,
    out: Tensor<3>,
    hidden: Tensor<3>,
    lengths: &[usize],
    mask: Tensor<2, Bool>,
) -> Pooled {
    let [b, t, d] = out.dims();
    match (pooling, attention) {
        (Pooling::Attention, Some(att)) => {
            let w = att.weights(out.clone(), mask);
            let vector = (out * w.clone().reshape([b, t, 1]))
                .sum_dim(1)
                .reshape([b, d]);
            Pooled {
                vector,
                weights: Some(w),
            }
        }
        (Pooling::Mean, _) => {
            let maskf = mask.float().reshape([b, t, 1]);
            let lens: Vec<f32> = lengths.iter().map(|&l| l as f32).collect();
            let lens = Tensor::<1>::from_floats(lens.as_slice(), &out.device()).reshape([b, 1]);
            Pooled {
                vector: (out * maskf).sum_dim(1).reshape([b, d]) / lens,
                weights: None,
            }
        }
        _ => {
            // The last layer's directions, concatenated.
            let [ld, _, h] = hidden.dims();
            let dirs = d / h;
            let last = hidden.narrow(0, ld - dirs, dirs);
            Pooled {
                vector: last.swap_dims(0, 1).reshape([b, d]),
                weights: None,
            }
        }
    }
}
