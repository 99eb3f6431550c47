//! [`Rnn`]: PyTorch's `nn.RNN`.

use burn::config::Config;
use burn::module::Module;
use burn::prelude::Device;

use crate::cell::{CellType, Nonlinearity};
use crate::error::ConfigError;
use crate::params::RecurrentInit;
use crate::recurrent::{Recurrent, RecurrentConfig};

/// Configuration of a [`Rnn`], mirroring `torch.nn.RNN`.
#[derive(Config, Debug)]
pub struct RnnConfig {
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
    /// Initialisation of `W_hh`.
    #[config(default = "RecurrentInit::Uniform")]
    pub recurrent_init: RecurrentInit,
    /// `tanh` or `relu` (`nonlinearity`).
    #[config(default = "Nonlinearity::Tanh")]
    pub nonlinearity: Nonlinearity,
}

impl RnnConfig {
    /// The equivalent [`RecurrentConfig`].
    pub fn to_recurrent(&self) -> RecurrentConfig {
        RecurrentConfig::new(CellType::Rnn, self.d_input, self.d_hidden)
            .with_n_layers(self.n_layers)
            .with_bias(self.bias)
            .with_batch_first(self.batch_first)
            .with_dropout(self.dropout)
            .with_bidirectional(self.bidirectional)
            .with_recurrent_init(self.recurrent_init)
            .with_nonlinearity(self.nonlinearity)
    }

    /// Builds the module, or says which key is invalid.
    pub fn try_init(&self, device: &Device) -> Result<Rnn, ConfigError> {
        Ok(Rnn {
            inner: self.to_recurrent().try_init(device)?,
        })
    }

    /// Builds the module; panics on an invalid config (see [`try_init`](Self::try_init)).
    pub fn init(&self, device: &Device) -> Rnn {
        Rnn {
            inner: self.to_recurrent().init(device),
        }
    }
}

/// An Elman RNN (stacked, optionally bidirectional), numerically equal to PyTorch's.
#[derive(Module, Debug)]
pub struct Rnn {
    /// The underlying stack.
    pub inner: Recurrent,
}

super::hidden_state_api!(Rnn);
