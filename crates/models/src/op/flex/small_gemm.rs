//! The per-step product `C[m, n] (+)= A[m, k] · W[k, n]` for a small `m` (the batch) against
//! weights that stay the same for every step; also the input projection over all `T·B` rows.
//!
//! General-purpose gemm kernels pack both operands on every call; at the step shape (`m` = 32,
//! `k` = 256, `n` = 1024) the `gemm` crate spent as long packing as multiplying and reached
//! 75 GFLOP/s on one core (BENCHMARKS.md). Here `W` is packed once per layer call ([`pack`]:
//! panels as wide as one register block, each `k` rows of contiguous floats, which stream in
//! order and stay in L2 across steps), each `A` element is broadcast from memory, and a block of
//! up to 6 rows is accumulated in registers: 6 × 64 columns in 24 AVX-512 registers, 6 × 16 in
//! 12 AVX2 or 24 NEON registers. One generic body on `pulp`'s SIMD types is compiled for each
//! path ([`Product`]). The portable path is a plain loop the compiler vectorises for the
//! baseline (SSE2 on x86-64).
//!
//! On a Zen 4 core (one thread, `W` of 4 MiB that comes from L3 every step, 32 × 512 × 2048)
//! the AVX2 block first ran at 72 GFLOP/s against AVX-512's 93: its 16 columns were a quarter
//! of every 256-byte row of 64-wide panels, and the first row block of each pass waited on
//! `W`. With panels as wide as the block and each row of `W` prefetched 8 rows ahead both reach
//! 100 (the core's FMA ceiling is about 118); blocking `A` to 128 KiB per pass over `W` took
//! the input projection's shape (1600 rows) from 76 to 100 on AVX2 and 88 to 93 on AVX-512.

use pulp::Simd;

use self::simd::Product;
use super::isa::{CpuIsa, isa};

mod simd;

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

/// The widest packed panel (and register block), in floats.
const PANEL: usize = 64;

/// Width of a packed panel on a path: one register block's columns, so that a block reads its
/// rows of `W` as one contiguous stream (16-wide blocks reading 64 bytes of every 256-byte row
/// of 64-wide panels left the AVX2 product waiting on its `W` loads: 117 against 75 ms on the
/// bigger LSTM's forward, where `W_hh` is 4 MiB and comes from L3 every step).
pub(super) fn panel(isa: CpuIsa) -> usize {
    match isa {
        CpuIsa::Avx2 | CpuIsa::Neon => 16,
        CpuIsa::Avx512 | CpuIsa::Portable => PANEL,
    }
}

/// Packs columns `col0..col0 + len` of a `[k, ·]` matrix whose element `(p, j)` is
/// `src[p·rs + j·cs]` for the process's path: see [`pack_on`].
pub(super) fn pack(
    src: &[f32],
    rs: usize,
    cs: usize,
    k: usize,
    col0: usize,
    len: usize,
) -> Vec<f32> {
    pack_on(isa(), src, rs, cs, k, col0, len)
}

/// [`pack`] for a given path, into panels of [`panel`]`(isa)` = `P` columns: panel `q` holds
/// rows `0..k` of columns `col0 + P·q ..`, `P` contiguous floats per row, zero past the last
/// column.
pub(super) fn pack_on(
    isa: CpuIsa,
    src: &[f32],
    rs: usize,
    cs: usize,
    k: usize,
    col0: usize,
    len: usize,
) -> Vec<f32> {
    let width = panel(isa);
    let panels = len.div_ceil(width);
    let mut out = vec![0.0f32; panels * k * width];
    for q in 0..panels {
        let cols = (len - q * width).min(width);
        for p in 0..k {
            let dst = &mut out[(q * k + p) * width..][..cols];
            for (j, d) in dst.iter_mut().enumerate() {
                *d = src[p * rs + (col0 + q * width + j) * cs];
            }
        }
    }
    out
}

/// `C[m, n] = start + A[m, k] · W[k, n]`, with `W` [`pack`]ed (`n` columns) and `start` as
/// [`Start`] says, on the process's instruction-set path ([`isa`]).
///
/// # Safety
/// Every element `A(i < m, j < k)` and `C(i < m, j < n)` must be valid to read (and `C` to
/// write), `w` must be [`pack`]ed (`n` columns, `k` rows), and `C` must not overlap `A` or `w`
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
    // SAFETY: forwarded.
    unsafe { gemm_on(isa(), m, n, k, a, w, c, start) }
}

/// [`gemm`] on a given path (tests run every path the processor has).
///
/// # Safety
/// As [`gemm`], with `w` packed by [`pack_on`] for the same `isa`; `isa` must be
/// [supported](CpuIsa::supported) (checked: panics otherwise).
#[allow(clippy::too_many_arguments)]
pub(super) unsafe fn gemm_on(
    isa: CpuIsa,
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
    let width = panel(isa);
    assert!(
        w.len() >= n.div_ceil(width) * k * width,
        "packed W too short"
    );
    if let Start::Bias(bias) = start {
        assert!(bias.len() >= n, "bias shorter than C's rows");
    }
    let w = Mat {
        ptr: w.as_ptr(),
        ld: width,
    };
    let job = Product {
        m,
        n,
        k,
        a,
        w,
        c,
        start,
    };
    let unsupported =
        || -> ! { panic!("the {isa} path needs an instruction set this processor lacks") };
    match isa {
        #[cfg(target_arch = "x86_64")]
        CpuIsa::Avx512 => {
            let simd = pulp::x86::V4::try_new().unwrap_or_else(|| unsupported());
            Simd::vectorize(simd, job)
        }
        #[cfg(target_arch = "x86_64")]
        CpuIsa::Avx2 => {
            let simd = pulp::x86::V3::try_new().unwrap_or_else(|| unsupported());
            Simd::vectorize(simd, job)
        }
        #[cfg(target_arch = "aarch64")]
        CpuIsa::Neon => {
            let simd = pulp::aarch64::Neon::try_new().unwrap_or_else(|| unsupported());
            Simd::vectorize(simd, job)
        }
        CpuIsa::Portable => {
            // SAFETY: the caller guarantees the bounds.
            unsafe { portable(m, n, k, a, w, c, start) }
        }
        #[allow(unreachable_patterns)]
        _ => unsupported(),
    }
}

/// One row and panel (`w.ld` columns) at a time: `C[i, panel] += A[i, p] · W[p, panel]` for
/// every `p` (vectorised over the panel's columns).
unsafe fn portable(m: usize, n: usize, k: usize, a: Mat, w: Mat, c: MatMut, start: Start<'_>) {
    for i in 0..m {
        // SAFETY: row `i` of `C` has `n` valid elements that nothing else touches.
        let c_row = unsafe { std::slice::from_raw_parts_mut(c.ptr.add(i * c.ld), n) };
        match start {
            Start::Zero => c_row.fill(0.0),
            Start::Accumulate => {}
            Start::Bias(bias) => c_row.copy_from_slice(&bias[..n]),
        }
        for (q, c_panel) in c_row.chunks_mut(w.ld).enumerate() {
            for p in 0..k {
                // SAFETY: `A(i, p)` and row `p` of panel `q` are valid.
                let (coef, w_row) = unsafe {
                    (
                        *a.ptr.add(i * a.ld + p),
                        std::slice::from_raw_parts(w.ptr.add((q * k + p) * w.ld), c_panel.len()),
                    )
                };
                for (c, w) in c_panel.iter_mut().zip(w_row) {
                    *c += coef * w;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
