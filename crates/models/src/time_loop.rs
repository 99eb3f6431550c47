//! The time loop of one direction of one layer: the single replaceable unit of the stack.
//!
//! [`LayerLoop`] is the interface; [`TensorOpLoop`] is the implementation built from burn tensor
//! ops. The stack runs the whole-layer op (`op/`) instead wherever the device has it; this loop
//! is the fallback for other backends and a second implementation the tests hold against the
//! reference.
//!
//! Design of [`TensorOpLoop`] (see BENCHMARKS.md for the measurements behind it):
//! - layers pass their sequences as per-step tensors, so no per-step slice of a big tensor is
//!   ever taken between layers: burn's backward of a slice writes a gradient as large as the
//!   sliced tensor, which made a hoisted `[T, B, G·H]` input projection cost more to split
//!   (64 ms per layer for the charlm shape, even through a tree of slices) than it saved;
//! - each step does one input matmul, one recurrent matmul and the gate math on fused
//!   `[G·H, B]` tensors in column layout (each gate a contiguous block of rows);
//! - only the network input is split, once, by a balanced tree of `narrow`s ([`split_time`]),
//!   which keeps its backward O(T log T) and cheap because `d_input` is small;
//! - outputs are joined by one `stack` at the very end (whose backward is O(T)).

use burn::Tensor;

use crate::cell::{CellKind, StepGates, cell_step};
use crate::lengths::StepMasks;
use crate::params::DirectionParams;
use crate::regularise;

/// Everything one direction of one layer needs for a whole sequence, in column layout
/// (`[features, B]` per step; see [`StepWeights`](crate::cell::StepWeights)).
pub(crate) struct LoopInput<'a> {
    /// The cell type.
    pub kind: CellKind,
    /// The direction's parameters.
    pub params: &'a DirectionParams,
    /// Per-step inputs `[d_in, B]`, in time order.
    pub inputs: &'a [Tensor<2>],
    /// Initial hidden state `[H_out, B]`.
    pub h0: Tensor<2>,
    /// Initial cell state `[H, B]` (LSTM only).
    pub c0: Option<Tensor<2>>,
    /// Per-step validity masks for variable-length batches.
    pub masks: Option<&'a StepMasks>,
    /// Run from the last step to the first.
    pub reverse: bool,
    /// The direction's `W_hh` for this call (with weight drop's mask, where it acts).
    pub w_hh: Tensor<2>,
    /// Zoneout on `h` and `c`.
    pub zoneout: f64,
    /// Whether the regularisers act (see [`regularise`](crate::regularise)).
    pub training: bool,
    /// Whether to record every step for a trace ([`Recorded`]).
    pub record: bool,
}

/// What a traced loop records of every step (in time order, column layout).
pub(crate) struct Recorded {
    /// The gate activations of each step.
    pub gates: Vec<StepGates>,
    /// The cell state after each step, `[H, B]` (LSTM `c`; the sLSTM's `c`, its first third).
    pub cells: Vec<Tensor<2>>,
    /// On an autodiff device: a zero leaf added to each step's new hidden state, whose
    /// gradient is `∂L/∂h_t`.
    pub probes: Vec<Tensor<2>>,
}

/// What the loop returns, in column layout.
pub(crate) struct LoopOutput {
    /// Per-step outputs `[H_out, B]` in time order (zero past each sequence's length).
    pub outputs: Vec<Tensor<2>>,
    /// Final hidden state `[H_out, B]`, taken at each sequence's own last step.
    pub h_n: Tensor<2>,
    /// Final cell state `[H, B]` (LSTM only).
    pub c_n: Option<Tensor<2>>,
    /// Every step, where the input asked for it.
    pub recorded: Option<Recorded>,
}

/// The time loop of one direction of one layer.
pub(crate) trait LayerLoop {
    /// Runs the recurrence over the whole sequence.
    fn run(&self, input: LoopInput<'_>) -> LoopOutput;
}

/// Branching factor of the time split (see [`split_time`]).
const SPLIT_FANOUT: usize = 4;

/// Splits `[T, ...]` into `T` tensors `[...]` through a balanced tree of `narrow`s.
///
/// The backward of every `narrow` allocates a gradient of its parent's size; with a fan-out of
/// `F` each tree level moves about `F` times the whole tensor, for `log_F T` levels, instead of
/// `T` times for `T` direct slices.
pub(crate) fn split_time<const D: usize, const D2: usize>(x: Tensor<D>) -> Vec<Tensor<D2>> {
    let len = x.dims()[0];
    let mut out = Vec::with_capacity(len);
    split_into(x, len, &mut out);
    out
}

fn split_into<const D: usize, const D2: usize>(
    x: Tensor<D>,
    len: usize,
    out: &mut Vec<Tensor<D2>>,
) {
    if len <= SPLIT_FANOUT {
        for t in 0..len {
            out.push(x.clone().narrow(0, t, 1).squeeze_dim(0));
        }
        return;
    }
    let chunk = len.div_ceil(SPLIT_FANOUT);
    let mut start = 0;
    while start < len {
        let size = chunk.min(len - start);
        split_into(x.clone().narrow(0, start, size), size, out);
        start += size;
    }
}

/// The tensor-op implementation of [`LayerLoop`].
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct TensorOpLoop;

impl LayerLoop for TensorOpLoop {
    fn run(&self, input: LoopInput<'_>) -> LoopOutput {
        let LoopInput {
            kind,
            params,
            inputs,
            h0,
            c0,
            masks,
            reverse,
            w_hh,
            zoneout,
            training,
            record,
        } = input;
        let time = inputs.len();
        let mut weights = params.step_weights(kind);
        weights.w_hh = w_hh;
        let zone = |new, prev| regularise::zoneout(new, prev, zoneout, training);
        let (mut h, mut c) = (h0, c0);
        let mut outputs: Vec<Option<Tensor<2>>> = vec![None; time];
        let slots =
            || -> Vec<Option<Tensor<2>>> { if record { vec![None; time] } else { Vec::new() } };
        let (mut cells, mut probes) = (slots(), slots());
        let mut gates: Vec<Option<StepGates>> = if record { vec![None; time] } else { Vec::new() };
        let hidden = weights.d_hidden;
        let order: Box<dyn Iterator<Item = usize>> = if reverse {
            Box::new((0..time).rev())
        } else {
            Box::new(0..time)
        };
        for t in order {
            let mut step_gates = Vec::new();
            let (mut h_new, c_new) = cell_step(
                kind,
                &weights,
                inputs[t].clone(),
                h.clone(),
                c.clone(),
                record.then_some(&mut step_gates),
            );
            if record {
                if h_new.device().is_autodiff() {
                    let probe = h_new.zeros_like().require_grad();
                    h_new = h_new + probe.clone();
                    probes[t] = Some(probe);
                }
                gates[t] = Some(step_gates);
                cells[t] = c_new.as_ref().map(|c| c.clone().narrow(0, 0, hidden));
            }
            let h_new = zone(h_new, h.clone());
            let c_new = c_new.zip(c.clone()).map(|(new, prev)| zone(new, prev));
            let (y, h_next, c_next) = match masks {
                None => (h_new.clone(), h_new, c_new),
                Some(masks) => masks.apply(t, h_new, h, c_new, c),
            };
            outputs[t] = Some(y);
            h = h_next;
            c = c_next;
        }
        LoopOutput {
            outputs: outputs
                .into_iter()
                .map(|y| y.expect("every step ran"))
                .collect(),
            h_n: h,
            c_n: c,
            recorded: record.then(|| Recorded {
                gates: gates.into_iter().flatten().collect(),
                cells: cells.into_iter().flatten().collect(),
                probes: probes.into_iter().flatten().collect(),
            }),
        }
    }
}
