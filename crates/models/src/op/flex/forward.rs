//! The native forward: per step the recurrent product and the fused gate pass, then (projected
//! LSTM) the projection; both cores share a call by halves of the batch or, per step, by
//! hidden units and projection columns (`mod.rs`).
//!
//! (Over 400 lines: the two ways both cores share a step, by batch and by units, are one loop with
//! two schedules, and the input is projected in it step by step or before it for all steps;
//! apart they would repeat it.)

use super::cache::with_scratch;
use super::kernels;
use super::parts::{Shared, Team, one_core_each, pack_parts, parts, product, with_team};
use super::small_gemm::Start;
use super::{Dims, Weights, order};
use crate::op::{OpCell, SavedLayout, ScanSpec};

pub(super) struct Forward {
    pub y: Vec<f32>,
    pub h: Vec<f32>,
    pub c: Option<Vec<f32>>,
    pub saved: Option<Vec<f32>>,
}

/// The input of a call: its projection `xp` (`[·, ·, G·H]`), or the rows `x` (`[·, ·, d_in]`) that
/// the call projects itself (`x · W_ihᵀ + bias`, step by step or before the first step: see
/// [`per_step`]).
#[derive(Clone, Copy)]
pub(super) enum Xp<'a> {
    Given(&'a [f32]),
    Project {
        x: &'a [f32],
        d_in: usize,
        bias: Option<&'a [f32]>,
    },
}

impl<'a> Xp<'a> {
    /// The input of rows `..mid` and of rows `mid..` (`rows` rows of `gh` floats in `xp`).
    fn split_at(self, rows: usize, gh: usize) -> (Self, Self) {
        match self {
            Xp::Given(xp) => {
                let (a, b) = xp.split_at(rows * gh);
                (Xp::Given(a), Xp::Given(b))
            }
            Xp::Project { x, d_in, bias } => {
                let (a, b) = x.split_at(rows * d_in);
                (
                    Xp::Project { x: a, d_in, bias },
                    Xp::Project { x: b, d_in, bias },
                )
            }
        }
    }
}

/// The products' weights, packed for the split of one call: `W_hhᵀ` (`[H_out, G·H]`, `(p, j)`
/// at `w_hh[j·H_out + p]`) and, where the call projects its input, `W_ihᵀ` per gate and part of
/// the units; `W_hrᵀ` per part of `P`.
pub(super) struct Packed {
    w_hh_t: Vec<Vec<Vec<f32>>>,
    w_ih_t: Option<Vec<Vec<Vec<f32>>>>,
    w_hr_t: Option<Vec<Vec<f32>>>,
}

/// Packs the weights of a call of these sizes (split by units where its steps are).
pub(super) fn pack(dims: &Dims, cell: OpCell, w: &Weights<'_>) -> Packed {
    let (hidden, d_out) = (dims.hidden, dims.d_out);
    let parallel = dims.split_units;
    let units = parts(hidden, parallel);
    let proj_parts = parts(d_out, parallel);
    let gh = cell.gates() * hidden;
    Packed {
        w_hh_t: (0..cell.gates())
            .map(|g| pack_parts(w.w_hh, 1, d_out, d_out, g * hidden, &units))
            .collect(),
        w_ih_t: w.w_ih.map(|w_ih| {
            let d_in = w_ih.len() / gh;
            (0..cell.gates())
                .map(|g| pack_parts(w_ih, 1, d_in, d_in, g * hidden, &units))
                .collect()
        }),
        w_hr_t: w
            .w_hr
            .map(|w_hr| pack_parts(w_hr, 1, hidden, hidden, 0, &proj_parts)),
    }
}

/// The forward of one call, with its weights `packed` by [`pack`].
#[allow(clippy::too_many_arguments)]
pub(super) fn forward(
    dims: &Dims,
    spec: &ScanSpec,
    w: Weights<'_>,
    packed: &Packed,
    xp: Xp<'_>,
    h0: &[f32],
    c0: Option<&[f32]>,
) -> Forward {
    let (time, hidden, d_out) = (dims.time, dims.hidden, dims.d_out);
    let gh = spec.cell.gates() * hidden;
    let width = SavedLayout::new(spec.cell, hidden, d_out, w.w_hr.is_some()).width();
    let mut y = vec![0.0f32; time * dims.batch * d_out];
    let mut saved = spec.save.then(|| vec![0.0f32; time * dims.batch * width]);
    // The call's internal buffers come from this thread's scratch pool, also for the half that
    // runs on the helper thread (one pool holds them, whichever thread runs a half): the
    // projected input (where the call projects it), the step's recurrent product, and the
    // step's activations when nothing is saved.
    let batch = dims.batch;
    let xp_len = match xp {
        Xp::Given(_) => 0,
        Xp::Project { d_in, .. } if per_step(dims, d_in, gh) => batch * gh,
        Xp::Project { .. } => time * batch * gh,
    };
    let step_len = if spec.save { 0 } else { batch * width };
    with_scratch(xp_len, |xp_buf| {
        with_scratch(batch * gh, |rec| {
            with_scratch(step_len, |step| {
                let bufs = Bufs { xp_buf, rec, step };
                let (h, c) = if dims.split_batch {
                    // Two calls on the halves of the batch, whose rows are contiguous in every
                    // buffer.
                    let (mid, [(d0, s0), (d1, s1)]) = dims.halves(spec);
                    let (y0, y1) = y.split_at_mut(mid * time * d_out);
                    let (v0, v1) = match saved.as_deref_mut() {
                        Some(s) => {
                            let (a, b) = s.split_at_mut(mid * time * width);
                            (Some(a), Some(b))
                        }
                        None => (None, None),
                    };
                    let (x0, x1) = xp.split_at(mid * time, gh);
                    let (b0, b1) = bufs.split(mid, xp_buf_row(dims, xp, gh), gh, width);
                    let (h00, h01) = h0.split_at(mid * d_out);
                    let (c00, c01) = c0.map(|c| c.split_at(mid * dims.c_width)).unzip();
                    let w = &w;
                    let ((h_a, c_a), (h_b, c_b)) = one_core_each(
                        || run(&d0, &s0, w, packed, x0, h00, c00, b0, v0, y0),
                        || run(&d1, &s1, w, packed, x1, h01, c01, b1, v1, y1),
                    );
                    (
                        [h_a, h_b].concat(),
                        c_a.zip(c_b).map(|(a, b)| [a, b].concat()),
                    )
                } else {
                    let v = saved.as_deref_mut();
                    run(dims, spec, &w, packed, xp, h0, c0, bufs, v, &mut y)
                };
                Forward { y, h, c, saved }
            })
        })
    })
}

/// Whether a call that projects its input does so step by step, into a `[B, G·H]` buffer that
/// stays in the core's cache, rather than for all steps at once (`T·B·G·H` floats written to
/// memory and read back: 26 MB for the sentiment LSTM). Step by step, each step reads the
/// core's `W_ihᵀ` again, which pays while it stays in cache beside `W_hhᵀ`; the projection of
/// all steps at once reads each block of `W_ihᵀ` once per 128 KiB of rows.
///
/// Measured on a Zen 4 (1 MiB of L2 a core), forwards, min of 25 calls alternating with the
/// projection of all steps (BENCHMARKS.md): sentiment LSTM 19.8 against 24.3 ms (avx512) and
/// 21.0 against 29.3 ms (avx2), BiLSTM 37.1 against 43.9 ms, charlm (whose second layer's
/// `W_ihᵀ` is 1 MiB) 29.4 against 30.8 ms. The bigger LSTM (4 MiB, from L3 every step) was
/// slower step by step in two A/Bs on avx2 (96.2 against 80.4 ms, 99.9 against 94.9 ms) and
/// level on avx512, so it keeps the whole-sequence projection.
fn per_step(dims: &Dims, d_in: usize, gh: usize) -> bool {
    let share = if dims.split_units { gh.div_ceil(2) } else { gh };
    d_in * share * size_of::<f32>() <= PER_STEP_W_IH
}

/// The largest share of `W_ihᵀ` (bytes) a core reads every step (see [`per_step`]).
const PER_STEP_W_IH: usize = 1 << 20;

/// Floats per batch row of a call's projected-input buffer (see [`Bufs::xp_buf`]).
fn xp_buf_row(dims: &Dims, xp: Xp<'_>, gh: usize) -> usize {
    match xp {
        Xp::Given(_) => 0,
        Xp::Project { d_in, .. } if per_step(dims, d_in, gh) => gh,
        Xp::Project { .. } => dims.time * gh,
    }
}

/// The internal buffers of one call (see [`forward`]); their contents on entry are whatever
/// an earlier call left.
struct Bufs<'a> {
    /// The projected input where the call projects it (else empty): `[B, G·H]`, the step's, or
    /// `[·, ·, G·H]`, all steps' (see [`per_step`]).
    xp_buf: &'a mut [f32],
    /// `[B, G·H]`: the step's recurrent product.
    rec: &'a mut [f32],
    /// `[B, S]`: the step's activations, where nothing is saved (else empty).
    step: &'a mut [f32],
}

impl<'a> Bufs<'a> {
    /// The buffers of rows `..mid` and of rows `mid..`: `xp_row` floats per row of `xp_buf`,
    /// `gh` of `rec`, `width` of `step`.
    fn split(self, mid: usize, xp_row: usize, gh: usize, width: usize) -> (Self, Self) {
        let cut = |buf: &'a mut [f32], per_row: usize| {
            let at = (mid * per_row).min(buf.len());
            buf.split_at_mut(at)
        };
        let (x0, x1) = cut(self.xp_buf, xp_row);
        let (r0, r1) = cut(self.rec, gh);
        let (s0, s1) = cut(self.step, width);
        (
            Bufs {
                xp_buf: x0,
                rec: r0,
                step: s0,
            },
            Bufs {
                xp_buf: x1,
                rec: r1,
                step: s1,
            },
        )
    }
}

#[allow(clippy::too_many_arguments)]
fn run(
    dims: &Dims,
    spec: &ScanSpec,
    w: &Weights<'_>,
    packed: &Packed,
    input: Xp<'_>,
    h0: &[f32],
    c0: Option<&[f32]>,
    bufs: Bufs<'_>,
    saved: Option<&mut [f32]>,
    y: &mut [f32],
) -> (Vec<f32>, Option<Vec<f32>>) {
    let Bufs { xp_buf, rec, step } = bufs;
    // `saved`: the rows of all steps, or of the current step only when nothing is saved.
    let saved = saved.unwrap_or(step);
    let &Dims {
        time,
        batch,
        hidden,
        d_out,
        ..
    } = dims;
    let gates = spec.cell.gates();
    let gh = gates * hidden;
    let layout = SavedLayout::new(spec.cell, hidden, d_out, w.w_hr.is_some());
    let width = layout.width();
    let parallel = dims.split_units;
    let units = parts(hidden, parallel);
    let proj_parts = parts(d_out, parallel);
    let (w_hh_t, w_hr_t) = (&packed.w_hh_t, &packed.w_hr_t);
    let mut h_cur = h0.to_vec();
    let mut h_next = vec![0.0f32; batch * d_out];
    let mut c = c0.map_or_else(Vec::new, <[f32]>::to_vec);
    let mut scratch = vec![0.0f32; batch * hidden];
    let mut proj = vec![0.0f32; if w.w_hr.is_some() { batch * d_out } else { 0 }];
    let zeros = vec![0.0f32; hidden];
    let b_hn = w.b_hn.unwrap_or(&zeros);
    let w_ih_t = packed.w_ih_t.as_ref();
    with_team(parallel, |team: &Team<'_>| {
        let (input, xp_buf) = match input {
            Xp::Project { x, d_in, bias } if !per_step(dims, d_in, gh) => {
                // All steps' input projection first, each core its units' gate columns.
                let w_ih_t = w_ih_t.expect("W_ih packed for this call");
                let buf_s = Shared::new(xp_buf);
                team.run_parts(&units, |part, units| {
                    for (g, w_ih) in w_ih_t.iter().enumerate() {
                        let col = g * hidden + units.start;
                        let start =
                            bias.map_or(Start::Zero, |b| Start::Bias(&b[col..][..units.len()]));
                        product(
                            time * batch,
                            units.len(),
                            d_in,
                            x,
                            0,
                            d_in,
                            &w_ih[part],
                            &buf_s,
                            col,
                            gh,
                            start,
                        );
                    }
                });
                (Xp::Given(&*xp_buf), &mut [][..])
            }
            _ => (input, xp_buf),
        };
        for t in order(time, spec.reverse) {
            // Saved rows of this step: in `xp`'s order, or the step's own when nothing is saved.
            let (base, saved_stride) = if spec.save {
                (dims.row(t, 0) * width, dims.b_stride() * width)
            } else {
                (0, width)
            };
            let rec_s = Shared::new(rec);
            let xs_s = Shared::new(xp_buf);
            let saved_s = Shared::new(saved);
            let y_s = Shared::new(y);
            let next_s = Shared::new(&mut h_next);
            let c_s = Shared::new(&mut c);
            let scratch_s = Shared::new(&mut scratch);
            let h_cur_ref = &h_cur;
            let next_step = if spec.reverse {
                t.checked_sub(1)
            } else {
                Some(t + 1).filter(|&n| n < time)
            };
            team.run_parts(&units, |part, units| {
                let (u0, len) = (units.start, units.len());
                // The next step's input rows are far apart in memory (a row per batch entry):
                // their loads start now, under this step's products.
                if let Some(n) = next_step {
                    for b in 0..batch {
                        match input {
                            Xp::Given(xp) => {
                                let x = &xp[dims.row(n, b) * gh..][..gh];
                                for g in 0..gates {
                                    kernels::prefetch(&x[g * hidden + u0..][..len]);
                                }
                            }
                            Xp::Project { x, d_in, .. } => {
                                kernels::prefetch(&x[dims.row(n, b) * d_in..][..d_in]);
                            }
                        }
                    }
                }
                // The step's input projection `x_t · W_ihᵀ + bias`, where it is made step by
                // step ([`per_step`]).
                if let Xp::Project { x, d_in, bias } = input {
                    let w_ih_t = w_ih_t.expect("W_ih packed for this call");
                    for (g, w_ih) in w_ih_t.iter().enumerate() {
                        let col = g * hidden + u0;
                        let start = bias.map_or(Start::Zero, |b| Start::Bias(&b[col..][..len]));
                        product(
                            batch,
                            len,
                            d_in,
                            x,
                            dims.row(t, 0) * d_in,
                            dims.b_stride() * d_in,
                            &w_ih[part],
                            &xs_s,
                            col,
                            gh,
                            start,
                        );
                    }
                }
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
                        Start::Zero,
                    );
                }
                for b in 0..batch {
                    let valid = spec.valid(t, b);
                    let row = base + b * saved_stride;
                    let y_at = dims.row(t, b) * d_out + u0;
                    // SAFETY (all `at` calls below): each names this half's units of one row, which
                    // the other half never touches; the ranges within one call are disjoint.
                    unsafe {
                        let rec_g = |g: usize| &*rec_s.at(b * gh + g * hidden + u0, len);
                        let x_g = |g: usize| match input {
                            Xp::Given(xp) => &xp[dims.row(t, b) * gh + g * hidden + u0..][..len],
                            Xp::Project { .. } => &*xs_s.at(b * gh + g * hidden + u0, len),
                        };
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
                                if !spec.save {
                                    kernels::lstm_infer(
                                        [0, 1, 2, 3].map(x_g),
                                        [0, 1, 2, 3].map(rec_g),
                                        valid,
                                        c_s.at(b * hidden + u0, len),
                                        m,
                                    );
                                } else {
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
                            }
                            OpCell::Slstm => {
                                let cw = dims.c_width;
                                let state = |k: usize| c_s.at(b * cw + k * hidden + u0, len);
                                let states = layout.slstm_states();
                                let saved = spec.save.then(|| {
                                    [
                                        saved_g(0),
                                        saved_g(1),
                                        saved_g(2),
                                        saved_g(3),
                                        saved_s.at(row + layout.aux() + u0, len),
                                        saved_s.at(row + layout.slstm_won() + u0, len),
                                        saved_s.at(row + states + u0, len),
                                        saved_s.at(row + states + hidden + u0, len),
                                        saved_s.at(row + states + 2 * hidden + u0, len),
                                        saved_s.at(row + states + 3 * hidden + u0, len),
                                    ]
                                });
                                kernels::slstm_forward(
                                    [0, 1, 2, 3].map(x_g),
                                    [0, 1, 2, 3].map(rec_g),
                                    valid,
                                    [0, 1, 2].map(state),
                                    out(),
                                    saved,
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
                            if spec.save {
                                saved_s
                                    .at(row + layout.h_prev() + u0, len)
                                    .copy_from_slice(prev);
                            }
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
                let saved_ref = &*saved;
                team.run_parts(&proj_parts, |part, cols| {
                    let (p0, len) = (cols.start, cols.len());
                    let w = &w_hr_t[part];
                    product(
                        batch,
                        len,
                        hidden,
                        saved_ref,
                        base + layout.m(),
                        saved_stride,
                        w,
                        &proj_s,
                        p0,
                        d_out,
                        Start::Zero,
                    );
                    for b in 0..batch {
                        let row = base + b * saved_stride;
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
                                y_s.at(dims.row(t, b) * d_out + p0, len)
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
    (h_cur, c0.map(|_| c))
}
