//! The forecasting task end to end: train, eval, forecast with a plot, backtest.
mod common;

use common::*;

#[test]
fn forecast_trains_forecasts_plots_and_backtests() {
    let tmp = tempfile::tempdir().unwrap();
    let runs = tmp.path().join("runs").display().to_string();
    let out = ok(&strs(&airline(&[
        "train.epochs=3",
        "model.relative_input=true",
        "--runs",
        &runs,
    ])));
    assert!(
        out.contains("seasonal naive") && out.contains("MAPE"),
        "{out}"
    );
    let dir = run_dir(&out);
    let d = dir.display().to_string();
    assert!(dir.join("artefacts.json").is_file());
    // The run directory rebuilds the same model (relative inputs included): `eval` repeats
    // the report training wrote.
    let report = std::fs::read_to_string(dir.join("report.txt")).unwrap();
    assert_eq!(ok(&["eval", &d]).trim(), report.trim());
    let svg = tmp.path().join("f.svg");
    let shown = ok(&["forecast", &d, "--plot", &svg.display().to_string()]);
    assert!(
        shown.contains("actual") && (shown.contains('▁') || shown.contains('█')),
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
    // (The later `data.path` override wins.)
    fails(
        &strs(&airline(&[&gap_path, "--runs", &runs])),
        "1 missing or non-finite value(s): line 31 `#Passengers`",
    );
    let filled = ok(&strs(&airline(&[
        &gap_path,
        "data.missing=interpolate",
        "data.log=true",
        "train.epochs=1",
        "--runs",
        &runs,
    ])));
    assert!(
        filled.contains("data.missing: 1 cell(s) filled"),
        "{filled}"
    );
}

/// SegRNN's design (`model.kind = "segment"`) trains, evaluates to the same report (its
/// DLinear baseline retrained from the seed), and is inspected; its bad keys are one error each.
#[test]
fn segment_model_trains_beside_dlinear() {
    let tmp = tempfile::tempdir().unwrap();
    let runs = tmp.path().join("runs").display().to_string();
    let segment = [
        "model.kind=segment",
        "model.residual=none",
        "model.segment_length=12",
        "model.head_dropout=0.5",
        "train.epochs=3",
    ];
    let mut args = segment.to_vec();
    args.extend(["--runs", &runs]);
    let out = ok(&strs(&airline(&args)));
    assert!(
        out.contains("DLinear") && out.contains("seasonal naive"),
        "{out}"
    );
    let dir = run_dir(&out);
    let d = dir.display().to_string();
    let results = std::fs::read_to_string(dir.join("results.json")).unwrap();
    assert!(
        results.contains("\"dlinear_mse\"") && results.contains("\"test_mse\""),
        "{results}"
    );
    let report = std::fs::read_to_string(dir.join("report.txt")).unwrap();
    assert_eq!(ok(&["eval", &d]).trim(), report.trim());
    let page = tmp.path().join("inspect.html");
    ok(&["inspect", &d, "--out", &page.display().to_string()]);
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(
        html.contains("12-step segment"),
        "the page names the segments"
    );

    // The experiment's seasonal residual belongs to the direct design.
    fails(
        &strs(&airline(&["model.kind=segment", "--runs", &runs])),
        "model.residual and model.relative_input belong to kind = \"direct\"",
    );
    fails(
        &strs(&airline(&[
            "model.kind=segment",
            "model.residual=none",
            "model.segment_length=10",
            "--runs",
            &runs,
        ])),
        "data.lookback = 24: kind = \"segment\" needs a multiple of model.segment_length = 10",
    );
    fails(
        &strs(&airline(&["model.head_dropout=0.5", "--runs", &runs])),
        "model.head_dropout belongs to model.kind = \"segment\"",
    );
    fails(
        &strs(&airline(&["baseline.dlinear_kernel=4", "--runs", &runs])),
        "baseline.dlinear_kernel = 4: the moving average needs an odd width",
    );
}
