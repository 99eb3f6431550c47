//! minGRU and minLSTM against PyTorch running the paper's own log-space parallel mode
//! (`fixtures/min_rnn/generate.py`, which says how to regenerate the fixtures): outputs, final
//! states and the gradients of a fixed loss with respect to the input, the initial state and
//! every weight, on flex within 1e-5.

use std::path::Path;

use burn::Tensor;
use burn::module::Param;
use burn::prelude::Device;
use burn::tensor::TensorData;
use rnnlab_models::{MinCell, MinRnnConfig, StateDict};

const TOL: f32 = 1e-5;

fn tensor<const D: usize>(dict: &StateDict, key: &str, device: &Device) -> Tensor<D> {
    let data = dict
        .get(key)
        .unwrap_or_else(|| panic!("{key} in the fixture"));
    Tensor::from_data(data.clone().convert::<f32>(), device)
}

fn assert_close<const D: usize>(got: Tensor<D>, want: &TensorData, what: &str) {
    assert_eq!(got.dims().to_vec(), want.shape().to_vec(), "{what}: shape");
    let got = got
        .into_data()
        .convert::<f32>()
        .try_to_vec::<f32>()
        .unwrap();
    let want = want.clone().convert::<f32>().try_to_vec::<f32>().unwrap();
    for (i, (x, y)) in got.iter().zip(&want).enumerate() {
        assert!(
            (x - y).abs() <= TOL * y.abs().max(1.0),
            "{what}[{i}]: {x} vs {y}"
        );
    }
}

#[test]
fn min_cells_match_the_papers_parallel_mode_in_pytorch() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/min_rnn");
    let device = Device::flex().autodiff();
    for (name, cell, layers, d_input, hidden) in [
        ("mingru_1l", MinCell::MinGru, 1, 5, 6),
        ("minlstm_1l", MinCell::MinLstm, 1, 5, 6),
        ("mingru_2l", MinCell::MinGru, 2, 4, 5),
        ("minlstm_2l", MinCell::MinLstm, 2, 4, 5),
    ] {
        let dict = StateDict::from_file(dir.join(format!("{name}.safetensors"))).unwrap();
        let mut stack = MinRnnConfig::new(cell, d_input, hidden)
            .with_n_layers(layers)
            .init(&device);
        // PyTorch's `nn.Linear` keeps `[out, in]`; burn's `Linear` keeps `[in, out]`.
        for (l, map) in stack.maps.iter_mut().enumerate() {
            let w: Tensor<2> = tensor(&dict, &format!("layer{l}.weight"), &device);
            map.weight = Param::from_tensor(w.transpose().require_grad());
            let b: Tensor<1> = tensor(&dict, &format!("layer{l}.bias"), &device);
            map.bias = Some(Param::from_tensor(b.require_grad()));
        }
        let input: Tensor<3> = tensor(&dict, "data.input", &device).require_grad();
        let h0: Tensor<3> = tensor(&dict, "data.h0", &device).require_grad();
        let (out, h_n) = stack.forward(input.clone(), Some(h0.clone()));
        let w_out: Tensor<3> = tensor(&dict, "loss.output", &device);
        let grads = ((out.clone() * w_out).sum() + h_n.clone().sum()).backward();
        let what = |x: &str| format!("{name} {x}");
        assert_close(out, dict.get("out.output").unwrap(), &what("output"));
        assert_close(h_n, dict.get("out.h_n").unwrap(), &what("h_n"));
        assert_close(
            input.grad(&grads).unwrap(),
            dict.get("grad.input").unwrap(),
            &what("grad input"),
        );
        assert_close(
            h0.grad(&grads).unwrap(),
            dict.get("grad.h0").unwrap(),
            &what("grad h0"),
        );
        for (l, map) in stack.maps.iter().enumerate() {
            let w = map.weight.val().grad(&grads).unwrap().transpose();
            let key = format!("grad.layer{l}.weight");
            assert_close(w, dict.get(&key).unwrap(), &what(&key));
            let b = map.bias.as_ref().unwrap().val().grad(&grads).unwrap();
            let key = format!("grad.layer{l}.bias");
            assert_close(b, dict.get(&key).unwrap(), &what(&key));
        }
    }
}
