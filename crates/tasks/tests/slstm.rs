//! The sLSTM from experiment files: `model.cell = "slstm"` (with `model.heads`) trains,
//! evaluates and runs each task's own command in every task with a recurrent stack, a run
//! resumes byte for byte, and a bad `heads` is one error line naming the key.

mod common;

use common::*;

#[test]
fn every_task_trains_and_runs_its_commands_with_the_slstm() {
    let tmp = tempfile::tempdir().unwrap();
    let runs = tmp.path().join("runs").display().to_string();
    // Char LM: head-wise recurrence, generation one step at a time.
    let lm = tiny_lm(tmp.path(), "slstm", "cell = \"slstm\"\nheads = 4", 2);
    let out = ok(&["train", &lm, "--runs", &runs]);
    assert!(
        out.contains("bits/char") && out.contains("sample:"),
        "{out}"
    );
    let d = run_dir(&out).display().to_string();
    let generated = ok(&["generate", &d, "--prompt", "a rose", "--length", "20"]);
    assert!(generated.starts_with("a rose"), "{generated}");
    // Sentiment, bidirectional over padded batches.
    let exp = tiny_sentiment(
        tmp.path(),
        "slstm",
        &keyword_lines(),
        "cell = \"slstm\"\nbidirectional = true",
        "epochs = 3",
    );
    let d = run_dir(&ok(&["train", &exp, "--runs", &runs]))
        .display()
        .to_string();
    assert!(ok(&["eval", &d]).contains("accuracy"));
    assert!(ok(&["predict", &d, "a superb film", "--explain"]).contains("top tokens by"));
    // Forecasting.
    let out = ok(&strs(&airline(&[
        "model.cell=slstm",
        "train.epochs=3",
        "--runs",
        &runs,
    ])));
    let d = run_dir(&out).display().to_string();
    assert!(ok(&["backtest", &d]).contains("MAE per origin"));
    // Translation: an sLSTM encoder and a decoder run step by step in the beam search.
    let exp = tiny_translation(tmp.path(), "cell = \"slstm\"\nheads = 2");
    let d = run_dir(&ok(&["train", &exp, "--runs", &runs]))
        .display()
        .to_string();
    // (Two epochs teach it little: the beam may well end at once; it must run.)
    assert_eq!(ok(&["translate", &d, "I am cold 1."]).lines().count(), 1);
    // Speech, bidirectional over the frames of padded recordings.
    let (exp, data) = tiny_speech(tmp.path(), "cell = \"slstm\"\nbidirectional = true");
    let d = run_dir(&ok(&["train", &exp, "--runs", &runs]))
        .display()
        .to_string();
    let wav = format!("{data}/2_theo_0.wav");
    assert!(ok(&["predict", &d, &wav]).trim_end().ends_with(&wav));
}

#[test]
fn a_resumed_slstm_run_with_weight_drop_repeats_the_uninterrupted_run() {
    let tmp = tempfile::tempdir().unwrap();
    let exp = tiny_lm(
        tmp.path(),
        "slstm",
        "cell = \"slstm\"\nheads = 2\nweight_drop = 0.2\ndropout = 0.1\n\
         dropout_kind = \"variational\"",
        3,
    );
    assert_resume_repeats_the_run(&exp, &tmp.path().join("runs"), 3);
}

#[test]
fn bad_heads_are_one_line_naming_the_key() {
    let tmp = tempfile::tempdir().unwrap();
    let lm = tiny_lm(tmp.path(), "bad", "", 1);
    let runs = tmp.path().join("runs").display().to_string();
    for (args, expected) in [
        (
            vec!["model.cell=slstm", "model.heads=3"],
            "model.heads: must divide d_hidden (16), got 3",
        ),
        (
            vec!["model.cell=slstm", "model.heads=0"],
            "model.heads: must be at least 1",
        ),
        (
            vec!["model.cell=lstm", "model.heads=2"],
            "model.heads: only the slstm cell has heads",
        ),
        (
            vec!["model.cell=slstm", "model.zoneout=0.1"],
            "model.zoneout: the slstm cell does not support it",
        ),
    ] {
        let mut all = vec!["train", lm.as_str()];
        all.extend(args);
        all.extend(["--runs", runs.as_str()]);
        fails(&all, expected);
    }
    assert!(
        !tmp.path().join("runs").exists(),
        "no run directory is left behind"
    );
}
