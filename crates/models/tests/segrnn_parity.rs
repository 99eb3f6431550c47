//! `SegmentRnn` against SegRNN written with PyTorch's own `nn.GRU` / `nn.LSTM` in float64
//! (`fixtures/segrnn/generate.py`, which says how to regenerate the files): the forecast and
//! the gradients of a fixed scalar loss for the input, the embeddings and the two linear maps,
//! within 1e-5 on flex.

use std::path::PathBuf;

use burn::Tensor;
use burn::module::Param;
use burn::nn::Linear;
use burn::prelude::Device;
use burn::tensor::TensorData;
use rnnlab_models::{
    CellType, PytorchWeights, RecurrentConfig, SegmentNorm, SegmentRnn, SegmentRnnConfig, StateDict,
};

const TOL: f32 = 1e-5;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join(format!("tests/fixtures/segrnn/{name}.safetensors"))
}

fn config_of(name: &str) -> serde_json::Value {
    let bytes = std::fs::read(fixture(name)).unwrap();
    let (_, metadata) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
    serde_json::from_str(&metadata.metadata().as_ref().unwrap()["config"]).unwrap()
}

fn tensor<const D: usize>(dict: &StateDict, key: &str, device: &Device) -> Tensor<D> {
    let data = dict
        .get(key)
        .unwrap_or_else(|| panic!("fixture lacks {key}"));
    Tensor::from_data(data.clone(), device)
}

fn assert_close<const D: usize>(actual: Tensor<D>, expected: &TensorData, what: &str) {
    let actual = actual.into_data();
    assert_eq!(actual.shape(), expected.shape(), "{what}: shape");
    let a = actual.convert::<f32>().try_into_vec::<f32>().unwrap();
    let e = expected.clone().try_into_vec::<f32>().unwrap();
    let worst = a
        .iter()
        .zip(&e)
        .map(|(x, y)| (x - y).abs() / y.abs().max(1.0))
        .fold(0.0f32, f32::max);
    assert!(worst <= TOL, "{what}: worst error {worst:e} > {TOL:e}");
}

/// PyTorch's `[out, in]` linear weight and bias into burn's `[in, out]`.
fn set_linear(linear: &mut Linear, dict: &StateDict, prefix: &str, device: &Device) {
    let w = tensor::<2>(dict, &format!("{prefix}.weight"), device).transpose();
    linear.weight = Param::from_tensor(w);
    linear.bias = Some(Param::from_tensor(tensor::<1>(
        dict,
        &format!("{prefix}.bias"),
        device,
    )));
}

fn check(name: &str) {
    let device = Device::flex().autodiff();
    let v = config_of(name);
    let n = |k: &str| v[k].as_u64().unwrap() as usize;
    let cell = match v["cell"].as_str().unwrap() {
        "lstm" => CellType::Lstm,
        _ => CellType::Gru,
    };
    let norm = match v["norm"].as_str().unwrap() {
        "last" => SegmentNorm::Last,
        "revin" => SegmentNorm::Revin,
        _ => SegmentNorm::None,
    };
    let rnn = RecurrentConfig::new(cell, n("d_input"), n("d_hidden")).with_n_layers(n("n_layers"));
    let dict = StateDict::from_safetensors(fixture(name)).unwrap();
    let mut model: SegmentRnn =
        SegmentRnnConfig::new(rnn, n("lookback"), n("horizon"), n("segment"), n("columns"))
            .with_norm(norm)
            .with_channel_embedding(v["channel_embedding"].as_bool().unwrap())
            .init(&device);
    model.rnn = model.rnn.load_state_dict(&dict, "rnn.").unwrap();
    set_linear(&mut model.embed, &dict, "embed", &device);
    set_linear(&mut model.predict, &dict, "predict", &device);
    model.position = Param::from_tensor(tensor(&dict, "position", &device));
    if let Some(channel) = model.channel.as_mut() {
        *channel = Param::from_tensor(tensor(&dict, "channel", &device));
    }

    let input = tensor::<3>(&dict, "data.input", &device).require_grad();
    let y = model.forward(input.clone());
    assert_close(
        y.clone(),
        dict.get("out.y").unwrap(),
        &format!("{name}: forecast"),
    );
    let grads = (y * tensor::<3>(&dict, "loss.w", &device)).sum().backward();
    let grad = |t: Option<Tensor<2>>, key: &str| {
        assert_close(
            t.expect("a gradient"),
            dict.get(key).unwrap(),
            &format!("{name}: {key}"),
        );
    };
    assert_close(
        input.grad(&grads).unwrap(),
        dict.get("grad.input").unwrap(),
        &format!("{name}: grad.input"),
    );
    grad(
        model.embed.weight.grad(&grads).map(|g| g.transpose()),
        "grad.embed.weight",
    );
    grad(
        model.predict.weight.grad(&grads).map(|g| g.transpose()),
        "grad.predict.weight",
    );
    grad(model.position.grad(&grads), "grad.position");
    if let Some(channel) = &model.channel {
        grad(channel.grad(&grads), "grad.channel");
    }
}

#[test]
fn gru_with_last_value_normalisation_matches_pytorch() {
    check("segrnn_gru_last");
}

#[test]
fn lstm_with_revin_matches_pytorch() {
    check("segrnn_lstm_revin");
}

#[test]
fn two_layer_gru_without_channel_embedding_matches_pytorch() {
    check("segrnn_gru_2l_none_nochannel");
}
