//! Checkpoints under `<run>/checkpoint/`: `model-N.bpk`, `optim-N.bpk`, `scheduler-N.bpk`,
//! each written to a temporary file and renamed into place, so a crash never leaves a torn
//! checkpoint (burn's `FileCheckpointer` writes in place).

use std::path::{Path, PathBuf};

use burn::train::checkpoint::{Checkpoint, Checkpointer, CheckpointerError};

/// Saves each record as `<dir>/<name>-<epoch>.bpk`, atomically.
pub struct AtomicCheckpointer {
    dir: PathBuf,
    name: &'static str,
}

impl AtomicCheckpointer {
    /// A checkpointer for records called `name` in `dir` (created).
    pub fn new(dir: &Path, name: &'static str) -> std::io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        Ok(Self {
            dir: dir.to_path_buf(),
            name,
        })
    }

    fn path(&self, epoch: usize) -> PathBuf {
        path(&self.dir, self.name, epoch)
    }
}

/// `<dir>/<name>-<epoch>.bpk`.
pub fn path(dir: &Path, name: &str, epoch: usize) -> PathBuf {
    dir.join(format!("{name}-{epoch}.bpk"))
}

impl<R: Checkpoint> Checkpointer<R> for AtomicCheckpointer {
    fn save(&self, epoch: usize, record: R) -> Result<(), CheckpointerError> {
        let target = self.path(epoch);
        let tmp = target.with_extension("bpk.tmp");
        record.save(tmp.clone())?;
        std::fs::rename(&tmp, &target).map_err(CheckpointerError::IOError)
    }

    fn delete(&self, epoch: usize) -> Result<(), CheckpointerError> {
        match std::fs::remove_file(self.path(epoch)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(CheckpointerError::IOError(e))
            }
            _ => Ok(()),
        }
    }

    fn restore(&self, epoch: usize) -> Result<R, CheckpointerError> {
        R::load(self.path(epoch))
    }
}

/// The last epoch whose model, optimiser and scheduler checkpoints are all present.
pub fn latest_complete(dir: &Path) -> Option<usize> {
    let entries = std::fs::read_dir(dir).ok()?;
    entries
        .filter_map(|e| {
            let name = e.ok()?.file_name().into_string().ok()?;
            name.strip_prefix("model-")?
                .strip_suffix(".bpk")?
                .parse::<usize>()
                .ok()
        })
        .filter(|&epoch| {
            ["optim", "scheduler"]
                .iter()
                .all(|n| path(dir, n, epoch).is_file())
        })
        .max()
}

/// Checks that epoch `epoch`'s model checkpoint in `<run>/checkpoint/` exists and fits `model`
/// (built from the run's config), before a resume touches anything: burn's checkpoint loader
/// panics on a mismatch.
pub fn check_fits<M: burn::module::Module>(
    model: &M,
    run: &Path,
    epoch: usize,
) -> anyhow::Result<()> {
    let file = path(&run.join("checkpoint"), "model", epoch);
    let record = burn::store::ModuleRecord::load(file.clone())
        .map_err(|e| anyhow::anyhow!("{}: cannot read the checkpoint: {e:?}", file.display()))?;
    model.clone().try_load_record(record).map_err(|e| {
        anyhow::anyhow!(
            "{}: the checkpoint's tensors do not fit the run's config.toml: {e}",
            file.display()
        )
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::module::Module;
    use burn::nn::LinearConfig;
    use burn::prelude::Device;
    use burn::store::ModuleRecord;

    #[test]
    fn saves_atomically_restores_and_finds_the_latest_complete_epoch() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("checkpoint");
        let model = AtomicCheckpointer::new(&dir, "model").unwrap();
        let linear = LinearConfig::new(3, 2).init(&Device::flex());
        for epoch in [1, 2] {
            Checkpointer::<ModuleRecord>::save(&model, epoch, linear.clone().into_record())
                .unwrap();
        }
        assert!(!dir.join("model-2.bpk.tmp").exists());
        assert_eq!(
            latest_complete(&dir),
            None,
            "optimiser and scheduler missing"
        );
        for name in ["optim", "scheduler"] {
            std::fs::write(path(&dir, name, 1), b"x").unwrap();
        }
        assert_eq!(latest_complete(&dir), Some(1));
        let restored: ModuleRecord = model.restore(2).unwrap();
        let back = LinearConfig::new(3, 2)
            .init(&Device::flex())
            .load_record(restored);
        assert_eq!(
            back.weight.val().into_data(),
            linear.weight.val().into_data()
        );
        let run = tmp.path();
        check_fits(&LinearConfig::new(3, 2).init(&Device::flex()), run, 2).unwrap();
        let err = check_fits(&LinearConfig::new(4, 2).init(&Device::flex()), run, 2)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("model-2.bpk: the checkpoint's tensors do not fit"),
            "{err}"
        );
        let err = check_fits(&linear, run, 7).unwrap_err().to_string();
        assert!(err.contains("model-7.bpk: cannot read"), "{err}");
        Checkpointer::<ModuleRecord>::delete(&model, 2).unwrap();
        Checkpointer::<ModuleRecord>::delete(&model, 2).unwrap();
        assert!(!path(&dir, "model", 2).exists());
    }
}
