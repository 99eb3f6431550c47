//! The forward step kernels: one thread per `(b, j)`, one launch per step (see `kernels.rs`).

use cubecl::prelude::*;

use super::kernels::{Step, at2, ixm, place, sigmoid, valid};

/// LSTM forward step over `B × H`: gates from `xp` (`4H` per row) plus `rec` (`[B, 4H]`),
/// `c` updated in place on valid rows. Unprojected: `h` (`[B, H]`) and `y` take `o · tanh(c)`
/// (`y` zero on invalid rows). Projected: `h` is the `[B, H]` buffer of `m = o · tanh(c)` for
/// the projection's matmul, and [`commit_forward`] does the state update.
#[cube(launch)]
#[allow(clippy::too_many_arguments)]
pub fn lstm_forward<F: Float>(
    xp: &Tensor<F>,
    rec: &Tensor<F>,
    lengths: &Tensor<F>,
    c: &mut Tensor<F>,
    h: &mut Tensor<F>,
    y: &mut Tensor<F>,
    saved: &mut Tensor<F>,
    s: Step,
    m_offset: u32,
    #[comptime] save: bool,
    #[comptime] proj: bool,
    #[define(F)] _dtype: ElemType,
) {
    let hd = s.units as usize;
    let (b, j, row) = place(&s);
    let x = row * 4 * hd;
    let i = sigmoid::<F>(xp[x + j] + at2::<F>(rec, b, j));
    let f = sigmoid::<F>(xp[x + hd + j] + at2::<F>(rec, b, hd + j));
    let g = (xp[x + 2 * hd + j] + at2::<F>(rec, b, 2 * hd + j)).tanh();
    let o = sigmoid::<F>(xp[x + 3 * hd + j] + at2::<F>(rec, b, 3 * hd + j));
    let ok = valid::<F>(lengths, s.t, b);
    let ci = ixm::<F>(c, b, j);
    let hi = ixm::<F>(h, b, j);
    let c_prev = c[ci];
    let c_new = f * c_prev + i * g;
    let tc = c_new.tanh();
    let m = o * tc;
    if save {
        let o_s = row * s.width as usize;
        saved[o_s + j] = i;
        saved[o_s + hd + j] = f;
        saved[o_s + 2 * hd + j] = g;
        saved[o_s + 3 * hd + j] = o;
        saved[o_s + 4 * hd + j] = c_prev;
        saved[o_s + 5 * hd + j] = tc;
        if proj {
            saved[o_s + m_offset as usize + j] = m;
        } else {
            saved[o_s + 6 * hd + j] = h[hi];
        }
    }
    if ok {
        c[ci] = c_new;
    }
    if proj {
        h[hi] = m;
    } else {
        let mut out = F::new(0.0);
        if ok {
            h[hi] = m;
            out = m;
        }
        y[row * hd + j] = out;
    }
}

/// The state update of a projected LSTM step over `B × P`: `hp` (`[B, P]`, `m · W_hrᵀ`) into
/// `h` and `y` on valid rows (`y` zero elsewhere); the old `h` saved at `h_prev_offset`.
#[cube(launch)]
#[allow(clippy::too_many_arguments)]
pub fn commit_forward<F: Float>(
    hp: &Tensor<F>,
    lengths: &Tensor<F>,
    h: &mut Tensor<F>,
    y: &mut Tensor<F>,
    saved: &mut Tensor<F>,
    s: Step,
    h_prev_offset: u32,
    #[comptime] save: bool,
    #[define(F)] _dtype: ElemType,
) {
    let p = s.units as usize;
    let (b, k, row) = place(&s);
    let hi = ixm::<F>(h, b, k);
    if save {
        saved[row * s.width as usize + h_prev_offset as usize + k] = h[hi];
    }
    let mut out = F::new(0.0);
    if valid::<F>(lengths, s.t, b) {
        out = at2::<F>(hp, b, k);
        h[hi] = out;
    }
    y[row * p + k] = out;
}

/// GRU forward step over `B × H`: `r, z` from `xp + rec`, `n = tanh(xp_n + r (rec_n + b_hn))`,
/// `h' = n + z (h − n)`; `h` updated in place on valid rows, `y` zero on the others.
#[cube(launch)]
#[allow(clippy::too_many_arguments)]
pub fn gru_forward<F: Float>(
    xp: &Tensor<F>,
    rec: &Tensor<F>,
    b_hn: &Tensor<F>,
    lengths: &Tensor<F>,
    h: &mut Tensor<F>,
    y: &mut Tensor<F>,
    saved: &mut Tensor<F>,
    s: Step,
    #[comptime] save: bool,
    #[comptime] has_b_hn: bool,
    #[define(F)] _dtype: ElemType,
) {
    let hd = s.units as usize;
    let (b, j, row) = place(&s);
    let x = row * 3 * hd;
    let r = sigmoid::<F>(xp[x + j] + at2::<F>(rec, b, j));
    let z = sigmoid::<F>(xp[x + hd + j] + at2::<F>(rec, b, hd + j));
    let mut hn = at2::<F>(rec, b, 2 * hd + j);
    if has_b_hn {
        hn += b_hn[j];
    }
    let n = (xp[x + 2 * hd + j] + r * hn).tanh();
    let hi = ixm::<F>(h, b, j);
    let h_prev = h[hi];
    let h_new = n + z * (h_prev - n);
    if save {
        let o_s = row * s.width as usize;
        saved[o_s + j] = r;
        saved[o_s + hd + j] = z;
        saved[o_s + 2 * hd + j] = n;
        saved[o_s + 3 * hd + j] = hn;
        saved[o_s + 4 * hd + j] = h_prev;
    }
    let mut out = F::new(0.0);
    if valid::<F>(lengths, s.t, b) {
        h[hi] = h_new;
        out = h_new;
    }
    y[row * hd + j] = out;
}

/// Elman RNN forward step over `B × H`: `h' = tanh(xp + rec)` (or `relu`).
#[cube(launch)]
#[allow(clippy::too_many_arguments)]
pub fn rnn_forward<F: Float>(
    xp: &Tensor<F>,
    rec: &Tensor<F>,
    lengths: &Tensor<F>,
    h: &mut Tensor<F>,
    y: &mut Tensor<F>,
    saved: &mut Tensor<F>,
    s: Step,
    #[comptime] save: bool,
    #[comptime] relu: bool,
    #[define(F)] _dtype: ElemType,
) {
    let hd = s.units as usize;
    let (b, j, row) = place(&s);
    let a = xp[row * hd + j] + at2::<F>(rec, b, j);
    let mut h_new = a.tanh();
    if relu {
        h_new = a.max(F::new(0.0));
    }
    let hi = ixm::<F>(h, b, j);
    let h_prev = h[hi];
    if save {
        let o_s = row * s.width as usize;
        saved[o_s + j] = h_new;
        saved[o_s + hd + j] = h_prev;
    }
    let mut out = F::new(0.0);
    if valid::<F>(lengths, s.t, b) {
        h[hi] = h_new;
        out = h_new;
    }
    y[row * hd + j] = out;
}

/// sLSTM forward step over `B × H` (the maths of `generic.rs`): gates `ĩ, f̃, z̃, õ` from `xp`
/// (`4H` per row) plus `rec` (`[B, 4H]`); the state `c` is `[B, 3H]`, `[c | n | m]`, updated in
/// place on valid rows; `h` and `y` take `o · c / n` (`y` zero on invalid rows).
#[cube(launch)]
#[allow(clippy::too_many_arguments)]
pub fn slstm_forward<F: Float>(
    xp: &Tensor<F>,
    rec: &Tensor<F>,
    lengths: &Tensor<F>,
    c: &mut Tensor<F>,
    h: &mut Tensor<F>,
    y: &mut Tensor<F>,
    saved: &mut Tensor<F>,
    s: Step,
    #[comptime] save: bool,
    #[define(F)] _dtype: ElemType,
) {
    let hd = s.units as usize;
    let (b, j, row) = place(&s);
    let x = row * 4 * hd;
    let one = F::new(1.0);
    let zero = F::new(0.0);
    let pre_i = xp[x + j] + at2::<F>(rec, b, j);
    let pre_f = xp[x + hd + j] + at2::<F>(rec, b, hd + j);
    let z = (xp[x + 2 * hd + j] + at2::<F>(rec, b, 2 * hd + j)).tanh();
    let o = sigmoid::<F>(xp[x + 3 * hd + j] + at2::<F>(rec, b, 3 * hd + j));
    // σ(f̃) and ln σ(f̃) from one exp.
    let e = (zero - pre_f.abs()).exp();
    let mut sf = one / (one + e);
    if pre_f < zero {
        sf = e * sf;
    }
    let lfm = pre_f.min(zero) - (one + e).ln();
    let ci = ixm::<F>(c, b, j);
    let ni = ixm::<F>(c, b, hd + j);
    let mi = ixm::<F>(c, b, 2 * hd + j);
    let (c_prev, n_prev) = (c[ci], c[ni]);
    let lfm = lfm + c[mi];
    // The stabiliser: ĩ where it is the larger or the state is empty, else ln σ(f̃) + m.
    let mut won = zero;
    let mut m_new = lfm;
    if n_prev == zero || pre_i >= lfm {
        won = one;
        m_new = pre_i;
    }
    let i = (pre_i - m_new).exp();
    let f = (lfm - m_new).exp();
    let c_new = f * c_prev + i * z;
    let n_new = f * n_prev + i;
    let out = o * c_new / n_new;
    let hi = ixm::<F>(h, b, j);
    if save {
        let o_s = row * s.width as usize;
        saved[o_s + j] = i;
        saved[o_s + hd + j] = f;
        saved[o_s + 2 * hd + j] = z;
        saved[o_s + 3 * hd + j] = o;
        saved[o_s + 4 * hd + j] = sf;
        saved[o_s + 5 * hd + j] = won;
        saved[o_s + 6 * hd + j] = c_prev;
        saved[o_s + 7 * hd + j] = n_prev;
        saved[o_s + 8 * hd + j] = c_new;
        saved[o_s + 9 * hd + j] = n_new;
        saved[o_s + 10 * hd + j] = h[hi];
    }
    let mut y_out = zero;
    if valid::<F>(lengths, s.t, b) {
        c[ci] = c_new;
        c[ni] = n_new;
        c[mi] = m_new;
        h[hi] = out;
        y_out = out;
    }
    y[row * hd + j] = y_out;
}
