//! A translation run's data: the pairs file normalised and filtered, split by a hash of the
//! English sentence, one vocabulary per language fitted on the training split (saved in the
//! run), and padded batches of id sequences.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use burn::data::dataloader::DataLoaderBuilder;
use burn::data::dataset::InMemDataset;
use burn::prelude::Device;
use rnnlab_data::buckets::EpochBuckets;
use rnnlab_data::classification::bucket_by_length;
use rnnlab_data::tokenizer::{
    AnyTokenizer, BpeConfig, BpeTokenizer, Tokenizer, WordConfig, WordTokenizer,
};
use rnnlab_data::translation::{Part, load_pairs, part_of, tutorial_keeps, tutorial_normalize};
use serde::{Deserialize, Serialize};

use rnnlab_data::translation::{BOS, EOS, PAD, PairBatch, PairBatcher, PairItem, SPECIALS, UNK};

use super::config::{Split, TranslateExperiment, VocabKind};
use crate::training::Loaders;

/// What a translation run fits on its training pairs: one vocabulary per language.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Vocabs {
    /// Source vocabulary.
    pub source: Vocab,
    /// Target vocabulary.
    pub target: Vocab,
}

/// The vocabularies of a run from before `artefacts.json` (`source_tokenizer.json` and
/// `target_tokenizer.json`), if `dir` has them.
pub fn legacy(dir: &Path) -> Option<anyhow::Result<Vocabs>> {
    let (source, target) = (
        dir.join("source_tokenizer.json"),
        dir.join("target_tokenizer.json"),
    );
    source.is_file().then(|| {
        Ok(Vocabs {
            source: Vocab {
                tokenizer: AnyTokenizer::load(&source)?,
            },
            target: Vocab {
                tokenizer: AnyTokenizer::load(&target)?,
            },
        })
    })
}

/// One language's ids: a word tokenizer (whose first ids are the special tokens) or a BPE
/// tokenizer shifted past them.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Vocab {
    /// The tokenizer, as saved in the run.
    pub tokenizer: AnyTokenizer,
}

impl Vocab {
    fn offset(&self) -> u32 {
        match self.tokenizer {
            AnyTokenizer::Bpe(_) => SPECIALS,
            _ => 0,
        }
    }

    /// Model ids of a normalised sentence (no `<bos>`/`<eos>`).
    pub fn encode(&self, text: &str) -> anyhow::Result<Vec<u32>> {
        let offset = self.offset();
        Ok(self
            .tokenizer
            .encode(text)?
            .into_iter()
            .map(|i| i + offset)
            .collect())
    }

    /// The text of model ids (`<pad>`, `<bos>` and `<eos>` dropped; `<unk>` kept).
    pub fn decode(&self, ids: &[u32]) -> String {
        let offset = self.offset();
        let kept: Vec<u32> = ids
            .iter()
            .filter(|&&i| !matches!(i, PAD | BOS | EOS) && (offset == 0 || i >= offset))
            .map(|&i| i - offset)
            .collect();
        self.tokenizer.decode(&kept)
    }

    /// One display token per id (for attention plots).
    pub fn token(&self, id: u32) -> String {
        match id {
            EOS => "<eos>".into(),
            UNK if self.offset() == 0 => "<unk>".into(),
            _ => self.decode(&[id]),
        }
    }

    /// Number of model ids.
    pub fn size(&self) -> usize {
        self.tokenizer.vocab_size() + self.offset() as usize
    }
}

/// A held-out sentence with every reference translation of it in the file.
#[derive(Clone, Debug, PartialEq)]
pub struct Held {
    /// The normalised source sentence.
    pub source: String,
    /// Its normalised translations (one or more).
    pub references: Vec<String>,
}

/// What a translation run reads.
pub struct TranslateData {
    /// Training pairs (normalised source, target).
    pub train: Vec<(String, String)>,
    /// Validation pairs.
    pub valid: Vec<(String, String)>,
    /// Test sentences, each with all its references.
    pub test: Vec<Held>,
    /// The vocabularies.
    pub vocabs: Vocabs,
}

/// Reads, normalises, filters and splits the pairs; fits the vocabularies on the training
/// split for a new run, or reads them with the run's.
pub fn read(e: &TranslateExperiment, run: Option<Vocabs>) -> anyhow::Result<TranslateData> {
    let path = Path::new(&e.data.path);
    let pairs = load_pairs(path)?;
    let (mut train, mut valid) = (Vec::new(), Vec::new());
    let mut test: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for p in &pairs {
        let (english, other) = (tutorial_normalize(&p.source), tutorial_normalize(&p.target));
        let keep = match e.data.split {
            Split::Tutorial => tutorial_keeps(&english, &other, e.data.max_words),
            Split::All => {
                !english.is_empty()
                    && !other.is_empty()
                    && english.split(' ').count() < e.data.max_words
                    && other.split(' ').count() < e.data.max_words
            }
        };
        if !keep {
            continue;
        }
        // The hash is of the raw English field, whichever way the run translates.
        let pair = if e.data.reverse {
            (other, english)
        } else {
            (english, other)
        };
        match part_of(&p.source) {
            Part::Train => train.push(pair),
            Part::Valid => valid.push(pair),
            Part::Test => test.entry(pair.0).or_default().push(pair.1),
        }
    }
    for (name, n) in [
        ("training", train.len()),
        ("validation", valid.len()),
        ("test", test.len()),
    ] {
        if n == 0 {
            anyhow::bail!(
                "{}: the {name} split is empty after data.split = {:?} and data.max_words = {}",
                path.display(),
                e.data.split,
                e.data.max_words
            );
        }
    }
    let vocabs = match run {
        Some(vocabs) => vocabs,
        None => Vocabs {
            source: fit_vocab(e, train.iter().map(|p| p.0.as_str()))?,
            target: fit_vocab(e, train.iter().map(|p| p.1.as_str()))?,
        },
    };
    let test = test
        .into_iter()
        .map(|(source, references)| Held { source, references })
        .collect();
    Ok(TranslateData {
        train,
        valid,
        test,
        vocabs,
    })
}

fn fit_vocab<'a>(
    e: &TranslateExperiment,
    texts: impl Iterator<Item = &'a str>,
) -> anyhow::Result<Vocab> {
    let v = &e.data.vocab;
    let tokenizer = match v.kind {
        VocabKind::Word => AnyTokenizer::Word(WordTokenizer::fit(
            texts,
            &WordConfig {
                min_freq: v.min_freq,
                ..WordConfig::default()
            },
        )),
        VocabKind::Bpe => {
            // The `tokenizers` trainer reads files: the side's training text goes to one.
            let dir = tempfile::tempdir().context("cannot make a temporary folder for BPE")?;
            let file = dir.path().join("train.txt");
            let text: String = texts.flat_map(|t| [t, "\n"]).collect();
            std::fs::write(&file, text).context("cannot write BPE training text")?;
            AnyTokenizer::Bpe(BpeTokenizer::train(
                &[&file],
                &BpeConfig {
                    vocab_size: v.bpe_size,
                    min_frequency: 2,
                },
            )?)
        }
    };
    Ok(Vocab { tokenizer })
}

impl TranslateData {
    /// `pairs` as ids; a pair whose source encodes to nothing is left out.
    pub fn items(&self, pairs: &[(String, String)]) -> anyhow::Result<Vec<PairItem>> {
        let mut out = Vec::with_capacity(pairs.len());
        for (s, t) in pairs {
            let source = self.vocabs.source.encode(s)?;
            if source.is_empty() {
                continue;
            }
            out.push(PairItem {
                source,
                target: self.vocabs.target.encode(t)?,
            });
        }
        Ok(out)
    }
}

/// Training batches (length-bucketed, drawn again every epoch from the run's seed) and
/// validation batches.
pub fn loaders(
    e: &TranslateExperiment,
    data: &TranslateData,
    device: &Device,
) -> anyhow::Result<Loaders<PairBatch>> {
    let b = e.data.batch_size;
    let (train, mut valid) = (data.items(&data.train)?, data.items(&data.valid)?);
    bucket_by_length(&mut valid, |i| i.source.len(), b, 0);
    let (seed, len) = (e.train.seed, |i: &PairItem| i.source.len());
    Ok(Loaders {
        steps_per_epoch: train.len().div_ceil(b),
        train: Arc::new(EpochBuckets::new(train, len, PairBatcher, b, seed, device)),
        valid: DataLoaderBuilder::new(PairBatcher)
            .set_device(device.clone())
            .batch_size(b)
            .build(InMemDataset::new(valid)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tutorial_split_keeps_shared_sources_in_one_part_and_fits_on_training_only() {
        let mut e = TranslateExperiment::default();
        e.data.path = rnnlab_data::shipped_datasets_dir()
            .join("translation/eng-fra/pairs.tsv")
            .display()
            .to_string();
        let data = read(&e, None).unwrap();
        let refs: usize = data.test.iter().map(|h| h.references.len()).sum();
        assert_eq!(refs, 1_232);
        assert_eq!(data.train.len() + data.valid.len() + refs, 12_441);
        let test: std::collections::HashSet<&str> =
            data.test.iter().map(|h| h.source.as_str()).collect();
        assert!(data.train.iter().all(|p| !test.contains(p.0.as_str())));
        // Every id decodes back, and a word seen once in training is unknown.
        let items = data.items(&data.train[..50]).unwrap();
        assert!(items.iter().all(|i| !i.source.is_empty()));
        assert_eq!(data.vocabs.source.encode("i am zyzzyva .").unwrap()[2], UNK);
        let (s, _) = &data.train[0];
        let ids = data.vocabs.source.encode(s).unwrap();
        if !ids.contains(&UNK) {
            assert_eq!(&data.vocabs.source.decode(&ids), s);
        }
    }

    #[test]
    fn bpe_vocabularies_shift_past_the_special_ids_and_round_trip() {
        let mut e = TranslateExperiment::default();
        e.data.vocab.kind = VocabKind::Bpe;
        e.data.vocab.bpe_size = 300;
        let texts = ["je suis froid .", "tu es grand !", "il est la ."];
        let v = fit_vocab(&e, texts.iter().copied()).unwrap();
        for t in texts {
            let ids = v.encode(t).unwrap();
            assert!(ids.iter().all(|&i| i >= SPECIALS), "{ids:?}");
            let mut with_eos = ids.clone();
            with_eos.push(EOS);
            assert_eq!(v.decode(&with_eos), t);
        }
        assert_eq!(v.size(), v.tokenizer.vocab_size() + 4);
    }
}
