//! End to end, the translation task: a tiny translator on a made-up English–French file —
//! train, eval, translate (arguments, `--file`, standard input, `--beam`, the attention plot),
//! the no-attention and BPE variants, and the bad inputs as one error line each.

mod common;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use common::*;

const ADJECTIVES: [(&str, &str); 24] = [
    ("cold", "froid"),
    ("hot", "chaud"),
    ("tall", "grand"),
    ("small", "petit"),
    ("happy", "heureux"),
    ("sad", "triste"),
    ("tired", "fatigue"),
    ("ready", "pret"),
    ("busy", "occupe"),
    ("rich", "riche"),
    ("poor", "pauvre"),
    ("sick", "malade"),
    ("late", "en retard"),
    ("young", "jeune"),
    ("old", "vieux"),
    ("strong", "fort"),
    ("weak", "faible"),
    ("calm", "calme"),
    ("free", "libre"),
    ("hungry", "affame"),
    ("angry", "en colere"),
    ("lucky", "chanceux"),
    ("wrong", "en tort"),
    ("right", "raison"),
];

const SUBJECTS: [(&str, &str); 6] = [
    ("I am", "Je suis"),
    ("He is", "Il est"),
    ("She is", "Elle est"),
    ("We are", "Nous sommes"),
    ("They are", "Ils sont"),
    ("You are", "Vous êtes"),
];

/// 144 tutorial-style pairs (every subject with every adjective) and a few the filter drops.
fn pairs(dir: &Path) -> String {
    let mut text = String::from("Go.\tVa !\nIt is cold.\tIl fait froid.\n");
    for (s, fs) in SUBJECTS {
        for (a, fa) in ADJECTIVES {
            text.push_str(&format!("{s} {a}.\t{fs} {fa}.\n"));
        }
    }
    write(dir, "pairs.tsv", &text)
}

fn experiment(dir: &Path, data: &str, extra: &str) -> String {
    write(
        dir,
        "t.toml",
        &format!(
            "task = \"translate\"\nname = \"tiny\"\n[data]\npath = {data:?}\nbatch_size = 16\n\
             [data.vocab]\nmin_freq = 1\n[model]\nd_embed = 16\nd_hidden = 16\n{extra}\
             [train]\nepochs = 4\nlr = 0.01\n[decode]\nbeam = 3\n"
        ),
    )
}

/// `rnnlab translate RUN --file -` with `input` on standard input.
fn translate_stdin(run: &str, input: &str) -> String {
    let mut child = Command::new(env!("CARGO_BIN_EXE_rnnlab"))
        .args(["translate", run, "--file", "-"])
        .env("BURN_DEVICE", "flex")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn a_tiny_translator_trains_translates_plots_and_rejects_bad_input() {
    let tmp = tempfile::tempdir().unwrap();
    let data = pairs(tmp.path());
    let exp = experiment(tmp.path(), &data, "");
    let runs = tmp.path().join("runs").display().to_string();
    let out = ok(&["train", &exp, "--runs", &runs]);
    for expected in [
        "source sentences",
        "model, greedy",
        "model, beam 3 (length penalty 1)",
        "copy the source (baseline)",
        "examples (source → beam output | a reference):",
    ] {
        assert!(out.contains(expected), "{expected:?} in {out}");
    }
    let d = run_dir(&out);
    for file in ["artefacts.json", "model.bpk"] {
        assert!(d.join(file).is_file(), "{file}");
    }
    let results: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("results.json")).unwrap()).unwrap();
    for key in [
        "test_bleu_greedy",
        "test_chrf_greedy",
        "test_bleu_beam",
        "test_chrf_beam",
        "baseline_copy_bleu",
        "baseline_copy_chrf",
    ] {
        let v = results[key].as_f64().unwrap();
        assert!((0.0..=100.0).contains(&v), "{key} = {v}");
    }
    let ds = d.display().to_string();
    assert_eq!(
        ok(&["eval", &ds]),
        std::fs::read_to_string(d.join("report.txt")).unwrap(),
        "eval recomputes the saved report"
    );

    // One line per sentence, from arguments, a file or standard input; flags after them too.
    let one = ok(&["translate", &ds, "I am cold."]);
    assert_eq!(one.lines().count(), 1, "{one}");
    let two = ok(&[
        "translate",
        &ds,
        "I am cold.",
        "-- they are tall!",
        "--beam",
        "1",
    ]);
    assert_eq!(two.lines().count(), 2, "{two}");
    let list = write(tmp.path(), "in.txt", "I am cold.\n\nWe are happy.\n");
    assert_eq!(ok(&["translate", &ds, "--file", &list]).lines().count(), 2);
    assert_eq!(
        translate_stdin(&ds, "I am cold.\nWe are happy.\n"),
        ok(&["translate", &ds, "--file", &list])
    );
    // An unknown word is read as <unk> and named on standard error.
    let unknown = rnnlab(&["translate", &ds, "I am purple."]);
    assert!(unknown.ok && unknown.stderr.contains("read as <unk>: purple"));

    // The attention matrix of one sentence: its source and output tokens.
    let svg = tmp.path().join("att.svg");
    let svg_arg = svg.display().to_string();
    ok(&["translate", &ds, "I am cold.", "--plot-attention", &svg_arg]);
    let drawn = std::fs::read_to_string(&svg).unwrap();
    assert!(
        drawn.starts_with("<svg") && drawn.contains("\ncold\n</text>"),
        "{drawn}"
    );
    fails(
        &["translate", &ds, "a b", "c d", "--plot-attention", &svg_arg],
        "--plot-attention draws one sentence; 2 were given",
    );

    // Bad input: one error line each, the run untouched.
    let before = listing(&d);
    fails(&["translate", &ds, " ... "], "nothing to translate");
    fails(
        &["translate", &ds, "1984"],
        "nothing to translate (no letters",
    );
    fails(
        &["translate", &ds, "zzz qqq"],
        "none of its words is in the run's source vocabulary",
    );
    fails(
        &[
            "translate",
            &ds,
            "i am very very very very very very very cold",
        ],
        "10 words; this run translates up to 9 (it trained on data.max_words = 10)",
    );
    fails(
        &["translate", &ds, "I am cold.", "--beam", "0"],
        "--beam 0: expected 1 to 100",
    );
    fails(
        &["translate", &ds, "I am cold.", "--beam=x"],
        "--beam x: expected a whole number",
    );
    fails(
        &["translate", &ds, "I am cold.", "--beam"],
        "--beam: expected a value after it",
    );
    assert_eq!(listing(&d), before, "the run is untouched");

    fails(&["resume", &ds], "all 4 epochs are done");

    // A sweep over the attention switch; the run without attention has nothing to plot.
    let sweep_runs = tmp.path().join("sweep").display().to_string();
    let swept = ok(&[
        "sweep",
        &exp,
        "model.attention=none,dot",
        "--runs",
        &sweep_runs,
    ]);
    assert!(swept.contains("test_bleu_beam"), "{swept}");
    let mut swept_dirs: Vec<_> = std::fs::read_dir(tmp.path().join("sweep/tiny"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(swept_dirs.len(), 2, "two runs");
    swept_dirs.sort();
    let bare_dir = swept_dirs
        .iter()
        .find(|d| {
            std::fs::read_to_string(d.join("config.toml"))
                .unwrap()
                .contains("attention = \"none\"")
        })
        .expect("the run without attention")
        .display()
        .to_string();
    assert_eq!(
        ok(&["translate", &bare_dir, "I am cold."]).lines().count(),
        1
    );
    fails(
        &[
            "translate",
            &bare_dir,
            "I am cold.",
            "--plot-attention",
            &svg_arg,
        ],
        "this run has no attention",
    );
    let compared = ok(&["compare", &ds, &bare_dir]);
    assert!(compared.contains("test_bleu_beam"), "{compared}");

    // BPE vocabularies: nothing is unknown.
    let out = ok(&[
        "train",
        &exp,
        "--runs",
        &runs,
        "data.vocab.kind=bpe",
        "data.vocab.bpe_size=300",
        "train.epochs=1",
    ]);
    let bpe = run_dir(&out).display().to_string();
    let purple = rnnlab(&["translate", &bpe, "I am purple."]);
    assert!(
        purple.ok && !purple.stderr.contains("<unk>"),
        "{}",
        purple.stderr
    );

    // A translation run is not a sentiment run, and the other way round.
    fails(
        &["predict", &ds, "I am cold."],
        "`predict` needs a sentiment run",
    );
}

#[test]
fn bad_pairs_files_name_their_line_and_leave_no_run_behind() {
    let tmp = tempfile::tempdir().unwrap();
    let runs = tmp.path().join("runs");
    let runs_arg = runs.display().to_string();
    for (text, expected) in [
        (
            "I am cold.\tJe suis froid.\nI am hot.\n",
            ":2: no tab; expected `source<TAB>target`",
        ),
        ("I am cold.\tJe\tsuis froid.\n", ":1: 2 tabs; expected one"),
        ("I am cold.\t\n", ":1: an empty field"),
        (
            "It is cold.\tIl fait froid.\n",
            "the training split is empty",
        ),
    ] {
        let data = write(tmp.path(), "bad.tsv", text);
        let exp = experiment(tmp.path(), &data, "");
        fails(&["train", &exp, "--runs", &runs_arg], expected);
        assert!(!runs.exists(), "no run directory for {text:?}");
    }
    let data = pairs(tmp.path());
    let exp = experiment(tmp.path(), &data, "");
    for (key, expected) in [
        ("model.attention=luong", "model.attention"),
        (
            "objective.teacher_forcing=1.5",
            "objective.teacher_forcing = 1.5: must be in [0, 1]",
        ),
        ("decode.beam=0", "decode.beam = 0: must be at least 1"),
        ("data.max_words=1", "data.max_words = 1: expected 2 to 1000"),
    ] {
        fails(&["train", &exp, "--runs", &runs_arg, key], expected);
    }
    assert!(!runs.exists());
}

/// A run that early stopping ended, killed after its last checkpoint but before its final
/// files: `resume` finishes it (it does not train on), with the weights and scores the
/// uninterrupted run saved.
#[test]
fn resume_finishes_an_early_stopped_run_that_lost_its_final_files() {
    let tmp = tempfile::tempdir().unwrap();
    let data = pairs(tmp.path());
    let exp = experiment(tmp.path(), &data, "");
    let runs = tmp.path().join("runs").display().to_string();
    let out = ok(&[
        "train",
        &exp,
        "--runs",
        &runs,
        "train.epochs=60",
        "train.early_stopping=2",
    ]);
    let dir = run_dir(&out);
    let results = |d: &Path| -> Vec<String> {
        std::fs::read_to_string(d.join("results.json"))
            .unwrap()
            .lines()
            .filter(|l| !l.contains("train_seconds"))
            .map(str::to_string)
            .collect()
    };
    let epochs = results(&dir)
        .iter()
        .find_map(|l| l.trim().strip_prefix("\"epochs\": ").map(str::to_string))
        .unwrap();
    let epochs: f64 = epochs.trim_end_matches(',').parse().unwrap();
    assert!(
        epochs < 60.0,
        "early stopping ended the run ({epochs} epochs)"
    );
    let ds = dir.display().to_string();
    fails(
        &["resume", &ds],
        "early stopping ended this run after epoch",
    );

    let stranded = tmp.path().join("stranded");
    std::fs::create_dir_all(stranded.join("checkpoint")).unwrap();
    for entry in std::fs::read_dir(&dir)
        .unwrap()
        .chain(std::fs::read_dir(dir.join("checkpoint")).unwrap())
    {
        let path = entry.unwrap().path();
        let name = path.strip_prefix(&dir).unwrap();
        let keep = !["model.bpk", "results.json", "report.txt"]
            .iter()
            .any(|f| name == Path::new(f));
        if path.is_file() && keep {
            std::fs::copy(&path, stranded.join(name)).unwrap();
        }
    }
    let s = stranded.display().to_string();
    let finished = ok(&["resume", &s]);
    assert!(
        finished.contains("model, greedy") && !finished.contains("epoch "),
        "{finished}"
    );
    assert_eq!(results(&stranded), results(&dir));
    assert_eq!(
        std::fs::read(stranded.join("model.bpk")).unwrap(),
        std::fs::read(dir.join("model.bpk")).unwrap(),
        "the kept weights"
    );
}
