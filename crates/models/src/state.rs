//! Recurrent states, laid out like PyTorch's `(h_n, c_n)`.

use burn::Tensor;

/// The state of a recurrent stack: `[L·D, B, H_out]` hidden states and, for LSTM, `[L·D, B, H]`
/// cell states, indexed `layer · D + direction` like PyTorch (`D` = 2 when bidirectional).
#[derive(Clone, Debug)]
pub struct RecurrentState {
    /// Hidden state `h`: `[L·D, B, H_out]` (`H_out` = `proj_size` for a projected LSTM).
    pub hidden: Tensor<3>,
    /// Cell state `c` (LSTM only): `[L·D, B, H]`.
    pub cell: Option<Tensor<3>>,
}

/// The state of an [`Lstm`](crate::Lstm): hidden and cell state, PyTorch's `(h, c)`.
#[derive(Clone, Debug)]
pub struct LstmState {
    /// Hidden state `h`: `[L·D, B, H_out]`.
    pub hidden: Tensor<3>,
    /// Cell state `c`: `[L·D, B, H]`.
    pub cell: Tensor<3>,
}

impl LstmState {
    /// Bundles a hidden and a cell state.
    pub fn new(hidden: Tensor<3>, cell: Tensor<3>) -> Self {
        Self { hidden, cell }
    }
}

impl From<LstmState> for RecurrentState {
    fn from(state: LstmState) -> Self {
        Self {
            hidden: state.hidden,
            cell: Some(state.cell),
        }
    }
}

impl RecurrentState {
    /// A hidden-only state (RNN, GRU).
    pub fn hidden(hidden: Tensor<3>) -> Self {
        Self { hidden, cell: None }
    }

    /// Detaches the state from the autodiff graph, for truncated backpropagation through time
    /// when the state is carried from one batch to the next.
    pub fn detach(self) -> Self {
        Self {
            hidden: self.hidden.detach(),
            cell: self.cell.map(Tensor::detach),
        }
    }

    pub(crate) fn into_lstm(self) -> LstmState {
        LstmState {
            hidden: self.hidden,
            cell: self
                .cell
                .expect("an LSTM stack always returns a cell state"),
        }
    }
}
