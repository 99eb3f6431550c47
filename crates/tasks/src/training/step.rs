//! The training policy, written once for every task: [`Step`] wraps a task's model (an
//! [`Objective`]: batch → output with a loss) and gives burn-train its `TrainStep` and
//! `InferenceStep` with global-norm gradient clipping and, for truncated BPTT, the recurrent
//! state carried from one training batch to the next.

use std::sync::{Arc, Mutex};

use burn::Tensor;
use burn::module::{Module, ModuleDisplay};
use burn::train::metric::{Adaptor, ItemLazy, LossInput};
use burn::train::{InferenceStep, TrainOutput, TrainStep};
use rnnlab_models::RecurrentState;

use super::grad_clip::gradients;

/// What a task's model computes on one batch: an output burn-train's metrics read, with the
/// loss that training minimises.
pub trait Objective: Module + ModuleDisplay + core::fmt::Display + 'static {
    /// One batch from the task's loader.
    type Batch: Send + 'static;
    /// The step's output (burn-train's `ClassificationOutput`, `RegressionOutput`, …).
    type Output: ItemLazy + Adaptor<LossInput> + 'static;

    /// The output on `batch` from a zero initial state.
    fn objective(&self, batch: Self::Batch) -> Self::Output;

    /// The output on `batch` from `state` (the previous batch's final state, detached), and
    /// this batch's final state. Only models trained with truncated BPTT override it; the
    /// default ignores `state` and carries nothing.
    fn objective_from(
        &self,
        batch: Self::Batch,
        state: Option<RecurrentState>,
    ) -> (Self::Output, Option<RecurrentState>) {
        let _ = state;
        (self.objective(batch), None)
    }

    /// The loss tensor `[1]` of an output.
    fn loss(output: &Self::Output) -> Tensor<1>;
}

/// How training steps behave (no weights).
#[derive(Clone, Debug, Default)]
pub struct Policy {
    /// Global-norm gradient clipping (0 = off).
    pub grad_clip: f64,
    /// Truncated BPTT: each training batch starts from the previous batch's final state
    /// (detached). Needs batches whose rows continue the previous batch's rows. A validation
    /// step clears the carried state, so every epoch starts from zeros.
    pub carry: Option<Carry>,
}

impl Policy {
    /// Clipping at `grad_clip`, and a carried state when `tbptt`.
    pub fn new(grad_clip: f64, tbptt: bool) -> Self {
        Self {
            grad_clip,
            carry: tbptt.then(Carry::default),
        }
    }
}

/// The state carried from one training batch to the next.
pub type Carry = Arc<Mutex<Option<RecurrentState>>>;

/// A model in training: the module burn-train's `Learner` holds.
#[derive(Module, Debug)]
pub struct Step<M: Module> {
    /// The task's model.
    pub model: M,
    /// Clipping and state carry.
    #[module(skip)]
    pub policy: Policy,
}

impl<M: Objective> Step<M> {
    /// `model` trained under `policy`.
    pub fn new(model: M, policy: Policy) -> Self {
        Self { model, policy }
    }
}

impl<M: Objective> TrainStep for Step<M> {
    type Input = M::Batch;
    type Output = M::Output;

    fn step(&self, batch: M::Batch) -> TrainOutput<M::Output> {
        let output = match &self.policy.carry {
            None => self.model.objective(batch),
            Some(carry) => {
                let mut carried = carry.lock().expect("carried state poisoned");
                let (output, state) = self.model.objective_from(batch, carried.take());
                *carried = state.map(|s| s.detach());
                output
            }
        };
        let grads = gradients(self, &M::loss(&output), self.policy.grad_clip);
        TrainOutput {
            grads,
            item: output,
        }
    }
}

impl<M: Objective> InferenceStep for Step<M> {
    type Input = M::Batch;
    type Output = M::Output;

    fn step(&self, batch: M::Batch) -> M::Output {
        if let Some(carry) = &self.policy.carry {
            *carry.lock().expect("carried state poisoned") = None;
        }
        self.model.objective(batch)
    }
}
