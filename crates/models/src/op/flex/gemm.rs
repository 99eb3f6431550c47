//! A checked wrapper around the `gemm` crate (the kernels burn's flex backend uses).

use gemm::Parallelism;

/// A read-only matrix view: element `(i, j)` is `data[offset + i·rs + j·cs]`.
#[derive(Clone, Copy)]
pub(super) struct View<'a> {
    pub data: &'a [f32],
    pub offset: usize,
    pub rs: usize,
    pub cs: usize,
}

impl<'a> View<'a> {
    /// A row-major `[rows, cols]` matrix with row stride `rs` starting at `offset`.
    pub fn rows(data: &'a [f32], offset: usize, rs: usize) -> Self {
        Self {
            data,
            offset,
            rs,
            cs: 1,
        }
    }

    /// The transpose of [`rows`](Self::rows).
    pub fn t(self) -> Self {
        Self {
            rs: self.cs,
            cs: self.rs,
            ..self
        }
    }

    /// Panics unless every element of a `[rows, cols]` view lies inside `data`.
    fn check(&self, rows: usize, cols: usize) {
        if rows == 0 || cols == 0 {
            return;
        }
        let last = self.offset + (rows - 1) * self.rs + (cols - 1) * self.cs;
        assert!(last < self.data.len(), "gemm view out of bounds");
    }
}

/// Products at least this large (`m·n·k`) use both cores; smaller ones stay on one thread,
/// where waking the second would cost more than it saves.
const PARALLEL_MNK: usize = 64 * 64 * 256;

/// `dst[m, n] (row-major, row stride dst_rs) = (accumulate ? dst : 0) + lhs[m, k] · rhs[k, n]`.
#[allow(clippy::too_many_arguments)]
pub(super) fn matmul(
    m: usize,
    n: usize,
    k: usize,
    dst: &mut [f32],
    dst_offset: usize,
    dst_rs: usize,
    accumulate: bool,
    lhs: View<'_>,
    rhs: View<'_>,
) {
    if m == 0 || n == 0 {
        return;
    }
    assert!(
        dst_offset + (m - 1) * dst_rs + n <= dst.len(),
        "gemm destination out of bounds"
    );
    if k == 0 {
        if !accumulate {
            for i in 0..m {
                dst[dst_offset + i * dst_rs..][..n].fill(0.0);
            }
        }
        return;
    }
    lhs.check(m, k);
    rhs.check(k, n);
    let parallelism = if m * n * k >= PARALLEL_MNK {
        Parallelism::Rayon(0)
    } else {
        Parallelism::None
    };
    // SAFETY: every element the call touches was bounds-checked above against slices that
    // outlive it, and `dst` does not alias `lhs` or `rhs` (it is borrowed mutably).
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr().add(dst_offset),
            1,
            dst_rs as isize,
            accumulate,
            lhs.data.as_ptr().add(lhs.offset),
            lhs.cs as isize,
            lhs.rs as isize,
            rhs.data.as_ptr().add(rhs.offset),
            rhs.cs as isize,
            rhs.rs as isize,
            1.0,
            1.0,
            false,
            false,
            false,
            parallelism,
        );
    }
}
