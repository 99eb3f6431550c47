//! The backward step kernels: one thread per `(b, j)`, one launch per step (see `kernels.rs`).

use cubecl::prelude::*;

use super::kernels::{Step, at2, ixm, place, row_of, set_carry, valid};

/// The state gradient entering a step at `(b, j)`: `dh_in = dh + carry` (the product from the
/// step after, plus what bypassed it), and `dhp`, its part through this step's output
/// (`dh_in + dy`, zero on an invalid row).
#[cube]
fn state_grad<F: Float>(
    dh: &Tensor<F>,
    carry: &mut Tensor<F>,
    dy: &Tensor<F>,
    lengths: &Tensor<F>,
    s: &Step,
    b: usize,
    j: usize,
) -> (F, F, bool) {
    let ci = ixm::<F>(carry, b, j);
    let dh_in = at2::<F>(dh, b, j) + carry[ci];
    let ok = valid::<F>(lengths, s.t, b);
    let mut dhp = F::new(0.0);
    if ok {
        dhp = dh_in + dy[row_of(s, b) * s.units as usize + j];
    }
    (dh_in, dhp, ok)
}

/// Projected LSTM backward, first half, over `B × P`: `dhp` into `d_proj` (`[B, P]`, for
/// `dm = dhp · W_hr`) and into `d_proj_all` (one row per `(t, b)`, for `dW_hr`); `carry` keeps
/// `dh_in` on invalid rows.
#[cube(launch)]
#[allow(clippy::too_many_arguments)]
pub fn commit_backward<F: Float>(
    dh: &Tensor<F>,
    dy: &Tensor<F>,
    lengths: &Tensor<F>,
    carry: &mut Tensor<F>,
    d_proj: &mut Tensor<F>,
    d_proj_all: &mut Tensor<F>,
    s: Step,
    #[define(F)] _dtype: ElemType,
) {
    let p = s.units as usize;
    let (b, k, row) = place(&s);
    let (dh_in, dhp, ok) = state_grad::<F>(dh, carry, dy, lengths, &s, b, k);
    let pi = ixm::<F>(d_proj, b, k);
    d_proj[pi] = dhp;
    d_proj_all[row * p + k] = dhp;
    set_carry::<F>(carry, b, k, ok, dh_in, F::new(0.0));
}

/// LSTM backward step over `B × H`: the gate gradients into `d_xp` (its row) and `da` (`[B, 4H]`,
/// for the state gradient's matmul with `W_hh`); `dc` updated in place. Unprojected, `dm` is
/// `dhp` ([`state_grad`], and `carry` keeps `dh_in` on invalid rows); projected, `dm` is read
/// from `dm` (`[B, H]`) and [`commit_backward`] has done the carry.
#[cube(launch)]
#[allow(clippy::too_many_arguments)]
pub fn lstm_backward<F: Float>(
    saved: &Tensor<F>,
    dh: &Tensor<F>,
    dm_in: &Tensor<F>,
    dy: &Tensor<F>,
    lengths: &Tensor<F>,
    carry: &mut Tensor<F>,
    dc: &mut Tensor<F>,
    d_xp: &mut Tensor<F>,
    da: &mut Tensor<F>,
    s: Step,
    #[comptime] proj: bool,
    #[define(F)] _dtype: ElemType,
) {
    let hd = s.units as usize;
    let (b, j, row) = place(&s);
    // Projected: `dm_in`; else a placeholder the branch below replaces.
    let mut dm = at2::<F>(dm_in, b, j);
    let mut ok = valid::<F>(lengths, s.t, b);
    if !proj {
        let (dh_in, dhp, v) = state_grad::<F>(dh, carry, dy, lengths, &s, b, j);
        dm = dhp;
        ok = v;
        set_carry::<F>(carry, b, j, v, dh_in, F::new(0.0));
    }
    let o_s = row * s.width as usize;
    let i = saved[o_s + j];
    let f = saved[o_s + hd + j];
    let g = saved[o_s + 2 * hd + j];
    let o = saved[o_s + 3 * hd + j];
    let c_prev = saved[o_s + 4 * hd + j];
    let tc = saved[o_s + 5 * hd + j];
    let one = F::new(1.0);
    let dci = ixm::<F>(dc, b, j);
    let dc_in = dc[dci];
    let mut dc_tot = dm * o * (one - tc * tc);
    if ok {
        dc_tot += dc_in;
    }
    let x = row * 4 * hd;
    let di = dc_tot * g * i * (one - i);
    let df = dc_tot * c_prev * f * (one - f);
    let dg = dc_tot * i * (one - g * g);
    let d_o = dm * tc * o * (one - o);
    d_xp[x + j] = di;
    d_xp[x + hd + j] = df;
    d_xp[x + 2 * hd + j] = dg;
    d_xp[x + 3 * hd + j] = d_o;
    let at_di = ixm::<F>(da, b, j);
    da[at_di] = di;
    let at_df = ixm::<F>(da, b, hd + j);
    da[at_df] = df;
    let at_dg = ixm::<F>(da, b, 2 * hd + j);
    da[at_dg] = dg;
    let at_d_o = ixm::<F>(da, b, 3 * hd + j);
    da[at_d_o] = d_o;
    let mut dc_out = dc_in;
    if ok {
        dc_out = dc_tot * f;
    }
    dc[dci] = dc_out;
}

/// GRU backward step over `B × H`: `d_xp`'s row gets `[dr, dz, dn]` (pre-activation), `d_rec`'s
/// row and `da` (`[B, 3H]`) get `[dr, dz, dn · r]` (the gradient of `W_hh h`); `carry` gets the
/// direct path `dhp · z` (or `dh_in` on an invalid row).
#[cube(launch)]
#[allow(clippy::too_many_arguments)]
pub fn gru_backward<F: Float>(
    saved: &Tensor<F>,
    dh: &Tensor<F>,
    dy: &Tensor<F>,
    lengths: &Tensor<F>,
    carry: &mut Tensor<F>,
    d_xp: &mut Tensor<F>,
    d_rec: &mut Tensor<F>,
    da: &mut Tensor<F>,
    s: Step,
    #[define(F)] _dtype: ElemType,
) {
    let hd = s.units as usize;
    let (b, j, row) = place(&s);
    let (dh_in, dhp, ok) = state_grad::<F>(dh, carry, dy, lengths, &s, b, j);
    let o_s = row * s.width as usize;
    let r = saved[o_s + j];
    let z = saved[o_s + hd + j];
    let n = saved[o_s + 2 * hd + j];
    let hn = saved[o_s + 3 * hd + j];
    let h_prev = saved[o_s + 4 * hd + j];
    let one = F::new(1.0);
    let dan = dhp * (one - z) * (one - n * n);
    let dar = dan * hn * r * (one - r);
    let daz = dhp * (h_prev - n) * z * (one - z);
    let dhn = dan * r;
    let x = row * 3 * hd;
    d_xp[x + j] = dar;
    d_xp[x + hd + j] = daz;
    d_xp[x + 2 * hd + j] = dan;
    d_rec[x + j] = dar;
    d_rec[x + hd + j] = daz;
    d_rec[x + 2 * hd + j] = dhn;
    let at_dar = ixm::<F>(da, b, j);
    da[at_dar] = dar;
    let at_daz = ixm::<F>(da, b, hd + j);
    da[at_daz] = daz;
    let at_dhn = ixm::<F>(da, b, 2 * hd + j);
    da[at_dhn] = dhn;
    set_carry::<F>(carry, b, j, ok, dh_in, dhp * z);
}

/// Elman RNN backward step over `B × H`: `da = dhp · tanh'` (or relu's `0/1` from the output's
/// sign, 0 at 0 like PyTorch) into `d_xp`'s row and `da` (`[B, H]`).
#[cube(launch)]
#[allow(clippy::too_many_arguments)]
pub fn rnn_backward<F: Float>(
    saved: &Tensor<F>,
    dh: &Tensor<F>,
    dy: &Tensor<F>,
    lengths: &Tensor<F>,
    carry: &mut Tensor<F>,
    d_xp: &mut Tensor<F>,
    da: &mut Tensor<F>,
    s: Step,
    #[comptime] relu: bool,
    #[define(F)] _dtype: ElemType,
) {
    let hd = s.units as usize;
    let (b, j, row) = place(&s);
    let (dh_in, dhp, ok) = state_grad::<F>(dh, carry, dy, lengths, &s, b, j);
    let h_new = saved[row * s.width as usize + j];
    let mut deriv = F::new(1.0) - h_new * h_new;
    if relu {
        deriv = F::new(0.0);
        if h_new > F::new(0.0) {
            deriv = F::new(1.0);
        }
    }
    let g = dhp * deriv;
    d_xp[row * hd + j] = g;
    let ai = ixm::<F>(da, b, j);
    da[ai] = g;
    set_carry::<F>(carry, b, j, ok, dh_in, F::new(0.0));
}

/// sLSTM backward step over `B × H` (the maths of `generic.rs`): the gate gradients into
/// `d_xp` (its row) and `da` (`[B, 4H]`); the state gradient `dc` (`[B, 3H]`, `[dc | dn | dm]`)
/// updated in place; `carry` keeps `dh_in` on invalid rows.
#[cube(launch)]
#[allow(clippy::too_many_arguments)]
pub fn slstm_backward<F: Float>(
    saved: &Tensor<F>,
    dh: &Tensor<F>,
    dy: &Tensor<F>,
    lengths: &Tensor<F>,
    carry: &mut Tensor<F>,
    dc: &mut Tensor<F>,
    d_xp: &mut Tensor<F>,
    da: &mut Tensor<F>,
    s: Step,
    #[define(F)] _dtype: ElemType,
) {
    let hd = s.units as usize;
    let (b, j, row) = place(&s);
    let (dh_in, g, ok) = state_grad::<F>(dh, carry, dy, lengths, &s, b, j);
    set_carry::<F>(carry, b, j, ok, dh_in, F::new(0.0));
    let one = F::new(1.0);
    let o_s = row * s.width as usize;
    let i = saved[o_s + j];
    let f = saved[o_s + hd + j];
    let z = saved[o_s + 2 * hd + j];
    let o = saved[o_s + 3 * hd + j];
    let sf = saved[o_s + 4 * hd + j];
    let won = saved[o_s + 5 * hd + j];
    let c_prev = saved[o_s + 6 * hd + j];
    let n_prev = saved[o_s + 7 * hd + j];
    let c_new = saved[o_s + 8 * hd + j];
    let n_new = saved[o_s + 9 * hd + j];
    let dci = ixm::<F>(dc, b, j);
    let dni = ixm::<F>(dc, b, hd + j);
    let dmi = ixm::<F>(dc, b, 2 * hd + j);
    let (dc_in, dn_in, dm_in) = (dc[dci], dc[dni], dc[dmi]);
    let (mut dc_v, mut dn_v, mut dm_v) = (F::new(0.0), F::new(0.0), F::new(0.0));
    if ok {
        dc_v = dc_in;
        dn_v = dn_in;
        dm_v = dm_in;
    }
    let inv = one / n_new;
    let ht = c_new * inv;
    let d_o = g * ht * o * (one - o);
    let dct = dc_v + g * o * inv;
    let dnt = dn_v - g * o * ht * inv;
    // Gradients of ln i' and ln f', and what reaches the new stabiliser.
    let ai = (dct * z + dnt) * i;
    let bf = (dct * c_prev + dnt * n_prev) * f;
    let dmt = dm_v - ai - bf;
    let di = ai + won * dmt;
    let dlf = bf + (one - won) * dmt;
    let df = dlf * (one - sf);
    let dz = dct * i * (one - z * z);
    let x = row * 4 * hd;
    d_xp[x + j] = di;
    d_xp[x + hd + j] = df;
    d_xp[x + 2 * hd + j] = dz;
    d_xp[x + 3 * hd + j] = d_o;
    let at_di = ixm::<F>(da, b, j);
    da[at_di] = di;
    let at_df = ixm::<F>(da, b, hd + j);
    da[at_df] = df;
    let at_dz = ixm::<F>(da, b, 2 * hd + j);
    da[at_dz] = dz;
    let at_d_o = ixm::<F>(da, b, 3 * hd + j);
    da[at_d_o] = d_o;
    let (mut dc_out, mut dn_out, mut dm_out) = (dc_in, dn_in, dm_in);
    if ok {
        dc_out = dct * f;
        dn_out = dnt * f;
        dm_out = dlf;
    }
    dc[dci] = dc_out;
    dc[dni] = dn_out;
    dc[dmi] = dm_out;
}
