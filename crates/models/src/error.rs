//! Errors of the models crate.

use std::path::PathBuf;

/// A configuration that cannot build a module.
#[derive(Debug, thiserror::Error, PartialEq)]
#[error("{key}: {message}")]
pub struct ConfigError {
    /// The offending config key.
    pub key: &'static str,
    /// What was expected.
    pub message: String,
}

/// One problem found while matching a state dict against a module.
#[derive(Debug, Clone, PartialEq)]
pub enum KeyProblem {
    /// The module needs this key and the file lacks it.
    Missing {
        /// Full key, prefix included.
        key: String,
        /// Shape the module expects.
        expected: Vec<usize>,
    },
    /// The file has a key under the prefix that the module does not know.
    Unexpected {
        /// Full key, prefix included.
        key: String,
        /// Shape in the file.
        found: Vec<usize>,
    },
    /// Both have the key, with different shapes.
    Shape {
        /// Full key, prefix included.
        key: String,
        /// Shape the module expects.
        expected: Vec<usize>,
        /// Shape in the file.
        found: Vec<usize>,
    },
}

impl std::fmt::Display for KeyProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeyProblem::Missing { key, expected } => {
                write!(
                    f,
                    "missing key `{key}` (the model expects shape {expected:?})"
                )
            }
            KeyProblem::Unexpected { key, found } => {
                write!(
                    f,
                    "unexpected key `{key}` (shape {found:?}): not a parameter of this model"
                )
            }
            KeyProblem::Shape {
                key,
                expected,
                found,
            } => write!(
                f,
                "shape mismatch for `{key}`: the model expects {expected:?}, the file has {found:?}"
            ),
        }
    }
}

/// The error a weight file's reader or writer gave.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Errors while importing or exporting PyTorch weights.
#[derive(Debug, thiserror::Error)]
pub enum WeightError {
    /// The file could not be read or parsed.
    #[error("cannot read weights from {path}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: BoxError,
    },
    /// The state dict does not fit the module.
    #[error("weights in {source_name} do not fit the model:\n  {}", .problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n  "))]
    Mismatch {
        /// The file (or a description of the in-memory source).
        source_name: String,
        /// Every missing, unexpected or mis-shaped key.
        problems: Vec<KeyProblem>,
    },
    /// The file could not be written.
    #[error("cannot write weights to {path}")]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: BoxError,
    },
}
