//! Parity with PyTorch: outputs, final states and every gradient of a fixed scalar loss, for
//! each fixture written by `fixtures/generate.py` (PyTorch's layers) and
//! `fixtures/layer_norm/generate.py` (the layer-normalised cells from their equations) and
//! `fixtures/slstm/generate.py` (the sLSTM from the xLSTM paper's equations); see those files
//! for how to regenerate them.
//!
//! On `flex` within 1e-5; on `wgpu` (Mesa's software Vulkan in CI) within 1e-4.

use std::path::{Path, PathBuf};

use burn::Tensor;
use burn::prelude::Device;
use burn::tensor::{DeviceKind, TensorData};
use rnnlab_models::{
    CellType, Nonlinearity, PytorchWeights, Recurrent, RecurrentConfig, RecurrentNorm,
    RecurrentState, StateDict,
};

/// Tolerance on the pure-Rust CPU backend (absolute, relative above 1).
const FLEX_TOL: f32 = 1e-5;
/// Tolerance on wgpu: GPU reductions and transcendental functions round differently.
const WGPU_TOL: f32 = 1e-4;
/// Tolerance of the layer-normalised cells on flex: each step divides by the standard
/// deviation of its `G·H` pre-activations, in f32 against PyTorch's f64 (the worst gradient
/// error measured was 1.03e-5).
const LAYER_NORM_FLEX_TOL: f32 = 2e-5;

const CASES: &[&str] = &[
    "rnn_tanh_1l",
    "rnn_relu_2l_bi",
    "rnn_lengths_bi",
    "lstm_1l",
    "lstm_2l_bi_state",
    "lstm_3l",
    "lstm_proj_2l_bi",
    "lstm_nobias_seqfirst",
    "lstm_lengths_bi_proj",
    "gru_1l",
    "gru_2l_bi",
    "gru_nobias_seqfirst",
    "gru_lengths_unsorted_2l_bi",
    // Layer-normalised cells (`norm = "layer"`), from `fixtures/layer_norm/generate.py`.
    "layer_norm/ln_lstm_1l",
    "layer_norm/ln_lstm_2l_bi_lengths",
    "layer_norm/ln_gru_1l",
    "layer_norm/ln_gru_2l_bi_lengths",
    // The sLSTM (xLSTM), from `fixtures/slstm/generate.py`.
    "slstm/slstm_1l",
    "slstm/slstm_2l_bi_lengths_state",
    "slstm/slstm_heads_2l",
];

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// The constructor arguments the generator stored in the file's metadata.
fn config_of(path: &Path) -> RecurrentConfig {
    let bytes = std::fs::read(path).unwrap();
    let (_, metadata) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
    let json = metadata.metadata().as_ref().unwrap()["config"].clone();
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let cell = match v["cell"].as_str().unwrap() {
        "rnn" => CellType::Rnn,
        "lstm" => CellType::Lstm,
        "slstm" => CellType::Slstm,
        _ => CellType::Gru,
    };
    let n = |k: &str| v[k].as_u64().unwrap() as usize;
    RecurrentConfig::new(cell, n("d_input"), n("d_hidden"))
        .with_n_layers(n("n_layers"))
        .with_bias(v["bias"].as_bool().unwrap())
        .with_batch_first(v["batch_first"].as_bool().unwrap())
        .with_bidirectional(v["bidirectional"].as_bool().unwrap())
        .with_proj_size(n("proj_size"))
        .with_nonlinearity(if v["nonlinearity"] == "relu" {
            Nonlinearity::Relu
        } else {
            Nonlinearity::Tanh
        })
        .with_norm(if v["norm"] == "layer" {
            RecurrentNorm::Layer
        } else {
            RecurrentNorm::None
        })
        .with_heads(v["heads"].as_u64().map_or(1, |h| h as usize))
}

fn tensor<const D: usize>(dict: &StateDict, key: &str, device: &Device) -> Tensor<D> {
    let data = dict
        .get(key)
        .unwrap_or_else(|| panic!("fixture lacks {key}"))
        .clone();
    Tensor::from_data(data, device)
}

fn assert_close<const D: usize>(actual: Tensor<D>, expected: &TensorData, tol: f32, what: &str) {
    assert_data_close(&actual.into_data(), expected, tol, what);
}

/// The worst error relative to `max(|expected|, 1)` is within `tol`, and the shapes agree.
fn assert_data_close(actual: &TensorData, expected: &TensorData, tol: f32, what: &str) {
    assert_eq!(actual.shape(), expected.shape(), "{what}: shape");
    let a = actual
        .clone()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .unwrap();
    let e = expected.clone().try_into_vec::<f32>().unwrap();
    let worst = a
        .iter()
        .zip(&e)
        .map(|(x, y)| (x - y).abs() / y.abs().max(1.0))
        .fold(0.0f32, f32::max);
    assert!(worst <= tol, "{what}: worst error {worst:e} > {tol:e}");
}

fn check_case(name: &str, device: &Device, tol: f32) {
    let path = fixture(&format!("{name}.safetensors"));
    let config = config_of(&path);
    let dict = StateDict::from_safetensors(&path).unwrap();
    let stack: Recurrent = config.init(device).load_state_dict(&dict, "rnn.").unwrap();

    let input = tensor::<3>(&dict, "data.input", device).require_grad();
    let h0 = dict
        .get("data.h0")
        .map(|_| tensor::<3>(&dict, "data.h0", device).require_grad());
    let c0 = dict
        .get("data.c0")
        .map(|_| tensor::<3>(&dict, "data.c0", device).require_grad());
    let state = h0.clone().map(|hidden| RecurrentState {
        hidden,
        cell: c0.clone(),
    });
    let lengths: Option<Vec<usize>> = dict.get("data.lengths").map(|l| {
        l.clone()
            .try_into_vec::<f32>()
            .unwrap()
            .into_iter()
            .map(|v| v as usize)
            .collect()
    });
    let (output, state) = match &lengths {
        Some(lengths) => stack.forward_with_lengths(input.clone(), lengths, state),
        None => stack.forward(input.clone(), state),
    };

    let what = |k: &str| format!("{name}: {k}");
    assert_close(
        output.clone(),
        dict.get("out.output").unwrap(),
        tol,
        &what("output"),
    );
    assert_close(
        state.hidden.clone(),
        dict.get("out.h_n").unwrap(),
        tol,
        &what("h_n"),
    );
    let mut loss = (output * tensor::<3>(&dict, "loss.output", device)).sum()
        + (state.hidden * tensor::<3>(&dict, "loss.h_n", device)).sum();
    if let Some(c_n) = state.cell {
        assert_close(c_n.clone(), dict.get("out.c_n").unwrap(), tol, &what("c_n"));
        loss = loss + (c_n * tensor::<3>(&dict, "loss.c_n", device)).sum();
    }
    let grads = loss.backward();
    assert_close(
        input.grad(&grads).unwrap(),
        dict.get("grad.input").unwrap(),
        tol,
        &what("grad input"),
    );
    if let Some(h0) = h0 {
        assert_close(
            h0.grad(&grads).unwrap(),
            dict.get("grad.h0").unwrap(),
            tol,
            &what("grad h0"),
        );
    }
    if let Some(c0) = c0 {
        assert_close(
            c0.grad(&grads).unwrap(),
            dict.get("grad.c0").unwrap(),
            tol,
            &what("grad c0"),
        );
    }
    // The parameter gradients, exported under PyTorch's names, against PyTorch's `p.grad`.
    let exported = stack.gradients_state_dict(&grads, "grad.");
    for key in exported.keys() {
        let ours = exported.get(key).unwrap();
        let theirs = dict
            .get(key)
            .unwrap_or_else(|| panic!("{name}: no {key} in the fixture"));
        assert_data_close(ours, theirs, tol, &what(key));
    }
    let checked = exported.len();
    let expected = dict
        .keys()
        .filter(|k| {
            k.starts_with("grad.") && *k != "grad.input" && *k != "grad.h0" && *k != "grad.c0"
        })
        .count();
    assert_eq!(
        checked, expected,
        "{name}: every parameter gradient in the fixture was compared"
    );
}

#[test]
fn parity_with_pytorch_on_flex() {
    let device = Device::flex().autodiff();
    for name in CASES {
        let tol = if name.starts_with("layer_norm/") {
            LAYER_NORM_FLEX_TOL
        } else {
            FLEX_TOL
        };
        check_case(name, &device, tol);
    }
}

/// Runs the same cases on wgpu. CI installs Mesa's software Vulkan driver (lavapipe) first; a
/// machine without any Vulkan driver skips it with a `SKIP` line (`RNNLAB_REQUIRE_ALL=1`: fails).
#[test]
fn parity_with_pytorch_on_wgpu() {
    if !rnnlab_models::testing::wgpu_or_skip("parity_with_pytorch_on_wgpu") {
        return;
    }
    let device = Device::wgpu(DeviceKind::DefaultDevice).autodiff();
    for name in CASES {
        check_case(name, &device, WGPU_TOL);
    }
}

#[test]
fn loads_pytorch_pickle_under_a_prefix() {
    let device = Device::flex();
    for name in ["lstm_proj_2l_bi", "gru_2l_bi"] {
        let reference = fixture(&format!("{name}.safetensors"));
        let expected = StateDict::from_safetensors(&reference).unwrap();
        // The pickle holds the same weights under `encoder.rnn.`, next to an unrelated
        // `encoder.other.weight` that lies outside the prefix and is ignored.
        let stack = config_of(&reference)
            .init(&device)
            .load_pytorch(fixture(&format!("{name}.pt")), "encoder.rnn.")
            .unwrap();
        // Both fixtures were generated with a given initial state.
        let state = RecurrentState {
            hidden: tensor(&expected, "data.h0", &device),
            cell: expected
                .get("data.c0")
                .map(|_| tensor(&expected, "data.c0", &device)),
        };
        let (output, _) = stack.forward(tensor(&expected, "data.input", &device), Some(state));
        assert_close(output, expected.get("out.output").unwrap(), FLEX_TOL, name);
    }
}

#[test]
fn export_uses_pytorch_names_and_round_trips() {
    let device = Device::flex();
    let path = fixture("lstm_proj_2l_bi.safetensors");
    let dict = StateDict::from_safetensors(&path).unwrap();
    let stack = config_of(&path)
        .init(&device)
        .load_state_dict(&dict, "rnn.")
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("exported.safetensors");
    stack.save_safetensors(&out, "rnn.").unwrap();
    let exported = StateDict::from_safetensors(&out).unwrap();
    let theirs: Vec<&str> = dict.keys().filter(|k| k.starts_with("rnn.")).collect();
    let ours: Vec<&str> = exported.keys().collect();
    assert_eq!(ours, theirs, "exported names are PyTorch's");
    for key in ours {
        assert_eq!(
            exported.get(key).unwrap(),
            dict.get(key).unwrap(),
            "{key} round trip"
        );
    }
    // The temporary file was renamed away.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[test]
fn mismatched_weights_name_every_key_and_both_shapes() {
    let device = Device::flex();
    let path = fixture("lstm_proj_2l_bi.safetensors");
    let mut dict = StateDict::from_safetensors(&path).unwrap();
    dict.remove("rnn.bias_hh_l1_reverse");
    dict.insert("rnn.weight_ih_l2", TensorData::new(vec![0.0f32; 4], [2, 2]));
    dict.insert("rnn.weight_hh_l0", TensorData::new(vec![0.0f32; 6], [2, 3]));
    let err = config_of(&path)
        .init(&device)
        .load_state_dict(&dict, "rnn.")
        .unwrap_err()
        .to_string();
    assert!(err.contains(&path.display().to_string()), "{err}");
    assert!(
        err.contains("missing key `rnn.bias_hh_l1_reverse` (the model expects shape [28])"),
        "{err}"
    );
    assert!(
        err.contains("unexpected key `rnn.weight_ih_l2` (shape [2, 2])"),
        "{err}"
    );
    assert!(
        err.contains(
            "shape mismatch for `rnn.weight_hh_l0`: the model expects [28, 3], the file has [2, 3]"
        ),
        "{err}"
    );
}

#[test]
fn non_strict_load_ignores_and_lists_unexpected_keys_but_not_missing_ones() {
    let device = Device::flex();
    let config = RecurrentConfig::new(CellType::Lstm, 3, 4);
    let source = config.init(&device);
    let mut dict = source.to_state_dict("rnn.");
    let extra = TensorData::new(vec![0f32; 2], [2]);
    dict.insert("rnn.head.weight", extra.clone());
    dict.insert("optimizer.step", extra);
    assert!(
        config.init(&device).load_state_dict(&dict, "rnn.").is_err(),
        "strict refuses"
    );
    let (loaded, ignored) = config
        .init(&device)
        .load_state_dict_non_strict(&dict, "rnn.")
        .unwrap();
    assert_eq!(ignored, ["rnn.head.weight"]);
    let a = loaded.to_state_dict("");
    let b = source.to_state_dict("");
    for key in b.keys() {
        assert_eq!(a.get(key), b.get(key), "{key}");
    }
    dict.remove("rnn.weight_hh_l0");
    let err = config
        .init(&device)
        .load_state_dict_non_strict(&dict, "rnn.")
        .unwrap_err()
        .to_string();
    assert!(err.contains("rnn.weight_hh_l0"), "{err}");
}

#[test]
fn unreadable_files_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.pt");
    let err = StateDict::from_file(&missing).unwrap_err().to_string();
    assert!(err.contains("nope.pt"), "{err}");
    let garbage = dir.path().join("garbage.safetensors");
    std::fs::write(&garbage, b"not a safetensors file").unwrap();
    let err = StateDict::from_file(&garbage).unwrap_err().to_string();
    assert!(err.contains("garbage.safetensors"), "{err}");
}
