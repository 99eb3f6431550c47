//! # rnnlab-data
//!
//! Turns the raw files a researcher has into burn batches: tokenizers, language-model streams,
//! padded classification batches, time-series windows and audio features (WAV → log-mel/MFCC).
//! Nothing here knows about a specific model. Every error on user data
//! names the file, the line (and column) and what was expected.
#![warn(missing_docs)]

pub mod audio;
pub mod buckets;
pub mod classification;
pub mod error;
pub mod io;
pub mod lm;
pub mod nb;
pub mod subwords;
pub mod timeseries;
pub mod tokenizer;
pub mod translation;

use std::path::{Path, PathBuf};

pub use error::DataError;

/// The `datasets/` folder shipped with rnnlab (absolute path inside this workspace).
pub fn shipped_datasets_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../datasets")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tokenizer::{
        AnyTokenizer, BpeConfig, BpeTokenizer, CharTokenizer, Tokenizer, UnknownPolicy, WordConfig,
        WordTokenizer,
    };

    #[test]
    fn shipped_datasets_are_present() {
        let manifest = shipped_datasets_dir().join("MANIFEST.md");
        let text = std::fs::read_to_string(&manifest).expect("datasets/MANIFEST.md is shipped");
        assert!(text.contains("ETTh1.csv"));
        assert!(
            shipped_datasets_dir()
                .join("text/tinyshakespeare.txt")
                .is_file()
        );
    }

    #[test]
    fn every_tokenizer_saves_and_loads() {
        let dir = tempfile::tempdir().unwrap();
        let text = std::fs::read_to_string(shipped_datasets_dir().join("text/tinyshakespeare.txt"))
            .unwrap();
        let train = dir.path().join("train.txt");
        std::fs::write(&train, &text[..100_000]).unwrap();
        let sample = "ROMEO:\nWhat, art thou hurt?  Zounds!";
        let tokenizers = [
            AnyTokenizer::Char(CharTokenizer::fit(&text, UnknownPolicy::Error)),
            AnyTokenizer::Word(WordTokenizer::fit(text.lines(), &WordConfig::default())),
            AnyTokenizer::Bpe(
                BpeTokenizer::train(
                    &[&train],
                    &BpeConfig {
                        vocab_size: 400,
                        min_frequency: 2,
                    },
                )
                .unwrap(),
            ),
        ];
        for tok in tokenizers {
            let path = dir.path().join("tokenizer.json");
            tok.save(&path).unwrap();
            let back = AnyTokenizer::load(&path).unwrap();
            assert_eq!(back.vocab_size(), tok.vocab_size());
            assert_eq!(back.encode(sample).unwrap(), tok.encode(sample).unwrap());
        }
        // Byte-level BPE is lossless and compresses.
        let bpe = BpeTokenizer::train(
            &[&train],
            &BpeConfig {
                vocab_size: 400,
                min_frequency: 2,
            },
        )
        .unwrap();
        assert_eq!(bpe.vocab_size(), 400);
        let ids = bpe.encode(sample).unwrap();
        assert_eq!(bpe.decode(&ids), sample);
        assert!(ids.len() < sample.len());
    }

    #[test]
    fn loading_a_bad_tokenizer_file_names_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tok.json");
        std::fs::write(&path, "{\"kind\": \"char\",\n \"chars\": 3}").unwrap();
        let err = AnyTokenizer::load(&path).unwrap_err().to_string();
        let expected = format!("{}: not a saved rnnlab tokenizer", path.display());
        assert!(err.starts_with(&expected), "{err}");
        assert!(
            err.ends_with("invalid type: integer `3`, expected a string"),
            "{err}"
        );
        std::fs::write(&path, "{\"kind\": \"char\",\n \"chars\": ").unwrap();
        let err = AnyTokenizer::load(&path).unwrap_err().to_string();
        let expected = format!("{}:2: not a saved rnnlab tokenizer", path.display());
        assert!(err.starts_with(&expected), "{err}");
        assert!(
            AnyTokenizer::load(&dir.path().join("none.json"))
                .unwrap_err()
                .to_string()
                .contains("none.json")
        );
        let train = dir.path().join("empty.txt");
        std::fs::write(&train, "").unwrap();
        let err = BpeTokenizer::train(&[&train], &BpeConfig::default())
            .unwrap_err()
            .to_string();
        assert_eq!(err, format!("{}: the file is empty", train.display()));
    }
}
