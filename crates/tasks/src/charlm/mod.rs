//! Text generation: a character (or word/BPE) language model on the models crate's recurrent
//! stack, scored beside an interpolated Kneser-Ney n-gram, and sampled through the single-step
//! API. One file per job: [`config`] (the experiment file), [`data`] (corpus, tokenizer,
//! loaders), [`model`](CharLm), [`score`] (the report), [`ngram`] (the baseline), sampling.

pub mod config;
pub mod data;
mod model;
pub mod ngram;
mod sample;
pub mod score;

use std::path::Path;

use burn::prelude::Device;
use rnnlab_data::lm::LmBatch;
use rnnlab_data::tokenizer::Tokenizer;

pub use config::CharLmExperiment;
pub use model::{CharLm, CharLmConfig};
pub use sample::{Sampler, SamplingConfig};

use crate::task::{Task, model_error};
use crate::training::{Loaders, Policy};

/// The language-modelling task (`task = "charlm"`).
pub struct CharLmTask;

impl Task for CharLmTask {
    const NAME: &'static str = "charlm";
    type Config = CharLmExperiment;
    type Data = data::LmData;
    type Model = CharLm;
    type Report = score::LmReport;

    fn data(config: &CharLmExperiment, run: Option<&Path>) -> anyhow::Result<data::LmData> {
        data::read(config, run)
    }

    fn save(data: &data::LmData, dir: &Path) -> anyhow::Result<()> {
        Ok(data.tokenizer.save(&dir.join(data::TOKENIZER_FILE))?)
    }

    fn model(
        config: &CharLmExperiment,
        data: &data::LmData,
        device: &Device,
    ) -> anyhow::Result<CharLm> {
        config
            .model_config(data.tokenizer.vocab_size())
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

#[cfg(test)]
mod tests {
    use std::path::Path;

    use burn::prelude::Device;
    use rnnlab_data::tokenizer::Tokenizer;

    use super::*;
    use crate::task::{load, train};

    fn tiny(dir: &Path) -> (CharLmExperiment, String) {
        let text_path = dir.join("text.txt");
        std::fs::write(
            &text_path,
            "to be or not to be, that is the question.\n".repeat(60),
        )
        .unwrap();
        let overrides = [
            format!("data.path={}", text_path.display()),
            "data.seq_len=16".into(),
            "data.batch_size=8".into(),
            "data.window_stride=4".into(),
            "data.valid_stride=8".into(),
            "model.d_embed=8".into(),
            "model.d_hidden=32".into(),
            "model.n_layers=1".into(),
            "train.epochs=2".into(),
            "train.lr=0.01".into(),
        ];
        let (experiment, table): (CharLmExperiment, _) =
            crate::config::resolve(None, &overrides).unwrap();
        (experiment, toml::to_string(&table).unwrap())
    }

    #[test]
    fn trains_writes_a_run_directory_and_generates_from_it() {
        let tmp = tempfile::tempdir().unwrap();
        let (experiment, resolved) = tiny(tmp.path());
        let run = tmp.path().join("runs/tiny/1");
        let summary =
            train::<CharLmTask>(&experiment, &resolved, &run, &Device::flex(), None).unwrap();
        for file in ["config.toml", "tokenizer.json", "model.bpk", "metrics.csv"] {
            assert!(run.join(file).is_file(), "{file} written");
        }
        let csv = std::fs::read_to_string(run.join("metrics.csv")).unwrap();
        assert!(
            csv.starts_with("epoch,step,split,metric,value\n")
                && csv.contains("1,2,train_steps,Loss,")
                && csv.contains(",valid,Loss,"),
            "{csv}"
        );
        assert!(summary["baseline_nats_per_char"] > 0.0, "{summary:?}");
        assert!(
            summary["valid_loss"] < 2.0,
            "learnt something: {}",
            summary["valid_loss"]
        );
        let loaded = load::<CharLmTask>(&run, &Device::flex()).unwrap();
        let tokenizer = &loaded.data.tokenizer;
        let prompt = tokenizer.encode("to be or").unwrap();
        let sampler = Sampler::new(SamplingConfig {
            temperature: 0.0,
            top_k: 0,
            top_p: 1.0,
            seed: 0,
        });
        let text = tokenizer.decode(&sampler.generate(&loaded.model, &prompt, 5, &Device::flex()));
        assert_eq!(text.chars().count(), 5);
    }

    #[test]
    fn bad_configs_and_incomplete_runs_are_clear_errors() {
        let tmp = tempfile::tempdir().unwrap();
        let (mut experiment, resolved) = tiny(tmp.path());
        let err = crate::task::resolve::<CharLmTask>(None, &["model.cell=transformer".into()])
            .unwrap_err()
            .to_string();
        assert!(err.contains("model.cell"), "{err}");
        experiment.model.cell = rnnlab_models::CellType::Gru;
        experiment.model.d_hidden = 0;
        let err = format!(
            "{:#}",
            train::<CharLmTask>(
                &experiment,
                &resolved,
                &tmp.path().join("r2"),
                &Device::flex(),
                None
            )
            .unwrap_err()
        );
        assert!(err.contains("d_hidden"), "{err}");
        experiment.model.d_hidden = 8;
        experiment.train.lr = -1.0;
        let err = train::<CharLmTask>(
            &experiment,
            &resolved,
            &tmp.path().join("r3"),
            &Device::flex(),
            None,
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("train.lr = -1"), "{err}");
        let err = format!(
            "{:#}",
            load::<CharLmTask>(&tmp.path().join("nope"), &Device::flex())
                .err()
                .unwrap()
        );
        assert!(err.contains("config.toml"), "{err}");
    }
}
