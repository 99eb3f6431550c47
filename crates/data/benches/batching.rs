//! Batching is never the bottleneck: the time to produce one batch (burn `DataLoader`, one
//! thread, on `flex`) against the time rnnlab-models takes to train on a batch of that shape,
//! measured in the same run.
//!
//! ```text
//! cargo bench --workspace --bench batching
//! ```

use std::time::Instant;

use burn::Tensor;
use burn::data::dataloader::DataLoaderBuilder;
use burn::prelude::Device;
use burn::tensor::Distribution;
use rnnlab_data::classification::{
    ClassBatcher, ClassDataset, ClassItem, Labelled, load_mr, stratified_split,
};
use rnnlab_data::lm::{LmBatcher, WindowDataset};
use rnnlab_data::nb::cross_fitted;
use rnnlab_data::shipped_datasets_dir;
use rnnlab_data::subwords::Subwords;
use rnnlab_data::timeseries::{Features, ScalerKind, Series, SplitSpec, TsBatcher, WindowConfig};
use rnnlab_data::tokenizer::{CharTokenizer, Tokenizer, UnknownPolicy, WordConfig, WordTokenizer};
use rnnlab_models::{CellType, RecurrentConfig};

const BATCHES: usize = 50;

/// Mean milliseconds per batch over `BATCHES` batches of `iter`.
fn per_batch<T>(mut iter: impl Iterator<Item = T>) -> f64 {
    let _ = iter.next();
    let start = Instant::now();
    for _ in 0..BATCHES {
        std::hint::black_box(iter.next().expect("enough batches"));
    }
    start.elapsed().as_secs_f64() * 1e3 / BATCHES as f64
}

/// Median milliseconds of a training step (forward, mean, backward) of the recurrent stack.
fn train_step(config: RecurrentConfig, batch: usize, time: usize) -> f64 {
    let device = Device::flex().autodiff();
    let model = config.clone().init(&device);
    let x = Tensor::<3>::random(
        [batch, time, config.d_input],
        Distribution::Uniform(-1.0, 1.0),
        &device,
    );
    let mut times: Vec<f64> = (0..4)
        .map(|_| {
            let start = Instant::now();
            let _ = model.forward(x.clone(), None).0.mean().backward();
            start.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

/// The items of `indices` (ids as `ClassDataset::new` makes them) with their texts.
fn train_ids<'a>(
    data: &'a [Labelled],
    indices: &[usize],
    words: &WordTokenizer,
) -> Vec<(ClassItem, &'a str)> {
    let items = ClassDataset::new(data, indices, words, 0)
        .unwrap()
        .into_items();
    items
        .into_iter()
        .zip(indices.iter().map(|&i| data[i].text.as_str()))
        .collect()
}

fn main() {
    let device = Device::flex();
    println!("| data | batch | batching ms/batch | model train step ms | ratio |");
    println!("|---|---|---:|---:|---:|");
    let row = |name: &str, shape: &str, batching: f64, step: f64| {
        println!(
            "| {name} | {shape} | {batching:.3} | {step:.1} | {:.0}x |",
            step / batching
        );
    };

    // tiny-shakespeare, char-level random windows (nanoGPT style), charlm shape.
    let text =
        std::fs::read_to_string(shipped_datasets_dir().join("text/tinyshakespeare.txt")).unwrap();
    let tok = CharTokenizer::fit(&text, UnknownPolicy::Error);
    // nanoGPT's split: the first 90 % of the characters train.
    let mut ids = tok.encode(&text).unwrap();
    ids.truncate(ids.len() * 9 / 10);
    let loader = DataLoaderBuilder::new(LmBatcher)
        .set_device(device.clone())
        .batch_size(32)
        .shuffle(1)
        .build(WindowDataset::new(ids, 100).unwrap());
    let batching = per_batch(loader.iter().map(|b| b.unwrap()));
    let step = train_step(
        RecurrentConfig::new(CellType::Lstm, 64, 256).with_n_layers(2),
        32,
        100,
    );
    row("tiny-shakespeare windows", "[32, 100] ids", batching, step);

    // ETTh1 multivariate windows, forecast shape (7 features: ETTh1's columns).
    let series =
        Series::from_csv(&shipped_datasets_dir().join("timeseries/ETTh1.csv"), "date").unwrap();
    let config = WindowConfig {
        lookback: 48,
        horizon: 24,
        stride: 1,
        features: Features::M,
        target: "OT".into(),
        split: SplitSpec::Rows {
            train_end: 8640,
            valid_end: 11520,
            test_end: 14400,
        },
        scaler: ScalerKind::Zscore,
    };
    let start = Instant::now();
    let splits = config.build(&series).unwrap();
    let windowing = start.elapsed().as_secs_f64() * 1e3;
    let loader = DataLoaderBuilder::new(TsBatcher {
        lookback: 48,
        horizon: 24,
    })
    .set_device(device.clone())
    .batch_size(128)
    .shuffle(1)
    .build(splits.train);
    let batching = per_batch(loader.iter().map(|b| b.unwrap()));
    let step = train_step(RecurrentConfig::new(CellType::Gru, 7, 64), 128, 48);
    row("ETTh1 windows (M)", "[128, 48, 7]", batching, step);

    // MR, word-level, padded and bucketed, sentiment shape.
    let data = load_mr(&shipped_datasets_dir().join("sentiment/mr")).unwrap();
    let words = WordTokenizer::fit(data.iter().map(|e| e.text.as_str()), &WordConfig::default());
    let split = stratified_split(
        &data.iter().map(|e| e.label).collect::<Vec<_>>(),
        0.1,
        0.1,
        42,
    )
    .unwrap();
    let train = ClassDataset::new(&data, &split.train, &words, 0)
        .unwrap()
        .bucket_by_length(64, 1);
    let loader = DataLoaderBuilder::new(ClassBatcher { pad_id: 0 })
        .set_device(device.clone())
        .batch_size(64)
        .build(train);
    let batching = per_batch(loader.iter().map(|b| b.unwrap()));
    let step = train_step(RecurrentConfig::new(CellType::Lstm, 128, 128), 64, 200);
    row("MR padded batches", "[64, ≤59] ids", batching, step);

    // The same sentences with fastText subwords (the pieces of each word, computed once when
    // the dataset is built, then padded into `[B, T, K]` by the batcher).
    let subwords = Subwords {
        buckets: 32_768,
        min_n: 3,
        max_n: 5,
    };
    let start = Instant::now();
    let items: Vec<ClassItem> = train_ids(&data, &split.train, &words)
        .into_iter()
        .map(|(item, text)| ClassItem {
            pieces: subwords.of_words(&words.words(text)),
            ..item
        })
        .collect();
    let pieces_ms = start.elapsed().as_secs_f64() * 1e3;
    let n_train = items.len();
    let loader = DataLoaderBuilder::new(ClassBatcher { pad_id: 0 })
        .set_device(device.clone())
        .batch_size(64)
        .build(ClassDataset::from_items(items).bucket_by_length(64, 1));
    let batching = per_batch(loader.iter().map(|b| b.unwrap()));
    row(
        "MR padded batches + subwords",
        "[64, ≤59] ids, [64, ≤59, ≤K] pieces",
        batching,
        step,
    );

    // The same sentences with Naive-Bayes log-count ratios (2 · 2 features per token), fitted
    // and cross-fitted once when the dataset is built.
    let start = Instant::now();
    let items = ClassDataset::new(&data, &split.train, &words, 0)
        .unwrap()
        .into_items();
    let docs: Vec<(&[u32], usize)> = items.iter().map(|i| (i.ids.as_slice(), i.label)).collect();
    let features = cross_fitted(&docs, 2, 1.0, 5, 0).unwrap();
    let ratios_ms = start.elapsed().as_secs_f64() * 1e3;
    let items: Vec<ClassItem> = items
        .into_iter()
        .zip(features)
        .map(|(item, features)| ClassItem { features, ..item })
        .collect();
    let loader = DataLoaderBuilder::new(ClassBatcher { pad_id: 0 })
        .set_device(device.clone())
        .batch_size(64)
        .build(ClassDataset::from_items(items).bucket_by_length(64, 1));
    let batching = per_batch(loader.iter().map(|b| b.unwrap()));
    row(
        "MR padded batches + log-count ratios",
        "[64, ≤59] ids, [64, ≤59, 4] features",
        batching,
        step,
    );

    println!(
        "\nMR: tokenising and cross-fitting the log-count ratios of all {n_train} training \
         sentences (5 folds), once: {ratios_ms:.1} ms"
    );
    println!("MR: the subword pieces of all {n_train} training sentences, once: {pieces_ms:.1} ms");
    println!(
        "ETTh1: reading, scaling and cutting all windows once: {windowing:.1} ms (device {device:?})"
    );
}
