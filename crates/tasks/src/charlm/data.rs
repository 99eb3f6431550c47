//! The char-LM data: the corpus split into training and validation text, the tokenizer fitted
//! on the training text (the run's [`LmArtefacts`]), both splits as token ids, and the loaders.

use std::path::Path;

use anyhow::Context;
use burn::data::dataloader::DataLoaderBuilder;
use burn::data::dataset::{Dataset, DatasetError};
use burn::prelude::Device;
use rnnlab_data::lm::{ContiguousBatches, LmBatch, LmBatcher, LmItem, WindowDataset};
use rnnlab_data::tokenizer::{
    AnyTokenizer, BpeConfig, BpeTokenizer, CharTokenizer, Tokenizer, UnknownPolicy, WordTokenizer,
};
use serde::{Deserialize, Serialize};

use super::config::{CharLmExperiment, TokenizerKind};
use crate::training::Loaders;

/// What a char-LM run fits on its training text.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LmArtefacts {
    /// The tokenizer.
    pub tokenizer: AnyTokenizer,
}

/// The tokenizer of a run from before `artefacts.json` (`tokenizer.json`), if `dir` has one.
pub fn legacy(dir: &Path) -> Option<anyhow::Result<LmArtefacts>> {
    let path = dir.join("tokenizer.json");
    path.is_file().then(|| {
        Ok(LmArtefacts {
            tokenizer: AnyTokenizer::load(&path)?,
        })
    })
}

/// A char-LM run's data.
pub struct LmData {
    /// The tokenizer (fitted on the training text, or the run's).
    pub tokenizer: AnyTokenizer,
    /// Training tokens.
    pub train_ids: Vec<u32>,
    /// Validation tokens.
    pub valid_ids: Vec<u32>,
    /// Characters in the validation text (for nats per character).
    pub valid_chars: usize,
}

/// Reads the corpus; fits the tokenizer on its training part, or reads it with the run's.
pub fn read(e: &CharLmExperiment, run: Option<LmArtefacts>) -> anyhow::Result<LmData> {
    let text = rnnlab_data::io::read_text(Path::new(&e.data.path))?;
    let n = text.chars().count();
    let cut = (e.data.train_fraction * n as f64) as usize;
    let byte = text.char_indices().nth(cut).map_or(text.len(), |(i, _)| i);
    let (train, valid) = text.split_at(byte);
    let from_run = run.is_some();
    let tokenizer = match run {
        Some(run) => run.tokenizer,
        None => fit_tokenizer(e, train)?,
    };
    if let (AnyTokenizer::Char(t), UnknownPolicy::Error) = (&tokenizer, e.data.unknown) {
        let known: std::collections::HashSet<char> = t.chars().iter().copied().collect();
        let first_unknown = text.lines().enumerate().find_map(|(line, l)| {
            l.chars()
                .enumerate()
                .find(|(_, c)| !known.contains(c))
                .map(|(col, c)| (line, col, c))
        });
        if let Some((line, col, c)) = first_unknown {
            anyhow::bail!(
                "{}:{}:{}: character {c:?} is not in the tokenizer of {} (data.unknown = \"error\"; \
                 \"unk\" reads it as <unk>)",
                e.data.path,
                line + 1,
                col + 1,
                if from_run {
                    "the run"
                } else {
                    "the training text"
                }
            );
        }
    }
    Ok(LmData {
        train_ids: tokenizer.encode(train)?,
        valid_ids: tokenizer.encode(valid)?,
        valid_chars: valid.chars().count(),
        tokenizer,
    })
}

fn fit_tokenizer(e: &CharLmExperiment, train_text: &str) -> anyhow::Result<AnyTokenizer> {
    Ok(match e.data.tokenizer {
        TokenizerKind::Word => AnyTokenizer::Word(WordTokenizer::fit(
            [train_text],
            &e.data.words.word_config(1),
        )),
        TokenizerKind::Bpe => {
            let tmp = tempfile::NamedTempFile::new().context("cannot create a temporary file")?;
            std::fs::write(tmp.path(), train_text).context("cannot write a temporary file")?;
            let config = BpeConfig {
                vocab_size: e.data.bpe_vocab_size,
                ..BpeConfig::default()
            };
            AnyTokenizer::Bpe(
                BpeTokenizer::train(&[tmp.path()], &config)
                    .map_err(|err| anyhow::anyhow!("data.bpe_vocab_size: {err}"))?,
            )
        }
        TokenizerKind::Char => {
            AnyTokenizer::Char(CharTokenizer::fit(train_text, UnknownPolicy::Unk))
        }
    })
}

/// Training windows of a TBPTT run: item `i` is row `i % B` of contiguous batch `i / B`, so an
/// unshuffled loader with batch size `B` yields [`ContiguousBatches`] in order.
#[derive(Clone)]
struct Streams {
    batches: ContiguousBatches,
    batch_size: usize,
}

impl Dataset<LmItem> for Streams {
    fn get(&self, index: usize) -> Result<LmItem, DatasetError> {
        let (k, row) = (index / self.batch_size, index % self.batch_size);
        if k >= self.batches.len() {
            return Err(DatasetError::new(rnnlab_data::error::DataError::invalid(
                format!("stream item {index} out of range: there are {}", self.len()),
            )));
        }
        Ok(self.batches.items(k).swap_remove(row))
    }

    fn len(&self) -> usize {
        self.batches.len() * self.batch_size
    }
}

/// Shuffled training windows (or ordered TBPTT streams) and strided validation windows.
pub fn loaders(
    e: &CharLmExperiment,
    data: &LmData,
    device: &Device,
) -> anyhow::Result<Loaders<LmBatch>> {
    let d = &e.data;
    let valid = WindowDataset::new(data.valid_ids.clone(), d.seq_len)?.with_stride(d.valid_stride);
    let (train, steps) = if d.tbptt {
        let streams = Streams {
            batches: ContiguousBatches::new(data.train_ids.clone(), d.batch_size, d.seq_len)?,
            batch_size: d.batch_size,
        };
        let steps = streams.batches.len();
        let loader = DataLoaderBuilder::new(LmBatcher)
            .set_device(device.clone())
            .batch_size(d.batch_size)
            .build(streams);
        (loader, steps)
    } else {
        let windows =
            WindowDataset::new(data.train_ids.clone(), d.seq_len)?.with_stride(d.window_stride);
        let steps = windows.len().div_ceil(d.batch_size);
        let loader = DataLoaderBuilder::new(LmBatcher)
            .set_device(device.clone())
            .batch_size(d.batch_size)
            .shuffle(e.train.seed)
            .build(windows);
        (loader, steps)
    };
    Ok(Loaders {
        train,
        valid: DataLoaderBuilder::new(LmBatcher)
            .set_device(device.clone())
            .batch_size(d.batch_size)
            .build(valid),
        steps_per_epoch: steps,
    })
}
