//! Cell kinds and the per-timestep math of each cell on gate-fused tensors.
//!
//! Gate order and bias placement follow PyTorch exactly:
//! - RNN: `h' = act(W_ih x + b_ih + W_hh h + b_hh)`
//! - LSTM (gates `i, f, g, o`): `c' = f * c + i * g`, `h' = o * tanh(c')`, then `h' = W_hr h'`
//!   when a projection is configured.
//! - GRU (gates `r, z, n`): `n = tanh(W_in x + b_in + r * (W_hn h + b_hn))`,
//!   `h' = (1 - z) * n + z * h`.
//!
//! - sLSTM (Beck et al. 2024, xLSTM, eqs. 8–17 with the sigmoid forget gate of the authors'
//!   code; gates `i, f, z, o`, pre-activations `ĩ, f̃, z̃, õ` = `W_ih x + b + W_hh h`): the state
//!   is `(c, n, m)`, cell, normaliser and stabiliser, and a step is
//!   `m' = max(ĩ, ln σ(f̃) + m)` (`m' = ĩ` where `n = 0`, an empty state),
//!   `i' = e^(ĩ − m')`, `f' = e^(ln σ(f̃) + m − m')`, `c' = f' c + i' tanh(z̃)`,
//!   `n' = f' n + i'`, `h' = σ(õ) · c' / n'` (at a tie `m'` takes `ĩ`, and its gradient goes
//!   to `ĩ`, in every backend). The stabiliser changes no `h` (it rescales `c` and `n` together),
//!   but gradients flow through it as through any op, so that a loss on the state itself is
//!   differentiated exactly. Its state travels as the
//!   LSTM's cell state does, `[c | n | m]`, `3·H` wide; `W_hh` may be block-diagonal by heads
//!   (`heads` in [`RecurrentConfig`](crate::RecurrentConfig)).
//!
//! With `norm = "layer"` (LSTM and GRU; Ba, Kiros & Hinton 2016, as Haste's LayerNormLSTM and
//! LayerNormGRU) `W_ih x` and `W_hh h` are each layer-normalised over all `G·H` gate rows (a
//! gain, no bias) before the biases are added, and the LSTM's output reads the normalised cell
//! state, `h' = o * tanh(LN(c'))` (gain and bias), while `c'` itself is carried.

use burn::Tensor;
use burn::serde::{Deserialize, Serialize};
use burn::tensor::activation::{log_sigmoid, relu};

/// The non-linearity of an Elman RNN (PyTorch's `nonlinearity`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(crate = "burn::serde", rename_all = "lowercase")]
pub enum Nonlinearity {
    /// `tanh` (PyTorch's default).
    #[default]
    Tanh,
    /// `relu`.
    Relu,
}

/// Normalisation inside the LSTM and GRU cells (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(crate = "burn::serde", rename_all = "lowercase")]
pub enum RecurrentNorm {
    /// None: PyTorch's cells.
    #[default]
    None,
    /// Layer normalisation of the input and recurrent pre-activations and (LSTM) of the cell
    /// state read by the output.
    Layer,
}

/// Layer normalisation's `ε` (inside the square root, as PyTorch's and Haste's).
const LN_EPS: f64 = 1e-5;

/// Layer normalisation of `[F, B]` columns over their `F` features, with a gain `[F, 1]` and
/// an optional bias `[F, 1]`.
fn layer_norm(v: Tensor<2>, gain: &Tensor<2>, bias: Option<&Tensor<2>>) -> Tensor<2> {
    let centred = v.clone() - v.mean_dim(0);
    let var = centred.clone().powi_scalar(2).mean_dim(0);
    let out = centred / var.add_scalar(LN_EPS).sqrt() * gain.clone();
    match bias {
        Some(b) => out + b.clone(),
        None => out,
    }
}

/// The layer-norm parameters of one step, in column layout.
#[derive(Clone, Debug)]
pub(crate) struct StepNorm {
    /// Gain of `LN(W_ih x)`: `[G·H, 1]`.
    pub gain_ih: Tensor<2>,
    /// Gain of `LN(W_hh h)`: `[G·H, 1]`.
    pub gain_hh: Tensor<2>,
    /// LSTM: gain and bias of `LN(c')`, `[H, 1]` each.
    pub cell: Option<(Tensor<2>, Tensor<2>)>,
}

/// Which recurrent cell a layer runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(crate = "burn::serde", rename_all = "lowercase")]
pub enum CellType {
    /// Elman RNN (the non-linearity is configured separately).
    Rnn,
    /// Long short-term memory.
    Lstm,
    /// Gated recurrent unit.
    Gru,
    /// minGRU (Feng et al. 2024): gates from the input only, trained with a parallel scan
    /// ([`MinRnn`](crate::MinRnn)).
    MinGru,
    /// minLSTM (Feng et al. 2024), likewise.
    MinLstm,
    /// sLSTM (Beck et al. 2024, xLSTM): exponential input gate with a normaliser and a
    /// stabiliser state (see the module docs).
    Slstm,
}

impl CellType {
    /// The min cell this is, if it is one (it then runs as a [`MinRnn`](crate::MinRnn)).
    pub fn min_cell(self) -> Option<crate::MinCell> {
        match self {
            CellType::MinGru => Some(crate::MinCell::MinGru),
            CellType::MinLstm => Some(crate::MinCell::MinLstm),
            CellType::Rnn | CellType::Lstm | CellType::Gru | CellType::Slstm => None,
        }
    }
}

/// A cell type together with everything that changes its step math.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CellKind {
    Rnn(Nonlinearity),
    Lstm,
    Gru,
    Slstm,
}

impl CellKind {
    /// The step math of a classic cell; `None` for the min cells, which have no recurrent
    /// product (they run as a [`MinRnn`](crate::MinRnn)).
    pub(crate) fn new(cell: CellType, nonlinearity: Nonlinearity) -> Option<Self> {
        match cell {
            CellType::Rnn => Some(CellKind::Rnn(nonlinearity)),
            CellType::Lstm => Some(CellKind::Lstm),
            CellType::Gru => Some(CellKind::Gru),
            CellType::Slstm => Some(CellKind::Slstm),
            CellType::MinGru | CellType::MinLstm => None,
        }
    }

    /// Number of gates stacked in the fused weight matrices (`G` in `[G·H, ·]`).
    pub(crate) fn gates(self) -> usize {
        match self {
            CellKind::Rnn(_) => 1,
            CellKind::Lstm | CellKind::Slstm => 4,
            CellKind::Gru => 3,
        }
    }

    /// The whole-layer op's name for this cell.
    pub(crate) fn op_cell(self) -> crate::op::OpCell {
        use crate::op::OpCell;
        match self {
            CellKind::Rnn(Nonlinearity::Tanh) => OpCell::RnnTanh,
            CellKind::Rnn(Nonlinearity::Relu) => OpCell::RnnRelu,
            CellKind::Lstm => OpCell::Lstm,
            CellKind::Gru => OpCell::Gru,
            CellKind::Slstm => OpCell::Slstm,
        }
    }

    /// Whether the cell carries a cell state next to the hidden state.
    pub(crate) fn has_cell_state(self) -> bool {
        self.op_cell().state_units() > 0
    }

    /// Width of the cell state for hidden size `hidden`: `H` (LSTM), `3·H` (sLSTM: `[c | n | m]`).
    pub(crate) fn cell_width(self, hidden: usize) -> usize {
        self.op_cell().state_units() * hidden
    }
}

/// `tanh(x)` computed as `2·σ(2x) − 1`.
///
/// Mathematically identical to `tanh`, within 2.4e-7 in f32, and on the CPU backends
/// several times cheaper than the backend's `tanh` (see BENCHMARKS.md), which matters because the
/// gate non-linearities are a first-order cost of a recurrent step.
pub(crate) fn fast_tanh<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    fast_sigmoid(x.mul_scalar(2.0))
        .mul_scalar(2.0)
        .sub_scalar(1.0)
}

/// `σ(x) = 1 / (1 + e^(−x))` from `exp` and cheap arithmetic: on `flex` the fused
/// `sigmoid` op is a scalar loop that costs 2.4× an `exp` (see BENCHMARKS.md).
///
/// The input is clamped to ±[`SIGMOID_CLAMP`]: beyond it `e^(−x)` would overflow to infinity
/// and the backward would multiply 0 by ∞ (NaN), while the true σ and σ' there are within
/// f32 rounding of the clamped ones.
pub(crate) fn fast_sigmoid<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    x.clamp(-SIGMOID_CLAMP, SIGMOID_CLAMP)
        .neg()
        .exp()
        .add_scalar(1.0)
        .recip()
}

/// Where [`fast_sigmoid`] saturates: σ(−80) ≈ 1.8e−35, and e^80 is still finite in f32.
const SIGMOID_CLAMP: f64 = 80.0;

/// The weights of one direction of one layer, prepared once per forward for the time loop.
///
/// The loop works in column layout: states are `[H, B]` and gates `[G·H, B]`, so every
/// matmul of the step and of its backward runs on contiguous operands or on the transposed
/// views the CPU kernels handle fast (see `examples/opcost.rs` and BENCHMARKS.md), and each
/// gate is a contiguous block of rows.
#[derive(Clone, Debug)]
pub(crate) struct StepWeights {
    /// `W_ih`: `[G·H, d_in]`.
    pub w_ih: Tensor<2>,
    /// `W_hh`: `[G·H, H_out]`.
    pub w_hh: Tensor<2>,
    /// `b_ih + b_hh` as `[G·H, 1]` (GRU: without the `n` block of `b_hh`).
    pub bias: Option<Tensor<2>>,
    /// GRU only: `b_hn` (`[H, 1]`), which must stay inside `r * (W_hn h + b_hn)`.
    pub b_hn: Option<Tensor<2>>,
    /// LSTM with projection: `W_hr`, `[P, H]`.
    pub w_hr: Option<Tensor<2>>,
    /// LSTM only: per-row scale `[4H, 1]` (2 on the `g` block, 1 elsewhere) so that one
    /// sigmoid over the fused gates also yields `tanh(g) = 2σ(2g) − 1`.
    pub lstm_scale: Option<Tensor<2>>,
    /// Hidden size `H`.
    pub d_hidden: usize,
    /// Layer normalisation, where the stack has it.
    pub norm: Option<StepNorm>,
}

/// The gate activations of one step, `[H, B]` each under the gate's name, as
/// [`cell_step`] records them for a trace: LSTM `i f g o`, GRU `r z n`, sLSTM `i f z o` (`i`
/// the stabilised `e^(ĩ − m')`, `f` the forget gate `σ(f̃)`); none for the Elman RNN.
pub(crate) type StepGates = Vec<(&'static str, Tensor<2>)>;

/// One recurrent step of a cell on fused gate tensors, in column layout.
///
/// - `x`: the step's input `[d_in, B]`.
/// - `h`: `[H_out, B]`, `c`: `[H, B]` for LSTM (`[3·H, B]` for sLSTM).
/// - `record`: where to push the step's gate activations ([`StepGates`]), when traced.
///
/// Returns the new `(h, c)`; `h` is also the step's output.
pub(crate) fn cell_step(
    kind: CellKind,
    w: &StepWeights,
    x: Tensor<2>,
    h: Tensor<2>,
    c: Option<Tensor<2>>,
    record: Option<&mut StepGates>,
) -> (Tensor<2>, Option<Tensor<2>>) {
    let mut record = record;
    let recording = record.is_some();
    let mut keep = |name: &'static str, gate: &Tensor<2>| {
        if let Some(r) = record.as_deref_mut() {
            r.push((name, gate.clone()));
        }
    };
    let hidden = w.d_hidden;
    let with_bias = |t: Tensor<2>| match &w.bias {
        Some(b) => t + b.clone(),
        None => t,
    };
    // The input and recurrent products, each layer-normalised where the stack is.
    let input = |x: Tensor<2>| {
        let p = w.w_ih.clone().matmul(x);
        match &w.norm {
            Some(n) => layer_norm(p, &n.gain_ih, None),
            None => p,
        }
    };
    let recurrent = |h: Tensor<2>| {
        let p = w.w_hh.clone().matmul(h);
        match &w.norm {
            Some(n) => layer_norm(p, &n.gain_hh, None),
            None => p,
        }
    };
    // All gate pre-activations at once. (One matmul `[W_ih | W_hh] · [x; h]` instead of two
    // was measured slower on the sentiment shape and no faster elsewhere: BENCHMARKS.md.)
    let fused = || with_bias(input(x.clone())) + recurrent(h.clone());
    match kind {
        CellKind::Rnn(Nonlinearity::Tanh) => (fast_tanh(fused()), None),
        CellKind::Rnn(Nonlinearity::Relu) => (relu(fused()), None),
        CellKind::Lstm => {
            let scale = w
                .lstm_scale
                .clone()
                .expect("LSTM step weights carry the gate scale");
            let act = fast_sigmoid(fused() * scale);
            let i = act.clone().narrow(0, 0, hidden);
            let f = act.clone().narrow(0, hidden, hidden);
            let g = act
                .clone()
                .narrow(0, 2 * hidden, hidden)
                .mul_scalar(2.0)
                .sub_scalar(1.0);
            let o = act.narrow(0, 3 * hidden, hidden);
            for (name, gate) in [("i", &i), ("f", &f), ("g", &g), ("o", &o)] {
                keep(name, gate);
            }
            let c = c.expect("LSTM step needs a cell state");
            let c_new = f * c + i * g;
            let read = match w.norm.as_ref().and_then(|n| n.cell.as_ref()) {
                Some((gain, bias)) => layer_norm(c_new.clone(), gain, Some(bias)),
                None => c_new.clone(),
            };
            let mut h_new = o * fast_tanh(read);
            if let Some(w_hr) = &w.w_hr {
                h_new = w_hr.clone().matmul(h_new);
            }
            (h_new, Some(c_new))
        }
        CellKind::Gru => {
            let x_proj = with_bias(input(x));
            let rec = recurrent(h.clone());
            let rz = fast_sigmoid(
                x_proj.clone().narrow(0, 0, 2 * hidden) + rec.clone().narrow(0, 0, 2 * hidden),
            );
            let r = rz.clone().narrow(0, 0, hidden);
            let z = rz.narrow(0, hidden, hidden);
            let mut rec_n = rec.narrow(0, 2 * hidden, hidden);
            if let Some(b_hn) = &w.b_hn {
                rec_n = rec_n + b_hn.clone();
            }
            let n = fast_tanh(x_proj.narrow(0, 2 * hidden, hidden) + r.clone() * rec_n);
            for (name, gate) in [("r", &r), ("z", &z), ("n", &n)] {
                keep(name, gate);
            }
            // (1 - z) * n + z * h  ==  n + z * (h - n)
            let h_new = n.clone() + z * (h - n);
            (h_new, None)
        }
        CellKind::Slstm => {
            let a = fused();
            let gate = |k: usize| a.clone().narrow(0, k * hidden, hidden);
            let (pre_i, pre_f) = (gate(0), gate(1));
            let z = fast_tanh(gate(2));
            let o = fast_sigmoid(gate(3));
            let state = c.expect("sLSTM step needs a cell state");
            let part = |k: usize| state.clone().narrow(0, k * hidden, hidden);
            let (c_prev, n_prev, m_prev) = (part(0), part(1), part(2));
            let forget = recording.then(|| fast_sigmoid(pre_f.clone()));
            let lfm = log_sigmoid(pre_f) + m_prev;
            let empty = n_prev.clone().equal_elem(0.0);
            let m_new = pre_i
                .clone()
                .max_pair(lfm.clone())
                .mask_where(empty, pre_i.clone());
            let i = (pre_i - m_new.clone()).exp();
            let f = (lfm - m_new.clone()).exp();
            keep("i", &i);
            if let Some(forget) = &forget {
                keep("f", forget);
            }
            keep("z", &z);
            keep("o", &o);
            let c_new = f.clone() * c_prev + i.clone() * z;
            let n_new = f * n_prev + i;
            let h_new = o * c_new.clone() / n_new.clone();
            (h_new, Some(Tensor::cat(vec![c_new, n_new, m_new], 0)))
        }
    }
}
