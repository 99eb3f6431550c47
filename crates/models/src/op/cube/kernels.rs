//! The CubeCL kernels of the op: one thread per `(b, j)` state element, one launch per step.
//!
//! Row-major buffers. A "row" of `xp`, `y`, `saved`, `dy` and `d_xp` is one `(t, b)` pair at
//! index `t · st + b · sb` (`st = B, sb = 1` time-major, `st = 1, sb = T` batch-first), so the
//! kernels read and write either layout in place. The step's product (`rec`, `dm`) and the state
//! buffers (`h`, `c`, `dh`, `carry`, `dc`) are `[B, W]`, read with their strides. The maths is
//! `generic.rs`'s, which is the reference the tests hold it to.

use cubecl::prelude::*;

#[cube]
pub(super) fn sigmoid<F: Float>(x: F) -> F {
    F::new(1.0) / (F::new(1.0) + (-x).exp())
}

/// Element `(b, j)` of a `[B, W]` tensor, through its strides.
#[cube]
pub(super) fn at2<F: Float>(t: &Tensor<F>, b: usize, j: usize) -> F {
    t[ix::<F>(t, b, j)]
}

/// The index of element `(b, j)` of a `[B, W]` tensor.
#[cube]
fn ix<F: Float>(t: &Tensor<F>, b: usize, j: usize) -> usize {
    b * t.stride(0) + j * t.stride(1)
}

/// [`ix`] of a tensor the kernel writes.
#[cube]
pub(super) fn ixm<F: Float>(t: &mut Tensor<F>, b: usize, j: usize) -> usize {
    b * t.stride(0) + j * t.stride(1)
}

/// Whether row `b` takes part in step `t` (`lengths` `[B]`, as floats: exact below 2²⁴).
#[cube]
pub(super) fn valid<F: Float>(lengths: &Tensor<F>, t: u32, b: usize) -> bool {
    F::cast_from(t) < lengths[b]
}

/// The sizes and indices every step kernel takes.
#[derive(CubeType, CubeLaunch, Clone, Copy)]
pub struct Step {
    /// The step.
    pub t: u32,
    /// Row stride of a step and of a batch entry (see the module docs).
    pub st: u32,
    /// See `st`.
    pub sb: u32,
    /// Rows `B`.
    pub batch: u32,
    /// Units per thread row: `H` (or `H_out` for the projection kernels).
    pub units: u32,
    /// Width `S` of a saved row.
    pub width: u32,
}

#[cube]
pub(super) fn row_of(s: &Step, b: usize) -> usize {
    s.t as usize * s.st as usize + b * s.sb as usize
}

/// This thread's `(b, j, row)`: batch entry, unit and row of the step; threads past `B × units`
/// end here.
#[cube]
pub(super) fn place(s: &Step) -> (usize, usize, usize) {
    let units = s.units as usize;
    if ABSOLUTE_POS >= s.batch as usize * units {
        terminate!();
    }
    let b = ABSOLUTE_POS / units;
    (b, ABSOLUTE_POS % units, row_of(s, b))
}

/// Writes what the state gradient keeps at `(b, j)` past this step: `on_valid` on a valid row,
/// else all of `dh_in` (the row skipped the step).
#[cube]
pub(super) fn set_carry<F: Float>(
    carry: &mut Tensor<F>,
    b: usize,
    j: usize,
    ok: bool,
    dh_in: F,
    on_valid: F,
) {
    let mut keep = dh_in;
    if ok {
        keep = on_valid;
    }
    let at = ixm::<F>(carry, b, j);
    carry[at] = keep;
}
