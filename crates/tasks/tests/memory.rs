//! The memory task from experiment files: each problem trains, evaluates (the report beside its
//! baseline), shows how far back its loss reaches (`gradients`) and resumes byte for byte; an
//! impossible length and an unknown problem are one error line each.

mod common;

use std::path::Path;

use common::*;

/// A small memory experiment of `problem` in `dir`.
fn tiny_memory(dir: &Path, problem: &str, length: usize, extra: &str) -> String {
    write(
        dir,
        &format!("{problem}.toml"),
        &format!(
            "task = \"memory\"\nname = \"{problem}\"\n[data]\nproblem = \"{problem}\"\n\
             length = {length}\nn_train = 200\nn_valid = 50\nn_test = 60\nbatch_size = 20\n\
             {extra}\n[model]\nd_hidden = 16\n[train]\nepochs = 2\nlr = 0.01\n\
             keep_best = false\n"
        ),
    )
}

#[test]
fn each_problem_trains_evaluates_and_stands_beside_its_baseline() {
    let tmp = tempfile::tempdir().unwrap();
    let runs = tmp.path().join("runs").display().to_string();
    for (problem, length, extra, expect) in [
        ("adding", 20, "", "always 1 (baseline"),
        ("copy", 5, "", "memoryless: 10 ln 8 / (T + 20)"),
        ("parity", 8, "test_length = 16", "majority class (baseline)"),
    ] {
        let exp = tiny_memory(tmp.path(), problem, length, extra);
        let out = ok(&["train", &exp, "--runs", &runs]);
        assert!(out.contains(expect), "{out}");
        let dir = run_dir(&out);
        let report = std::fs::read_to_string(dir.join("report.txt")).unwrap();
        assert_eq!(
            ok(&["eval", &dir.display().to_string()]).trim(),
            report.trim()
        );
        let results: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("results.json")).unwrap())
                .unwrap();
        let keys: &[&str] = match problem {
            "adding" => &["test_mse", "baseline_mse"],
            "copy" => &["test_xent", "baseline_xent", "test_recall_accuracy"],
            _ => &[
                "test_accuracy",
                "baseline_accuracy",
                "test_accuracy_within",
                "test_accuracy_beyond",
            ],
        };
        for key in keys {
            assert!(results[key].is_number(), "{problem}: {key} in {results}");
        }
        // How far back the loss reaches: a row per distance, a finite norm per layer.
        let flow = ok(&["gradients", &dir.display().to_string(), "--sequences", "8"]);
        let rows: Vec<&str> = flow
            .lines()
            .skip(2)
            .filter(|l| !l.trim().is_empty())
            .collect();
        assert!(rows.len() >= 3, "{flow}");
        for row in rows {
            let cells: Vec<f64> = row.split_whitespace().map(|c| c.parse().unwrap()).collect();
            assert_eq!(cells.len(), 2, "{flow}");
            assert!(cells[1].is_finite() && cells[1] >= 0.0, "{flow}");
        }
    }
    // The adding problem's baseline is Var(U₁ + U₂) = 1/6 in expectation; the copy baseline
    // is exactly 10 ln 8 / (T + 20).
    let adding: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(
            run_dir(&ok(&[
                "train",
                &tiny_memory(tmp.path(), "adding", 20, ""),
                "data.n_test=2000",
                "train.epochs=1",
                "--runs",
                &runs,
            ]))
            .join("results.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let baseline = adding["baseline_mse"].as_f64().unwrap();
    assert!((baseline - 1.0 / 6.0).abs() < 0.02, "{baseline}");
}

#[test]
fn a_resumed_memory_run_repeats_the_uninterrupted_run() {
    let tmp = tempfile::tempdir().unwrap();
    let exp = tiny_memory(tmp.path(), "copy", 4, "");
    assert_resume_repeats_the_run(&exp, &tmp.path().join("runs"), 2);
}

#[test]
fn bad_memory_experiments_are_one_line_each() {
    let tmp = tempfile::tempdir().unwrap();
    let runs = tmp.path().join("runs").display().to_string();
    let adding = tiny_memory(tmp.path(), "adding", 20, "");
    for (args, expected) in [
        (
            vec!["data.length=1"],
            "data.length = 1: the adding problem needs at least 2 steps",
        ),
        (vec!["data.problem=sorting"], "data.problem"),
        (
            vec!["data.test_length=40"],
            "data.test_length = 40: only the parity problem tests other lengths",
        ),
        (vec!["data.length=0"], "data.length = 0: must be at least 1"),
    ] {
        let mut all = vec!["train", adding.as_str()];
        all.extend(args);
        all.extend(["--runs", runs.as_str()]);
        fails(&all, expected);
    }
    let parity = tiny_memory(tmp.path(), "parity", 10, "");
    fails(
        &["train", &parity, "data.test_length=5", "--runs", &runs],
        "data.test_length = 5: must be 0 or at least data.length = 10",
    );
    assert!(
        !tmp.path().join("runs").exists(),
        "no run directory is left behind"
    );
}
