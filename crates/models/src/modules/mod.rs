//! The PyTorch-shaped wrappers around [`Recurrent`](crate::Recurrent).

mod gru;
mod lstm;
mod rnn;

pub use gru::{Gru, GruConfig};
pub use lstm::{Lstm, LstmConfig};
pub use rnn::{Rnn, RnnConfig};
