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

use pulp::{Simd, WithSimd};

use super::isa::{CpuIsa, isa};

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

/// The product on one SIMD path: `pulp` compiles [`WithSimd::with_simd`] once per instruction
/// set with its target features enabled, so the same body below is the AVX-512, the AVX2+FMA
/// and the NEON kernel.
struct Product<'a> {
    m: usize,
    n: usize,
    k: usize,
    a: Mat,
    /// The packed panels (row stride `w.ld`, the panel width).
    w: Mat,
    c: MatMut,
    start: Start<'a>,
}

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
/// Floats of `W` per pass over a block's columns (16 KiB, which then stays in L1 for every row
/// block, beside the rows of `A`): 64 panel rows of a 64-wide block, 256 of a 16-wide one.
const W_BLOCK: usize = 4096;
/// Floats of `A` per pass over `W` (128 KiB, an eighth of a core's L2).
const A_BLOCK: usize = 32768;

impl WithSimd for Product<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: Simd>(self, simd: S) {
        // Accumulators per row block: R × V registers, plus V for `W` and one broadcast. With
        // 32 registers of 16 floats (AVX-512) a block is 6 × 64; with 16 of 8 (AVX2) 6 × 16,
        // the classic Haswell shape; with 32 of 4 (NEON) 6 × 16.
        if S::F32_LANES == 16 {
            self.run::<S, 4>(simd)
        } else if S::F32_LANES == 8 {
            self.run::<S, 2>(simd)
        } else {
            self.run::<S, 4>(simd)
        }
    }
}

impl Product<'_> {
    /// Every block of `C`, `V` vectors wide; a partial block at the right edge goes through a
    /// full-width copy on the stack, so the kernel itself never masks.
    #[inline(always)]
    fn run<S: Simd, const V: usize>(self, simd: S) {
        let Product {
            m,
            n,
            k,
            a,
            w,
            c,
            start,
        } = self;
        let width = V * S::F32_LANES;
        let pw = w.ld;
        assert!(pw % width == 0, "panels of {pw} for blocks of {width}");
        let kc = W_BLOCK / width;
        // Rows of `A` per pass over `W`, so that their `kc` columns stay in L2 while every
        // column block uses them (the input projection's `T·B` rows would not).
        let mc = (A_BLOCK / kc / ROWS).max(1) * ROWS;
        let mut ic = 0;
        while ic < m {
            let m_end = (ic + mc).min(m);
            let mut j0 = 0;
            while j0 < n {
                let cols = (n - j0).min(width);
                // Column `j0` lies in panel `j0 / pw` (`k` rows of `pw` floats), at `j0 % pw`.
                let panel = (j0 / pw) * k * pw + j0 % pw;
                let mut p0 = 0;
                loop {
                    let depth = (k - p0).min(kc);
                    let mut i0 = ic;
                    while i0 < m_end {
                        let rows = (m_end - i0).min(ROWS);
                        // SAFETY: the block lies inside the caller's bounds (`gemm`'s
                        // contract), and the packed rows `p0..p0 + depth` of its panel hold
                        // `width` floats each.
                        unsafe {
                            let a = Mat {
                                ptr: a.ptr.add(i0 * a.ld + p0),
                                ld: a.ld,
                            };
                            let w = Mat {
                                ptr: w.ptr.add(panel + p0 * pw),
                                ld: pw,
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
                            if cols == width {
                                rows_block::<S, V>(simd, rows, depth, a, w, c, init);
                            } else {
                                edge_block::<S, V>(simd, rows, cols, depth, a, w, c, init);
                            }
                        }
                        i0 += rows;
                    }
                    p0 += depth;
                    if p0 >= k {
                        break;
                    }
                }
                j0 += cols;
            }
            ic = m_end;
        }
    }
}

/// A block of `cols < V·lanes` columns: the same kernel on a full-width copy.
///
/// # Safety
/// As [`block`], for `rows × cols` elements of `C` (and `cols` of the bias).
#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn edge_block<S: Simd, const V: usize>(
    simd: S,
    rows: usize,
    cols: usize,
    k: usize,
    a: Mat,
    w: Mat,
    c: MatMut,
    init: Init,
) {
    let width = V * S::F32_LANES;
    let mut tmp = [0.0f32; ROWS * PANEL];
    for r in 0..rows {
        let row = &mut tmp[r * width..][..cols];
        // SAFETY: `cols` elements of row `r` of `C` (or of the bias) are valid.
        unsafe {
            match init {
                Init::Zero => {}
                Init::Load => {
                    row.copy_from_slice(std::slice::from_raw_parts(c.ptr.add(r * c.ld), cols))
                }
                Init::Bias(bias) => row.copy_from_slice(std::slice::from_raw_parts(bias, cols)),
            }
        }
    }
    let t = MatMut {
        ptr: tmp.as_mut_ptr(),
        ld: width,
    };
    // SAFETY: `tmp` holds `rows` full-width rows.
    unsafe { rows_block::<S, V>(simd, rows, k, a, w, t, Init::Load) };
    for r in 0..rows {
        // SAFETY: as above; `tmp` is a different buffer.
        unsafe {
            std::ptr::copy_nonoverlapping(tmp.as_ptr().add(r * width), c.ptr.add(r * c.ld), cols)
        };
    }
}

/// Rows of `W` a block asks the cache for ahead of the row it multiplies.
const AHEAD: usize = 8;

/// Asks for the cache lines of one row of a block's `W` (`V` vectors of `lanes` floats): a hint
/// that reads nothing the program sees and never faults, also past the end of `W`.
#[inline(always)]
fn prefetch_row<const V: usize>(row: *const f32, lanes: usize) {
    #[cfg(target_arch = "x86_64")]
    {
        let bytes = V * lanes * 4;
        let mut at = 0;
        while at < bytes {
            // SAFETY: a prefetch never faults, whatever the address.
            unsafe {
                std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(
                    row.cast::<i8>().wrapping_add(at),
                )
            };
            at += 64;
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (row, lanes);
}

/// [`block`] for `rows` (1 to 6) known only at run time.
///
/// # Safety
/// As [`block`].
#[inline(always)]
unsafe fn rows_block<S: Simd, const V: usize>(
    simd: S,
    rows: usize,
    k: usize,
    a: Mat,
    w: Mat,
    c: MatMut,
    init: Init,
) {
    // SAFETY: forwarded.
    unsafe {
        match rows {
            6 => block::<S, 6, V>(simd, k, a, w, c, init),
            5 => block::<S, 5, V>(simd, k, a, w, c, init),
            4 => block::<S, 4, V>(simd, k, a, w, c, init),
            3 => block::<S, 3, V>(simd, k, a, w, c, init),
            2 => block::<S, 2, V>(simd, k, a, w, c, init),
            1 => block::<S, 1, V>(simd, k, a, w, c, init),
            _ => unreachable!("a block of {rows} rows"),
        }
    }
}

/// One `R × V·lanes` block of `C`: `R·V` accumulator registers, each `A` element broadcast
/// from memory, one fused multiply-add per register and row of `W`.
///
/// # Safety
/// `A(r < R, p < k)`, `W` rows `p < k` (`V·lanes` floats each), `C(r < R, j < V·lanes)` and,
/// for `Init::Bias`, `V·lanes` bias floats must be valid.
#[inline(always)]
unsafe fn block<S: Simd, const R: usize, const V: usize>(
    simd: S,
    k: usize,
    a: Mat,
    w: Mat,
    c: MatMut,
    init: Init,
) {
    let lanes = S::F32_LANES;
    // SAFETY (all loads and stores): unaligned accesses of `lanes` floats at valid addresses;
    // `S::f32s` is plain old data with the alignment of `f32`.
    let load = |ptr: *const f32| unsafe { ptr.cast::<S::f32s>().read_unaligned() };
    let mut acc = [[simd.splat_f32s(0.0); V]; R];
    match init {
        Init::Zero => {}
        Init::Load => {
            for (r, row) in acc.iter_mut().enumerate() {
                for (v, x) in row.iter_mut().enumerate() {
                    *x = load(unsafe { c.ptr.add(r * c.ld + lanes * v) });
                }
            }
        }
        Init::Bias(bias) => {
            for v in 0..V {
                let b = load(unsafe { bias.add(lanes * v) });
                for row in acc.iter_mut() {
                    row[v] = b;
                }
            }
        }
    }
    for p in 0..k {
        prefetch_row::<V>(w.ptr.wrapping_add((p + AHEAD) * w.ld), lanes);
        let mut wv = [simd.splat_f32s(0.0); V];
        for (v, x) in wv.iter_mut().enumerate() {
            *x = load(unsafe { w.ptr.add(p * w.ld + lanes * v) });
        }
        for (r, row) in acc.iter_mut().enumerate() {
            let coef = simd.splat_f32s(unsafe { *a.ptr.add(r * a.ld + p) });
            for (x, wv) in row.iter_mut().zip(&wv) {
                *x = simd.mul_add_e_f32s(coef, *wv, *x);
            }
        }
    }
    for (r, row) in acc.iter().enumerate() {
        for (v, x) in row.iter().enumerate() {
            unsafe {
                c.ptr
                    .add(r * c.ld + lanes * v)
                    .cast::<S::f32s>()
                    .write_unaligned(*x)
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// On every path this processor has (an AVX-512 machine tests the AVX2 and portable kernels
    /// too), every row count of a block, full and partial column blocks, `k` across a pass.
    #[test]
    fn matches_a_plain_triple_loop_on_every_block_shape_and_path() {
        for isa in CpuIsa::available() {
            matches_a_plain_triple_loop(isa);
        }
    }

    fn matches_a_plain_triple_loop(isa: CpuIsa) {
        for (m, n, k) in [
            (1, 1, 1),
            (7, 70, 3),
            (13, 17, 9),
            (32, 129, 40),
            (6, 64, 1),
            (5, 15, 0),
            (9, 80, 300),
            (12, 200, 600),
            (4, 24, 1100),
            // More rows than one pass over `W` takes (126 on AVX2, 510 on AVX-512).
            (130, 40, 300),
            (515, 20, 70),
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
                let packed = pack_on(isa, &w, n + 3, 1, k, 0, n);
                unsafe {
                    gemm_on(
                        isa,
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
                            "{isa} ({m},{n},{k}) [{i},{j}]: {got} vs {want}"
                        );
                    }
                }
            }
        }
    }
}
