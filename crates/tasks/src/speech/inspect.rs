//! `rnnlab inspect` on a spoken-digit run: the stack traced over one recording's frames, its
//! units over the frames, its gates, the reach of the loss of the predicted digit, and (with
//! attention pooling) the frames' weights. On a digit-string (CTC) run the loss is the
//! negative log-probability of the best frame-by-frame path, and the page names the beam
//! search's transcription.

use std::path::PathBuf;

use anyhow::bail;
use burn::Tensor;
use burn::module::Module;
use burn::nn::loss::CrossEntropyLossConfig;
use burn::prelude::Device;
use burn::tensor::activation::log_softmax;
use burn::tensor::{Int, TensorData};
use rnnlab_models::{Pooled, pool};

use super::{Frontend, SpeechCtcTask, SpeechTask, Target, target_of, transcribe};
use crate::inspect::{Extra, Inspection, parse_units, write};
use crate::metrics::read_floats;
use crate::task::load;
use crate::task_command::Cmd;

/// `rnnlab inspect` (speech).
pub static INSPECT: Cmd<InspectArgs> = Cmd::new(
    "inspect",
    "A spoken-digit run's network on a WAV file, as an HTML page: units, gates, gradient flow",
    inspect,
);

/// The arguments of `inspect` (speech).
#[derive(clap::Args, Debug)]
pub struct InspectArgs {
    /// The run directory.
    pub run: PathBuf,
    /// The recording to run the model over.
    #[arg(long)]
    pub wav: Option<PathBuf>,
    /// Units to show: `17` (top layer) or `1:17` (layer-direction:unit), comma-separated;
    /// default: the units following simple features of the input and the most active ones.
    #[arg(long)]
    pub units: Option<String>,
    /// Where to write the page.
    #[arg(long, default_value = "inspect.html")]
    pub out: PathBuf,
}

fn inspect(a: InspectArgs, device: &Device) -> anyhow::Result<()> {
    let Some(wav) = &a.wav else {
        bail!("inspect needs the input: --wav FILE");
    };
    let config = crate::config::ExperimentFile::read(&crate::run::config_of_run(&a.run)?)?;
    if target_of(&config, &[])? == Target::Sequence {
        return inspect_ctc(&a, wav, device);
    }
    let run = load::<SpeechTask>(&a.run, device)?;
    let frontend = Frontend::new(&run.config, &run.artefacts)?;
    let autodiff = device.clone().autodiff();
    let (x, log_mel) = frontend.prepare(wav, &autodiff)?;
    let frames = log_mel.len();
    let model = run.model.clone().to_device(&autodiff);
    // The stack alone (no SpecAugment: inspection is inference).
    let trace = model.rnn.trace(x, None, None);
    let mask = Tensor::<2>::ones([1, frames], &autodiff).equal_elem(1.0);
    let Pooled { vector, weights } = pool(
        model.pooling,
        model.attention.as_ref(),
        trace.output.clone(),
        trace.state.hidden.clone(),
        &[frames],
        mask,
    );
    let logits = model.head.forward(vector);
    let probabilities = read_floats(logits.clone())?;
    let digit = (0..probabilities.len())
        .max_by(|&i, &j| probabilities[i].total_cmp(&probabilities[j]))
        .unwrap_or(0);
    let target = Tensor::<1, Int>::from_data(TensorData::new(vec![digit as i64], [1]), &autodiff);
    let loss = CrossEntropyLossConfig::new()
        .init(&autodiff)
        .forward(logits, target);
    let flow = trace.hidden_grad_norms(&loss.backward());
    let (tokens, features) = self::frames(&log_mel);
    let chosen = parse_units(a.units.as_deref().unwrap_or(""), trace.layers.len() - 1)?;
    let mut inspection = Inspection::new(
        format!("{}: {} → {digit}", a.run.display(), wav.display()),
        tokens,
        &trace,
        &chosen,
        &features,
        flow,
        format!("the cross-entropy of the predicted digit, {digit}"),
    )?;
    if let Some(weights) = weights {
        inspection.extras.push(Extra::TokenWeights {
            title: "Frame weights (attention pooling)".into(),
            weights: read_floats(weights)?.into_iter().map(f64::from).collect(),
        });
    }
    write(&inspection, &a.out)?;
    println!("wrote {}", a.out.display());
    Ok(())
}

/// [`inspect`] on a digit-string (CTC) run.
fn inspect_ctc(a: &InspectArgs, wav: &std::path::Path, device: &Device) -> anyhow::Result<()> {
    let run = load::<SpeechCtcTask>(&a.run, device)?;
    let frontend = Frontend::new(&run.config, &run.artefacts)?;
    let transcription = transcribe(&run, &frontend, wav, device)?.text;
    let autodiff = device.clone().autodiff();
    let (x, log_mel) = frontend.prepare(wav, &autodiff)?;
    let model = run.model.clone().to_device(&autodiff);
    let trace = model.net.rnn.trace(x, None, None);
    let log_probs = log_softmax(model.net.head.forward(trace.output.clone()), 2);
    let loss = log_probs.max_dim(2).sum().neg();
    let flow = trace.hidden_grad_norms(&loss.backward());
    let (tokens, features) = frames(&log_mel);
    let chosen = parse_units(a.units.as_deref().unwrap_or(""), trace.layers.len() - 1)?;
    let inspection = Inspection::new(
        format!("{}: {} → {transcription}", a.run.display(), wav.display()),
        tokens,
        &trace,
        &chosen,
        &features,
        flow,
        "the negative log-probability of the best frame-by-frame path".into(),
    )?;
    write(&inspection, &a.out)?;
    println!("wrote {}", a.out.display());
    Ok(())
}

/// Each frame shown by its index every 10 frames, and the features a unit may follow: the
/// frame's loudness (mean log-mel) and its index.
fn frames(log_mel: &[Vec<f32>]) -> (Vec<String>, Vec<crate::inspect::Feature>) {
    let tokens = (0..log_mel.len())
        .map(|t| {
            if t % 10 == 0 {
                format!("{t} ")
            } else {
                "·".into()
            }
        })
        .collect();
    let loudness = log_mel
        .iter()
        .map(|f| f.iter().map(|&v| f64::from(v)).sum::<f64>() / f.len().max(1) as f64)
        .collect();
    let position = (0..log_mel.len()).map(|t| t as f64).collect();
    (
        tokens,
        vec![
            ("the loudness (mean log-mel)", loudness),
            ("the frame", position),
        ],
    )
}
