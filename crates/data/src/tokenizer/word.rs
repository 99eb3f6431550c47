//! Word-level tokenizer for whitespace-tokenised text (MR's snippets are already split).

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::Tokenizer;
use crate::error::DataError;

/// How a [`WordTokenizer`] builds its vocabulary.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WordConfig {
    /// Lower-case every word before counting and encoding.
    pub lowercase: bool,
    /// Words seen fewer times are `<unk>`.
    pub min_freq: usize,
    /// At most this many words besides the special tokens (most frequent first).
    pub max_size: Option<usize>,
}

impl Default for WordConfig {
    fn default() -> Self {
        Self {
            lowercase: true,
            min_freq: 1,
            max_size: None,
        }
    }
}

/// Special tokens, always the first ids.
pub const PAD: &str = "<pad>";
/// Unknown word.
pub const UNK: &str = "<unk>";
/// Beginning of sequence.
pub const BOS: &str = "<bos>";
/// End of sequence.
pub const EOS: &str = "<eos>";

/// Words split on whitespace; ids `0..4` are `<pad>`, `<unk>`, `<bos>`, `<eos>`, then words by
/// decreasing frequency (ties alphabetical, so a vocabulary is reproducible).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(from = "WordRepr", into = "WordRepr")]
pub struct WordTokenizer {
    words: Vec<String>,
    lowercase: bool,
    index: HashMap<String, u32>,
}

#[derive(Serialize, Deserialize)]
struct WordRepr {
    words: Vec<String>,
    lowercase: bool,
}

impl From<WordRepr> for WordTokenizer {
    fn from(r: WordRepr) -> Self {
        let index = r
            .words
            .iter()
            .enumerate()
            .map(|(i, w)| (w.clone(), i as u32))
            .collect();
        Self {
            words: r.words,
            lowercase: r.lowercase,
            index,
        }
    }
}

impl From<WordTokenizer> for WordRepr {
    fn from(t: WordTokenizer) -> Self {
        WordRepr {
            words: t.words,
            lowercase: t.lowercase,
        }
    }
}

impl WordTokenizer {
    /// Builds the vocabulary from the training texts.
    pub fn fit<'a>(texts: impl IntoIterator<Item = &'a str>, config: &WordConfig) -> Self {
        let mut counts: HashMap<String, usize> = HashMap::new();
        for text in texts {
            for word in text.split_whitespace() {
                let word = if config.lowercase {
                    word.to_lowercase()
                } else {
                    word.to_string()
                };
                *counts.entry(word).or_default() += 1;
            }
        }
        let mut ranked: Vec<(String, usize)> = counts
            .into_iter()
            .filter(|(_, n)| *n >= config.min_freq.max(1))
            .collect();
        ranked.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        if let Some(max) = config.max_size {
            ranked.truncate(max);
        }
        let words = [PAD, UNK, BOS, EOS]
            .into_iter()
            .map(String::from)
            .chain(
                ranked
                    .into_iter()
                    .map(|(w, _)| w)
                    .filter(|w| ![PAD, UNK, BOS, EOS].contains(&w.as_str())),
            )
            .collect();
        WordRepr {
            words,
            lowercase: config.lowercase,
        }
        .into()
    }

    /// The id of a special token or word.
    pub fn id(&self, token: &str) -> Option<u32> {
        self.index.get(token).copied()
    }
}

impl Tokenizer for WordTokenizer {
    fn encode(&self, text: &str) -> Result<Vec<u32>, DataError> {
        let unk = self.index[UNK];
        Ok(text
            .split_whitespace()
            .map(|w| {
                let w = if self.lowercase {
                    w.to_lowercase()
                } else {
                    w.to_string()
                };
                self.index.get(&w).copied().unwrap_or(unk)
            })
            .collect())
    }

    fn decode(&self, ids: &[u32]) -> String {
        ids.iter()
            .filter_map(|&id| self.words.get(id as usize))
            .filter(|w| w.as_str() != PAD)
            .map(String::as_str)
            .collect::<Vec<_>>()
            .join(" ")
    }

    fn vocab_size(&self) -> usize {
        self.words.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vocabulary_respects_min_freq_max_size_and_case() {
        let texts = ["The cat the dog", "the CAT sat", "a bird"];
        let tok = WordTokenizer::fit(
            texts,
            &WordConfig {
                lowercase: true,
                min_freq: 2,
                max_size: None,
            },
        );
        // the ×3, cat ×2; everything else is rarer.
        assert_eq!(tok.vocab_size(), 6);
        assert_eq!(tok.encode("THE cat bird").unwrap(), vec![4, 5, 1]);
        assert_eq!(tok.decode(&[0, 4, 5, 1]), "the cat <unk>");
        let capped = WordTokenizer::fit(
            texts,
            &WordConfig {
                lowercase: false,
                min_freq: 1,
                max_size: Some(1),
            },
        );
        assert_eq!(capped.id("the"), Some(4));
        assert_eq!(capped.id("The"), None);
        assert_eq!(
            (
                capped.id(PAD),
                capped.id(UNK),
                capped.id(BOS),
                capped.id(EOS)
            ),
            (Some(0), Some(1), Some(2), Some(3))
        );
    }
}
