//! The op on flex: native kernels on the f32 buffers.
//!
//! Forward, per step: `rec = h · W_hhᵀ` (the small-batch product of `small_gemm.rs`), one fused
//! gate pass per row that also writes the saved activations, and for a projected LSTM
//! `h = m · W_hrᵀ`. Backward, per step: one fused pass per row giving the pre-activation
//! gradients, then `dh_prev = da · W_hh`; after the loop `dW_hh` (and `dW_hr`) is one large gemm
//! over all `T·B` rows. Other dtypes than f32 take the generic path.
//!
//! Two cores share a step by hidden units: each computes the recurrent product for its units'
//! gate columns and their gate math, which needs no other unit, so a step has one
//! synchronisation (two with a projection, and two in the backward, whose state gradient needs
//! every unit's gate gradients).

mod gemm;
pub(crate) mod kernels;
mod small_gemm;

use burn::backend::{DType, Flex, TensorData, TensorMetadata};
use burn_flex::FlexTensor;

use std::ops::Range;

use self::gemm::{View, matmul};
use self::small_gemm::{Mat, MatMut};
use super::{OpCell, RecurrentOps, SavedLayout, ScanGrads, ScanOutput, ScanSpec, generic};

/// A tensor whose f32 elements are one contiguous slice.
fn dense(t: FlexTensor) -> FlexTensor {
    if t.as_slice::<f32>().is_some() {
        t
    } else {
        t.to_contiguous()
    }
}

fn slice(t: &FlexTensor) -> &[f32] {
    t.as_slice::<f32>().expect("dense f32 tensor")
}

fn tensor(values: Vec<f32>, shape: &[usize]) -> FlexTensor {
    FlexTensor::from_data(TensorData::new(values, shape.to_vec()))
}

fn all_f32<'a>(mut tensors: impl Iterator<Item = &'a FlexTensor>) -> bool {
    tensors.all(|t| t.dtype() == DType::F32)
}

fn order(time: usize, reverse: bool) -> Box<dyn Iterator<Item = usize>> {
    if reverse {
        Box::new((0..time).rev())
    } else {
        Box::new(0..time)
    }
}

impl RecurrentOps for Flex {
    fn recurrent_scan(
        xp: FlexTensor,
        w_hh: FlexTensor,
        b_hn: FlexTensor,
        w_hr: FlexTensor,
        h0: FlexTensor,
        c0: FlexTensor,
        spec: ScanSpec,
    ) -> ScanOutput<Self> {
        let (b_hn, w_hr, c0) = spec.present(b_hn, w_hr, c0);
        let tensors = [Some(&xp), Some(&w_hh), b_hn.as_ref(), w_hr.as_ref(), Some(&h0), c0.as_ref()];
        if !all_f32(tensors.into_iter().flatten()) {
            return generic::forward::<Flex>(xp, w_hh, b_hn, w_hr, h0, c0, &spec);
        }
        let shape = xp.shape();
        let dims = Dims {
            time: shape[0],
            batch: shape[1],
            hidden: shape[2] / spec.cell.gates(),
            d_out: w_hh.shape()[1],
        };
        let (xp, w_hh, h0) = (dense(xp), dense(w_hh), dense(h0));
        let (b_hn, w_hr, c0) = (b_hn.map(dense), w_hr.map(dense), c0.map(dense));
        let out = in_pool(|| forward(
            &dims,
            &spec,
            Weights {
                w_hh: slice(&w_hh),
                b_hn: b_hn.as_ref().map(slice),
                w_hr: w_hr.as_ref().map(slice),
            },
            slice(&xp),
            slice(&h0),
            c0.as_ref().map(slice),
        ));
        let Dims {
            time,
            batch,
            hidden,
            d_out,
        } = dims;
        let layout = SavedLayout::new(spec.cell, hidden, d_out, w_hr.is_some());
        (
            tensor(out.y, &[time, batch, d_out]),
            tensor(out.h, &[batch, d_out]),
            out.c.map(|c| tensor(c, &[batch, hidden])),
            out.saved.map(|s| tensor(s, &[time, batch, layout.width()])),
        )
    }

    fn recurrent_scan_backward(
        saved: FlexTensor,
        w_hh: FlexTensor,
        w_hr: FlexTensor,
        dy: FlexTensor,
        dh_n: FlexTensor,
        dc_n: FlexTensor,
        spec: ScanSpec,
    ) -> ScanGrads<Self> {
        let (_, w_hr, dc_n) = spec.present(dh_n.clone(), w_hr, dc_n);
        let tensors = [Some(&saved), Some(&w_hh), w_hr.as_ref(), Some(&dy), Some(&dh_n), dc_n.as_ref()];
        if !all_f32(tensors.into_iter().flatten()) {
            return generic::backward::<Flex>(saved, w_hh, w_hr, dy, dh_n, dc_n, &spec);
        }
        let shape = dy.shape();
        let dims = Dims {
            time: shape[0],
            batch: shape[1],
            hidden: w_hh.shape()[0] / spec.cell.gates(),
            d_out: shape[2],
        };
        let (saved, w_hh, dy, dh_n) = (dense(saved), dense(w_hh), dense(dy), dense(dh_n));
        let (w_hr, dc_n) = (w_hr.map(dense), dc_n.map(dense));
        let g = in_pool(|| backward(
            &dims,
            &spec,
            Weights {
                w_hh: slice(&w_hh),
                b_hn: None,
                w_hr: w_hr.as_ref().map(slice),
            },
            slice(&saved),
            slice(&dy),
            slice(&dh_n),
            dc_n.as_ref().map(slice),
        ));
        let Dims {
            time,
            batch,
            hidden,
            d_out,
        } = dims;
        let gh = spec.cell.gates() * hidden;
        (
            tensor(g.d_xp, &[time, batch, gh]),
            tensor(g.d_w_hh, &[gh, d_out]),
            spec.has_b_hn.then(|| tensor(g.d_b_hn, &[hidden])),
            g.d_w_hr.map(|d| tensor(d, &[d_out, hidden])),
            tensor(g.dh, &[batch, d_out]),
            g.dc.map(|d| tensor(d, &[batch, hidden])),
        )
    }
}

/// Sizes of one call.
struct Dims {
    time: usize,
    batch: usize,
    hidden: usize,
    d_out: usize,
}

/// The recurrent weights, row-major as PyTorch stores them.
struct Weights<'a> {
    /// `[G·H, H_out]`.
    w_hh: &'a [f32],
    /// `[H]`.
    b_hn: Option<&'a [f32]>,
    /// `[P, H]`.
    w_hr: Option<&'a [f32]>,
}


/// Steps whose product `B · G·H · H_out` is at least this large are split over both cores.
const PARALLEL_WORK: usize = 1 << 17;

/// Runs `f` on a worker thread of rayon's pool, so that the steps' `rayon::join`s run their
/// first half inline and hand only the second to the other core (from a thread outside the
/// pool every join would hand both halves over and wait, twice the wake-ups per step).
fn in_pool<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    if rayon::current_thread_index().is_some() {
        f()
    } else {
        rayon::scope(|_| f())
    }
}

/// A buffer that the two halves of a step write disjoint parts of.
#[derive(Clone, Copy)]
struct Shared {
    ptr: *mut f32,
    len: usize,
}

// SAFETY: `Shared` is only used to give the two halves of a split step access to disjoint
// element ranges of one buffer (see `at`), and the buffer outlives the split.
unsafe impl Send for Shared {}
// SAFETY: as above.
unsafe impl Sync for Shared {}

impl Shared {
    fn new(buffer: &mut [f32]) -> Self {
        Self {
            ptr: buffer.as_mut_ptr(),
            len: buffer.len(),
        }
    }

    /// Elements `start..start + len`.
    ///
    /// # Safety
    /// No other reference to any of these elements may be alive while the slice is.
    #[allow(clippy::mut_from_ref)]
    unsafe fn at(&self, start: usize, len: usize) -> &mut [f32] {
        assert!(start + len <= self.len, "shared buffer out of bounds");
        // SAFETY: in bounds; exclusivity is the caller's promise.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.add(start), len) }
    }

    fn ptr(&self, start: usize) -> *mut f32 {
        assert!(start <= self.len, "shared buffer out of bounds");
        // SAFETY: in bounds (one past the end at most).
        unsafe { self.ptr.add(start) }
    }
}

/// `0..n` as the parts a step is split into: two halves for two cores when `parallel` (the
/// split point rounded to a multiple of 16 so that vector blocks stay whole), else one.
fn parts(n: usize, parallel: bool) -> Vec<Range<usize>> {
    if parallel && n >= 32 {
        let mid = (n / 2).div_ceil(16) * 16;
        vec![0..mid, mid..n]
    } else {
        vec![0..n]
    }
}

/// Runs `f(i, part)` for every part, each on its own core.
fn run_parts(parts: &[Range<usize>], f: impl Fn(usize, Range<usize>) + Sync) {
    match parts {
        [a, b] => {
            rayon::join(|| f(0, a.clone()), || f(1, b.clone()));
        }
        _ => {
            for (i, part) in parts.iter().enumerate() {
                f(i, part.clone());
            }
        }
    }
}

/// Packs, for every part of a split of `0..n`, the columns `offset + part` of a `[k, ·]`
/// matrix (`(p, j)` at `src[p·rs + j·cs]`).
fn pack_parts(
    src: &[f32],
    rs: usize,
    cs: usize,
    k: usize,
    offset: usize,
    parts: &[Range<usize>],
) -> Vec<Vec<f32>> {
    parts
        .iter()
        .map(|part| small_gemm::pack(src, rs, cs, k, offset + part.start, part.len()))
        .collect()
}

/// `C[rows, cols] (+)= A · W` through the small-batch kernel, with `W` packed.
#[allow(clippy::too_many_arguments)]
fn product(
    rows: usize,
    cols: usize,
    k: usize,
    a: &[f32],
    a_offset: usize,
    lda: usize,
    w: &[f32],
    c: &Shared,
    c_offset: usize,
    ldc: usize,
    accumulate: bool,
) {
    if rows == 0 || cols == 0 {
        return;
    }
    assert!(k == 0 || a_offset + (rows - 1) * lda + k <= a.len(), "A out of bounds");
    assert!(c_offset + (rows - 1) * ldc + cols <= c.len, "C out of bounds");
    // SAFETY: bounds checked above; the caller's split gives this call exclusive use of the
    // destination columns, and `C` is a different buffer from `A` and `W`.
    unsafe {
        small_gemm::gemm(
            rows,
            cols,
            k,
            Mat {
                ptr: a.as_ptr().add(a_offset),
                ld: lda,
            },
            w,
            MatMut {
                ptr: c.ptr(c_offset),
                ld: ldc,
            },
            accumulate,
        );
    }
}

struct Forward {
    y: Vec<f32>,
    h: Vec<f32>,
    c: Option<Vec<f32>>,
    saved: Option<Vec<f32>>,
}

fn forward(
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
    let w_hr_t = w.w_hr.map(|w_hr| pack_parts(w_hr, 1, hidden, hidden, 0, &proj_parts));
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
    for t in order(time, spec.reverse) {
        let base = if spec.save { t * batch * width } else { 0 };
        let rec_s = Shared::new(&mut rec);
        let saved_s = Shared::new(&mut saved);
        let y_s = Shared::new(&mut y);
        let next_s = Shared::new(&mut h_next);
        let c_s = Shared::new(&mut c);
        let scratch_s = Shared::new(&mut scratch);
        let h_cur_ref = &h_cur;
        run_parts(&units, |part, units| {
            let (u0, len) = (units.start, units.len());
            for (g, packed) in w_hh_t.iter().enumerate() {
                let col = g * hidden + u0;
                product(batch, len, d_out, h_cur_ref, 0, d_out, &packed[part], &rec_s, col, gh, false);
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
                            kernels::rnn_forward(x_g(0), rec_g(0), spec.cell == OpCell::RnnRelu, out);
                            saved_s.at(row + u0, len).copy_from_slice(out);
                        }
                    }
                    if !layout.proj {
                        let prev = &h_cur_ref[b * d_out + u0..][..len];
                        saved_s.at(row + layout.h_prev() + u0, len).copy_from_slice(prev);
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
            run_parts(&proj_parts, |part, cols| {
                let (p0, len) = (cols.start, cols.len());
                let w = &w_hr_t[part];
                product(batch, len, hidden, saved_ref, base + layout.m(), width, w, &proj_s, p0, d_out, false);
                for b in 0..batch {
                    let row = base + b * width;
                    let prev = &h_cur_ref[b * d_out + p0..][..len];
                    // SAFETY: this half's columns of one row of each buffer.
                    unsafe {
                        saved_s.at(row + layout.h_prev() + p0, len).copy_from_slice(prev);
                        let next = next_s.at(b * d_out + p0, len);
                        if spec.valid(t, b) {
                            let new = proj_s.at(b * d_out + p0, len);
                            next.copy_from_slice(new);
                            y_s.at((t * batch + b) * d_out + p0, len).copy_from_slice(new);
                        } else {
                            next.copy_from_slice(prev);
                        }
                    }
                }
            });
        }
        std::mem::swap(&mut h_cur, &mut h_next);
    }
    Forward {
        y,
        h: h_cur,
        c: c0.map(|_| c),
        saved: spec.save.then_some(saved),
    }
}

struct Backward {
    d_xp: Vec<f32>,
    d_w_hh: Vec<f32>,
    d_b_hn: Vec<f32>,
    d_w_hr: Option<Vec<f32>>,
    dh: Vec<f32>,
    dc: Option<Vec<f32>>,
}

#[allow(clippy::too_many_arguments)]
fn backward(
    dims: &Dims,
    spec: &ScanSpec,
    w: Weights<'_>,
    saved: &[f32],
    dy: &[f32],
    dh_n: &[f32],
    dc_n: Option<&[f32]>,
) -> Backward {
    let &Dims {
        time,
        batch,
        hidden,
        d_out,
    } = dims;
    let gates = spec.cell.gates();
    let gh = gates * hidden;
    let gru = spec.cell == OpCell::Gru;
    let layout = SavedLayout::new(spec.cell, hidden, d_out, w.w_hr.is_some());
    let width = layout.width();
    let rows = time * batch;
    let parallel = batch * gh * d_out >= PARALLEL_WORK;
    // Packed once: `W_hh` (`[G·H, H_out]`) per part of `H_out`, `W_hr` (`[P, H]`) per part of
    // the units.
    let units = parts(hidden, parallel);
    let out_parts = parts(d_out, parallel);
    let w_hh_p = pack_parts(w.w_hh, d_out, 1, gh, 0, &out_parts);
    let w_hr_p = w.w_hr.map(|w_hr| pack_parts(w_hr, hidden, 1, d_out, 0, &units));
    let mut dh = dh_n.to_vec();
    let mut dh_next = vec![0.0f32; batch * d_out];
    let mut dc = dc_n.map_or_else(Vec::new, <[f32]>::to_vec);
    let mut d_xp = vec![0.0f32; rows * gh];
    // GRU: the gradient of `W_hh h` differs from that of `xp` in the `n` block.
    let mut d_rec = vec![0.0f32; if gru { rows * gh } else { 0 }];
    // Projected LSTM: every step's gradient of the projected state, for `dW_hr`.
    let mut d_proj = vec![0.0f32; if w.w_hr.is_some() { rows * d_out } else { 0 }];
    let mut dhp = vec![0.0f32; batch * d_out];
    let mut dm = vec![0.0f32; if w.w_hr.is_some() { batch * hidden } else { 0 }];
    let mut direct = vec![0.0f32; if gru { batch * hidden } else { 0 }];
    for t in order(time, !spec.reverse) {
        let base = t * batch * width;
        for b in 0..batch {
            let out = &mut dhp[b * d_out..][..d_out];
            if spec.valid(t, b) {
                let d = &dh[b * d_out..][..d_out];
                let g = &dy[(t * batch + b) * d_out..][..d_out];
                for ((o, d), g) in out.iter_mut().zip(d).zip(g) {
                    *o = d + g;
                }
            } else {
                out.fill(0.0);
            }
        }
        if w.w_hr.is_some() {
            d_proj[t * batch * d_out..][..batch * d_out].copy_from_slice(&dhp);
        }
        let d_xp_s = Shared::new(&mut d_xp);
        let d_rec_s = Shared::new(&mut d_rec);
        let dc_s = Shared::new(&mut dc);
        let dm_s = Shared::new(&mut dm);
        let direct_s = Shared::new(&mut direct);
        let dhp_ref = &dhp;
        run_parts(&units, |part, units| {
            let (u0, len) = (units.start, units.len());
            if let Some(w_hr) = &w_hr_p {
                product(batch, len, d_out, dhp_ref, 0, d_out, &w_hr[part], &dm_s, u0, hidden, false);
            }
            for b in 0..batch {
                if !spec.valid(t, b) {
                    continue;
                }
                let row = &saved[base + b * width..][..width];
                let cols = |offset: usize| &row[offset + u0..][..len];
                let at = (t * batch + b) * gh + u0;
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
        let rec_grad: &[f32] = if gru { &d_rec } else { &d_xp };
        let next_s = Shared::new(&mut dh_next);
        let (dh_ref, direct_ref) = (&dh, &direct);
        run_parts(&out_parts, |part, cols| {
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
            product(batch, len, gh, rec_grad, t * batch * gh, gh, w, &next_s, o0, d_out, true);
        });
        std::mem::swap(&mut dh, &mut dh_next);
    }
    let d_rec_all = if gru { &d_rec } else { &d_xp };
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
    Backward {
        d_xp,
        d_w_hh,
        d_b_hn,
        d_w_hr,
        dh,
        dc: dc_n.map(|_| dc),
    }
}
