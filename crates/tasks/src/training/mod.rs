//! What every task's training shares: the `[train]` section, the learning-rate schedule,
//! global-norm gradient clipping, atomic checkpoints, `metrics.csv` history and [`fit`].

pub mod checkpoint;
pub mod fit;
pub mod grad_clip;
pub mod history;
pub mod schedule;
pub mod section;

pub use fit::{Fitted, Loaders, fit, load_model, save_model};
pub use section::{ScheduleKind, TrainSection};
