//! `rnnlab weights FILE`: list the tensors of a PyTorch weight file, to find the key prefix of
//! a recurrent module before importing it with `rnnlab-models`.

use std::fmt::Write as _;
use std::path::Path;

use rnnlab_models::{StateDict, WeightError};

/// One line per tensor: `name  [shape]`, names sorted, then a count.
pub fn describe(path: &Path) -> Result<String, WeightError> {
    let dict = StateDict::from_file(path)?;
    let width = dict.keys().map(str::len).max().unwrap_or(0);
    let mut out = String::new();
    for key in dict.keys() {
        let shape = &dict.get(key).expect("listed key").shape();
        let _ = writeln!(out, "{key:width$}  {:?}", shape.to_vec());
    }
    let _ = writeln!(out, "{} tensors in {}", dict.len(), path.display());
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_pytorch_names_and_shapes() {
        let path =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../models/tests/fixtures/gru_2l_bi.pt");
        let text = describe(&path).unwrap();
        assert!(
            text.contains("encoder.rnn.weight_ih_l0_reverse  [18, 4]"),
            "{text}"
        );
        assert!(text.contains("encoder.other.weight"), "{text}");
        assert!(
            text.trim_end()
                .ends_with(&format!("17 tensors in {}", path.display())),
            "{text}"
        );
    }

    #[test]
    fn missing_file_names_the_path() {
        let err = describe(Path::new("no/such/file.pt"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("no/such/file.pt"), "{err}");
    }
}
