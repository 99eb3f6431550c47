//! Parameters of one direction of one layer, stored gate-fused under PyTorch's layout.

use burn::Tensor;
use burn::module::{Initializer, Module, Param};
use burn::prelude::Device;
use burn::serde::{Deserialize, Serialize};
use burn::tensor::Distribution;

use crate::cell::{CellKind, RecurrentNorm, StepNorm, StepWeights};

/// How the recurrent weights `W_hh` are initialised. Everything else always uses PyTorch's
/// default `U(−1/√H, 1/√H)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(crate = "burn::serde", rename_all = "lowercase")]
pub enum RecurrentInit {
    /// PyTorch's default: `U(−1/√H, 1/√H)` like every other parameter.
    #[default]
    Uniform,
    /// Each gate's `[H, H_out]` block of `W_hh` is an independent (semi-)orthogonal matrix.
    Orthogonal,
}

/// The parameters of one direction of one layer, under PyTorch's names and shapes.
///
/// `G` is the number of gates (RNN 1, GRU 3, LSTM and sLSTM 4), `H` the hidden size, `H_out` the size of
/// the recurrent state (`proj_size` when an LSTM projects, else `H`).
#[derive(Module, Debug)]
pub struct DirectionParams {
    /// `weight_ih_l{k}`: `[G·H, d_in]`.
    pub weight_ih: Param<Tensor<2>>,
    /// `weight_hh_l{k}`: `[G·H, H_out]`.
    pub weight_hh: Param<Tensor<2>>,
    /// `bias_ih_l{k}`: `[G·H]`, absent when `bias = false`.
    pub bias_ih: Option<Param<Tensor<1>>>,
    /// `bias_hh_l{k}`: `[G·H]`, absent when `bias = false`.
    pub bias_hh: Option<Param<Tensor<1>>>,
    /// `weight_hr_l{k}`: `[P, H]`, LSTM with `proj_size = P > 0` only.
    pub weight_hr: Option<Param<Tensor<2>>>,
    /// Layer normalisation's parameters (`norm = "layer"` only).
    pub norm: Option<NormParams>,
}

/// The layer-normalisation parameters of one direction of one layer (`norm = "layer"`; see
/// [`RecurrentNorm`](crate::RecurrentNorm)). Exported beside PyTorch's names as
/// `ln_ih_weight_l{k}`, `ln_hh_weight_l{k}`, `ln_c_weight_l{k}`, `ln_c_bias_l{k}`.
#[derive(Module, Debug)]
pub struct NormParams {
    /// Gain of `LN(W_ih x)`: `[G·H]`, initially ones.
    pub ih_weight: Param<Tensor<1>>,
    /// Gain of `LN(W_hh h)`: `[G·H]`, initially ones.
    pub hh_weight: Param<Tensor<1>>,
    /// LSTM: gain of `LN(c')`, `[H]`, initially ones.
    pub c_weight: Option<Param<Tensor<1>>>,
    /// LSTM: bias of `LN(c')`, `[H]`, initially zeros.
    pub c_bias: Option<Param<Tensor<1>>>,
}

/// Shapes and initialisation options of one direction of one layer.
#[derive(Clone, Copy, Debug)]
pub(crate) struct DirectionSpec {
    pub kind: CellKind,
    pub d_in: usize,
    pub d_hidden: usize,
    pub proj_size: usize,
    pub bias: bool,
    pub recurrent_init: RecurrentInit,
    pub forget_bias: Option<f64>,
    pub norm: RecurrentNorm,
    /// sLSTM: heads of the block-diagonal `W_hh` (1 = dense).
    pub heads: usize,
}

/// The `[G·H, H]` mask of a head-wise block-diagonal recurrent matrix: in each gate's `[H, H]`
/// block, unit `r` reads unit `c` only where both are in the same of `heads` equal heads.
pub(crate) fn head_mask(gates: usize, hidden: usize, heads: usize, device: &Device) -> Tensor<2> {
    let size = hidden / heads;
    let values: Vec<f32> = (0..gates * hidden)
        .flat_map(|row| {
            let head = (row % hidden) / size;
            (0..hidden).map(move |col| if col / size == head { 1.0 } else { 0.0 })
        })
        .collect();
    Tensor::from_data(
        burn::tensor::TensorData::new(values, [gates * hidden, hidden]),
        device,
    )
}

impl DirectionSpec {
    /// Size of the recurrent state and of each step's output.
    pub fn d_out(&self) -> usize {
        if self.proj_size > 0 {
            self.proj_size
        } else {
            self.d_hidden
        }
    }

    pub fn init(&self, device: &Device) -> DirectionParams {
        let gh = self.kind.gates() * self.d_hidden;
        let k = 1.0 / (self.d_hidden as f64).sqrt();
        let uniform2 =
            |shape: [usize; 2]| Tensor::<2>::random(shape, Distribution::Uniform(-k, k), device);
        let uniform1 =
            |len: usize| Tensor::<1>::random([len], Distribution::Uniform(-k, k), device);

        let weight_hh = match self.recurrent_init {
            RecurrentInit::Uniform => uniform2([gh, self.d_out()]),
            RecurrentInit::Orthogonal => {
                let blocks = (0..self.kind.gates())
                    .map(|_| {
                        Initializer::Orthogonal { gain: 1.0 }
                            .init::<2, _>([self.d_hidden, self.d_out()], device)
                            .val()
                    })
                    .collect();
                Tensor::cat(blocks, 0)
            }
        };
        // Head-wise recurrence: the weights outside the heads' blocks start (and, masked in
        // every forward, stay) at zero.
        let weight_hh = if self.heads > 1 {
            weight_hh * head_mask(self.kind.gates(), self.d_hidden, self.heads, device)
        } else {
            weight_hh
        };
        let (bias_ih, bias_hh) = if self.bias {
            let mut b_ih = uniform1(gh);
            let mut b_hh = uniform1(gh);
            if let (Some(value), CellKind::Lstm | CellKind::Slstm) = (self.forget_bias, self.kind) {
                // The forget gate is the second block; PyTorch adds both biases, so their sum
                // is set to `value`.
                let h = self.d_hidden;
                b_ih = b_ih.slice_fill(h..2 * h, value);
                b_hh = b_hh.slice_fill(h..2 * h, 0.0);
            }
            (
                Some(Param::from_tensor(b_ih)),
                Some(Param::from_tensor(b_hh)),
            )
        } else {
            (None, None)
        };
        DirectionParams {
            weight_ih: Param::from_tensor(uniform2([gh, self.d_in])),
            weight_hh: Param::from_tensor(weight_hh),
            bias_ih,
            bias_hh,
            weight_hr: (self.proj_size > 0)
                .then(|| Param::from_tensor(uniform2([self.proj_size, self.d_hidden]))),
            norm: (self.norm == RecurrentNorm::Layer).then(|| {
                let ones = |n: usize| Param::from_tensor(Tensor::<1>::ones([n], device));
                let lstm = self.kind == CellKind::Lstm;
                NormParams {
                    ih_weight: ones(gh),
                    hh_weight: ones(gh),
                    c_weight: lstm.then(|| ones(self.d_hidden)),
                    c_bias: lstm
                        .then(|| Param::from_tensor(Tensor::<1>::zeros([self.d_hidden], device))),
                }
            }),
        }
    }
}

impl DirectionParams {
    /// Hidden size `H` of these parameters.
    pub(crate) fn d_hidden(&self, kind: CellKind) -> usize {
        self.weight_ih.dims()[0] / kind.gates()
    }

    /// `b_ih + b_hh` as `[G·H]` (GRU: `b_hh` without its `n` block, which the step adds
    /// inside `r * (…)`).
    pub(crate) fn fused_bias(&self, kind: CellKind) -> Option<Tensor<1>> {
        match (&self.bias_ih, &self.bias_hh) {
            (Some(b_ih), Some(b_hh)) => {
                let b_hh = b_hh.val();
                let b_hh = match kind {
                    CellKind::Gru => {
                        let h = self.d_hidden(kind);
                        b_hh.slice_fill(2 * h..3 * h, 0.0)
                    }
                    _ => b_hh,
                };
                Some(b_ih.val() + b_hh)
            }
            (Some(b), None) | (None, Some(b)) => Some(b.val()),
            (None, None) => None,
        }
    }

    /// GRU only: `b_hn`, the `n` block of `b_hh` (`[H]`).
    pub(crate) fn b_hn(&self, kind: CellKind) -> Option<Tensor<1>> {
        let d_hidden = self.d_hidden(kind);
        match (kind, &self.bias_hh) {
            (CellKind::Gru, Some(b_hh)) => Some(b_hh.val().narrow(0, 2 * d_hidden, d_hidden)),
            _ => None,
        }
    }

    /// The weights the recurrent step needs, prepared once per forward.
    pub(crate) fn step_weights(&self, kind: CellKind) -> StepWeights {
        let d_hidden = self.d_hidden(kind);
        let device = self.weight_ih.device();
        let b_hn = self.b_hn(kind).map(|b| b.unsqueeze_dim(1));
        let lstm_scale = (kind == CellKind::Lstm).then(|| {
            Tensor::<1>::ones([4 * d_hidden], &device)
                .slice_fill(2 * d_hidden..3 * d_hidden, 2.0)
                .unsqueeze_dim(1)
        });
        StepWeights {
            w_ih: self.weight_ih.val(),
            w_hh: self.weight_hh.val(),
            bias: self.fused_bias(kind).map(|b| b.unsqueeze_dim(1)),
            b_hn,
            w_hr: self.weight_hr.as_ref().map(|w| w.val()),
            lstm_scale,
            d_hidden,
            norm: self.norm.as_ref().map(|n| {
                let column = |p: &Param<Tensor<1>>| p.val().unsqueeze_dim(1);
                StepNorm {
                    gain_ih: column(&n.ih_weight),
                    gain_hh: column(&n.hh_weight),
                    cell: n
                        .c_weight
                        .as_ref()
                        .zip(n.c_bias.as_ref())
                        .map(|(g, b)| (column(g), column(b))),
                }
            }),
        }
    }
}
