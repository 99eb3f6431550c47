//! Language-model streams: a token sequence split into train/validation, served as `[B, T]`
//! input/target pairs (target = input shifted by one), in two modes:
//! - [`WindowDataset`]: every window of `seq_len + 1` tokens, for random sampling through
//!   burn's `DataLoaderBuilder::shuffle` (nanoGPT style);
//! - [`ContiguousBatches`]: `B` parallel streams for truncated BPTT, where row `b` of a batch
//!   continues exactly where row `b` of the previous batch stopped, so the hidden state can be
//!   carried across batches (char-rnn style).

use std::sync::Arc;

use burn::Tensor;
use burn::data::dataloader::batcher::Batcher;
use burn::data::dataset::{Dataset, DatasetError};
use burn::prelude::Device;
use burn::tensor::{Int, TensorData};

use crate::error::DataError;

/// One window: `seq_len` inputs and the `seq_len` targets that follow each.
#[derive(Clone, Debug, PartialEq)]
pub struct LmItem {
    /// Tokens `t .. t + seq_len`.
    pub input: Vec<u32>,
    /// Tokens `t + 1 .. t + seq_len + 1`.
    pub target: Vec<u32>,
}

/// The windows of a token sequence: every one (`N − seq_len`), or every `stride`-th.
#[derive(Clone, Debug)]
pub struct WindowDataset {
    tokens: Arc<Vec<u32>>,
    seq_len: usize,
    stride: usize,
}

impl WindowDataset {
    /// Windows of `seq_len` over `tokens`; an error when the sequence is too short.
    pub fn new(tokens: Vec<u32>, seq_len: usize) -> Result<Self, DataError> {
        if seq_len == 0 || tokens.len() <= seq_len {
            return Err(DataError::invalid(format!(
                "seq_len {seq_len} needs more than {seq_len} tokens, the sequence has {}",
                tokens.len()
            )));
        }
        Ok(Self {
            tokens: Arc::new(tokens),
            seq_len,
            stride: 1,
        })
    }

    /// Only the windows starting at multiples of `stride` (an epoch of `≈ N / stride` windows;
    /// shuffled, they still cover the text evenly).
    pub fn with_stride(mut self, stride: usize) -> Self {
        self.stride = stride.max(1);
        self
    }
}

impl Dataset<LmItem> for WindowDataset {
    fn get(&self, index: usize) -> Result<LmItem, DatasetError> {
        if index >= self.len() {
            return Err(DatasetError::new(DataError::invalid(format!(
                "window {index} out of range: there are {}",
                self.len()
            ))));
        }
        let start = index * self.stride;
        Ok(LmItem {
            input: self.tokens[start..start + self.seq_len].to_vec(),
            target: self.tokens[start + 1..start + self.seq_len + 1].to_vec(),
        })
    }

    fn len(&self) -> usize {
        (self.tokens.len() - self.seq_len - 1) / self.stride + 1
    }
}

/// A batch for a language model.
#[derive(Clone, Debug)]
pub struct LmBatch {
    /// Token ids `[B, T]`.
    pub input: Tensor<2, Int>,
    /// Next-token ids `[B, T]`.
    pub target: Tensor<2, Int>,
}

/// Stacks [`LmItem`]s of equal length into an [`LmBatch`].
#[derive(Clone, Debug, Default)]
pub struct LmBatcher;

impl Batcher<LmItem, LmBatch> for LmBatcher {
    fn batch(&self, items: Vec<LmItem>, device: &Device) -> LmBatch {
        let (b, t) = (items.len(), items.first().map_or(0, |i| i.input.len()));
        let flat = |f: fn(&LmItem) -> &Vec<u32>| -> Vec<i64> {
            items
                .iter()
                .flat_map(|i| f(i).iter().map(|&v| v as i64))
                .collect()
        };
        let tensor = |v: Vec<i64>| Tensor::from_data(TensorData::new(v, [b, t]), device);
        LmBatch {
            input: tensor(flat(|i| &i.input)),
            target: tensor(flat(|i| &i.target)),
        }
    }
}

/// `B` contiguous streams over a token sequence for truncated BPTT.
///
/// The sequence is cut into `B` rows of `L = ⌊(N − 1) / B⌋` tokens (row `b` starts at
/// `b · L`); batch `k` holds columns `k·T .. (k+1)·T` of every row (the last batch may be
/// shorter), targets shifted by one.
#[derive(Clone, Debug)]
pub struct ContiguousBatches {
    tokens: Arc<Vec<u32>>,
    batch_size: usize,
    seq_len: usize,
    row_len: usize,
}

impl ContiguousBatches {
    /// Streams of `batch_size` rows, `seq_len` steps per batch.
    pub fn new(tokens: Vec<u32>, batch_size: usize, seq_len: usize) -> Result<Self, DataError> {
        if batch_size == 0 || seq_len == 0 {
            return Err(DataError::invalid(
                "batch_size and seq_len must be at least 1",
            ));
        }
        let row_len = tokens.len().saturating_sub(1) / batch_size;
        if row_len < 1 {
            return Err(DataError::invalid(format!(
                "{} tokens cannot fill {batch_size} streams",
                tokens.len()
            )));
        }
        Ok(Self {
            tokens: Arc::new(tokens),
            batch_size,
            seq_len,
            row_len,
        })
    }

    /// Number of batches in one pass.
    pub fn len(&self) -> usize {
        self.row_len.div_ceil(self.seq_len)
    }

    /// Whether there is no batch (never, once constructed).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Batch `k` as items (one per row).
    pub fn items(&self, k: usize) -> Vec<LmItem> {
        let start = k * self.seq_len;
        let len = self.seq_len.min(self.row_len.saturating_sub(start));
        (0..self.batch_size)
            .map(|b| {
                let at = b * self.row_len + start;
                LmItem {
                    input: self.tokens[at..at + len].to_vec(),
                    target: self.tokens[at + 1..at + len + 1].to_vec(),
                }
            })
            .collect()
    }

    /// Iterates over the batches of one pass, in order, on `device`.
    pub fn iter<'a>(&'a self, device: &'a Device) -> impl Iterator<Item = LmBatch> + 'a {
        (0..self.len()).map(move |k| LmBatcher.batch(self.items(k), device))
    }
}

#[cfg(test)]
mod tests {
    use burn::data::dataloader::DataLoaderBuilder;

    use super::*;
    use crate::tokenizer::{CharTokenizer, Tokenizer, UnknownPolicy};

    fn shakespeare_ids() -> Vec<u32> {
        let text =
            std::fs::read_to_string(crate::shipped_datasets_dir().join("text/tinyshakespeare.txt"))
                .unwrap();
        CharTokenizer::fit(&text, UnknownPolicy::Error)
            .encode(&text)
            .unwrap()
    }

    #[test]
    fn contiguous_streams_continue_across_batches() {
        let tokens: Vec<u32> = (0..103).collect();
        let streams = ContiguousBatches::new(tokens.clone(), 4, 7).unwrap();
        // 4 rows of 25 tokens, 4 batches (7, 7, 7, 4 steps).
        assert_eq!(streams.len(), 4);
        for b in 0..4 {
            let row: Vec<u32> = (0..streams.len())
                .flat_map(|k| streams.items(k)[b].input.clone())
                .collect();
            assert_eq!(
                row,
                tokens[b * 25..(b + 1) * 25],
                "row {b} is one contiguous stretch"
            );
            for k in 0..streams.len() {
                let item = &streams.items(k)[b];
                assert_eq!(
                    item.target[..],
                    tokens[b * 25 + k * 7 + 1..b * 25 + k * 7 + 1 + item.input.len()]
                );
            }
        }
        let device = Device::flex();
        let batches: Vec<LmBatch> = streams.iter(&device).collect();
        assert_eq!(batches[3].input.dims(), [4, 4]);
        let first: Vec<i64> = batches[1]
            .input
            .clone()
            .into_data()
            .convert::<i64>()
            .try_to_vec()
            .unwrap();
        assert_eq!(first[..7], [7, 8, 9, 10, 11, 12, 13]);
    }

    #[test]
    fn windows_shuffle_through_burn_dataloader_reproducibly() {
        let ids = shakespeare_ids();
        let data = WindowDataset::new(ids.clone(), 64).unwrap();
        assert_eq!(data.len(), ids.len() - 64);
        let item = data.get(10).unwrap();
        assert_eq!(item.input[1..], item.target[..63]);
        let run = || {
            let loader = DataLoaderBuilder::new(LmBatcher)
                .set_device(Device::flex())
                .batch_size(8)
                .shuffle(7)
                .build(WindowDataset::new(ids.clone(), 64).unwrap());
            let batch = loader.iter().next().unwrap();
            batch
                .unwrap()
                .input
                .into_data()
                .convert::<i64>()
                .try_to_vec::<i64>()
                .unwrap()
        };
        let (a, b) = (run(), run());
        assert_eq!(a.len(), 8 * 64);
        assert_eq!(a, b, "the same seed gives the same batches");
        assert!(WindowDataset::new(vec![1, 2, 3], 3).is_err());
        assert!(data.get(data.len()).is_err());
        let strided = WindowDataset::new((0..100).collect(), 10)
            .unwrap()
            .with_stride(30);
        assert_eq!(strided.len(), 3); // starts 0, 30, 60 (90 would need token 100)
        assert_eq!(strided.get(2).unwrap().target[9], 70);
    }
}
