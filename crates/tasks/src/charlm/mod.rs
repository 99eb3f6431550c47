//! Text generation: a character (or word/BPE) language model on the models crate's recurrent
//! stack, scored beside an interpolated Kneser-Ney n-gram, and sampled through the single-step
//! API. One file per job: [`config`] (the experiment file), [`data`] (corpus, tokenizer,
//! loaders), [`model`](CharLm), [`score`] (the report), [`ngram`] (the baseline), sampling.

mod commands;
pub mod config;
pub mod data;
mod inspect;
mod model;
pub mod ngram;
mod sample;
pub mod score;

use burn::prelude::Device;
use rnnlab_data::lm::LmBatch;
use rnnlab_data::tokenizer::Tokenizer;

pub use commands::{GENERATE, GenerateArgs, sample};
pub use config::CharLmExperiment;
pub use inspect::{INSPECT, InspectArgs};
pub use model::{CharLm, CharLmConfig};
pub use sample::{Sampler, SamplingConfig};

use crate::task::{Task, model_error};
use crate::task_command::TaskCommand;
use crate::training::{Loaders, Policy};

/// The language-modelling task (`task = "charlm"`).
pub struct CharLmTask;

impl Task for CharLmTask {
    const NAME: &'static str = "charlm";
    type Config = CharLmExperiment;
    type Artefacts = data::LmArtefacts;
    type Data = data::LmData;
    type Model = CharLm;
    type Report = score::LmReport;

    fn data(
        config: &CharLmExperiment,
        artefacts: Option<data::LmArtefacts>,
    ) -> anyhow::Result<data::LmData> {
        data::read(config, artefacts)
    }

    fn legacy_artefacts(
        _config: &CharLmExperiment,
        dir: &std::path::Path,
    ) -> Option<anyhow::Result<data::LmArtefacts>> {
        data::legacy(dir)
    }

    fn artefacts(data: &data::LmData) -> data::LmArtefacts {
        data::LmArtefacts {
            tokenizer: data.tokenizer.clone(),
        }
    }

    fn model(
        config: &CharLmExperiment,
        artefacts: &data::LmArtefacts,
        device: &Device,
    ) -> anyhow::Result<CharLm> {
        config
            .model_config(artefacts.tokenizer.vocab_size())
            .try_init(device)
            .map_err(model_error)
    }

    fn loaders(
        config: &CharLmExperiment,
        data: &data::LmData,
        device: &Device,
    ) -> anyhow::Result<Loaders<LmBatch>> {
        data::loaders(config, data, device)
    }

    const COMMANDS: &'static [&'static dyn TaskCommand] = &[&commands::GENERATE, &inspect::INSPECT];

    fn after_training(
        _config: &CharLmExperiment,
        data: &data::LmData,
        model: &CharLm,
        device: &Device,
    ) -> anyhow::Result<Option<String>> {
        commands::after_training(data, model, device)
    }

    fn policy(config: &CharLmExperiment) -> Policy {
        Policy::new(config.train.grad_clip, config.data.tbptt)
    }

    fn score(
        config: &CharLmExperiment,
        data: &data::LmData,
        model: &CharLm,
        device: &Device,
    ) -> anyhow::Result<score::LmReport> {
        score::score(config, data, model, device)
    }
}
