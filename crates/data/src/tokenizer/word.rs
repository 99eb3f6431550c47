//! Word-level tokenizer: text is normalised (Unicode NFKC, lower case — each optional), then
//! split into words, with punctuation split off as tokens of its own (`great!` → `great`,
//! `!`; inner apostrophes and hyphens stay: `don't`, `well-made`), by the `tokenizers` crate's
//! normalizers and `Split` pre-tokenizer.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use tokenizers::pre_tokenizers::split::{Split, SplitPattern};
use tokenizers::{
    NormalizedString, OffsetReferential, OffsetType, PreTokenizedString, PreTokenizer,
    SplitDelimiterBehavior,
};

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
    /// Split punctuation off words (else split on whitespace only).
    pub punctuation: bool,
    /// Normalise Unicode to NFKC first (full-width letters, ligatures, composed accents).
    pub nfkc: bool,
}

impl Default for WordConfig {
    fn default() -> Self {
        Self {
            lowercase: true,
            min_freq: 1,
            max_size: None,
            punctuation: true,
            nfkc: true,
        }
    }
}

/// Words (letters, digits, `_`, with inner `'` `’` `-`) or single punctuation characters.
const WORD_OR_PUNCT: &str = r"\w+(?:['’\-]\w+)*|[^\w\s]";

/// How a text becomes words (saved with the vocabulary).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Splitting {
    lowercase: bool,
    #[serde(default)]
    punctuation: bool,
    #[serde(default)]
    nfkc: bool,
}

impl Splitting {
    fn words(self, text: &str) -> Vec<String> {
        let mut normalized = NormalizedString::from(text);
        if self.nfkc {
            normalized.nfkc();
        }
        if self.lowercase {
            normalized.lowercase();
        }
        if !self.punctuation {
            return normalized
                .get()
                .split_whitespace()
                .map(str::to_string)
                .collect();
        }
        // Compiled once per process: compiling the pattern costs more than splitting a text.
        static SPLIT: std::sync::OnceLock<Option<Split>> = std::sync::OnceLock::new();
        let Some(split) = SPLIT.get_or_init(|| {
            Split::new(
                SplitPattern::Regex(WORD_OR_PUNCT.into()),
                SplitDelimiterBehavior::Removed,
                true,
            )
            .ok()
        }) else {
            return pre_split(normalized.get());
        };
        let mut pre = PreTokenizedString::from(normalized);
        match split.pre_tokenize(&mut pre) {
            Ok(()) => pre
                .get_splits(OffsetReferential::Normalized, OffsetType::Byte)
                .into_iter()
                .map(|(w, _, _)| w.to_string())
                .filter(|w| !w.trim().is_empty())
                .collect(),
            // The pattern cannot fail on text; whitespace splitting is the safe fallback.
            Err(_) => pre_split(&self.fallback(text)),
        }
    }
}

impl Splitting {
    fn fallback(self, text: &str) -> String {
        match self.lowercase {
            true => text.to_lowercase(),
            false => text.to_string(),
        }
    }
}

fn pre_split(text: &str) -> Vec<String> {
    text.split_whitespace().map(str::to_string).collect()
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
    splitting: Splitting,
    index: HashMap<String, u32>,
}

/// The saved form; files written before punctuation splitting read as whitespace-only.
#[derive(Serialize, Deserialize)]
struct WordRepr {
    words: Vec<String>,
    #[serde(flatten)]
    splitting: Splitting,
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
            splitting: r.splitting,
            index,
        }
    }
}

impl From<WordTokenizer> for WordRepr {
    fn from(t: WordTokenizer) -> Self {
        WordRepr {
            words: t.words,
            splitting: t.splitting,
        }
    }
}

impl WordTokenizer {
    /// Builds the vocabulary from the training texts.
    pub fn fit<'a>(texts: impl IntoIterator<Item = &'a str>, config: &WordConfig) -> Self {
        let splitting = Splitting {
            lowercase: config.lowercase,
            punctuation: config.punctuation,
            nfkc: config.nfkc,
        };
        let mut counts: HashMap<String, usize> = HashMap::new();
        for text in texts {
            for word in splitting.words(text) {
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
        WordRepr { words, splitting }.into()
    }

    /// The words of `text` as this tokenizer sees them (normalised and split; one per id that
    /// [`encode`](Tokenizer::encode) returns).
    pub fn words(&self, text: &str) -> Vec<String> {
        self.splitting.words(text)
    }

    /// The id of a special token or word.
    pub fn id(&self, token: &str) -> Option<u32> {
        self.index.get(token).copied()
    }
}

impl Tokenizer for WordTokenizer {
    fn encode(&self, text: &str) -> Result<Vec<u32>, DataError> {
        let unk = self.index[UNK];
        Ok(self
            .words(text)
            .iter()
            .map(|w| self.index.get(w).copied().unwrap_or(unk))
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
                min_freq: 2,
                ..WordConfig::default()
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
                max_size: Some(1),
                ..WordConfig::default()
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

    #[test]
    fn punctuation_is_split_off_and_unicode_normalised() {
        let tok = WordTokenizer::fit(["great movie"], &WordConfig::default());
        let great = tok.id("great").unwrap();
        for text in ["great", "great.", "Great!", "\u{ff27}reat", "(great)"] {
            assert!(tok.encode(text).unwrap().contains(&great), "{text}");
        }
        assert_eq!(
            tok.words("Don't stop -- it's well-made, isn't it?!"),
            [
                "don't",
                "stop",
                "-",
                "-",
                "it's",
                "well-made",
                ",",
                "isn't",
                "it",
                "?",
                "!"
            ]
        );
        let plain = WordTokenizer::fit(
            ["great movie"],
            &WordConfig {
                punctuation: false,
                nfkc: false,
                ..WordConfig::default()
            },
        );
        assert_eq!(plain.words("Great!"), ["great!"]);
        // A vocabulary saved before punctuation splitting existed reads as whitespace-only.
        let old: WordTokenizer = serde_json::from_str(
            r#"{"words":["<pad>","<unk>","<bos>","<eos>","a."],"lowercase":true}"#,
        )
        .unwrap();
        assert_eq!(old.encode("A.").unwrap(), [4]);
    }
}
