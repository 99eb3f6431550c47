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

/// Reads a whole text file: a missing file, an empty file or invalid UTF-8 (with the line of
/// the first bad byte) are errors.
pub fn read_text(path: &Path) -> Result<String, DataError> {
    let bytes =
        std::fs::read(path).map_err(|e| DataError::in_file(path, format!("cannot read: {e}")))?;
    if bytes.is_empty() {
        return Err(DataError::in_file(path, "the file is empty"));
    }
    String::from_utf8(bytes).map_err(|e| {
        let valid = e.utf8_error().valid_up_to();
        let bytes = e.as_bytes();
        let line = bytes[..valid].iter().filter(|&&b| b == b'\n').count() + 1;
        DataError::in_file(
            path,
            format!(
                "invalid UTF-8 (byte 0x{:02x}); expected UTF-8 text",
                bytes[valid]
            ),
        )
        .at_line(line)
    })
}

/// Writes `contents` to `path` atomically: a temporary file beside it, then a rename, so an
/// existing file is never left half-written.
pub fn write_atomic(path: &Path, contents: &[u8]) -> Result<(), DataError> {
    let mut name = path
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(".tmp");
    let tmp = path.with_file_name(name);
    std::fs::write(&tmp, contents)
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            DataError::in_file(path, format!("cannot write: {e}"))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_text_errors_name_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.txt");
        assert!(
            read_text(&missing)
                .unwrap_err()
                .to_string()
                .starts_with(&format!("{}: cannot read", missing.display()))
        );
        let empty = dir.path().join("empty.txt");
        std::fs::write(&empty, b"").unwrap();
        assert_eq!(
            read_text(&empty).unwrap_err().to_string(),
            format!("{}: the file is empty", empty.display())
        );
        let bad = dir.path().join("bad.txt");
        std::fs::write(&bad, b"ok\nfine\nbro\xffken\n").unwrap();
        assert_eq!(
            read_text(&bad).unwrap_err().to_string(),
            format!(
                "{}:3: invalid UTF-8 (byte 0xff); expected UTF-8 text",
                bad.display()
            )
        );
    }
}
