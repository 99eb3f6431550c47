//! [`EpochBuckets`]: a training loader of length-bucketed batches whose buckets are drawn again
//! at the start of every epoch, so that each epoch groups and orders the items differently
//! while every batch still holds items of similar length.
//!
//! [`bucket_by_length`] alone fixes one order: a loader over it repeats the same batches, in
//! the same order, every epoch.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use burn::data::dataloader::batcher::Batcher;
use burn::data::dataloader::{DataLoader, DataLoaderBuilder, DataLoaderIterator};
use burn::data::dataset::{Dataset, DatasetError};
use burn::prelude::Device;

use crate::DataError;
use crate::classification::bucket_by_length;

/// The seed of epoch `epoch` (0-based) of a loader seeded with `seed`: the first epoch uses
/// `seed` itself, so its batches are [`bucket_by_length`]'s with `seed`; later epochs
/// [`mix_seed`]`(seed, epoch)`.
pub fn epoch_seed(seed: u64, epoch: u64) -> u64 {
    if epoch == 0 {
        return seed;
    }
    mix_seed(seed, epoch)
}

/// A seed for draw number `counter` of a run seeded with `seed`: SplitMix64 of the pair, so
/// that nearby counters get unrelated seeds (epochs here, training steps in `rnnlab-tasks`).
pub fn mix_seed(seed: u64, counter: u64) -> u64 {
    let mix = |mut z: u64| {
        z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    };
    mix(seed ^ mix(counter))
}

/// The item order of one epoch.
#[derive(Debug, Default)]
struct Drawn {
    /// The epoch it was drawn for.
    epoch: Option<u64>,
    /// Position → item index.
    order: Vec<usize>,
}

/// The items in the order drawn for the current epoch.
struct Reordered<I> {
    items: Arc<Vec<I>>,
    drawn: Arc<RwLock<Drawn>>,
}

impl<I: Clone + Send + Sync> Dataset<I> for Reordered<I> {
    fn get(&self, index: usize) -> Result<I, DatasetError> {
        let drawn = self
            .drawn
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let item = drawn.order.get(index).and_then(|&i| self.items.get(i));
        item.cloned().ok_or_else(|| {
            DatasetError::new(DataError::invalid(format!(
                "item {index} out of range: there are {}",
                self.items.len()
            )))
        })
    }

    fn len(&self) -> usize {
        self.items.len()
    }
}

/// Training batches of `batch_size` items of similar length ([`bucket_by_length`]), drawn
/// again with [`epoch_seed`] whenever an epoch's iteration starts. Epoch `k` depends only on
/// `seed` and `k`. A copy made by [`DataLoader::to_device`] or [`DataLoader::slice`] starts
/// again at the first epoch, as burn's shuffling loaders do; a resumed run skips the finished
/// epochs by starting (not consuming) that many iterations of its copy.
pub struct EpochBuckets<I, O, Bt> {
    items: Arc<Vec<I>>,
    lengths: Arc<Vec<usize>>,
    drawn: Arc<RwLock<Drawn>>,
    batcher: Bt,
    batch_size: usize,
    seed: u64,
    device: Device,
    next_epoch: AtomicU64,
    inner: Arc<dyn DataLoader<O>>,
}

impl<I, O, Bt> EpochBuckets<I, O, Bt>
where
    I: Send + Sync + Clone + std::fmt::Debug + 'static,
    O: Send + Clone + std::fmt::Debug + 'static,
    Bt: Batcher<I, O> + Clone + 'static,
{
    /// A loader over `items` (`len` gives an item's length), batched by `batcher` on `device`.
    pub fn new(
        items: Vec<I>,
        len: impl Fn(&I) -> usize,
        batcher: Bt,
        batch_size: usize,
        seed: u64,
        device: &Device,
    ) -> Self {
        let lengths = items.iter().map(len).collect();
        Self::build(
            Arc::new(items),
            Arc::new(lengths),
            batcher,
            batch_size,
            seed,
            device,
        )
    }

    fn build(
        items: Arc<Vec<I>>,
        lengths: Arc<Vec<usize>>,
        batcher: Bt,
        batch_size: usize,
        seed: u64,
        device: &Device,
    ) -> Self {
        let drawn = Arc::new(RwLock::new(Drawn::default()));
        let inner = DataLoaderBuilder::new(batcher.clone())
            .set_device(device.clone())
            .batch_size(batch_size.max(1))
            .build(Reordered {
                items: items.clone(),
                drawn: drawn.clone(),
            });
        Self {
            items,
            lengths,
            drawn,
            batcher,
            batch_size: batch_size.max(1),
            seed,
            device: device.clone(),
            next_epoch: AtomicU64::new(0),
            inner,
        }
    }

    /// The item indices of epoch `epoch`, in batch order.
    pub fn order(&self, epoch: u64) -> Vec<usize> {
        let mut order: Vec<usize> = (0..self.items.len()).collect();
        bucket_by_length(
            &mut order,
            |&i| self.lengths[i],
            self.batch_size,
            epoch_seed(self.seed, epoch),
        );
        order
    }

    fn start_epoch(&self, epoch: u64) {
        let mut drawn = self
            .drawn
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if drawn.epoch != Some(epoch) {
            drawn.order = self.order(epoch);
            drawn.epoch = Some(epoch);
        }
    }
}

impl<I, O, Bt> DataLoader<O> for EpochBuckets<I, O, Bt>
where
    I: Send + Sync + Clone + std::fmt::Debug + 'static,
    O: Send + Clone + std::fmt::Debug + 'static,
    Bt: Batcher<I, O> + Clone + 'static,
{
    fn iter<'a>(&'a self) -> Box<dyn DataLoaderIterator<O> + 'a> {
        self.start_epoch(self.next_epoch.fetch_add(1, Ordering::SeqCst));
        self.inner.iter()
    }

    fn num_items(&self) -> usize {
        self.items.len()
    }

    fn to_device(&self, device: &Device) -> Arc<dyn DataLoader<O>> {
        Arc::new(Self::build(
            self.items.clone(),
            self.lengths.clone(),
            self.batcher.clone(),
            self.batch_size,
            self.seed,
            device,
        ))
    }

    /// The items at positions `start..end` of the first epoch's order, as a loader of their
    /// own that draws its buckets again every epoch (from a seed of its own), so that slices
    /// iterated side by side never see each other's draws.
    fn slice(&self, start: usize, end: usize) -> Arc<dyn DataLoader<O>> {
        let order = self.order(0);
        let end = end.min(order.len());
        let start = start.min(end);
        let items: Vec<I> = order[start..end]
            .iter()
            .map(|&i| self.items[i].clone())
            .collect();
        let lengths = order[start..end].iter().map(|&i| self.lengths[i]).collect();
        Arc::new(Self::build(
            Arc::new(items),
            Arc::new(lengths),
            self.batcher.clone(),
            self.batch_size,
            epoch_seed(self.seed ^ start as u64, u64::MAX),
            &self.device,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Batches of item lengths.
    #[derive(Clone)]
    struct Lengths;

    impl Batcher<usize, Vec<usize>> for Lengths {
        fn batch(&self, items: Vec<usize>, _: &Device) -> Vec<usize> {
            items
        }
    }

    fn epoch(loader: &dyn DataLoader<Vec<usize>>) -> Vec<Vec<usize>> {
        loader.iter().map(|b| b.unwrap()).collect()
    }

    /// Items are their own lengths: 1..=n in a scrambled order (distinct, so each is traceable).
    fn loader(n: usize, seed: u64) -> EpochBuckets<usize, Vec<usize>, Lengths> {
        let items: Vec<usize> = (0..n).map(|i| 1 + (i * 37) % n).collect();
        EpochBuckets::new(items, |&l| l, Lengths, 8, seed, &Device::flex())
    }

    fn padding(batches: &[Vec<usize>]) -> usize {
        batches
            .iter()
            .map(|b| b.iter().map(|l| b.iter().max().unwrap() - l).sum::<usize>())
            .sum()
    }

    #[test]
    fn every_epoch_holds_every_item_once_in_new_batches_of_similar_length() {
        let n = 1000;
        let l = loader(n, 3);
        let epochs: Vec<Vec<Vec<usize>>> = (0..3).map(|_| epoch(&l)).collect();
        for batches in &epochs {
            let mut all: Vec<usize> = batches.iter().flatten().copied().collect();
            all.sort_unstable();
            assert_eq!(all, (1..=n).collect::<Vec<_>>());
            assert_eq!(batches.len(), n.div_ceil(8));
        }
        assert_ne!(epochs[0], epochs[1], "epoch 2 repeated epoch 1's batches");
        assert_ne!(epochs[1], epochs[2]);
        // The first epoch is `bucket_by_length` with the seed itself.
        let mut once: Vec<usize> = (0..n).map(|i| 1 + (i * 37) % n).collect();
        bucket_by_length(&mut once, |&l| l, 8, 3);
        assert_eq!(epochs[0].concat(), once);
        // Bucketing still pays: unsorted batches of 1..1000 pad far more.
        let plain: Vec<Vec<usize>> = (0..n)
            .map(|i| 1 + (i * 37) % n)
            .collect::<Vec<_>>()
            .chunks(8)
            .map(<[usize]>::to_vec)
            .collect();
        for batches in &epochs {
            assert!(padding(batches) * 10 < padding(&plain));
        }
    }

    #[test]
    fn a_copy_starts_over_and_k_started_epochs_skip_to_epoch_k_plus_one() {
        let l = loader(200, 5);
        let first: Vec<Vec<Vec<usize>>> = (0..3).map(|_| epoch(&l)).collect();
        // A copy of a loader that already ran starts again at the first epoch.
        assert_eq!(epoch(l.to_device(&Device::flex()).as_ref()), first[0]);
        // What a resumed run does: start two iterations of its copy, loading nothing.
        let moved = loader(200, 5).to_device(&Device::flex());
        for _ in 0..2 {
            drop(moved.iter());
        }
        assert_eq!(epoch(moved.as_ref()), first[2]);
        assert_ne!(
            epoch(&loader(200, 6)),
            first[0],
            "another seed, other batches"
        );
    }

    #[test]
    fn slices_split_the_items_and_reshuffle_apart() {
        let l = loader(300, 1);
        let (a, b) = (l.slice(0, 150), l.slice(150, 300));
        let (a1, b1) = (epoch(a.as_ref()), epoch(b.as_ref()));
        let mut all: Vec<usize> = a1.iter().chain(&b1).flatten().copied().collect();
        all.sort_unstable();
        assert_eq!(all, (1..=300).collect::<Vec<_>>());
        let a2 = epoch(a.as_ref());
        assert_ne!(a1, a2);
        let (mut s1, mut s2) = (a1.concat(), a2.concat());
        s1.sort_unstable();
        s2.sort_unstable();
        assert_eq!(s1, s2, "a slice keeps its items");
        assert_eq!(a.num_items() + b.num_items(), 300);
    }
}
