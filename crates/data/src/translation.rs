//! Sentence pairs for translation: the `source<TAB>target` lines of a Tatoeba/ManyThings file,
//! the PyTorch seq2seq tutorial's normalisation and filter, and a held-out split by a hash of
//! the source sentence (so that lines sharing a source never cross splits); pairs of ids and
//! their padded batches (`<bos>`/`<eos>` added) for a sequence-to-sequence model.

use std::path::Path;

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

use burn::Tensor;
use burn::data::dataloader::batcher::Batcher;
use burn::prelude::Device;
use burn::tensor::{Int, TensorData};

use crate::error::DataError;
use crate::io::read_text;

/// One line of a pairs file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pair {
    /// The first field (English in ManyThings files).
    pub source: String,
    /// The second field.
    pub target: String,
    /// 1-based line number in the file.
    pub line: usize,
}

/// Reads `first<TAB>second` lines; a line without a tab, with several, or with an empty field
/// is an error naming the line. Blank lines are skipped.
pub fn load_pairs(path: &Path) -> Result<Vec<Pair>, DataError> {
    let text = read_text(path)?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let at = |m: &str| DataError::in_file(path, m.to_string()).at_line(i + 1);
        let fields: Vec<&str> = line.split('\t').collect();
        match fields.as_slice() {
            [s, t] if !s.trim().is_empty() && !t.trim().is_empty() => out.push(Pair {
                source: s.trim().to_string(),
                target: t.trim().to_string(),
                line: i + 1,
            }),
            [_, _] => return Err(at("an empty field; expected `source<TAB>target`")),
            [_] => return Err(at("no tab; expected `source<TAB>target`")),
            _ => {
                return Err(at(&format!(
                    "{} tabs; expected one, `source<TAB>target`",
                    fields.len() - 1
                )));
            }
        }
    }
    if out.is_empty() {
        return Err(DataError::in_file(path, "no sentence pairs"));
    }
    Ok(out)
}

/// The tutorial's normalisation: lower-case and trim; NFD with combining marks dropped
/// (`é` → `e`); a space before each `.`, `!`, `?`; every run of other characters than ASCII
/// letters and `.!?` becomes one space; trimmed.
pub fn tutorial_normalize(s: &str) -> String {
    let folded: String = s
        .trim()
        .to_lowercase()
        .nfd()
        .filter(|c| !is_combining_mark(*c))
        .collect();
    let mut spaced = String::with_capacity(folded.len() + 8);
    for c in folded.chars() {
        if matches!(c, '.' | '!' | '?') {
            spaced.push(' ');
        }
        spaced.push(c);
    }
    let mut out = String::with_capacity(spaced.len());
    let mut gap = false;
    for c in spaced.chars() {
        if c.is_ascii_alphabetic() || matches!(c, '.' | '!' | '?') {
            if gap && !out.is_empty() {
                out.push(' ');
            }
            gap = false;
            out.push(c);
        } else {
            gap = true;
        }
    }
    out
}

/// The English openings the tutorial keeps (after [`tutorial_normalize`]).
pub const TUTORIAL_PREFIXES: [&str; 12] = [
    "i am ", "i m ", "he is", "he s ", "she is", "she s ", "you are", "you re ", "we are",
    "we re ", "they are", "they re ",
];

/// Whether a normalised pair passes the tutorial's filter: both sides under `max_words`
/// space-separated items and the English side opening with one of [`TUTORIAL_PREFIXES`].
pub fn tutorial_keeps(english: &str, other: &str, max_words: usize) -> bool {
    english.split(' ').count() < max_words
        && other.split(' ').count() < max_words
        && TUTORIAL_PREFIXES.iter().any(|p| english.starts_with(p))
}

/// 64-bit FNV-1a of `bytes`.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ b as u64).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// Which split a source sentence belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Part {
    /// `fnv1a(source) % 10 == 0`.
    Test,
    /// `== 1`.
    Valid,
    /// The rest.
    Train,
}

/// The part of the raw source field `source` (its UTF-8 bytes, unnormalised).
pub fn part_of(source: &str) -> Part {
    match fnv1a(source.as_bytes()) % 10 {
        0 => Part::Test,
        1 => Part::Valid,
        _ => Part::Train,
    }
}

/// Padding id (both languages).
pub const PAD: u32 = 0;
/// Unknown-word id.
pub const UNK: u32 = 1;
/// Beginning of the target.
pub const BOS: u32 = 2;
/// End of the target.
pub const EOS: u32 = 3;
/// Ids below this are the special tokens above.
pub const SPECIALS: u32 = 4;

/// One sentence pair as ids.
#[derive(Clone, Debug, PartialEq)]
pub struct PairItem {
    /// Source ids (non-empty).
    pub source: Vec<u32>,
    /// Target ids, without `<bos>`/`<eos>`.
    pub target: Vec<u32>,
}

/// A padded batch of pairs.
#[derive(Clone, Debug)]
pub struct PairBatch {
    /// `[B, S]` source ids, `PAD` after each length.
    pub source: Tensor<2, Int>,
    /// Each source's length.
    pub lengths: Vec<usize>,
    /// `[B, T]` decoder inputs: `<bos>` then the target, padded.
    pub inputs: Tensor<2, Int>,
    /// `[B, T]` what each input step predicts: the target then `<eos>`, padded.
    pub targets: Tensor<2, Int>,
}

/// Builds [`PairBatch`]es.
#[derive(Clone, Copy, Debug, Default)]
pub struct PairBatcher;

impl Batcher<PairItem, PairBatch> for PairBatcher {
    fn batch(&self, items: Vec<PairItem>, device: &Device) -> PairBatch {
        let b = items.len();
        let s = items.iter().map(|i| i.source.len()).max().unwrap_or(1);
        let t = items.iter().map(|i| i.target.len() + 1).max().unwrap_or(1);
        let (mut source, mut inputs, mut targets) = (
            vec![PAD as i64; b * s],
            vec![PAD as i64; b * t],
            vec![PAD as i64; b * t],
        );
        for (row, item) in items.iter().enumerate() {
            for (j, &id) in item.source.iter().enumerate() {
                source[row * s + j] = id as i64;
            }
            inputs[row * t] = BOS as i64;
            for (j, &id) in item.target.iter().enumerate() {
                inputs[row * t + j + 1] = id as i64;
                targets[row * t + j] = id as i64;
            }
            targets[row * t + item.target.len()] = EOS as i64;
        }
        let ints = |v: Vec<i64>, cols: usize| {
            Tensor::<2, Int>::from_data(TensorData::new(v, [b, cols]), device)
        };
        PairBatch {
            source: ints(source, s),
            lengths: items.iter().map(|i| i.source.len()).collect(),
            inputs: ints(inputs, t),
            targets: ints(targets, t),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_shift_the_target_by_one_step() {
        let items = vec![
            PairItem {
                source: vec![5, 6, 7],
                target: vec![8, 9],
            },
            PairItem {
                source: vec![5],
                target: vec![10],
            },
        ];
        let batch = PairBatcher.batch(items, &Device::flex());
        let ints = |t: Tensor<2, Int>| t.into_data().convert::<i64>().try_to_vec::<i64>().unwrap();
        assert_eq!(ints(batch.source), [5, 6, 7, 5, 0, 0]);
        assert_eq!(batch.lengths, [3, 1]);
        assert_eq!(ints(batch.inputs), [2, 8, 9, 2, 10, 0]);
        assert_eq!(ints(batch.targets), [8, 9, 3, 10, 3, 0]);
    }
    use crate::shipped_datasets_dir;

    #[test]
    fn normalisation_follows_the_tutorial() {
        assert_eq!(
            tutorial_normalize("  Je suis désolé !  "),
            "je suis desole !"
        );
        assert_eq!(tutorial_normalize("I'm OK."), "i m ok .");
        assert_eq!(
            tutorial_normalize("Il a dit\u{202f}: « non ! »"),
            "il a dit non !"
        );
        assert_eq!(tutorial_normalize("Ça va? 3 ans."), "ca va ? ans .");
        assert!(tutorial_keeps("i am cold .", "j ai froid .", 10));
        assert!(!tutorial_keeps("it is cold .", "il fait froid .", 10));
        assert!(!tutorial_keeps("i am a b c d e f g h", "x", 10));
    }

    #[test]
    fn bad_lines_name_their_line() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("p.tsv");
        for (text, message) in [
            ("Go.\tVa !\nno tab here\n", ":2: no tab"),
            ("a\tb\tc\n", ":1: 2 tabs; expected one"),
            ("Go.\t \n", ":1: an empty field"),
            ("\n\n", "no sentence pairs"),
        ] {
            std::fs::write(&p, text).unwrap();
            let e = load_pairs(&p).unwrap_err().to_string();
            assert!(e.contains(message), "{e}");
        }
    }

    /// The counts the dataset's README states for the shipped file.
    #[test]
    fn the_shipped_file_splits_as_its_readme_says() {
        assert_eq!(fnv1a(b"Go."), 0xeaff_ad19_9874_76bf);
        let path = shipped_datasets_dir().join("translation/eng-fra/pairs.tsv");
        let pairs = load_pairs(&path).unwrap();
        assert_eq!(pairs.len(), 167_130);
        let count =
            |part: Part, of: &[&Pair]| of.iter().filter(|p| part_of(&p.source) == part).count();
        let all: Vec<&Pair> = pairs.iter().collect();
        assert_eq!(
            (
                count(Part::Test, &all),
                count(Part::Valid, &all),
                count(Part::Train, &all)
            ),
            (16_561, 16_821, 133_748)
        );
        let tutorial: Vec<&Pair> = pairs
            .iter()
            .filter(|p| {
                tutorial_keeps(
                    &tutorial_normalize(&p.source),
                    &tutorial_normalize(&p.target),
                    10,
                )
            })
            .collect();
        assert_eq!(tutorial.len(), 12_441);
        assert_eq!(count(Part::Test, &tutorial), 1_232);
    }
}
