//! File I/O everyone shares: reading a whole text file with errors that name it, and atomic
//! writes (a temporary file beside the target, then a rename).

use std::path::Path;

use crate::error::DataError;

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
