//! The training policy, written once for every task: [`Step`] wraps a task's model (an
//! [`Objective`]: batch → output with a loss) and gives burn-train its `TrainStep` and
//! `InferenceStep` with global-norm gradient clipping and, for truncated BPTT, the recurrent
//! state carried from one training batch to the next.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use burn::Tensor;
use burn::module::{Module, ModuleDisplay};
use burn::prelude::Device;
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
    /// Reseeds the training device before every training step from (run seed, epoch, step),
    /// so that a resumed run draws the dropout masks the uninterrupted one drew.
    pub reseed: Option<Reseed>,
}

/// The training epochs and steps as the random draws see them: the training loader starts
/// an epoch ([`Clock::start_epoch`]), every training step takes the next step number.
#[derive(Debug, Default)]
pub struct Clock {
    next_epoch: AtomicU64,
    step: AtomicU64,
}

impl Clock {
    /// A clock whose next epoch is `epochs_done + 1` (0-based `epochs_done`).
    pub fn new(epochs_done: usize) -> Self {
        Self {
            next_epoch: AtomicU64::new(epochs_done as u64),
            step: AtomicU64::new(0),
        }
    }

    /// Called when the training loader starts an epoch.
    pub fn start_epoch(&self) {
        let epoch = self.next_epoch.fetch_add(1, Ordering::SeqCst);
        self.step.store(epoch << 32, Ordering::SeqCst);
    }

    /// `(epoch << 32) | step` of the next training step.
    pub fn next_step(&self) -> u64 {
        self.step.fetch_add(1, Ordering::SeqCst)
    }
}

/// Seeds `device` from `seed` and the [`Clock`] before each training step.
#[derive(Clone, Debug)]
pub struct Reseed {
    /// The run's seed.
    pub seed: u64,
    /// Shared with the training loader.
    pub clock: Arc<Clock>,
}

impl Reseed {
    /// Seeds `device` (the one the step runs on) for the next step.
    pub fn draw(&self, device: &Device) {
        device.seed(rnnlab_data::buckets::mix_seed(
            self.seed,
            self.clock.next_step(),
        ));
    }
}

impl Policy {
    /// Clipping at `grad_clip`, and a carried state when `tbptt`.
    pub fn new(grad_clip: f64, tbptt: bool) -> Self {
        Self {
            grad_clip,
            carry: tbptt.then(Carry::default),
            reseed: None,
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
        if let (Some(r), Some(device)) = (&self.policy.reseed, self.devices().first()) {
            r.draw(device);
        }
        let output = match &self.policy.carry {
            None => self.model.objective(batch),
            Some(carry) => {
                let mut carried = carry
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
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
            *carry
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = None;
        }
        self.model.objective(batch)
    }
}
