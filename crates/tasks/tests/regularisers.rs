//! The recurrent family's regularisers and layer-normalised cells from experiment files: a run
//! with every regulariser on resumes byte for byte (on the fused op, and on the tensor-op loop
//! with zoneout and layer norm), every task trains with them, and a bad value is one error line
//! naming its key.

mod common;

use common::*;

/// Every regulariser but zoneout (the stack stays on the fused op).
const FUSED: &str = "dropout = 0.2\ndropout_kind = \"variational\"\ninput_dropout = 0.1\n\
                     output_dropout = 0.1\nweight_drop = 0.3\nembed_dropout = 0.1";

#[test]
fn a_resumed_run_with_every_regulariser_repeats_the_uninterrupted_run() {
    let tmp = tempfile::tempdir().unwrap();
    let runs = tmp.path().join("runs");
    let fused = tiny_lm(tmp.path(), "fused", FUSED, 3);
    assert_resume_repeats_the_run(&fused, &runs, 3);
    let all = tiny_lm(
        tmp.path(),
        "all",
        &format!("{FUSED}\nzoneout = 0.1\nnorm = \"layer\""),
        3,
    );
    assert_resume_repeats_the_run(&all, &runs, 3);
}

#[test]
fn every_task_trains_with_the_regularisers() {
    let tmp = tempfile::tempdir().unwrap();
    let runs = tmp.path().join("runs").display().to_string();
    let stack = "dropout_kind = \"variational\"\ninput_dropout = 0.1\noutput_dropout = 0.1\n\
                 weight_drop = 0.2\nzoneout = 0.1\nnorm = \"layer\"";
    let embedded = format!("{stack}\nembed_dropout = 0.1");
    let exp = tiny_sentiment(
        tmp.path(),
        "reg",
        &keyword_lines(),
        &format!("{embedded}\nbidirectional = true"),
        "epochs = 2",
    );
    let d = run_dir(&ok(&["train", &exp, "--runs", &runs]));
    assert!(ok(&["eval", &d.display().to_string()]).contains("accuracy"));
    let exp = tiny_translation(tmp.path(), &embedded);
    let d = run_dir(&ok(&["train", &exp, "--runs", &runs]));
    assert!(
        !ok(&["translate", &d.display().to_string(), "I am cold 1."])
            .trim()
            .is_empty()
    );
    let (exp, data) = tiny_speech(tmp.path(), stack);
    let d = run_dir(&ok(&["train", &exp, "--runs", &runs]));
    let wav = format!("{data}/2_theo_0.wav");
    assert!(
        ok(&["predict", &d.display().to_string(), &wav])
            .trim_end()
            .ends_with(&wav)
    );
    let overrides: Vec<String> = stack
        .lines()
        .map(|l| format!("model.{}", l.replace(" = ", "=").replace('"', "")))
        .chain(["train.epochs=2".to_string(), "--runs".into(), runs.clone()])
        .collect();
    let out = ok(&strs(&airline(&strs(&overrides))));
    assert!(ok(&["backtest", &run_dir(&out).display().to_string()]).contains("MAE per origin"));
}

#[test]
fn a_bad_regulariser_is_one_line_naming_its_key() {
    let tmp = tempfile::tempdir().unwrap();
    let lm = tiny_lm(tmp.path(), "bad", "", 1);
    let runs = tmp.path().join("runs").display().to_string();
    for (value, expected) in [
        (
            "model.dropout_kind=locked",
            "model.dropout_kind = \"locked\": expected \"standard\" or \"variational\"",
        ),
        (
            "model.weight_drop=1",
            "model.weight_drop = 1: must be in [0, 1)",
        ),
        (
            "model.zoneout=-0.1",
            "model.zoneout = -0.1: must be in [0, 1)",
        ),
        (
            "model.embed_dropout=2",
            "model.embed_dropout = 2: must be in [0, 1)",
        ),
        (
            "model.input_dropout=1.5",
            "model.input_dropout = 1.5: must be in [0, 1)",
        ),
        (
            "model.norm=batch",
            "model.norm = \"batch\": expected \"none\" or \"layer\"",
        ),
    ] {
        fails(&["train", &lm, value, "--runs", &runs], expected);
    }
    for (cell, key, expected) in [
        ("mingru", "model.weight_drop=0.1", "min cells"),
        ("minlstm", "model.zoneout=0.1", "min cells"),
        ("rnn", "model.norm=layer", "only the lstm and gru cells"),
    ] {
        fails(
            &[
                "train",
                &lm,
                &format!("model.cell={cell}"),
                key,
                "--runs",
                &runs,
            ],
            expected,
        );
    }
    assert!(
        !tmp.path().join("runs").exists(),
        "no run directory is left behind"
    );
}

#[test]
fn a_run_from_before_the_new_keys_compares_as_their_defaults() {
    let tmp = tempfile::tempdir().unwrap();
    let runs = tmp.path().join("runs").display().to_string();
    let lm = tiny_lm(tmp.path(), "old", "", 1);
    let old = run_dir(&ok(&["train", &lm, "--runs", &runs]));
    let new = run_dir(&ok(&["train", &lm, "--runs", &runs, "model.zoneout=0.1"]));
    // The older run's config.toml, as written before the keys existed.
    let config = old.join("config.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    let keys = [
        "dropout_kind",
        "input_dropout",
        "output_dropout",
        "weight_drop",
        "zoneout",
        "norm",
        "embed_dropout",
    ];
    let kept: String = text
        .lines()
        .filter(|l| !keys.iter().any(|k| l.starts_with(&format!("{k} ="))))
        .map(|l| format!("{l}\n"))
        .collect();
    assert_ne!(kept, text, "the keys were in the file");
    std::fs::write(&config, kept).unwrap();
    let table = ok(&[
        "compare",
        &old.display().to_string(),
        &new.display().to_string(),
    ]);
    assert!(table.contains("model.zoneout"), "{table}");
    for key in keys.iter().filter(|k| **k != "zoneout") {
        assert!(!table.contains(&format!("model.{key}")), "{key}: {table}");
    }
}
