//! Helpers of the end-to-end tests: run the `rnnlab` binary, expect success or exactly one
//! clear error line, find the run directory it printed.
#![allow(dead_code)] // each test binary uses its own share

use std::path::{Path, PathBuf};
use std::process::Command;

pub fn datasets() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../datasets")
}

pub struct Out {
    pub ok: bool,
    pub stdout: String,
    pub stderr: String,
}

pub fn rnnlab(args: &[&str]) -> Out {
    rnnlab_with(args, &[])
}

/// [`rnnlab`] with extra environment variables.
pub fn rnnlab_with(args: &[&str], env: &[(&str, &str)]) -> Out {
    let out = Command::new(env!("CARGO_BIN_EXE_rnnlab"))
        .args(args)
        .env("BURN_DEVICE", "flex")
        .envs(env.iter().copied())
        .output()
        .expect("rnnlab runs");
    Out {
        ok: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into(),
        stderr: String::from_utf8_lossy(&out.stderr).into(),
    }
}

/// Starts `rnnlab` without waiting (for runs at the same time); [`finished`] collects it.
pub fn spawn(args: &[&str]) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_rnnlab"))
        .args(args)
        .env("BURN_DEVICE", "flex")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("rnnlab runs")
}

/// Waits for a [`spawn`]ed run, expects success and returns its run directory.
pub fn finished(child: std::process::Child) -> PathBuf {
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    run_dir(&String::from_utf8_lossy(&out.stdout))
}

pub fn ok(args: &[&str]) -> String {
    let out = rnnlab(args);
    assert!(
        out.ok,
        "rnnlab {args:?} failed:\n{}\n{}",
        out.stdout, out.stderr
    );
    out.stdout
}

/// Fails with exactly one `error:` line containing `expected`.
pub fn fails(args: &[&str], expected: &str) {
    fails_with(args, &[], expected)
}

/// [`fails`] with extra environment variables.
pub fn fails_with(args: &[&str], env: &[(&str, &str)], expected: &str) {
    let out = rnnlab_with(args, env);
    assert!(!out.ok, "rnnlab {args:?} should fail:\n{}", out.stdout);
    let lines: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| !l.trim().is_empty())
        .collect();
    assert_eq!(lines.len(), 1, "one error line: {}", out.stderr);
    assert!(
        lines[0].starts_with("error: ") && lines[0].contains(expected),
        "{expected:?} in {}",
        lines[0]
    );
}

pub fn run_dir(stdout: &str) -> PathBuf {
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix("run: "))
        .expect("a run: line");
    PathBuf::from(line.trim())
}

pub fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

pub fn listing(dir: &Path) -> Vec<(PathBuf, u64, std::time::SystemTime)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let meta = entry.metadata().unwrap();
        if meta.is_dir() {
            out.extend(listing(&entry.path()));
        } else {
            out.push((entry.path(), meta.len(), meta.modified().unwrap()));
        }
    }
    out.sort();
    out
}

/// Copies the folder `from` to `to`, recursively.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// A small sentiment experiment in `dir` over `lines` (`text<TAB>neg|pos`): 8-wide mean-pooled
/// GRU, no dropout, no early stopping, the last epoch kept, plus `model` and `train` lines.
pub fn tiny_sentiment(dir: &Path, name: &str, lines: &str, model: &str, train: &str) -> String {
    let data = write(dir, "s.tsv", lines);
    write(
        dir,
        "s.toml",
        &format!(
            "task = \"sentiment\"\nname = \"{name}\"\n[data]\nformat = \"tsv\"\n\
             path = {data:?}\nlabels = [\"neg\", \"pos\"]\nbatch_size = 8\n[model]\n\
             d_embed = 8\nd_hidden = 8\npooling = \"mean\"\ndropout = 0.0\n{model}\n\
             [train]\nlr = 0.02\nearly_stopping = 0\nkeep_best = false\n{train}\n"
        ),
    )
}

/// 64 sentences `a|the|one film dismal|superb`, the class told by the last word.
pub fn keyword_lines() -> String {
    (0..64)
        .map(|i| {
            let (word, label) = [("dismal", "neg"), ("superb", "pos")][i % 2];
            format!("{} film {word}\t{label}\n", ["a", "the", "one"][i % 3])
        })
        .collect()
}

/// Digits 0–3, takes 0–9 of two speakers: 40 test (takes 0–4), 16 validation (5–6), 24
/// training recordings.
pub fn recordings(dir: &Path) -> String {
    let src = datasets().join("speech/fsdd/recordings");
    std::fs::create_dir_all(dir).unwrap();
    for speaker in ["jackson", "theo"] {
        for digit in 0..4 {
            for take in 0..10 {
                let name = format!("{digit}_{speaker}_{take}.wav");
                std::fs::copy(src.join(&name), dir.join(&name)).unwrap();
            }
        }
    }
    std::fs::write(dir.join("README.txt"), "other files are ignored").unwrap();
    dir.display().to_string()
}

/// `train` of the airline forecasting experiment (`experiments/forecast-airline.toml`) on the
/// shipped CSV, with `extra` overrides and flags.
pub fn airline(extra: &[&str]) -> Vec<String> {
    let exp = datasets().join("../experiments/forecast-airline.toml");
    let csv = datasets().join("timeseries/airline_passengers.csv");
    let mut args = vec![
        "train".to_string(),
        exp.display().to_string(),
        format!("data.path={}", csv.display()),
    ];
    args.extend(extra.iter().map(|a| a.to_string()));
    args
}

/// `args` as the `&[&str]` that [`ok`], [`rnnlab`] and [`fails`] take.
pub fn strs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

/// A small char-LM experiment in `dir` over a repeated line: 2-layer 16-wide stack, `epochs`
/// epochs, the last kept, plus `model` lines.
pub fn tiny_lm(dir: &Path, name: &str, model: &str, epochs: usize) -> String {
    let text = write(
        dir,
        "text.txt",
        &"a rose by any other name would smell as sweet.\n".repeat(50),
    );
    write(
        dir,
        &format!("{name}.toml"),
        &format!(
            "task = \"charlm\"\nname = \"{name}\"\n[data]\npath = {text:?}\nseq_len = 16\n\
             batch_size = 8\nwindow_stride = 4\nvalid_stride = 8\n[model]\nd_embed = 8\n\
             d_hidden = 16\nn_layers = 2\n{model}\n[train]\nepochs = {epochs}\nlr = 0.01\n\
             keep_best = false\n"
        ),
    )
}

/// A small English-French translation experiment in `dir` (36 pairs), 8-wide, 2 epochs, plus
/// `model` lines.
pub fn tiny_translation(dir: &Path, model: &str) -> String {
    let mut pairs = String::new();
    for (a, b) in [
        ("I am", "Je suis"),
        ("He is", "Il est"),
        ("We are", "Nous sommes"),
    ] {
        for (x, y) in [("cold", "froid"), ("tall", "grand"), ("sad", "triste")] {
            for n in 0..4 {
                pairs.push_str(&format!("{a} {x} {n}.\t{b} {y} {n}.\n"));
            }
        }
    }
    let data = write(dir, "pairs.tsv", &pairs);
    write(
        dir,
        "t.toml",
        &format!(
            "task = \"translate\"\nname = \"t\"\n[data]\npath = {data:?}\nbatch_size = 8\n\
             [data.vocab]\nmin_freq = 1\n[model]\nd_embed = 8\nd_hidden = 8\n{model}\n\
             [train]\nepochs = 2\n"
        ),
    )
}

/// A small spoken-digit experiment in `dir` over [`recordings`], 8-wide, one layer, 2 epochs,
/// plus `model` lines; also returns the recordings' folder.
pub fn tiny_speech(dir: &Path, model: &str) -> (String, String) {
    let data = recordings(&dir.join("rec"));
    let exp = write(
        dir,
        "speech.toml",
        &format!(
            "task = \"speech\"\nname = \"digits\"\n[data]\npath = {data:?}\nvalid_takes = 2\n\
             batch_size = 8\n[model]\nd_hidden = 8\nn_layers = 1\n{model}\n[train]\nepochs = 2\n"
        ),
    );
    (exp, data)
}

/// Trains `exp` (`epochs` epochs, no early stop) into `runs`, deletes the last epoch's
/// checkpoints and the final files as a kill during that epoch would, resumes, and checks that
/// `metrics.csv` and `model.bpk` come out byte for byte as before; then that another seed
/// gives other numbers (the random draws and the batches differ from step to step).
pub fn assert_resume_repeats_the_run(exp: &str, runs: &Path, epochs: usize) {
    let runs = runs.display().to_string();
    let dir = run_dir(&ok(&["train", exp, "--runs", &runs]));
    let csv = std::fs::read_to_string(dir.join("metrics.csv")).unwrap();
    let weights = std::fs::read(dir.join("model.bpk")).unwrap();
    // The last two epochs' checkpoints are kept: the last epoch is redone from the one before.
    for name in ["model", "optim", "scheduler"] {
        std::fs::remove_file(dir.join(format!("checkpoint/{name}-{epochs}.bpk"))).unwrap();
    }
    for name in ["model.bpk", "results.json", "report.txt"] {
        std::fs::remove_file(dir.join(name)).unwrap();
    }
    let resumed = ok(&["resume", &dir.display().to_string()]);
    let (last, before) = (
        format!("epoch {epochs}/{epochs}"),
        format!("epoch {}/{epochs}", epochs - 1),
    );
    assert!(
        resumed.contains(&last) && !resumed.contains(&before),
        "{resumed}"
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("metrics.csv")).unwrap(),
        csv
    );
    assert_eq!(
        std::fs::read(dir.join("model.bpk")).unwrap(),
        weights,
        "byte for byte"
    );
    let other = run_dir(&ok(&["train", exp, "--runs", &runs, "train.seed=1"]));
    assert_ne!(
        std::fs::read_to_string(other.join("metrics.csv")).unwrap(),
        csv
    );
}
