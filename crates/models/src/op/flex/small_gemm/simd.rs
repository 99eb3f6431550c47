//! The SIMD body of the product: one generic kernel on `pulp`'s types, compiled per path.

use pulp::{Simd, WithSimd};

use super::super::kernels::prefetch_at;
use super::{Mat, MatMut, PANEL, Start};

/// The product on one SIMD path: `pulp` compiles [`WithSimd::with_simd`] once per instruction
/// set with its target features enabled, so the same body below is the AVX-512, the AVX2+FMA
/// and the NEON kernel.
pub(super) struct Product<'a> {
    pub(super) m: usize,
    pub(super) n: usize,
    pub(super) k: usize,
    pub(super) a: Mat,
    /// The packed panels (row stride `w.ld`, the panel width).
    pub(super) w: Mat,
    pub(super) c: MatMut,
    pub(super) start: Start<'a>,
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
        prefetch_at(w.ptr.wrapping_add((p + AHEAD) * w.ld), V * lanes);
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
