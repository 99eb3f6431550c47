//! Layout of the activations the forward saves for the backward, one row per `(t, b)`.

use super::OpCell;

/// Where each saved activation sits in a row of the `[T, B, S]` saved tensor.
///
/// - LSTM: `[i f g o | c_prev | tanh(c) | h_prev | m]` (`4H + H + H + H_out`, plus `H` for
///   `m = o · tanh(c)` when projected);
/// - GRU: `[r z n | W_hn h + b_hn | h_prev]` (`3H + H + H`);
/// - RNN: `[h' | h_prev]` (`H + H`);
/// - sLSTM: `[i' f' z o | σ(f̃) | w | c_prev | n_prev | c | n | h_prev]` (`4H + 6H + H`), with
///   `i'` and `f'` the stabilised gates `e^(ĩ − m')` and `e^(ln σ(f̃) + m − m')` and `w` 1 where
///   the stabiliser `m'` is `ĩ`, 0 where it is `ln σ(f̃) + m`.
///
/// Gate activations are stored after their non-linearity. Rows of batch entries past their
/// length hold finite values of a step that was computed and discarded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SavedLayout {
    /// The cell.
    pub cell: OpCell,
    /// Hidden size `H`.
    pub hidden: usize,
    /// State size `H_out`.
    pub d_out: usize,
    /// Whether an LSTM projects (`m` is saved).
    pub proj: bool,
}

impl SavedLayout {
    /// The layout for these sizes.
    pub fn new(cell: OpCell, hidden: usize, d_out: usize, proj: bool) -> Self {
        Self {
            cell,
            hidden,
            d_out,
            proj,
        }
    }

    /// Offset of the gate activations (always 0), `G·H` wide.
    pub fn gates(&self) -> usize {
        0
    }

    /// LSTM: offset of `c_prev` (`H` wide). GRU: offset of `W_hn h + b_hn` (`H` wide).
    /// sLSTM: offset of `σ(f̃)` (`H` wide).
    pub fn aux(&self) -> usize {
        self.cell.gates() * self.hidden
    }

    /// LSTM only: offset of `tanh(c)` (`H` wide).
    pub fn tanh_c(&self) -> usize {
        5 * self.hidden
    }

    /// sLSTM only: offset of `w`, which of the two the stabiliser is (`H` wide).
    pub fn slstm_won(&self) -> usize {
        5 * self.hidden
    }

    /// sLSTM only: offset of `[c_prev | n_prev | c | n]` (`4H` wide).
    pub fn slstm_states(&self) -> usize {
        6 * self.hidden
    }

    /// Offset of `h_prev` (`H_out` wide).
    pub fn h_prev(&self) -> usize {
        match self.cell {
            OpCell::Lstm => 6 * self.hidden,
            OpCell::Slstm => 10 * self.hidden,
            OpCell::Gru => 4 * self.hidden,
            OpCell::RnnTanh | OpCell::RnnRelu => self.hidden,
        }
    }

    /// Projected LSTM only: offset of `m` (`H` wide).
    pub fn m(&self) -> usize {
        self.h_prev() + self.d_out
    }

    /// Width `S` of a row.
    pub fn width(&self) -> usize {
        self.h_prev() + self.d_out + if self.proj { self.hidden } else { 0 }
    }
}
