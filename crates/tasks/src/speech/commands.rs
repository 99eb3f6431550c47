//! The speech task's command: `predict` (a digit, or a digit string, per WAV file; `--plot`
//! draws one).

use std::path::PathBuf;

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
    for line in super::predict_lines(&a.run, &files, a.plot.as_deref(), device)? {
        println!("{line}");
    }
    Ok(())
}
