//! The char LM end to end through the `rnnlab` binary: train, generate, eval, resume (and a
//! run killed mid-way), on a tiny config.
mod common;

use std::path::Path;

use common::*;

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
        "artefacts.json",
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
