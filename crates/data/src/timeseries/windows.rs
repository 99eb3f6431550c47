//! Lookback/horizon windows over chronological train/validation/test splits.
//!
//! (Over 400 lines with its tests; the code is under 270.)

use std::sync::Arc;

use burn::Tensor;
use burn::data::dataloader::batcher::Batcher;
use burn::data::dataset::{Dataset, DatasetError};
use burn::prelude::Device;
use burn::tensor::TensorData;
use serde::{Deserialize, Serialize};

use super::{Scaler, ScalerKind, Series};
use crate::error::DataError;

/// Which columns go in and which are predicted (the Informer/Autoformer names).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Features {
    /// Univariate: the target column in, the target column out.
    #[default]
    S,
    /// Multivariate: every column in, every column out.
    M,
    /// Many-to-one: every column in, the target column out.
    MS,
}

/// Chronological split of the rows.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SplitSpec {
    /// The first `train` of the rows, the next `valid`, the rest for test.
    Fractions {
        /// Training fraction.
        train: f64,
        /// Validation fraction.
        valid: f64,
    },
    /// Explicit end rows (exclusive): train `[0, train_end)`, validation
    /// `[train_end, valid_end)`, test `[valid_end, test_end)`. ETTh1's Informer split is
    /// `8640 / 11520 / 14400`.
    Rows {
        /// End of the training rows.
        train_end: usize,
        /// End of the validation rows.
        valid_end: usize,
        /// End of the test rows.
        test_end: usize,
    },
}

/// How windows are cut.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WindowConfig {
    /// Input steps.
    pub lookback: usize,
    /// Predicted steps.
    pub horizon: usize,
    /// Steps between window starts.
    pub stride: usize,
    /// Which columns go in and out.
    pub features: Features,
    /// The predicted column (for `S` and `MS`).
    pub target: String,
    /// The split.
    pub split: SplitSpec,
    /// Scaling, fitted on the training rows.
    pub scaler: ScalerKind,
}

/// One window: `lookback × n_in` inputs, `horizon × n_out` targets (row-major).
#[derive(Clone, Debug, PartialEq)]
pub struct TsItem {
    /// Inputs, `[lookback, n_in]` row-major.
    pub input: Vec<f32>,
    /// Targets, `[horizon, n_out]` row-major.
    pub target: Vec<f32>,
}

/// The windows of one split.
#[derive(Clone, Debug)]
pub struct TsWindows {
    values: Arc<Vec<f32>>,
    n_columns: usize,
    inputs: Arc<Vec<usize>>,
    outputs: Arc<Vec<usize>>,
    lookback: usize,
    horizon: usize,
    starts: Vec<usize>,
}

/// Train, validation and test windows with the scaler fitted on the training rows.
#[derive(Clone, Debug)]
pub struct TsSplits {
    /// Training windows: inputs and targets inside the training rows.
    pub train: TsWindows,
    /// Validation windows: targets inside the validation rows; inputs may reach back
    /// `lookback` rows into the training rows (as in the Informer code).
    pub valid: TsWindows,
    /// Test windows: targets inside the test rows, inputs may reach back into validation.
    pub test: TsWindows,
    /// The fitted scaler (save it with the model).
    pub scaler: Scaler,
    /// Row boundaries `[train_end, valid_end, test_end]`.
    pub bounds: [usize; 3],
}

impl WindowConfig {
    /// Cuts `series` into scaled windows. A window never has a target outside its own split,
    /// so no test target is ever seen in training.
    pub fn build(&self, series: &Series) -> Result<TsSplits, DataError> {
        let n = series.len();
        let file_err = |m: String| DataError::in_file(series.path(), m);
        if self.lookback == 0 || self.horizon == 0 || self.stride == 0 {
            return Err(DataError::invalid(
                "lookback, horizon and stride must be at least 1",
            ));
        }
        let bounds = match self.split {
            SplitSpec::Fractions { train, valid } => {
                if !(train > 0.0 && valid >= 0.0 && train + valid < 1.0) {
                    return Err(DataError::invalid(format!(
                        "split fractions train={train} valid={valid}: need train > 0, valid >= 0 and train + valid < 1"
                    )));
                }
                [
                    (train * n as f64) as usize,
                    ((train + valid) * n as f64) as usize,
                    n,
                ]
            }
            SplitSpec::Rows {
                train_end,
                valid_end,
                test_end,
            } => {
                if !(0 < train_end
                    && train_end <= valid_end
                    && valid_end < test_end
                    && test_end <= n)
                {
                    return Err(file_err(format!(
                        "split rows {train_end}/{valid_end}/{test_end} must increase and fit the {n} rows"
                    )));
                }
                [train_end, valid_end, test_end]
            }
        };
        let window = self.lookback + self.horizon;
        if window > bounds[0] {
            return Err(file_err(format!(
                "lookback {} + horizon {} = {window} is longer than the {} training rows",
                self.lookback, self.horizon, bounds[0]
            )));
        }
        let target = series.column_index(&self.target)?;
        let all: Vec<usize> = (0..series.names().len()).collect();
        let (inputs, outputs) = match self.features {
            Features::S => (vec![target], vec![target]),
            Features::M => (all.clone(), all),
            Features::MS => (all, vec![target]),
        };
        let scaler = Scaler::fit(self.scaler, series.names(), series.values(), 0..bounds[0]);
        let mut values = series.values().to_vec();
        scaler.transform(&mut values);
        let values = Arc::new(values);
        let (inputs, outputs) = (Arc::new(inputs), Arc::new(outputs));
        let windows = |lo: usize, hi: usize| TsWindows {
            values: values.clone(),
            n_columns: series.names().len(),
            inputs: inputs.clone(),
            outputs: outputs.clone(),
            lookback: self.lookback,
            horizon: self.horizon,
            // A window starting at s predicts rows [s + lookback, s + window).
            starts: (lo..)
                .step_by(self.stride)
                .take_while(|s| s + window <= hi)
                .collect(),
        };
        let split =
            |end_prev: usize, end: usize| windows(end_prev.saturating_sub(self.lookback), end);
        Ok(TsSplits {
            train: windows(0, bounds[0]),
            valid: split(bounds[0], bounds[1]),
            test: split(bounds[1], bounds[2]),
            scaler,
            bounds,
        })
    }
}

impl TsWindows {
    /// Row of the first predicted step of each window.
    pub fn target_rows(&self) -> impl Iterator<Item = usize> + '_ {
        self.starts.iter().map(|s| s + self.lookback)
    }

    fn rows(&self, from: usize, count: usize, columns: &[usize]) -> Vec<f32> {
        (from..from + count)
            .flat_map(|r| {
                columns
                    .iter()
                    .map(move |&c| self.values[r * self.n_columns + c])
            })
            .collect()
    }
}

impl Dataset<TsItem> for TsWindows {
    fn get(&self, index: usize) -> Result<TsItem, DatasetError> {
        let &start = self.starts.get(index).ok_or_else(|| {
            DatasetError::new(DataError::invalid(format!(
                "window {index} out of range: there are {}",
                self.starts.len()
            )))
        })?;
        Ok(TsItem {
            input: self.rows(start, self.lookback, &self.inputs),
            target: self.rows(start + self.lookback, self.horizon, &self.outputs),
        })
    }

    fn len(&self) -> usize {
        self.starts.len()
    }
}

/// A batch of windows.
#[derive(Clone, Debug)]
pub struct TsBatch {
    /// `[B, lookback, n_in]`.
    pub input: Tensor<3>,
    /// `[B, horizon, n_out]`.
    pub target: Tensor<3>,
}

/// Stacks [`TsItem`]s into a [`TsBatch`].
#[derive(Clone, Debug)]
pub struct TsBatcher {
    /// Input steps.
    pub lookback: usize,
    /// Predicted steps.
    pub horizon: usize,
}

impl Batcher<TsItem, TsBatch> for TsBatcher {
    fn batch(&self, items: Vec<TsItem>, device: &Device) -> TsBatch {
        let b = items.len();
        let n_in = items.first().map_or(0, |i| i.input.len() / self.lookback);
        let n_out = items.first().map_or(0, |i| i.target.len() / self.horizon);
        let input: Vec<f32> = items.iter().flat_map(|i| i.input.iter().copied()).collect();
        let target: Vec<f32> = items
            .iter()
            .flat_map(|i| i.target.iter().copied())
            .collect();
        TsBatch {
            input: Tensor::from_data(TensorData::new(input, [b, self.lookback, n_in]), device),
            target: Tensor::from_data(TensorData::new(target, [b, self.horizon, n_out]), device),
        }
    }
}

#[cfg(test)]
mod tests {
    use burn::data::dataloader::DataLoaderBuilder;

    use super::*;
    use crate::shipped_datasets_dir;

    fn etth1() -> Series {
        Series::from_csv(&shipped_datasets_dir().join("timeseries/ETTh1.csv"), "date").unwrap()
    }

    fn informer(features: Features) -> WindowConfig {
        WindowConfig {
            lookback: 96,
            horizon: 24,
            stride: 1,
            features,
            target: "OT".into(),
            split: SplitSpec::Rows {
                train_end: 8640,
                valid_end: 11520,
                test_end: 14400,
            },
            scaler: ScalerKind::Zscore,
        }
    }

    #[test]
    fn etth1_informer_split_reproduces_the_window_counts() {
        let splits = informer(Features::M).build(&etth1()).unwrap();
        // Informer's Dataset_ETT_hour: len = border2 − border1 − seq_len − pred_len + 1.
        assert_eq!(
            (splits.train.len(), splits.valid.len(), splits.test.len()),
            (8521, 2857, 2857)
        );
        // No window predicts a row outside its own split.
        assert!(splits.train.target_rows().all(|r| r + 24 <= 8640));
        assert!(
            splits
                .valid
                .target_rows()
                .all(|r| (8640..=11520 - 24).contains(&r))
        );
        assert!(
            splits
                .test
                .target_rows()
                .all(|r| (11520..=14400 - 24).contains(&r))
        );
        let item = splits.test.get(0).unwrap();
        assert_eq!((item.input.len(), item.target.len()), (96 * 7, 24 * 7));
        let ms = informer(Features::MS)
            .build(&etth1())
            .unwrap()
            .train
            .get(0)
            .unwrap();
        assert_eq!((ms.input.len(), ms.target.len()), (96 * 7, 24));
    }

    #[test]
    fn scaler_is_fitted_on_training_rows_only_and_inverts() {
        let series = etth1();
        let splits = informer(Features::S).build(&series).unwrap();
        let ot = series.column("OT").unwrap();
        let train: Vec<f64> = ot[..8640].iter().map(|&v| v as f64).collect();
        let mean = train.iter().sum::<f64>() / 8640.0;
        let c = series.column_index("OT").unwrap();
        assert!((splits.scaler.offset[c] as f64 - mean).abs() < 1e-3);
        // The first window's first input is OT[0] scaled; inverse gives it back.
        let mut first = vec![splits.train.get(0).unwrap().input[0]];
        splits.scaler.inverse(c, &mut first);
        assert!((first[0] - ot[0]).abs() < 1e-4);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("scaler.json");
        splits.scaler.save(&path).unwrap();
        assert_eq!(Scaler::load(&path).unwrap(), splits.scaler);
        let minmax = WindowConfig {
            scaler: ScalerKind::Minmax,
            ..informer(Features::S)
        }
        .build(&series)
        .unwrap();
        let train_min = ot[..8640].iter().copied().fold(f32::INFINITY, f32::min);
        assert_eq!(minmax.scaler.offset[c], train_min);
    }

    #[test]
    fn airline_last_36_months_as_test_with_fractions_and_stride() {
        let series = Series::from_csv(
            &shipped_datasets_dir().join("timeseries/airline_passengers.csv"),
            "Month",
        )
        .unwrap();
        let config = WindowConfig {
            lookback: 24,
            horizon: 12,
            stride: 12,
            features: Features::S,
            target: "#Passengers".into(),
            split: SplitSpec::Rows {
                train_end: 96,
                valid_end: 108,
                test_end: 144,
            },
            scaler: ScalerKind::Minmax,
        };
        let splits = config.build(&series).unwrap();
        assert_eq!(
            splits.test.target_rows().collect::<Vec<_>>(),
            vec![108, 120, 132]
        );
        let fractions = WindowConfig {
            split: SplitSpec::Fractions {
                train: 0.7,
                valid: 0.1,
            },
            stride: 1,
            ..config.clone()
        };
        assert_eq!(fractions.build(&series).unwrap().bounds, [100, 115, 144]);
        let too_long = WindowConfig {
            lookback: 90,
            ..config.clone()
        };
        let err = too_long.build(&series).unwrap_err().to_string();
        assert!(
            err.ends_with("lookback 90 + horizon 12 = 102 is longer than the 96 training rows"),
            "{err}"
        );
        let wrong = WindowConfig {
            target: "Passengers".into(),
            ..config
        };
        assert!(
            wrong
                .build(&series)
                .unwrap_err()
                .to_string()
                .contains("no column `Passengers`; the numeric columns are `#Passengers`")
        );
    }

    #[test]
    fn windows_batch_through_burn_dataloader() {
        let splits = informer(Features::M).build(&etth1()).unwrap();
        let loader = DataLoaderBuilder::new(TsBatcher {
            lookback: 96,
            horizon: 24,
        })
        .set_device(Device::flex())
        .batch_size(32)
        .shuffle(1)
        .num_workers(2)
        .build(splits.train);
        let batch = loader.iter().next().unwrap().unwrap();
        assert_eq!(batch.input.dims(), [32, 96, 7]);
        assert_eq!(batch.target.dims(), [32, 24, 7]);
    }
}
