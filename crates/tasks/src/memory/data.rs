//! The three problems' sequences, generated from `data.seed` (one random stream per split, so
//! every split is the same whatever the others' sizes), and their batches.
//!
//! - **adding** (Hochreiter & Schmidhuber 1997, as Le et al. 2015 run it): `T` steps of two
//!   inputs, a number drawn from `U(0, 1)` and a marker, 1 at one step of the first half and
//!   one of the second; the target is the sum of the two marked numbers. Always answering 1
//!   scores a mean squared error of `Var(U₁ + U₂) = 1/6 ≈ 0.167`.
//! - **copy** (Arjovsky, Shah & Bengio 2016): 10 symbols drawn from 8, `T − 1` blanks, a cue,
//!   10 blanks (`T + 20` steps, one-hot over blank, the 8 symbols and the cue); the target is
//!   blank for `T + 10` steps, then the 10 symbols. A model without memory scores
//!   `10 · ln 8 / (T + 20)` nats per step (blanks sure, each symbol a guess among 8).
//! - **parity** (xLSTM 2024, §4.1): a string of random bits, one-hot; the target is whether it
//!   holds an odd number of ones. Training and validation strings have lengths from `1..=T`,
//!   test strings from `1..=test_length`: past `T` the model must extrapolate. Chance is 50 %.

use burn::Tensor;
use burn::data::dataloader::DataLoaderBuilder;
use burn::data::dataloader::batcher::Batcher;
use burn::data::dataset::InMemDataset;
use burn::prelude::Device;
use burn::tensor::TensorData;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use serde::{Deserialize, Serialize};

use super::config::{MemoryExperiment, Problem};
use crate::training::Loaders;

/// Symbols to recall in the copy problem, and how many there are to draw from.
pub const COPY_SYMBOLS: usize = 10;
/// The copy problem's alphabet: blank (0), the symbols (1..=8), the cue (9).
pub const COPY_ALPHABET: usize = 8;

/// What a run keeps besides its weights: the problem it was trained on (checked against the
/// config when the run is evaluated or resumed).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct MemoryArtefacts {
    /// The problem.
    pub problem: Problem,
}

/// One sequence: `len` steps of `d_input` floats, and its targets (adding: the sum; parity:
/// the class, 0 or 1; copy: one class per step).
#[derive(Clone, Debug)]
pub struct Sequence {
    /// `[len, d_input]`, row-major.
    pub inputs: Vec<f32>,
    /// Steps.
    pub len: usize,
    /// The targets.
    pub targets: Vec<f32>,
}

/// The generated splits.
pub struct MemoryData {
    /// The problem.
    pub problem: Problem,
    /// Training sequences.
    pub train: Vec<Sequence>,
    /// Validation sequences.
    pub valid: Vec<Sequence>,
    /// Test sequences.
    pub test: Vec<Sequence>,
}

/// Input features per step.
pub fn d_input(problem: Problem) -> usize {
    match problem {
        Problem::Adding | Problem::Parity => 2,
        Problem::Copy => COPY_ALPHABET + 2,
    }
}

/// Outputs of the model's head: the sum, the copy alphabet's blank and symbols, or the two
/// parities.
pub fn d_output(problem: Problem) -> usize {
    match problem {
        Problem::Adding => 1,
        Problem::Copy => COPY_ALPHABET + 1,
        Problem::Parity => 2,
    }
}

/// Generates the three splits of `config`.
pub fn generate(config: &MemoryExperiment) -> MemoryData {
    let d = &config.data;
    let split = |stream: u64, n: usize, max_len: usize| -> Vec<Sequence> {
        let mut rng = StdRng::seed_from_u64(d.seed ^ stream.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        (0..n)
            .map(|_| sequence(d.problem, d.length, max_len, &mut rng))
            .collect()
    };
    MemoryData {
        problem: d.problem,
        train: split(1, d.n_train, d.length),
        valid: split(2, d.n_valid, d.length),
        test: split(3, d.n_test, config.test_length()),
    }
}

/// One sequence of `problem` (`max_len`: the longest parity string).
fn sequence(problem: Problem, length: usize, max_len: usize, rng: &mut StdRng) -> Sequence {
    match problem {
        Problem::Adding => {
            let half = length / 2;
            let marks = [rng.random_range(0..half), rng.random_range(half..length)];
            let mut inputs = Vec::with_capacity(2 * length);
            let mut sum = 0.0;
            for t in 0..length {
                let value: f32 = rng.random();
                let marked = marks.contains(&t);
                if marked {
                    sum += value;
                }
                inputs.extend([value, f32::from(u8::from(marked))]);
            }
            Sequence {
                inputs,
                len: length,
                targets: vec![sum],
            }
        }
        Problem::Copy => {
            let len = length + 2 * COPY_SYMBOLS;
            let symbols: Vec<usize> = (0..COPY_SYMBOLS)
                .map(|_| rng.random_range(1..=COPY_ALPHABET))
                .collect();
            let width = COPY_ALPHABET + 2;
            let mut inputs = vec![0.0; len * width];
            let mut targets = vec![0.0; len];
            for t in 0..len {
                let symbol = if t < COPY_SYMBOLS {
                    symbols[t]
                } else if t == COPY_SYMBOLS + length - 1 {
                    COPY_ALPHABET + 1 // the cue
                } else {
                    0
                };
                inputs[t * width + symbol] = 1.0;
            }
            for (k, &s) in symbols.iter().enumerate() {
                targets[length + COPY_SYMBOLS + k] = s as f32;
            }
            Sequence {
                inputs,
                len,
                targets,
            }
        }
        Problem::Parity => {
            let len = rng.random_range(1..=max_len);
            let mut ones = 0;
            let mut inputs = Vec::with_capacity(2 * len);
            for _ in 0..len {
                let bit = rng.random_range(0..2usize);
                ones += bit;
                inputs.extend(if bit == 1 { [0.0, 1.0] } else { [1.0, 0.0] });
            }
            Sequence {
                inputs,
                len,
                targets: vec![(ones % 2) as f32],
            }
        }
    }
}

/// A batch: inputs padded to the longest sequence, each row's length, the targets.
#[derive(Clone, Debug)]
pub struct MemoryBatch {
    /// `[B, T, d_input]`, zero past each row's length.
    pub inputs: Tensor<3>,
    /// Each row's length.
    pub lengths: Vec<usize>,
    /// `[B, n]`: adding the sum (`n = 1`), parity the class (`n = 1`), copy a class per step.
    pub targets: Tensor<2>,
}

/// Pads and stacks sequences of one problem.
#[derive(Clone, Debug)]
pub struct MemoryBatcher {
    /// Input features per step.
    pub d_input: usize,
}

impl Batcher<Sequence, MemoryBatch> for MemoryBatcher {
    fn batch(&self, items: Vec<Sequence>, device: &Device) -> MemoryBatch {
        let batch = items.len();
        let time = items.iter().map(|s| s.len).max().unwrap_or(1);
        let n = items.first().map_or(1, |s| s.targets.len());
        let mut inputs = vec![0.0f32; batch * time * self.d_input];
        let mut targets = Vec::with_capacity(batch * n);
        for (b, s) in items.iter().enumerate() {
            inputs[b * time * self.d_input..][..s.inputs.len()].copy_from_slice(&s.inputs);
            targets.extend_from_slice(&s.targets);
        }
        MemoryBatch {
            inputs: Tensor::from_data(TensorData::new(inputs, [batch, time, self.d_input]), device),
            lengths: items.iter().map(|s| s.len).collect(),
            targets: Tensor::from_data(TensorData::new(targets, [batch, n]), device),
        }
    }
}

/// Training (shuffled with `train.seed` every epoch) and validation batches on `device`.
pub fn loaders(
    config: &MemoryExperiment,
    data: &MemoryData,
    device: &Device,
) -> Loaders<MemoryBatch> {
    let batcher = MemoryBatcher {
        d_input: d_input(data.problem),
    };
    let size = config.data.batch_size;
    Loaders {
        train: DataLoaderBuilder::new(batcher.clone())
            .set_device(device.clone())
            .batch_size(size)
            .shuffle(config.train.seed)
            .build(InMemDataset::new(data.train.clone())),
        valid: DataLoaderBuilder::new(batcher)
            .set_device(device.clone())
            .batch_size(size)
            .build(InMemDataset::new(data.valid.clone())),
        steps_per_epoch: data.train.len().div_ceil(size),
    }
}

/// The sequences `items` in batches of `size` on `device`, in order (for scoring).
pub fn batches(
    items: &[Sequence],
    problem: Problem,
    size: usize,
    device: &Device,
) -> Vec<MemoryBatch> {
    let batcher = MemoryBatcher {
        d_input: d_input(problem),
    };
    items
        .chunks(size)
        .map(|chunk| batcher.batch(chunk.to_vec(), device))
        .collect()
}
