//! One seed, one run: a run on flex repeats bit for bit, and the same experiment on wgpu
//! (Mesa's software Vulkan in CI) ends within a tolerance of it. Data-parallel training on two
//! flex devices ends where one device with twice the batch ends, within a tolerance. A run
//! writes its directory and generates from it; bad configs and incomplete runs are clear
//! errors.
//!
//! This file is its own test binary: flex keeps one random generator per process, and the
//! unit tests running beside a run in the library's test binary would draw from it.

use std::path::Path;
use std::sync::Mutex;

use burn::prelude::Device;
use burn_store::ModuleSnapshot;
use rnnlab_data::tokenizer::Tokenizer;
use rnnlab_tasks::charlm::{CharLmExperiment, CharLmTask, Sampler, SamplingConfig};
use rnnlab_tasks::task::{load, train};

/// Relative tolerance between a wgpu and a flex run of the same seed (f32 sums reorder).
const DEVICE_TOLERANCE: f64 = 1e-3;

/// The two tests below both train; one at a time, so neither draws from the other's seed.
static ONE_RUN_AT_A_TIME: Mutex<()> = Mutex::new(());

fn tiny(dir: &Path) -> (CharLmExperiment, String) {
    tiny_with(dir, &[])
}

/// [`tiny`] with more overrides.
fn tiny_with(dir: &Path, extra: &[&str]) -> (CharLmExperiment, String) {
    let text_path = dir.join("text.txt");
    std::fs::write(
        &text_path,
        "to be or not to be, that is the question.\n".repeat(60),
    )
    .unwrap();
    let overrides = [
        format!("data.path={}", text_path.display()),
        "data.seq_len=16".into(),
        "data.batch_size=8".into(),
        "data.window_stride=4".into(),
        "data.valid_stride=8".into(),
        "model.d_embed=8".into(),
        "model.d_hidden=32".into(),
        "model.n_layers=1".into(),
        "train.epochs=2".into(),
        "train.lr=0.01".into(),
    ];
    let overrides: Vec<String> = overrides
        .into_iter()
        .chain(extra.iter().map(|o| o.to_string()))
        .collect();
    let (experiment, table): (CharLmExperiment, _) =
        rnnlab_tasks::config::resolve(None, &overrides).unwrap();
    (experiment, toml::to_string(&table).unwrap())
}

/// Every tensor of the run's `model.bpk`, by name, as raw bytes (the file itself also holds
/// random parameter ids, which differ between runs).
fn weights(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let run = load::<CharLmTask>(dir, &Device::flex()).unwrap();
    let mut tensors: Vec<_> = run
        .model
        .collect(None, None, false)
        .into_iter()
        .map(|t| (t.name.clone(), t.to_bytes().unwrap().to_vec()))
        .collect();
    tensors.sort();
    assert!(!tensors.is_empty(), "the model has tensors");
    tensors
}

#[test]
fn a_flex_run_repeats_bit_for_bit() {
    let _one = ONE_RUN_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let tmp = tempfile::tempdir().unwrap();
    let (experiment, resolved) = tiny(tmp.path());
    let mut runs = Vec::new();
    for name in ["first", "second"] {
        let dir = tmp.path().join(name);
        let mut results = train::<CharLmTask>(&experiment, &resolved, &dir, &Device::flex(), None)
            .unwrap()
            .results;
        results.remove("train_seconds").expect("the run is timed");
        let metrics = std::fs::read_to_string(dir.join("metrics.csv")).unwrap();
        let weights = weights(&dir);
        runs.push((results, metrics, weights));
    }
    let (first, second) = (&runs[0], &runs[1]);
    assert_eq!(first.0, second.0, "results.json differs");
    assert_eq!(first.1, second.1, "metrics.csv differs");
    assert_eq!(first.2.len(), second.2.len(), "the tensors saved differ");
    for ((name, a), (_, b)) in first.2.iter().zip(&second.2) {
        assert!(a == b, "{name} differs between the two runs");
    }
}

#[test]
fn wgpu_run_matches_flex() {
    if !rnnlab_models::testing::wgpu_or_skip("wgpu_run_matches_flex") {
        return;
    }
    let _one = ONE_RUN_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let tmp = tempfile::tempdir().unwrap();
    let (experiment, resolved) = tiny(tmp.path());
    let wgpu = rnnlab_tasks::device::parse("wgpu").unwrap();
    let on_gpu = train::<CharLmTask>(
        &experiment,
        &resolved,
        &tmp.path().join("wgpu"),
        &wgpu,
        None,
    )
    .unwrap()
    .results;
    let on_cpu = train::<CharLmTask>(
        &experiment,
        &resolved,
        &tmp.path().join("flex"),
        &Device::flex(),
        None,
    )
    .unwrap()
    .results;
    let (a, b) = (on_gpu["valid_loss"], on_cpu["valid_loss"]);
    assert!(
        (a - b).abs() <= DEVICE_TOLERANCE * b.max(1.0),
        "valid loss: wgpu {a} vs flex {b}"
    );
}

/// Two devices with batch `b` against one with `2b`: the same items per optimiser step and the
/// same learning rate (Adam's update does not change when gradients are summed rather than
/// averaged), but the step's items are grouped differently (each device takes its half of the
/// epoch in order), so the runs end close, not equal: within 5 % of the final validation loss,
/// after it has fallen from about 2.9 to about 0.1 nats per character.
const MULTI_DEVICE_TOLERANCE: f64 = 0.05;

#[test]
fn two_flex_devices_train_like_one_device_with_twice_the_batch() {
    let _one = ONE_RUN_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let tmp = tempfile::tempdir().unwrap();
    let loss = |name: &str, extra: &[&str]| -> f64 {
        let (experiment, resolved) = tiny_with(tmp.path(), extra);
        let dir = tmp.path().join(name);
        let results = train::<CharLmTask>(&experiment, &resolved, &dir, &Device::flex(), None)
            .unwrap()
            .results;
        results["valid_loss"]
    };
    let common = ["data.tbptt=false", "train.epochs=3"];
    let two = loss(
        "two",
        &[&common[..], &["train.devices=[\"flex\", \"flex\"]"]].concat(),
    );
    let one = loss("one", &[&common[..], &["data.batch_size=16"]].concat());
    assert!(two < 0.5 && one < 0.5, "both runs learn: {two} and {one}");
    assert!(
        (two - one).abs() <= MULTI_DEVICE_TOLERANCE * one,
        "two devices {two} against one device with twice the batch {one}"
    );
    // A carried state cannot be split across devices.
    let (experiment, resolved) = tiny_with(
        tmp.path(),
        &["data.tbptt=true", "train.devices=[\"flex\", \"flex\"]"],
    );
    let err = train::<CharLmTask>(
        &experiment,
        &resolved,
        &tmp.path().join("tbptt"),
        &Device::flex(),
        None,
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("set data.tbptt = false"), "{err}");
}

#[test]
fn trains_writes_a_run_directory_and_generates_from_it() {
    let _one = ONE_RUN_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let tmp = tempfile::tempdir().unwrap();
    let (experiment, resolved) = tiny(tmp.path());
    let run = tmp.path().join("runs/tiny/1");
    let summary = train::<CharLmTask>(&experiment, &resolved, &run, &Device::flex(), None)
        .unwrap()
        .results;
    for file in ["config.toml", "artefacts.json", "model.bpk", "metrics.csv"] {
        assert!(run.join(file).is_file(), "{file} written");
    }
    let csv = std::fs::read_to_string(run.join("metrics.csv")).unwrap();
    assert!(
        csv.starts_with("epoch,step,split,metric,value\n")
            && csv.contains("1,2,train_steps,Loss,")
            && csv.contains(",valid,Loss,"),
        "{csv}"
    );
    assert!(summary["baseline_nats_per_char"] > 0.0, "{summary:?}");
    assert!(
        summary["valid_loss"] < 2.0,
        "learnt something: {}",
        summary["valid_loss"]
    );
    let loaded = load::<CharLmTask>(&run, &Device::flex()).unwrap();
    let tokenizer = &loaded.artefacts.tokenizer;
    let prompt = tokenizer.encode("to be or").unwrap();
    let sampler = Sampler::new(SamplingConfig {
        temperature: 0.0,
        top_k: 0,
        top_p: 1.0,
        seed: 0,
    });
    let text = tokenizer.decode(&sampler.generate(&loaded.model, &prompt, 5, &Device::flex()));
    assert_eq!(text.chars().count(), 5);
}

#[test]
fn bad_configs_and_incomplete_runs_are_clear_errors() {
    let _one = ONE_RUN_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let tmp = tempfile::tempdir().unwrap();
    let (mut experiment, resolved) = tiny(tmp.path());
    let err = rnnlab_tasks::task::resolve::<CharLmTask>(None, &["model.cell=transformer".into()])
        .unwrap_err()
        .to_string();
    assert!(err.contains("model.cell"), "{err}");
    experiment.model.cell = rnnlab_models::CellType::Gru;
    experiment.model.d_hidden = 0;
    let err = format!(
        "{:#}",
        train::<CharLmTask>(
            &experiment,
            &resolved,
            &tmp.path().join("r2"),
            &Device::flex(),
            None
        )
        .unwrap_err()
    );
    assert!(err.contains("d_hidden"), "{err}");
    experiment.model.d_hidden = 8;
    experiment.train.lr = -1.0;
    let err = train::<CharLmTask>(
        &experiment,
        &resolved,
        &tmp.path().join("r3"),
        &Device::flex(),
        None,
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("train.lr = -1"), "{err}");
    let err = format!(
        "{:#}",
        load::<CharLmTask>(&tmp.path().join("nope"), &Device::flex())
            .err()
            .unwrap()
    );
    assert!(err.contains("config.toml"), "{err}");
}
