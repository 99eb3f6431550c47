//! PyTorch weights: load a `state_dict` (`.pt` or `.safetensors`) into any recurrent module of
//! this crate and export one back under PyTorch's names.
//!
//! Parameters are stored in PyTorch's gate-fused layout (gate order LSTM `i, f, g, o`, GRU
//! `r, z, n`), so the mapping is by name only: `weight_ih_l{k}[_reverse]`,
//! `weight_hh_l{k}[_reverse]`, `bias_ih_l{k}[_reverse]`, `bias_hh_l{k}[_reverse]` and, for a
//! projected LSTM, `weight_hr_l{k}[_reverse]`.

mod state_dict;

use std::path::Path;

use burn::Tensor;
use burn::module::Param;
use burn::tensor::Gradients;

pub use state_dict::StateDict;

use crate::error::{KeyProblem, WeightError};
use crate::modules::{Gru, Lstm, Rnn};
use crate::params::DirectionParams;
use crate::recurrent::Recurrent;

/// Import and export of PyTorch `state_dict`s.
///
/// `prefix` is prepended to every parameter name, e.g. `"encoder.rnn."` for a module that lives
/// at `model.encoder.rnn` in PyTorch; keys outside the prefix belong to other modules and are
/// ignored, keys under it must match exactly.
pub trait PytorchWeights: Sized {
    /// Loads the parameters from `dict`. Every missing key, unexpected key under `prefix` and
    /// shape mismatch is reported at once, naming the key and both shapes.
    fn load_state_dict(self, dict: &StateDict, prefix: &str) -> Result<Self, WeightError>;

    /// The parameters under PyTorch's names, each prefixed with `prefix`.
    fn to_state_dict(&self, prefix: &str) -> StateDict;

    /// The gradients of the parameters (from `loss.backward()` on an autodiff device) under
    /// PyTorch's names, each prefixed with `prefix`, to compare with PyTorch's `p.grad`.
    /// Parameters without a gradient are left out.
    fn gradients_state_dict(&self, grads: &Gradients, prefix: &str) -> StateDict;

    /// [`load_state_dict`](Self::load_state_dict) that ignores keys under `prefix` this module
    /// does not have (a checkpoint of a larger model, optimiser extras), returning them sorted.
    /// Missing keys and shape mismatches are still errors.
    fn load_state_dict_non_strict(
        self,
        dict: &StateDict,
        prefix: &str,
    ) -> Result<(Self, Vec<String>), WeightError> {
        let expected: std::collections::BTreeSet<String> = self
            .to_state_dict(prefix)
            .keys()
            .map(str::to_string)
            .collect();
        let mut kept = StateDict::new(dict.source());
        let mut ignored = Vec::new();
        for key in dict.keys() {
            if key.starts_with(prefix) && !expected.contains(key) {
                ignored.push(key.to_string());
            } else if let Some(data) = dict.get(key) {
                kept.insert(key, data.clone());
            }
        }
        ignored.sort();
        Ok((self.load_state_dict(&kept, prefix)?, ignored))
    }

    /// Reads `path` (`.safetensors`, or a `torch.save` pickle) and loads it.
    fn load_pytorch(self, path: impl AsRef<Path>, prefix: &str) -> Result<Self, WeightError> {
        let dict = StateDict::from_file(path)?;
        self.load_state_dict(&dict, prefix)
    }

    /// Writes the parameters to a `.safetensors` file that PyTorch's `load_state_dict` accepts
    /// (after `safetensors.torch.load_file`).
    fn save_safetensors(&self, path: impl AsRef<Path>, prefix: &str) -> Result<(), WeightError> {
        self.to_state_dict(prefix).save_safetensors(path)
    }
}

/// The PyTorch names of one direction's parameters, with their tensors.
/// A minGRU/minLSTM stack's maps from `layer{i}.weight` (`[out, in]`, PyTorch's `nn.Linear`
/// layout, as the paper's code writes them) and `layer{i}.bias`, `i = layer · D + direction`.
fn load_min(
    mut min: crate::MinRnn,
    dict: &StateDict,
    prefix: &str,
) -> Result<crate::MinRnn, WeightError> {
    let mut wanted = Vec::new();
    for (index, map) in min.maps.iter().enumerate() {
        let [d_in, d_out] = map.weight.val().dims();
        wanted.push((format!("layer{index}.weight"), vec![d_out, d_in]));
        if map.bias.is_some() {
            wanted.push((format!("layer{index}.bias"), vec![d_out]));
        }
    }
    let mut datas = take_all(dict, prefix, &wanted)?.into_iter();
    for map in &mut min.maps {
        let device = map.weight.device();
        let w: Tensor<2> = Tensor::from_data(datas.next().expect("one per key"), &device);
        // Stored contiguous, as `init` makes it (a transposed view would sum in another order).
        map.weight = Param::from_data(w.transpose().into_data(), &device);
        if map.bias.is_some() {
            map.bias = Some(Param::from_data(
                datas.next().expect("one per key"),
                &device,
            ));
        }
    }
    Ok(min)
}

fn named_params(
    params: &DirectionParams,
    suffix: &str,
) -> Vec<(String, Option<Tensor<2>>, Option<Tensor<1>>)> {
    let mut out = vec![
        (
            format!("weight_ih_{suffix}"),
            Some(params.weight_ih.val()),
            None,
        ),
        (
            format!("weight_hh_{suffix}"),
            Some(params.weight_hh.val()),
            None,
        ),
    ];
    if let Some(b) = &params.bias_ih {
        out.push((format!("bias_ih_{suffix}"), None, Some(b.val())));
    }
    if let Some(b) = &params.bias_hh {
        out.push((format!("bias_hh_{suffix}"), None, Some(b.val())));
    }
    if let Some(w) = &params.weight_hr {
        out.push((format!("weight_hr_{suffix}"), Some(w.val()), None));
    }
    // Layer normalisation (PyTorch has no such layer: names in its style, beside the others).
    if let Some(n) = &params.norm {
        out.push((
            format!("ln_ih_weight_{suffix}"),
            None,
            Some(n.ih_weight.val()),
        ));
        out.push((
            format!("ln_hh_weight_{suffix}"),
            None,
            Some(n.hh_weight.val()),
        ));
        if let Some(g) = &n.c_weight {
            out.push((format!("ln_c_weight_{suffix}"), None, Some(g.val())));
        }
        if let Some(b) = &n.c_bias {
            out.push((format!("ln_c_bias_{suffix}"), None, Some(b.val())));
        }
    }
    out
}

impl Recurrent {
    fn suffix(&self, index: usize) -> String {
        let layer = index / self.meta.directions;
        let reverse = if index % self.meta.directions == 1 {
            "_reverse"
        } else {
            ""
        };
        format!("l{layer}{reverse}")
    }
}

/// The tensors `wanted` (key under `prefix`, expected shape), in order, from `dict`; every
/// missing, mis-shaped or unexpected key under `prefix` is reported at once.
fn take_all(
    dict: &StateDict,
    prefix: &str,
    wanted: &[(String, Vec<usize>)],
) -> Result<Vec<burn::tensor::TensorData>, WeightError> {
    let mut problems = Vec::new();
    let mut found = Vec::with_capacity(wanted.len());
    for (key, expected) in wanted {
        let full = format!("{prefix}{key}");
        match dict.get(&full) {
            None => problems.push(KeyProblem::Missing {
                key: full,
                expected: expected.clone(),
            }),
            Some(data) if data.shape().to_vec() != *expected => problems.push(KeyProblem::Shape {
                key: full,
                expected: expected.clone(),
                found: data.shape().to_vec(),
            }),
            Some(data) => found.push(data.clone()),
        }
    }
    let known: std::collections::BTreeSet<String> =
        wanted.iter().map(|(k, _)| format!("{prefix}{k}")).collect();
    for key in dict.keys() {
        if key.starts_with(prefix) && !known.contains(key) {
            problems.push(KeyProblem::Unexpected {
                key: key.to_string(),
                found: dict
                    .get(key)
                    .map(|d| d.shape().to_vec())
                    .unwrap_or_default(),
            });
        }
    }
    if !problems.is_empty() {
        return Err(WeightError::Mismatch {
            source_name: dict.source().to_string(),
            problems,
        });
    }
    Ok(found)
}

impl PytorchWeights for Recurrent {
    fn load_state_dict(mut self, dict: &StateDict, prefix: &str) -> Result<Self, WeightError> {
        if let Some(min) = self.min.take() {
            self.min = Some(load_min(min, dict, prefix)?);
            return Ok(self);
        }
        let suffixes: Vec<String> = (0..self.cells.len()).map(|i| self.suffix(i)).collect();
        let mut wanted = Vec::new();
        let mut names_per_cell = Vec::with_capacity(self.cells.len());
        for (params, suffix) in self.cells.iter().zip(&suffixes) {
            let names: Vec<String> = named_params(params, suffix)
                .into_iter()
                .map(|(name, w, b)| {
                    let shape = w
                        .map(|w| w.dims().to_vec())
                        .or(b.map(|b| b.dims().to_vec()))
                        .unwrap();
                    wanted.push((name.clone(), shape));
                    name
                })
                .collect();
            names_per_cell.push(names);
        }
        let mut datas = take_all(dict, prefix, &wanted)?.into_iter();
        for (params, names) in self.cells.iter_mut().zip(names_per_cell) {
            let device = params.weight_ih.device();
            for name in names {
                let data = datas.next().expect("one tensor per wanted key");
                let norm = params.norm.as_mut();
                if let Some(n) = norm.filter(|_| name.starts_with("ln_")) {
                    let p = Param::from_data(data, &device);
                    if name.starts_with("ln_ih_weight") {
                        n.ih_weight = p;
                    } else if name.starts_with("ln_hh_weight") {
                        n.hh_weight = p;
                    } else if name.starts_with("ln_c_weight") {
                        n.c_weight = Some(p);
                    } else {
                        n.c_bias = Some(p);
                    }
                } else if name.starts_with("weight_ih") {
                    params.weight_ih = Param::from_data(data, &device);
                } else if name.starts_with("weight_hh") {
                    params.weight_hh = Param::from_data(data, &device);
                } else if name.starts_with("weight_hr") {
                    params.weight_hr = Some(Param::from_data(data, &device));
                } else if name.starts_with("bias_ih") {
                    params.bias_ih = Some(Param::from_data(data, &device));
                } else {
                    params.bias_hh = Some(Param::from_data(data, &device));
                }
            }
        }
        Ok(self)
    }

    fn to_state_dict(&self, prefix: &str) -> StateDict {
        let mut dict = StateDict::new("exported model");
        if let Some(min) = &self.min {
            for (index, map) in min.maps.iter().enumerate() {
                // PyTorch's `nn.Linear` layout, `[out, in]`, as the paper's code keeps it.
                dict.insert(
                    format!("{prefix}layer{index}.weight"),
                    map.weight.val().transpose().into_data(),
                );
                if let Some(b) = &map.bias {
                    dict.insert(format!("{prefix}layer{index}.bias"), b.val().into_data());
                }
            }
        }
        for (index, params) in self.cells.iter().enumerate() {
            for (name, w, b) in named_params(params, &self.suffix(index)) {
                let data = w
                    .map(|w| w.into_data())
                    .or(b.map(|b| b.into_data()))
                    .unwrap();
                dict.insert(format!("{prefix}{name}"), data);
            }
        }
        dict
    }

    fn gradients_state_dict(&self, grads: &Gradients, prefix: &str) -> StateDict {
        self.gradients(grads, prefix)
    }
}

impl Recurrent {
    fn gradients(&self, grads: &Gradients, prefix: &str) -> StateDict {
        let mut dict = StateDict::new("gradients");
        for (index, params) in self.cells.iter().enumerate() {
            for (name, w, b) in named_params(params, &self.suffix(index)) {
                let grad = match (w, b) {
                    (Some(w), _) => w.grad(grads).map(|g| g.into_data()),
                    (None, Some(b)) => b.grad(grads).map(|g| g.into_data()),
                    (None, None) => None,
                };
                if let Some(data) = grad {
                    dict.insert(format!("{prefix}{name}"), data);
                }
            }
        }
        dict
    }
}

macro_rules! delegate_to_inner {
    ($($module:ty),*) => {$(
        impl PytorchWeights for $module {
            fn load_state_dict(self, dict: &StateDict, prefix: &str) -> Result<Self, WeightError> {
                Ok(Self { inner: self.inner.load_state_dict(dict, prefix)? })
            }

            fn to_state_dict(&self, prefix: &str) -> StateDict {
                self.inner.to_state_dict(prefix)
            }

            fn gradients_state_dict(&self, grads: &Gradients, prefix: &str) -> StateDict {
                self.inner.gradients_state_dict(grads, prefix)
            }
        }
    )*};
}

delegate_to_inner!(Lstm, Gru, Rnn);
