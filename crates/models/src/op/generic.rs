//! The op from burn's backend ops: the trait's default bodies (what a backend without kernels of
//! its own runs, and flex in f64), what the autodiff backend's own `recurrent_scan_backward`
//! runs, and the f64 path the native kernels (`flex/`, `cube/`) are tested against.
//!
//! Per step the forward does one matmul with `W_hhᵀ` and the gate math on `[B, G·H]` slices;
//! the backward does one matmul with `W_hh` and the gate derivatives; `dW_hh` (and `dW_hr`) are
//! one matmul each over all `T·B` rows at the end. Masks implement the packed-sequence
//! semantics: a row past its length keeps its state and outputs zeros.
//!
//! (Over 400 lines: the forward and the hand-written backward of every cell in burn ops, kept
//! together as the one oracle the kernels are held to.)

use burn::backend::tensor::FloatTensor;
use burn::backend::{Backend, Shape, Slice, TensorData, TensorMetadata};

use super::{OpCell, SavedLayout, ScanGrads, ScanOutput, ScanSpec};

type F<B> = FloatTensor<B>;

/// Columns `start..start + len` of a `[R, W]` tensor.
fn cols<B: Backend>(t: &F<B>, start: usize, len: usize) -> F<B> {
    let rows = t.shape()[0];
    B::float_slice(
        t.clone(),
        &[Slice::from(0..rows), Slice::from(start..start + len)],
    )
}

/// Step `i` of a `[T, B, W]` tensor as `[B, W]`.
fn at<B: Backend>(t: &F<B>, i: usize) -> F<B> {
    let s = t.shape();
    let slice = B::float_slice(
        t.clone(),
        &[
            Slice::from(i..i + 1),
            Slice::from(0..s[1]),
            Slice::from(0..s[2]),
        ],
    );
    B::float_reshape(slice, Shape::new([s[1], s[2]]))
}

/// `[T·B, W]` view of a `[T, B, W]` tensor.
fn flat<B: Backend>(t: F<B>) -> F<B> {
    let s = t.shape();
    B::float_reshape(t, Shape::new([s[0] * s[1], s[2]]))
}

/// Stacks per-step `[B, W]` tensors (in time order) into `[T, B, W]`.
fn stack<B: Backend>(steps: Vec<Option<F<B>>>) -> F<B> {
    let steps = steps
        .into_iter()
        .map(|s| {
            let s = s.expect("every step ran");
            let shape = s.shape();
            B::float_reshape(s, Shape::new([1, shape[0], shape[1]]))
        })
        .collect();
    B::float_cat(steps, 0)
}

fn one_minus<B: Backend>(t: F<B>) -> F<B> {
    B::float_add_scalar(B::float_neg(t), 1.0.into())
}

/// `1 − t²`, the derivative of `tanh` from its output `t`.
fn tanh_grad<B: Backend>(t: F<B>) -> F<B> {
    one_minus::<B>(B::float_mul(t.clone(), t))
}

/// `s (1 − s)`, the derivative of the sigmoid from its output `s`.
fn sigmoid_grad<B: Backend>(s: F<B>) -> F<B> {
    B::float_mul(s.clone(), one_minus::<B>(s))
}

/// Per-step `[B, 1]` masks: `valid` (1 where the row takes part) and `1 − valid`.
struct Masks<B: Backend> {
    valid: Vec<F<B>>,
    invalid: Vec<F<B>>,
}

impl<B: Backend> Masks<B> {
    fn new(spec: &ScanSpec, time: usize, like: &F<B>) -> Option<Self> {
        let lengths = spec.lengths.as_ref()?;
        let device = like.device();
        let make = |t: usize, on: f32, off: f32| {
            let values: Vec<f32> = lengths
                .iter()
                .map(|&l| if t < l { on } else { off })
                .collect();
            let data = TensorData::new(values, [lengths.len(), 1]).convert_dtype(like.dtype());
            B::float_from_data(data, &device)
        };
        Some(Self {
            valid: (0..time).map(|t| make(t, 1.0, 0.0)).collect(),
            invalid: (0..time).map(|t| make(t, 0.0, 1.0)).collect(),
        })
    }
}

/// The steps in the order a pass visits them.
pub(super) fn order(time: usize, reverse: bool) -> Vec<usize> {
    if reverse {
        (0..time).rev().collect()
    } else {
        (0..time).collect()
    }
}

/// The input projection of [`RecurrentOps::recurrent_layer`]: `x` `[·, ·, d_in]` times `W_ihᵀ`
/// (`w_ih` `[G·H, d_in]`) plus `bias` `[G·H]`, as `[·, ·, G·H]`: one matmul over all rows.
pub(super) fn project<B: Backend>(x: F<B>, w_ih: F<B>, bias: Option<F<B>>) -> F<B> {
    let s = x.shape();
    let (d0, d1, d_in) = (s[0], s[1], s[2]);
    let gh = w_ih.shape()[0];
    let rows = B::float_reshape(x, Shape::new([d0 * d1, d_in]));
    let mut xp = B::float_matmul(rows, B::float_transpose(w_ih));
    if let Some(bias) = bias {
        xp = B::float_add(xp, B::float_reshape(bias, Shape::new([1, gh])));
    }
    B::float_reshape(xp, Shape::new([d0, d1, gh]))
}

/// The forward of [`RecurrentOps::recurrent_scan`](super::RecurrentOps::recurrent_scan).
/// A batch-first call runs time-major on transposed views; its saved activations are
/// `[T, B, S]` either way.
#[allow(clippy::too_many_arguments)]
pub(super) fn forward<B: Backend>(
    xp: F<B>,
    w_hh: F<B>,
    b_hn: Option<F<B>>,
    w_hr: Option<F<B>>,
    h0: F<B>,
    c0: Option<F<B>>,
    spec: &ScanSpec,
) -> ScanOutput<B> {
    if !spec.batch_first {
        return time_major_forward::<B>(xp, w_hh, b_hn, w_hr, h0, c0, spec);
    }
    let xp = B::float_swap_dims(xp, 0, 1);
    let (y, h, c, saved) = time_major_forward::<B>(xp, w_hh, b_hn, w_hr, h0, c0, spec);
    (B::float_swap_dims(y, 0, 1), h, c, saved)
}

#[allow(clippy::too_many_arguments)]
fn time_major_forward<B: Backend>(
    xp: F<B>,
    w_hh: F<B>,
    b_hn: Option<F<B>>,
    w_hr: Option<F<B>>,
    h0: F<B>,
    c0: Option<F<B>>,
    spec: &ScanSpec,
) -> ScanOutput<B> {
    let shape = xp.shape();
    let (time, gh) = (shape[0], shape[2]);
    let hidden = gh / spec.cell.gates();
    let masks = Masks::<B>::new(spec, time, &xp);
    let w_hh_t = B::float_transpose(w_hh);
    let w_hr_t = w_hr.map(B::float_transpose);
    let b_hn = b_hn.map(|b| B::float_reshape(b, Shape::new([1, hidden])));
    let (mut h, mut c) = (h0, c0);
    let mut ys = vec![None; time];
    let mut rows = vec![None; time];
    for t in order(time, spec.reverse) {
        let x = at::<B>(&xp, t);
        let rec = B::float_matmul(h.clone(), w_hh_t.clone());
        let (h_new, c_new, parts) = match spec.cell {
            OpCell::Lstm => {
                let a = B::float_add(x, rec);
                let i = B::sigmoid(cols::<B>(&a, 0, hidden));
                let f = B::sigmoid(cols::<B>(&a, hidden, hidden));
                let g = B::float_tanh(cols::<B>(&a, 2 * hidden, hidden));
                let o = B::sigmoid(cols::<B>(&a, 3 * hidden, hidden));
                let c_prev = c.clone().expect("LSTM has a cell state");
                let c_new = B::float_add(
                    B::float_mul(f.clone(), c_prev.clone()),
                    B::float_mul(i.clone(), g.clone()),
                );
                let tc = B::float_tanh(c_new.clone());
                let m = B::float_mul(o.clone(), tc.clone());
                let mut parts = vec![i, f, g, o, c_prev, tc, h.clone()];
                let h_new = match &w_hr_t {
                    Some(w) => {
                        parts.push(m.clone());
                        B::float_matmul(m, w.clone())
                    }
                    None => m,
                };
                (h_new, Some(c_new), parts)
            }
            OpCell::Slstm => {
                let a = B::float_add(x, rec);
                let pre_i = cols::<B>(&a, 0, hidden);
                let pre_f = cols::<B>(&a, hidden, hidden);
                let z = B::float_tanh(cols::<B>(&a, 2 * hidden, hidden));
                let o = B::sigmoid(cols::<B>(&a, 3 * hidden, hidden));
                let state = c.clone().expect("sLSTM has a cell state");
                let c_prev = cols::<B>(&state, 0, hidden);
                let n_prev = cols::<B>(&state, hidden, hidden);
                let m_prev = cols::<B>(&state, 2 * hidden, hidden);
                let lfm = B::float_add(B::log_sigmoid(pre_f.clone()), m_prev);
                // w = 1 where m' = ĩ (ĩ ≥ ln σ(f̃) + m, or the normaliser is 0: an empty
                // state), else 0; then m' = w·ĩ + (1 − w)·(ln σ(f̃) + m), exactly.
                let geq = B::float_ceil(B::float_mul_scalar(
                    B::float_add_scalar(
                        B::float_sign(B::float_sub(pre_i.clone(), lfm.clone())),
                        1.0.into(),
                    ),
                    0.5.into(),
                ));
                let empty = one_minus::<B>(B::float_sign(B::float_abs(n_prev.clone())));
                let won = B::float_sub(
                    B::float_add(geq.clone(), empty.clone()),
                    B::float_mul(geq, empty),
                );
                let m_new = B::float_add(
                    B::float_mul(won.clone(), pre_i.clone()),
                    B::float_mul(one_minus::<B>(won.clone()), lfm.clone()),
                );
                let i = B::float_exp(B::float_sub(pre_i, m_new.clone()));
                let f = B::float_exp(B::float_sub(lfm, m_new.clone()));
                let c_new = B::float_add(
                    B::float_mul(f.clone(), c_prev.clone()),
                    B::float_mul(i.clone(), z.clone()),
                );
                let n_new = B::float_add(B::float_mul(f.clone(), n_prev.clone()), i.clone());
                let h_new = B::float_div(B::float_mul(o.clone(), c_new.clone()), n_new.clone());
                let state_new = B::float_cat(vec![c_new.clone(), n_new.clone(), m_new], 1);
                let parts = vec![
                    i,
                    f,
                    z,
                    o,
                    B::sigmoid(pre_f),
                    won,
                    c_prev,
                    n_prev,
                    c_new,
                    n_new,
                    h.clone(),
                ];
                (h_new, Some(state_new), parts)
            }
            OpCell::Gru => {
                let rz = B::sigmoid(B::float_add(
                    cols::<B>(&x, 0, 2 * hidden),
                    cols::<B>(&rec, 0, 2 * hidden),
                ));
                let r = cols::<B>(&rz, 0, hidden);
                let z = cols::<B>(&rz, hidden, hidden);
                let mut hn = cols::<B>(&rec, 2 * hidden, hidden);
                if let Some(b) = &b_hn {
                    hn = B::float_add(hn, b.clone());
                }
                let n = B::float_tanh(B::float_add(
                    cols::<B>(&x, 2 * hidden, hidden),
                    B::float_mul(r.clone(), hn.clone()),
                ));
                let h_new = B::float_add(
                    n.clone(),
                    B::float_mul(z.clone(), B::float_sub(h.clone(), n.clone())),
                );
                (h_new, None, vec![r, z, n, hn, h.clone()])
            }
            OpCell::RnnTanh | OpCell::RnnRelu => {
                let a = B::float_add(x, rec);
                let h_new = if spec.cell == OpCell::RnnTanh {
                    B::float_tanh(a)
                } else {
                    B::relu(a)
                };
                (h_new.clone(), None, vec![h_new, h.clone()])
            }
        };
        if spec.save {
            rows[t] = Some(B::float_cat(parts, 1));
        }
        match &masks {
            None => {
                ys[t] = Some(h_new.clone());
                h = h_new;
                c = c_new;
            }
            Some(masks) => {
                let valid = masks.valid[t].clone();
                let keep = |old: F<B>, new: F<B>| {
                    B::float_add(
                        old.clone(),
                        B::float_mul(B::float_sub(new, old), valid.clone()),
                    )
                };
                ys[t] = Some(B::float_mul(h_new.clone(), valid.clone()));
                h = keep(h, h_new);
                c = match (c, c_new) {
                    (Some(old), Some(new)) => Some(keep(old, new)),
                    _ => None,
                };
            }
        }
    }
    let saved = spec.save.then(|| stack::<B>(rows));
    (stack::<B>(ys), h, c, saved)
}

/// The backward of [`RecurrentOps::recurrent_scan`](super::RecurrentOps::recurrent_scan),
/// from the activations [`forward`] saved.
#[allow(clippy::too_many_arguments)]
pub(super) fn backward<B: Backend>(
    saved: F<B>,
    w_hh: F<B>,
    w_hr: Option<F<B>>,
    dy: F<B>,
    dh_n: F<B>,
    dc_n: Option<F<B>>,
    spec: &ScanSpec,
) -> ScanGrads<B> {
    if !spec.batch_first {
        return time_major_backward::<B>(saved, w_hh, w_hr, dy, dh_n, dc_n, spec);
    }
    let dy = B::float_swap_dims(dy, 0, 1);
    let (d_xp, d_w_hh, d_b_hn, d_w_hr, dh, dc) =
        time_major_backward::<B>(saved, w_hh, w_hr, dy, dh_n, dc_n, spec);
    (
        B::float_swap_dims(d_xp, 0, 1),
        d_w_hh,
        d_b_hn,
        d_w_hr,
        dh,
        dc,
    )
}

#[allow(clippy::too_many_arguments)]
fn time_major_backward<B: Backend>(
    saved: F<B>,
    w_hh: F<B>,
    w_hr: Option<F<B>>,
    dy: F<B>,
    dh_n: F<B>,
    dc_n: Option<F<B>>,
    spec: &ScanSpec,
) -> ScanGrads<B> {
    let time = saved.shape()[0];
    let gh = w_hh.shape()[0];
    let d_out = w_hh.shape()[1];
    let hidden = gh / spec.cell.gates();
    let layout = SavedLayout::new(spec.cell, hidden, d_out, w_hr.is_some());
    let masks = Masks::<B>::new(spec, time, &saved);
    let (mut dh, mut dc) = (dh_n, dc_n);
    let mut d_xp = vec![None; time];
    // GRU: the gradient of `W_hh h` differs from that of `xp` in the `n` block.
    let mut d_rec = vec![None; time];
    // Projected LSTM: the gradient of each step's projected output, for `dW_hr`.
    let mut d_proj = vec![None; time];
    for t in order(time, !spec.reverse) {
        let row = at::<B>(&saved, t);
        let part = |offset: usize, width: usize| cols::<B>(&row, offset, width);
        let mask = masks
            .as_ref()
            .map(|m| (m.valid[t].clone(), m.invalid[t].clone()));
        let mut dhp = B::float_add(dh.clone(), at::<B>(&dy, t));
        if let Some((valid, _)) = &mask {
            dhp = B::float_mul(dhp, valid.clone());
        }
        // What the state gradient keeps of `dh` on rows that skip this step.
        let carry = |d: &F<B>| {
            mask.as_ref()
                .map(|(_, inv)| B::float_mul(d.clone(), inv.clone()))
        };
        let plus = |a: F<B>, b: Option<F<B>>| match b {
            Some(b) => B::float_add(a, b),
            None => a,
        };
        match spec.cell {
            OpCell::Lstm => {
                let i = part(0, hidden);
                let f = part(hidden, hidden);
                let g = part(2 * hidden, hidden);
                let o = part(3 * hidden, hidden);
                let c_prev = part(layout.aux(), hidden);
                let tc = part(layout.tanh_c(), hidden);
                let dm = match &w_hr {
                    Some(w) => {
                        d_proj[t] = Some(dhp.clone());
                        B::float_matmul(dhp, w.clone())
                    }
                    None => dhp,
                };
                let dc_in = dc.clone().expect("LSTM has a cell-state gradient");
                let dc_in_masked = match &mask {
                    Some((valid, _)) => B::float_mul(dc_in.clone(), valid.clone()),
                    None => dc_in.clone(),
                };
                let dc_tot = B::float_add(
                    dc_in_masked,
                    B::float_mul(
                        B::float_mul(dm.clone(), o.clone()),
                        tanh_grad::<B>(tc.clone()),
                    ),
                );
                let da = B::float_cat(
                    vec![
                        B::float_mul(
                            B::float_mul(dc_tot.clone(), g.clone()),
                            sigmoid_grad::<B>(i.clone()),
                        ),
                        B::float_mul(
                            B::float_mul(dc_tot.clone(), c_prev),
                            sigmoid_grad::<B>(f.clone()),
                        ),
                        B::float_mul(B::float_mul(dc_tot.clone(), i), tanh_grad::<B>(g)),
                        B::float_mul(B::float_mul(dm, tc), sigmoid_grad::<B>(o)),
                    ],
                    1,
                );
                dh = plus(B::float_matmul(da.clone(), w_hh.clone()), carry(&dh));
                dc = Some(plus(B::float_mul(dc_tot, f), carry(&dc_in)));
                d_xp[t] = Some(da);
            }
            OpCell::Slstm => {
                let [i, f, z, o] = [0, 1, 2, 3].map(|g| part(g * hidden, hidden));
                let sf = part(layout.aux(), hidden);
                let s = layout.slstm_states();
                let [c_prev, n_prev, c_new, n_new] =
                    [0, 1, 2, 3].map(|k| part(s + k * hidden, hidden));
                let d_state = dc.clone().expect("sLSTM has a cell-state gradient");
                let d_state_masked = match &mask {
                    Some((valid, _)) => B::float_mul(d_state.clone(), valid.clone()),
                    None => d_state.clone(),
                };
                let won = part(layout.slstm_won(), hidden);
                let inv = B::float_recip(n_new);
                let ht = B::float_mul(c_new, inv.clone());
                let d_o = B::float_mul(
                    B::float_mul(dhp.clone(), ht.clone()),
                    sigmoid_grad::<B>(o.clone()),
                );
                let dh_o = B::float_mul(dhp, o);
                let dct = B::float_add(
                    cols::<B>(&d_state_masked, 0, hidden),
                    B::float_mul(dh_o.clone(), inv.clone()),
                );
                let dnt = B::float_sub(
                    cols::<B>(&d_state_masked, hidden, hidden),
                    B::float_mul(B::float_mul(dh_o, ht), inv),
                );
                // Gradients of ln i' and ln f', and what reaches the new stabiliser, which
                // passes it on to where its max took it from.
                let ai = B::float_mul(
                    B::float_add(B::float_mul(dct.clone(), z.clone()), dnt.clone()),
                    i.clone(),
                );
                let bf = B::float_mul(
                    B::float_add(
                        B::float_mul(dct.clone(), c_prev),
                        B::float_mul(dnt.clone(), n_prev),
                    ),
                    f.clone(),
                );
                let dmt = B::float_sub(
                    B::float_sub(cols::<B>(&d_state_masked, 2 * hidden, hidden), ai.clone()),
                    bf.clone(),
                );
                let di = B::float_add(ai, B::float_mul(won.clone(), dmt.clone()));
                let dlf = B::float_add(bf, B::float_mul(one_minus::<B>(won), dmt));
                let df = B::float_mul(dlf.clone(), one_minus::<B>(sf));
                let dz = B::float_mul(B::float_mul(dct.clone(), i), tanh_grad::<B>(z));
                let da = B::float_cat(vec![di, df, dz, d_o], 1);
                dh = plus(B::float_matmul(da.clone(), w_hh.clone()), carry(&dh));
                let d_prev = B::float_cat(
                    vec![B::float_mul(dct, f.clone()), B::float_mul(dnt, f), dlf],
                    1,
                );
                dc = Some(plus(d_prev, carry(&d_state)));
                d_xp[t] = Some(da);
            }
            OpCell::Gru => {
                let r = part(0, hidden);
                let z = part(hidden, hidden);
                let n = part(2 * hidden, hidden);
                let hn = part(layout.aux(), hidden);
                let h_prev = part(layout.h_prev(), d_out);
                let dn = B::float_mul(dhp.clone(), one_minus::<B>(z.clone()));
                let dz = B::float_mul(dhp.clone(), B::float_sub(h_prev, n.clone()));
                let dan = B::float_mul(dn, tanh_grad::<B>(n));
                let dar = B::float_mul(B::float_mul(dan.clone(), hn), sigmoid_grad::<B>(r.clone()));
                let daz = B::float_mul(dz, sigmoid_grad::<B>(z.clone()));
                let dhn = B::float_mul(dan.clone(), r);
                let rec = B::float_cat(vec![dar.clone(), daz.clone(), dhn], 1);
                let direct = B::float_mul(dhp, z);
                dh = plus(
                    B::float_add(B::float_matmul(rec.clone(), w_hh.clone()), direct),
                    carry(&dh),
                );
                d_xp[t] = Some(B::float_cat(vec![dar, daz, dan], 1));
                d_rec[t] = Some(rec);
            }
            OpCell::RnnTanh | OpCell::RnnRelu => {
                let h_new = part(0, hidden);
                let deriv = if spec.cell == OpCell::RnnTanh {
                    tanh_grad::<B>(h_new)
                } else {
                    // relu's output is ≥ 0: its sign is the derivative (0 at 0, like PyTorch).
                    B::float_sign(h_new)
                };
                let da = B::float_mul(dhp, deriv);
                dh = plus(B::float_matmul(da.clone(), w_hh.clone()), carry(&dh));
                d_xp[t] = Some(da);
            }
        }
    }
    let d_xp = stack::<B>(d_xp);
    let d_rec = if spec.cell == OpCell::Gru {
        stack::<B>(d_rec)
    } else {
        d_xp.clone()
    };
    let d_proj = w_hr.map(|_| stack::<B>(d_proj));
    let (d_w_hh, d_b_hn, d_w_hr) = weight_grads::<B>(saved, d_rec, d_proj, &layout, spec.has_b_hn);
    (d_xp, d_w_hh, d_b_hn, d_w_hr, dh, dc)
}

/// The weight gradients over all steps at once, from `[·, ·, W]` tensors whose rows (one per
/// `(t, b)`) are in the same order: `saved` (`[·, ·, S]`), `d_rec` (the gradient of `W_hh h`,
/// `[·, ·, G·H]`) and, for a projected LSTM, `d_proj` (of each step's output, `[·, ·, P]`).
/// Returns `(dW_hh, d_b_hn, dW_hr)`: one matmul each.
pub(super) fn weight_grads<B: Backend>(
    saved: F<B>,
    d_rec: F<B>,
    d_proj: Option<F<B>>,
    layout: &SavedLayout,
    has_b_hn: bool,
) -> (F<B>, Option<F<B>>, Option<F<B>>) {
    let hidden = layout.hidden;
    let rows = flat::<B>(saved);
    let d_rec_flat = flat::<B>(d_rec);
    let h_prev = cols::<B>(&rows, layout.h_prev(), layout.d_out);
    let d_w_hh = B::float_matmul(B::float_transpose(d_rec_flat.clone()), h_prev);
    let d_b_hn = has_b_hn.then(|| {
        let dn = cols::<B>(&d_rec_flat, 2 * hidden, hidden);
        B::float_reshape(B::float_sum_dim(dn, 0), Shape::new([hidden]))
    });
    let d_w_hr = d_proj.map(|d_proj| {
        let m = cols::<B>(&rows, layout.m(), hidden);
        B::float_matmul(B::float_transpose(flat::<B>(d_proj)), m)
    });
    (d_w_hh, d_b_hn, d_w_hr)
}
