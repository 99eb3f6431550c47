//! # rnnlab-data
//!
//! Turns the raw files a researcher has into burn batches: tokenizers, language-model streams,
//! padded classification batches and time-series windows. Nothing here knows about a specific
//! model.
//!
//! This crate is being built (see the project's issues); today it provides the path to the
//! datasets shipped with the project.
#![warn(missing_docs)]

use std::path::{Path, PathBuf};

/// The `datasets/` folder shipped with rnnlab (absolute path inside this workspace).
pub fn shipped_datasets_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../datasets")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_datasets_are_present() {
        let manifest = shipped_datasets_dir().join("MANIFEST.md");
        let text = std::fs::read_to_string(&manifest).expect("datasets/MANIFEST.md is shipped");
        assert!(text.contains("ETTh1.csv"));
        assert!(
            shipped_datasets_dir()
                .join("text/tinyshakespeare.txt")
                .is_file()
        );
    }
}
