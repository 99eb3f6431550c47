//! The char-LM experiment: config, training on burn-train's Learner, and the run directory
//! that generation needs (`config.toml`, `tokenizer.json`, `model.bpk`, `metrics.csv`).

use std::path::Path;

use anyhow::{Context, bail};
use burn::data::dataloader::DataLoaderBuilder;
use burn::data::dataset::{Dataset, DatasetError};
use burn::module::Module;
use burn::prelude::Device;
use rnnlab_data::lm::{ContiguousBatches, LmBatcher, LmItem, WindowDataset};
use rnnlab_data::tokenizer::{
    AnyTokenizer, BpeConfig, BpeTokenizer, CharTokenizer, Tokenizer, UnknownPolicy, WordConfig,
    WordTokenizer,
};
use rnnlab_models::{CellType, RecurrentConfig};
use serde::{Deserialize, Serialize};

use super::model::{Carry, TrainingOptions};
use super::{CharLm, CharLmConfig};
use crate::run::{Results, finish};
use crate::training::fit::MODEL_FILE;
use crate::training::{Loaders, TrainSection, fit, load_model};

/// Everything a char-LM run is built from (see `experiments/*.toml`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CharLmExperiment {
    /// Always `charlm`.
    pub task: String,
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
    /// `char`, `word` or `bpe` (byte-level BPE learnt on the training text).
    pub tokenizer: String,
    /// Vocabulary size of the `bpe` tokenizer.
    pub bpe_vocab_size: usize,
    /// Tokens per training window.
    pub seq_len: usize,
    /// Windows per batch.
    pub batch_size: usize,
    /// Training windows start every `window_stride` tokens (1 = every window per epoch).
    pub window_stride: usize,
    /// Validation windows (during training) start every `valid_stride` tokens; the final
    /// evaluation always scores the whole validation split.
    pub valid_stride: usize,
    /// Truncated BPTT with carried state: `batch_size` contiguous streams read in order, each
    /// batch starting from the previous batch's final state (`window_stride` is then unused).
    pub tbptt: bool,
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

impl Default for CharLmExperiment {
    fn default() -> Self {
        Self {
            task: "charlm".into(),
            name: "charlm".into(),
            data: DataSection {
                path: "datasets/text/tinyshakespeare.txt".into(),
                train_fraction: 0.9,
                tokenizer: "char".into(),
                bpe_vocab_size: 1000,
                seq_len: 100,
                batch_size: 32,
                window_stride: 50,
                valid_stride: 500,
                tbptt: false,
            },
            model: ModelSection {
                cell: "lstm".into(),
                d_embed: 64,
                d_hidden: 256,
                n_layers: 2,
                dropout: 0.0,
            },
            train: TrainSection::new(1, 2e-3),
        }
    }
}

/// `model.cell` as a [`CellType`].
pub fn parse_cell(cell: &str) -> anyhow::Result<CellType> {
    Ok(match cell {
        "rnn" => CellType::Rnn,
        "lstm" => CellType::Lstm,
        "gru" => CellType::Gru,
        other => bail!("model.cell = {other:?}: expected \"rnn\", \"lstm\" or \"gru\""),
    })
}

impl CharLmExperiment {
    /// Rejects impossible values, naming the key.
    pub fn validate(&self) -> anyhow::Result<()> {
        if self.task != "charlm" {
            bail!("task = {:?}: this is a charlm experiment", self.task);
        }
        parse_cell(&self.model.cell)?;
        self.train.validate_for(false)?;
        crate::config::require_nonzero(&[
            ("model.d_embed", self.model.d_embed),
            ("model.d_hidden", self.model.d_hidden),
            ("model.n_layers", self.model.n_layers),
        ])?;
        if !matches!(self.data.tokenizer.as_str(), "char" | "word" | "bpe") {
            bail!(
                "data.tokenizer = {:?}: expected \"char\", \"word\" or \"bpe\"",
                self.data.tokenizer
            );
        }
        if !(self.data.train_fraction > 0.0 && self.data.train_fraction < 1.0) {
            bail!(
                "data.train_fraction = {}: must be between 0 and 1 (exclusive)",
                self.data.train_fraction
            );
        }
        crate::config::require_nonzero(&[
            ("data.seq_len", self.data.seq_len),
            ("data.batch_size", self.data.batch_size),
            ("data.window_stride", self.data.window_stride),
            ("data.valid_stride", self.data.valid_stride),
        ])?;
        if !(0.0..1.0).contains(&self.model.dropout) {
            bail!("model.dropout = {}: must be in [0, 1)", self.model.dropout);
        }
        Ok(())
    }

    fn model_config(&self, vocab_size: usize) -> anyhow::Result<CharLmConfig> {
        self.validate()?;
        let rnn = RecurrentConfig::new(
            parse_cell(&self.model.cell)?,
            self.model.d_embed,
            self.model.d_hidden,
        )
        .with_n_layers(self.model.n_layers)
        .with_dropout(self.model.dropout);
        Ok(CharLmConfig::new(vocab_size, rnn))
    }

    fn fit_tokenizer(&self, train_text: &str) -> anyhow::Result<AnyTokenizer> {
        Ok(match self.data.tokenizer.as_str() {
            "word" => AnyTokenizer::Word(WordTokenizer::fit([train_text], &WordConfig::default())),
            "bpe" => {
                let tmp =
                    tempfile::NamedTempFile::new().context("cannot create a temporary file")?;
                std::fs::write(tmp.path(), train_text).context("cannot write a temporary file")?;
                let config = BpeConfig {
                    vocab_size: self.data.bpe_vocab_size,
                    ..BpeConfig::default()
                };
                AnyTokenizer::Bpe(
                    BpeTokenizer::train(&[tmp.path()], &config)
                        .map_err(|e| anyhow::anyhow!("data.bpe_vocab_size: {e}"))?,
                )
            }
            _ => AnyTokenizer::Char(CharTokenizer::fit(train_text, UnknownPolicy::Unk)),
        })
    }
}

/// The train/validation text of an experiment.
struct Corpus {
    train: String,
    valid: String,
}

fn corpus(experiment: &CharLmExperiment) -> anyhow::Result<Corpus> {
    let text = rnnlab_data::error::read_text(Path::new(&experiment.data.path))?;
    let n = text.chars().count();
    let cut = (experiment.data.train_fraction * n as f64) as usize;
    let byte = text.char_indices().nth(cut).map_or(text.len(), |(i, _)| i);
    Ok(Corpus {
        train: text[..byte].to_string(),
        valid: text[byte..].to_string(),
    })
}

/// Training windows of a TBPTT run: item `i` is row `i % B` of contiguous batch `i / B`, so an
/// unshuffled loader with batch size `B` yields [`ContiguousBatches`] in order.
#[derive(Clone)]
struct Streams {
    batches: ContiguousBatches,
    batch_size: usize,
}

impl Dataset<LmItem> for Streams {
    fn get(&self, index: usize) -> Result<LmItem, DatasetError> {
        let (k, row) = (index / self.batch_size, index % self.batch_size);
        if k >= self.batches.len() {
            return Err(DatasetError::new(rnnlab_data::error::DataError::invalid(
                format!("stream item {index} out of range: there are {}", self.len()),
            )));
        }
        Ok(self.batches.items(k).swap_remove(row))
    }

    fn len(&self) -> usize {
        self.batches.len() * self.batch_size
    }
}

crate::experiment::impl_experiment!(CharLmExperiment, train);

/// Trains the experiment into `dir` on `device`; `resume` continues a run from that epoch's
/// checkpoint (the directory must be that run's). Returns the final metrics, also saved as
/// `results.json`.
pub fn train(
    experiment: &CharLmExperiment,
    resolved_toml: &str,
    dir: &Path,
    device: &Device,
    resume: Option<usize>,
) -> anyhow::Result<Results> {
    experiment.validate()?;
    let corpus = corpus(experiment)?;
    let tokenizer = match resume {
        Some(_) => AnyTokenizer::load(&dir.join("tokenizer.json"))?,
        None => experiment.fit_tokenizer(&corpus.train)?,
    };
    let config = experiment.model_config(tokenizer.vocab_size())?;
    // Initialised on the CPU from the seed, then moved: the same seed gives the same initial
    // weights on every device, so runs on flex and wgpu can be compared.
    let mut model: CharLm =
        crate::training::seeded_init(experiment.train.seed, device, |cpu| config.try_init(cpu))
            .map_err(|e| anyhow::anyhow!("model.{e}"))?;
    let train_ids = tokenizer.encode(&corpus.train)?;
    let valid_ids = tokenizer.encode(&corpus.valid)?;
    if let Some(epoch) = resume {
        crate::training::checkpoint::check_fits(&model, dir, epoch)?;
    }
    let d = &experiment.data;
    let valid_data = WindowDataset::new(valid_ids.clone(), d.seq_len)?.with_stride(d.valid_stride);
    let train_device = device.clone().autodiff();
    let (train_loader, steps) = if d.tbptt {
        let streams = Streams {
            batches: ContiguousBatches::new(train_ids, d.batch_size, d.seq_len)?,
            batch_size: d.batch_size,
        };
        let steps = streams.batches.len();
        let loader = DataLoaderBuilder::new(LmBatcher)
            .set_device(train_device.clone())
            .batch_size(d.batch_size)
            .build(streams);
        model.training.carry = Some(Carry::default());
        (loader, steps)
    } else {
        let windows = WindowDataset::new(train_ids, d.seq_len)?.with_stride(d.window_stride);
        let steps = windows.len().div_ceil(d.batch_size);
        let loader = DataLoaderBuilder::new(LmBatcher)
            .set_device(train_device.clone())
            .batch_size(d.batch_size)
            .shuffle(experiment.train.seed)
            .build(windows);
        (loader, steps)
    };
    model.training.grad_clip = experiment.train.grad_clip;
    let valid_loader = DataLoaderBuilder::new(LmBatcher)
        .set_device(train_device.clone())
        .batch_size(d.batch_size)
        .build(valid_data);

    if resume.is_none() {
        crate::run::create(dir, resolved_toml)?;
        tokenizer.save(&dir.join("tokenizer.json"))?;
    }
    let started = std::time::Instant::now();
    let fitted = fit(
        model.train().fork(&train_device),
        Loaders {
            train: train_loader,
            valid: valid_loader,
            steps_per_epoch: steps,
        },
        |t| t,
        &experiment.train,
        dir,
        resume,
    )?;
    let seconds = started.elapsed().as_secs_f64();
    let mut model = fitted.model;
    model.training = TrainingOptions::default();
    if let Some(reason) = fitted.stopped {
        bail!("training stopped: {reason}");
    }
    let results = evaluate_split(&model, &valid_ids, corpus.valid.chars().count(), d, device)?;
    let report = describe(&results);
    finish(
        dir,
        results,
        (fitted.epochs_run, fitted.epoch),
        seconds,
        &report,
    )
}

/// What `train` and `eval` print for a language-model run: the validation line, then each
/// value under its `results.json` name.
pub fn describe(results: &Results) -> String {
    let mut text = format!(
        "valid loss {:.4} nats/token, {:.4} nats/char ({:.4} bits/char, perplexity {:.2})\n",
        results["valid_loss"],
        results["valid_nats_per_char"],
        results["valid_bits_per_char"],
        results["valid_perplexity"]
    );
    for (key, value) in results {
        text.push_str(&format!("  {key:<22} {value:.4}\n"));
    }
    text
}

/// Scores every token of the validation split once (non-overlapping windows of `seq_len`):
/// `valid_loss` in nats per token, `valid_nats_per_char`, `valid_bits_per_char` and
/// `valid_perplexity` (per token).
fn evaluate_split(
    model: &CharLm,
    ids: &[u32],
    n_chars: usize,
    d: &DataSection,
    device: &Device,
) -> anyhow::Result<Results> {
    let data = WindowDataset::new(ids.to_vec(), d.seq_len)?.with_stride(d.seq_len);
    let loader = DataLoaderBuilder::new(LmBatcher)
        .set_device(device.clone())
        .batch_size(d.batch_size)
        .build(data);
    let (mut nats, mut tokens) = (0.0f64, 0usize);
    for batch in loader.iter() {
        let batch = batch?;
        let [b, t] = batch.target.dims();
        let loss: f64 = model.forward_loss(batch).loss.into_scalar::<f64>();
        nats += loss * (b * t) as f64;
        tokens += b * t;
    }
    let per_token = nats / tokens.max(1) as f64;
    // Tokens scored cover the split but for the last partial window; scale nats/char by the
    // characters those tokens span (approximately the split's chars × scored/total tokens).
    let chars_scored = n_chars as f64 * tokens as f64 / ids.len().max(1) as f64;
    let nats_per_char = nats / chars_scored.max(1.0);
    Ok(Results::from([
        ("valid_loss".into(), per_token),
        ("valid_perplexity".into(), per_token.exp()),
        ("valid_nats_per_char".into(), nats_per_char),
        (
            "valid_bits_per_char".into(),
            nats_per_char / std::f64::consts::LN_2,
        ),
        ("valid_tokens".into(), tokens as f64),
    ]))
}

/// Scores the run's whole validation split again (`rnnlab eval` on a char-LM run).
pub fn evaluate(dir: &Path, device: &Device) -> anyhow::Result<Results> {
    let run = load_run(dir, device)?;
    let corpus = corpus(&run.experiment)?;
    let ids = run.tokenizer.encode(&corpus.valid)?;
    evaluate_split(
        &run.model,
        &ids,
        corpus.valid.chars().count(),
        &run.experiment.data,
        device,
    )
}

/// A trained run, loaded back for generation.
pub struct LoadedRun {
    /// The model on the requested device.
    pub model: CharLm,
    /// The tokenizer it was trained with.
    pub tokenizer: AnyTokenizer,
    /// The resolved experiment.
    pub experiment: CharLmExperiment,
}

/// Loads `dir` (written by [`train`]); every missing file is an error naming it.
pub fn load_run(dir: &Path, device: &Device) -> anyhow::Result<LoadedRun> {
    let (experiment, _): (CharLmExperiment, _) = crate::experiment::of_run(dir)?;
    let tokenizer = AnyTokenizer::load(&dir.join("tokenizer.json"))?;
    let mut model = experiment
        .model_config(tokenizer.vocab_size())?
        .try_init(device)
        .map_err(|e| anyhow::anyhow!("model.{e}"))?;
    load_model(&mut model, &dir.join(MODEL_FILE))?;
    Ok(LoadedRun {
        model,
        tokenizer,
        experiment,
    })
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
        let summary = train(&experiment, &resolved, &run, &Device::flex(), None).unwrap();
        for file in ["config.toml", "tokenizer.json", "model.bpk", "metrics.csv"] {
            assert!(run.join(file).is_file(), "{file} written");
        }
        let csv = std::fs::read_to_string(run.join("metrics.csv")).unwrap();
        assert!(
            csv.starts_with("epoch,split,metric,value\n") && csv.contains("2,valid,Loss,"),
            "{csv}"
        );
        assert!(
            summary["valid_loss"] < 2.0,
            "learnt something: {}",
            summary["valid_loss"]
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
    fn bad_configs_and_incomplete_runs_are_clear_errors() {
        let tmp = tempfile::tempdir().unwrap();
        let (mut experiment, resolved) = tiny(tmp.path());
        experiment.model.cell = "transformer".into();
        let err = train(
            &experiment,
            &resolved,
            &tmp.path().join("r1"),
            &Device::flex(),
            None,
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
                &Device::flex(),
                None
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
            None,
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
