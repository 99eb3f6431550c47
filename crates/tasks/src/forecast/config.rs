//! The forecasting experiment file: `[data]`, `[model]`, `[train]`, `[eval]`, `[baseline]`,
//! their defaults and validation.

use anyhow::bail;
use rnnlab_data::timeseries::{Features, Missing, ScalerKind, SplitSpec, WindowConfig};
use rnnlab_models::{CellType, SegmentNorm};
use serde::{Deserialize, Serialize};

use super::product::Product;
use super::{ForecastKind, Residual};
use crate::config::StackOptions;
use crate::task::TaskConfig;
use crate::training::TrainSection;

/// Everything a forecasting run is built from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ForecastExperiment {
    /// Always `forecast`.
    pub task: String,
    /// Run name: runs go to `runs/<name>/<run-id>/`.
    pub name: String,
    /// The series, its windows and split.
    pub data: DataSection,
    /// The network.
    pub model: ModelSection,
    /// Optimisation.
    pub train: TrainSection,
    /// How the test split is scored.
    pub eval: EvalSection,
    /// The exponential-smoothing baseline (besides naive and seasonal naive).
    pub baseline: BaselineSection,
}

/// `[baseline]`: AutoETS (`augurs-ets`: the ETS form with the lowest AICc; after an MSTL
/// seasonal adjustment when `data.season > 1`) and the Theta method, each refitted at every
/// origin on the values before it; DLinear trained on the training windows.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BaselineSection {
    /// Score the ETS baseline (it is refitted at each origin, which takes time on long tests).
    pub ets: bool,
    /// Values before each origin that ETS and Theta are fitted on (0 = all of them).
    pub ets_window: usize,
    /// Score the Theta method (statsmodels' `ThetaModel` defaults: deseasonalised after a
    /// seasonality test at `data.season`, SES with drift).
    pub theta: bool,
    /// Train DLinear (Zeng et al. 2023: moving-average decomposition, one linear map per
    /// part, every predicted column through the same weights) on the training windows and
    /// score it beside the model.
    pub dlinear: bool,
    /// How DLinear is fitted: `adam` (as the paper trains it: the settings below) or `lstsq`
    /// (its least-squares optimum, for short series where that schedule barely moves it).
    pub dlinear_fit: DLinearFit,
    /// DLinear's moving-average width (odd; the paper's 25).
    pub dlinear_kernel: usize,
    /// DLinear's most epochs; its learning rate halves after each from the second (the paper's
    /// code's schedule).
    pub dlinear_epochs: usize,
    /// DLinear's Adam learning rate (the ETTh1 setting of the paper's code for its linear
    /// models).
    pub dlinear_lr: f64,
    /// DLinear's windows per batch (the paper's 32).
    pub dlinear_batch_size: usize,
    /// DLinear stops after this many epochs without a better validation MSE (the paper's 3)
    /// and keeps its best epoch.
    pub dlinear_patience: usize,
}

/// How the DLinear baseline is fitted (`baseline.dlinear_fit`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DLinearFit {
    /// Adam with the paper's schedule and early stopping.
    Adam,
    /// The least-squares optimum of the same model.
    Lstsq,
}

/// `[data]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataSection {
    /// CSV file: a date column and numeric columns.
    pub path: String,
    /// Empty or non-finite cells in the columns the run uses: `error` (names each),
    /// `interpolate` (linear), `ffill` (previous value) or `drop` (the row).
    pub missing: Missing,
    /// The date column's header.
    pub date_column: String,
    /// The predicted column (for `S` and `MS`).
    pub target: String,
    /// `S` (target → target), `M` (all → all) or `MS` (all → target).
    pub features: Features,
    /// Input steps.
    pub lookback: usize,
    /// Steps the model predicts at once.
    pub horizon: usize,
    /// Steps between training window starts.
    pub stride: usize,
    /// End rows (exclusive) of train / validation / test; all 0 = use the fractions.
    pub train_end: usize,
    /// End of the validation rows.
    pub valid_end: usize,
    /// End of the test rows.
    pub test_end: usize,
    /// Training fraction of the rows (when the end rows are 0).
    pub train_fraction: f64,
    /// Validation fraction (when the end rows are 0); the rest is test.
    pub valid_fraction: f64,
    /// `zscore`, `minmax` or `none`, fitted on the training rows.
    pub scaler: ScalerKind,
    /// Model the natural log of the values of the columns the run uses (all must be
    /// positive); forecasts are exponentiated back.
    pub log: bool,
    /// Season length in steps: the seasonal-naive baseline, MASE and `model.residual =
    /// "seasonal"`.
    pub season: usize,
    /// Windows per batch.
    pub batch_size: usize,
}

/// `[model]`. (Without `deny_unknown_fields`, which serde's `flatten` does not support: the
/// layered config already rejects every key the defaults lack, naming it and its line.)
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelSection {
    /// `direct` (an encoder over the steps and a linear head to the whole horizon) or
    /// `segment` (SegRNN: every column its own series, an encoder over segments of
    /// `segment_length` steps, one decoder step per output segment).
    pub kind: ForecastKind,
    /// `rnn`, `lstm`, `gru`, `slstm` (xLSTM's scalar-memory LSTM), or the min cells `mingru`,
    /// `minlstm` (gates from the input only).
    pub cell: CellType,
    /// Hidden size (for `segment`, also the width of the segment embeddings).
    pub d_hidden: usize,
    /// Stacked layers.
    pub n_layers: usize,
    /// Dropout between layers.
    pub dropout: f64,
    /// `none`, `last` (predict changes from the last value) or `seasonal` (from one season
    /// back).
    pub residual: Residual,
    /// Feed the encoder each window minus its last value (every column), so that a level
    /// drift between the splits does not put the test windows outside what it learnt.
    pub relative_input: bool,
    /// `segment`: steps per segment; `data.lookback` and `data.horizon` must be multiples.
    pub segment_length: usize,
    /// `segment`: `last` (subtract each column's last value, SegRNN's default), `revin` (its
    /// mean and standard deviation) or `none`.
    pub segment_norm: SegmentNorm,
    /// `segment`: the decoder reads a column embedding beside each output segment's position
    /// embedding (SegRNN's `channel_id`).
    pub channel_embedding: bool,
    /// `segment`: dropout before the output map (SegRNN's 0.5).
    pub head_dropout: f64,
    /// The recurrent stack's normalisation and regularisers (`norm`, `dropout_kind`,
    /// `input_dropout`, `output_dropout`, `weight_drop`, `zoneout`).
    #[serde(flatten)]
    pub stack: StackOptions,
}

/// `[eval]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvalSection {
    /// Steps forecast from each test origin; 0 = `data.horizon`. Longer horizons roll the
    /// model forward on its own forecasts (needs `S` or `M`).
    pub horizon: usize,
    /// Steps between test origins (1 = every window, as in the Informer protocol).
    pub stride: usize,
    /// Score on the model's scale (`true`: z-scored, as ETTh1 results are published) or on
    /// the original values (`false`).
    pub scaled: bool,
    /// The forecast the run delivers: `validation` (whichever of the model and the baselines
    /// had the lowest validation MAE; the report says which and why) or `model`.
    pub product: Product,
}

impl Default for ForecastExperiment {
    fn default() -> Self {
        Self {
            task: "forecast".into(),
            name: "forecast".into(),
            data: DataSection {
                path: "datasets/timeseries/ETTh1.csv".into(),
                missing: Missing::Error,
                date_column: "date".into(),
                target: "OT".into(),
                features: Features::S,
                lookback: 96,
                horizon: 24,
                stride: 1,
                train_end: 0,
                valid_end: 0,
                test_end: 0,
                train_fraction: 0.7,
                valid_fraction: 0.1,
                scaler: ScalerKind::Zscore,
                log: false,
                season: 24,
                batch_size: 32,
            },
            model: ModelSection {
                kind: ForecastKind::Direct,
                cell: CellType::Lstm,
                d_hidden: 64,
                n_layers: 1,
                dropout: 0.0,
                residual: Residual::None,
                relative_input: false,
                segment_length: 24,
                segment_norm: SegmentNorm::Last,
                channel_embedding: true,
                head_dropout: 0.0,
                stack: StackOptions::default(),
            },
            train: TrainSection {
                grad_clip: 1.0,
                early_stopping: 3,
                keep_best: true,
                ..TrainSection::new(10, 1e-3)
            },
            eval: EvalSection {
                horizon: 0,
                stride: 1,
                scaled: false,
                product: Product::Validation,
            },
            baseline: BaselineSection {
                ets: true,
                ets_window: 0,
                theta: true,
                dlinear: true,
                dlinear_fit: DLinearFit::Adam,
                dlinear_kernel: 25,
                dlinear_epochs: 10,
                dlinear_lr: 0.005,
                dlinear_batch_size: 32,
                dlinear_patience: 3,
            },
        }
    }
}

impl TaskConfig for ForecastExperiment {
    fn train(&self) -> &TrainSection {
        &self.train
    }

    fn validate(&self) -> anyhow::Result<()> {
        let d = &self.data;
        crate::config::require_width(&[("model.d_hidden", self.model.d_hidden)])?;
        crate::config::require_nonzero(&[
            ("data.lookback", d.lookback),
            ("data.horizon", d.horizon),
            ("data.stride", d.stride),
            ("data.season", d.season),
            ("data.batch_size", d.batch_size),
            ("eval.stride", self.eval.stride),
            ("model.d_hidden", self.model.d_hidden),
            ("model.n_layers", self.model.n_layers),
            ("baseline.dlinear_epochs", self.baseline.dlinear_epochs),
            (
                "baseline.dlinear_batch_size",
                self.baseline.dlinear_batch_size,
            ),
            ("baseline.dlinear_patience", self.baseline.dlinear_patience),
        ])?;
        if self.baseline.dlinear_kernel.is_multiple_of(2) {
            bail!(
                "baseline.dlinear_kernel = {}: the moving average needs an odd width",
                self.baseline.dlinear_kernel
            );
        }
        if !(self.baseline.dlinear_lr > 0.0 && self.baseline.dlinear_lr.is_finite()) {
            bail!(
                "baseline.dlinear_lr = {}: must be a positive number",
                self.baseline.dlinear_lr
            );
        }
        if self.eval.horizon != 0 && self.eval.horizon < d.horizon {
            bail!(
                "eval.horizon = {}: must be 0 or at least data.horizon = {}",
                self.eval.horizon,
                d.horizon
            );
        }
        if self.eval_horizon() > d.horizon && d.features == Features::MS {
            bail!(
                "eval.horizon = {}: rolling forecasts need features S or M",
                self.eval.horizon
            );
        }
        if self.model.residual == Residual::Seasonal && d.season > d.lookback {
            bail!(
                "data.season = {}: model.residual = \"seasonal\" needs season <= data.lookback = {}",
                d.season,
                d.lookback
            );
        }
        crate::config::require_probabilities(&[
            ("model.dropout", self.model.dropout),
            ("model.head_dropout", self.model.head_dropout),
        ])?;
        self.model.stack.validate(self.model.cell)?;
        self.validate_kind()
    }
}

impl ForecastExperiment {
    /// The direct design's base and input keys are left at their defaults with the segment
    /// design, whose steps divide into segments.
    fn validate_kind(&self) -> anyhow::Result<()> {
        let (m, d) = (&self.model, &self.data);
        match m.kind {
            ForecastKind::Segment => {
                if m.residual != Residual::None || m.relative_input {
                    bail!(
                        "model.residual and model.relative_input belong to kind = \"direct\"; \
                         the segment model normalises each window by model.segment_norm"
                    );
                }
                crate::config::require_nonzero(&[("model.segment_length", m.segment_length)])?;
                if m.channel_embedding && m.d_hidden < 2 {
                    bail!(
                        "model.d_hidden = {}: model.channel_embedding splits the decoder input \
                         between a position and a column embedding; it needs at least 2",
                        m.d_hidden
                    );
                }
                for (key, steps) in [("data.lookback", d.lookback), ("data.horizon", d.horizon)] {
                    if steps % m.segment_length != 0 {
                        bail!(
                            "{key} = {steps}: kind = \"segment\" needs a multiple of \
                             model.segment_length = {}",
                            m.segment_length
                        );
                    }
                }
            }
            // The segment keys are ignored by the direct design (a run's saved config holds
            // every key, so rejecting them by value would break saved runs if a default moved).
            ForecastKind::Direct => {}
        }
        Ok(())
    }
}

impl ForecastExperiment {
    /// Steps forecast from each test origin.
    pub fn eval_horizon(&self) -> usize {
        if self.eval.horizon == 0 {
            self.data.horizon
        } else {
            self.eval.horizon
        }
    }

    /// The windows and split of the series.
    pub fn window_config(&self) -> WindowConfig {
        let d = &self.data;
        let split = if d.train_end == 0 && d.valid_end == 0 && d.test_end == 0 {
            SplitSpec::Fractions {
                train: d.train_fraction,
                valid: d.valid_fraction,
            }
        } else {
            SplitSpec::Rows {
                train_end: d.train_end,
                valid_end: d.valid_end,
                test_end: d.test_end,
            }
        };
        WindowConfig {
            lookback: d.lookback,
            horizon: d.horizon,
            stride: d.stride,
            features: d.features,
            target: d.target.clone(),
            split,
            scaler: d.scaler,
        }
    }
}
