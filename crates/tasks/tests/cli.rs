//! The command line's contract: bad input is one clear error line, a non-zero exit and nothing
//! in a run directory damaged; on a terminal the dashboard shows, then closes by itself.
mod common;

use std::path::PathBuf;
use std::process::Command;

use common::*;

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
    // Without `script`, one SKIP line (CI installs it and makes the test mandatory).
    let script = match Command::new("script").arg("--version").output() {
        Ok(_) => Ok(()),
        Err(e) => Err(format!("no `script` ({e})")),
    };
    if !rnnlab_models::testing::run_or_skip(
        "on_a_terminal_the_dashboard_shows_then_closes_by_itself",
        script,
        "apt-get install bsdutils",
    ) {
        return;
    }
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
