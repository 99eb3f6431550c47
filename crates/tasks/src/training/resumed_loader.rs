//! [`ResumedLoader`]: the training loader of a run, which (resumed) starts with the shuffle the
//! uninterrupted run would have drawn for its next epoch, and tells the run's [`Clock`] when
//! each epoch starts.
//!
//! burn's shuffling loader draws each epoch's order from a generator that is forked, from the
//! seed, when the learner moves the loader to its device, and advanced once per epoch. A resumed
//! run builds a fresh loader, so without this its first epoch would replay epoch 1's order.

use std::sync::Arc;

use burn::data::dataloader::{DataLoader, DataLoaderIterator};
use burn::prelude::Device;

use super::step::Clock;

/// Wraps a training loader for a run that resumes after `epochs_done` finished epochs (0 for
/// a new run), and tells the run's [`Clock`] when an epoch starts.
pub struct ResumedLoader<O> {
    inner: Arc<dyn DataLoader<O>>,
    epochs_done: usize,
    clock: Option<Arc<Clock>>,
}

impl<O> ResumedLoader<O> {
    /// `inner` as it was built for the run, resumed after `epochs_done` epochs.
    pub fn new(inner: Arc<dyn DataLoader<O>>, epochs_done: usize) -> Self {
        Self {
            inner,
            epochs_done,
            clock: None,
        }
    }

    /// Starts an epoch of `clock` whenever an epoch's iteration starts.
    pub fn with_clock(mut self, clock: Option<Arc<Clock>>) -> Self {
        self.clock = clock;
        self
    }
}

impl<O: Send + 'static> DataLoader<O> for ResumedLoader<O> {
    fn iter<'a>(&'a self) -> Box<dyn DataLoaderIterator<O> + 'a> {
        if let Some(clock) = &self.clock {
            clock.start_epoch();
        }
        self.inner.iter()
    }

    fn num_items(&self) -> usize {
        self.inner.num_items()
    }

    /// The learner's copy of the loader, its generator advanced past the finished epochs (an
    /// iterator is only created, which shuffles indices; no batch is loaded).
    fn to_device(&self, device: &Device) -> Arc<dyn DataLoader<O>> {
        let moved = self.inner.to_device(device);
        for _ in 0..self.epochs_done {
            drop(moved.iter());
        }
        // Already advanced: the moved copy only keeps the clock.
        Arc::new(Self::new(moved, 0).with_clock(self.clock.clone()))
    }

    /// A part of the loader (one device's share in multi-device training); only the part
    /// that starts at the first item tells the clock, so an epoch starts once.
    fn slice(&self, start: usize, end: usize) -> Arc<dyn DataLoader<O>> {
        let clock = if start == 0 { self.clock.clone() } else { None };
        Arc::new(Self::new(self.inner.slice(start, end), self.epochs_done).with_clock(clock))
    }
}
