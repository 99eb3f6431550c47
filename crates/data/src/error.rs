//! [`DataError`]: every failure on user data names the file, the line (and column) and what
//! was expected.

use std::fmt;
use std::path::{Path, PathBuf};

/// A problem with user data or a saved artefact.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub struct DataError {
    /// The file, when the data came from one.
    pub path: Option<PathBuf>,
    /// 1-based line number.
    pub line: Option<usize>,
    /// Column name or 1-based position.
    pub column: Option<String>,
    /// What went wrong and what was expected.
    pub message: String,
}

impl fmt::Display for DataError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut place = match (&self.path, self.line) {
            (Some(path), Some(line)) => format!("{}:{line}", path.display()),
            (Some(path), None) => path.display().to_string(),
            (None, Some(line)) => format!("line {line}"),
            (None, None) => String::new(),
        };
        if let Some(column) = &self.column {
            place = if place.is_empty() {
                format!("column {column}")
            } else {
                format!("{place}, column {column}")
            };
        }
        if place.is_empty() {
            write!(f, "{}", self.message)
        } else {
            write!(f, "{place}: {}", self.message)
        }
    }
}

impl DataError {
    /// An error not tied to a file (a bad argument).
    pub fn invalid(message: impl Into<String>) -> Self {
        Self {
            path: None,
            line: None,
            column: None,
            message: message.into(),
        }
    }

    /// An error about a whole file.
    pub fn in_file(path: &Path, message: impl Into<String>) -> Self {
        Self {
            path: Some(path.to_path_buf()),
            line: None,
            column: None,
            message: message.into(),
        }
    }

    /// Adds the 1-based line.
    pub fn at_line(mut self, line: usize) -> Self {
        self.line = Some(line);
        self
    }

    /// Adds the column.
    pub fn at_column(mut self, column: impl Into<String>) -> Self {
        self.column = Some(column.into());
        self
    }
}
