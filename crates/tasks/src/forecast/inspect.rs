//! `rnnlab inspect` on a forecasting run: the encoder traced over one test window, its units
//! over the (scaled) input, its gates, and the reach of the window's forecast error.

use std::path::PathBuf;

use anyhow::bail;
use burn::Tensor;
use burn::module::Module;
use burn::nn::loss::{MseLoss, Reduction};
use burn::prelude::Device;
use burn::tensor::TensorData;

use super::ForecastTask;
use super::score::test_origins;
use crate::inspect::{Inspection, parse_units, write};
use crate::task::load;
use crate::task_command::Cmd;

/// `rnnlab inspect` (forecast).
pub static INSPECT: Cmd<InspectArgs> = Cmd::new(
    "inspect",
    "A forecasting run's encoder on a test window, as an HTML page: units, gates, gradient flow",
    inspect,
);

/// The arguments of `inspect` (forecast).
#[derive(clap::Args, Debug)]
pub struct InspectArgs {
    /// The run directory.
    pub run: PathBuf,
    /// Which test origin's window (0 = the first; default the last).
    #[arg(long)]
    pub origin: Option<usize>,
    /// Units to show: `17` (top layer) or `1:17` (layer-direction:unit), comma-separated;
    /// default: the units following simple features of the input and the most active ones.
    #[arg(long)]
    pub units: Option<String>,
    /// Where to write the page.
    #[arg(long, default_value = "inspect.html")]
    pub out: PathBuf,
}

fn inspect(a: InspectArgs, device: &Device) -> anyhow::Result<()> {
    let run = load::<ForecastTask>(&a.run, device)?;
    let p = run.data()?;
    let e = &run.config;
    let origins = test_origins(e, &p);
    let Some(&last) = origins.last() else {
        bail!("the run's test rows hold no forecast window");
    };
    let origin = match a.origin {
        None => last,
        Some(i) if i < origins.len() => origins[i],
        Some(i) => bail!(
            "--origin {i}: the run has test origins 0..{}",
            origins.len()
        ),
    };
    let (l, h) = (e.data.lookback, e.data.horizon);
    let c = p.series.names().len();
    let value = |r: usize, col: usize| p.model_values[r * c + col];
    let input: Vec<f32> = (origin - l..origin)
        .flat_map(|r| p.inputs.iter().map(move |&col| value(r, col)))
        .collect();
    let target: Vec<f32> = (origin..origin + h)
        .flat_map(|r| p.outputs.iter().map(move |&col| value(r, col)))
        .collect();
    let autodiff = device.clone().autodiff();
    let model = run.model.clone().to_device(&autodiff);
    let x = Tensor::<3>::from_data(TensorData::new(input, [1, l, p.inputs.len()]), &autodiff);
    let target =
        Tensor::<3>::from_data(TensorData::new(target, [1, h, p.outputs.len()]), &autodiff);
    // The segment model traces every column as its own row: the page follows the first
    // predicted column's row. The direct model has one row, shown by its first input column.
    let row = match &model.segment {
        Some(_) => model.outputs[0],
        None => 0,
    };
    let first = p.inputs[row];
    let (trace, forecast, shown) = match &model.segment {
        // The encoder reads segments: one step per segment, shown by the segment's mean.
        Some(net) => {
            let (trace, forecast) = net.trace(x);
            let w = net.segment;
            let shown: Vec<f64> = (0..l / w)
                .map(|k| {
                    let rows = origin - l + k * w..origin - l + (k + 1) * w;
                    rows.map(|r| f64::from(value(r, first))).sum::<f64>() / w as f64
                })
                .collect();
            (trace, model.pick(forecast), shown)
        }
        None => {
            let trace = model
                .encoder()
                .trace(model.encoder_input(x.clone()), None, None);
            let forecast = model.decode(trace.output.clone(), x);
            // Each step shown by the input column's (scaled) value.
            let shown = (origin - l..origin)
                .map(|r| f64::from(value(r, first)))
                .collect();
            (trace, forecast, shown)
        }
    };
    let loss = MseLoss::new().forward(forecast, target, Reduction::Mean);
    let flow: Vec<Vec<f64>> = trace
        .hidden_grad_norms_by_row(&loss.backward())
        .into_iter()
        .map(|steps| steps.into_iter().map(|rows| rows[row]).collect())
        .collect();
    let trace = trace.row(row);
    let tokens = shown.iter().map(|v| format!("{v:+.2} ")).collect();
    let position = (0..shown.len()).map(|t| t as f64).collect();
    let chosen = parse_units(a.units.as_deref().unwrap_or(""), trace.layers.len() - 1)?;
    let names = p.series.names();
    let inspection = Inspection::new(
        format!(
            "{}: the window before test row {origin} ({} scaled{})",
            a.run.display(),
            names[first],
            match &model.segment {
                Some(net) => format!(", one step per {}-step segment", net.segment),
                None => String::new(),
            }
        ),
        tokens,
        &trace,
        &chosen,
        &[
            ("the input's value", shown),
            ("the position in the window", position),
        ],
        flow,
        format!("the mean squared error of the {h}-step forecast (scaled)"),
    )?;
    write(&inspection, &a.out)?;
    println!("wrote {}", a.out.display());
    Ok(())
}
