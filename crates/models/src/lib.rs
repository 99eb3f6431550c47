//! # rnnlab-models
//!
//! Recurrent layers for [burn](https://burn.dev) that compute exactly what PyTorch computes:
//! Elman [`Rnn`] (tanh/relu), [`Lstm`] (with `proj_size`) and [`Gru`], stacked, bidirectional,
//! with dropout between layers, variable-length batches (PyTorch's packed-sequence semantics),
//! a single-step API for generation, and PyTorch weight import/export; and the cells PyTorch
//! lacks, on the same API: layer-normalised LSTM and GRU, xLSTM's sLSTM
//! ([`CellType::Slstm`]), minGRU and minLSTM ([`MinRnn`]), with weight drop, variational
//! dropout and zoneout ([`regularise`]). For long-horizon forecasting, [`SegmentRnn`]
//! (SegRNN's segment-wise recurrence over any cell) and the [`DLinear`] baseline
//! ([`forecasting`]).
//!
//! The crate depends on burn without a backend: pick one in your binary (`flex`, `wgpu`, …).
//!
//! ```no_run
//! use burn::prelude::*;
//! use rnnlab_models::{LstmConfig, PytorchWeights};
//!
//! let device = Device::flex();
//! let lstm = LstmConfig::new(16, 32).with_n_layers(2).with_bidirectional(true).init(&device);
//! // Weights of `model.encoder.rnn` saved by `torch.save(model.state_dict(), "model.pt")`.
//! let lstm = lstm.load_pytorch("model.pt", "encoder.rnn.").expect("weights fit");
//! let input = Tensor::<3>::zeros([4, 10, 16], &device); // [B, T, d_input]
//! let (output, state) = lstm.forward(input, None);        // [4, 10, 64], [4, 4, 32]
//! ```
//!
//! Every module is a thin wrapper around [`Recurrent`], the config-driven stack experiment
//! files build (`cell = "lstm"`). Each layer and direction runs as one call of the whole-layer
//! op ([`op`], a burn backend extension with a hand-written backward through time and native
//! kernels on flex); on a backend the op has no implementation for, the tensor-op time loop
//! (`time_loop.rs`) runs instead.
//!
//! ## Speed on CPU: use a caching allocator
//!
//! A training step of the op allocates tens of MiB (saved activations, gradients). With glibc's
//! allocator, buffers that large are mapped afresh and page-faulted in on every call: about a
//! quarter of a training step on the benchmark machine (BENCHMARKS.md "Allocator"). A binary
//! that uses the crate should set a caching allocator, as the `rnnlab` binary does:
//!
//! ```ignore
//! #[global_allocator]
//! static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
//! ```
#![warn(missing_docs)]

mod attention;
mod cell;
mod error;
pub mod forecasting;
mod lengths;
mod min_rnn;
mod modules;
pub mod op;
mod params;
pub mod pooling;
mod pytorch;
mod recurrent;
pub mod regularise;
mod state;
#[doc(hidden)]
pub mod testing;
mod time_loop;
pub mod trace;

#[cfg(test)]
mod reference;
#[cfg(test)]
mod tests;

pub use attention::{Score, SeqAttention, SeqAttentionConfig};
pub use cell::{CellType, Nonlinearity, RecurrentNorm};
pub use error::{BoxError, ConfigError, KeyProblem, WeightError};
pub use forecasting::{DLinear, DLinearConfig, SegmentNorm, SegmentRnn, SegmentRnnConfig};
pub use min_rnn::{MinCell, MinRnn, MinRnnConfig};
pub use modules::{Gru, GruConfig, Lstm, LstmConfig, Rnn, RnnConfig};
pub use params::{DirectionParams, NormParams, RecurrentInit};
pub use pooling::{Attention, AttentionConfig, Pooled, Pooling, pool};
pub use pytorch::{PytorchWeights, StateDict};
pub use recurrent::{Recurrent, RecurrentConfig};
pub use regularise::DropoutKind;
pub use state::{LstmState, RecurrentState};
pub use trace::{LayerTrace, StackTrace};
