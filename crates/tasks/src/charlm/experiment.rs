//! The char-LM experiment: config, training on burn-train's Learner, and the run directory
//! that generation needs (`config.toml`, `tokenizer.json`, `model.bpk`, `metrics.csv`).

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use burn::data::dataloader::DataLoaderBuilder;
use burn::module::Module;
use burn::optim::AdamConfig;
use burn::prelude::Device;
use burn::train::metric::LossMetric;
use burn::train::{Learner, SupervisedTraining};
use burn_store::{BurnpackStore, ModuleSnapshot};
use rnnlab_data::lm::{LmBatcher, LmSplit, WindowDataset};
use rnnlab_data::tokenizer::{AnyTokenizer, CharTokenizer, Tokenizer, UnknownPolicy};
use rnnlab_models::{CellType, RecurrentConfig};
use serde::{Deserialize, Serialize};

use super::{CharLm, CharLmConfig};
use crate::render::LineRenderer;

/// Everything a char-LM run is built from (see `experiments/*.toml`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CharLmExperiment {
    /// Run name: runs go to `runs/<name>/<run-id>/`.
    pub name: String,
    /// The text corpus.
    pub data: DataSection,
    /// The network.
    pub model: ModelSection,
    /// Optimisation.
    pub train: TrainSection,
}

/// `[data]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataSection {
    /// UTF-8 text file.
    pub path: String,
    /// First fraction for training, the rest for validation (nanoGPT: 0.9).
    pub train_fraction: f64,
    /// Characters per training window.
    pub seq_len: usize,
    /// Windows per batch.
    pub batch_size: usize,
    /// Training windows start every `window_stride` characters (1 = every window per epoch).
    pub window_stride: usize,
    /// Validation windows start every `valid_stride` characters.
    pub valid_stride: usize,
}

/// `[model]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelSection {
    /// `rnn`, `lstm` or `gru`.
    pub cell: String,
    /// Embedding size.
    pub d_embed: usize,
    /// Hidden size.
    pub d_hidden: usize,
    /// Stacked layers.
    pub n_layers: usize,
    /// Dropout between layers.
    pub dropout: f64,
}

/// `[train]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainSection {
    /// Passes over the training windows.
    pub epochs: usize,
    /// Adam learning rate.
    pub lr: f64,
    /// Seed of initialisation and shuffling.
    pub seed: u64,
}

impl Default for CharLmExperiment {
    fn default() -> Self {
        Self {
            name: "charlm".into(),
            data: DataSection {
                path: "datasets/text/tinyshakespeare.txt".into(),
                train_fraction: 0.9,
                seq_len: 100,
                batch_size: 32,
                window_stride: 50,
                valid_stride: 500,
            },
            model: ModelSection {
                cell: "lstm".into(),
                d_embed: 64,
                d_hidden: 256,
                n_layers: 2,
                dropout: 0.0,
            },
            train: TrainSection {
                epochs: 1,
                lr: 2e-3,
                seed: 0,
            },
        }
    }
}

impl CharLmExperiment {
    fn model_config(&self, vocab_size: usize) -> anyhow::Result<CharLmConfig> {
        let cell = match self.model.cell.as_str() {
            "rnn" => CellType::Rnn,
            "lstm" => CellType::Lstm,
            "gru" => CellType::Gru,
            other => bail!("model.cell = {other:?}: expected \"rnn\", \"lstm\" or \"gru\""),
        };
        if self.train.lr <= 0.0 || !self.train.lr.is_finite() {
            bail!("train.lr = {}: must be a positive number", self.train.lr);
        }
        for (key, value) in [
            ("data.seq_len", self.data.seq_len),
            ("data.batch_size", self.data.batch_size),
            ("data.window_stride", self.data.window_stride),
            ("data.valid_stride", self.data.valid_stride),
            ("train.epochs", self.train.epochs),
        ] {
            if value == 0 {
                bail!("{key} = 0: must be at least 1");
            }
        }
        let rnn = RecurrentConfig::new(cell, self.model.d_embed, self.model.d_hidden)
            .with_n_layers(self.model.n_layers)
            .with_dropout(self.model.dropout);
        Ok(CharLmConfig::new(vocab_size, rnn))
    }
}

/// What a finished run left behind.
#[derive(Debug)]
pub struct RunSummary {
    /// The run directory.
    pub dir: PathBuf,
    /// Mean validation loss (nats per character) of the trained model.
    pub valid_loss: f64,
}

/// Trains the experiment into `dir` (created; must not exist yet) on `device`.
pub fn train(
    experiment: &CharLmExperiment,
    resolved_toml: &str,
    dir: &Path,
    device: &Device,
) -> anyhow::Result<RunSummary> {
    let text = rnnlab_data::error::read_text(Path::new(&experiment.data.path))?;
    let cut = (experiment.data.train_fraction * text.chars().count() as f64) as usize;
    let train_text: String = text.chars().take(cut).collect();
    let tokenizer = CharTokenizer::fit(&train_text, UnknownPolicy::Unk);
    let config = experiment.model_config(tokenizer.vocab_size())?;
    // Initialised on the CPU from the seed, then moved: the same seed gives the same initial
    // weights on every device, so runs on flex and wgpu can be compared.
    let cpu = Device::flex();
    cpu.seed(experiment.train.seed);
    let model: CharLm = config
        .try_init(&cpu)
        .map_err(|e| anyhow::anyhow!("model.{e}"))?;
    let split = LmSplit::by_fraction(tokenizer.encode(&text)?, experiment.data.train_fraction)?;

    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create the run directory {}", dir.display()))?;
    std::fs::write(dir.join("config.toml"), resolved_toml).context("cannot write config.toml")?;
    AnyTokenizer::Char(tokenizer).save(&dir.join("tokenizer.json"))?;

    let train_data = WindowDataset::new(split.train, experiment.data.seq_len)?
        .with_stride(experiment.data.window_stride);
    let valid_data = WindowDataset::new(split.valid, experiment.data.seq_len)?
        .with_stride(experiment.data.valid_stride);
    let train_device = device.clone().autodiff();
    let loader = |shuffle: bool, data: WindowDataset| {
        let builder = DataLoaderBuilder::new(LmBatcher)
            .set_device(train_device.clone())
            .batch_size(experiment.data.batch_size);
        let builder = if shuffle {
            builder.shuffle(experiment.train.seed)
        } else {
            builder
        };
        builder.build(data)
    };
    let model = model.train().fork(&train_device);
    let learner = Learner::new(model, AdamConfig::new().init(), experiment.train.lr);
    let result = SupervisedTraining::new(
        dir.join("checkpoints"),
        loader(true, train_data),
        loader(false, valid_data.clone()),
    )
    .metric_train_numeric(LossMetric::new())
    .metric_valid_numeric(LossMetric::new())
    .num_epochs(experiment.train.epochs)
    .renderer(Box::new(LineRenderer::new(dir.join("metrics.csv"))))
    .launch(learner);
    let model = result.model;
    let mut store = BurnpackStore::from_file(dir.join("model.bpk"));
    model
        .save_into(&mut store)
        .map_err(|e| anyhow::anyhow!("cannot save the model: {e:?}"))?;

    let valid = DataLoaderBuilder::new(LmBatcher)
        .set_device(device.clone())
        .batch_size(experiment.data.batch_size)
        .build(valid_data);
    let (mut sum, mut count) = (0.0, 0usize);
    for batch in valid.iter() {
        let loss: f32 = model.forward_loss(batch?).loss.into_scalar();
        sum += loss as f64;
        count += 1;
    }
    Ok(RunSummary {
        dir: dir.to_path_buf(),
        valid_loss: sum / count.max(1) as f64,
    })
}

/// A trained run, loaded back for generation.
pub struct LoadedRun {
    /// The model on the requested device.
    pub model: CharLm,
    /// The tokenizer it was trained with.
    pub tokenizer: AnyTokenizer,
}

/// Loads `dir` (written by [`train`]); every missing file is an error naming it.
pub fn load_run(dir: &Path, device: &Device) -> anyhow::Result<LoadedRun> {
    let config_path = dir.join("config.toml");
    let (experiment, _): (CharLmExperiment, _) = crate::config::resolve(Some(&config_path), &[])?;
    let tokenizer = AnyTokenizer::load(&dir.join("tokenizer.json"))?;
    let model_path = dir.join("model.bpk");
    if !model_path.is_file() {
        bail!(
            "{}: missing; is {} a finished run directory?",
            model_path.display(),
            dir.display()
        );
    }
    let mut model = experiment
        .model_config(tokenizer.vocab_size())?
        .try_init(device)
        .map_err(|e| anyhow::anyhow!("model.{e}"))?;
    let mut store = BurnpackStore::from_file(&model_path);
    model
        .load_from(&mut store)
        .map_err(|e| anyhow::anyhow!("{}: does not fit the config: {e:?}", model_path.display()))?;
    Ok(LoadedRun { model, tokenizer })
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let summary = train(&experiment, &resolved, &run, &Device::flex()).unwrap();
        for file in ["config.toml", "tokenizer.json", "model.bpk", "metrics.csv"] {
            assert!(run.join(file).is_file(), "{file} written");
        }
        let csv = std::fs::read_to_string(run.join("metrics.csv")).unwrap();
        assert!(
            csv.starts_with("epoch,split,metric,value\n") && csv.contains("2,valid,Loss,"),
            "{csv}"
        );
        assert!(
            summary.valid_loss < 2.0,
            "learnt something: {}",
            summary.valid_loss
        );
        let loaded = load_run(&run, &Device::flex()).unwrap();
        let prompt = loaded.tokenizer.encode("to be or").unwrap();
        let sampler = super::super::Sampler::new(super::super::SamplingConfig {
            temperature: 0.0,
            top_k: 0,
            top_p: 1.0,
            seed: 0,
        });
        let text =
            loaded
                .tokenizer
                .decode(&sampler.generate(&loaded.model, &prompt, 5, &Device::flex()));
        assert_eq!(text.chars().count(), 5);
    }

    /// The CI smoke run on wgpu (Mesa's software Vulkan there): the same tiny run as on flex
    /// gives the same losses. Skipped only with `RNNLAB_SKIP_WGPU=1`.
    #[test]
    fn wgpu_run_matches_flex() {
        if std::env::var("RNNLAB_SKIP_WGPU").is_ok_and(|v| v == "1") {
            eprintln!("RNNLAB_SKIP_WGPU=1: wgpu smoke run skipped");
            return;
        }
        let tmp = tempfile::tempdir().unwrap();
        let (experiment, resolved) = tiny(tmp.path());
        let wgpu = crate::device::parse("wgpu").unwrap();
        let on_gpu = train(&experiment, &resolved, &tmp.path().join("wgpu"), &wgpu).unwrap();
        let on_cpu = train(
            &experiment,
            &resolved,
            &tmp.path().join("flex"),
            &Device::flex(),
        )
        .unwrap();
        let (a, b) = (on_gpu.valid_loss, on_cpu.valid_loss);
        assert!((a - b).abs() <= 1e-3 * b.max(1.0), "wgpu {a} vs flex {b}");
    }

    #[test]
    fn bad_configs_and_incomplete_runs_are_clear_errors() {
        let tmp = tempfile::tempdir().unwrap();
        let (mut experiment, resolved) = tiny(tmp.path());
        experiment.model.cell = "transformer".into();
        let err = train(
            &experiment,
            &resolved,
            &tmp.path().join("r1"),
            &Device::flex(),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("model.cell = \"transformer\""), "{err}");
        assert!(
            !tmp.path().join("r1").exists(),
            "nothing written for a bad config"
        );
        experiment.model.cell = "gru".into();
        experiment.model.d_hidden = 0;
        let err = format!(
            "{:#}",
            train(
                &experiment,
                &resolved,
                &tmp.path().join("r2"),
                &Device::flex()
            )
            .unwrap_err()
        );
        assert!(err.contains("d_hidden"), "{err}");
        experiment.model.d_hidden = 8;
        experiment.train.lr = -1.0;
        let err = train(
            &experiment,
            &resolved,
            &tmp.path().join("r3"),
            &Device::flex(),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("train.lr = -1"), "{err}");
        let err = format!(
            "{:#}",
            load_run(&tmp.path().join("nope"), &Device::flex())
                .err()
                .unwrap()
        );
        assert!(err.contains("config.toml"), "{err}");
    }
}
