//! Speech recognition from WAV files (FSDD by default): log-mel/MFCC features → (bi)recurrent
//! stack → either masked pooling and 10 digits (`data.target = "digit"`, [`SpeechTask`]) or
//! per-frame CTC over blank + 10 digits on synthesised digit strings
//! (`data.target = "sequence"`, [`SpeechCtcTask`]), each beside its baseline. `task =
//! "speech"` is one registry entry, [`SPEECH`], that picks the task by `data.target`. One file
//! per job: [`config`], [`recordings`], [`data`], [`sequences`], [`model`](SpeechClassifier),
//! `augment`, [`ctc`] (decoding, error rates), [`score`], `baseline`, `plot`, `predict`.

mod augment;
mod baseline;
mod commands;
pub mod config;
pub mod ctc;
pub mod data;
mod inspect;
mod model;
mod plot;
mod predict;
pub mod recordings;
pub mod score;
pub mod sequences;

use std::path::{Path, PathBuf};

use anyhow::bail;
use burn::prelude::Device;
use burn::train::SupervisedTraining;
use burn::train::metric::AccuracyMetric;
use rnnlab_data::audio::FrameBatch;

pub use config::{SpeechExperiment, Target};
pub use data::SpeechArtefacts;
pub use inspect::{INSPECT, InspectArgs};
pub use model::{Classified, CtcModel, CtcOutput, SpecAugment, SpeechClassifier, SpeechConfig};
pub use plot::prediction_svg;
pub use predict::{Frontend, Prediction, predict, recognise, transcribe};

use crate::config::ExperimentFile;
use crate::entry::{Entry, Registered};
use crate::task::{Task, Trained, model_error};
use crate::task_command::TaskCommand;
use crate::training::{Loaders, Step};

/// Spoken-digit classification (`task = "speech"`, `data.target = "digit"`).
pub struct SpeechTask;

/// Continuous digit recognition with CTC (`task = "speech"`, `data.target = "sequence"`).
pub struct SpeechCtcTask;

/// Fails unless `config` asks for `target`.
fn require_target(config: &SpeechExperiment, target: Target) -> anyhow::Result<()> {
    if config.data.target != target {
        bail!(
            "data.target = {:?}: this task reads {target:?}",
            config.data.target
        );
    }
    Ok(())
}

impl Task for SpeechTask {
    const NAME: &'static str = "speech";
    const COMMANDS: &'static [&'static dyn TaskCommand] = &[&commands::PREDICT, &inspect::INSPECT];
    const HAS_ACCURACY: bool = true;
    type Config = SpeechExperiment;
    type Artefacts = SpeechArtefacts;
    type Data = data::SpeechData;
    type Model = SpeechClassifier;
    type Report = score::SpeechReport;

    fn data(
        config: &SpeechExperiment,
        artefacts: Option<SpeechArtefacts>,
    ) -> anyhow::Result<Self::Data> {
        require_target(config, Target::Digit)?;
        data::read(config, artefacts)
    }

    fn artefacts(data: &Self::Data) -> SpeechArtefacts {
        data.artefacts()
    }

    fn legacy_artefacts(
        _config: &SpeechExperiment,
        dir: &Path,
    ) -> Option<anyhow::Result<SpeechArtefacts>> {
        data::legacy(dir)
    }

    fn check(config: &SpeechExperiment, artefacts: &SpeechArtefacts) -> anyhow::Result<()> {
        data::check(config, artefacts)
    }

    fn model(
        config: &SpeechExperiment,
        _artefacts: &SpeechArtefacts,
        device: &Device,
    ) -> anyhow::Result<SpeechClassifier> {
        config.model_config().try_init(device).map_err(model_error)
    }

    fn loaders(
        config: &SpeechExperiment,
        data: &Self::Data,
        device: &Device,
    ) -> anyhow::Result<Loaders<FrameBatch>> {
        data::loaders(config, data, device)
    }

    fn metrics(
        training: SupervisedTraining<Step<SpeechClassifier>>,
    ) -> SupervisedTraining<Step<SpeechClassifier>> {
        training
            .metric_train_numeric(AccuracyMetric::new())
            .metric_valid_numeric(AccuracyMetric::new())
    }

    fn score(
        config: &SpeechExperiment,
        data: &Self::Data,
        model: &SpeechClassifier,
        device: &Device,
    ) -> anyhow::Result<score::SpeechReport> {
        score::score(config, data, model, device)
    }
}

impl Task for SpeechCtcTask {
    const NAME: &'static str = "speech";
    const COMMANDS: &'static [&'static dyn TaskCommand] = &[&commands::PREDICT, &inspect::INSPECT];
    type Config = SpeechExperiment;
    type Artefacts = SpeechArtefacts;
    type Data = data::SpeechData;
    type Model = CtcModel;
    type Report = score::SequenceReport;

    fn data(
        config: &SpeechExperiment,
        artefacts: Option<SpeechArtefacts>,
    ) -> anyhow::Result<Self::Data> {
        require_target(config, Target::Sequence)?;
        data::read(config, artefacts)
    }

    fn artefacts(data: &Self::Data) -> SpeechArtefacts {
        data.artefacts()
    }

    fn legacy_artefacts(
        _config: &SpeechExperiment,
        dir: &Path,
    ) -> Option<anyhow::Result<SpeechArtefacts>> {
        data::legacy(dir)
    }

    fn check(config: &SpeechExperiment, artefacts: &SpeechArtefacts) -> anyhow::Result<()> {
        data::check(config, artefacts)
    }

    fn model(
        config: &SpeechExperiment,
        _artefacts: &SpeechArtefacts,
        device: &Device,
    ) -> anyhow::Result<CtcModel> {
        Ok(CtcModel {
            net: config
                .model_config()
                .try_init(device)
                .map_err(model_error)?,
        })
    }

    fn loaders(
        config: &SpeechExperiment,
        data: &Self::Data,
        device: &Device,
    ) -> anyhow::Result<Loaders<FrameBatch>> {
        data::loaders(config, data, device)
    }

    fn score(
        config: &SpeechExperiment,
        data: &Self::Data,
        model: &CtcModel,
        device: &Device,
    ) -> anyhow::Result<score::SequenceReport> {
        score::score_sequences(config, data, model, device)
    }
}

/// `task = "speech"` in the registry: [`SpeechTask`] or [`SpeechCtcTask`] by `data.target`.
pub struct Speech;

/// The registry's entry for `task = "speech"`.
pub static SPEECH: Speech = Speech;

static DIGIT: Entry<SpeechTask> = Entry::new();
static SEQUENCE: Entry<SpeechCtcTask> = Entry::new();

/// The `data.target` of an experiment file with overrides.
pub fn target_of(file: &ExperimentFile, overrides: &[String]) -> anyhow::Result<Target> {
    let (config, _): (SpeechExperiment, _) = crate::config::resolve_file(Some(file), overrides)?;
    Ok(config.data.target)
}

fn entry(target: Target) -> &'static dyn Registered {
    match target {
        Target::Digit => &DIGIT,
        Target::Sequence => &SEQUENCE,
    }
}

fn entry_of_run(dir: &Path) -> anyhow::Result<&'static dyn Registered> {
    let file = ExperimentFile::read(&crate::run::config_of_run(dir)?)?;
    Ok(entry(target_of(&file, &[])?))
}

impl Registered for Speech {
    fn name(&self) -> &'static str {
        SpeechTask::NAME
    }

    fn print_config(&self, file: &ExperimentFile, overrides: &[String]) -> anyhow::Result<String> {
        entry(target_of(file, overrides)?).print_config(file, overrides)
    }

    fn train(
        &self,
        file: &ExperimentFile,
        overrides: &[String],
        runs: &Path,
        device: &Device,
    ) -> anyhow::Result<(PathBuf, Trained)> {
        entry(target_of(file, overrides)?).train(file, overrides, runs, device)
    }

    fn resume(&self, dir: &Path, device: &Device) -> anyhow::Result<Trained> {
        entry_of_run(dir)?.resume(dir, device)
    }

    fn eval(&self, dir: &Path, device: &Device) -> anyhow::Result<String> {
        entry_of_run(dir)?.eval(dir, device)
    }

    fn commands(&self) -> &'static [&'static dyn TaskCommand] {
        // Both targets' runs take the same commands.
        SpeechTask::COMMANDS
    }
}
