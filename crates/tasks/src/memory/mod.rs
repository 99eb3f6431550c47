//! Long-range memory: the synthetic problems that show how far back a recurrent network
//! remembers — the adding problem, copy memory and parity with longer test strings (see
//! [`data`]) — each scored beside its trivial baseline, with any cell of the models crate. One
//! file per job: [`config`], [`data`] (generation and batches), [`model`](MemoryModel),
//! [`score`], and the `gradients` command ([`flow`]: how far back the loss reaches).

mod commands;
pub mod config;
pub mod data;
mod model;
pub mod score;

use anyhow::bail;
use burn::prelude::Device;
use rnnlab_models::RecurrentConfig;

pub use commands::{GRADIENTS, GradientsArgs, INSPECT, InspectArgs, flow};
pub use config::{MemoryExperiment, Problem};
pub use model::{MemoryConfig, MemoryModel};

use crate::task::{Task, model_error};
use crate::task_command::TaskCommand;
use crate::training::Loaders;

/// The memory task (`task = "memory"`).
pub struct MemoryTask;

impl Task for MemoryTask {
    const NAME: &'static str = "memory";
    type Config = MemoryExperiment;
    type Artefacts = data::MemoryArtefacts;
    type Data = data::MemoryData;
    type Model = MemoryModel;
    type Report = score::MemoryReport;

    fn data(
        config: &MemoryExperiment,
        _artefacts: Option<data::MemoryArtefacts>,
    ) -> anyhow::Result<data::MemoryData> {
        Ok(data::generate(config))
    }

    fn artefacts(data: &data::MemoryData) -> data::MemoryArtefacts {
        data::MemoryArtefacts {
            problem: data.problem,
        }
    }

    fn check(config: &MemoryExperiment, artefacts: &data::MemoryArtefacts) -> anyhow::Result<()> {
        if config.data.problem != artefacts.problem {
            bail!(
                "data.problem = \"{}\": the run was trained on \"{}\"",
                config.data.problem.name(),
                artefacts.problem.name()
            );
        }
        Ok(())
    }

    fn model(
        config: &MemoryExperiment,
        artefacts: &data::MemoryArtefacts,
        device: &Device,
    ) -> anyhow::Result<MemoryModel> {
        let m = &config.model;
        let rnn = RecurrentConfig::new(m.cell, data::d_input(artefacts.problem), m.d_hidden)
            .with_n_layers(m.n_layers)
            .with_dropout(m.dropout);
        MemoryConfig::new(m.stack.apply(rnn), artefacts.problem)
            .try_init(device)
            .map_err(model_error)
    }

    fn loaders(
        config: &MemoryExperiment,
        data: &data::MemoryData,
        device: &Device,
    ) -> anyhow::Result<Loaders<data::MemoryBatch>> {
        Ok(data::loaders(config, data, device))
    }

    const COMMANDS: &'static [&'static dyn TaskCommand] =
        &[&commands::GRADIENTS, &commands::INSPECT];

    fn score(
        config: &MemoryExperiment,
        data: &data::MemoryData,
        model: &MemoryModel,
        device: &Device,
    ) -> anyhow::Result<score::MemoryReport> {
        score::score(config, data, model, device)
    }
}
