//! The forecasting experiment file: `[data]`, `[model]`, `[train]`, `[eval]`, `[baseline]`,
//! their defaults and validation.

use anyhow::bail;
use rnnlab_data::timeseries::{Features, Missing, ScalerKind, SplitSpec, WindowConfig};
use rnnlab_models::CellType;
use serde::{Deserialize, Serialize};

use super::Residual;
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

/// `[baseline]`: AutoETS (`augurs-ets`: the non-seasonal ETS form with the lowest AICc),
/// refitted at every origin on the values before it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BaselineSection {
    /// Score the ETS baseline (it is refitted at each origin, which takes time on long tests).
    pub ets: bool,
    /// Values before each origin that ETS is fitted on (0 = all of them).
    pub ets_window: usize,
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
    /// `rnn`, `lstm`, `gru`, `slstm` (xLSTM's scalar-memory LSTM), or the min cells `mingru`,
    /// `minlstm` (gates from the input only).
    pub cell: CellType,
    /// Hidden size.
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
                cell: CellType::Lstm,
                d_hidden: 64,
                n_layers: 1,
                dropout: 0.0,
                residual: Residual::None,
                relative_input: false,
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
            },
            baseline: BaselineSection {
                ets: true,
                ets_window: 0,
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
        ])?;
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
        crate::config::require_probabilities(&[("model.dropout", self.model.dropout)])?;
        self.model.stack.validate(self.model.cell)?;
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
