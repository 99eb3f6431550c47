//! A run repeats bit for bit on its instruction-set path, whatever else the machine is doing:
//! the same experiment alone, then twice at once beside two threads that keep both cores busy,
//! gives a byte-identical `metrics.csv` (every step's loss) and `results.json` (the kept
//! weights' test scores to the last digit; `model.bpk` itself differs only in burn's random
//! parameter ids). And `RNNLAB_CPU_ISA` is checked before any work.
mod common;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use common::{datasets, fails_with, finished, spawn, write};

fn train(exp: &str, runs: &Path, args: &[&str]) -> std::process::Child {
    let runs = runs.display().to_string();
    let mut all = vec!["train", exp, "--runs", &runs];
    all.extend_from_slice(args);
    spawn(&all)
}

/// `metrics.csv` and `results.json` (less its wall times) of a run.
fn outcome(dir: &Path) -> (String, String) {
    let results = std::fs::read_to_string(dir.join("results.json")).unwrap();
    (
        std::fs::read_to_string(dir.join("metrics.csv")).unwrap(),
        results
            .lines()
            .filter(|l| !l.contains("seconds"))
            .collect::<Vec<_>>()
            .join("\n"),
    )
}

/// Runs `exp` alone, then twice at once beside two spinning threads; all three must agree.
fn assert_repeats_under_load(exp: &str, runs: &Path, args: &[&str]) {
    let alone = outcome(&finished(train(exp, runs, args)));
    let stop = Arc::new(AtomicBool::new(false));
    let hogs: Vec<_> = (0..2)
        .map(|_| {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut x = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
                }
            })
        })
        .collect();
    let pair = [train(exp, runs, args), train(exp, runs, args)];
    let loaded: Vec<_> = pair.into_iter().map(|c| outcome(&finished(c))).collect();
    stop.store(true, Ordering::Relaxed);
    for h in hogs {
        h.join().unwrap();
    }
    for (k, run) in loaded.iter().enumerate() {
        assert_eq!(run.0, alone.0, "metrics.csv of loaded run {k}");
        assert_eq!(run.1, alone.1, "results.json of loaded run {k}");
    }
}

/// The case: the airline GRU with early stopping, where one different loss moves the
/// epoch it stops at.
#[test]
fn a_forecast_run_repeats_bit_for_bit_beside_a_cpu_hog() {
    let tmp = tempfile::tempdir().unwrap();
    let exp = datasets()
        .join("../experiments/forecast-airline.toml")
        .display()
        .to_string();
    let path = format!(
        "data.path={}",
        datasets()
            .join("timeseries/airline_passengers.csv")
            .display()
    );
    assert_repeats_under_load(
        &exp,
        &tmp.path().join("runs"),
        &[&path, "train.epochs=20", "train.early_stopping=3"],
    );
}

/// A layer large enough for the op to share its steps with the helper thread (halves of the
/// batch in training, hidden units in generation-sized calls), with dropout drawing random
/// numbers: the hand-off must not change a bit either.
#[test]
fn a_run_on_both_cores_repeats_bit_for_bit_beside_a_cpu_hog() {
    let tmp = tempfile::tempdir().unwrap();
    let text = write(
        tmp.path(),
        "text.txt",
        &"we few, we happy few, we band of brothers.\n".repeat(60),
    );
    let exp = write(
        tmp.path(),
        "lm.toml",
        &format!(
            "task = \"charlm\"\nname = \"both\"\n[data]\npath = {text:?}\nseq_len = 24\nbatch_size = 16\n\
             window_stride = 6\nvalid_stride = 24\n[model]\nd_embed = 16\nd_hidden = 128\nn_layers = 2\n\
             dropout = 0.2\n[train]\nepochs = 2\nlr = 0.003\n"
        ),
    );
    assert_repeats_under_load(&exp, &tmp.path().join("runs"), &[]);
}

#[test]
fn a_forced_path_the_processor_lacks_or_does_not_know_is_one_error_line() {
    for (value, expected) in [
        (
            "sse9",
            "RNNLAB_CPU_ISA=sse9: expected one of avx512, avx2, neon, portable",
        ),
        // No x86-64 processor has NEON, and no aarch64 one AVX2.
        #[cfg(target_arch = "x86_64")]
        ("neon", "RNNLAB_CPU_ISA=neon: this processor cannot run it"),
        #[cfg(target_arch = "aarch64")]
        ("avx2", "RNNLAB_CPU_ISA=avx2: this processor cannot run it"),
    ] {
        fails_with(
            &["train", "experiments/does-not-matter.toml"],
            &[("RNNLAB_CPU_ISA", value)],
            expected,
        );
    }
}
