//! `rnnlab inspect` on a char-LM run: the stack traced over a text, units coloured over it
//! (by default those following the position in the line, quotes and brackets, and the most
//! active), gate saturation, and how far back the loss of the last prediction reaches.

use std::path::PathBuf;

use anyhow::{Context, bail};
use burn::Tensor;
use burn::module::Module;
use burn::nn::loss::CrossEntropyLossConfig;
use burn::prelude::Device;
use burn::tensor::{Int, TensorData};
use rnnlab_data::tokenizer::Tokenizer;

use super::CharLmTask;
use crate::inspect::{Feature, Inspection, parse_units, write};
use crate::task::load;
use crate::task_command::Cmd;

/// `rnnlab inspect` (char LM).
pub static INSPECT: Cmd<InspectArgs> = Cmd::new(
    "inspect",
    "A char-LM run's network on a text, as an HTML page: units, gates, gradient flow",
    inspect,
);

/// The longest text `inspect` traces (a trace keeps every step of every layer).
const MAX_TOKENS: usize = 4000;

/// The arguments of `inspect` (char LM).
#[derive(clap::Args, Debug)]
pub struct InspectArgs {
    /// The run directory.
    pub run: PathBuf,
    /// The text to run the model over.
    #[arg(long, allow_hyphen_values = true)]
    pub text: Option<String>,
    /// A file whose text to run the model over.
    #[arg(long)]
    pub file: Option<PathBuf>,
    /// Units to show: `17` (top layer) or `1:17` (layer-direction:unit), comma-separated;
    /// default: the units following simple features of the input and the most active ones.
    #[arg(long)]
    pub units: Option<String>,
    /// Where to write the page.
    #[arg(long, default_value = "inspect.html")]
    pub out: PathBuf,
}

fn inspect(a: InspectArgs, device: &Device) -> anyhow::Result<()> {
    let flag = if a.file.is_some() { "--file" } else { "--text" };
    let text = match (&a.text, &a.file) {
        (Some(t), None) => t.clone(),
        (None, Some(f)) => std::fs::read_to_string(f)
            .with_context(|| format!("--file {}: cannot read it", f.display()))?,
        (None, None) => bail!("inspect needs the input: --text TEXT or --file FILE"),
        (Some(_), Some(_)) => bail!("--text and --file: give one of them"),
    };
    let run = load::<CharLmTask>(&a.run, device)?;
    let tokenizer = &run.artefacts.tokenizer;
    let ids = tokenizer.encode(&text)?;
    if ids.len() < 2 {
        bail!("{flag}: needs at least 2 tokens (the model predicts each next one)");
    }
    if ids.len() > MAX_TOKENS + 1 {
        bail!(
            "{flag}: {} tokens; inspect traces at most {MAX_TOKENS}",
            ids.len()
        );
    }
    let steps = ids.len() - 1;
    // The validation-mode model (`load`) on an autodiff device: no regulariser acts, and
    // gradients reach the trace's probes.
    let autodiff = device.clone().autodiff();
    let model = run.model.clone().to_device(&autodiff);
    let input: Vec<i64> = ids[..steps].iter().map(|&i| i64::from(i)).collect();
    let input = Tensor::<2, Int>::from_data(TensorData::new(input, [1, steps]), &autodiff);
    let trace = model.rnn.trace(model.embedding.forward(input), None, None);
    let logits = model.head.forward(trace.output.clone());
    let vocab = logits.dims()[2];
    let last = logits.narrow(1, steps - 1, 1).reshape([1, vocab]);
    let target =
        Tensor::<1, Int>::from_data(TensorData::new(vec![i64::from(ids[steps])], [1]), &autodiff);
    let loss = CrossEntropyLossConfig::new()
        .init(&autodiff)
        .forward(last, target);
    let flow = trace.hidden_grad_norms(&loss.backward());
    let tokens: Vec<String> = ids[..steps]
        .iter()
        .map(|&i| tokenizer.decode(&[i]))
        .collect();
    let chosen = parse_units(a.units.as_deref().unwrap_or(""), trace.layers.len() - 1)?;
    let inspection = Inspection::new(
        format!("{} on {steps} tokens", a.run.display()),
        tokens.clone(),
        &trace,
        &chosen,
        &features(&tokens),
        flow,
        "the cross-entropy of the last prediction".into(),
    )?;
    write(&inspection, &a.out)?;
    println!("wrote {}", a.out.display());
    Ok(())
}

/// Simple features of the input a unit may follow: the position in the line, being inside
/// double quotes, and the depth of brackets.
fn features(tokens: &[String]) -> Vec<Feature> {
    let (mut position, mut quoted, mut depth) = (Vec::new(), Vec::new(), Vec::new());
    let (mut column, mut inside, mut open) = (0.0, false, 0.0f64);
    for token in tokens {
        for c in token.chars() {
            match c {
                '\n' => column = -1.0,
                '"' => inside = !inside,
                '(' | '[' | '{' => open += 1.0,
                ')' | ']' | '}' => open = (open - 1.0).max(0.0),
                _ => {}
            }
            column += 1.0;
        }
        position.push(column);
        quoted.push(f64::from(u8::from(inside)));
        depth.push(open);
    }
    vec![
        ("the position in the line", position),
        ("being inside quotes", quoted),
        ("the depth of brackets", depth),
    ]
}
