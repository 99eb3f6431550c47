//! `rnnlab inspect` on a sentiment run: the stack traced over one sentence, its units, gates
//! and the reach of the loss of its predicted class, beside the tokens' weights (attention
//! pooling's, or by occlusion) that `predict --explain` prints.

use std::path::PathBuf;

use anyhow::bail;
use burn::Tensor;
use burn::data::dataloader::batcher::Batcher;
use burn::module::Module;
use burn::nn::loss::CrossEntropyLossConfig;
use burn::prelude::Device;
use burn::tensor::{Int, TensorData};
use rnnlab_data::classification::ClassBatcher;

use super::{SentimentTask, data};
use crate::inspect::{Extra, Inspection, parse_units, write};
use crate::task::load;
use crate::task_command::Cmd;

/// `rnnlab inspect` (sentiment).
pub static INSPECT: Cmd<InspectArgs> = Cmd::new(
    "inspect",
    "A sentiment run's network on a sentence, as an HTML page: units, token weights, gates, gradient flow",
    inspect,
);

/// The arguments of `inspect` (sentiment).
#[derive(clap::Args, Debug)]
pub struct InspectArgs {
    /// The run directory.
    pub run: PathBuf,
    /// The text to run the model over.
    #[arg(long, allow_hyphen_values = true)]
    pub text: Option<String>,
    /// Units to show: `17` (top layer) or `1:17` (layer-direction:unit), comma-separated;
    /// default: the units following simple features of the input and the most active ones.
    #[arg(long)]
    pub units: Option<String>,
    /// Where to write the page.
    #[arg(long, default_value = "inspect.html")]
    pub out: PathBuf,
}

fn inspect(a: InspectArgs, device: &Device) -> anyhow::Result<()> {
    let Some(text) = &a.text else {
        bail!("inspect needs the input: --text TEXT");
    };
    let run = load::<SentimentTask>(&a.run, device)?;
    let explanation = super::predict(&run, text, device)?;
    let item = run.artefacts.query(text)?;
    let autodiff = device.clone().autodiff();
    let model = run.model.clone().to_device(&autodiff);
    let batch = ClassBatcher { pad_id: data::PAD }.batch(vec![item], &autodiff);
    let encoded = model.encode(batch);
    let trace = model
        .rnn
        .trace(encoded.x.clone(), Some(&encoded.lengths), None);
    let logits = model
        .decide(trace.output.clone(), trace.state.clone(), encoded)
        .logits;
    let label = explanation.label;
    let target = Tensor::<1, Int>::from_data(TensorData::new(vec![label as i64], [1]), &autodiff);
    let loss = CrossEntropyLossConfig::new()
        .init(&autodiff)
        .forward(logits, target);
    let flow = trace.hidden_grad_norms(&loss.backward());
    let tokens: Vec<String> = explanation.tokens.iter().map(|(w, _)| w.clone()).collect();
    let position: Vec<f64> = (0..tokens.len()).map(|t| t as f64).collect();
    let classes = run.config.class_names();
    let chosen = parse_units(a.units.as_deref().unwrap_or(""), trace.layers.len() - 1)?;
    let mut inspection = Inspection::new(
        format!(
            "{}: \"{text}\" → {} ({:.3})",
            a.run.display(),
            classes[label],
            explanation.probabilities[label]
        ),
        tokens,
        &trace,
        &chosen,
        &[("the position in the sentence", position)],
        flow,
        format!(
            "the cross-entropy of the predicted class, {}",
            classes[label]
        ),
    )?;
    inspection.extras.push(Extra::TokenWeights {
        title: format!("Token weights (by {})", explanation.method),
        weights: explanation
            .tokens
            .iter()
            .map(|(_, w)| f64::from(*w))
            .collect(),
    });
    write(&inspection, &a.out)?;
    println!("wrote {}", a.out.display());
    Ok(())
}
