//! How a step is shared by the two cores: disjoint parts of the hidden units (or of the state's
//! columns), a buffer both halves write disjoint ranges of, and the small products on packed
//! weights each half runs.

use std::ops::Range;

use super::small_gemm::{self, Mat, MatMut};

/// Steps whose product `B · G·H · H_out` is at least this large are split over both cores.
pub(super) const PARALLEL_WORK: usize = 1 << 17;

/// Runs `f` on a worker thread of rayon's pool, so that the steps' `rayon::join`s run their
/// first half inline and hand only the second to the other core (from a thread outside the
/// pool every join would hand both halves over and wait, twice the wake-ups per step).
pub(super) fn in_pool<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    if rayon::current_thread_index().is_some() {
        f()
    } else {
        rayon::scope(|_| f())
    }
}

/// A buffer that the two halves of a step write disjoint parts of.
#[derive(Clone, Copy)]
pub(super) struct Shared {
    ptr: *mut f32,
    len: usize,
}

// SAFETY: `Shared` is only used to give the two halves of a split step access to disjoint
// element ranges of one buffer (see `at`), and the buffer outlives the split.
unsafe impl Send for Shared {}
// SAFETY: as above.
unsafe impl Sync for Shared {}

impl Shared {
    pub(super) fn new(buffer: &mut [f32]) -> Self {
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
    pub(super) unsafe fn at(&self, start: usize, len: usize) -> &mut [f32] {
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
pub(super) fn parts(n: usize, parallel: bool) -> Vec<Range<usize>> {
    if parallel && n >= 32 {
        let mid = (n / 2).div_ceil(16) * 16;
        vec![0..mid, mid..n]
    } else {
        vec![0..n]
    }
}

/// Runs `f(i, part)` for every part, each on its own core.
pub(super) fn run_parts(parts: &[Range<usize>], f: impl Fn(usize, Range<usize>) + Sync) {
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
pub(super) fn pack_parts(
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
pub(super) fn product(
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

