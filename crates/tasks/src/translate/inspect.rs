//! `rnnlab inspect` on a translation run: the encoder traced over one sentence, its units over
//! the source, its gates, the reach of the loss of the model's own translation (its
//! log-likelihood, teacher-forced), and the attention matrix of that translation.

use std::path::PathBuf;

use anyhow::bail;
use burn::Tensor;
use burn::module::Module;
use burn::prelude::Device;
use burn::tensor::activation::log_softmax;
use burn::tensor::{Int, TensorData};
use rnnlab_data::translation::{BOS, EOS};

use super::TranslateTask;
use crate::inspect::{Extra, Inspection, parse_units, write};
use crate::task::load;
use crate::task_command::Cmd;

/// `rnnlab inspect` (translate).
pub static INSPECT: Cmd<InspectArgs> = Cmd::new(
    "inspect",
    "A translation run's encoder on a sentence, as an HTML page: units, attention, gates, gradient flow",
    inspect,
);

/// The arguments of `inspect` (translate).
#[derive(clap::Args, Debug)]
pub struct InspectArgs {
    /// The run directory.
    pub run: PathBuf,
    /// The sentence to translate.
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
    let run = load::<TranslateTask>(&a.run, device)?;
    let translated = super::translate(&run, std::slice::from_ref(text), None, device)?.remove(0);
    let source = translated.source_ids.clone();
    let autodiff = device.clone().autodiff();
    let model = run.model.clone().to_device(&autodiff);
    let n = source.len();
    let ids: Vec<i64> = source.iter().map(|&i| i64::from(i)).collect();
    let ids = Tensor::<2, Int>::from_data(TensorData::new(ids, [1, n]), &autodiff);
    let trace = model
        .encoder
        .trace(model.source_input(ids), Some(&[n]), None);
    let (memory, mut state) = model.memory_of(trace.output.clone(), trace.state.clone(), &[n]);
    // The negative log-likelihood of the model's own translation, fed its own tokens.
    let mut targets: Vec<u32> = translated.translation.tokens.clone();
    if translated.translation.ended {
        targets.push(EOS);
    }
    if targets.is_empty() {
        bail!("{text:?}: the model's translation is empty; nothing to differentiate");
    }
    let mut feed = model.first_feed(1, &autodiff);
    let mut previous = BOS;
    let mut loss = Tensor::<1>::zeros([1], &autodiff);
    for &target in &targets {
        let one =
            Tensor::<1, Int>::from_data(TensorData::new(vec![i64::from(previous)], [1]), &autodiff);
        let out = model.step(&memory, model.embed(one), feed, state);
        let logp = log_softmax(model.logits(out.attentional.clone()), 1);
        loss = loss - logp.narrow(1, target as usize, 1).reshape([1]);
        feed = out.attentional;
        state = out.state;
        previous = target;
    }
    let flow = trace.hidden_grad_norms(&loss.backward());
    let tokens = translated.source_tokens.clone();
    let position = (0..tokens.len()).map(|t| t as f64).collect();
    let chosen = parse_units(a.units.as_deref().unwrap_or(""), trace.layers.len() - 1)?;
    let mut inspection = Inspection::new(
        format!(
            "{}: \"{text}\" → \"{}\"",
            a.run.display(),
            translated.output
        ),
        tokens.clone(),
        &trace,
        &chosen,
        &[("the position in the sentence", position)],
        flow,
        "the negative log-likelihood of the model's own translation".into(),
    )?;
    if !translated.translation.attention.is_empty() {
        inspection.extras.push(Extra::Matrix {
            title: "Attention (a row per output token, a column per source token)".into(),
            rows: translated.output_tokens.clone(),
            columns: tokens,
            values: translated
                .translation
                .attention
                .iter()
                .map(|row| row.iter().map(|&v| f64::from(v)).collect())
                .collect(),
        });
    }
    write(&inspection, &a.out)?;
    println!("wrote {}", a.out.display());
    Ok(())
}
