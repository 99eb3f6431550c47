//! Buffers kept across calls of the op.
//!
//! - Packed recurrent weights (and input weights, where the op projects its input) for calls
//!   that save nothing (inference: generation and decoding through `step`, where the same
//!   weights come back every step, and evaluation batch after batch): without it every step
//!   repacks `W_hh` (a copy of the whole matrix, 7 % of a generation profile; 2 % of the
//!   charlm forward of 100 steps).
//! - Per-thread scratch for the buffers a call uses internally (the step's recurrent product
//!   and, when nothing is saved, the step's activations), which would otherwise be zeroed
//!   afresh on every call (11 % of a generation profile).
//!
//! A cache entry holds a clone of the weight tensors it was packed from. flex mutates a
//! tensor's storage in place only when it is the storage's sole owner (copy-on-write), so while
//! the entry lives its weights cannot change, and their address cannot be reused by another
//! tensor: an entry whose tensors share storage address, length and shape with a call's
//! weights holds exactly those weights, packed. A changed weight is a different tensor and
//! misses. At most [`ENTRIES`] entries are kept (the least recently used is dropped);
//! [`clear_weight_cache`](super::clear_weight_cache) drops them all.

use std::cell::RefCell;
use std::sync::{Arc, Mutex};

use burn::backend::TensorMetadata;
use burn_flex::FlexTensor;

#[cfg(test)]
mod tests;

/// How many packed weight sets are kept (a two-layer bidirectional stack uses four).
const ENTRIES: usize = 8;

/// Packed forms `P` of weight tensors, most recently used first.
pub(super) struct WeightCache<P> {
    entries: Mutex<Vec<Entry<P>>>,
}

struct Entry<P> {
    w_hh: FlexTensor,
    w_hr: Option<FlexTensor>,
    w_ih: Option<FlexTensor>,
    parallel: bool,
    packed: Arc<P>,
}

/// The weights a packed set is made from, and the split it is packed for.
pub(super) struct Key<'a> {
    pub w_hh: &'a FlexTensor,
    pub w_hr: Option<&'a FlexTensor>,
    /// Where the op projects its input itself.
    pub w_ih: Option<&'a FlexTensor>,
    pub parallel: bool,
}

/// Whether `a` and `b` are views of the same elements of the same storage.
fn same(a: &FlexTensor, b: &FlexTensor) -> bool {
    let (Some(x), Some(y)) = (a.as_slice::<f32>(), b.as_slice::<f32>()) else {
        return false;
    };
    std::ptr::eq(x.as_ptr(), y.as_ptr()) && x.len() == y.len() && a.shape() == b.shape()
}

impl<P> WeightCache<P> {
    /// An empty cache.
    pub(super) const fn new() -> Self {
        Self {
            entries: Mutex::new(Vec::new()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Entry<P>>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The packed form of `key`'s weights split for `key.parallel`: the cached one, or made by
    /// `pack` and cached.
    pub(super) fn packed(&self, key: Key<'_>, pack: impl FnOnce() -> P) -> Arc<P> {
        let both = |a: &Option<FlexTensor>, b: Option<&FlexTensor>| match (a, b) {
            (Some(a), Some(b)) => same(a, b),
            (None, None) => true,
            _ => false,
        };
        let matches = |e: &Entry<P>| {
            e.parallel == key.parallel
                && same(&e.w_hh, key.w_hh)
                && both(&e.w_hr, key.w_hr)
                && both(&e.w_ih, key.w_ih)
        };
        {
            let mut entries = self.lock();
            if let Some(i) = entries.iter().position(matches) {
                let entry = entries.remove(i);
                let packed = entry.packed.clone();
                entries.insert(0, entry);
                return packed;
            }
        }
        // Packed outside the lock; a concurrent call packing the same weights only duplicates
        // work.
        let packed = Arc::new(pack());
        let mut entries = self.lock();
        entries.insert(
            0,
            Entry {
                w_hh: key.w_hh.clone(),
                w_hr: key.w_hr.cloned(),
                w_ih: key.w_ih.cloned(),
                parallel: key.parallel,
                packed: packed.clone(),
            },
        );
        entries.truncate(ENTRIES);
        packed
    }

    /// Drops every entry.
    pub(super) fn clear(&self) {
        self.lock().clear();
    }
}

thread_local! {
    static SCRATCH: RefCell<Vec<Vec<f32>>> = const { RefCell::new(Vec::new()) };
}

/// Runs `f` with a buffer of `len` floats from this thread's scratch pool. The contents are
/// whatever an earlier call left (`f` must write an element before reading it); only a buffer
/// that has to grow is zero-filled in the new part.
pub(super) fn with_scratch<R>(len: usize, f: impl FnOnce(&mut [f32]) -> R) -> R {
    let mut buffer = SCRATCH
        .with(|pool| pool.borrow_mut().pop())
        .unwrap_or_default();
    buffer.resize(len, 0.0);
    let out = f(&mut buffer);
    SCRATCH.with(|pool| pool.borrow_mut().push(buffer));
    out
}
