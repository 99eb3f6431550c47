//! Seeing inside a recurrent stack: [`Recurrent::trace`] runs a batch and keeps, for every layer
//! and direction, the hidden and cell state and every gate's activation at every step, and
//! lets the caller read `‖∂L/∂h_t‖`, the gradient of a loss of their choice with respect to
//! each step's hidden state ([`StackTrace::hidden_grad_norms`]).
//!
//! A trace runs the tensor-op time loop one step at a time (the min cells their sequential
//! form), never the fused op, so an untraced forward pays nothing for it. To read the gradient
//! at every step, each step's new hidden state gets a zero leaf added (a *probe*): the output is
//! unchanged, and the probe's gradient after `backward` is `∂L/∂h_t`, through every later step.
//!
//! ```no_run
//! use burn::prelude::*;
//! use rnnlab_models::{CellType, RecurrentConfig};
//!
//! let device = Device::flex().autodiff();
//! let stack = RecurrentConfig::new(CellType::Lstm, 4, 16).with_n_layers(2).init(&device);
//! let x = Tensor::<3>::zeros([1, 50, 4], &device); // [B, T, d_input]
//! let trace = stack.trace(x, None, None);
//! let forget = trace.layers[0].gate("f").unwrap(); // [B, T, H], in (0, 1)
//! // A loss at the last step; how far back does its gradient reach?
//! let grads = trace.output.clone().narrow(1, 49, 1).sum().backward();
//! let norms = trace.hidden_grad_norms(&grads); // [layer][t]
//! ```

use burn::Tensor;

use crate::lengths::StepMasks;
use crate::recurrent::Recurrent;
use crate::state::RecurrentState;
use crate::time_loop::Recorded;

/// What a trace kept of one layer and direction, batch-first `[B, T, ·]` whatever the stack's
/// layout. Past a row's length `hidden` is zero, as the stack's output is, and the gates and
/// the cell hold what the step computed and discarded: read them for `t < length` only.
#[derive(Clone, Debug)]
pub struct LayerTrace {
    /// The layer, from 0.
    pub layer: usize,
    /// 0 forward, 1 the time-reversed direction.
    pub direction: usize,
    /// The new hidden state of every step, `[B, T, H_out]`.
    pub hidden: Tensor<3>,
    /// The new cell state of every step, `[B, T, H]`: the LSTM's and the sLSTM's `c`; `None`
    /// for the other cells.
    pub cell: Option<Tensor<3>>,
    /// Every gate's activation at every step, `[B, T, H]` each, by name in the cell's order:
    /// LSTM `i f g o` (`g` the tanh candidate), GRU `r z n` (`n` the candidate), sLSTM
    /// `i f z o` (`i` the stabilised input gate `e^(ĩ − m')`, `f` the forget gate `σ(f̃)`),
    /// minGRU `z`, minLSTM `f` (the normalised forget gate; the input gate is `1 − f`); none for
    /// the Elman RNN.
    pub gates: Vec<(&'static str, Tensor<3>)>,
    /// One zero leaf per step `[H_out, B]` added to the new hidden state (autodiff devices
    /// only).
    pub(crate) probes: Vec<Tensor<2>>,
}

impl LayerTrace {
    /// The activation of gate `name` (see [`gates`](Self::gates)), `[B, T, H]`.
    pub fn gate(&self, name: &str) -> Option<Tensor<3>> {
        self.gates
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, g)| g.clone())
    }
}

/// What [`Recurrent::trace`] returns.
#[derive(Clone, Debug)]
pub struct StackTrace {
    /// The stack's output, as [`Recurrent::forward`] returns it (its layout, zero past each
    /// row's length); differentiable.
    pub output: Tensor<3>,
    /// The final state, as [`Recurrent::forward`] returns it.
    pub state: RecurrentState,
    /// Every layer and direction, indexed `layer · D + direction`.
    pub layers: Vec<LayerTrace>,
    /// Each row's length (all `T` without lengths).
    pub lengths: Vec<usize>,
    /// Whether [`output`](Self::output) is `[B, T, ·]` (else `[T, B, ·]`).
    pub(crate) batch_first: bool,
}

impl StackTrace {
    /// Batch row `row` alone (`[1, T, ·]` tensors), for reading its states and gates. It has
    /// no gradient probes: take its gradient norms from the whole trace's
    /// [`hidden_grad_norms_by_row`](Self::hidden_grad_norms_by_row).
    ///
    /// # Panics
    /// If `row` is not a row of the trace.
    pub fn row(&self, row: usize) -> StackTrace {
        assert!(
            row < self.lengths.len(),
            "row {row} of {} rows",
            self.lengths.len()
        );
        let pick = |t: &Tensor<3>| t.clone().narrow(0, row, 1);
        let batch_dim = usize::from(!self.batch_first);
        let output = self.output.clone().narrow(batch_dim, row, 1);
        let state_row = |t: &Tensor<3>| t.clone().narrow(1, row, 1);
        StackTrace {
            output,
            state: RecurrentState {
                hidden: state_row(&self.state.hidden),
                cell: self.state.cell.as_ref().map(state_row),
            },
            layers: self
                .layers
                .iter()
                .map(|l| LayerTrace {
                    layer: l.layer,
                    direction: l.direction,
                    hidden: pick(&l.hidden),
                    cell: l.cell.as_ref().map(pick),
                    gates: l.gates.iter().map(|(n, g)| (*n, pick(g))).collect(),
                    probes: Vec::new(),
                })
                .collect(),
            lengths: vec![self.lengths[row]],
            batch_first: self.batch_first,
        }
    }

    /// `‖∂L/∂h_t‖` for every layer-direction (outer, indexed like [`layers`](Self::layers))
    /// and step `t` (inner), from the gradients of a loss computed from
    /// [`output`](Self::output) (or [`state`](Self::state)): the Euclidean norm over the
    /// units, averaged over the rows whose length includes `t` (0 where none does, and where
    /// the loss does not depend on the step).
    ///
    /// # Panics
    /// If the trace ran on a device without autodiff (it has no probes to read).
    #[cfg(feature = "autodiff")]
    pub fn hidden_grad_norms(&self, grads: &burn::tensor::Gradients) -> Vec<Vec<f64>> {
        self.hidden_grad_norms_by_row(grads)
            .into_iter()
            .map(|steps| {
                steps
                    .iter()
                    .enumerate()
                    .map(|(t, rows)| {
                        let valid: Vec<f64> = rows
                            .iter()
                            .zip(&self.lengths)
                            .filter(|&(_, &len)| t < len)
                            .map(|(&n, _)| n)
                            .collect();
                        if valid.is_empty() {
                            0.0
                        } else {
                            valid.iter().sum::<f64>() / valid.len() as f64
                        }
                    })
                    .collect()
            })
            .collect()
    }

    /// `‖∂L/∂h_t‖` of every row: `[layer-direction][t][row]` (see
    /// [`hidden_grad_norms`](Self::hidden_grad_norms), which averages it over the rows), for a
    /// caller that aligns rows of different lengths itself (by distance from each row's end).
    ///
    /// # Panics
    /// If the trace ran on a device without autodiff.
    #[cfg(feature = "autodiff")]
    pub fn hidden_grad_norms_by_row(&self, grads: &burn::tensor::Gradients) -> Vec<Vec<Vec<f64>>> {
        let rows = self.lengths.len();
        self.layers
            .iter()
            .map(|layer| {
                assert!(
                    !layer.probes.is_empty(),
                    "hidden_grad_norms needs a trace run on an autodiff device"
                );
                layer
                    .probes
                    .iter()
                    .map(|probe| match probe.grad(grads) {
                        Some(grad) => grad
                            .powi_scalar(2)
                            .sum_dim(0)
                            .sqrt()
                            .into_data()
                            .convert::<f64>()
                            .try_to_vec()
                            .expect("f64 values"),
                        None => vec![0.0; rows],
                    })
                    .collect()
            })
            .collect()
    }
}

/// Per-step column-layout tensors `[F, B]` in time order → `[B, T, F]`.
pub(crate) fn batch_first(steps: Vec<Tensor<2>>) -> Tensor<3> {
    Tensor::stack::<3>(steps, 0).permute([2, 0, 1])
}

impl Recurrent {
    /// Runs `input` like [`forward`](Self::forward) (or, with `lengths`,
    /// [`forward_with_lengths`](Self::forward_with_lengths)) and keeps every step of every
    /// layer and direction (see the [module docs](crate::trace)).
    ///
    /// - `input`: `[B, T, d_input]` (`[T, B, d_input]` when not batch-first);
    /// - `lengths`: one per row, each in `1..=T`; `state`: as in `forward`.
    ///
    /// The trace's tensors are batch-first `[B, T, ·]`. The regularisers act as in `forward`
    /// (a trace of a model in validation mode has none).
    pub fn trace(
        &self,
        input: Tensor<3>,
        lengths: Option<&[usize]>,
        state: Option<RecurrentState>,
    ) -> StackTrace {
        let meta = &self.meta;
        let [time, batch] = match input.dims() {
            [b, t, _] if meta.batch_first => [t, b],
            [t, b, _] => [t, b],
        };
        let lengths_vec = lengths.map_or_else(|| vec![time; batch], <[usize]>::to_vec);
        if let Some(min) = &self.min {
            let input = self.drop_sequence(input, meta.regular.input_dropout);
            let (output, hidden, layers) = min.trace(input, lengths, state.map(|s| s.hidden));
            let output = self.drop_sequence(output, meta.regular.output_dropout);
            return StackTrace {
                output,
                state: RecurrentState::hidden(hidden),
                layers,
                lengths: lengths_vec,
                batch_first: meta.batch_first,
            };
        }
        let device = input.device();
        let training = self.training(&device);
        let input = self.drop_sequence(input, meta.regular.input_dropout);
        let input = if meta.batch_first {
            input.swap_dims(0, 1)
        } else {
            input
        };
        assert_eq!(
            input.dims()[2],
            meta.d_input,
            "input has {} features, expected {}",
            input.dims()[2],
            meta.d_input
        );
        if let Some(l) = lengths {
            assert_eq!(l.len(), batch, "{} lengths for a batch of {batch}", l.len());
            assert!(
                l.iter().all(|&l| (1..=time).contains(&l)),
                "every length must be in 1..={time}, got {l:?}"
            );
        }
        let (h0, c0) = self.initial_states(state, batch, &device);
        let masks = lengths.and_then(|l| StepMasks::new(l, time, &device));
        let (output, state, recorded) =
            self.tensor_op_layers(input, &h0, &c0, masks.as_ref(), training, true);
        let layers = recorded
            .into_iter()
            .enumerate()
            .map(|(index, (outputs, r))| {
                let Recorded {
                    gates,
                    cells,
                    probes,
                } = r;
                layer_trace(
                    [index / meta.directions, index % meta.directions],
                    batch_first(outputs),
                    gates,
                    cells,
                    probes,
                )
            })
            .collect();
        StackTrace {
            output,
            state,
            layers,
            lengths: lengths_vec,
            batch_first: meta.batch_first,
        }
    }
}

/// One layer-direction's trace from what its loop recorded (per step, column layout) and its
/// outputs `hidden` `[B, T, H_out]`.
pub(crate) fn layer_trace(
    [layer, direction]: [usize; 2],
    hidden: Tensor<3>,
    gates: Vec<crate::cell::StepGates>,
    cells: Vec<Tensor<2>>,
    probes: Vec<Tensor<2>>,
) -> LayerTrace {
    let names: Vec<&'static str> = gates
        .first()
        .map(|g| g.iter().map(|(n, _)| *n).collect())
        .unwrap_or_default();
    let gates = names
        .iter()
        .enumerate()
        .map(|(k, &name)| {
            let steps = gates.iter().map(|g| g[k].1.clone()).collect();
            (name, batch_first(steps))
        })
        .collect();
    LayerTrace {
        layer,
        direction,
        hidden,
        cell: (!cells.is_empty()).then(|| batch_first(cells)),
        gates,
        probes,
    }
}

#[cfg(test)]
mod tests;
