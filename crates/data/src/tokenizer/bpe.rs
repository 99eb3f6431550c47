//! Byte-level BPE trained on local files with the `tokenizers` crate (pure-Rust build).

use std::path::Path;

use serde::{Deserialize, Serialize};
use tokenizers::decoders::DecoderWrapper;
use tokenizers::models::ModelWrapper;
use tokenizers::models::TrainerWrapper;
use tokenizers::models::bpe::{BPE, BpeTrainerBuilder};
use tokenizers::normalizers::NormalizerWrapper;
use tokenizers::pre_tokenizers::PreTokenizerWrapper;
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::processors::PostProcessorWrapper;
use tokenizers::{AddedToken, Tokenizer as HfTokenizer, TokenizerBuilder};

use super::Tokenizer;
use crate::error::DataError;

/// Training options of a [`BpeTokenizer`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BpeConfig {
    /// Target vocabulary size (the 256 byte symbols included).
    pub vocab_size: usize,
    /// Merges seen fewer times are not learnt.
    pub min_frequency: u64,
}

impl Default for BpeConfig {
    fn default() -> Self {
        Self {
            vocab_size: 1024,
            min_frequency: 2,
        }
    }
}

/// Byte-level BPE (GPT-2 style): any text encodes, and `decode(encode(x)) == x`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(try_from = "BpeRepr", into = "BpeRepr")]
pub struct BpeTokenizer {
    inner: HfTokenizer,
}

#[derive(Serialize, Deserialize)]
struct BpeRepr {
    /// The `tokenizers` crate's own JSON.
    tokenizer: String,
}

impl TryFrom<BpeRepr> for BpeTokenizer {
    type Error = String;

    fn try_from(r: BpeRepr) -> Result<Self, String> {
        r.tokenizer
            .parse::<HfTokenizer>()
            .map(|inner| Self { inner })
            .map_err(|e| e.to_string())
    }
}

impl From<BpeTokenizer> for BpeRepr {
    fn from(t: BpeTokenizer) -> Self {
        BpeRepr {
            tokenizer: t
                .inner
                .to_string(false)
                .expect("a trained tokenizer serialises"),
        }
    }
}

impl BpeTokenizer {
    /// Learns merges from `files` (the training split only).
    pub fn train(files: &[&Path], config: &BpeConfig) -> Result<Self, DataError> {
        for file in files {
            crate::io::read_text(file)?;
        }
        if config.vocab_size <= 256 {
            return Err(DataError::invalid(format!(
                "bpe vocab_size must be above the 256 byte symbols, got {}",
                config.vocab_size
            )));
        }
        let mut trainer: TrainerWrapper = BpeTrainerBuilder::new()
            .show_progress(false)
            .vocab_size(config.vocab_size)
            .min_frequency(config.min_frequency)
            .initial_alphabet(ByteLevel::alphabet().into_iter().collect())
            .special_tokens(Vec::<AddedToken>::new())
            .build()
            .into();
        let mut tokenizer = TokenizerBuilder::<
            ModelWrapper,
            NormalizerWrapper,
            PreTokenizerWrapper,
            PostProcessorWrapper,
            DecoderWrapper,
        >::new()
        .with_model(BPE::default().into())
        .with_pre_tokenizer(Some(ByteLevel::new(false, true, true).into()))
        .with_decoder(Some(ByteLevel::default().into()))
        .build()
        .map_err(|e| DataError::invalid(format!("cannot build the BPE tokenizer: {e}")))?;
        let names = files.iter().map(|f| f.display().to_string()).collect();
        tokenizer
            .train_from_files(&mut trainer, names)
            .map_err(|e| DataError::invalid(format!("BPE training failed: {e}")))?;
        Ok(Self {
            inner: tokenizer.into(),
        })
    }

    /// Checks that a loaded tokenizer encodes.
    pub(crate) fn check(&self) -> Result<(), String> {
        self.inner
            .encode("ok", false)
            .map(|_| ())
            .map_err(|e| format!("broken BPE tokenizer: {e}"))
    }
}

impl Tokenizer for BpeTokenizer {
    fn encode(&self, text: &str) -> Result<Vec<u32>, DataError> {
        self.inner
            .encode(text, false)
            .map(|e| e.get_ids().to_vec())
            .map_err(|e| DataError::invalid(format!("BPE encoding failed: {e}")))
    }

    fn decode(&self, ids: &[u32]) -> String {
        self.inner.decode(ids, false).unwrap_or_default()
    }

    fn vocab_size(&self) -> usize {
        self.inner.get_vocab_size(true)
    }
}
