//! Tokenizers: one trait, three kinds (characters, words, byte-level BPE), each saved to a JSON
//! file next to a trained model and loaded back for generation or prediction.

mod bpe;
mod char;
mod word;

use std::path::Path;

use serde::{Deserialize, Serialize};

pub use bpe::{BpeConfig, BpeTokenizer};
pub use char::CharTokenizer;
pub use word::{WordConfig, WordTokenizer};

use crate::error::DataError;
use crate::io::{read_text, write_atomic};

/// What to do with a symbol that is not in the vocabulary.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UnknownPolicy {
    /// Encoding fails, naming the symbol and where it is.
    #[default]
    Error,
    /// The symbol becomes the `<unk>` token.
    Unk,
}

/// Text to token ids and back.
pub trait Tokenizer {
    /// Token ids of `text`.
    fn encode(&self, text: &str) -> Result<Vec<u32>, DataError>;
    /// The text of `ids` (unknown ids decode to nothing).
    fn decode(&self, ids: &[u32]) -> String;
    /// Number of distinct ids (`max id + 1`).
    fn vocab_size(&self) -> usize;
}

/// Any of the tokenizers, as saved to and loaded from a file (`{"kind": "char", ...}`).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
#[allow(clippy::large_enum_variant)] // one tokenizer per run: its size does not matter
pub enum AnyTokenizer {
    /// Characters.
    Char(CharTokenizer),
    /// Words.
    Word(WordTokenizer),
    /// Byte-level BPE.
    Bpe(BpeTokenizer),
}

impl AnyTokenizer {
    fn inner(&self) -> &dyn Tokenizer {
        match self {
            AnyTokenizer::Char(t) => t,
            AnyTokenizer::Word(t) => t,
            AnyTokenizer::Bpe(t) => t,
        }
    }

    /// Writes the tokenizer as JSON, atomically (temporary file, then rename).
    pub fn save(&self, path: &Path) -> Result<(), DataError> {
        let json = serde_json::to_string(self).map_err(|e| {
            DataError::in_file(path, format!("cannot serialise the tokenizer: {e}"))
        })?;
        write_atomic(path, json.as_bytes())
    }

    /// Reads a tokenizer written by [`save`](Self::save).
    pub fn load(path: &Path) -> Result<Self, DataError> {
        let text = read_text(path)?;
        let tokenizer: AnyTokenizer = serde_json::from_str(&text).map_err(|e| {
            let err = DataError::in_file(path, format!("not a saved rnnlab tokenizer: {e}"));
            // serde_json knows the line for syntax errors, not for tagged-enum content.
            if e.line() > 0 {
                err.at_line(e.line())
            } else {
                err
            }
        })?;
        if let AnyTokenizer::Bpe(bpe) = &tokenizer {
            bpe.check().map_err(|m| DataError::in_file(path, m))?;
        }
        Ok(tokenizer)
    }
}

impl Tokenizer for AnyTokenizer {
    fn encode(&self, text: &str) -> Result<Vec<u32>, DataError> {
        self.inner().encode(text)
    }

    fn decode(&self, ids: &[u32]) -> String {
        self.inner().decode(ids)
    }

    fn vocab_size(&self) -> usize {
        self.inner().vocab_size()
    }
}

/// 1-based line and column of byte offset `at` in `text`, for error messages.
pub(crate) fn line_col(text: &str, at: usize) -> (usize, usize) {
    let before = &text[..at];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}
