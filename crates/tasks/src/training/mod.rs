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

use burn::prelude::Device;

/// Seeds a run and returns the CPU device to initialise the model on. Every model is
/// initialised on flex from the seed, so one seed gives the same weights on every device; a
/// training device other than flex is seeded too (its own draws: dropout). flex is seeded only
/// once: reseeding it after the initialisation would replay the initialisation's draws and
/// make a flex run differ from the same run on another device.
pub fn seeded_cpu(seed: u64, device: &Device) -> Device {
    let cpu = Device::flex();
    cpu.seed(seed);
    if *device != cpu {
        device.seed(seed);
    }
    cpu
}
