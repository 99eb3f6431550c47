//! The time loop of one direction of one layer: the single replaceable unit of the stack.
//!
//! [`LayerScan`] is the interface; [`FusedScan`] is the implementation built from burn tensor
//! ops. A whole-layer recurrent op (hand-written backward through time, fused GPU kernels) can
//! replace it without touching the stack, the configs or the weight import.
//!
//! Design of [`FusedScan`] (see BENCHMARKS.md for the measurements behind it):
//! - the input projection of the whole sequence is one matrix multiply before the loop;
//! - each step does one recurrent matmul and the gate math on the fused `[B, G·H]` tensor;
//! - the projected sequence is split into per-step tensors by a balanced tree of `narrow`s
//!   ([`split_time`]). burn's backward of a slice writes a gradient as large as the sliced
//!   tensor, so `T` slices of one `[T, B, G·H]` tensor cost O(T²) memory traffic; the tree makes
//!   it O(T log T) with small constants;
//! - outputs are collected in a `Vec` and joined by one `stack` (whose backward is O(T)).

use burn::Tensor;

use crate::cell::{CellKind, cell_step};
use crate::lengths::StepMasks;
use crate::params::DirectionParams;

/// Everything one direction of one layer needs for a whole sequence.
pub(crate) struct ScanInput<'a> {
    /// The cell type.
    pub kind: CellKind,
    /// The direction's parameters.
    pub params: &'a DirectionParams,
    /// Time-major input `[T, B, d_in]`.
    pub input: Tensor<3>,
    /// Initial hidden state `[B, H_out]`.
    pub h0: Tensor<2>,
    /// Initial cell state `[B, H]` (LSTM only).
    pub c0: Option<Tensor<2>>,
    /// Per-step validity masks for variable-length batches.
    pub masks: Option<&'a StepMasks>,
    /// Run from the last step to the first.
    pub reverse: bool,
}

/// What a scan returns.
pub(crate) struct ScanOutput {
    /// Time-major outputs `[T, B, H_out]` (zero past each sequence's length).
    pub output: Tensor<3>,
    /// Final hidden state `[B, H_out]`, taken at each sequence's own last step.
    pub h_n: Tensor<2>,
    /// Final cell state `[B, H]` (LSTM only).
    pub c_n: Option<Tensor<2>>,
}

/// The time loop of one direction of one layer.
pub(crate) trait LayerScan {
    /// Runs the recurrence over the whole sequence.
    fn scan(&self, input: ScanInput<'_>) -> ScanOutput;
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

/// The tensor-op implementation of [`LayerScan`].
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct FusedScan;

impl LayerScan for FusedScan {
    fn scan(&self, input: ScanInput<'_>) -> ScanOutput {
        let ScanInput {
            kind,
            params,
            input,
            h0,
            c0,
            masks,
            reverse,
        } = input;
        let [time, batch, d_in] = input.dims();

        let (w_ih_t, bias) = params.input_projection(kind);
        let mut projected = input.reshape([time * batch, d_in]).matmul(w_ih_t);
        if let Some(bias) = bias {
            projected = projected + bias.unsqueeze_dim(0);
        }
        let gh = projected.dims()[1];
        let steps: Vec<Tensor<2>> = split_time(projected.reshape([time, batch, gh]));

        let weights = params.step_weights(kind);
        let (mut h, mut c) = (h0, c0);
        let mut outputs: Vec<Tensor<2>> = Vec::with_capacity(time);
        let order: Box<dyn Iterator<Item = (usize, Tensor<2>)>> = if reverse {
            Box::new(steps.into_iter().enumerate().rev())
        } else {
            Box::new(steps.into_iter().enumerate())
        };
        for (t, x_t) in order {
            let (h_new, c_new) = cell_step(kind, &weights, x_t, h.clone(), c.clone());
            match masks {
                None => {
                    outputs.push(h_new.clone());
                    h = h_new;
                    c = c_new;
                }
                Some(masks) => {
                    let (y, h_next, c_next) = masks.apply(t, h_new, h, c_new, c);
                    outputs.push(y);
                    h = h_next;
                    c = c_next;
                }
            }
        }
        if reverse {
            outputs.reverse();
        }
        ScanOutput {
            output: Tensor::stack(outputs, 0),
            h_n: h,
            c_n: c,
        }
    }
}
