//! [`Lstm`]: PyTorch's `nn.LSTM`.

use burn::Tensor;
use burn::config::Config;
use burn::module::Module;
use burn::prelude::Device;

use crate::cell::{CellType, Nonlinearity};
use crate::error::ConfigError;
use crate::params::RecurrentInit;
use crate::recurrent::{Recurrent, RecurrentConfig};
use crate::state::LstmState;

/// Configuration of an [`Lstm`], mirroring `torch.nn.LSTM`.
#[derive(Config, Debug)]
pub struct LstmConfig {
    /// Size of each input step (`input_size`).
    pub d_input: usize,
    /// Hidden size `H` (`hidden_size`).
    pub d_hidden: usize,
    /// Number of stacked layers (`num_layers`).
    #[config(default = 1)]
    pub n_layers: usize,
    /// Whether the layers have the biases `b_ih` and `b_hh`.
    #[config(default = true)]
    pub bias: bool,
    /// `[B, T, ·]` input and output when true (the default here: unlike PyTorch, whose
    /// `batch_first` defaults to false), `[T, B, ·]` when false.
    #[config(default = true)]
    pub batch_first: bool,
    /// Dropout on the outputs of every layer but the last, in training only.
    #[config(default = 0.0)]
    pub dropout: f64,
    /// Adds a time-reversed direction per layer.
    #[config(default = false)]
    pub bidirectional: bool,
    /// Projects the hidden state to this size (`0` = none).
    #[config(default = 0)]
    pub proj_size: usize,
    /// Initialisation of `W_hh`.
    #[config(default = "RecurrentInit::Uniform")]
    pub recurrent_init: RecurrentInit,
    /// Initial forget-gate bias (`b_ih + b_hh`), e.g. `1.0`; `None` keeps PyTorch's init.
    #[config(default = "None")]
    pub forget_bias: Option<f64>,
}

impl LstmConfig {
    /// The equivalent [`RecurrentConfig`].
    pub fn to_recurrent(&self) -> RecurrentConfig {
        RecurrentConfig::new(CellType::Lstm, self.d_input, self.d_hidden)
            .with_n_layers(self.n_layers)
            .with_bias(self.bias)
            .with_batch_first(self.batch_first)
            .with_dropout(self.dropout)
            .with_bidirectional(self.bidirectional)
            .with_proj_size(self.proj_size)
            .with_nonlinearity(Nonlinearity::Tanh)
            .with_recurrent_init(self.recurrent_init)
            .with_forget_bias(self.forget_bias)
    }

    /// Builds the module, or says which key is invalid.
    pub fn try_init(&self, device: &Device) -> Result<Lstm, ConfigError> {
        Ok(Lstm {
            inner: self.to_recurrent().try_init(device)?,
        })
    }

    /// Builds the module; panics on an invalid config (see [`try_init`](Self::try_init)).
    pub fn init(&self, device: &Device) -> Lstm {
        Lstm {
            inner: self.to_recurrent().init(device),
        }
    }
}

/// A (stacked, optionally bidirectional and projected) LSTM, numerically equal to PyTorch's.
#[derive(Module, Debug)]
pub struct Lstm {
    /// The underlying stack.
    pub inner: Recurrent,
}

impl Lstm {
    /// Runs the whole sequence.
    ///
    /// - `input`: `[B, T, d_input]` (`[T, B, d_input]` when not batch-first).
    /// - `state`: `hidden` `[L·D, B, H_out]`, `cell` `[L·D, B, H]`; zeros when `None`.
    ///
    /// Returns outputs `[B, T, D·H_out]` (`[T, B, ·]` when not batch-first) and the final state.
    pub fn forward(&self, input: Tensor<3>, state: Option<LstmState>) -> (Tensor<3>, LstmState) {
        let (output, state) = self.inner.forward(input, state.map(Into::into));
        (output, state.into_lstm())
    }

    /// [`forward`](Self::forward) for padded sequences of the given `lengths` (PyTorch's
    /// packed-sequence semantics; see [`Recurrent::forward_with_lengths`]).
    pub fn forward_with_lengths(
        &self,
        input: Tensor<3>,
        lengths: &[usize],
        state: Option<LstmState>,
    ) -> (Tensor<3>, LstmState) {
        let (output, state) =
            self.inner
                .forward_with_lengths(input, lengths, state.map(Into::into));
        (output, state.into_lstm())
    }

    /// One timestep of a unidirectional LSTM: `input` `[B, d_input]` → output `[B, H_out]`.
    pub fn step(&self, input: Tensor<2>, state: Option<LstmState>) -> (Tensor<2>, LstmState) {
        let (output, state) = self.inner.step(input, state.map(Into::into));
        (output, state.into_lstm())
    }
}
