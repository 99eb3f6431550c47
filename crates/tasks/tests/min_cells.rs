//! minGRU and minLSTM from experiment files: `model.cell = "mingru" | "minlstm"` trains,
//! evaluates and runs each task's own command in every task with a recurrent stack, and an
//! unknown cell is one error line listing the cells.

mod common;

use common::*;

#[test]
fn every_task_trains_and_predicts_with_a_min_cell() {
    let tmp = tempfile::tempdir().unwrap();
    let runs = tmp.path().join("runs").display().to_string();
    // Char LM (generation runs the sequential form, one step at a time).
    let text = write(
        tmp.path(),
        "text.txt",
        &"to be or not to be, that is the question.\n".repeat(60),
    );
    let lm = write(
        tmp.path(),
        "lm.toml",
        &format!(
            "task = \"charlm\"\nname = \"lm\"\n[data]\npath = {text:?}\nseq_len = 16\nbatch_size = 8\n\
             window_stride = 4\nvalid_stride = 8\n[model]\ncell = \"mingru\"\nd_embed = 8\n\
             d_hidden = 32\nn_layers = 2\n[train]\nepochs = 2\nlr = 0.01\n"
        ),
    );
    let out = ok(&["train", &lm, "--runs", &runs]);
    assert!(
        out.contains("bits/char") && out.contains("sample:"),
        "{out}"
    );
    let d = run_dir(&out).display().to_string();
    let generated = ok(&["generate", &d, "--prompt", "to be", "--length", "20"]);
    assert!(generated.starts_with("to be"), "{generated}");
    // Sentiment, bidirectional minLSTM over padded batches.
    let exp = tiny_sentiment(
        tmp.path(),
        "min",
        &keyword_lines(),
        "cell = \"minlstm\"\nbidirectional = true",
        "epochs = 3",
    );
    let d = run_dir(&ok(&["train", &exp, "--runs", &runs]))
        .display()
        .to_string();
    assert!(ok(&["eval", &d]).contains("accuracy"));
    let predicted = ok(&["predict", &d, "a superb film", "--explain"]);
    assert!(predicted.contains("top tokens by"), "{predicted}");
    // Forecasting.
    let out = ok(&strs(&airline(&[
        "model.cell=minlstm",
        "train.epochs=3",
        "--runs",
        &runs,
    ])));
    let d = run_dir(&out).display().to_string();
    assert!(ok(&["backtest", &d]).contains("MAE per origin"));
    // Translation: a minLSTM encoder and decoder (the decoder steps).
    let exp = tiny_translation(tmp.path(), "cell = \"minlstm\"");
    let d = run_dir(&ok(&["train", &exp, "--runs", &runs]))
        .display()
        .to_string();
    assert!(!ok(&["translate", &d, "I am cold 1."]).trim().is_empty());
    // Speech, a bidirectional minGRU over the frames of padded recordings.
    let (exp, data) = tiny_speech(tmp.path(), "cell = \"mingru\"\nbidirectional = true");
    let d = run_dir(&ok(&["train", &exp, "--runs", &runs]))
        .display()
        .to_string();
    let wav = format!("{data}/2_theo_0.wav");
    assert!(ok(&["predict", &d, &wav]).trim_end().ends_with(&wav));
    // An unknown cell is one error line listing the cells.
    fails(
        &["train", &lm, "model.cell=minrnn", "--runs", &runs],
        "mingru",
    );
}
