//! The memory task's command: `gradients`, how far back a trained model's loss reaches. It
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
    // The validation-mode model on an autodiff device: no regulariser acts, and gradients
    // reach the trace's probes.
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
