//! The op on flex: native kernels on the f32 buffers.
//!
//! Forward: where the call brings its input rows (`recurrent_layer`), the input projection
//! `x · W_ihᵀ + bias` on the same kernel (the bias is where the accumulators start), step by
//! step into a buffer that stays in cache, or of all steps first where `W_ihᵀ` is too large to
//! read every step (`forward.rs`, `per_step`). Then per step: `rec = h · W_hhᵀ` (the
//! small-batch product of `small_gemm.rs`), one fused
//! gate pass per row that also writes the saved activations, and for a projected LSTM
//! `h = m · W_hrᵀ`. Backward, per step: one fused pass per row giving the pre-activation
//! gradients, then `dh_prev = da · W_hh`; after the loop `dW_hh` (and `dW_hr`) is one large gemm
//! over all `T·B` rows. Other dtypes than f32 take the generic path.
//!
//! Two cores share a call in one of two ways (`Dims::new` picks):
//! - a batch-first call with several steps and 8 rows or more runs as two calls on the halves
//!   of the batch, a core each, with no synchronisation until both end (the weight gradients
//!   of the halves are summed);
//! - any other call shares every step by hidden units: each core computes the recurrent
//!   product for its units' gate columns and their gate math, which needs no other unit, so a
//!   step has one synchronisation (two with a projection, and two in the backward, whose state
//!   gradient needs every unit's gate gradients).

mod backward;
mod cache;
mod forward;
mod gemm;
mod helper;
mod isa;
pub(crate) mod kernels;
mod parts;
mod small_gemm;

use std::sync::Arc;

use burn::backend::{DType, Flex, TensorData, TensorMetadata};
use burn_flex::FlexTensor;

use self::backward::{Backward, backward};
use self::forward::{Xp, forward};
pub use self::isa::{CpuIsa, ISA_VAR, IsaError, cpu_isa};
use self::parts::PARALLEL_WORK;
pub(crate) use self::parts::cores;
pub use self::parts::one_core_each;

/// The packed weights the op keeps between single-step calls ([`cache`]).
static WEIGHTS: cache::WeightCache<forward::Packed> = cache::WeightCache::new();

/// Drops every packed weight set the op keeps for single-step calls (and with them the
/// references to the weight tensors they were packed from), returning their memory.
pub fn clear_weight_cache() {
    WEIGHTS.clear();
}
use super::{RecurrentOps, SavedLayout, ScanGrads, ScanOutput, ScanSpec, generic};

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

pub(super) fn order(time: usize, reverse: bool) -> Box<dyn Iterator<Item = usize>> {
    if reverse {
        Box::new((0..time).rev())
    } else {
        Box::new(0..time)
    }
}

/// What a native forward starts from: the projected input, or the input rows with the
/// projection's weights (projected inside the op).
#[allow(clippy::large_enum_variant)] // one value per call, moved a few times on the stack
enum Input {
    Projected(FlexTensor),
    Rows {
        x: FlexTensor,
        w_ih: FlexTensor,
        bias: Option<FlexTensor>,
    },
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
        native(Input::Projected(xp), w_hh, b_hn, w_hr, h0, c0, spec)
    }

    fn recurrent_layer(
        x: FlexTensor,
        w_ih: FlexTensor,
        bias: FlexTensor,
        w_hh: FlexTensor,
        b_hn: FlexTensor,
        w_hr: FlexTensor,
        h0: FlexTensor,
        c0: FlexTensor,
        spec: ScanSpec,
    ) -> ScanOutput<Self> {
        let bias = spec.bias_of(bias);
        let input = Input::Rows { x, w_ih, bias };
        native(input, w_hh, b_hn, w_hr, h0, c0, spec)
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
        let (w_hr, dc_n) = (spec.w_hr_of(w_hr), spec.cell_of(dc_n));
        let tensors = [
            Some(&saved),
            Some(&w_hh),
            w_hr.as_ref(),
            Some(&dy),
            Some(&dh_n),
            dc_n.as_ref(),
        ];
        if !all_f32(tensors.into_iter().flatten()) {
            return generic::backward::<Flex>(saved, w_hh, w_hr, dy, dh_n, dc_n, &spec);
        }
        let shape = dy.shape();
        let dims = Dims::new(&shape, w_hh.shape()[0] / spec.cell.gates(), shape[2], &spec);
        let (saved, w_hh, dy, dh_n) = (dense(saved), dense(w_hh), dense(dy), dense(dh_n));
        let (w_hr, dc_n) = (w_hr.map(dense), dc_n.map(dense));
        let Backward { d_xp, rest: g } = backward(
            &dims,
            &spec,
            Weights {
                w_hh: slice(&w_hh),
                b_hn: None,
                w_hr: w_hr.as_ref().map(slice),
                w_ih: None,
            },
            slice(&saved),
            slice(&dy),
            slice(&dh_n),
            dc_n.as_ref().map(slice),
        );
        let (batch, hidden, d_out) = (dims.batch, dims.hidden, dims.d_out);
        let gh = spec.cell.gates() * hidden;
        (
            tensor(d_xp, &dims.shape(gh)),
            tensor(g.d_w_hh, &[gh, d_out]),
            spec.has_b_hn.then(|| tensor(g.d_b_hn, &[hidden])),
            g.d_w_hr.map(|d| tensor(d, &[d_out, hidden])),
            tensor(g.dh, &[batch, d_out]),
            g.dc.map(|d| tensor(d, &[batch, dims.c_width])),
        )
    }
}

/// The forward on the f32 buffers (the generic path for any other dtype).
fn native(
    input: Input,
    w_hh: FlexTensor,
    b_hn: FlexTensor,
    w_hr: FlexTensor,
    h0: FlexTensor,
    c0: FlexTensor,
    spec: ScanSpec,
) -> ScanOutput<Flex> {
    let (b_hn, w_hr, c0) = (spec.b_hn_of(b_hn), spec.w_hr_of(w_hr), spec.cell_of(c0));
    let (first, w_ih, bias) = match &input {
        Input::Projected(xp) => (xp, None, None),
        Input::Rows { x, w_ih, bias } => (x, Some(w_ih), bias.as_ref()),
    };
    let tensors = [
        Some(first),
        w_ih,
        bias,
        Some(&w_hh),
        b_hn.as_ref(),
        w_hr.as_ref(),
        Some(&h0),
        c0.as_ref(),
    ];
    if !all_f32(tensors.into_iter().flatten()) {
        let xp = match input {
            Input::Projected(xp) => xp,
            Input::Rows { x, w_ih, bias } => generic::project::<Flex>(x, w_ih, bias),
        };
        return generic::forward::<Flex>(xp, w_hh, b_hn, w_hr, h0, c0, &spec);
    }
    let shape = first.shape();
    let gh = w_hh.shape()[0];
    let dims = Dims::new(&shape, gh / spec.cell.gates(), w_hh.shape()[1], &spec);
    // A call that saves nothing (inference: generation and decoding step by step, evaluation
    // batch after batch) takes its packed weights from the cache when they are the weights of
    // an earlier call (`cache.rs`); weights that are views needing a copy are not worth
    // caching, and training calls (which save) see new weights every step.
    let contiguous = |t: &FlexTensor| t.as_slice::<f32>().is_some();
    let cacheable = !spec.save
        && contiguous(&w_hh)
        && w_hr.as_ref().is_none_or(contiguous)
        && w_ih.is_none_or(contiguous);
    let (input, w_hh, h0) = match input {
        Input::Projected(xp) => (Input::Projected(dense(xp)), dense(w_hh), dense(h0)),
        Input::Rows { x, w_ih, bias } => (
            Input::Rows {
                x: dense(x),
                w_ih: dense(w_ih),
                bias: bias.map(dense),
            },
            dense(w_hh),
            dense(h0),
        ),
    };
    let (b_hn, w_hr, c0) = (b_hn.map(dense), w_hr.map(dense), c0.map(dense));
    let (xp, w_ih) = match &input {
        Input::Projected(xp) => (Xp::Given(slice(xp)), None),
        Input::Rows { x, w_ih, bias } => (
            Xp::Project {
                x: slice(x),
                d_in: x.shape()[2],
                bias: bias.as_ref().map(slice),
            },
            Some(w_ih),
        ),
    };
    let weights = Weights {
        w_hh: slice(&w_hh),
        b_hn: b_hn.as_ref().map(slice),
        w_hr: w_hr.as_ref().map(slice),
        w_ih: w_ih.map(slice),
    };
    let pack = || forward::pack(&dims, spec.cell, &weights);
    let packed = if cacheable {
        let key = cache::Key {
            w_hh: &w_hh,
            w_hr: w_hr.as_ref(),
            w_ih,
            parallel: dims.split_units,
        };
        WEIGHTS.packed(key, pack)
    } else {
        Arc::new(pack())
    };
    let out = forward(
        &dims,
        &spec,
        weights,
        &packed,
        xp,
        slice(&h0),
        c0.as_ref().map(slice),
    );
    let (batch, hidden, d_out) = (dims.batch, dims.hidden, dims.d_out);
    let layout = SavedLayout::new(spec.cell, hidden, d_out, w_hr.is_some());
    (
        tensor(out.y, &dims.shape(d_out)),
        tensor(out.h, &[batch, d_out]),
        out.c.map(|c| tensor(c, &[batch, dims.c_width])),
        out.saved.map(|s| tensor(s, &dims.shape(layout.width()))),
    )
}

/// Sizes of one call.
#[derive(Clone, Copy)]
pub(super) struct Dims {
    pub time: usize,
    pub batch: usize,
    pub hidden: usize,
    pub d_out: usize,
    /// Width of a row of the state carried next to `h` (`c`, or the sLSTM's `[c | n | m]`).
    pub c_width: usize,
    /// Whether the `[·, ·, W]` buffers (`xp`, `y`, `saved`, `dy`, `d_xp`) are `[B, T, W]`.
    pub batch_first: bool,
    /// Whether every step splits its hidden units over two cores (see `parts.rs`).
    pub split_units: bool,
    /// Whether the call runs as two calls on the two halves of the batch, a core each and
    /// with no synchronisation per step (batch-first calls, whose halves are contiguous).
    pub split_batch: bool,
}

impl Dims {
    /// The sizes of a call whose `[·, ·, W]` input has `shape` (in `spec`'s order), and how it
    /// uses the cores: a call with enough work per step takes both, by halves of the batch
    /// where it is batch-first with 8 rows or more and several steps, else by halves of the
    /// hidden units.
    fn new(shape: &[usize], hidden: usize, d_out: usize, spec: &ScanSpec) -> Self {
        let (time, batch) = if spec.batch_first {
            (shape[1], shape[0])
        } else {
            (shape[0], shape[1])
        };
        let two = batch * spec.cell.gates() * hidden * d_out >= PARALLEL_WORK
            && parts::cores() >= 2
            && !parts::held_to_one_core();
        // A single step (generation) keeps the unit split: its helper thread would start with
        // an empty scratch pool on every call.
        let split_batch = two && spec.batch_first && batch >= 8 && time > 1;
        Self {
            time,
            batch,
            hidden,
            d_out,
            c_width: spec.cell.state_units() * hidden,
            batch_first: spec.batch_first,
            split_units: two && !split_batch,
            split_batch,
        }
    }

    /// The two halves of a `split_batch` call: the rows before `mid` and from it, each run on
    /// one core.
    fn halves(&self, spec: &ScanSpec) -> (usize, [(Dims, ScanSpec); 2]) {
        let mid = self.batch / 2;
        let half = |rows: std::ops::Range<usize>| {
            let dims = Dims {
                batch: rows.len(),
                split_units: false,
                split_batch: false,
                ..*self
            };
            let spec = ScanSpec {
                lengths: spec.lengths.as_ref().map(|l| Arc::from(&l[rows])),
                ..spec.clone()
            };
            (dims, spec)
        };
        (mid, [half(0..mid), half(mid..self.batch)])
    }

    /// Row of step `t`, batch entry `b` in a `[·, ·, W]` buffer.
    pub fn row(&self, t: usize, b: usize) -> usize {
        if self.batch_first {
            b * self.time + t
        } else {
            t * self.batch + b
        }
    }

    /// Rows between batch entries `b` and `b + 1` of one step.
    pub fn b_stride(&self) -> usize {
        if self.batch_first { self.time } else { 1 }
    }

    /// The shape of a `[·, ·, width]` buffer.
    fn shape(&self, width: usize) -> [usize; 3] {
        if self.batch_first {
            [self.batch, self.time, width]
        } else {
            [self.time, self.batch, width]
        }
    }
}

/// The recurrent weights, row-major as PyTorch stores them.
pub(super) struct Weights<'a> {
    /// `[G·H, H_out]`.
    pub w_hh: &'a [f32],
    /// `[H]`.
    pub b_hn: Option<&'a [f32]>,
    /// `[P, H]`.
    pub w_hr: Option<&'a [f32]>,
    /// `[G·H, d_in]`, where the op projects its input itself.
    pub w_ih: Option<&'a [f32]>,
}
