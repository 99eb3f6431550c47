//! Character-level tokenizer (char-rnn, nanoGPT's `shakespeare_char`).

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::{Tokenizer, UnknownPolicy, line_col};
use crate::error::DataError;

/// One id per character of the training text, sorted by code point (as nanoGPT does); with
/// [`UnknownPolicy::Unk`] id 0 is `<unk>`, decoded as `U+FFFD`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(from = "CharRepr", into = "CharRepr")]
pub struct CharTokenizer {
    chars: Vec<char>,
    unknown: UnknownPolicy,
    index: HashMap<char, u32>,
}

#[derive(Serialize, Deserialize)]
struct CharRepr {
    chars: String,
    unknown: UnknownPolicy,
}

impl From<CharRepr> for CharTokenizer {
    fn from(r: CharRepr) -> Self {
        Self::from_chars(r.chars.chars().collect(), r.unknown)
    }
}

impl From<CharTokenizer> for CharRepr {
    fn from(t: CharTokenizer) -> Self {
        CharRepr {
            chars: t.chars.into_iter().collect(),
            unknown: t.unknown,
        }
    }
}

const UNK_CHAR: char = '\u{FFFD}';

impl CharTokenizer {
    /// The vocabulary of `text` (the training split).
    pub fn fit(text: &str, unknown: UnknownPolicy) -> Self {
        let mut chars: Vec<char> = text.chars().collect();
        chars.sort_unstable();
        chars.dedup();
        Self::from_chars(chars, unknown)
    }

    fn from_chars(chars: Vec<char>, unknown: UnknownPolicy) -> Self {
        let offset = u32::from(unknown == UnknownPolicy::Unk);
        let index = chars
            .iter()
            .enumerate()
            .map(|(i, &c)| (c, i as u32 + offset))
            .collect();
        Self {
            chars,
            unknown,
            index,
        }
    }

    /// The characters of the vocabulary, in id order (without `<unk>`).
    pub fn chars(&self) -> &[char] {
        &self.chars
    }
}

impl Tokenizer for CharTokenizer {
    fn encode(&self, text: &str) -> Result<Vec<u32>, DataError> {
        text.char_indices()
            .map(|(at, c)| match (self.index.get(&c), self.unknown) {
                (Some(&id), _) => Ok(id),
                (None, UnknownPolicy::Unk) => Ok(0),
                (None, UnknownPolicy::Error) => {
                    let (line, col) = line_col(text, at);
                    Err(DataError::invalid(format!(
                        "character {c:?} (U+{:04X}) is not in the tokenizer's vocabulary of {} characters",
                        c as u32,
                        self.chars.len()
                    ))
                    .at_line(line)
                    .at_column(col.to_string()))
                }
            })
            .collect()
    }

    fn decode(&self, ids: &[u32]) -> String {
        let offset = u32::from(self.unknown == UnknownPolicy::Unk);
        ids.iter()
            .filter_map(|&id| match id.checked_sub(offset) {
                None => Some(UNK_CHAR),
                Some(i) => self.chars.get(i as usize).copied(),
            })
            .collect()
    }

    fn vocab_size(&self) -> usize {
        self.chars.len() + usize::from(self.unknown == UnknownPolicy::Unk)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::shipped_datasets_dir;

    #[test]
    fn tiny_shakespeare_has_65_characters_and_round_trips() {
        let text = std::fs::read_to_string(shipped_datasets_dir().join("text/tinyshakespeare.txt"))
            .unwrap();
        let tok = CharTokenizer::fit(&text, UnknownPolicy::Error);
        assert_eq!(tok.vocab_size(), 65); // as the MANIFEST (and nanoGPT) say
        assert_eq!(tok.chars()[0], '\n');
        let ids = tok.encode(&text).unwrap();
        assert_eq!(ids.len(), 1_115_394);
        assert_eq!(tok.decode(&ids), text);
    }

    #[test]
    fn unknown_characters_error_or_map_to_unk() {
        let strict = CharTokenizer::fit("abc\nab", UnknownPolicy::Error);
        let err = strict.encode("ab\ncaz").unwrap_err().to_string();
        assert_eq!(
            err,
            "line 2, column 3: character 'z' (U+007A) is not in the tokenizer's vocabulary of 4 characters"
        );
        let lenient = CharTokenizer::fit("abc", UnknownPolicy::Unk);
        assert_eq!(lenient.vocab_size(), 4);
        assert_eq!(lenient.encode("azc").unwrap(), vec![1, 0, 3]);
        assert_eq!(lenient.decode(&[1, 0, 3]), "a\u{FFFD}c");
    }

    proptest! {
        #[test]
        fn decode_inverts_encode_on_in_vocabulary_text(vocab in "\\PC{1,40}", picks in proptest::collection::vec(any::<prop::sample::Index>(), 0..200)) {
            let tok = CharTokenizer::fit(&vocab, UnknownPolicy::Error);
            let chars: Vec<char> = vocab.chars().collect();
            let text: String = picks.iter().map(|i| chars[i.index(chars.len())]).collect();
            let ids = tok.encode(&text).unwrap();
            prop_assert_eq!(tok.decode(&ids), text);
        }
    }
}
