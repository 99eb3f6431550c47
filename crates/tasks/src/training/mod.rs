//! What every task's training shares: the `[train]` section, the learning-rate schedule,
//! global-norm gradient clipping and state carry ([`step`]), atomic checkpoints, `metrics.csv`
//! history, checkpoint averaging, the run renderer and [`fit()`].

pub mod average;
pub mod checkpoint;
pub mod early_stop;
pub mod fit;
pub mod grad_clip;
pub mod history;
pub mod metric_log;
pub mod render;
pub mod resumed_loader;
pub mod schedule;
pub mod section;
pub mod step;

pub use fit::{Fitted, Loaders, fit, load_model, save_model};
pub use section::{KeepBestBy, ScheduleKind, TrainSection};
pub use step::{Objective, Policy, Step};

use burn::prelude::Device;

/// Seeds a run and initialises its model with `init` on the CPU (flex). Every model is
/// initialised on flex from the seed, so one seed gives the same weights on every device; a
/// training device other than flex is seeded too (its own draws: dropout). flex is seeded only
/// once: reseeding it after the initialisation would replay the initialisation's draws and
/// make a flex run differ from the same run on another device.
///
/// flex keeps one random generator per process. The seeding and the initialisation happen
/// under one process-wide lock, so two runs started from different threads cannot take each
/// other's draws.
pub fn seeded_init<M>(seed: u64, device: &Device, init: impl FnOnce(&Device) -> M) -> M {
    static FLEX_RNG: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _guard = FLEX_RNG
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let cpu = Device::flex();
    cpu.seed(seed);
    let model = init(&cpu);
    if *device != cpu {
        device.seed(seed);
    }
    model
}
