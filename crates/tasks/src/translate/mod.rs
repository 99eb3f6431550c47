//! Machine translation (English → French by default, Tatoeba pairs): a (bi)recurrent encoder,
//! a decoder with Bahdanau or Luong attention and input feeding on the step API, teacher
//! forcing and label smoothing, batched greedy and beam decoding, scored with sacrebleu-exact
//! BLEU and chrF beside a copy-the-source baseline. One file per job: [`config`], [`data`],
//! [`model`](Seq2Seq), [`decode`], [`score`], [`bleu`], `plot`.

pub mod bleu;
mod commands;
pub mod config;
pub mod data;
pub mod decode;
mod inspect;
mod model;
mod plot;
pub mod score;

use anyhow::bail;
use burn::prelude::Device;
use rnnlab_data::translation::tutorial_normalize;

pub use commands::{TRANSLATE, TranslateArgs};
pub use config::TranslateExperiment;
pub use decode::{Decoding, Translation};
pub use inspect::{INSPECT, InspectArgs};
pub use model::{Memory, Seq2Seq, Seq2SeqConfig, Stepped};
pub use plot::attention_svg;

use crate::task::{Loaded, Task, model_error};
use crate::task_command::TaskCommand;
use crate::training::Loaders;
use data::TranslateData;
use rnnlab_data::translation::{PairBatch, UNK};

/// The translation task (`task = "translate"`).
pub struct TranslateTask;

impl Task for TranslateTask {
    const NAME: &'static str = "translate";
    type Config = TranslateExperiment;
    type Artefacts = data::Vocabs;
    type Data = TranslateData;
    type Model = Seq2Seq;
    type Report = score::TranslateReport;

    fn data(
        config: &TranslateExperiment,
        artefacts: Option<data::Vocabs>,
    ) -> anyhow::Result<TranslateData> {
        data::read(config, artefacts)
    }

    fn legacy_artefacts(
        _config: &TranslateExperiment,
        dir: &std::path::Path,
    ) -> Option<anyhow::Result<data::Vocabs>> {
        data::legacy(dir)
    }

    fn artefacts(data: &TranslateData) -> data::Vocabs {
        data.vocabs.clone()
    }

    fn model(
        config: &TranslateExperiment,
        vocabs: &data::Vocabs,
        device: &Device,
    ) -> anyhow::Result<Seq2Seq> {
        config
            .model_config(vocabs.source.size(), vocabs.target.size())
            .try_init(device)
            .map_err(model_error)
    }

    fn loaders(
        config: &TranslateExperiment,
        data: &TranslateData,
        device: &Device,
    ) -> anyhow::Result<Loaders<PairBatch>> {
        data::loaders(config, data, device)
    }

    const COMMANDS: &'static [&'static dyn TaskCommand] =
        &[&commands::TRANSLATE, &inspect::INSPECT];

    fn score(
        config: &TranslateExperiment,
        data: &TranslateData,
        model: &Seq2Seq,
        device: &Device,
    ) -> anyhow::Result<score::TranslateReport> {
        score::score(config, data, model, device)
    }
}

/// One translated input.
#[derive(Clone, Debug)]
pub struct Translated {
    /// The input as given.
    pub input: String,
    /// Its normalised tokens as the model read them (`<unk>` for unknown words).
    pub source_tokens: Vec<String>,
    /// The source ids the model read (one per token of `source_tokens`).
    pub source_ids: Vec<u32>,
    /// The words the source vocabulary does not hold.
    pub unknown: Vec<String>,
    /// The translation (normalised text).
    pub output: String,
    /// The decoded sentence.
    pub translation: Translation,
    /// One display token per output step (`<eos>` included when it ended).
    pub output_tokens: Vec<String>,
}

/// Translates `inputs` with the run's model (`beam` overrides the run's `decode.beam`).
///
/// Each input is normalised as the training text was (lower case, accents dropped,
/// punctuation spaced). Unknown words are read as `<unk>` and listed in
/// [`Translated::unknown`]. An input without letters, that has more words than the
/// run trained on (`data.max_words - 1`), or whose every word is unknown is an error naming it.
pub fn translate(
    run: &Loaded<TranslateTask>,
    inputs: &[String],
    beam: Option<usize>,
    device: &Device,
) -> anyhow::Result<Vec<Translated>> {
    let (source, target) = (&run.artefacts.source, &run.artefacts.target);
    let limit = run.config.data.max_words - 1;
    let mut encoded = Vec::with_capacity(inputs.len());
    for input in inputs {
        let normalized = tutorial_normalize(input);
        if !normalized.chars().any(|c| c.is_ascii_alphabetic()) {
            bail!("{input:?}: nothing to translate (no letters in it)");
        }
        let words = normalized.split(' ').count();
        if words > limit {
            bail!(
                "{input:?}: {words} words; this run translates up to {limit} \
                 (it trained on data.max_words = {})",
                run.config.data.max_words
            );
        }
        let ids = source.encode(&normalized)?;
        if ids.iter().all(|&i| i == UNK) {
            bail!("{input:?}: none of its words is in the run's source vocabulary");
        }
        encoded.push((input, normalized, ids));
    }
    let mut how = run.config.decoding();
    if let Some(beam) = beam {
        if !(1..=100).contains(&beam) {
            bail!("--beam {beam}: expected 1 to 100");
        }
        how.beam = beam;
    }
    let sources: Vec<Vec<u32>> = encoded.iter().map(|(_, _, ids)| ids.clone()).collect();
    let decoded = decode::decode_all(&run.model, &sources, how, 64, device)?;
    Ok(encoded
        .into_iter()
        .zip(decoded)
        .map(|((input, normalized, ids), translation)| {
            let source_tokens: Vec<String> = ids.iter().map(|&i| source.token(i)).collect();
            let unknown = match &source.tokenizer {
                rnnlab_data::tokenizer::AnyTokenizer::Word(w) => w
                    .words(&normalized)
                    .into_iter()
                    .zip(&ids)
                    .filter(|(_, id)| **id == UNK)
                    .map(|(word, _)| word)
                    .collect(),
                _ => Vec::new(),
            };
            let mut output_tokens: Vec<String> = translation
                .tokens
                .iter()
                .map(|&i| target.token(i))
                .collect();
            if translation.ended {
                output_tokens.push("<eos>".into());
            }
            Translated {
                input: input.clone(),
                source_tokens,
                source_ids: ids,
                unknown,
                output: target.decode(&translation.tokens),
                translation,
                output_tokens,
            }
        })
        .collect())
}
