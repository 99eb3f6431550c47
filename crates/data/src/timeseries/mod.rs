//! Time series: a CSV with a date column and numeric columns ([`Series`]), scalers fitted on the
//! training split only ([`Scaler`]), and lookback/horizon windows over chronological splits
//! ([`WindowConfig`], [`TsWindows`]).

mod scaler;
mod series;
mod windows;

pub use scaler::{Scaler, ScalerKind};
pub use series::{Missing, MissingCount, Series};
pub use windows::{
    Features, SplitSpec, TsBatch, TsBatcher, TsItem, TsSplits, TsWindows, WindowConfig,
};
