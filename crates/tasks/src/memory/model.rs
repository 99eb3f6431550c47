//! [`MemoryModel`]: a recurrent stack over the one-hot or numeric steps and a linear head: on
//! the final state for the adding and parity problems (each row's own last step), on every
//! step for the copy problem.

use burn::Tensor;
use burn::config::Config;
use burn::module::Module;
use burn::nn::loss::{CrossEntropyLossConfig, MseLoss, Reduction};
use burn::nn::{Linear, LinearConfig};
use burn::prelude::Device;
use burn::tensor::{ExecutionError, Int};
use burn::train::metric::{Adaptor, ItemLazy, LossInput};
use rnnlab_models::{ConfigError, Recurrent, RecurrentConfig, RecurrentState};

use super::config::Problem;
use super::data::{MemoryBatch, d_output};
use crate::training::Objective;

/// Configuration of a [`MemoryModel`].
#[derive(Config, Debug)]
pub struct MemoryConfig {
    /// The recurrent stack (batch-first).
    pub rnn: RecurrentConfig,
    /// The problem, which fixes the head's width and what it reads.
    pub problem: Problem,
}

impl MemoryConfig {
    /// Builds the model, or names the invalid key.
    pub fn try_init(&self, device: &Device) -> Result<MemoryModel, ConfigError> {
        let rnn = self.rnn.clone().with_batch_first(true).try_init(device)?;
        let head = LinearConfig::new(rnn.d_output(), d_output(self.problem)).init(device);
        Ok(MemoryModel {
            rnn,
            head,
            problem: self.problem,
        })
    }
}

/// Recurrent stack → linear head.
#[derive(Module, Debug)]
pub struct MemoryModel {
    /// The stack.
    pub rnn: Recurrent,
    /// The head.
    pub head: Linear,
    /// The problem.
    #[module(skip)]
    pub problem: Problem,
}

impl MemoryModel {
    /// The head's outputs: `[B, 1]` (adding: the sum), `[B, 2]` (parity: logits) or
    /// `[B, T, 9]` (copy: logits per step) as `[B, ·, ·]` (`[B, 1, ·]` for the first two).
    pub fn forward(&self, batch: &MemoryBatch) -> Tensor<3> {
        let inputs = batch.inputs.clone();
        let t = inputs.dims()[1];
        let full = batch.lengths.iter().all(|&l| l == t);
        let (out, state) = if full {
            self.rnn.forward(inputs, None)
        } else {
            self.rnn.forward_with_lengths(inputs, &batch.lengths, None)
        };
        self.head_of(out, &state)
    }

    /// The head over the stack's output `[B, T, ·]` and final state, as [`forward`](Self::forward)
    /// returns it.
    pub fn head_of(&self, out: Tensor<3>, state: &RecurrentState) -> Tensor<3> {
        let b = out.dims()[0];
        match self.problem {
            Problem::Copy => self.head.forward(out),
            Problem::Adding | Problem::Parity => {
                // The top layer's final state (each direction's), taken at each row's own end.
                let count = state.hidden.dims()[0];
                let directions = self.rnn.d_output() / state.hidden.dims()[2];
                let last: Vec<Tensor<2>> = (count - directions..count)
                    .map(|i| state.hidden.clone().narrow(0, i, 1).reshape([b as i64, -1]))
                    .collect();
                self.head
                    .forward(Tensor::cat(last, 1))
                    .reshape([b as i64, 1, -1])
            }
        }
    }

    /// The loss of a batch: mean squared error (adding), or cross-entropy per sequence
    /// (parity) or per step (copy).
    pub fn loss(&self, batch: &MemoryBatch) -> Tensor<1> {
        self.loss_of(self.forward(batch), batch)
    }

    /// The loss of [`loss`](Self::loss) from the head's outputs `out`.
    pub fn loss_of(&self, out: Tensor<3>, batch: &MemoryBatch) -> Tensor<1> {
        let [b, t, c] = out.dims();
        match self.problem {
            Problem::Adding => {
                MseLoss::new().forward(out.reshape([b, 1]), batch.targets.clone(), Reduction::Mean)
            }
            Problem::Copy | Problem::Parity => {
                let labels: Tensor<1, Int> = batch.targets.clone().reshape([b * t]).int();
                CrossEntropyLossConfig::new()
                    .init(&out.device())
                    .forward(out.reshape([b * t, c]), labels)
            }
        }
    }
}

/// A training step's output: its loss.
pub struct MemoryOutput {
    /// `[1]`.
    pub loss: Tensor<1>,
}

impl ItemLazy for MemoryOutput {
    fn sync(self) -> Result<Self, ExecutionError> {
        self.loss.device().flush()?;
        Ok(Self {
            loss: self.loss.without_autodiff(),
        })
    }
}

impl Adaptor<LossInput> for MemoryOutput {
    fn adapt(&self) -> LossInput {
        LossInput::new(self.loss.clone())
    }
}

impl Objective for MemoryModel {
    type Batch = MemoryBatch;
    type Output = MemoryOutput;

    fn objective(&self, batch: MemoryBatch) -> MemoryOutput {
        MemoryOutput {
            loss: self.loss(&batch),
        }
    }

    fn loss(output: &MemoryOutput) -> Tensor<1> {
        output.loss.clone()
    }
}
