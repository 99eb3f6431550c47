//! The packed-weight cache: hits for the same weights, misses for anything else.

use std::cell::Cell;

use burn::backend::TensorData;
use burn_flex::FlexTensor;

use super::{ENTRIES, Key, WeightCache};

fn weights(values: &[f32]) -> FlexTensor {
    FlexTensor::from_data(TensorData::new(values.to_vec(), [values.len() / 2, 2]))
}

/// Looks `w` up (with input weights `w_ih`) and says whether it had to be packed.
fn packs_with(
    cache: &WeightCache<u32>,
    w: &FlexTensor,
    w_ih: Option<&FlexTensor>,
    parallel: bool,
) -> bool {
    let packed = Cell::new(false);
    let key = Key {
        w_hh: w,
        w_hr: None,
        w_ih,
        parallel,
    };
    cache.packed(key, || {
        packed.set(true);
        7
    });
    packed.get()
}

/// Looks `w` up and says whether it had to be packed.
fn packs(cache: &WeightCache<u32>, w: &FlexTensor, parallel: bool) -> bool {
    packs_with(cache, w, None, parallel)
}

#[test]
fn input_weights_are_part_of_the_key() {
    let cache = WeightCache::new();
    let (w, w_ih) = (weights(&[1.0, 2.0]), weights(&[3.0, 4.0]));
    assert!(packs(&cache, &w, false));
    assert!(
        packs_with(&cache, &w, Some(&w_ih), false),
        "with W_ih is another set"
    );
    assert!(!packs_with(&cache, &w, Some(&w_ih), false));
    let other = weights(&[3.0, 4.0]);
    assert!(
        packs_with(&cache, &w, Some(&other), false),
        "other W_ih, same W_hh"
    );
}

#[test]
fn the_same_weights_are_packed_once() {
    let cache = WeightCache::new();
    let w = weights(&[1.0, 2.0, 3.0, 4.0]);
    assert!(packs(&cache, &w, false));
    assert!(!packs(&cache, &w, false), "a second call repacked");
    assert!(
        !packs(&cache, &w.clone(), false),
        "a clone shares the storage"
    );
    assert!(packs(&cache, &w, true), "another split is another packing");
}

#[test]
fn other_or_changed_weights_miss() {
    let cache = WeightCache::new();
    let w = weights(&[1.0, 2.0, 3.0, 4.0]);
    assert!(packs(&cache, &w, false));
    // Equal values in another tensor: another storage, packed again.
    assert!(packs(&cache, &weights(&[1.0, 2.0, 3.0, 4.0]), false));
    // The cache's clone keeps the storage shared, so a write cannot happen in place: it copies
    // (copy-on-write), and the changed tensor misses.
    let mut changed = w.clone();
    drop(w);
    assert!(changed.try_storage_mut::<f32>().is_none());
    changed.storage_mut::<f32>()[0] = 9.0;
    assert!(packs(&cache, &changed, false));
    assert!(!packs(&cache, &changed, false));
}

#[test]
fn at_most_entries_are_kept_and_clear_drops_them() {
    let cache = WeightCache::new();
    let all: Vec<FlexTensor> = (0..=ENTRIES).map(|i| weights(&[i as f32, 0.0])).collect();
    for w in &all {
        assert!(packs(&cache, w, false));
    }
    // The least recently used (the first) was dropped, the most recent kept.
    assert!(!packs(&cache, &all[ENTRIES], false));
    assert!(packs(&cache, &all[0], false));
    cache.clear();
    assert!(packs(&cache, &all[ENTRIES], false));
}
