//! The speech task's command: `predict` (a digit, or a digit string, per WAV file; `--plot`
//! draws one).

use std::path::PathBuf;

use anyhow::bail;
use burn::prelude::Device;

use crate::task_command::{Cmd, inputs};

/// `rnnlab predict` on a speech run.
pub static PREDICT: Cmd<PredictArgs> = Cmd::new(
    "predict",
    "Recognise WAV recordings with a speech run: each line printed is the digit (or digit \
     string), its probability and the file",
    predict,
);

/// The arguments of `predict` on a speech run.
#[derive(clap::Args, Debug)]
pub struct PredictArgs {
    /// The run directory.
    pub run: PathBuf,
    /// The WAV files.
    #[arg(required_unless_present = "file", allow_hyphen_values = true)]
    pub texts: Vec<String>,
    /// Read the inputs from this file, one per line (`-` = standard input); blank lines are
    /// skipped.
    #[arg(long)]
    pub file: Option<PathBuf>,
    /// Draws the recording's log-mel spectrogram and the frame-wise digit probabilities to
    /// this SVG file (one recording).
    #[arg(long)]
    pub plot: Option<PathBuf>,
}

fn predict(a: PredictArgs, device: &Device) -> anyhow::Result<()> {
    let files = inputs(
        a.texts,
        a.file.as_deref(),
        "nothing to predict: no sentences or files",
    )?;
    if a.plot.is_some() && files.len() != 1 {
        bail!(
            "--plot draws one recording; give one WAV file ({} given)",
            files.len()
        );
    }
    let predictions = super::recognise(&a.run, &files, device)?;
    if let (Some(out), Some(p)) = (&a.plot, predictions.first()) {
        super::prediction_svg(p, &files[0], out)?;
    }
    for (file, p) in files.iter().zip(&predictions) {
        println!("{} ({:.3})  {file}", p.text, p.probability);
    }
    Ok(())
}
