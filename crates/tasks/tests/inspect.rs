//! `rnnlab inspect`: one self-contained page (nothing fetched, no scripts) per run of every task,
//! which headless Chromium renders with every section: units over the input, the task's own
//! (token weights, the attention matrix), gate saturation per layer, gradient flow per layer;
//! bad arguments are one error line each and leave no page behind.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;

/// Debian's Chromium (`RNNLAB_CHROMIUM` names another).
fn chromium() -> Result<PathBuf, String> {
    let path = std::env::var("RNNLAB_CHROMIUM")
        .map_or_else(|_| PathBuf::from("/usr/bin/chromium"), PathBuf::from);
    if path.is_file() {
        Ok(path)
    } else {
        Err(format!("no Chromium at {}", path.display()))
    }
}

/// The page's DOM after headless Chromium loaded and rendered it.
fn rendered(browser: &Path, page: &Path, profile: &Path) -> String {
    let out = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg("--dump-dom")
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("chromium runs");
    assert!(
        out.status.success(),
        "chromium failed on {}: {}",
        page.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn inspect_pages_are_self_contained_and_render_in_headless_chromium() {
    let tmp = tempfile::tempdir().unwrap();
    let runs = tmp.path().join("runs").display().to_string();
    let lm = run_dir(&ok(&[
        "train",
        &tiny_lm(tmp.path(), "lm", "", 1),
        "--runs",
        &runs,
    ]));
    let lm_page = tmp.path().join("lm.html");
    let text = "a rose by any other (name) would \"smell\" as sweet.\na rose";
    ok(&[
        "inspect",
        &lm.display().to_string(),
        "--text",
        text,
        "--out",
        &lm_page.display().to_string(),
    ]);
    let memory = write(
        tmp.path(),
        "copy.toml",
        "task = \"memory\"\nname = \"copy\"\n[data]\nproblem = \"copy\"\nlength = 6\n\
         n_train = 100\nn_valid = 20\nn_test = 20\nbatch_size = 20\n[model]\ncell = \"gru\"\n\
         d_hidden = 12\n[train]\nepochs = 1\n",
    );
    let memory = run_dir(&ok(&["train", &memory, "--runs", &runs]));
    let memory_page = tmp.path().join("memory.html");
    ok(&[
        "inspect",
        &memory.display().to_string(),
        "--sequence",
        "3",
        "--units",
        "0,5",
        "--out",
        &memory_page.display().to_string(),
    ]);
    // Sentiment (with the tokens' weights), forecasting (a test window) and speech (a WAV).
    let sentiment = run_dir(&ok(&[
        "train",
        &tiny_sentiment(tmp.path(), "s", &keyword_lines(), "", "epochs = 1"),
        "--runs",
        &runs,
    ]));
    let sentiment_page = tmp.path().join("sentiment.html");
    ok(&[
        "inspect",
        &sentiment.display().to_string(),
        "--text",
        "a superb film",
        "--out",
        &sentiment_page.display().to_string(),
    ]);
    let forecast = run_dir(&ok(&strs(&airline(&["train.epochs=1", "--runs", &runs]))));
    let forecast_page = tmp.path().join("forecast.html");
    ok(&[
        "inspect",
        &forecast.display().to_string(),
        "--origin",
        "0",
        "--out",
        &forecast_page.display().to_string(),
    ]);
    let (speech, recordings) = tiny_speech(tmp.path(), "");
    let speech = run_dir(&ok(&["train", &speech, "--runs", &runs]));
    let speech_page = tmp.path().join("speech.html");
    ok(&[
        "inspect",
        &speech.display().to_string(),
        "--wav",
        &format!("{recordings}/2_theo_0.wav"),
        "--out",
        &speech_page.display().to_string(),
    ]);
    // A digit-string (CTC) run over the same recordings.
    let strings = write(
        tmp.path(),
        "strings.toml",
        &format!(
            "task = \"speech\"\nname = \"strings\"\n[data]\ntarget = \"sequence\"\n\
             path = {recordings:?}\nvalid_takes = 2\nbatch_size = 8\n[data.sequences]\n\
             train = 24\nvalid = 8\ntest = 8\nmax_digits = 4\n[model]\nd_hidden = 8\n\
             n_layers = 1\n[train]\nepochs = 1\nkeep_best_by = \"loss\"\n"
        ),
    );
    let strings = run_dir(&ok(&["train", &strings, "--runs", &runs]));
    let strings_page = tmp.path().join("strings.html");
    ok(&[
        "inspect",
        &strings.display().to_string(),
        "--wav",
        &format!("{recordings}/2_theo_0.wav"),
        "--out",
        &strings_page.display().to_string(),
    ]);
    let translation = run_dir(&ok(&[
        "train",
        &tiny_translation(tmp.path(), ""),
        "--runs",
        &runs,
    ]));
    let translation_page = tmp.path().join("translation.html");
    ok(&[
        "inspect",
        &translation.display().to_string(),
        "--text",
        "I am cold 1.",
        "--out",
        &translation_page.display().to_string(),
    ]);
    let browser = chromium();
    let render = rnnlab_models::testing::run_or_skip(
        "inspect_pages_are_self_contained_and_render_in_headless_chromium (rendering)",
        browser.clone().map(|_| ()),
        "apt-get install chromium",
    );
    for (page, gates, shown) in [
        (
            &lm_page,
            ["gate-i", "gate-f", "gate-o"],
            "most correlated with the position in the line",
        ),
        (
            &memory_page,
            ["gate-r", "gate-z", "gate-r"],
            "layer 0 unit 5",
        ),
        (
            &sentiment_page,
            ["gate-r", "gate-z", "gate-r"],
            "Token weights",
        ),
        (
            &forecast_page,
            ["gate-r", "gate-z", "gate-r"],
            "the window before test row",
        ),
        (
            &speech_page,
            ["gate-r", "gate-z", "gate-r"],
            "the predicted digit",
        ),
        (
            &strings_page,
            ["gate-r", "gate-z", "gate-r"],
            "the best frame-by-frame path",
        ),
        (
            &translation_page,
            ["gate-r", "gate-z", "gate-r"],
            "Attention (a row per output token",
        ),
    ] {
        let html = std::fs::read_to_string(page).unwrap();
        // Self-contained: nothing to fetch, nothing to run.
        for outside in ["http://", "https://", "<script", "<link", "src="] {
            assert!(
                !html.contains(outside),
                "{}: {outside:?} in the page",
                page.display()
            );
        }
        // What the page must show, as written and, where there is a browser, as rendered.
        let needed = [
            "id=\"units\"",
            "id=\"saturation\"",
            "id=\"flow-plot\"",
            "class=\"layer-line\"",
            shown,
        ];
        let gates = gates.map(|g| format!("class=\"{g}\""));
        let mut texts = vec![html];
        if render {
            let browser = browser.as_ref().expect("checked");
            texts.push(rendered(browser, page, &tmp.path().join("profile")));
        }
        for text in texts {
            for needed in needed
                .iter()
                .copied()
                .chain(gates.iter().map(String::as_str))
            {
                assert!(
                    text.contains(needed),
                    "{}: {needed} missing",
                    page.display()
                );
            }
        }
    }
}

#[test]
fn bad_inspect_arguments_are_one_line_each() {
    let tmp = tempfile::tempdir().unwrap();
    let runs = tmp.path().join("runs").display().to_string();
    let lm = run_dir(&ok(&[
        "train",
        &tiny_lm(tmp.path(), "lm", "", 1),
        "--runs",
        &runs,
    ]))
    .display()
    .to_string();
    let out = tmp.path().join("page.html");
    let out_s = out.display().to_string();
    fails(
        &["inspect", &lm, "--out", &out_s],
        "inspect needs the input: --text TEXT or --file FILE",
    );
    fails(
        &[
            "inspect", &lm, "--text", "a rose", "--units", "7:1", "--out", &out_s,
        ],
        "--units 7:1",
    );
    fails(
        &[
            "inspect", &lm, "--text", "a rose", "--units", "x", "--out", &out_s,
        ],
        "expected units like 17 or 1:17",
    );
    fails(
        &["inspect", &lm, "--text", "a", "--out", &out_s],
        "needs at least 2 tokens",
    );
    assert!(!out.exists(), "no page is left behind");
}

/// A page shows the model as it predicts: with dropout, weight drop and embedding dropout in
/// the run's config, two pages of one input are the same, byte for byte.
#[test]
fn inspect_runs_the_model_without_its_regularisers() {
    let tmp = tempfile::tempdir().unwrap();
    let runs = tmp.path().join("runs").display().to_string();
    let lm = run_dir(&ok(&[
        "train",
        &tiny_lm(
            tmp.path(),
            "lm",
            "dropout = 0.5\nweight_drop = 0.3\nembed_dropout = 0.2",
            1,
        ),
        "--runs",
        &runs,
    ]))
    .display()
    .to_string();
    let pages: Vec<String> = (0..2)
        .map(|k| {
            let out = tmp.path().join(format!("page{k}.html"));
            ok(&[
                "inspect",
                &lm,
                "--text",
                "a rose by any other name",
                "--out",
                &out.display().to_string(),
            ]);
            std::fs::read_to_string(out).unwrap()
        })
        .collect();
    assert!(pages[0] == pages[1], "two pages of one input differ");
}
