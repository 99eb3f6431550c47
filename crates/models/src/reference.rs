//! The plain reference path the fast path is checked against (tests only).
//!
//! Obviously correct rather than fast: every sequence of the batch on its own (so variable
//! lengths are just shorter loops), every gate with its own slices of the weights, burn's own
//! `tanh`/`sigmoid`, one step at a time, the reverse direction walking back from the sequence's
//! own last step.

use burn::Tensor;
use burn::tensor::activation::{relu, sigmoid};

use crate::cell::{CellKind, Nonlinearity};
use crate::params::{DirectionParams, head_mask};
use crate::recurrent::Recurrent;

/// Rows `[k·H, (k+1)·H)` of a fused `[G·H, ·]` weight, i.e. gate `k`'s block.
fn gate_w(w: &Tensor<2>, k: usize, h: usize) -> Tensor<2> {
    w.clone().narrow(0, k * h, h)
}

fn gate_b(b: &Option<Tensor<1>>, k: usize, h: usize) -> Option<Tensor<2>> {
    b.as_ref()
        .map(|b| b.clone().narrow(0, k * h, h).unsqueeze_dim(0))
}

fn affine(x: &Tensor<2>, w: Tensor<2>, b: Option<Tensor<2>>) -> Tensor<2> {
    let y = x.clone().matmul(w.transpose());
    match b {
        Some(b) => y + b,
        None => y,
    }
}

/// One step of one cell for a single sequence: `x` `[1, d_in]`, `h` `[1, H_out]`, `c` `[1, H]`
/// (sLSTM: `[1, 3·H]`).
fn step(
    kind: CellKind,
    p: &DirectionParams,
    heads: usize,
    x: &Tensor<2>,
    h: &Tensor<2>,
    c: &Option<Tensor<2>>,
) -> (Tensor<2>, Option<Tensor<2>>) {
    let hidden = p.d_hidden(kind);
    let w_ih = p.weight_ih.val();
    let mut w_hh = p.weight_hh.val();
    if heads > 1 {
        w_hh = w_hh.clone() * head_mask(kind.gates(), hidden, heads, &w_hh.device());
    }
    let b_ih = p.bias_ih.as_ref().map(|b| b.val());
    let b_hh = p.bias_hh.as_ref().map(|b| b.val());
    let pre = |k: usize| {
        (
            affine(x, gate_w(&w_ih, k, hidden), gate_b(&b_ih, k, hidden)),
            affine(h, gate_w(&w_hh, k, hidden), gate_b(&b_hh, k, hidden)),
        )
    };
    match kind {
        CellKind::Rnn(nl) => {
            let (a, b) = pre(0);
            let h = match nl {
                Nonlinearity::Tanh => (a + b).tanh(),
                Nonlinearity::Relu => relu(a + b),
            };
            (h, None)
        }
        CellKind::Lstm => {
            let gate = |k| {
                let (a, b) = pre(k);
                a + b
            };
            let i = sigmoid(gate(0));
            let f = sigmoid(gate(1));
            let g = gate(2).tanh();
            let o = sigmoid(gate(3));
            let c = f * c.clone().unwrap() + i * g;
            let mut h = o * c.clone().tanh();
            if let Some(w_hr) = &p.weight_hr {
                h = h.matmul(w_hr.val().transpose());
            }
            (h, Some(c))
        }
        CellKind::Gru => {
            let (xr, hr) = pre(0);
            let (xz, hz) = pre(1);
            let (xn, hn) = pre(2);
            let r = sigmoid(xr + hr);
            let z = sigmoid(xz + hz);
            let n = (xn + r * hn).tanh();
            let one_minus_z = z.clone().neg().add_scalar(1.0);
            (one_minus_z * n + z * h.clone(), None)
        }
        CellKind::Slstm => {
            // The xLSTM paper's equations with the sigmoid forget gate, element by element
            // as written: the stabiliser from `ln σ(f̃)`, then the stabilised gates.
            let gate = |k| {
                let (a, b) = pre(k);
                a + b
            };
            let state = c.clone().unwrap();
            let (c_prev, n_prev, m_prev) = (
                state.clone().narrow(1, 0, hidden),
                state.clone().narrow(1, hidden, hidden),
                state.narrow(1, 2 * hidden, hidden),
            );
            let pre_i = gate(0);
            let log_f = sigmoid(gate(1)).log();
            let lfm = log_f.clone() + m_prev.clone();
            // The larger of the two (the input gate's at a tie), or the input gate's where
            // the state is empty.
            let m_new = pre_i
                .clone()
                .max_pair(lfm)
                .mask_where(n_prev.clone().equal_elem(0.0), pre_i.clone());
            let i = (pre_i - m_new.clone()).exp();
            let f = (log_f + m_prev - m_new.clone()).exp();
            let z = gate(2).tanh();
            let o = sigmoid(gate(3));
            let c_new = f.clone() * c_prev + i.clone() * z;
            let n_new = f * n_prev + i;
            let h = o * c_new.clone() / n_new.clone();
            (h, Some(Tensor::cat(vec![c_new, n_new, m_new], 1)))
        }
    }
}

/// Reference forward of a whole stack on a batch-first input `[B, T, d_input]`, with optional
/// lengths and initial states `[L·D, B, ·]`. Returns the batch-first output `[B, T, D·H_out]`,
/// `h_n` and `c_n` (no dropout).
pub(crate) fn forward(
    stack: &Recurrent,
    input: Tensor<3>,
    lengths: Option<&[usize]>,
    h0: Option<Tensor<3>>,
    c0: Option<Tensor<3>>,
) -> (Tensor<3>, Tensor<3>, Option<Tensor<3>>) {
    let meta = &stack.meta;
    let [batch, time, _] = input.dims();
    let device = input.device();
    let d_out = meta.d_out();
    let count = meta.n_layers * meta.directions;
    let lstm = meta.kind.has_cell_state();
    let mut rows_out = Vec::new();
    let mut h_n = vec![Vec::new(); count];
    let mut c_n = vec![Vec::new(); count];
    for b in 0..batch {
        let len = lengths.map_or(time, |l| l[b]);
        let row = input.clone().narrow(0, b, 1).squeeze_dim::<2>(0);
        let mut seq: Vec<Tensor<2>> = (0..len).map(|t| row.clone().narrow(0, t, 1)).collect();
        for layer in 0..meta.n_layers {
            let mut dir_outputs = Vec::new();
            for dir in 0..meta.directions {
                let index = layer * meta.directions + dir;
                let p = &stack.cells[index];
                let mut h = match &h0 {
                    Some(h0) => h0
                        .clone()
                        .narrow(0, index, 1)
                        .narrow(1, b, 1)
                        .squeeze_dim(0),
                    None => Tensor::zeros([1, d_out], &device),
                };
                let mut c = lstm.then(|| match &c0 {
                    Some(c0) => c0
                        .clone()
                        .narrow(0, index, 1)
                        .narrow(1, b, 1)
                        .squeeze_dim(0),
                    None => Tensor::zeros([1, meta.kind.cell_width(meta.d_hidden)], &device),
                });
                let mut outs = vec![None; len];
                let order: Vec<usize> = if dir == 0 {
                    (0..len).collect()
                } else {
                    (0..len).rev().collect()
                };
                for t in order {
                    let (h2, c2) = step(meta.kind, p, meta.heads, &seq[t], &h, &c);
                    outs[t] = Some(h2.clone());
                    h = h2;
                    c = c2;
                }
                h_n[index].push(h);
                if let Some(c) = c {
                    c_n[index].push(c);
                }
                dir_outputs.push(outs.into_iter().map(Option::unwrap).collect::<Vec<_>>());
            }
            seq = (0..len)
                .map(|t| Tensor::cat(dir_outputs.iter().map(|o| o[t].clone()).collect(), 1))
                .collect();
        }
        let width = meta.directions * d_out;
        let mut steps = seq;
        steps.extend((len..time).map(|_| Tensor::zeros([1, width], &device)));
        rows_out.push(Tensor::cat(steps, 0).unsqueeze_dim::<3>(0));
    }
    let stack_states = |states: Vec<Vec<Tensor<2>>>| {
        Tensor::stack::<3>(states.into_iter().map(|s| Tensor::cat(s, 0)).collect(), 0)
    };
    let c_n = lstm.then(|| stack_states(c_n));
    (Tensor::cat(rows_out, 0), stack_states(h_n), c_n)
}
