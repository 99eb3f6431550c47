//! The regularisers of the recurrent stacks: variational dropout, weight drop, zoneout and
//! embedding dropout.
//!
//! Every one acts in training only: where the stack's training flag is set (burn's
//! [`Dropout`] flag, which `valid()` and freezing clear) and the device records a backward, as
//! burn's `Dropout` decides. Every mask is drawn from the device's random generator, which the
//! training loop reseeds before every step from (run seed, epoch, step): a resumed run draws
//! the same masks as the run it continues.
//!
//! - **Variational ("locked") dropout** (Gal & Ghahramani 2016): one mask per sequence, the
//!   same at every step, on the stack's input, between layers and on its output.
//! - **Weight drop** (DropConnect on `W_hh`, Merity et al. 2017, AWD-LSTM): one mask per
//!   forward call, applied to the weight before the whole-layer op, so the op stays fused.
//! - **Zoneout** (Krueger et al. 2016): each unit of `h` and `c` keeps its previous value with
//!   probability `p` at every step; at inference the expectation `p·prev + (1 − p)·new`.
//! - **Embedding dropout** (Gal & Ghahramani 2016, as AWD-LSTM uses it): whole rows of the
//!   embedding matrix, so a dropped token is dropped at every position of the batch.

use burn::Tensor;
use burn::nn::Dropout;
use burn::prelude::Device;
use burn::serde::{Deserialize, Serialize};
use burn::tensor::Distribution;

/// How dropout masks are drawn.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(crate = "burn::serde", rename_all = "lowercase")]
pub enum DropoutKind {
    /// A new mask for every element at every step (burn's and PyTorch's `Dropout`).
    #[default]
    Standard,
    /// One mask per sequence, shared by all its steps (Gal & Ghahramani 2016).
    Variational,
}

/// Whether the regularisers act: the module's training flag is set and `device` records a
/// backward (the test burn's `Dropout` makes).
pub(crate) fn training(flag: &Dropout, device: &Device) -> bool {
    flag.training.is_enabled() && device.is_autodiff()
}

/// `x` times a `{0, 1}` mask of `shape` (each element kept with probability `1 − p`; a shape
/// with 1s broadcasts), scaled by `1 / (1 − p)`: in the order and dtype burn's `Dropout` uses,
/// so that standard dropout here gives its bits.
fn masked<const D: usize>(x: Tensor<D>, shape: [usize; D], p: f64) -> Tensor<D> {
    let keep = 1.0 - p;
    let mask = if shape == x.dims() {
        x.random_like(Distribution::Bernoulli(keep))
    } else {
        Tensor::<D>::random(shape, Distribution::Bernoulli(keep), &x.device()).cast(x.dtype())
    };
    (x * mask) * (1.0 / keep)
}

/// Dropout of `x` with probability `p`, in training only; `Variational` draws one mask per
/// sequence, broadcast over dimension `time_dim` (a per-step tensor has none: pass `D`, and
/// the caller reuses the mask itself).
pub fn dropout<const D: usize>(
    x: Tensor<D>,
    p: f64,
    kind: DropoutKind,
    time_dim: usize,
    training: bool,
) -> Tensor<D> {
    if !training || p == 0.0 {
        return x;
    }
    let mut shape = x.dims();
    if kind == DropoutKind::Variational && time_dim < D {
        shape[time_dim] = 1;
    }
    masked(x, shape, p)
}

/// Weight drop (DropConnect): `w` with each element dropped with probability `p` and the rest
/// scaled by `1 / (1 − p)`, in training only.
pub fn drop_weight(w: Tensor<2>, p: f64, training: bool) -> Tensor<2> {
    if !training || p == 0.0 {
        return w;
    }
    let shape = w.dims();
    masked(w, shape, p)
}

/// Embedding dropout: the embedding matrix `weight` `[V, d]` with whole rows (tokens) dropped
/// with probability `p` and the rest scaled by `1 / (1 − p)`, in training only. Look tokens up
/// in the result with [`burn::tensor::module::embedding`].
pub fn embedding_dropout(weight: Tensor<2>, p: f64, training: bool) -> Tensor<2> {
    if !training || p == 0.0 {
        return weight;
    }
    let [vocab, _] = weight.dims();
    masked(weight, [vocab, 1], p)
}

/// Zoneout of one step's state: in training each element keeps `prev` with probability `p`
/// (else takes `new`); at inference `p·prev + (1 − p)·new`.
pub(crate) fn zoneout(new: Tensor<2>, prev: Tensor<2>, p: f64, training: bool) -> Tensor<2> {
    if p == 0.0 {
        return new;
    }
    if training {
        let keep_prev = new.random_like(Distribution::Bernoulli(p));
        let keep_new = keep_prev.clone().neg() + 1.0;
        prev * keep_prev + new * keep_new
    } else {
        prev * p + new * (1.0 - p)
    }
}

/// The regularisers of one stack (from its config), kept beside its parameters.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) struct StackRegularisers {
    /// Dropout on the stack's input (between layers: the stack's `Dropout` module).
    pub input_dropout: f64,
    /// Dropout on the stack's output.
    pub output_dropout: f64,
    /// How the three dropouts draw their masks.
    pub kind: DropoutKind,
    /// DropConnect on every `W_hh`.
    pub weight_drop: f64,
    /// Zoneout on `h` and `c`.
    pub zoneout: f64,
}

#[cfg(test)]
mod tests;
