//! The forecasting task's commands: `forecast` (the test split, one origin shown and
//! optionally plotted) and `backtest` (rolling origins over the validation and test rows).

use std::path::PathBuf;

use anyhow::bail;
use burn::prelude::Device;

use super::ForecastTask;
use super::score::ForecastReport;
use crate::metrics::mae;
use crate::task::{evaluate, load};
use crate::task_command::{Cmd, positive};

/// `rnnlab forecast`.
pub static FORECAST: Cmd<ForecastArgs> = Cmd::new(
    "forecast",
    "Forecast the test split of a forecasting run; show one origin and optionally plot it",
    forecast,
);

/// `rnnlab backtest`.
pub static BACKTEST: Cmd<BacktestArgs> = Cmd::new(
    "backtest",
    "Rolling-origin backtest of a forecasting run over its validation and test rows",
    backtest,
);

/// The arguments of `forecast`.
#[derive(clap::Args, Debug)]
pub struct ForecastArgs {
    /// The run directory.
    pub run: PathBuf,
    /// Write the forecast of the shown origin as SVG.
    #[arg(long)]
    pub plot: Option<PathBuf>,
    /// Which test origin to show (0 = first; default the last).
    #[arg(long)]
    pub origin: Option<usize>,
}

/// The arguments of `backtest`.
#[derive(clap::Args, Debug)]
pub struct BacktestArgs {
    /// The run directory.
    pub run: PathBuf,
    /// Steps forecast from each origin (default the model's horizon).
    #[arg(long, value_parser = positive)]
    pub horizon: Option<usize>,
    /// Rows between origins (default the horizon).
    #[arg(long, value_parser = positive)]
    pub step: Option<usize>,
}

fn forecast(a: ForecastArgs, device: &Device) -> anyhow::Result<()> {
    let report = evaluate::<ForecastTask>(&a.run, device)?;
    let n = report.forecasts.len();
    let index = a.origin.unwrap_or(n - 1);
    if index >= n {
        bail!(
            "--origin {index}: there are {n} test origins (0..{})",
            n - 1
        );
    }
    let shown = &report.forecasts[index];
    print!("{report}");
    let column = report.columns.len() - 1;
    println!(
        "origin {index} (row {}), column {}:",
        shown.origin, report.columns[column]
    );
    print!("{}", super::plot::terminal_summary(shown, column));
    if let Some(path) = a.plot {
        super::plot::forecast_svg(&report, shown, column, &path)?;
        println!("plot: {}", path.display());
    }
    Ok(())
}

fn backtest(a: BacktestArgs, device: &Device) -> anyhow::Result<()> {
    let run = load::<ForecastTask>(&a.run, device)?;
    let report = super::score::backtest(&run, a.horizon, a.step, device)?;
    print!("{}", per_origin(&report));
    print!("{report}");
    Ok(())
}

/// The MAE of the model and of each baseline at every origin of a backtest, for its last
/// predicted column.
fn per_origin(report: &ForecastReport) -> String {
    let column = report.columns.len() - 1;
    let mut out = format!(
        "{:>8}  {:>10}  {:>10}  {:>10}  {:>10}  {:>10}  {:>10}   (MAE per origin, column {}; ETS and Theta refitted at each)\n",
        "row", "model", "naive", "seasonal", "ETS", "Theta", "DLinear", report.columns[column]
    );
    for f in &report.forecasts {
        let actual = &f.actual[column];
        let optional = |v: &Vec<Vec<f32>>| {
            v.get(column)
                .map_or("-".into(), |e| format!("{:.4}", mae(e, actual)))
        };
        out += &format!(
            "{:>8}  {:>10.4}  {:>10.4}  {:>10.4}  {:>10}  {:>10}  {:>10}\n",
            f.origin,
            mae(&f.model[column], actual),
            mae(&f.naive[column], actual),
            mae(&f.seasonal[column], actual),
            optional(&f.ets),
            optional(&f.theta),
            optional(&f.dlinear),
        );
    }
    out
}
