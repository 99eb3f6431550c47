//! [`Recurrent`]: the config-driven stack (any cell, layers, directions, dropout, lengths) that
//! [`Rnn`](crate::Rnn), [`Lstm`](crate::Lstm) and [`Gru`](crate::Gru) wrap and experiment
//! files build directly.
//!
//! (Over 400 lines: the stack's config, its validation and both forward paths (the op, the tensor-
//! op loop) share the parameter layout and stay together.)

use burn::Tensor;
use burn::config::Config;
use burn::module::Module;
use burn::nn::{Dropout, DropoutConfig};
use burn::prelude::Device;

use std::sync::Arc;

use crate::cell::{CellKind, CellType, Nonlinearity, RecurrentNorm, cell_step};
use crate::error::ConfigError;
use crate::lengths::StepMasks;
use crate::min_rnn::{MinRnn, MinRnnConfig};
use crate::op::{self, LayerTensors, OpOptions};
use crate::params::{DirectionParams, DirectionSpec, RecurrentInit, head_mask};
use crate::regularise::{self, DropoutKind, StackRegularisers};
use crate::state::RecurrentState;
use crate::time_loop::{LayerLoop, LoopInput, Recorded, TensorOpLoop, split_time};

/// Configuration of a [`Recurrent`] stack. Field names mirror PyTorch's `nn.RNN`/`nn.LSTM`/
/// `nn.GRU` constructors; in TOML, `cell = "lstm"`.
#[derive(Config, Debug)]
pub struct RecurrentConfig {
    /// The cell: `rnn`, `lstm`, `gru`, `slstm`, `mingru` or `minlstm`.
    pub cell: CellType,
    /// Size of each input step (PyTorch's `input_size`).
    pub d_input: usize,
    /// Hidden size `H` (PyTorch's `hidden_size`).
    pub d_hidden: usize,
    /// Number of stacked layers (PyTorch's `num_layers`).
    #[config(default = 1)]
    pub n_layers: usize,
    /// Whether the layers have the biases `b_ih` and `b_hh`.
    #[config(default = true)]
    pub bias: bool,
    /// Input and output are `[B, T, ·]` when true, `[T, B, ·]` when false. Unlike PyTorch the
    /// default is batch-first, as in burn.
    #[config(default = true)]
    pub batch_first: bool,
    /// Dropout probability on the outputs of every layer but the last, in training only.
    #[config(default = 0.0)]
    pub dropout: f64,
    /// Runs a second, time-reversed direction per layer and concatenates both outputs.
    #[config(default = false)]
    pub bidirectional: bool,
    /// LSTM only: projects the hidden state to this size (`0` = no projection).
    #[config(default = 0)]
    pub proj_size: usize,
    /// RNN only: `tanh` or `relu`.
    #[config(default = "Nonlinearity::Tanh")]
    pub nonlinearity: Nonlinearity,
    /// Initialisation of the recurrent weights `W_hh`.
    #[config(default = "RecurrentInit::Uniform")]
    pub recurrent_init: RecurrentInit,
    /// LSTM and sLSTM: initial value of the forget-gate bias (`b_ih + b_hh`), e.g. `1.0`;
    /// `None` keeps PyTorch's uniform initialisation.
    #[config(default = "None")]
    pub forget_bias: Option<f64>,
    /// How `input_dropout`, `dropout` and `output_dropout` draw their masks: `Standard` (per
    /// element and step) or `Variational` (one mask per sequence; see [`crate::regularise`]).
    #[config(default = "DropoutKind::Standard")]
    pub dropout_kind: DropoutKind,
    /// Dropout probability on the stack's input, in training only.
    #[config(default = 0.0)]
    pub input_dropout: f64,
    /// Dropout probability on the stack's output sequence, in training only (the final states
    /// are not dropped).
    #[config(default = 0.0)]
    pub output_dropout: f64,
    /// Weight drop (DropConnect) on every `W_hh`: each element dropped with this probability,
    /// one mask per forward call, in training only (rnn, lstm, gru).
    #[config(default = 0.0)]
    pub weight_drop: f64,
    /// Layer normalisation inside the LSTM and GRU cells ([`RecurrentNorm`]; not with
    /// `proj_size`). A normalised stack runs the tensor-op time loop, not the fused op.
    #[config(default = "RecurrentNorm::None")]
    pub norm: RecurrentNorm,
    /// Zoneout on `h` (and `c`): each unit keeps its previous value with this probability at
    /// every step in training, and mixes by it at inference (rnn, lstm, gru). A stack with
    /// zoneout runs the tensor-op time loop, not the fused op.
    #[config(default = 0.0)]
    pub zoneout: f64,
    /// sLSTM only: `W_hh` is block-diagonal with this many heads, as in xLSTM (each head's
    /// units read only that head's previous state; `d_hidden` must be a multiple). 1 = dense.
    #[config(default = 1)]
    pub heads: usize,
}

/// Shape information a [`Recurrent`] stack keeps next to its parameters.
#[derive(Clone, Debug)]
pub(crate) struct StackMeta {
    pub cell: CellType,
    pub kind: CellKind,
    pub d_input: usize,
    pub d_hidden: usize,
    pub n_layers: usize,
    pub directions: usize,
    pub proj_size: usize,
    pub batch_first: bool,
    pub time_loop: TimeLoop,
    pub regular: StackRegularisers,
    /// sLSTM: heads of the block-diagonal `W_hh` (1 = dense).
    pub heads: usize,
    /// Each cell's `W_hh` with a weight-drop mask drawn once for many calls
    /// ([`Recurrent::with_weight_drop_drawn`]); `None`: every call draws its own.
    pub drawn_w_hh: Option<Vec<Tensor<2>>>,
}

/// Which implementation runs the time loop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TimeLoop {
    /// The whole-layer op (`op/`) where the device has it, else the tensor-op loop.
    Auto,
    /// Always the tensor-op loop of `time_loop.rs` (kept as a second implementation to test against).
    TensorOps,
}

impl StackMeta {
    /// Size of the recurrent state and of each direction's output.
    pub fn d_out(&self) -> usize {
        if self.proj_size > 0 {
            self.proj_size
        } else {
            self.d_hidden
        }
    }
}

/// A stack of recurrent layers (any cell), possibly bidirectional, with dropout between layers
/// and PyTorch's packed-sequence semantics for variable lengths.
#[derive(Module, Debug)]
pub struct Recurrent {
    /// Parameters of each layer and direction, indexed `layer · D + direction` like PyTorch
    /// (none for a min cell).
    pub cells: Vec<DirectionParams>,
    /// A minGRU/minLSTM stack (`cell = "mingru" | "minlstm"`), which runs instead of `cells`.
    pub min: Option<MinRnn>,
    /// Dropout between layers.
    pub dropout: Dropout,
    #[module(skip)]
    pub(crate) meta: StackMeta,
}

impl RecurrentConfig {
    /// Checks every value; the error names the key and what was expected.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let err = |key, message: &str| {
            Err(ConfigError {
                key,
                message: message.to_string(),
            })
        };
        if self.d_input == 0 {
            return err("d_input", "must be at least 1");
        }
        if self.d_hidden == 0 {
            return err("d_hidden", "must be at least 1");
        }
        if self.n_layers == 0 {
            return err("n_layers", "must be at least 1");
        }
        for (key, p) in [
            ("dropout", self.dropout),
            ("input_dropout", self.input_dropout),
            ("output_dropout", self.output_dropout),
            ("weight_drop", self.weight_drop),
            ("zoneout", self.zoneout),
        ] {
            if !(0.0..1.0).contains(&p) {
                return err(key, &format!("must be in [0, 1), got {p}"));
            }
        }
        if self.norm == RecurrentNorm::Layer {
            if !matches!(self.cell, CellType::Lstm | CellType::Gru) {
                return err("norm", "only the lstm and gru cells have \"layer\"");
            }
            if self.proj_size > 0 {
                return err("norm", "\"layer\" does not combine with proj_size");
            }
        }
        if self.heads == 0 {
            return err("heads", "must be at least 1");
        }
        if self.heads > 1 {
            if self.cell != CellType::Slstm {
                return err("heads", "only the slstm cell has heads (leave it 1)");
            }
            if !self.d_hidden.is_multiple_of(self.heads) {
                return err(
                    "heads",
                    &format!(
                        "must divide d_hidden ({}), got {}",
                        self.d_hidden, self.heads
                    ),
                );
            }
        }
        if self.cell == CellType::Slstm && self.zoneout > 0.0 {
            return err(
                "zoneout",
                "the slstm cell does not support it (rnn, lstm and gru do)",
            );
        }
        if self.cell.min_cell().is_some() {
            if self.weight_drop > 0.0 {
                return err(
                    "weight_drop",
                    "the min cells have no recurrent weights to drop",
                );
            }
            if self.zoneout > 0.0 {
                return err(
                    "zoneout",
                    "the min cells do not support it (rnn, lstm and gru do)",
                );
            }
        }
        if self.proj_size > 0 && self.cell != CellType::Lstm {
            return err("proj_size", "is only supported by the lstm cell");
        }
        if self.proj_size >= self.d_hidden && self.proj_size > 0 {
            return err(
                "proj_size",
                &format!("must be smaller than d_hidden ({})", self.d_hidden),
            );
        }
        if self.forget_bias.is_some() && !matches!(self.cell, CellType::Lstm | CellType::Slstm) {
            return err(
                "forget_bias",
                "is only supported by the lstm and slstm cells",
            );
        }
        if self.forget_bias.is_some() && !self.bias {
            return err("forget_bias", "needs bias = true");
        }
        if self.forget_bias.is_some_and(|b| !b.is_finite()) {
            return err("forget_bias", "must be finite");
        }
        if self.cell.min_cell().is_some() && self.recurrent_init != RecurrentInit::Uniform {
            return err(
                "recurrent_init",
                "the min cells have no recurrent weights (leave it \"uniform\")",
            );
        }
        Ok(())
    }

    /// Builds the stack, or says which key is invalid.
    pub fn try_init(&self, device: &Device) -> Result<Recurrent, ConfigError> {
        self.validate()?;
        let directions = if self.bidirectional { 2 } else { 1 };
        let Some(kind) = CellKind::new(self.cell, self.nonlinearity) else {
            return self.init_min(directions, device);
        };
        let d_out = if self.proj_size > 0 {
            self.proj_size
        } else {
            self.d_hidden
        };
        let cells = (0..self.n_layers)
            .flat_map(|layer| {
                let d_in = if layer == 0 {
                    self.d_input
                } else {
                    directions * d_out
                };
                let spec = DirectionSpec {
                    kind,
                    d_in,
                    d_hidden: self.d_hidden,
                    proj_size: self.proj_size,
                    bias: self.bias,
                    recurrent_init: self.recurrent_init,
                    forget_bias: self.forget_bias,
                    norm: self.norm,
                    heads: self.heads,
                };
                (0..directions).map(move |_| spec)
            })
            .map(|spec| spec.init(device))
            .collect();
        Ok(Recurrent {
            cells,
            min: None,
            dropout: DropoutConfig::new(self.dropout).init(),
            meta: StackMeta {
                cell: self.cell,
                kind,
                d_input: self.d_input,
                d_hidden: self.d_hidden,
                n_layers: self.n_layers,
                directions,
                proj_size: self.proj_size,
                batch_first: self.batch_first,
                time_loop: TimeLoop::Auto,
                regular: self.regularisers(),
                heads: self.heads,
                drawn_w_hh: None,
            },
        })
    }

    /// The regularisers this config asks for.
    fn regularisers(&self) -> StackRegularisers {
        StackRegularisers {
            input_dropout: self.input_dropout,
            output_dropout: self.output_dropout,
            kind: self.dropout_kind,
            weight_drop: self.weight_drop,
            zoneout: self.zoneout,
        }
    }

    /// A stack of min cells: its `MinRnn` does the work.
    fn init_min(&self, directions: usize, device: &Device) -> Result<Recurrent, ConfigError> {
        let cell = self.cell.min_cell().expect("a min cell");
        let min = MinRnnConfig::new(cell, self.d_input, self.d_hidden)
            .with_n_layers(self.n_layers)
            .with_batch_first(self.batch_first)
            .with_dropout(self.dropout)
            .with_dropout_kind(self.dropout_kind)
            .with_bidirectional(self.bidirectional)
            .with_bias(self.bias)
            .try_init(device)?;
        Ok(Recurrent {
            cells: Vec::new(),
            min: Some(min),
            dropout: DropoutConfig::new(self.dropout).init(),
            meta: StackMeta {
                cell: self.cell,
                // Never read: every path of a min stack goes through `min`.
                kind: CellKind::Gru,
                d_input: self.d_input,
                d_hidden: self.d_hidden,
                n_layers: self.n_layers,
                directions,
                proj_size: 0,
                batch_first: self.batch_first,
                time_loop: TimeLoop::Auto,
                regular: self.regularisers(),
                heads: 1,
                drawn_w_hh: None,
            },
        })
    }

    /// Builds the stack.
    ///
    /// # Panics
    /// On an invalid config, with the message of [`validate`](Self::validate); use
    /// [`try_init`](Self::try_init) to get it as an error.
    pub fn init(&self, device: &Device) -> Recurrent {
        self.try_init(device).unwrap_or_else(|e| panic!("{e}"))
    }
}

impl Recurrent {
    /// Runs the whole sequence.
    ///
    /// - `input`: `[B, T, d_input]` (`[T, B, d_input]` when not batch-first).
    /// - `state`: initial `hidden` `[L·D, B, H_out]` (and `cell` `[L·D, B, H]` for LSTM,
    ///   `[L·D, B, 3·H]` for sLSTM); zeros when `None`.
    ///
    /// Returns the last layer's outputs `[B, T, D·H_out]` (`[T, B, D·H_out]` when not
    /// batch-first) and the final state of every layer and direction, laid out like the input
    /// state.
    pub fn forward(
        &self,
        input: Tensor<3>,
        state: Option<RecurrentState>,
    ) -> (Tensor<3>, RecurrentState) {
        if let Some(min) = &self.min {
            let input = self.drop_sequence(input, self.meta.regular.input_dropout);
            let (out, h) = min.forward(input, state.map(|s| s.hidden));
            let out = self.drop_sequence(out, self.meta.regular.output_dropout);
            return (out, RecurrentState::hidden(h));
        }
        self.run(input, None, state)
    }

    /// Like [`forward`](Self::forward) for a padded batch of sequences of different lengths,
    /// with PyTorch's packed-sequence semantics: outputs past each length are zero, final
    /// states are taken at each sequence's own last step and the reverse direction starts
    /// there. `lengths` has one entry per batch row, each in `1..=T`, in any order.
    pub fn forward_with_lengths(
        &self,
        input: Tensor<3>,
        lengths: &[usize],
        state: Option<RecurrentState>,
    ) -> (Tensor<3>, RecurrentState) {
        if let Some(min) = &self.min {
            let input = self.drop_sequence(input, self.meta.regular.input_dropout);
            let (out, h) = min.forward_with_lengths(input, lengths, state.map(|s| s.hidden));
            let out = self.drop_sequence(out, self.meta.regular.output_dropout);
            return (out, RecurrentState::hidden(h));
        }
        self.run(input, Some(lengths), state)
    }

    /// One timestep of a unidirectional stack, for generation.
    ///
    /// - `input`: `[B, d_input]`; `state` as in [`forward`](Self::forward) (zeros when `None`).
    ///
    /// Returns the last layer's output `[B, H_out]` and the new state. Feeding a sequence one
    /// step at a time gives what [`forward`](Self::forward) gives for the whole sequence.
    ///
    /// # Panics
    /// If the stack is bidirectional (a reverse direction needs the whole sequence).
    pub fn step(
        &self,
        input: Tensor<2>,
        state: Option<RecurrentState>,
    ) -> (Tensor<2>, RecurrentState) {
        let meta = &self.meta;
        assert!(meta.directions == 1, "step() needs a unidirectional stack");
        let regular = meta.regular;
        let training = self.training(&input.device());
        // A step is a sequence of one: its masks are new at every call.
        let drop = |x: Tensor<2>, p: f64| regularise::dropout(x, p, regular.kind, 2, training);
        let input = drop(input, regular.input_dropout);
        if let Some(min) = &self.min {
            let (out, h) = min.step(input, state.map(|s| s.hidden));
            return (drop(out, regular.output_dropout), RecurrentState::hidden(h));
        }
        let [batch, d_input] = input.dims();
        assert_eq!(
            d_input, meta.d_input,
            "step(): input is [B, {d_input}], expected [B, {}]",
            meta.d_input
        );
        let (h0, c0) = self.initial_states(state, batch, &input.device());
        if self.uses_op(&input.device()) {
            // One step, in the stack's order (`[1, B, ·]` or `[B, 1, ·]`).
            let time_dim = usize::from(meta.batch_first);
            let input = input.unsqueeze_dim(time_dim);
            let (y, hs, cs) = self.run_op(input, 1, None, h0, c0, training);
            let y = drop(y.squeeze_dim(time_dim), regular.output_dropout);
            return (y, self.pack_state(hs, cs));
        }
        let mut x = input;
        let (mut hs, mut cs) = (Vec::new(), Vec::new());
        for (layer, params) in self.cells.iter().enumerate() {
            // The cell works in column layout (`[H, B]` states).
            let mut weights = params.step_weights(meta.kind);
            weights.w_hh = self.w_hh(layer, training);
            let (h_prev, c_prev) = (
                h0[layer].clone().transpose(),
                c0[layer].clone().map(Tensor::transpose),
            );
            let (h, c) = cell_step(
                meta.kind,
                &weights,
                x.clone().transpose(),
                h_prev.clone(),
                c_prev.clone(),
                None,
            );
            let zone = |new, prev| regularise::zoneout(new, prev, regular.zoneout, training);
            let h = zone(h, h_prev).transpose();
            let c = c.zip(c_prev).map(|(c, prev)| zone(c, prev).transpose());
            x = if layer + 1 < meta.n_layers {
                drop(h.clone(), self.dropout.prob)
            } else {
                drop(h.clone(), regular.output_dropout)
            };
            hs.push(h);
            cs.extend(c);
        }
        (x, self.pack_state(hs, cs))
    }

    /// The recurrent weight `W_hh` of layer-direction `index` for one call: with weight drop's
    /// mask in training (the one drawn by [`with_weight_drop_drawn`](Self::with_weight_drop_drawn),
    /// else a new one).
    pub(crate) fn w_hh(&self, index: usize, training: bool) -> Tensor<2> {
        if let Some(drawn) = &self.meta.drawn_w_hh {
            return drawn[index].clone();
        }
        let mut w_hh = self.cells[index].weight_hh.val();
        if self.meta.heads > 1 {
            let mask = head_mask(
                self.meta.kind.gates(),
                self.meta.d_hidden,
                self.meta.heads,
                &w_hh.device(),
            );
            w_hh = w_hh * mask;
        }
        regularise::drop_weight(w_hh, self.meta.regular.weight_drop, training)
    }

    /// The stack with one weight-drop mask per `W_hh` drawn now (in training; otherwise the
    /// stack as it is), for a model that runs it step by step: every [`step`](Self::step) of
    /// the copy uses the same masks, as one [`forward`](Self::forward) call does, where the
    /// stack itself would draw new ones at every step. (The translation decoder draws once per
    /// batch this way.)
    pub fn with_weight_drop_drawn(&self, device: &Device) -> Recurrent {
        let mut out = self.clone();
        if self.meta.regular.weight_drop > 0.0 && self.training(device) {
            let drawn = (0..self.cells.len())
                .map(|index| self.w_hh(index, true))
                .collect();
            out.meta.drawn_w_hh = Some(drawn);
        }
        out
    }

    /// Whether the stack's regularisers act on `device`: its training flag is set (`valid()`
    /// and freezing clear it) and the device records a backward (see [`regularise`]). A model
    /// around the stack can ask it for its own (embedding dropout).
    pub fn training(&self, device: &Device) -> bool {
        regularise::training(&self.dropout, device)
    }

    /// Dropout with probability `p` of a whole sequence in the stack's layout.
    pub(crate) fn drop_sequence(&self, x: Tensor<3>, p: f64) -> Tensor<3> {
        let time_dim = usize::from(self.meta.batch_first);
        let training = self.training(&x.device());
        regularise::dropout(x, p, self.meta.regular.kind, time_dim, training)
    }

    /// Dropout with probability `p` of a sequence of per-step `[features, B]` tensors: a new
    /// mask per step, or one for all steps where the masks are variational.
    pub(crate) fn drop_steps(&self, steps: Vec<Tensor<2>>, p: f64) -> Vec<Tensor<2>> {
        let Some(first) = steps.first() else {
            return steps;
        };
        let training = self.training(&first.device());
        let kind = self.meta.regular.kind;
        if kind == DropoutKind::Variational && training && p > 0.0 {
            let mask = regularise::dropout(first.ones_like(), p, kind, 2, true);
            return steps.into_iter().map(|s| s * mask.clone()).collect();
        }
        steps
            .into_iter()
            .map(|s| regularise::dropout(s, p, kind, 2, training))
            .collect()
    }

    /// The same stack running the tensor-op time loop instead of the whole-layer op: slower,
    /// and a second implementation to hold the op against (with regularisers too).
    #[doc(hidden)]
    pub fn with_tensor_op_loop(mut self) -> Self {
        self.meta.time_loop = TimeLoop::TensorOps;
        self
    }

    /// The number of stacked layers.
    pub fn n_layers(&self) -> usize {
        self.meta.n_layers
    }

    /// Size of the output features: `D · H_out`.
    pub fn d_output(&self) -> usize {
        self.meta.directions * self.meta.d_out()
    }

    /// The cell type of every layer.
    pub fn cell(&self) -> CellType {
        self.meta.cell
    }

    fn run(
        &self,
        input: Tensor<3>,
        lengths: Option<&[usize]>,
        state: Option<RecurrentState>,
    ) -> (Tensor<3>, RecurrentState) {
        let meta = &self.meta;
        let device = input.device();
        let use_op = self.uses_op(&device);
        let training = self.training(&device);
        let input = self.drop_sequence(input, meta.regular.input_dropout);
        // The op reads a batch-first input as it is (and writes a batch-first output); the
        // tensor-op loop runs time-major.
        let input = if meta.batch_first && !use_op {
            input.swap_dims(0, 1)
        } else {
            input
        };
        let [time, batch, d_input] = match input.dims() {
            [b, t, d] if meta.batch_first && use_op => [t, b, d],
            dims => dims,
        };
        assert_eq!(
            d_input, meta.d_input,
            "input has {d_input} features, expected {}",
            meta.d_input
        );
        assert!(time > 0, "input has no timesteps");
        if let Some(lengths) = lengths {
            assert_eq!(
                lengths.len(),
                batch,
                "{} lengths for a batch of {batch}",
                lengths.len()
            );
            assert!(
                lengths.iter().all(|&l| (1..=time).contains(&l)),
                "every length must be in 1..={time}, got {lengths:?}"
            );
        }
        let (h0, c0) = self.initial_states(state, batch, &device);
        if use_op {
            let (output, hs, cs) = self.run_op(input, time, lengths, h0, c0, training);
            let output = self.drop_sequence(output, meta.regular.output_dropout);
            return (output, self.pack_state(hs, cs));
        }
        let masks = lengths.and_then(|lengths| StepMasks::new(lengths, time, &device));

        let (output, state, _) =
            self.tensor_op_layers(input, &h0, &c0, masks.as_ref(), training, false);
        (output, state)
    }

    /// The stack through the tensor-op loop: `input` time-major `[T, B, d_input]`, per
    /// layer-direction initial states `[B, ·]`. Returns the output in the stack's layout, the
    /// final state and, when `record`, every layer-direction's outputs and recorded steps (for
    /// [`trace`](Self::trace)), indexed `layer · D + direction`.
    pub(crate) fn tensor_op_layers(
        &self,
        input: Tensor<3>,
        h0: &[Tensor<2>],
        c0: &[Option<Tensor<2>>],
        masks: Option<&StepMasks>,
        training: bool,
        record: bool,
    ) -> (Tensor<3>, RecurrentState, Vec<(Vec<Tensor<2>>, Recorded)>) {
        let meta = &self.meta;
        // Per-step column-layout tensors `[features, B]` from here on (see `time_loop.rs`).
        let mut steps: Vec<Tensor<2>> = split_time::<3, 2>(input)
            .into_iter()
            .map(Tensor::transpose)
            .collect();
        let (mut hs, mut cs, mut recorded) = (Vec::new(), Vec::new(), Vec::new());
        for layer in 0..meta.n_layers {
            let mut outputs = Vec::with_capacity(meta.directions);
            for direction in 0..meta.directions {
                let index = layer * meta.directions + direction;
                let out = TensorOpLoop.run(LoopInput {
                    kind: meta.kind,
                    params: &self.cells[index],
                    inputs: &steps,
                    h0: h0[index].clone().transpose(),
                    c0: c0[index].clone().map(Tensor::transpose),
                    masks,
                    reverse: direction == 1,
                    w_hh: self.w_hh(index, training),
                    zoneout: meta.regular.zoneout,
                    training,
                    record,
                });
                if let Some(r) = out.recorded {
                    recorded.push((out.outputs.clone(), r));
                }
                outputs.push(out.outputs);
                hs.push(out.h_n.transpose());
                cs.extend(out.c_n.map(Tensor::transpose));
            }
            steps = if outputs.len() == 1 {
                outputs.remove(0)
            } else {
                let backward = outputs.pop().expect("two directions");
                let forward = outputs.pop().expect("two directions");
                forward
                    .into_iter()
                    .zip(backward)
                    .map(|(f, b)| Tensor::cat(vec![f, b], 0))
                    .collect()
            };
            if layer + 1 < meta.n_layers {
                steps = self.drop_steps(steps, self.dropout.prob);
            }
        }
        let steps = self.drop_steps(steps, meta.regular.output_dropout);
        // [T, D·H_out, B] → [B, T, ·] or [T, B, ·].
        let output = Tensor::stack::<3>(steps, 0);
        let output = if meta.batch_first {
            output.permute([2, 0, 1])
        } else {
            output.swap_dims(1, 2)
        };
        (output, self.pack_state(hs, cs), recorded)
    }

    /// Whether the stack runs the whole-layer op. Zoneout and layer normalisation need the
    /// tensor-op loop: the first mixes each step's state with the previous one, the second
    /// normalises each step's products, neither of which the op's kernels do.
    fn uses_op(&self, device: &Device) -> bool {
        self.meta.time_loop == TimeLoop::Auto
            && self.meta.regular.zoneout == 0.0
            && !self.cells.iter().any(|c| c.norm.is_some())
            && op::supports(device)
    }

    /// The stack through the whole-layer op: `input` `[T, B, d_input]` (`[B, T, d_input]` for
    /// a batch-first stack), per layer-direction initial states `[B, ·]`. Returns the last
    /// layer's output `[T, B, D·H_out]` (`[B, T, D·H_out]`) and the final states.
    ///
    /// Each layer-direction is one call of the op ([`op::layer`]): the projection of its input
    /// (`x · W_ihᵀ`) and the recurrence over it.
    fn run_op(
        &self,
        input: Tensor<3>,
        time: usize,
        lengths: Option<&[usize]>,
        h0: Vec<Tensor<2>>,
        c0: Vec<Option<Tensor<2>>>,
        training: bool,
    ) -> (Tensor<3>, Vec<Tensor<2>>, Vec<Tensor<2>>) {
        let meta = &self.meta;
        let lengths: Option<Arc<[usize]>> = lengths
            .filter(|l| l.iter().any(|&l| l != time))
            .map(Arc::from);
        let cell = meta.kind.op_cell();
        let device = input.device();
        let mut x = input;
        let (mut hs, mut cs) = (Vec::new(), Vec::new());
        for layer in 0..meta.n_layers {
            let input = x;
            // Weight drop's masks, drawn here in direction order (the directions may run on
            // two threads).
            let w_hh: Vec<Tensor<2>> = (0..meta.directions)
                .map(|d| self.w_hh(layer * meta.directions + d, training))
                .collect();
            // One direction of this layer: its input projection and recurrence, one call of
            // the op.
            let direction = |direction: usize| {
                let index = layer * meta.directions + direction;
                let p = &self.cells[index];
                op::layer(
                    LayerTensors {
                        x: input.clone(),
                        w_ih: p.weight_ih.val(),
                        bias: p.fused_bias(meta.kind),
                        w_hh: w_hh[direction].clone(),
                        b_hn: p.b_hn(meta.kind),
                        w_hr: p.weight_hr.as_ref().map(|w| w.val()),
                        h0: h0[index].clone(),
                        c0: c0[index].clone(),
                    },
                    OpOptions {
                        cell,
                        reverse: direction == 1,
                        lengths: lengths.clone(),
                        batch_first: meta.batch_first,
                    },
                )
            };
            let outputs = if meta.directions == 1 {
                vec![direction(0)]
            } else {
                // Both directions at once, a core each where the device has the cores.
                let (forward, backward) =
                    op::side_by_side(&device, || direction(0), || direction(1));
                vec![forward, backward]
            };
            let mut ys = Vec::with_capacity(outputs.len());
            for (y, h_n, c_n) in outputs {
                ys.push(y);
                hs.push(h_n);
                cs.extend(c_n);
            }
            x = if ys.len() == 1 {
                ys.remove(0)
            } else {
                Tensor::cat(ys, 2)
            };
            if layer + 1 < meta.n_layers {
                x = self.drop_sequence(x, self.dropout.prob);
            }
        }
        (x, hs, cs)
    }

    /// Splits a stacked state into per layer-direction `[B, ·]` tensors (zeros when `None`).
    pub(crate) fn initial_states(
        &self,
        state: Option<RecurrentState>,
        batch: usize,
        device: &Device,
    ) -> (Vec<Tensor<2>>, Vec<Option<Tensor<2>>>) {
        let meta = &self.meta;
        let count = meta.n_layers * meta.directions;
        let lstm = meta.kind.has_cell_state();
        let c_width = meta.kind.cell_width(meta.d_hidden);
        let expect = |name: &str, t: &Tensor<3>, width: usize| {
            assert_eq!(
                t.dims(),
                [count, batch, width],
                "initial {name} state has shape {:?}, expected [{count}, {batch}, {width}]",
                t.dims()
            );
        };
        match state {
            None => (
                vec![Tensor::zeros([batch, meta.d_out()], device); count],
                vec![lstm.then(|| Tensor::zeros([batch, c_width], device)); count],
            ),
            Some(RecurrentState { hidden, cell }) => {
                expect("hidden", &hidden, meta.d_out());
                let hs = hidden.iter_dim(0).map(|h| h.squeeze_dim(0)).collect();
                let cs = match (lstm, cell) {
                    (true, Some(cell)) => {
                        expect("cell", &cell, c_width);
                        cell.iter_dim(0).map(|c| Some(c.squeeze_dim(0))).collect()
                    }
                    (true, None) => {
                        vec![Some(Tensor::zeros([batch, c_width], device)); count]
                    }
                    (false, _) => vec![None; count],
                };
                (hs, cs)
            }
        }
    }

    pub(crate) fn pack_state(&self, hs: Vec<Tensor<2>>, cs: Vec<Tensor<2>>) -> RecurrentState {
        RecurrentState {
            hidden: Tensor::stack(hs, 0),
            cell: (!cs.is_empty()).then(|| Tensor::stack(cs, 0)),
        }
    }
}
