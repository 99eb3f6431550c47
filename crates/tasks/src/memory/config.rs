//! The memory experiment file: `[data]` (which problem, how long, how many sequences),
//! `[model]`, `[train]`, their defaults and validation.

use anyhow::bail;
use rnnlab_models::CellType;
use serde::{Deserialize, Serialize};

use crate::config::StackOptions;
use crate::task::TaskConfig;
use crate::training::TrainSection;

/// Everything a memory run is built from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemoryExperiment {
    /// Always `memory`.
    pub task: String,
    /// Run name: runs go to `runs/<name>/<run-id>/`.
    pub name: String,
    /// The problem and its generated sequences.
    pub data: DataSection,
    /// The network.
    pub model: ModelSection,
    /// Optimisation.
    pub train: TrainSection,
}

/// The synthetic problems (see [`super::data`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Problem {
    /// The adding problem (Hochreiter & Schmidhuber 1997): the sum of the two marked numbers.
    Adding,
    /// Copy memory (Arjovsky et al. 2016): recall 10 symbols after a delay.
    Copy,
    /// Parity of a bit string, trained on short strings and tested on longer ones.
    Parity,
}

impl Problem {
    /// Its name in experiment files.
    pub fn name(self) -> &'static str {
        match self {
            Problem::Adding => "adding",
            Problem::Copy => "copy",
            Problem::Parity => "parity",
        }
    }
}

/// `[data]`: everything is generated from `seed`, nothing is read.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataSection {
    /// `adding`, `copy` or `parity`.
    pub problem: Problem,
    /// `T`. Adding: steps per sequence (the markers one in each half). Copy: the delay, blank
    /// steps between the 10 symbols and the recall cue (sequences are `T + 20` long). Parity:
    /// the longest training (and validation) string; lengths are drawn from `1..=T`.
    pub length: usize,
    /// Parity only: the longest test string (lengths drawn from `1..=test_length`; at least
    /// `length`); 0 = `length`. The xLSTM paper tests strings up to 256 after training up to 40.
    pub test_length: usize,
    /// Training sequences (drawn once; every epoch shuffles them).
    pub n_train: usize,
    /// Validation sequences.
    pub n_valid: usize,
    /// Test sequences.
    pub n_test: usize,
    /// Seed of the generated sequences, apart from `train.seed` so that a sweep over seeds
    /// keeps the same test set.
    pub seed: u64,
    /// Sequences per batch.
    pub batch_size: usize,
}

/// `[model]`. (Without `deny_unknown_fields`, which serde's `flatten` does not support: the
/// layered config already rejects every key the defaults lack, naming it and its line.)
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelSection {
    /// `rnn`, `lstm`, `gru`, `slstm` (xLSTM's scalar-memory LSTM), or the min cells `mingru`,
    /// `minlstm` (gates from the input only).
    pub cell: CellType,
    /// Hidden size.
    pub d_hidden: usize,
    /// Stacked layers.
    pub n_layers: usize,
    /// Dropout between layers.
    pub dropout: f64,
    /// The stack's normalisation and regularisers (`crate::config::StackOptions`).
    #[serde(flatten)]
    pub stack: StackOptions,
}

impl Default for MemoryExperiment {
    fn default() -> Self {
        Self {
            task: "memory".into(),
            name: "memory".into(),
            data: DataSection {
                problem: Problem::Adding,
                length: 100,
                test_length: 0,
                n_train: 10_000,
                n_valid: 1_000,
                n_test: 1_000,
                seed: 0,
                batch_size: 50,
            },
            model: ModelSection {
                cell: CellType::Lstm,
                d_hidden: 64,
                n_layers: 1,
                dropout: 0.0,
                stack: StackOptions::default(),
            },
            // Adam at 1e-2 with clipping at 1: at 1e-3 a 64-unit LSTM was still at the
            // baseline after 20 epochs of the adding problem at T = 100; at 1e-2 it reached an
            // MSE of 0.0003 in 10 (RESULTS.md).
            train: TrainSection {
                grad_clip: 1.0,
                early_stopping: 0,
                keep_best: true,
                ..TrainSection::new(10, 1e-2)
            },
        }
    }
}

impl TaskConfig for MemoryExperiment {
    fn train(&self) -> &TrainSection {
        &self.train
    }

    fn validate(&self) -> anyhow::Result<()> {
        let d = &self.data;
        crate::config::require_width(&[("model.d_hidden", self.model.d_hidden)])?;
        crate::config::require_nonzero(&[
            ("data.length", d.length),
            ("data.n_train", d.n_train),
            ("data.n_valid", d.n_valid),
            ("data.n_test", d.n_test),
            ("data.batch_size", d.batch_size),
            ("model.d_hidden", self.model.d_hidden),
            ("model.n_layers", self.model.n_layers),
        ])?;
        if d.problem == Problem::Adding && d.length < 2 {
            bail!(
                "data.length = {}: the adding problem needs at least 2 steps (a marked number \
                 in each half)",
                d.length
            );
        }
        if d.test_length != 0 {
            if d.problem != Problem::Parity {
                bail!(
                    "data.test_length = {}: only the parity problem tests other lengths (leave \
                     it 0)",
                    d.test_length
                );
            }
            if d.test_length < d.length {
                bail!(
                    "data.test_length = {}: must be 0 or at least data.length = {}",
                    d.test_length,
                    d.length
                );
            }
        }
        for (key, value) in [
            ("data.length", d.length),
            ("data.test_length", d.test_length),
        ] {
            if value > MAX_LENGTH {
                bail!("{key} = {value}: at most {MAX_LENGTH} steps");
            }
        }
        // What the generated splits hold, in floats: a bound on what a typo can ask for.
        let longest = self.test_length().max(d.length) + 2 * super::data::COPY_SYMBOLS;
        let floats = (d.n_train + d.n_valid + d.n_test)
            .saturating_mul(longest)
            .saturating_mul(super::data::d_input(d.problem));
        if floats > MAX_FLOATS {
            bail!(
                "data.n_train + data.n_valid + data.n_test = {}: with data.length = {} the \
                 sequences would take {:.1} GiB; at most {} GiB",
                d.n_train + d.n_valid + d.n_test,
                d.length,
                floats as f64 * 4.0 / f64::from(1u32 << 30),
                (MAX_FLOATS * 4) >> 30
            );
        }
        crate::config::require_probabilities(&[("model.dropout", self.model.dropout)])?;
        self.model.stack.validate(self.model.cell)?;
        Ok(())
    }
}

/// The longest sequence a memory run generates (a bound on what a typo can ask for).
const MAX_LENGTH: usize = 100_000;

/// The most floats the generated splits may hold (2 GiB).
const MAX_FLOATS: usize = 1 << 29;

impl MemoryExperiment {
    /// The longest test sequence: the parity problem's `test_length` (or `length`), else each
    /// problem's own length.
    pub fn test_length(&self) -> usize {
        if self.data.test_length == 0 {
            self.data.length
        } else {
            self.data.test_length
        }
    }
}
