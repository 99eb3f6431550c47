//! Run directories: `runs/<experiment>/<run-id>/` with the resolved `config.toml`, the
//! tokenizer or scaler, `model.bpk`, `checkpoint/`, `metrics.csv`, `experiment.log` and
//! `results.json` (the final metrics that `compare` tabulates).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

/// The `config.toml` of a run directory; its absence is an error that says the directory is
/// not a run.
pub fn config_of_run(dir: &Path) -> anyhow::Result<PathBuf> {
    let config = dir.join("config.toml");
    if !config.is_file() {
        bail!(
            "{}: missing; is {} a run directory?",
            config.display(),
            dir.display()
        );
    }
    Ok(config)
}

/// Creates a fresh, empty run directory `<runs>/<name>/<UTC time>-seed<seed>` (a suffix
/// keeps it unique) and returns it. The directory is made with an exclusive create, so two
/// runs started at the same second never share one.
pub fn new_run_dir(runs: &Path, name: &str, seed: u64) -> anyhow::Result<PathBuf> {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let base = format!("{}-seed{seed}", utc_stamp(secs));
    let parent = runs.join(name);
    std::fs::create_dir_all(&parent)
        .with_context(|| format!("cannot create the runs directory {}", parent.display()))?;
    for n in 1.. {
        let dir = match n {
            1 => parent.join(&base),
            n => parent.join(format!("{base}-{n}")),
        };
        match std::fs::create_dir(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => {
                return Err(e)
                    .with_context(|| format!("cannot create the run directory {}", dir.display()));
            }
        }
    }
    unreachable!("the suffixes never run out")
}

/// Removes a run directory that [`new_run_dir`] made when the run failed before writing its
/// `config.toml` (bad data, say): no empty run is left behind. A run that started keeps its
/// directory, to be resumed or inspected.
pub fn discard_if_unstarted(dir: &Path) {
    if !dir.join("config.toml").exists() {
        let _ = std::fs::remove_dir_all(dir);
    }
}

/// `YYYYMMDD-HHMMSS` of a Unix time (UTC).
fn utc_stamp(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}{m:02}{d:02}-{:02}{:02}{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Creates a new run directory `dir` holding the resolved experiment as `config.toml`.
pub fn create(dir: &Path, resolved_toml: &str) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create the run directory {}", dir.display()))?;
    rnnlab_data::io::write_atomic(&dir.join("config.toml"), resolved_toml.as_bytes())?;
    Ok(())
}

/// Final metrics of a run (`results.json`): name → value.
pub type Results = BTreeMap<String, f64>;

/// Writes `results.json` atomically.
pub fn save_results(dir: &Path, results: &Results) -> anyhow::Result<()> {
    let json = serde_json::to_string_pretty(results)?;
    rnnlab_data::io::write_atomic(&dir.join("results.json"), json.as_bytes())?;
    Ok(())
}

/// Ends a training run: adds `epochs`, `kept_epoch` and `train_seconds` to the task's
/// `results`, writes `results.json` and the human-readable `report.txt` (what `train` prints at
/// the end), both atomically.
pub fn finish(
    dir: &Path,
    mut results: Results,
    fitted: (usize, usize),
    seconds: f64,
    report: &str,
) -> anyhow::Result<Results> {
    results.insert("epochs".into(), fitted.0 as f64);
    results.insert("kept_epoch".into(), fitted.1 as f64);
    results.insert("train_seconds".into(), seconds);
    save_results(dir, &results)?;
    rnnlab_data::io::write_atomic(&dir.join("report.txt"), report.as_bytes())?;
    Ok(results)
}

/// Reads `results.json`.
pub fn load_results(dir: &Path) -> anyhow::Result<Results> {
    let path = dir.join("results.json");
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("{}: cannot read; did the run finish?", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{}: not a results file", path.display()))
}

/// The run directories under `paths`: each path is a run directory (it has `config.toml`) or a
/// folder of them (`runs/<experiment>`, `runs`), searched two levels deep.
pub fn find_runs(paths: &[PathBuf]) -> Vec<PathBuf> {
    fn walk(path: &Path, depth: usize, out: &mut Vec<PathBuf>) {
        if path.join("config.toml").is_file() {
            out.push(path.to_path_buf());
        } else if depth > 0
            && let Ok(entries) = std::fs::read_dir(path)
        {
            let mut children: Vec<PathBuf> =
                entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
            children.sort();
            for child in children.iter().filter(|c| c.is_dir()) {
                walk(child, depth - 1, out);
            }
        }
    }
    let mut out = Vec::new();
    for path in paths {
        walk(path, 2, &mut out);
    }
    out
}

/// One table of the final metrics of `runs` (missing values shown as `-`): the run, its task,
/// the config values in which the runs differ when they are of one task (what a sweep
/// varied), then the model's
/// `test_`/`valid_` metrics, the other values, and the baselines' metrics last. Runs without
/// `results.json` are listed as unfinished.
///
/// `resolved` gives a run's config with every default filled in (as `--print-config` prints
/// it), so that a key an older run's `config.toml` lacks compares as its default; where it
/// gives `None` the file is read as written.
pub fn compare_table(runs: &[PathBuf], resolved: &dyn Fn(&Path) -> Option<String>) -> String {
    let configs: Vec<BTreeMap<String, String>> =
        runs.iter().map(|d| flat_config(d, resolved)).collect();
    // Runs of different tasks differ in nearly every key: the column is for one task's runs.
    let one_task = configs
        .windows(2)
        .all(|w| w[0].get("task") == w[1].get("task"));
    let differs = match one_task {
        true => differing_keys(&configs),
        false => Vec::new(),
    };
    let mut rows: Vec<(String, String, String, Results)> = Vec::new();
    let mut columns: Vec<String> = Vec::new();
    for (dir, config) in runs.iter().zip(&configs) {
        let task = config.get("task").map_or("?", String::as_str).to_string();
        let results = load_results(dir).unwrap_or_default();
        for key in results.keys() {
            if !columns.contains(key) {
                columns.push(key.clone());
            }
        }
        let varied = differs
            .iter()
            .map(|k| format!("{k}={}", config.get(k).map_or("-", String::as_str)))
            .collect::<Vec<_>>()
            .join(" ");
        rows.push((dir.display().to_string(), task, varied, results));
    }
    columns.sort_by_key(|c| (column_rank(c), c.clone()));
    let mut header = vec!["run".to_string(), "task".to_string()];
    if !differs.is_empty() {
        header.push("config".into());
    }
    header.extend(columns.iter().cloned());
    let mut table: Vec<Vec<String>> = vec![header];
    for (run, task, varied, results) in rows {
        let mut line = vec![run, task];
        if !differs.is_empty() {
            line.push(varied);
        }
        for c in &columns {
            line.push(results.get(c).map_or("-".into(), |v| format_value(*v)));
        }
        if results.is_empty() {
            line.push("(unfinished: no results.json)".into());
        }
        table.push(line);
    }
    let n = table.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..n)
        .map(|i| {
            table
                .iter()
                .filter_map(|r| r.get(i))
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    table
        .iter()
        .map(|r| {
            r.iter()
                .enumerate()
                .map(|(i, s)| format!("{s:<w$}", w = widths[i]))
                .collect::<Vec<_>>()
                .join("  ")
                .trim_end()
                .to_string()
                + "\n"
        })
        .collect()
}

/// The model's metrics first, the baselines' last.
fn column_rank(column: &str) -> u8 {
    if column.starts_with("test_") || column.starts_with("valid_") {
        0
    } else if column.starts_with("naive_") || column.starts_with("snaive_") {
        2
    } else {
        1
    }
}

/// A run's config (`resolved`, else its `config.toml`) as `section.key` → value (empty when it
/// cannot be read).
fn flat_config(dir: &Path, resolved: &dyn Fn(&Path) -> Option<String>) -> BTreeMap<String, String> {
    fn walk(prefix: &str, table: &toml::Table, out: &mut BTreeMap<String, String>) {
        for (key, value) in table {
            let name = match prefix {
                "" => key.clone(),
                _ => format!("{prefix}.{key}"),
            };
            match value {
                toml::Value::Table(inner) => walk(&name, inner, out),
                toml::Value::String(text) => {
                    out.insert(name, text.clone());
                }
                other => {
                    out.insert(name, other.to_string());
                }
            }
        }
    }
    let mut out = BTreeMap::new();
    if let Some(table) = resolved(dir)
        .or_else(|| std::fs::read_to_string(dir.join("config.toml")).ok())
        .and_then(|text| toml::from_str::<toml::Table>(&text).ok())
    {
        walk("", &table, &mut out);
    }
    out
}

/// The keys whose values are not the same in every config (none for a single run).
fn differing_keys(configs: &[BTreeMap<String, String>]) -> Vec<String> {
    let mut keys: Vec<String> = configs.iter().flat_map(|c| c.keys().cloned()).collect();
    keys.sort();
    keys.dedup();
    keys.retain(|k| configs.iter().any(|c| c.get(k) != configs[0].get(k)));
    keys
}

fn format_value(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e9 {
        format!("{v}")
    } else {
        format!("{v:.4}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_are_utc_calendar_times() {
        assert_eq!(utc_stamp(0), "19700101-000000");
        assert_eq!(utc_stamp(1_795_811_045), "20261127-202405");
        assert_eq!(utc_stamp(951_782_400), "20000229-000000");
    }

    #[test]
    fn run_dirs_are_created_exclusively() {
        let tmp = tempfile::tempdir().unwrap();
        let dirs: Vec<PathBuf> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..8)
                .map(|_| s.spawn(|| new_run_dir(tmp.path(), "x", 0).unwrap()))
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let mut unique = dirs.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), 8, "{dirs:?}");
        discard_if_unstarted(&dirs[0]);
        assert!(!dirs[0].exists());
        std::fs::write(dirs[1].join("config.toml"), "").unwrap();
        discard_if_unstarted(&dirs[1]);
        assert!(dirs[1].exists());
    }

    #[test]
    fn compare_tabulates_finished_and_unfinished_runs() {
        let tmp = tempfile::tempdir().unwrap();
        let a = tmp.path().join("exp/a");
        let b = tmp.path().join("exp/b");
        for d in [&a, &b] {
            std::fs::create_dir_all(d).unwrap();
            std::fs::write(d.join("config.toml"), "task = \"sentiment\"\n").unwrap();
        }
        save_results(
            &a,
            &Results::from([("test_accuracy".into(), 0.7712), ("epochs".into(), 5.0)]),
        )
        .unwrap();
        let runs = find_runs(&[tmp.path().to_path_buf()]);
        assert_eq!(runs, vec![a.clone(), b.clone()]);
        let table = compare_table(&runs, &|_| None);
        let lines: Vec<&str> = table.lines().collect();
        assert!(
            lines[0].starts_with("run") && lines[0].ends_with("task       test_accuracy  epochs"),
            "{table}"
        );
        assert!(lines[1].ends_with("sentiment  0.7712         5"), "{table}");
        assert!(lines[2].contains("unfinished"), "{table}");
    }

    #[test]
    fn compare_shows_what_the_runs_differ_in_and_the_model_before_the_baselines() {
        let tmp = tempfile::tempdir().unwrap();
        let mut runs = Vec::new();
        for (name, cell, mape) in [("a", "lstm", 0.11), ("b", "gru", 0.09)] {
            let d = tmp.path().join(name);
            std::fs::create_dir_all(&d).unwrap();
            let config =
                format!("task = \"forecast\"\n[model]\ncell = \"{cell}\"\nd_hidden = 32\n");
            std::fs::write(d.join("config.toml"), config).unwrap();
            let results = Results::from([
                ("snaive_mape".into(), 0.1319),
                ("test_mape".into(), mape),
                ("epochs".into(), 150.0),
            ]);
            save_results(&d, &results).unwrap();
            runs.push(d);
        }
        let table = compare_table(&runs, &|_| None);
        let lines: Vec<&str> = table.lines().collect();
        let header: Vec<&str> = lines[0].split_whitespace().collect();
        assert_eq!(
            header,
            [
                "run",
                "task",
                "config",
                "test_mape",
                "epochs",
                "snaive_mape"
            ],
            "{table}"
        );
        assert!(lines[1].contains("model.cell=lstm  0.1100"), "{table}");
        assert!(lines[2].contains("model.cell=gru   0.0900"), "{table}");
        assert!(
            !table.contains("d_hidden"),
            "equal values are not listed: {table}"
        );
    }
}
