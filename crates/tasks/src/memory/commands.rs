//! The memory task's commands: `inspect` (the shared HTML page of [`crate::inspect`] on one
//! test sequence) and `gradients`, how far back a trained model's loss reaches. It
//! traces the stack over test sequences (`Recurrent::trace`) and prints `‖∂L/∂h_t‖` of every
//! layer against the distance from each sequence's last step, where the adding and parity
//! problems' loss is read (the copy problem's is the mean over its steps).

use std::path::PathBuf;

use burn::module::Module;
use burn::prelude::Device;

use super::MemoryTask;
use super::data::batches;
use crate::task::load;
use crate::task_command::{Cmd, positive};

/// `rnnlab gradients`.
pub static GRADIENTS: Cmd<GradientsArgs> = Cmd::new(
    "gradients",
    "How far back a memory run's loss reaches: ‖∂L/∂h_t‖ per layer against the distance from the end",
    gradients,
);

/// The arguments of `gradients`.
#[derive(clap::Args, Debug)]
pub struct GradientsArgs {
    /// The run directory.
    pub run: PathBuf,
    /// Test sequences to average over (the first ones).
    #[arg(long, default_value_t = 64, value_parser = positive)]
    pub sequences: usize,
}

/// `‖∂L/∂h‖` per layer-direction at every distance `d` from each row's last step, averaged over
/// the rows that reach back that far: `[layer-direction][d]`.
pub fn flow(
    run: &crate::task::Loaded<MemoryTask>,
    sequences: usize,
    device: &Device,
) -> anyhow::Result<Vec<Vec<f64>>> {
    let data = run.data()?;
    let take = sequences.min(data.test.len());
    let autodiff = device.clone().autodiff();
    // The validation-mode model (`load`) on an autodiff device: no regulariser acts, and
    // gradients reach the trace's probes.
    let model = run.model.clone().to_device(&autodiff);
    let batch = batches(&data.test[..take], data.problem, take, &autodiff)
        .pop()
        .expect("one batch");
    let trace = model
        .rnn
        .trace(batch.inputs.clone(), Some(&batch.lengths), None);
    let out = model.head_of(trace.output.clone(), &trace.state);
    let grads = model.loss_of(out, &batch).backward();
    let longest = batch.lengths.iter().copied().max().unwrap_or(1);
    Ok(trace
        .hidden_grad_norms_by_row(&grads)
        .into_iter()
        .map(|steps| {
            let (mut sum, mut count) = (vec![0.0; longest], vec![0usize; longest]);
            for (row, &len) in batch.lengths.iter().enumerate() {
                for (t, norms) in steps.iter().enumerate().take(len) {
                    sum[len - 1 - t] += norms[row];
                    count[len - 1 - t] += 1;
                }
            }
            sum.iter()
                .zip(&count)
                .map(|(s, &n)| if n == 0 { 0.0 } else { s / n as f64 })
                .collect()
        })
        .collect())
}

fn gradients(a: GradientsArgs, device: &Device) -> anyhow::Result<()> {
    let run = load::<MemoryTask>(&a.run, device)?;
    let norms = flow(&run, a.sequences, device)?;
    let longest = norms.first().map_or(0, Vec::len);
    let directions = run.model.rnn.d_output() / run.config.model.d_hidden;
    println!(
        "‖∂L/∂h‖ against the distance from the last step ({} {} test sequences, {} cell):",
        a.sequences.min(run.config.data.n_test),
        run.config.data.problem.name(),
        format!("{:?}", run.config.model.cell).to_lowercase()
    );
    print!("{:>10}", "distance");
    for index in 0..norms.len() {
        let name = if directions == 2 {
            format!("layer {} {}", index / 2, ["fwd", "bwd"][index % 2])
        } else {
            format!("layer {index}")
        };
        print!("{name:>14}");
    }
    println!();
    // Distances 0, 1, 2, 4, 8, … and the farthest.
    let mut at: Vec<usize> = std::iter::once(0)
        .chain((0..).map(|k| 1usize << k).take_while(|&d| d < longest))
        .collect();
    if longest > 0 && !at.contains(&(longest - 1)) {
        at.push(longest - 1);
    }
    for d in at {
        print!("{d:>10}");
        for layer in &norms {
            print!("{:>14.3e}", layer[d]);
        }
        println!();
    }
    Ok(())
}

/// `rnnlab inspect` (memory).
pub static INSPECT: Cmd<InspectArgs> = Cmd::new(
    "inspect",
    "A memory run's network on a test sequence, as an HTML page: units, gates, gradient flow",
    inspect,
);

/// The arguments of `inspect` (memory).
#[derive(clap::Args, Debug)]
pub struct InspectArgs {
    /// The run directory.
    pub run: PathBuf,
    /// Which test sequence to run the model over (0 = the first).
    #[arg(long, default_value_t = 0)]
    pub sequence: usize,
    /// Units to show: `17` (top layer) or `1:17` (layer-direction:unit), comma-separated;
    /// default: the units following simple features of the input and the most active ones.
    #[arg(long)]
    pub units: Option<String>,
    /// Where to write the page.
    #[arg(long, default_value = "inspect.html")]
    pub out: PathBuf,
}

fn inspect(a: InspectArgs, device: &Device) -> anyhow::Result<()> {
    let run = load::<MemoryTask>(&a.run, device)?;
    let data = run.data()?;
    let Some(sequence) = data.test.get(a.sequence) else {
        anyhow::bail!(
            "--sequence {}: the run has test sequences 0..{}",
            a.sequence,
            data.test.len()
        );
    };
    let autodiff = device.clone().autodiff();
    let model = run.model.clone().to_device(&autodiff);
    let batch = batches(std::slice::from_ref(sequence), data.problem, 1, &autodiff)
        .pop()
        .expect("one batch");
    let trace = model.rnn.trace(batch.inputs.clone(), None, None);
    let out = model.head_of(trace.output.clone(), &trace.state);
    let flow = trace.hidden_grad_norms(&model.loss_of(out, &batch).backward());
    let width = super::data::d_input(data.problem);
    let steps: Vec<&[f32]> = sequence.inputs.chunks(width).collect();
    let (tokens, features) = describe(data.problem, &steps);
    let chosen =
        crate::inspect::parse_units(a.units.as_deref().unwrap_or(""), trace.layers.len() - 1)?;
    let inspection = crate::inspect::Inspection::new(
        format!(
            "{}: {} test sequence {}",
            a.run.display(),
            data.problem.name(),
            a.sequence
        ),
        tokens,
        &trace,
        &chosen,
        &features,
        flow,
        "the run's loss on this sequence".into(),
    )?;
    crate::inspect::write(&inspection, &a.out)?;
    println!("wrote {}", a.out.display());
    Ok(())
}

/// Each step as shown (adding: the number, `*`-marked; copy: `_` blank, the symbol, `>` the
/// cue; parity: the bit), and the features a unit may follow: the marker (adding), the steps
/// since the cue (copy), the parity so far (parity), and the position.
fn describe(
    problem: super::Problem,
    steps: &[&[f32]],
) -> (Vec<String>, Vec<crate::inspect::Feature>) {
    use super::Problem;
    let position: Vec<f64> = (0..steps.len()).map(|t| t as f64).collect();
    let symbol = |step: &[f32]| step.iter().position(|&v| v == 1.0).unwrap_or(0);
    match problem {
        Problem::Adding => {
            let tokens = steps
                .iter()
                .map(|s| {
                    if s[1] == 1.0 {
                        format!("*{:.2}*", s[0])
                    } else {
                        format!("{:.2}", s[0])
                    }
                })
                .collect();
            let marked = steps.iter().map(|s| f64::from(s[1])).collect();
            (
                tokens,
                vec![("the marker", marked), ("the position", position)],
            )
        }
        Problem::Copy => {
            let cue = super::data::COPY_ALPHABET + 1;
            let tokens = steps
                .iter()
                .map(|s| match symbol(s) {
                    0 => "_".to_string(),
                    c if c == cue => ">".to_string(),
                    c => c.to_string(),
                })
                .collect();
            let mut since = Vec::with_capacity(steps.len());
            let mut seen: Option<f64> = None;
            for s in steps {
                seen = match seen {
                    Some(n) => Some(n + 1.0),
                    None if symbol(s) == cue => Some(0.0),
                    None => None,
                };
                since.push(seen.map_or(-1.0, |n| n));
            }
            (
                tokens,
                vec![
                    ("the steps since the cue", since),
                    ("the position", position),
                ],
            )
        }
        Problem::Parity => {
            let mut parity = Vec::with_capacity(steps.len());
            let mut odd = false;
            let tokens = steps
                .iter()
                .map(|s| {
                    let bit = symbol(s);
                    odd ^= bit == 1;
                    parity.push(f64::from(u8::from(odd)));
                    bit.to_string()
                })
                .collect();
            (
                tokens,
                vec![("the parity so far", parity), ("the position", position)],
            )
        }
    }
}
