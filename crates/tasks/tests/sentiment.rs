//! The sentiment task end to end: train, eval, predict and explain, ensembles, subwords and
//! log-count ratios.
mod common;

use std::path::Path;
use std::process::Command;

use common::*;

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
    let ratios = std::fs::read_to_string(d.join("artefacts.json")).unwrap();
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
    // Artefacts that disagree with the run's config, and none at all.
    let artefacts = Path::new(&d).join("artefacts.json");
    let text = std::fs::read_to_string(&artefacts).unwrap();
    let start = text.find("\"ratios\":{").expect("the ratios are saved");
    std::fs::write(&artefacts, format!("{}\"ratios\":null}}", &text[..start])).unwrap();
    fails(
        &["predict", &d, "a superb film"],
        "artefacts.json: model.nb_features = true: the run's encoder has no log-count ratios",
    );
    std::fs::remove_file(&artefacts).unwrap();
    fails(&["predict", &d, "a superb film"], "artefacts.json");
    fails(
        &["train", &exp, "--runs", &runs, "model.nb_folds=1"],
        "model.nb_folds = 1: need at least 2 folds",
    );
    fails(
        &["train", &exp, "--runs", &runs, "model.nb_alpha=0"],
        "model.nb_alpha = 0: must be a positive number",
    );
}
