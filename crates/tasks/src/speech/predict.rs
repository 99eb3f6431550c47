//! `rnnlab predict` on a speech run: each WAV file's digit (classification) or digit string
//! (CTC, beam search) with its probability, and the frame-wise class probabilities the plot
//! draws.

use std::path::Path;

use burn::Tensor;
use burn::prelude::Device;
use burn::tensor::TensorData;
use burn::tensor::activation::softmax;
use rnnlab_data::audio::{FeatureExtractor, read_wav};
use rnnlab_data::timeseries::Scaler;

use super::{SpeechArtefacts, SpeechCtcTask, SpeechExperiment, SpeechTask, Target, ctc, target_of};
use crate::metrics::read_floats;
use crate::task::{Loaded, load};

/// One recording, recognised.
#[derive(Clone, Debug)]
pub struct Prediction {
    /// The digit, or the digit string.
    pub text: String,
    /// Its probability (for a string: summed over its alignments in the beam).
    pub probability: f64,
    /// `[frames][classes]`: each frame's class probabilities (classification: the head applied
    /// to every frame's output; CTC: what the loss reads, blank first).
    pub frame_probabilities: Vec<Vec<f32>>,
    /// The name of every class.
    pub class_names: Vec<String>,
    /// `[frames][n_mels]`: the recording's log-mel energies (before normalisation).
    pub log_mel: Vec<Vec<f32>>,
    /// Seconds between frames.
    pub hop_seconds: f64,
}

/// How a run turns a recording into its model's input: the config's feature extractor and
/// the run's normaliser.
pub struct Frontend {
    extractor: FeatureExtractor,
    normalizer: Scaler,
}

impl Frontend {
    /// The front end of a run with `config` and `artefacts`.
    pub fn new(config: &SpeechExperiment, artefacts: &SpeechArtefacts) -> anyhow::Result<Self> {
        Ok(Self {
            extractor: FeatureExtractor::new(&config.data.features)?,
            normalizer: artefacts.normalizer.clone(),
        })
    }

    /// The normalised features of `path` as a batch of one, and its log-mel energies.
    pub(crate) fn prepare(
        &self,
        path: &Path,
        device: &Device,
    ) -> anyhow::Result<(Tensor<3>, Vec<Vec<f32>>)> {
        let mel = self.extractor.log_mel(&read_wav(path)?, path)?;
        let mut features = self.extractor.from_log_mel(&mel);
        self.normalizer.transform(&mut features.values);
        let (t, dim) = (features.frames, features.dim);
        let x = Tensor::<3>::from_data(TensorData::new(features.values, [1, t, dim]), device);
        Ok((x, (0..mel.frames).map(|i| mel.frame(i).to_vec()).collect()))
    }

    fn hop_seconds(&self) -> f64 {
        self.extractor.hop() as f64 / self.extractor.config().sample_rate as f64
    }
}

fn digits() -> Vec<String> {
    (0..10).map(|d| d.to_string()).collect()
}

/// Classifies the WAV file at `path` with a digit run's model.
pub fn predict(
    run: &Loaded<SpeechTask>,
    frontend: &Frontend,
    path: &Path,
    device: &Device,
) -> anyhow::Result<Prediction> {
    let (x, log_mel) = frontend.prepare(path, device)?;
    let t = log_mel.len();
    let mask = Tensor::<2>::ones([1, t], device).equal_elem(1.0);
    let out = run.model.forward(x.clone(), &[t], mask);
    let probabilities = read_floats(softmax(out.logits, 1))?;
    let n = probabilities.len();
    let frames = read_floats(softmax(run.model.frame_logits(x, &[t]), 2))?;
    let digit = (0..n)
        .max_by(|&a, &b| probabilities[a].total_cmp(&probabilities[b]))
        .unwrap_or(0);
    Ok(Prediction {
        text: digit.to_string(),
        probability: probabilities[digit] as f64,
        frame_probabilities: frames.chunks(n).map(<[f32]>::to_vec).collect(),
        class_names: digits(),
        log_mel,
        hop_seconds: frontend.hop_seconds(),
    })
}

/// Transcribes the WAV file at `path` with a CTC run's model (beam search, `decode.beam`).
pub fn transcribe(
    run: &Loaded<SpeechCtcTask>,
    frontend: &Frontend,
    path: &Path,
    device: &Device,
) -> anyhow::Result<Prediction> {
    let (x, log_mel) = frontend.prepare(path, device)?;
    let t = log_mel.len();
    let lp = read_floats(run.model.log_probs(x, &[t]))?;
    let rows: Vec<Vec<f32>> = lp
        .chunks(lp.len() / t.max(1))
        .map(<[f32]>::to_vec)
        .collect();
    let (digits, logp) = ctc::beam(&rows, run.config.decode.beam);
    let text: String = digits.iter().map(|d| d.to_string()).collect();
    let mut names = vec!["blank".to_string()];
    names.extend(self::digits());
    Ok(Prediction {
        text: if text.is_empty() {
            "(nothing)".into()
        } else {
            text
        },
        probability: logp.exp(),
        frame_probabilities: rows
            .iter()
            .map(|r| r.iter().map(|v| v.exp()).collect())
            .collect(),
        class_names: names,
        log_mel,
        hop_seconds: frontend.hop_seconds(),
    })
}

/// What the speech run `dir` recognises in each WAV file of `inputs`, in order (a digit run
/// classifies, a CTC run transcribes).
pub fn recognise(
    dir: &Path,
    inputs: &[String],
    device: &Device,
) -> anyhow::Result<Vec<Prediction>> {
    let config = crate::config::ExperimentFile::read(&crate::run::config_of_run(dir)?)?;
    match target_of(&config, &[])? {
        Target::Digit => {
            let run = load::<SpeechTask>(dir, device)?;
            let frontend = Frontend::new(&run.config, &run.artefacts)?;
            inputs
                .iter()
                .map(|i| predict(&run, &frontend, Path::new(i), device))
                .collect()
        }
        Target::Sequence => {
            let run = load::<SpeechCtcTask>(dir, device)?;
            let frontend = Frontend::new(&run.config, &run.artefacts)?;
            inputs
                .iter()
                .map(|i| transcribe(&run, &frontend, Path::new(i), device))
                .collect()
        }
    }
}
