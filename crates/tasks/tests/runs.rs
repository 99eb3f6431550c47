//! Run directories end to end: a resumed run repeats the uninterrupted one byte for byte, a
//! warm start continues a finished run, runs started at once never share a directory, and
//! averaged weights are kept with every epoch's checkpoint.
mod common;

use std::path::{Path, PathBuf};

use common::*;

#[test]
fn a_resumed_run_with_dropout_repeats_the_uninterrupted_run() {
    let tmp = tempfile::tempdir().unwrap();
    let exp = tiny_lm(tmp.path(), "drop", "dropout = 0.3", 3);
    assert_resume_repeats_the_run(&exp, &tmp.path().join("runs"), 3);
}

#[test]
fn a_resumed_sentiment_run_repeats_its_reshuffled_batches() {
    let tmp = tempfile::tempdir().unwrap();
    let mut lines = String::new();
    for i in 0..96 {
        let label = ["neg", "pos"][i % 2];
        let word = ["awful", "great"][i % 2];
        // Lengths 2 to 9: several length buckets, drawn again every epoch.
        let filler = "very ".repeat(i % 8);
        lines.push_str(&format!("{filler}{word}\t{label}\n"));
    }
    let data = write(tmp.path(), "s.tsv", &lines);
    let exp = write(
        tmp.path(),
        "s.toml",
        &format!(
            "task = \"sentiment\"\nname = \"r\"\n[data]\nformat = \"tsv\"\npath = {data:?}\n\
             labels = [\"neg\", \"pos\"]\nbatch_size = 8\n[model]\nd_embed = 8\nd_hidden = 8\n\
             dropout = 0.3\n[train]\nepochs = 4\nlr = 0.01\nearly_stopping = 0\nkeep_best = false\n"
        ),
    );
    assert_resume_repeats_the_run(&exp, &tmp.path().join("runs"), 4);
}

#[test]
fn a_warm_start_continues_from_a_finished_run() {
    let tmp = tempfile::tempdir().unwrap();
    let first = write(
        tmp.path(),
        "a.txt",
        &"to be or not to be, that is the question.\n".repeat(60),
    );
    // The same letters in another order; a third text has letters the first lacks.
    let second = write(
        tmp.path(),
        "b.txt",
        &"that is not the question: to be, or to be not.\n".repeat(60),
    );
    let third = write(
        tmp.path(),
        "c.txt",
        &"to sleep, perchance to dream.\n".repeat(60),
    );
    let exp = write(
        tmp.path(),
        "lm.toml",
        &format!(
            "task = \"charlm\"\nname = \"lm\"\n[data]\npath = {first:?}\nseq_len = 16\nbatch_size = 8\n\
             window_stride = 4\nvalid_stride = 8\n[model]\nd_embed = 8\nd_hidden = 32\nn_layers = 1\n\
             [train]\nepochs = 2\nlr = 0.01\n"
        ),
    );
    let runs = tmp.path().join("runs").display().to_string();
    let base = run_dir(&ok(&["train", &exp, "--runs", &runs]));
    let from = format!("train.init_from={}", base.display());
    let on = |path: &str| format!("data.path={path}");
    let args = |extra: &[&str]| -> Vec<String> {
        ["train", &exp, "--runs", &runs, "train.epochs=1"]
            .iter()
            .chain(extra)
            .map(|s| s.to_string())
            .collect()
    };
    let train = |extra: &[&str]| {
        let a = args(extra);
        run_dir(&ok(&a.iter().map(String::as_str).collect::<Vec<_>>()))
    };
    let refuse = |extra: &[&str], expected: &str| {
        let a = args(extra);
        fails(&a.iter().map(String::as_str).collect::<Vec<_>>(), expected)
    };
    let valid_loss = |dir: &Path| -> f64 {
        let csv = std::fs::read_to_string(dir.join("metrics.csv")).unwrap();
        let row = csv
            .lines()
            .find(|l| l.starts_with("1,") && l.contains(",valid,Loss,"))
            .unwrap();
        row.rsplit(',').next().unwrap().parse().unwrap()
    };
    let scratch = train(&[&on(&second)]);
    let warm = train(&[&on(&second), &from]);
    assert!(
        valid_loss(&warm) < valid_loss(&scratch),
        "one epoch from the first run beats one from scratch: {} vs {}",
        valid_loss(&warm),
        valid_loss(&scratch)
    );
    // The warm-started run is self-contained: its tokenizer is the first run's.
    assert_eq!(
        std::fs::read(warm.join("artefacts.json")).unwrap(),
        std::fs::read(base.join("artefacts.json")).unwrap()
    );
    // Letters the first text lacks: <unk> by default, an error when asked.
    train(&[&on(&third), &from]);
    refuse(
        &[&on(&third), &from, "data.unknown=error"],
        "c.txt:1:5: character 'l' is not in the tokenizer of",
    );
    refuse(
        &[&on(&second), &from, "model.d_hidden=16"],
        "train.init_from",
    );
    refuse(
        &["train.init_from=/nonexistent"],
        "train.init_from = \"/nonexistent\"",
    );
}

#[test]
fn runs_started_at_once_never_share_a_run_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let text = write(
        tmp.path(),
        "t.txt",
        &"all the world's a stage.\n".repeat(40),
    );
    let exp = write(
        tmp.path(),
        "lm.toml",
        &format!(
            "task = \"charlm\"\nname = \"same\"\n[data]\npath = {text:?}\nseq_len = 8\nbatch_size = 8\n\
             window_stride = 8\nvalid_stride = 8\n[model]\nd_embed = 4\nd_hidden = 8\nn_layers = 1\n\
             [train]\nepochs = 1\n"
        ),
    );
    let runs = tmp.path().join("runs");
    // Four processes, one experiment, one seed, one second: four run directories.
    let runs = runs.display().to_string();
    let children: Vec<_> = (0..4)
        .map(|_| spawn(&["train", &exp, "--runs", &runs]))
        .collect();
    let mut dirs: Vec<PathBuf> = children.into_iter().map(finished).collect();
    dirs.sort();
    dirs.dedup();
    assert_eq!(dirs.len(), 4, "{dirs:?}");
    for d in &dirs {
        let csv = std::fs::read_to_string(d.join("metrics.csv")).unwrap();
        assert_eq!(
            csv.lines().filter(|l| l.contains(",valid,Loss,")).count(),
            1,
            "{csv}"
        );
        assert!(d.join("results.json").is_file() && d.join("model.bpk").is_file());
    }
}

#[test]
fn averaged_weights_are_kept_and_every_epoch_checkpoint_stays() {
    let tmp = tempfile::tempdir().unwrap();
    let exp = tiny_sentiment(
        tmp.path(),
        "avg",
        &keyword_lines(),
        "",
        "epochs = 4\naverage = 3",
    );
    let runs = tmp.path().join("runs").display().to_string();
    let d = run_dir(&ok(&["train", &exp, "--runs", &runs]));
    let results = std::fs::read_to_string(d.join("results.json")).unwrap();
    assert!(results.contains("\"averaged_epochs\": 3.0"), "{results}");
    assert!(results.contains("\"kept_epoch\": 4.0"), "{results}");
    for epoch in 1..=4 {
        let path = d.join(format!("checkpoint/model-{epoch}.bpk"));
        assert!(path.is_file(), "{} kept for averaging", path.display());
    }
    let eval = ok(&["eval", &d.display().to_string()]);
    assert!(
        eval.contains("model                                1.0000"),
        "the averaged model still separates the classes: {eval}"
    );
    fails(
        &["train", &exp, "--runs", &runs, "train.average=0"],
        "train.average = 0: must be at least 1",
    );
}

/// The tensors of `model`, by name, as raw bytes.
fn tensors<M: burn::module::Module>(model: &M) -> Vec<(String, Vec<u8>)> {
    use burn_store::ModuleSnapshot;
    let mut all: Vec<_> = model
        .collect(None, None, false)
        .into_iter()
        .map(|t| (t.name.clone(), t.to_bytes().unwrap().to_vec()))
        .collect();
    all.sort();
    all
}

#[test]
fn a_diverged_run_keeps_exactly_the_checkpoint_it_names() {
    use burn::module::Module;
    use burn::prelude::Device;
    use rnnlab_tasks::forecast::ForecastTask;
    use rnnlab_tasks::task::load;
    use rnnlab_tasks::training::{Policy, Step};

    let tmp = tempfile::tempdir().unwrap();
    let runs = tmp.path().join("runs").display().to_string();
    // A learning rate that ends in an infinite loss after a few epochs; the kept model is the
    // best epoch's (`keep_best`) or the last good one's.
    for (keep_best, which) in [
        ("true", "the best checkpoint"),
        ("false", "the last good checkpoint"),
    ] {
        let keep = format!("train.keep_best={keep_best}");
        let out = rnnlab(&strs(&airline(&[
            "train.epochs=8",
            "train.lr=1e20",
            "train.warmup_steps=2000",
            &keep,
            "--runs",
            &runs,
        ])));
        let said = out.stderr.trim();
        assert!(!out.ok && said.contains(which), "{said}");
        let (dir, epoch) = said
            .split_once("; ")
            .and_then(|(_, kept)| kept.split_once("/model.bpk holds"))
            .map(|(dir, rest)| {
                let epoch = rest.rsplit("(epoch ").next().unwrap().trim_end_matches(')');
                (PathBuf::from(dir), epoch.parse::<usize>().unwrap())
            })
            .unwrap_or_else(|| panic!("names the kept checkpoint: {said}"));
        let saved = load::<ForecastTask>(&dir, &Device::flex()).unwrap();
        let record = burn::store::ModuleRecord::load(
            dir.join("checkpoint").join(format!("model-{epoch}.bpk")),
        )
        .unwrap();
        let fresh = load::<ForecastTask>(&dir, &Device::flex()).unwrap().model;
        let checkpoint = Step::new(fresh, Policy::new(0.0, false)).load_record(record);
        assert_eq!(
            tensors(&saved.model),
            tensors(&checkpoint.model),
            "model.bpk is {which} (epoch {epoch})"
        );
    }
}

/// Rewrites a run directory as rnnlab wrote it before `artefacts.json`: each artefact in its own
/// file (`field` of `artefacts.json` → `file`).
fn as_legacy_run(dir: &Path, files: &[(&str, &str)]) {
    let path = dir.join("artefacts.json");
    let artefacts: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    for (field, file) in files {
        let value = &artefacts[field];
        assert!(!value.is_null(), "{field} in {artefacts}");
        std::fs::write(dir.join(file), value.to_string()).unwrap();
    }
    std::fs::remove_file(path).unwrap();
}

#[test]
fn runs_from_before_artefacts_json_still_load() {
    let tmp = tempfile::tempdir().unwrap();
    let runs = tmp.path().join("runs").display().to_string();
    // A forecasting run: its scaler.
    let out = ok(&strs(&airline(&["train.epochs=2", "--runs", &runs])));
    let dir = run_dir(&out);
    let before = ok(&["eval", &dir.display().to_string()]);
    as_legacy_run(&dir, &[("scaler", "scaler.json")]);
    assert_eq!(ok(&["eval", &dir.display().to_string()]), before);
    // A sentiment run with log-count ratios: its tokenizer and ratios.
    let exp = tiny_sentiment(
        tmp.path(),
        "legacy",
        &keyword_lines(),
        "nb_features = true",
        "epochs = 2",
    );
    let dir = run_dir(&ok(&["train", &exp, "--runs", &runs]));
    let d = dir.display().to_string();
    let before = ok(&["predict", &d, "a superb film"]);
    as_legacy_run(
        &dir,
        &[("tokenizer", "tokenizer.json"), ("ratios", "ratios.json")],
    );
    assert_eq!(ok(&["predict", &d, "a superb film"]), before);
    std::fs::remove_file(dir.join("ratios.json")).unwrap();
    fails(&["predict", &d, "a superb film"], "ratios.json");
}
