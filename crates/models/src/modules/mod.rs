//! The PyTorch-shaped wrappers around [`Recurrent`](crate::Recurrent).

/// The PyTorch-style API of a hidden-state-only stack (RNN, GRU) wrapping `inner: Recurrent`.
macro_rules! hidden_state_api {
    ($module:ident) => {
        impl $module {
            /// Runs the whole sequence.
            ///
            /// - `input`: `[B, T, d_input]` (`[T, B, d_input]` when not batch-first).
            /// - `hidden`: initial state `[L·D, B, H]`; zeros when `None`.
            ///
            /// Returns outputs `[B, T, D·H]` (`[T, B, ·]` when not batch-first) and the final
            /// hidden state `[L·D, B, H]`.
            pub fn forward(
                &self,
                input: burn::Tensor<3>,
                hidden: Option<burn::Tensor<3>>,
            ) -> (burn::Tensor<3>, burn::Tensor<3>) {
                let state = hidden.map(crate::RecurrentState::hidden);
                let (output, state) = self.inner.forward(input, state);
                (output, state.hidden)
            }

            /// [`forward`](Self::forward) for padded sequences of the given `lengths`
            /// (PyTorch's packed-sequence semantics; see
            /// [`Recurrent::forward_with_lengths`](crate::Recurrent::forward_with_lengths)).
            pub fn forward_with_lengths(
                &self,
                input: burn::Tensor<3>,
                lengths: &[usize],
                hidden: Option<burn::Tensor<3>>,
            ) -> (burn::Tensor<3>, burn::Tensor<3>) {
                let state = hidden.map(crate::RecurrentState::hidden);
                let (output, state) = self.inner.forward_with_lengths(input, lengths, state);
                (output, state.hidden)
            }

            /// One timestep of a unidirectional stack: `input` `[B, d_input]` → output
            /// `[B, H]` and the new hidden state `[L, B, H]`.
            pub fn step(
                &self,
                input: burn::Tensor<2>,
                hidden: Option<burn::Tensor<3>>,
            ) -> (burn::Tensor<2>, burn::Tensor<3>) {
                let state = hidden.map(crate::RecurrentState::hidden);
                let (output, state) = self.inner.step(input, state);
                (output, state.hidden)
            }
        }
    };
}
use hidden_state_api;

mod gru;
mod lstm;
mod rnn;

pub use gru::{Gru, GruConfig};
pub use lstm::{Lstm, LstmConfig};
pub use rnn::{Rnn, RnnConfig};
