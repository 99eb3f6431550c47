//! [`StateDict`]: named tensors read from or written to PyTorch's files.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use burn::tensor::TensorData;
use burn_store::{ModuleStore, PytorchStore, SafetensorsStore, bridge};

use crate::error::{BoxError, WeightError};

/// Named tensors, as in a PyTorch `state_dict`, plus where they came from (for errors).
#[derive(Debug, Clone, Default)]
pub struct StateDict {
    tensors: BTreeMap<String, TensorData>,
    source: String,
}

impl StateDict {
    /// An empty state dict; `source` names it in error messages.
    pub fn new(source: impl Into<String>) -> Self {
        Self {
            tensors: BTreeMap::new(),
            source: source.into(),
        }
    }

    /// Reads a `.safetensors` file, or a PyTorch pickle (`.pt`, `.pth`, `.bin`, anything else),
    /// chosen by the extension. Every tensor is converted to f32.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, WeightError> {
        let path = path.as_ref();
        match path.extension().and_then(|e| e.to_str()) {
            Some("safetensors") => Self::from_safetensors(path),
            _ => Self::from_pytorch(path, None),
        }
    }

    /// Reads a `.safetensors` file.
    pub fn from_safetensors(path: impl AsRef<Path>) -> Result<Self, WeightError> {
        let path = path.as_ref();
        check_readable(path)?;
        let mut store = SafetensorsStore::from_file(path);
        let tensors = store.get_all_tensors().map_err(|e| read_error(path, e))?;
        Self::collect(path, tensors)
    }

    /// Reads a PyTorch pickle (`torch.save` of a `state_dict`). `top_level_key` selects a nested
    /// dict, e.g. `Some("state_dict")` for a training checkpoint.
    pub fn from_pytorch(
        path: impl AsRef<Path>,
        top_level_key: Option<&str>,
    ) -> Result<Self, WeightError> {
        let path = path.as_ref();
        check_readable(path)?;
        let mut store = PytorchStore::from_file(path);
        if let Some(key) = top_level_key {
            store = store.with_top_level_key(key);
        }
        let tensors = store.get_all_tensors().map_err(|e| read_error(path, e))?;
        Self::collect(path, tensors)
    }

    fn collect(
        path: &Path,
        tensors: &BTreeMap<String, burn_store::burn_pack::Tensor>,
    ) -> Result<Self, WeightError> {
        let mut dict = Self::new(path.display().to_string());
        for (name, tensor) in tensors {
            let data = bridge::to_data(tensor)
                .map_err(|e| read_error(path, format!("tensor `{name}`: {e}")))?;
            dict.insert(name.clone(), data.convert::<f32>());
        }
        Ok(dict)
    }

    /// Writes the tensors to a `.safetensors` file (atomically: a temporary file is renamed
    /// over the target, so an existing file is never left half-written).
    pub fn save_safetensors(&self, path: impl AsRef<Path>) -> Result<(), WeightError> {
        let path = path.as_ref();
        let write_error = |source: BoxError| WeightError::Write {
            path: path.to_path_buf(),
            source,
        };
        let bytes: Vec<(String, Vec<usize>, Vec<u8>)> = self
            .tensors
            .iter()
            .map(|(name, data)| {
                let values = data
                    .clone()
                    .convert::<f32>()
                    .try_into_vec::<f32>()
                    .map_err(|e| {
                        write_error(format!("tensor `{name}` is not float: {e:?}").into())
                    })?;
                let raw = values.iter().flat_map(|v| v.to_le_bytes()).collect();
                Ok((name.clone(), data.shape().to_vec(), raw))
            })
            .collect::<Result<_, WeightError>>()?;
        let views = bytes
            .iter()
            .map(|(name, shape, raw)| {
                safetensors::tensor::TensorView::new(safetensors::Dtype::F32, shape.clone(), raw)
                    .map(|view| (name.as_str(), view))
                    .map_err(|e| write_error(e.into()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let tmp = temporary_path(path);
        safetensors::serialize_to_file(views, None, &tmp).map_err(|e| write_error(e.into()))?;
        std::fs::rename(&tmp, path).map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            write_error(e.into())
        })
    }

    /// Adds or replaces a tensor.
    pub fn insert(&mut self, name: impl Into<String>, data: TensorData) {
        self.tensors.insert(name.into(), data);
    }

    /// The tensor stored under `name`.
    pub fn get(&self, name: &str) -> Option<&TensorData> {
        self.tensors.get(name)
    }

    /// Removes and returns the tensor stored under `name`.
    pub fn remove(&mut self, name: &str) -> Option<TensorData> {
        self.tensors.remove(name)
    }

    /// All names, sorted.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.tensors.keys().map(String::as_str)
    }

    /// Number of tensors.
    pub fn len(&self) -> usize {
        self.tensors.len()
    }

    /// Whether there are no tensors.
    pub fn is_empty(&self) -> bool {
        self.tensors.is_empty()
    }

    /// Where the tensors came from (a path, or a description).
    pub fn source(&self) -> &str {
        &self.source
    }
}

fn check_readable(path: &Path) -> Result<(), WeightError> {
    std::fs::metadata(path)
        .map(|_| ())
        .map_err(|e| read_error(path, e))
}

fn read_error(path: &Path, source: impl Into<BoxError>) -> WeightError {
    WeightError::Read {
        path: path.to_path_buf(),
        source: source.into(),
    }
}

fn temporary_path(path: &Path) -> PathBuf {
    let mut name = path
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(format!(".tmp-{}", std::process::id()));
    path.with_file_name(name)
}
