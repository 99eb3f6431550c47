//! The native backward through time: per step the fused gate-gradient pass split by hidden
//! units, then the previous state's gradient split by its columns; `dW_hh` and `dW_hr` as one
//! large product over all steps at the end. A batch-split call runs this on each half of the
//! batch, a core each (`mod.rs`).

use super::gemm::{View, matmul};
use super::kernels;
use super::parts::{Shared, Team, one_core_each, pack_parts, parts, product, with_team};
use super::small_gemm::Start;
use super::{Dims, Weights, order};
use crate::op::{OpCell, SavedLayout, ScanSpec};

pub(super) struct Backward {
    pub d_xp: Vec<f32>,
    pub rest: Grads,
}

/// Every gradient of a call but `d_xp`.
pub(super) struct Grads {
    pub d_w_hh: Vec<f32>,
    pub d_b_hn: Vec<f32>,
    pub d_w_hr: Option<Vec<f32>>,
    pub dh: Vec<f32>,
    pub dc: Option<Vec<f32>>,
}

/// The gradients of one call; a `split_batch` call runs as two calls on the halves of the
/// batch, a core each, whose weight gradients are summed.
#[allow(clippy::too_many_arguments)]
pub(super) fn backward(
    dims: &Dims,
    spec: &ScanSpec,
    w: Weights<'_>,
    saved: &[f32],
    dy: &[f32],
    dh_n: &[f32],
    dc_n: Option<&[f32]>,
) -> Backward {
    let (time, hidden, d_out) = (dims.time, dims.hidden, dims.d_out);
    let gh = spec.cell.gates() * hidden;
    let mut d_xp = vec![0.0f32; time * dims.batch * gh];
    if !dims.split_batch {
        let rest = run(dims, spec, &w, saved, dy, dh_n, dc_n, &mut d_xp);
        return Backward { d_xp, rest };
    }
    let width = SavedLayout::new(spec.cell, hidden, d_out, w.w_hr.is_some()).width();
    let (mid, [(d0, s0), (d1, s1)]) = dims.halves(spec);
    let (sv0, sv1) = saved.split_at(mid * time * width);
    let (dy0, dy1) = dy.split_at(mid * time * d_out);
    let (dh0, dh1) = dh_n.split_at(mid * d_out);
    let (dc0, dc1) = dc_n.map(|c| c.split_at(mid * dims.c_width)).unzip();
    let (dx0, dx1) = d_xp.split_at_mut(mid * time * gh);
    let w = &w;
    let (a, b) = one_core_each(
        || run(&d0, &s0, w, sv0, dy0, dh0, dc0, dx0),
        || run(&d1, &s1, w, sv1, dy1, dh1, dc1, dx1),
    );
    let sum = |mut x: Vec<f32>, y: Vec<f32>| {
        x.iter_mut().zip(y).for_each(|(x, y)| *x += y);
        x
    };
    let rest = Grads {
        d_w_hh: sum(a.d_w_hh, b.d_w_hh),
        d_b_hn: sum(a.d_b_hn, b.d_b_hn),
        d_w_hr: a.d_w_hr.zip(b.d_w_hr).map(|(x, y)| sum(x, y)),
        dh: [a.dh, b.dh].concat(),
        dc: a.dc.zip(b.dc).map(|(x, y)| [x, y].concat()),
    };
    Backward { d_xp, rest }
}

#[allow(clippy::too_many_arguments)]
fn run(
    dims: &Dims,
    spec: &ScanSpec,
    w: &Weights<'_>,
    saved: &[f32],
    dy: &[f32],
    dh_n: &[f32],
    dc_n: Option<&[f32]>,
    d_xp: &mut [f32],
) -> Grads {
    let &Dims {
        time,
        batch,
        hidden,
        d_out,
        ..
    } = dims;
    let gates = spec.cell.gates();
    let gh = gates * hidden;
    let gru = spec.cell == OpCell::Gru;
    let layout = SavedLayout::new(spec.cell, hidden, d_out, w.w_hr.is_some());
    let width = layout.width();
    let rows = time * batch;
    let parallel = dims.split_units;
    // Packed once: `W_hh` (`[G·H, H_out]`) per part of `H_out`, `W_hr` (`[P, H]`) per part of
    // the units.
    let units = parts(hidden, parallel);
    let out_parts = parts(d_out, parallel);
    let w_hh_p = pack_parts(w.w_hh, d_out, 1, gh, 0, &out_parts);
    let w_hr_p = w
        .w_hr
        .map(|w_hr| pack_parts(w_hr, hidden, 1, d_out, 0, &units));
    let mut dh = dh_n.to_vec();
    let mut dh_next = vec![0.0f32; batch * d_out];
    let mut dc = dc_n.map_or_else(Vec::new, <[f32]>::to_vec);
    // GRU: the gradient of `W_hh h` differs from that of `xp` in the `n` block.
    let mut d_rec = vec![0.0f32; if gru { rows * gh } else { 0 }];
    // Projected LSTM: every step's gradient of the projected state, for `dW_hr`.
    let mut d_proj = vec![0.0f32; if w.w_hr.is_some() { rows * d_out } else { 0 }];
    let mut dhp = vec![0.0f32; batch * d_out];
    let mut dm = vec![0.0f32; if w.w_hr.is_some() { batch * hidden } else { 0 }];
    let mut direct = vec![0.0f32; if gru { batch * hidden } else { 0 }];
    with_team(parallel, |team: &Team<'_>| {
        for t in order(time, !spec.reverse) {
            for b in 0..batch {
                let out = &mut dhp[b * d_out..][..d_out];
                if spec.valid(t, b) {
                    let d = &dh[b * d_out..][..d_out];
                    let g = &dy[dims.row(t, b) * d_out..][..d_out];
                    for ((o, d), g) in out.iter_mut().zip(d).zip(g) {
                        *o = d + g;
                    }
                } else {
                    out.fill(0.0);
                }
            }
            if w.w_hr.is_some() {
                for (b, d) in dhp.chunks_exact(d_out).enumerate() {
                    d_proj[dims.row(t, b) * d_out..][..d_out].copy_from_slice(d);
                }
            }
            let d_xp_s = Shared::new(d_xp);
            let d_rec_s = Shared::new(&mut d_rec);
            let dc_s = Shared::new(&mut dc);
            let dm_s = Shared::new(&mut dm);
            let direct_s = Shared::new(&mut direct);
            let dhp_ref = &dhp;
            team.run_parts(&units, |part, units| {
                let (u0, len) = (units.start, units.len());
                if let Some(w_hr) = &w_hr_p {
                    product(
                        batch,
                        len,
                        d_out,
                        dhp_ref,
                        0,
                        d_out,
                        &w_hr[part],
                        &dm_s,
                        u0,
                        hidden,
                        Start::Zero,
                    );
                }
                for b in 0..batch {
                    if !spec.valid(t, b) {
                        continue;
                    }
                    let row = &saved[dims.row(t, b) * width..][..width];
                    let cols = |offset: usize| &row[offset + u0..][..len];
                    let at = dims.row(t, b) * gh + u0;
                    // SAFETY (all `at` calls below): this half's units of one row of each buffer.
                    unsafe {
                        let dcell: &[f32] = if layout.proj {
                            dm_s.at(b * hidden + u0, len)
                        } else {
                            &dhp_ref[b * d_out + u0..][..len]
                        };
                        let da_g = |g: usize| d_xp_s.at(at + g * hidden, len);
                        match spec.cell {
                            OpCell::Lstm => kernels::lstm_backward(
                                [0, 1, 2, 3].map(|g| cols(g * hidden)),
                                cols(layout.aux()),
                                cols(layout.tanh_c()),
                                dcell,
                                dc_s.at(b * hidden + u0, len),
                                [0, 1, 2, 3].map(da_g),
                            ),
                            OpCell::Slstm => {
                                let (cw, states) = (dims.c_width, layout.slstm_states());
                                kernels::slstm_backward(
                                    [0, 1, 2, 3].map(|g| cols(g * hidden)),
                                    cols(layout.aux()),
                                    cols(layout.slstm_won()),
                                    [0, 1, 2, 3].map(|k| cols(states + k * hidden)),
                                    dcell,
                                    [0, 1, 2].map(|k| dc_s.at(b * cw + k * hidden + u0, len)),
                                    [0, 1, 2, 3].map(da_g),
                                )
                            }
                            OpCell::Gru => kernels::gru_backward(
                                [0, 1, 2].map(|g| cols(g * hidden)),
                                cols(layout.aux()),
                                cols(layout.h_prev()),
                                dcell,
                                [0, 1, 2].map(da_g),
                                [0, 1, 2].map(|g| d_rec_s.at(at + g * hidden, len)),
                                direct_s.at(b * hidden + u0, len),
                            ),
                            OpCell::RnnTanh | OpCell::RnnRelu => kernels::rnn_backward(
                                cols(0),
                                dcell,
                                spec.cell == OpCell::RnnRelu,
                                da_g(0),
                            ),
                        }
                    }
                }
            });
            // The previous state's gradient `da · W_hh` (plus what bypasses `W_hh`), split over
            // its columns; a row that skipped this step passes its gradient through.
            let rec_grad: &[f32] = if gru { &d_rec } else { d_xp };
            let next_s = Shared::new(&mut dh_next);
            let (dh_ref, direct_ref) = (&dh, &direct);
            team.run_parts(&out_parts, |part, cols| {
                let (o0, len) = (cols.start, cols.len());
                for b in 0..batch {
                    // SAFETY: this half's columns of one row.
                    let dst = unsafe { next_s.at(b * d_out + o0, len) };
                    if !spec.valid(t, b) {
                        dst.copy_from_slice(&dh_ref[b * d_out + o0..][..len]);
                    } else if gru {
                        dst.copy_from_slice(&direct_ref[b * hidden + o0..][..len]);
                    } else {
                        dst.fill(0.0);
                    }
                }
                let w = &w_hh_p[part];
                product(
                    batch,
                    len,
                    gh,
                    rec_grad,
                    dims.row(t, 0) * gh,
                    dims.b_stride() * gh,
                    w,
                    &next_s,
                    o0,
                    d_out,
                    Start::Accumulate,
                );
            });
            std::mem::swap(&mut dh, &mut dh_next);
        }
    });
    let d_rec_all: &[f32] = if gru { &d_rec } else { d_xp };
    let mut d_w_hh = vec![0.0f32; gh * d_out];
    matmul(
        gh,
        d_out,
        rows,
        &mut d_w_hh,
        0,
        d_out,
        false,
        View::rows(d_rec_all, 0, gh).t(),
        View::rows(saved, layout.h_prev(), width),
    );
    let mut d_b_hn = Vec::new();
    if gru {
        d_b_hn = vec![0.0f32; hidden];
        for row in d_rec.chunks_exact(gh) {
            for (acc, v) in d_b_hn.iter_mut().zip(&row[2 * hidden..]) {
                *acc += v;
            }
        }
    }
    let d_w_hr = w.w_hr.map(|_| {
        let mut d = vec![0.0f32; d_out * hidden];
        matmul(
            d_out,
            hidden,
            rows,
            &mut d,
            0,
            hidden,
            false,
            View::rows(&d_proj, 0, d_out).t(),
            View::rows(saved, layout.m(), width),
        );
        d
    });
    Grads {
        d_w_hh,
        d_b_hn,
        d_w_hr,
        dh,
        dc: dc_n.map(|_| dc),
    }
}
