//! The native forward: per step the recurrent product and the fused gate pass, split by
//! hidden units over both cores, then (projected LSTM) the projection split by its columns.

use super::kernels;
use super::parts::{PARALLEL_WORK, Shared, Team, pack_parts, parts, product, with_team};
use super::{Dims, Weights, order};
use crate::op::{OpCell, SavedLayout, ScanSpec};

pub(super) struct Forward {
    pub y: Vec<f32>,
    pub h: Vec<f32>,
    pub c: Option<Vec<f32>>,
    pub saved: Option<Vec<f32>>,
}

pub(super) fn forward(
    dims: &Dims,
    spec: &ScanSpec,
    w: Weights<'_>,
    xp: &[f32],
    h0: &[f32],
    c0: Option<&[f32]>,
) -> Forward {
    let &Dims {
        time,
        batch,
        hidden,
        d_out,
    } = dims;
    let gates = spec.cell.gates();
    let gh = gates * hidden;
    let layout = SavedLayout::new(spec.cell, hidden, d_out, w.w_hr.is_some());
    let width = layout.width();
    let parallel = batch * gh * d_out >= PARALLEL_WORK;
    // The per-step products' weights, packed once: `W_hhᵀ` (`[H_out, G·H]`, `(p, j)` at
    // `w_hh[j·H_out + p]`) per gate and part of the units, `W_hrᵀ` per part of `P`.
    let units = parts(hidden, parallel);
    let w_hh_t: Vec<Vec<Vec<f32>>> = (0..gates)
        .map(|g| pack_parts(w.w_hh, 1, d_out, d_out, g * hidden, &units))
        .collect();
    let proj_parts = parts(d_out, parallel);
    let w_hr_t = w
        .w_hr
        .map(|w_hr| pack_parts(w_hr, 1, hidden, hidden, 0, &proj_parts));
    let mut h_cur = h0.to_vec();
    let mut h_next = vec![0.0f32; batch * d_out];
    let mut c = c0.map_or_else(Vec::new, <[f32]>::to_vec);
    let mut y = vec![0.0f32; time * batch * d_out];
    // Saved rows of all steps, or of the current step only when nothing is saved.
    let mut saved = vec![0.0f32; if spec.save { time } else { 1 } * batch * width];
    let mut rec = vec![0.0f32; batch * gh];
    let mut scratch = vec![0.0f32; batch * hidden];
    let mut proj = vec![0.0f32; if w.w_hr.is_some() { batch * d_out } else { 0 }];
    let zeros = vec![0.0f32; hidden];
    let b_hn = w.b_hn.unwrap_or(&zeros);
    with_team(parallel, |team: &Team<'_>| {
        for t in order(time, spec.reverse) {
            let base = if spec.save { t * batch * width } else { 0 };
            let rec_s = Shared::new(&mut rec);
            let saved_s = Shared::new(&mut saved);
            let y_s = Shared::new(&mut y);
            let next_s = Shared::new(&mut h_next);
            let c_s = Shared::new(&mut c);
            let scratch_s = Shared::new(&mut scratch);
            let h_cur_ref = &h_cur;
            team.run_parts(&units, |part, units| {
                let (u0, len) = (units.start, units.len());
                for (g, packed) in w_hh_t.iter().enumerate() {
                    let col = g * hidden + u0;
                    product(
                        batch,
                        len,
                        d_out,
                        h_cur_ref,
                        0,
                        d_out,
                        &packed[part],
                        &rec_s,
                        col,
                        gh,
                        false,
                    );
                }
                for b in 0..batch {
                    let valid = spec.valid(t, b);
                    let x = &xp[(t * batch + b) * gh..][..gh];
                    let row = base + b * width;
                    let y_at = (t * batch + b) * d_out + u0;
                    // SAFETY (all `at` calls below): each names this half's units of one row, which
                    // the other half never touches; the ranges within one call are disjoint.
                    unsafe {
                        let rec_g = |g: usize| &*rec_s.at(b * gh + g * hidden + u0, len);
                        let x_g = |g: usize| &x[g * hidden + u0..][..len];
                        let saved_g = |g: usize| saved_s.at(row + g * hidden + u0, len);
                        // Where the cell output goes: the output row, or scratch for a row past
                        // its length (whose output stays zero).
                        // (Only without a projection, where the output has the `H` units.)
                        let out = || {
                            if valid {
                                y_s.at(y_at, len)
                            } else {
                                scratch_s.at(b * hidden + u0, len)
                            }
                        };
                        match spec.cell {
                            OpCell::Lstm => {
                                let m = if layout.proj {
                                    saved_s.at(row + layout.m() + u0, len)
                                } else {
                                    out()
                                };
                                kernels::lstm_forward(
                                    [0, 1, 2, 3].map(x_g),
                                    [0, 1, 2, 3].map(rec_g),
                                    valid,
                                    c_s.at(b * hidden + u0, len),
                                    [0, 1, 2, 3].map(saved_g),
                                    saved_s.at(row + layout.aux() + u0, len),
                                    saved_s.at(row + layout.tanh_c() + u0, len),
                                    m,
                                );
                            }
                            OpCell::Gru => kernels::gru_forward(
                                [0, 1, 2].map(x_g),
                                [0, 1, 2].map(rec_g),
                                &b_hn[u0..][..len],
                                &h_cur_ref[b * d_out + u0..][..len],
                                [0, 1, 2].map(saved_g),
                                saved_s.at(row + layout.aux() + u0, len),
                                out(),
                            ),
                            OpCell::RnnTanh | OpCell::RnnRelu => {
                                let out = out();
                                kernels::rnn_forward(
                                    x_g(0),
                                    rec_g(0),
                                    spec.cell == OpCell::RnnRelu,
                                    out,
                                );
                                saved_s.at(row + u0, len).copy_from_slice(out);
                            }
                        }
                        if !layout.proj {
                            let prev = &h_cur_ref[b * d_out + u0..][..len];
                            saved_s
                                .at(row + layout.h_prev() + u0, len)
                                .copy_from_slice(prev);
                            let next = next_s.at(b * d_out + u0, len);
                            if valid {
                                next.copy_from_slice(y_s.at(y_at, len));
                            } else {
                                next.copy_from_slice(prev);
                            }
                        }
                    }
                }
            });
            if let Some(w_hr_t) = &w_hr_t {
                // The projected state `m · W_hrᵀ`, split over its `P` columns.
                let proj_s = Shared::new(&mut proj);
                let saved_ref = &saved;
                team.run_parts(&proj_parts, |part, cols| {
                    let (p0, len) = (cols.start, cols.len());
                    let w = &w_hr_t[part];
                    product(
                        batch,
                        len,
                        hidden,
                        saved_ref,
                        base + layout.m(),
                        width,
                        w,
                        &proj_s,
                        p0,
                        d_out,
                        false,
                    );
                    for b in 0..batch {
                        let row = base + b * width;
                        let prev = &h_cur_ref[b * d_out + p0..][..len];
                        // SAFETY: this half's columns of one row of each buffer.
                        unsafe {
                            saved_s
                                .at(row + layout.h_prev() + p0, len)
                                .copy_from_slice(prev);
                            let next = next_s.at(b * d_out + p0, len);
                            if spec.valid(t, b) {
                                let new = proj_s.at(b * d_out + p0, len);
                                next.copy_from_slice(new);
                                y_s.at((t * batch + b) * d_out + p0, len)
                                    .copy_from_slice(new);
                            } else {
                                next.copy_from_slice(prev);
                            }
                        }
                    }
                });
            }
            std::mem::swap(&mut h_cur, &mut h_next);
        }
    });
    Forward {
        y,
        h: h_cur,
        c: c0.map(|_| c),
        saved: spec.save.then_some(saved),
    }
}
