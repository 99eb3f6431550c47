//! End-to-end runs of the `rnnlab` binary, one per task on tiny configs, plus the bad-input
//! contract: one clear error line, a non-zero exit, and nothing in a run directory damaged.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;

fn copy_dir(from: &Path, to: &Path) {
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

#[test]
fn charlm_trains_generates_evaluates_and_resumes() {
    let tmp = tempfile::tempdir().unwrap();
    let text = write(
        tmp.path(),
        "text.txt",
        &"to be or not to be, that is the question.\n".repeat(60),
    );
    let exp = write(
        tmp.path(),
        "lm.toml",
        &format!(
            "task = \"charlm\"\nname = \"lm\"\n[data]\npath = {text:?}\nseq_len = 16\nbatch_size = 8\n\
             window_stride = 4\nvalid_stride = 8\n[model]\nd_embed = 8\nd_hidden = 32\nn_layers = 1\n\
             [train]\nepochs = 2\nlr = 0.01\ngrad_clip = 1.0\nschedule = \"cosine\"\n"
        ),
    );
    let runs = tmp.path().join("runs").display().to_string();
    let printed = ok(&["train", &exp, "model.cell=gru", "--print-config"]);
    assert!(
        printed.contains("cell = \"gru\"") && printed.contains("schedule = \"cosine\""),
        "{printed}"
    );
    let out = ok(&["train", &exp, "--runs", &runs]);
    assert!(
        out.contains("epoch 2/2  train loss")
            && out.contains("bits/char")
            && out.contains("sample:"),
        "{out}"
    );
    let dir = run_dir(&out);
    for file in [
        "config.toml",
        "tokenizer.json",
        "model.bpk",
        "metrics.csv",
        "results.json",
        "loss.svg",
        "experiment.log",
    ] {
        assert!(dir.join(file).is_file(), "{file}");
    }
    let d = dir.display().to_string();
    let sample = [
        "generate",
        &d,
        "--prompt",
        "to be",
        "--length",
        "20",
        "--temperature",
        "0.5",
        "--top-k",
        "5",
        "--seed",
        "3",
    ];
    let generated = ok(&sample);
    assert!(
        generated.starts_with("to be") && generated.trim_end().chars().count() >= 20,
        "{generated}"
    );
    assert_eq!(generated, ok(&sample), "seeded");
    let eval = ok(&["eval", &d]);
    assert!(
        eval.contains("Kneser-Ney 5-gram baseline") && eval.contains("bits/char"),
        "{eval}"
    );
    fails(&["resume", &d], "all 2 epochs are done");
    // A kill after the last checkpoint but before the final files: `resume` finishes the run
    // from its checkpoints, with the same weights and scores.
    let stranded = tmp.path().join("stranded");
    copy_dir(&dir, &stranded);
    for name in ["model.bpk", "results.json", "report.txt"] {
        std::fs::remove_file(stranded.join(name)).unwrap();
    }
    let s = stranded.display().to_string();
    fails(&["eval", &s], "model.bpk: missing");
    let finished = ok(&["resume", &s]);
    assert!(finished.contains("bits/char"), "{finished}");
    assert_eq!(
        std::fs::read(stranded.join("model.bpk")).unwrap(),
        std::fs::read(dir.join("model.bpk")).unwrap(),
        "the kept weights"
    );
    let without_time = |p: &Path| -> Vec<String> {
        std::fs::read_to_string(p.join("results.json"))
            .unwrap()
            .lines()
            .filter(|l| !l.contains("train_seconds"))
            .map(str::to_string)
            .collect()
    };
    assert_eq!(without_time(&stranded), without_time(&dir));
    fails(&["resume", &s], "all 2 epochs are done");
    fails(
        &["generate", &d, "--temperature", "-1"],
        "--temperature -1: expected 0 (greedy) or a positive number",
    );
    fails(
        &["generate", &d, "--temperature", "nan"],
        "--temperature NaN",
    );
    fails(
        &["generate", &d, "--top-p=1.5"],
        "--top-p 1.5: expected a number in (0, 1]",
    );

    // An interrupted run (epoch 2's checkpoint never written) resumes from epoch 1, and
    // (no dropout here) repeats the uninterrupted epoch 2 bit for bit: same shuffle, same
    // optimiser state, same learning rate.
    let uninterrupted = std::fs::read_to_string(dir.join("metrics.csv")).unwrap();
    for name in ["model", "optim", "scheduler"] {
        std::fs::remove_file(dir.join(format!("checkpoint/{name}-2.bpk"))).unwrap();
    }
    let resumed = ok(&["resume", &d]);
    assert!(
        resumed.contains("epoch 2/2") && !resumed.contains("epoch 1/2"),
        "{resumed}"
    );
    let csv = std::fs::read_to_string(dir.join("metrics.csv")).unwrap();
    let rows = |epoch: &str| {
        csv.lines()
            .filter(|l| l.starts_with(epoch) && l.contains(",valid,Loss,"))
            .count()
    };
    assert_eq!((rows("1,"), rows("2,")), (1, 1), "{csv}");
    assert_eq!(csv, uninterrupted, "the resumed epoch differs");

    // A checkpoint that does not fit the config: clear error, nothing touched.
    for name in ["model", "optim", "scheduler"] {
        std::fs::remove_file(dir.join(format!("checkpoint/{name}-2.bpk"))).unwrap();
    }
    let config = std::fs::read_to_string(dir.join("config.toml")).unwrap();
    std::fs::write(
        dir.join("config.toml"),
        config.replace("d_hidden = 32", "d_hidden = 16"),
    )
    .unwrap();
    let before = listing(&dir);
    fails(
        &["resume", &d],
        "model-1.bpk: the checkpoint's tensors do not fit",
    );
    fails(
        &["generate", &d, "--prompt", "to"],
        "model.bpk: does not fit the run's config",
    );
    assert_eq!(
        before,
        listing(&dir),
        "nothing in the run directory changed"
    );

    // Truncated BPTT with carried state, and word / BPE tokens, from the same file.
    let tbptt = ok(&[
        "train",
        &exp,
        "--runs",
        &runs,
        "data.tbptt=true",
        "train.epochs=3",
    ]);
    let loss: f64 = tbptt
        .lines()
        .find_map(|l| l.strip_prefix("model "))
        .and_then(|l| l.split_whitespace().next())
        .unwrap()
        .parse()
        .unwrap();
    assert!(loss < 1.5, "TBPTT learnt the text: {tbptt}");
    for tokenizer in ["word", "bpe"] {
        let out = ok(&[
            "train",
            &exp,
            "--runs",
            &runs,
            &format!("data.tokenizer={tokenizer}"),
            "data.bpe_vocab_size=300",
        ]);
        let words = ok(&[
            "generate",
            &run_dir(&out).display().to_string(),
            "--prompt",
            "to be",
            "--length",
            "5",
        ]);
        assert!(words.starts_with("to be"), "{tokenizer}: {words}");
    }

    // A diverging run stops with a message and keeps finite weights.
    let out = rnnlab(&[
        "train",
        &exp,
        "--runs",
        &runs,
        "train.lr=1e38",
        "train.grad_clip=0",
    ]);
    assert!(
        !out.ok && out.stderr.contains("training loss became"),
        "{}\n{}",
        out.stdout,
        out.stderr
    );
}

#[test]
fn a_resumed_run_with_dropout_repeats_the_uninterrupted_run() {
    let tmp = tempfile::tempdir().unwrap();
    let text = write(
        tmp.path(),
        "text.txt",
        &"a rose by any other name would smell as sweet.\n".repeat(50),
    );
    let exp = write(
        tmp.path(),
        "lm.toml",
        &format!(
            "task = \"charlm\"\nname = \"drop\"\n[data]\npath = {text:?}\nseq_len = 16\nbatch_size = 8\n\
             window_stride = 4\nvalid_stride = 8\n[model]\nd_embed = 8\nd_hidden = 16\nn_layers = 2\n\
             dropout = 0.3\n[train]\nepochs = 3\nlr = 0.01\nkeep_best = false\n"
        ),
    );
    assert_resume_repeats_the_run(&exp, &tmp.path().join("runs"), 3);
}

/// Trains `exp` (`epochs` epochs, no early stop) into `runs`, deletes the last epoch's
/// checkpoints and the final files as a kill during that epoch would, resumes, and checks that
/// `metrics.csv` and `model.bpk` come out byte for byte as before; then that another seed
/// gives other numbers (the dropout draws and the batches differ from step to step).
fn assert_resume_repeats_the_run(exp: &str, runs: &Path, epochs: usize) {
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
        std::fs::read(warm.join("tokenizer.json")).unwrap(),
        std::fs::read(base.join("tokenizer.json")).unwrap()
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
fn sentiment_trains_evaluates_and_explains() {
    let tmp = tempfile::tempdir().unwrap();
    let mut lines = String::new();
    for i in 0..120 {
        let (word, label) = if i % 2 == 0 {
            ("great", "pos")
        } else {
            ("awful", "neg")
        };
        lines.push_str(&format!(
            // The keyword ends the sentence: with a forward-only RNN only its own state has
            // seen it, so attention has to weigh it most.
            "{} the film was long and {word}\t{label}\n",
            ["today", "again", "indeed"][i % 3]
        ));
    }
    let data = write(tmp.path(), "s.tsv", &lines);
    let exp = write(
        tmp.path(),
        "s.toml",
        &format!(
            "task = \"sentiment\"\nname = \"s\"\n[data]\nformat = \"tsv\"\npath = {data:?}\n\
             labels = [\"neg\", \"pos\"]\nlabel_names = [\"NEG\", \"POS\"]\nbatch_size = 8\n[model]\nd_embed = 8\nd_hidden = 8\nbidirectional = false\n\
             [train]\nepochs = 8\nlr = 0.02\nkeep_best_by = \"loss\"\n"
        ),
    );
    let runs = tmp.path().join("runs").display().to_string();
    let out = ok(&["train", &exp, "--runs", &runs]);
    assert!(
        out.contains("valid accuracy") && out.contains("confusion"),
        "{out}"
    );
    let d = run_dir(&out).display().to_string();
    let eval = ok(&["eval", &d]);
    assert!(
        eval.contains("model                                1.0000")
            && eval.contains("TF-IDF + logistic regression"),
        "{eval}"
    );
    let predicted = ok(&["predict", &d, "--explain", "the film was great", "awful"]);
    assert!(
        predicted.starts_with("POS ") && predicted.contains("\nNEG "),
        "{predicted}"
    );
    // A sentence that starts with `-` is a sentence; so are the lines of --file and stdin.
    let dashed = ok(&["predict", &d, "-awful, awful", "great!"]);
    assert!(
        dashed.starts_with("NEG ") && dashed.contains("\nPOS "),
        "{dashed}"
    );
    let list = write(tmp.path(), "list.txt", "great\n\nawful\n");
    let from_file = ok(&["predict", &d, "--file", &list]);
    assert_eq!(from_file.lines().count(), 2, "{from_file}");
    let mut child = Command::new(env!("CARGO_BIN_EXE_rnnlab"))
        .args(["predict", &d, "--file", "-"])
        .env("BURN_DEVICE", "flex")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), b"awful\ngreat\n").unwrap();
    let piped = String::from_utf8(child.wait_with_output().unwrap().stdout).unwrap();
    assert!(
        piped.starts_with("NEG ") && piped.contains("\nPOS "),
        "{piped}"
    );
    assert!(
        predicted.contains("top tokens by attention: great"),
        "{predicted}"
    );
    let occlusion = ok(&[
        "train",
        &exp,
        "--runs",
        &runs,
        "model.pooling=mean",
        "model.bidirectional=false",
    ]);
    let d2 = run_dir(&occlusion).display().to_string();
    let occluded = ok(&["predict", &d2, "--explain", "the film was great"]);
    assert!(
        occluded.contains("top tokens by occlusion: ") && occluded.contains("great "),
        "{occluded}"
    );
    fails(&["generate", &d], "`generate` needs a charlm run");
    // Two runs of the same split as one classifier: `ensemble` scores it, `predict --with`
    // uses it; a run of another split, a lone run and `--explain` with `--with` are errors.
    let ens = ok(&["ensemble", &d, &d2]);
    assert!(
        ens.lines()
            .any(|l| l.starts_with("ensemble of 2 runs (mean probability)") && l.contains("1.0000"))
            && ens.contains("TF-IDF + logistic regression")
            && ens.contains(&format!("  1.0000  {d2}")),
        "{ens}"
    );
    let both = ok(&["predict", &d, "the film was great", "--with", &d2, "awful"]);
    assert!(
        both.starts_with("POS ") && both.contains("\nNEG "),
        "{both}"
    );
    let other = run_dir(&ok(&[
        "train",
        &exp,
        "--runs",
        &runs,
        "data.split_seed=7",
        "train.epochs=1",
    ]))
    .display()
    .to_string();
    fails(&["ensemble", &d, &other], "is not the first run's");
    fails(&["ensemble", &d], "two runs or more; 1 given");
    fails(
        &["predict", &d, "--with", &d2, "--explain", "great"],
        "leave out --with",
    );
    let sweep_runs = tmp.path().join("sweep").display().to_string();
    let sweep = ok(&[
        "sweep",
        &exp,
        "model.d_hidden=4,8",
        "model.cell=gru,lstm",
        "train.epochs=1",
        "--runs",
        &sweep_runs,
    ]);
    assert!(
        sweep.contains("sweep 4/4: model.d_hidden=8 model.cell=lstm train.epochs=1"),
        "{sweep}"
    );
    assert_eq!(
        sweep.lines().filter(|l| l.contains("sentiment  ")).count(),
        4,
        "{sweep}"
    );
    fails(
        &["sweep", &exp, "model.d_hidden=4,0", "--runs", &sweep_runs],
        "model.d_hidden",
    );
    let table = ok(&["compare", &runs]);
    assert_eq!(table.lines().count(), 4, "{table}");
    assert!(
        table.lines().next().unwrap().contains("test_accuracy"),
        "{table}"
    );
}

/// A small sentiment experiment in `dir` over `lines` (`text<TAB>neg|pos`): 8-wide mean-pooled
/// GRU, no dropout, no early stopping, the last epoch kept, plus `model` and `train` lines.
fn tiny_sentiment(dir: &Path, name: &str, lines: &str, model: &str, train: &str) -> String {
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
fn keyword_lines() -> String {
    (0..64)
        .map(|i| {
            let (word, label) = [("dismal", "neg"), ("superb", "pos")][i % 2];
            format!("{} film {word}\t{label}\n", ["a", "the", "one"][i % 3])
        })
        .collect()
}

#[test]
fn sentiment_subwords_classify_words_the_vocabulary_never_saw() {
    let tmp = tempfile::tempdir().unwrap();
    let mut lines = String::new();
    // Keywords are a stem and a suffix seen in training; the test words below take suffixes
    // training never saw, so the vocabulary maps them to `<unk>`.
    for i in 0..96 {
        let (stem, label) = [("dismal", "neg"), ("superb", "pos")][i % 2];
        let suffix = ["a", "b", "c", "d", "e", "f"][(i / 2) % 6];
        lines.push_str(&format!(
            "{} film {stem}{suffix}\t{label}\n",
            ["a", "the", "one"][i % 3]
        ));
    }
    let exp = tiny_sentiment(
        tmp.path(),
        "w",
        &lines,
        "subword_buckets = 4096",
        "epochs = 6",
    );
    let runs = tmp.path().join("runs").display().to_string();
    let d = run_dir(&ok(&["train", &exp, "--runs", &runs]))
        .display()
        .to_string();
    assert!(
        std::fs::read_to_string(Path::new(&d).join("config.toml"))
            .unwrap()
            .contains("subword_buckets = 4096")
    );
    let eval = ok(&["eval", &d]);
    assert!(
        eval.contains("model                                1.0000"),
        "{eval}"
    );
    let unseen = ok(&[
        "predict",
        &d,
        "--explain",
        "the film superbzz",
        "one film dismalqq",
    ]);
    assert!(
        unseen.starts_with("pos ") && unseen.contains("\nneg "),
        "{unseen}"
    );
    assert!(
        unseen.contains("top tokens by occlusion: superbzz"),
        "occlusion drops the unseen word with its pieces: {unseen}"
    );
    fails(
        &["train", &exp, "--runs", &runs, "model.subword_buckets=1"],
        "model.subword_buckets = 1",
    );
    fails(
        &["train", &exp, "--runs", &runs, "model.subword_min=6"],
        "model.subword_min = 6, model.subword_max = 5",
    );
}

#[test]
fn sentiment_log_count_ratios_are_saved_and_read_back() {
    let tmp = tempfile::tempdir().unwrap();
    let exp = tiny_sentiment(
        tmp.path(),
        "nb",
        &keyword_lines(),
        "nb_features = true",
        "epochs = 4",
    );
    let runs = tmp.path().join("runs").display().to_string();
    let d = run_dir(&ok(&["train", &exp, "--runs", &runs]));
    let ratios = std::fs::read_to_string(d.join("ratios.json")).unwrap();
    assert!(ratios.contains("\"n_classes\":2"), "{ratios}");
    let d = d.display().to_string();
    let eval = ok(&["eval", &d]);
    assert!(
        eval.contains("model                                1.0000"),
        "{eval}"
    );
    assert!(
        eval.contains("Naive Bayes on the model's ratios    1.0000"),
        "the ratios alone, beside the model: {eval}"
    );
    let results = std::fs::read_to_string(Path::new(&d).join("results.json")).unwrap();
    assert!(results.contains("\"nb_accuracy\": 1.0"), "{results}");
    let explained = ok(&[
        "predict",
        &d,
        "--explain",
        "a superb film",
        "one dismal film",
    ]);
    assert!(
        explained.starts_with("pos ") && explained.contains("\nneg "),
        "{explained}"
    );
    assert!(
        explained.contains("top tokens by occlusion: superb"),
        "occlusion recomputes the features without the token: {explained}"
    );
    let second = run_dir(&ok(&["train", &exp, "--runs", &runs, "train.seed=1"]));
    let both = ok(&["ensemble", &d, &second.display().to_string()]);
    assert!(
        both.contains("Naive Bayes on the runs' ratios            1.0000"),
        "the ensemble prints the ratios alone too: {both}"
    );
    std::fs::remove_file(Path::new(&d).join("ratios.json")).unwrap();
    fails(&["predict", &d, "a superb film"], "ratios.json");
    fails(
        &["train", &exp, "--runs", &runs, "model.nb_folds=1"],
        "model.nb_folds = 1: need at least 2 folds",
    );
    fails(
        &["train", &exp, "--runs", &runs, "model.nb_alpha=0"],
        "model.nb_alpha = 0: must be a positive number",
    );
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

#[test]
fn forecast_trains_forecasts_plots_and_backtests() {
    let tmp = tempfile::tempdir().unwrap();
    let exp = datasets()
        .join("../experiments/forecast-airline.toml")
        .display()
        .to_string();
    let runs = tmp.path().join("runs").display().to_string();
    let path = format!(
        "data.path={}",
        datasets()
            .join("timeseries/airline_passengers.csv")
            .display()
    );
    let out = ok(&[
        "train",
        &exp,
        &path,
        "train.epochs=3",
        "model.relative_input=true",
        "--runs",
        &runs,
    ]);
    assert!(
        out.contains("seasonal naive") && out.contains("MAPE"),
        "{out}"
    );
    let dir = run_dir(&out);
    let d = dir.display().to_string();
    assert!(dir.join("scaler.json").is_file());
    // The run directory rebuilds the same model (relative inputs included): `eval` repeats
    // the report training wrote.
    let report = std::fs::read_to_string(dir.join("report.txt")).unwrap();
    assert_eq!(ok(&["eval", &d]).trim(), report.trim());
    let svg = tmp.path().join("f.svg");
    let shown = ok(&["forecast", &d, "--plot", &svg.display().to_string()]);
    assert!(
        shown.contains("actual") && shown.contains('▁') || shown.contains('█'),
        "{shown}"
    );
    assert!(
        std::fs::read_to_string(&svg)
            .unwrap()
            .contains("seasonal naive")
    );
    let backtest = ok(&["backtest", &d]);
    let origins = backtest
        .lines()
        .filter(|l| {
            l.split_whitespace()
                .next()
                .is_some_and(|w| w.parse::<usize>().is_ok())
                && !l.contains("windows")
        })
        .count();
    assert_eq!(origins, 4, "{backtest}");
    // The seasonal-naive MAPE of the last 36 months is sktime's 0.1319.
    let results = std::fs::read_to_string(dir.join("results.json")).unwrap();
    assert!(results.contains("\"snaive_mape\": 0.1318943"), "{results}");
    assert!(
        results.contains("\"ets_mape\"") && out.contains("ETS (refit)"),
        "{results}"
    );
    let svg_text = std::fs::read_to_string(&svg).unwrap();
    assert!(
        svg_text.contains("origin") && svg_text.contains("1958-"),
        "dates on the time axis"
    );
    fails(&["predict", &d, "x"], "`predict` needs a sentiment run");

    // A month left empty: an error naming its line, unless data.missing fills it. A column
    // the run does not use may hold anything, even with data.log = true.
    let original =
        std::fs::read_to_string(datasets().join("timeseries/airline_passengers.csv")).unwrap();
    let mut lines: Vec<String> = original.lines().map(|l| format!("{l},0")).collect();
    lines[0] = format!("{},unused", original.lines().next().unwrap());
    lines[30] = format!("{},,0", lines[30].split(',').next().unwrap());
    let gap = write(tmp.path(), "gap.csv", &(lines.join("\n") + "\n"));
    let gap_path = format!("data.path={gap}");
    fails(
        &["train", &exp, &gap_path, "--runs", &runs],
        "1 missing or non-finite value(s): line 31 `#Passengers`",
    );
    let filled = ok(&[
        "train",
        &exp,
        &gap_path,
        "data.missing=interpolate",
        "data.log=true",
        "train.epochs=1",
        "--runs",
        &runs,
    ]);
    assert!(
        filled.contains("data.missing: 1 cell(s) filled"),
        "{filled}"
    );
}

#[test]
fn bad_input_is_one_clear_error() {
    let tmp = tempfile::tempdir().unwrap();
    let runs = tmp.path().join("runs");
    let r = runs.display().to_string();
    let exp = |name: &str, body: &str| write(tmp.path(), name, body);
    let typo = exp("typo.toml", "task = \"forecast\"\n[model]\nd_hiden = 3\n");
    fails(&["train", &typo, "--runs", &r], "d_hiden");
    let wrong = exp(
        "wrong.toml",
        "task = \"forecast\"\n[model]\nd_hidden = \"big\"\n",
    );
    fails(&["train", &wrong, "--runs", &r], "d_hidden");
    let ok_file = exp("f.toml", "task = \"forecast\"\n");
    fails(
        &["train", &ok_file, "model.d_hidden=0", "--runs", &r],
        "model.d_hidden = 0",
    );
    fails(
        &["train", &ok_file, "train.lr=-0.1", "--runs", &r],
        "train.lr = -0.1",
    );
    let airline = datasets()
        .join("timeseries/airline_passengers.csv")
        .display()
        .to_string();
    fails(
        &[
            "train",
            &ok_file,
            &format!("data.path={airline}"),
            "data.date_column=Month",
            "data.target=#Passengers",
            "data.lookback=200",
            "--runs",
            &r,
        ],
        "lookback 200 + horizon 24",
    );
    fails(
        &["train", &ok_file, "data.features=Q", "--runs", &r],
        "features",
    );
    fails(
        &["train", &exp("none.toml", "name = \"x\"\n"), "--runs", &r],
        "missing key `task`",
    );
    fails(
        &[
            "train",
            &ok_file,
            "model.d_hidden=1000000000000",
            "--runs",
            &r,
        ],
        "model.d_hidden = 1000000000000: at most 1048576",
    );
    fails(
        &[
            "train",
            &ok_file,
            "train.devices=[\"flex\", \"tpu\"]",
            "--runs",
            &r,
        ],
        "train.devices: unknown device `tpu`",
    );
    let lm = exp("lm.toml", "task = \"charlm\"\n[data]\ntbptt = true\n");
    fails(
        &[
            "train",
            &lm,
            "train.devices=[\"flex\", \"flex\"]",
            "--runs",
            &r,
        ],
        "set data.tbptt = false or list one device",
    );
    // Sentence files that cannot make a run: one line each, and no run directory.
    let tsv = |name: &str, text: &str| {
        let data = write(tmp.path(), name, text);
        exp(
            &format!("{name}.toml"),
            &format!(
                "task = \"sentiment\"\n[data]\nformat = \"tsv\"\npath = {data:?}\nlabels = [\"0\", \"1\"]\n"
            ),
        )
    };
    let blank = tsv("empty.tsv", "\n \n\n");
    fails(
        &["train", &blank, "--runs", &r],
        "empty.tsv: no labelled sentences (only blank lines)",
    );
    let label_only = tsv("label.tsv", "good film\t1\n\t0\n");
    fails(
        &["train", &label_only, "--runs", &r],
        "label.tsv:2: no text before the tab",
    );
    let tiny = tsv("tiny.tsv", "good\t1\nbad\t0\ngreat\t1\nawful\t0\n");
    fails(
        &["train", &tiny, "--runs", &r],
        "tiny.tsv: the test split of its 4 sentences is empty",
    );
    assert!(!runs.exists(), "no run directory for a bad config");
    fails(
        &["eval", &tmp.path().display().to_string()],
        "config.toml: missing",
    );
}

/// How long a 60-epoch airline run (about a second: ten of the dashboard's 100-ms frames)
/// may take on a terminal before the test calls it hung.
const TERMINAL_RUN_LIMIT: std::time::Duration = std::time::Duration::from_secs(120);

#[test]
fn on_a_terminal_the_dashboard_shows_then_closes_by_itself() {
    // `script` (util-linux) runs the command on a pseudo-terminal, so stdout is a terminal and
    // `train` shows burn's TUI dashboard.
    // Skipped only when asked to (never silently): CI installs `script`.
    if std::env::var("RNNLAB_SKIP_TERMINAL").is_ok_and(|v| v == "1") {
        eprintln!("SKIP: RNNLAB_SKIP_TERMINAL=1, the terminal dashboard test did not run");
        return;
    }
    assert!(
        Command::new("script").arg("--version").output().is_ok(),
        "this test needs `script` (util-linux/bsdutils: apt-get install bsdutils); \
         set RNNLAB_SKIP_TERMINAL=1 to skip it"
    );
    let tmp = tempfile::tempdir().unwrap();
    let exp = datasets().join("../experiments/forecast-airline.toml");
    let csv = datasets().join("timeseries/airline_passengers.csv");
    let runs = tmp.path().join("runs");
    let typescript = tmp.path().join("terminal.out");
    let command = format!(
        "stty cols 120 rows 40; exec '{}' train '{}' 'data.path={}' train.epochs=60 train.early_stopping=0 --runs '{}'",
        env!("CARGO_BIN_EXE_rnnlab"),
        exp.display(),
        csv.display(),
        runs.display()
    );
    let mut child = Command::new("script")
        .args(["-qec", &command])
        .arg(&typescript)
        .env("BURN_DEVICE", "flex")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("script runs");
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > TERMINAL_RUN_LIMIT {
            child.kill().ok();
            panic!("still running after {TERMINAL_RUN_LIMIT:?}: the dashboard did not close");
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    let shown = String::from_utf8_lossy(&std::fs::read(&typescript).unwrap()).into_owned();
    assert!(status.success(), "{shown}");
    // The dashboard took the alternate screen, drew its panels, and gave the screen back
    // before the report was printed.
    let opened = shown.find("\x1b[?1049h").expect("the dashboard was shown");
    let closed = shown
        .rfind("\x1b[?1049l")
        .expect("the dashboard was closed");
    let report = shown
        .rfind("seasonal naive")
        .expect("the report was printed");
    assert!(opened < closed && closed < report, "{shown}");
    assert!(
        shown.contains("Progress"),
        "the dashboard's panels were drawn"
    );
    // The `run:` line follows the dashboard's last escape codes on the same screen line.
    let dir = shown
        .lines()
        .find_map(|l| {
            l.split_once("run: ")
                .map(|(_, path)| PathBuf::from(path.trim()))
        })
        .expect("a run: line");
    assert!(dir.join("model.bpk").is_file() && dir.join("metrics.csv").is_file());
}
