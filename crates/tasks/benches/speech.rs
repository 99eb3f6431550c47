//! Speech speed, measured in one run: feature extraction (WAV → 39 MFCC-with-deltas per
//! frame) of the 3,000 FSDD recordings on one core and on all cores, beside the training step
//! (forward, loss, backward, Adam) of the default spoken-digit model on a batch of 32 of those
//! recordings.
//!
//! ```text
//! cargo bench --workspace --bench speech
//! ```

use std::path::PathBuf;
use std::time::Instant;

use burn::data::dataloader::batcher::Batcher;
use burn::optim::{AdamConfig, GradientsParams};
use burn::prelude::Device;
use rnnlab_data::audio::{FeatureExtractor, FrameBatcher, FrameItem};
use rnnlab_data::shipped_datasets_dir;
use rnnlab_tasks::speech::SpeechExperiment;
use rnnlab_tasks::speech::data::par_map;

/// The allocator the `rnnlab` binary uses (BENCHMARKS.md "Allocator").
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let dir = shipped_datasets_dir().join("speech/fsdd/recordings");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "wav"))
        .collect();
    paths.sort();
    let e = SpeechExperiment::default();
    let x = FeatureExtractor::new(&e.data.features).unwrap();
    let rounds = 3;
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let one_core = median(
        (0..rounds)
            .map(|_| {
                let t = Instant::now();
                for p in &paths {
                    std::hint::black_box(x.read(p).unwrap());
                }
                t.elapsed().as_secs_f64()
            })
            .collect(),
    );
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let all_cores = median(
        (0..rounds)
            .map(|_| {
                let t = Instant::now();
                std::hint::black_box(par_map(&paths, |p| x.read(p)).unwrap());
                t.elapsed().as_secs_f64()
            })
            .collect(),
    );
    let n = paths.len() as f64;
    println!(
        "feature extraction of {} recordings (13 MFCC + deltas):",
        paths.len()
    );
    println!(
        "  1 core:   {:>8.0} recordings/s ({:.2} s)",
        n / one_core,
        one_core
    );
    println!(
        "  {cores} cores:  {:>8.0} recordings/s ({:.2} s)",
        n / all_cores,
        all_cores
    );

    // The default model's training step on 32 recordings of similar length.
    let features = par_map(&paths, |p| x.read(p)).unwrap();
    let mut items: Vec<FrameItem> = features
        .into_iter()
        .map(|f| FrameItem {
            features: f,
            targets: vec![0],
        })
        .collect();
    items.sort_by_key(|i| i.features.frames);
    let mid = items.len() / 2;
    let batch: Vec<FrameItem> = items[mid..mid + 32].to_vec();
    let frames = batch.iter().map(|i| i.features.frames).max().unwrap();
    let device = Device::flex().autodiff();
    let mut model = e.model_config().try_init(&device).unwrap();
    let mut optim = AdamConfig::new().init();
    let b = FrameBatcher.batch(batch, &device);
    let mut times = Vec::new();
    for i in 0..12 {
        let t = Instant::now();
        let out = model.forward_classification(b.clone());
        let grads = GradientsParams::from_grads(out.loss.backward(), &model);
        model = optim.step(1e-3, model, grads);
        device.sync().unwrap();
        if i >= 2 {
            times.push(t.elapsed().as_secs_f64() * 1e3);
        }
    }
    let step = median(times);
    println!(
        "training step of the default model (2 x BiGRU 64, batch 32 x {frames} frames): {step:.1} ms \
         ({:.0} recordings/s)",
        32.0 / step * 1e3
    );
    println!(
        "one epoch of the official split (2,400 recordings): features {:.2} s ({cores} cores), \
         training about {:.0} s",
        2400.0 / (n / all_cores),
        2400.0 / 32.0 * step / 1e3
    );
}
