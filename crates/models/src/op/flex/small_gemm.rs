//! The per-step product `C[m, n] (+)= A[m, k] · W[k, n]` for a small `m` (the batch) against
//! weights that stay the same for every step.
//!
//! General-purpose gemm kernels pack both operands on every call; at the step shape (`m` = 32,
//! `k` = 256, `n` = 1024) the `gemm` crate spent as long packing as multiplying and reached
//! 75 GFLOP/s on one core (BENCHMARKS.md). Here `W` is packed once per layer call ([`pack`]:
//! panels of 64 columns, each `k` rows of 64 contiguous floats, which the hardware prefetcher
//! streams and which stay in L2 across steps), each `A` element is broadcast from memory, and a
//! block of up to 6 rows × 64 columns is accumulated in 24 AVX-512 registers. Without AVX-512
//! the portable loop (vectorised by the compiler) is used.

/// A row-major matrix in a buffer: element `(i, j)` at `ptr + i·ld + j`.
#[derive(Clone, Copy)]
pub(super) struct Mat {
    pub ptr: *const f32,
    pub ld: usize,
}

/// The mutable destination of [`gemm`].
#[derive(Clone, Copy)]
pub(super) struct MatMut {
    pub ptr: *mut f32,
    pub ld: usize,
}

/// What `C` holds before the product is added: zeros, its own contents, or a bias row (`n`
/// floats) repeated down every row.
#[derive(Clone, Copy)]
pub(super) enum Start<'a> {
    /// `C = A · W`.
    Zero,
    /// `C += A · W`.
    Accumulate,
    /// `C[i, j] = bias[j] + (A · W)[i, j]`.
    Bias(&'a [f32]),
}

/// Width of a packed panel.
pub(super) const PANEL: usize = 64;

/// Packs columns `col0..col0 + len` of a `[k, ·]` matrix whose element `(p, j)` is
/// `src[p·rs + j·cs]` into panels of [`PANEL`] columns: panel `q` holds rows `0..k` of columns
/// `col0 + 64q ..`, 64 contiguous floats per row, zero past the last column.
pub(super) fn pack(
    src: &[f32],
    rs: usize,
    cs: usize,
    k: usize,
    col0: usize,
    len: usize,
) -> Vec<f32> {
    let panels = len.div_ceil(PANEL);
    let mut out = vec![0.0f32; panels * k * PANEL];
    for q in 0..panels {
        let cols = (len - q * PANEL).min(PANEL);
        for p in 0..k {
            let dst = &mut out[(q * k + p) * PANEL..][..cols];
            for (j, d) in dst.iter_mut().enumerate() {
                *d = src[p * rs + (col0 + q * PANEL + j) * cs];
            }
        }
    }
    out
}

/// `C[m, n] = start + A[m, k] · W[k, n]`, with `W` [`pack`]ed (`n` columns) and `start` as
/// [`Start`] says.
///
/// # Safety
/// Every element `A(i < m, j < k)` and `C(i < m, j < n)` must be valid to read (and `C` to
/// write), `w` must hold `n.div_ceil(64) · k · 64` floats, and `C` must not overlap `A` or `w`
/// nor be accessed by anyone else during the call.
pub(super) unsafe fn gemm(
    m: usize,
    n: usize,
    k: usize,
    a: Mat,
    w: &[f32],
    c: MatMut,
    start: Start<'_>,
) {
    if m == 0 || n == 0 {
        return;
    }
    assert!(
        w.len() >= n.div_ceil(PANEL) * k * PANEL,
        "packed W too short"
    );
    if let Start::Bias(bias) = start {
        assert!(bias.len() >= n, "bias shorter than C's rows");
    }
    let w = Mat {
        ptr: w.as_ptr(),
        ld: PANEL,
    };
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx512f") {
        // SAFETY: the processor has AVX-512F; the caller guarantees the bounds.
        unsafe { avx512::gemm(m, n, k, a, w, c, start) };
        return;
    }
    // SAFETY: as above.
    unsafe { portable(m, n, k, a, w, c, start) };
}

/// One row and panel at a time: `C[i, panel] += A[i, p] · W[p, panel]` for every `p`
/// (vectorised over the panel's columns).
unsafe fn portable(m: usize, n: usize, k: usize, a: Mat, w: Mat, c: MatMut, start: Start<'_>) {
    for i in 0..m {
        // SAFETY: row `i` of `C` has `n` valid elements that nothing else touches.
        let c_row = unsafe { std::slice::from_raw_parts_mut(c.ptr.add(i * c.ld), n) };
        match start {
            Start::Zero => c_row.fill(0.0),
            Start::Accumulate => {}
            Start::Bias(bias) => c_row.copy_from_slice(&bias[..n]),
        }
        for (q, c_panel) in c_row.chunks_mut(PANEL).enumerate() {
            for p in 0..k {
                // SAFETY: `A(i, p)` and row `p` of panel `q` are valid.
                let (coef, w_row) = unsafe {
                    (
                        *a.ptr.add(i * a.ld + p),
                        std::slice::from_raw_parts(w.ptr.add((q * k + p) * PANEL), c_panel.len()),
                    )
                };
                for (c, w) in c_panel.iter_mut().zip(w_row) {
                    *c += coef * w;
                }
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use std::arch::x86_64::*;

    use super::{Mat, MatMut, PANEL, Start};

    /// How a block's accumulators start.
    #[derive(Clone, Copy)]
    enum Init {
        Zero,
        /// From `C`.
        Load,
        /// From the bias row at this pointer (the block's first column).
        Bias(*const f32),
    }

    /// Rows per register block.
    const ROWS: usize = 6;
    /// Rows of a panel per pass (32 KiB of `W`, which then stays in L1 for every row block).
    const KC: usize = 128;

    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn gemm(
        m: usize,
        n: usize,
        k: usize,
        a: Mat,
        w: Mat,
        c: MatMut,
        start: Start<'_>,
    ) {
        let mut j0 = 0;
        while j0 < n {
            let cols = (n - j0).min(PANEL);
            let vectors = cols.div_ceil(16);
            let tail = cols - (vectors - 1) * 16;
            let mask: __mmask16 = if tail == 16 {
                0xFFFF
            } else {
                (1u16 << tail) - 1
            };
            let mut p0 = 0;
            loop {
                let kc = (k - p0).min(KC);
                let mut i0 = 0;
                while i0 < m {
                    let rows = (m - i0).min(ROWS);
                    // SAFETY: the block lies inside the caller's bounds.
                    unsafe {
                        let a = Mat {
                            ptr: a.ptr.add(i0 * a.ld + p0),
                            ld: a.ld,
                        };
                        // Rows `p0..p0 + kc` of panel `j0 / 64` (`k` rows of 64).
                        let w = Mat {
                            ptr: w.ptr.add(j0 * k + p0 * PANEL),
                            ld: PANEL,
                        };
                        let c = MatMut {
                            ptr: c.ptr.add(i0 * c.ld + j0),
                            ld: c.ld,
                        };
                        let init = match start {
                            _ if p0 > 0 => Init::Load,
                            Start::Zero => Init::Zero,
                            Start::Accumulate => Init::Load,
                            Start::Bias(bias) => Init::Bias(bias.as_ptr().add(j0)),
                        };
                        dispatch(rows, vectors, kc, a, w, c, mask, init);
                    }
                    i0 += rows;
                }
                p0 += kc;
                if p0 >= k {
                    break;
                }
            }
            j0 += cols;
        }
    }

    macro_rules! dispatch_table {
        ($rows:expr, $vectors:expr, $($r:literal),*; $args:tt) => {
            match ($rows, $vectors) {
                $(
                    ($r, 1) => dispatch_table!(@call $r, 1, $args),
                    ($r, 2) => dispatch_table!(@call $r, 2, $args),
                    ($r, 3) => dispatch_table!(@call $r, 3, $args),
                    ($r, 4) => dispatch_table!(@call $r, 4, $args),
                )*
                _ => unreachable!("block of {} rows × {} vectors", $rows, $vectors),
            }
        };
        (@call $r:literal, $v:literal, ($k:ident, $a:ident, $w:ident, $c:ident, $mask:ident, $init:ident)) => {
            // SAFETY: forwarded from `dispatch`.
            unsafe { block::<$r, $v>($k, $a, $w, $c, $mask, $init) }
        };
    }

    #[target_feature(enable = "avx512f")]
    #[allow(clippy::too_many_arguments)]
    unsafe fn dispatch(
        rows: usize,
        vectors: usize,
        k: usize,
        a: Mat,
        w: Mat,
        c: MatMut,
        mask: __mmask16,
        init: Init,
    ) {
        dispatch_table!(rows, vectors, 1, 2, 3, 4, 5, 6; (k, a, w, c, mask, init))
    }

    /// One `R × 16V` block of `C`; the last vector of each row is masked by `mask`.
    #[target_feature(enable = "avx512f")]
    #[inline]
    unsafe fn block<const R: usize, const V: usize>(
        k: usize,
        a: Mat,
        w: Mat,
        c: MatMut,
        mask: __mmask16,
        init: Init,
    ) {
        let lane_mask = |v: usize| if v + 1 == V { mask } else { 0xFFFF };
        let mut acc = [[_mm512_setzero_ps(); V]; R];
        match init {
            Init::Zero => {}
            Init::Load => {
                for (r, row) in acc.iter_mut().enumerate() {
                    for (v, x) in row.iter_mut().enumerate() {
                        // SAFETY: inside the block (masked past the last column).
                        *x = unsafe {
                            _mm512_maskz_loadu_ps(lane_mask(v), c.ptr.add(r * c.ld + 16 * v))
                        };
                    }
                }
            }
            Init::Bias(bias) => {
                for v in 0..V {
                    // SAFETY: the bias row covers the block's columns (masked past the last).
                    let b = unsafe { _mm512_maskz_loadu_ps(lane_mask(v), bias.add(16 * v)) };
                    for row in acc.iter_mut() {
                        row[v] = b;
                    }
                }
            }
        }
        for p in 0..k {
            let mut wv = [_mm512_setzero_ps(); V];
            for (v, x) in wv.iter_mut().enumerate() {
                // SAFETY: row `p` of the panel (64 floats, zero-padded past the last column).
                *x = unsafe { _mm512_loadu_ps(w.ptr.add(p * w.ld + 16 * v)) };
            }
            for (r, row) in acc.iter_mut().enumerate() {
                // SAFETY: `A(r, p)` is inside the block.
                let coef = _mm512_set1_ps(unsafe { *a.ptr.add(r * a.ld + p) });
                for (x, wv) in row.iter_mut().zip(&wv) {
                    *x = _mm512_fmadd_ps(coef, *wv, *x);
                }
            }
        }
        for (r, row) in acc.iter().enumerate() {
            for (v, x) in row.iter().enumerate() {
                // SAFETY: inside the block (masked past the last column).
                unsafe { _mm512_mask_storeu_ps(c.ptr.add(r * c.ld + 16 * v), lane_mask(v), *x) };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_a_plain_triple_loop_on_every_block_shape() {
        for (m, n, k) in [
            (1, 1, 1),
            (7, 70, 3),
            (13, 17, 9),
            (32, 129, 40),
            (6, 64, 1),
            (5, 15, 0),
            (9, 80, 300),
        ] {
            let a: Vec<f32> = (0..m * k)
                .map(|i| ((i * 7 % 11) as f32 - 5.0) / 3.0)
                .collect();
            let w: Vec<f32> = (0..k * (n + 3))
                .map(|i| ((i * 5 % 13) as f32 - 6.0) / 4.0)
                .collect();
            let start: Vec<f32> = (0..m * (n + 2)).map(|i| (i % 3) as f32).collect();
            let bias: Vec<f32> = (0..n).map(|j| (j % 5) as f32 - 2.0).collect();
            for start_kind in 0..3 {
                let start_with = match start_kind {
                    0 => Start::Zero,
                    1 => Start::Accumulate,
                    _ => Start::Bias(&bias),
                };
                let mut c = start.clone();
                // SAFETY: all three buffers hold the shapes passed (with their strides).
                let packed = pack(&w, n + 3, 1, k, 0, n);
                unsafe {
                    gemm(
                        m,
                        n,
                        k,
                        Mat {
                            ptr: a.as_ptr(),
                            ld: k,
                        },
                        &packed,
                        MatMut {
                            ptr: c.as_mut_ptr(),
                            ld: n + 2,
                        },
                        start_with,
                    )
                };
                for i in 0..m {
                    for j in 0..n + 2 {
                        let mut want = if j >= n || start_kind == 1 {
                            start[i * (n + 2) + j]
                        } else if start_kind == 2 {
                            bias[j]
                        } else {
                            0.0
                        };
                        if j < n {
                            for p in 0..k {
                                want += a[i * k + p] * w[p * (n + 3) + j];
                            }
                        }
                        let got = c[i * (n + 2) + j];
                        assert!(
                            (got - want).abs() <= 1e-4 * want.abs().max(1.0),
                            "({m},{n},{k}) [{i},{j}]: {got} vs {want}"
                        );
                    }
                }
            }
        }
    }
}
