//! Scoring a memory model on the test sequences, beside the problem's trivial baseline: the
//! adding problem's mean squared error against always answering 1; the copy problem's
//! cross-entropy per step against the memoryless `10 · ln 8 / (T + 20)` and its recall
//! accuracy against a guess among 8; the parity problem's accuracy on strings as long as the
//! training ones and on longer ones against the majority class.

use std::fmt;

use burn::prelude::Device;
use burn::tensor::activation::log_softmax;

use super::config::{MemoryExperiment, Problem};
use super::data::{COPY_ALPHABET, COPY_SYMBOLS, MemoryData, batches};
use super::model::MemoryModel;
use crate::metrics::read_floats;
use crate::run::Results;
use crate::task::Report;

/// What scoring found, with the text `train` and `eval` print.
pub struct MemoryReport {
    /// The values under their `results.json` names.
    pub results: Results,
    /// The printed report.
    text: String,
}

impl Report for MemoryReport {
    fn results(&self) -> Results {
        self.results.clone()
    }
}

impl fmt::Display for MemoryReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// Scores `model` on `data`'s test sequences.
pub fn score(
    config: &MemoryExperiment,
    data: &MemoryData,
    model: &MemoryModel,
    device: &Device,
) -> anyhow::Result<MemoryReport> {
    let d = &config.data;
    let mut results = Results::new();
    let mut text = format!(
        "test split: {} {} sequences (data.length = {}{}, generated from data.seed = {})\n",
        data.test.len(),
        d.problem.name(),
        d.length,
        if d.problem == Problem::Parity {
            format!(", test strings up to {}", config.test_length())
        } else {
            String::new()
        },
        d.seed
    );
    // Per sequence: (prediction values, target values, length).
    let mut outputs = Vec::new();
    for batch in batches(&data.test, d.problem, d.batch_size, device) {
        let out = model.forward(&batch);
        let scores = match d.problem {
            Problem::Adding => out,
            // Log-probabilities per class.
            Problem::Copy | Problem::Parity => log_softmax(out, 2),
        };
        let [b, t, c] = scores.dims();
        let values = read_floats::<3>(scores)?;
        let targets = read_floats::<2>(batch.targets.clone())?;
        let n = targets.len() / b;
        for row in 0..b {
            outputs.push((
                values[row * t * c..][..t * c].to_vec(),
                targets[row * n..][..n].to_vec(),
                batch.lengths[row],
                c,
            ));
        }
    }
    match d.problem {
        Problem::Adding => {
            let mse = |f: &dyn Fn(&[f32]) -> f32| {
                outputs
                    .iter()
                    .map(|(p, y, _, _)| f64::from(f(p) - y[0]).powi(2))
                    .sum::<f64>()
                    / outputs.len() as f64
            };
            let model_mse = mse(&|p| p[0]);
            let baseline = mse(&|_| 1.0);
            results.insert("test_mse".into(), model_mse);
            results.insert("baseline_mse".into(), baseline);
            text += &format!(
                "{:<40}{:>10}\n{:<40}{:>10.4}\n{:<40}{:>10.4}\n",
                "", "MSE", "model", model_mse, "always 1 (baseline; 1/6 in expectation)", baseline
            );
        }
        Problem::Copy => {
            let (mut xent, mut steps, mut right, mut recalls) = (0.0f64, 0usize, 0usize, 0usize);
            for (p, y, len, c) in &outputs {
                for (t, &target) in y.iter().enumerate().take(*len) {
                    let row = &p[t * c..][..*c];
                    let class = target as usize;
                    xent -= f64::from(row[class]);
                    steps += 1;
                    if t + COPY_SYMBOLS >= *len {
                        recalls += 1;
                        let best = (0..*c)
                            .max_by(|&a, &b| row[a].total_cmp(&row[b]))
                            .unwrap_or(0);
                        right += usize::from(best == class);
                    }
                }
            }
            let xent = xent / steps.max(1) as f64;
            let baseline = COPY_SYMBOLS as f64 * (COPY_ALPHABET as f64).ln()
                / (d.length + 2 * COPY_SYMBOLS) as f64;
            let accuracy = right as f64 / recalls.max(1) as f64;
            let guess = 1.0 / COPY_ALPHABET as f64;
            results.insert("test_xent".into(), xent);
            results.insert("baseline_xent".into(), baseline);
            results.insert("test_recall_accuracy".into(), accuracy);
            results.insert("baseline_recall_accuracy".into(), guess);
            text += &format!(
                "{:<44}{:>16}{:>18}\n{:<44}{:>16.5}{:>18.4}\n{:<44}{:>16.5}{:>18.4}\n",
                "",
                "nats per step",
                "recall accuracy",
                "model",
                xent,
                accuracy,
                "memoryless: 10 ln 8 / (T + 20) (baseline)",
                baseline,
                guess
            );
        }
        Problem::Parity => {
            // Accuracy on strings as long as the training ones (1..=T) and on longer ones.
            let (mut within, mut beyond) = ((0usize, 0usize), (0usize, 0usize));
            let mut ones = 0usize;
            for (p, y, len, _) in &outputs {
                let class = y[0] as usize;
                ones += class;
                let guess = usize::from(p[1] > p[0]);
                let bucket = if *len <= d.length {
                    &mut within
                } else {
                    &mut beyond
                };
                bucket.0 += usize::from(guess == class);
                bucket.1 += 1;
            }
            let all = (within.0 + beyond.0) as f64 / outputs.len() as f64;
            let majority = ones.max(outputs.len() - ones) as f64 / outputs.len() as f64;
            results.insert("test_accuracy".into(), all);
            results.insert("baseline_accuracy".into(), majority);
            text += &format!(
                "{:<32}{:>10}{:>16}{:>16}\n",
                "",
                "accuracy",
                format!("len <= {}", d.length),
                format!("len > {}", d.length)
            );
            let share = |(right, n): (usize, usize)| {
                if n == 0 {
                    "-".to_string()
                } else {
                    format!("{:.4}", right as f64 / n as f64)
                }
            };
            if within.1 > 0 {
                results.insert(
                    "test_accuracy_within".into(),
                    within.0 as f64 / within.1 as f64,
                );
            }
            if beyond.1 > 0 {
                results.insert(
                    "test_accuracy_beyond".into(),
                    beyond.0 as f64 / beyond.1 as f64,
                );
            }
            text += &format!(
                "{:<32}{:>10.4}{:>16}{:>16}\n{:<32}{:>10.4}\n",
                "model",
                all,
                share(within),
                share(beyond),
                "majority class (baseline)",
                majority
            );
        }
    }
    Ok(MemoryReport { results, text })
}
