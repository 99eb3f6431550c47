//! The sentiment data: the labelled sentences, their stratified split, the [`Encoder`] fitted
//! on the training sentences (the run's artefacts: tokenizer, subwords, log-count ratios), and
//! the loaders.

use std::path::Path;
use std::sync::Arc;

use burn::data::dataloader::DataLoaderBuilder;
use burn::prelude::Device;
use rnnlab_data::buckets::EpochBuckets;
use rnnlab_data::classification::{
    ClassBatch, ClassBatcher, ClassDataset, ClassItem, Labelled, Split, load_mr, load_tsv,
    stratified_split,
};
use rnnlab_data::nb::{self, LogCountRatios};
use rnnlab_data::subwords::Subwords;
use rnnlab_data::tokenizer::{AnyTokenizer, Tokenizer, WordTokenizer};
use serde::{Deserialize, Serialize};

use super::config::{DataFormat, SentimentExperiment};
use crate::training::Loaders;

/// The padding id of every batch.
pub const PAD: u32 = 0;

/// The words of `text` as the run's tokenizer splits them.
pub fn words(tokenizer: &AnyTokenizer, text: &str) -> Vec<String> {
    match tokenizer {
        AnyTokenizer::Word(w) => w.words(text),
        _ => text.split_whitespace().map(str::to_string).collect(),
    }
}

/// How a sentence becomes what the model reads: a sentiment run's artefacts, fitted on its
/// training sentences.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Encoder {
    /// The word tokenizer.
    pub tokenizer: AnyTokenizer,
    /// How words are cut into subwords, when the model has them.
    pub subwords: Option<Subwords>,
    /// The Naive-Bayes log-count ratios, when the model takes them (`model.nb_features`).
    pub ratios: Option<LogCountRatios>,
}

/// A sentiment run's data.
pub struct SentimentData {
    /// Every labelled sentence.
    pub examples: Vec<Labelled>,
    /// Their train/validation/test indices.
    pub split: Split,
    /// The encoder (fitted on the training sentences, or the run's).
    pub encoder: Encoder,
}

/// The encoder of a run from before `artefacts.json` (`tokenizer.json`, with `ratios.json`
/// when the model takes them), if `dir` has one.
pub fn legacy(e: &SentimentExperiment, dir: &Path) -> Option<anyhow::Result<Encoder>> {
    let path = dir.join("tokenizer.json");
    path.is_file().then(|| {
        let ratios = match e.model.nb_features {
            true => {
                let path = dir.join("ratios.json");
                let text = rnnlab_data::io::read_text(&path)?;
                Some(serde_json::from_str(&text).map_err(|err| {
                    anyhow::anyhow!("{}: not a log-count ratios file: {err}", path.display())
                })?)
            }
            false => None,
        };
        Ok(Encoder {
            tokenizer: AnyTokenizer::load(&path)?,
            subwords: e.subwords(),
            ratios,
        })
    })
}

/// Checks a run's encoder against its config: ratios exactly when the model takes them, the
/// subwords the config asks for.
pub fn check(e: &SentimentExperiment, encoder: &Encoder) -> anyhow::Result<()> {
    if encoder.ratios.is_some() != e.model.nb_features {
        anyhow::bail!(
            "model.nb_features = {}: the run's encoder {} log-count ratios",
            e.model.nb_features,
            if encoder.ratios.is_some() {
                "has"
            } else {
                "has no"
            }
        );
    }
    if encoder.subwords != e.subwords() {
        anyhow::bail!("model.subword_*: the run's encoder cuts subwords differently");
    }
    Ok(())
}

/// Reads and splits the sentences; fits the encoder on the training ones, or reads them with
/// the run's.
pub fn read(e: &SentimentExperiment, run: Option<Encoder>) -> anyhow::Result<SentimentData> {
    let path = Path::new(&e.data.path);
    let examples = match e.data.format {
        DataFormat::Mr => load_mr(path)?,
        DataFormat::Tsv => {
            let labels: Vec<&str> = e.data.labels.iter().map(String::as_str).collect();
            load_tsv(path, &labels)?
        }
    };
    if examples.is_empty() {
        anyhow::bail!(
            "{}: no labelled sentences (only blank lines)",
            path.display()
        );
    }
    let labels: Vec<usize> = examples.iter().map(|x| x.label).collect();
    let d = &e.data;
    let split = stratified_split(&labels, d.valid_fraction, d.test_fraction, d.split_seed)?;
    let fraction = |key: &str, f: f64| {
        format!("{key} = {f} of each class rounds to none: give more data or raise it")
    };
    for (name, part, hint) in [
        (
            "test",
            &split.test,
            fraction("data.test_fraction", d.test_fraction),
        ),
        (
            "validation",
            &split.valid,
            fraction("data.valid_fraction", d.valid_fraction),
        ),
        (
            "training",
            &split.train,
            "data.valid_fraction and data.test_fraction take every sentence: give more data or \
             lower them"
                .to_string(),
        ),
    ] {
        if part.is_empty() {
            anyhow::bail!(
                "{}: the {name} split of its {} sentences is empty; {hint}",
                path.display(),
                examples.len()
            );
        }
    }
    if let Some(encoder) = run {
        return Ok(SentimentData {
            examples,
            split,
            encoder,
        });
    }
    let tokenizer = AnyTokenizer::Word(WordTokenizer::fit(
        split.train.iter().map(|&i| examples[i].text.as_str()),
        &d.words.word_config(d.min_freq),
    ));
    let mut data = SentimentData {
        examples,
        split,
        encoder: Encoder {
            tokenizer,
            subwords: e.subwords(),
            ratios: None,
        },
    };
    if e.model.nb_features {
        // The items carry no features yet: `ratios` is still unset.
        let items = data.dataset(&data.split.train)?.into_items();
        let docs: Vec<(&[u32], usize)> =
            items.iter().map(|i| (i.ids.as_slice(), i.label)).collect();
        data.encoder.ratios = Some(LogCountRatios::fit(
            &docs,
            e.data.labels.len(),
            e.model.nb_alpha,
        )?);
    }
    Ok(data)
}

impl Encoder {
    /// A sentence as the model reads it: its ids (a text without words is one `PAD`) and,
    /// with subwords, the pieces of each of its words.
    pub fn item(&self, text: &str, label: usize) -> anyhow::Result<ClassItem> {
        let mut item = self.encode(text, label)?;
        if item.ids.is_empty() {
            item.ids.push(PAD);
        }
        Ok(item)
    }

    /// A sentence to classify, as the model reads it; a text without words is an error.
    pub fn query(&self, text: &str) -> anyhow::Result<ClassItem> {
        let item = self.encode(text, 0)?;
        if item.ids.is_empty() {
            anyhow::bail!("nothing to classify: the text has no words");
        }
        Ok(item)
    }

    /// The ids of `text` (none for a text without words), their pieces and features.
    fn encode(&self, text: &str, label: usize) -> anyhow::Result<ClassItem> {
        let ids = self.tokenizer.encode(text)?;
        let pieces = match &self.subwords {
            Some(subwords) => {
                let words = words(&self.tokenizer, text);
                if words.len() != ids.len() {
                    anyhow::bail!(
                        "subwords need a word tokenizer: {} words but {} ids",
                        words.len(),
                        ids.len()
                    );
                }
                subwords.of_words(&words)
            }
            None => Vec::new(),
        };
        // An empty text is read as one `PAD` (see `item`): its features are that token's.
        let features = match &self.ratios {
            Some(ratios) if ids.is_empty() => ratios.features(&[PAD]),
            Some(ratios) => ratios.features(&ids),
            None => Vec::new(),
        };
        Ok(ClassItem {
            ids,
            label,
            pieces,
            features,
        })
    }
}

impl SentimentData {
    /// The training sentences as the model trains on them: with log-count ratios, each
    /// sentence's features come from the ratios fitted on the other `model.nb_folds` folds
    /// (drawn with `data.split_seed`), never from its own label.
    pub fn training_dataset(&self, e: &SentimentExperiment) -> anyhow::Result<ClassDataset> {
        let mut items = self.dataset(&self.split.train)?.into_items();
        if self.encoder.ratios.is_some() {
            let docs: Vec<(&[u32], usize)> =
                items.iter().map(|i| (i.ids.as_slice(), i.label)).collect();
            let features = nb::cross_fitted(
                &docs,
                e.data.labels.len(),
                e.model.nb_alpha,
                e.model.nb_folds,
                e.data.split_seed,
            )?;
            for (item, features) in items.iter_mut().zip(features) {
                item.features = features;
            }
        }
        Ok(ClassDataset::from_items(items))
    }

    /// The sentences of `indices` as a dataset.
    pub fn dataset(&self, indices: &[usize]) -> anyhow::Result<ClassDataset> {
        let items = indices
            .iter()
            .map(|&i| {
                self.encoder
                    .item(&self.examples[i].text, self.examples[i].label)
            })
            .collect::<anyhow::Result<_>>()?;
        Ok(ClassDataset::from_items(items))
    }

    /// How the split was made, for the report.
    pub fn describe_split(&self, seed: u64) -> String {
        format!(
            "stratified {}/{}/{} of {} with data.split_seed = {seed}",
            self.split.train.len(),
            self.split.valid.len(),
            self.split.test.len(),
            self.examples.len(),
        )
    }
}

/// Length-bucketed training batches (drawn again every epoch from the run's seed) and
/// validation batches.
pub fn loaders(
    e: &SentimentExperiment,
    data: &SentimentData,
    device: &Device,
) -> anyhow::Result<Loaders<ClassBatch>> {
    let b = e.data.batch_size;
    let batcher = ClassBatcher { pad_id: PAD };
    let train = EpochBuckets::new(
        data.training_dataset(e)?.into_items(),
        |item| item.ids.len(),
        batcher.clone(),
        b,
        e.train.seed,
        device,
    );
    let valid = data.dataset(&data.split.valid)?.bucket_by_length(b, 0);
    Ok(Loaders {
        train: Arc::new(train),
        valid: DataLoaderBuilder::new(batcher)
            .set_device(device.clone())
            .batch_size(b)
            .build(valid),
        steps_per_epoch: data.split.train.len().div_ceil(b),
    })
}
