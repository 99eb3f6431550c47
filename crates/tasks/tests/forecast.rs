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
        &strs(&airline(&[
            "model.kind=segment",
            "model.residual=none",
            "model.d_hidden=1",
            "--runs",
            &runs,
        ])),
        "model.d_hidden = 1: model.channel_embedding splits the decoder input",
    );
    fails(
        &strs(&airline(&[
            "data.season=100",
            "model.residual=none",
            "--runs",
            &runs,
        ])),
        "data.season = 100: not shorter than the 96 training rows",
    );
    fails(
        &strs(&airline(&["baseline.dlinear_kernel=4", "--runs", &runs])),
        "baseline.dlinear_kernel = 4: the moving average needs an odd width",
    );
}

/// A short trending quarterly series (made here: 72 quarters, a drift, a weak season and
/// noise): the seasonal ETS and Theta rows appear, the product is chosen on validation and is
/// never worse than the naive forecast there, and `results.json` names it.
#[test]
fn short_series_product_does_not_lose_to_naive_on_validation() {
    let tmp = tempfile::tempdir().unwrap();
    let runs = tmp.path().join("runs").display().to_string();
    // A deterministic LCG for the noise.
    let mut state = 12345u64;
    let mut noise = || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((state >> 33) as f64 / (1u64 << 31) as f64) - 0.5
    };
    let mut csv = String::from("quarter,value\n");
    for t in 0..72 {
        let season = [1.5, -0.5, -2.0, 1.0][t % 4];
        let v = 100.0 + 1.2 * t as f64 + season + 6.0 * noise();
        csv += &format!("{}-Q{},{v:.3}\n", 2000 + t / 4, t % 4 + 1);
    }
    let path = write(tmp.path(), "quarterly.csv", &csv);
    let exp = write(
        tmp.path(),
        "short.toml",
        &format!(
            "task = \"forecast\"\nname = \"short\"\n[data]\npath = \"{path}\"\n\
             date_column = \"quarter\"\ntarget = \"value\"\nlookback = 8\nhorizon = 4\n\
             season = 4\ntrain_end = 52\nvalid_end = 62\ntest_end = 72\nbatch_size = 8\n\
             [train]\nepochs = 20\n[baseline]\ndlinear_fit = \"lstsq\"\n"
        ),
    );
    let out = ok(&["train", &exp, "--runs", &runs]);
    assert!(
        out.contains("Theta (refit)") && out.contains("MSTL(4) + ETS("),
        "{out}"
    );
    assert!(out.contains("The product is the"), "{out}");
    let dir = run_dir(&out);
    let results: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("results.json")).unwrap()).unwrap();
    let get = |k: &str| {
        results[k]
            .as_f64()
            .unwrap_or_else(|| panic!("{k} in {results}"))
    };
    let from: Vec<&str> = results
        .as_object()
        .unwrap()
        .keys()
        .filter_map(|k| k.strip_prefix("product_from_"))
        .collect();
    assert_eq!(from.len(), 1, "{results}");
    // The product had the lowest validation error: not above the naive forecast's, nor any
    // other forecaster's; its test errors are that forecaster's.
    let chosen = from[0];
    let valid = get(&format!("valid_{chosen}_mae"));
    for key in ["test", "naive", "snaive", "ets", "theta", "dlinear"] {
        assert!(
            valid <= get(&format!("valid_{key}_mae")),
            "{chosen} vs {key}: {results}"
        );
    }
    assert_eq!(get("product_mase"), get(&format!("{chosen}_mase")));
    // `eval` repeats the choice.
    let eval = ok(&["eval", &dir.display().to_string()]);
    let line = out
        .lines()
        .find(|l| l.starts_with("The product is the"))
        .unwrap();
    assert!(eval.contains(line), "{eval}");
}
