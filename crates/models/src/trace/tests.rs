//! The trace is the forward, step by step: the same outputs and states as the untraced stack
//! (which runs the fused op), gates that recompute the states, and gradient norms equal to the
//! hand-derived `∂L/∂h_t` on small cases.

use burn::Tensor;
use burn::prelude::Device;
use burn::tensor::{Distribution, TensorData};

use crate::cell::{CellType, Nonlinearity};
use crate::recurrent::RecurrentConfig;

fn random<const D: usize>(shape: [usize; D], device: &Device) -> Tensor<D> {
    Tensor::random(shape, Distribution::Uniform(-1.0, 1.0), device)
}

fn values<const D: usize>(t: Tensor<D>) -> Vec<f64> {
    t.into_data().convert::<f64>().try_to_vec::<f64>().unwrap()
}

fn assert_close<const D: usize>(a: Tensor<D>, b: Tensor<D>, tol: f64, what: &str) {
    assert_eq!(a.dims(), b.dims(), "{what}: shapes");
    let worst = values(a)
        .iter()
        .zip(values(b))
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max);
    assert!(worst <= tol, "{what}: worst difference {worst:e}");
}

#[test]
fn the_trace_computes_what_the_forward_computes_for_every_cell() {
    let device = Device::flex().autodiff();
    device.seed(5);
    let lengths = [6, 2, 5];
    for cell in [
        CellType::Rnn,
        CellType::Lstm,
        CellType::Gru,
        CellType::Slstm,
        CellType::MinGru,
        CellType::MinLstm,
    ] {
        for batch_first in [true, false] {
            let stack = RecurrentConfig::new(cell, 3, 4)
                .with_n_layers(2)
                .with_bidirectional(true)
                .with_batch_first(batch_first)
                .init(&device);
            let shape = if batch_first { [3, 6, 3] } else { [6, 3, 3] };
            let x = random(shape, &device);
            let (out, state) = stack.forward_with_lengths(x.clone(), &lengths, None);
            let trace = stack.trace(x, Some(&lengths), None);
            let what = format!("{cell:?} batch_first={batch_first}");
            assert_close(out, trace.output.clone(), 1e-5, &format!("{what} output"));
            assert_close(
                state.hidden,
                trace.state.hidden.clone(),
                1e-5,
                &format!("{what} h_n"),
            );
            if let (Some(c), Some(tc)) = (state.cell, trace.state.cell.clone()) {
                assert_close(c, tc, 1e-5, &format!("{what} c_n"));
            }
            // The last layer's two directions are the output, batch-first.
            assert_eq!(trace.layers.len(), 4, "{what}");
            let out_bf = if batch_first {
                trace.output.clone()
            } else {
                trace.output.clone().swap_dims(0, 1)
            };
            for (direction, layer) in trace.layers[2..].iter().enumerate() {
                assert_eq!((layer.layer, layer.direction), (1, direction));
                assert_close(
                    layer.hidden.clone(),
                    out_bf.clone().narrow(2, 4 * direction, 4),
                    1e-6,
                    &format!("{what} layer 1 direction {direction}"),
                );
                let expected: &[&str] = match cell {
                    CellType::Rnn => &[],
                    CellType::Lstm => &["i", "f", "g", "o"],
                    CellType::Gru => &["r", "z", "n"],
                    CellType::Slstm => &["i", "f", "z", "o"],
                    CellType::MinGru => &["z"],
                    CellType::MinLstm => &["f"],
                };
                let names: Vec<&str> = layer.gates.iter().map(|(n, _)| *n).collect();
                assert_eq!(names, expected, "{what}");
                for (name, gate) in &layer.gates {
                    assert_eq!(gate.dims(), [3, 6, 4], "{what} gate {name}");
                }
                assert_eq!(
                    layer.cell.is_some(),
                    matches!(cell, CellType::Lstm | CellType::Slstm),
                    "{what}"
                );
            }
        }
    }
}

/// An LSTM's traced gates recompute its traced states: `c_t = f c_{t−1} + i g` and
/// `h_t = o tanh(c_t)`.
#[test]
fn lstm_gates_recompute_the_states() {
    let device = Device::flex();
    device.seed(6);
    let stack = RecurrentConfig::new(CellType::Lstm, 3, 5).init(&device);
    let trace = stack.trace(random([2, 7, 3], &device), None, None);
    let layer = &trace.layers[0];
    let gate = |n: &str| layer.gate(n).unwrap();
    let c = layer.cell.clone().unwrap();
    let c_prev = Tensor::cat(
        vec![Tensor::zeros([2, 1, 5], &device), c.clone().narrow(1, 0, 6)],
        1,
    );
    assert_close(
        gate("f") * c_prev + gate("i") * gate("g"),
        c.clone(),
        1e-6,
        "c",
    );
    assert_close(gate("o") * c.tanh(), layer.hidden.clone(), 1e-6, "h");
}

/// `‖∂L/∂h_t‖` for `L = Σ w ⊙ h_T` on a one-layer tanh RNN: `w` at the last step,
/// `W_hhᵀ (w ⊙ (1 − h_T²))` one step before, zero for a step the loss cannot see (none) —
/// and for a minGRU `a_T ⊙ w` one step before (`h_T = a_T h_{T−1} + b_T`).
#[test]
fn gradient_norms_are_the_hand_derived_ones() {
    let device = Device::flex().autodiff();
    device.seed(7);
    let stack = RecurrentConfig::new(CellType::Rnn, 2, 3)
        .with_nonlinearity(Nonlinearity::Tanh)
        .init(&device);
    let w = Tensor::<2>::from_data(TensorData::new(vec![0.5f32, -1.0, 2.0], [1, 3]), &device);
    let trace = stack.trace(random([1, 4, 2], &device), None, None);
    let last = trace.output.clone().narrow(1, 3, 1).reshape([1, 3]);
    let grads = (last.clone() * w.clone()).sum().backward();
    let norms = &trace.hidden_grad_norms(&grads)[0];
    assert_eq!(norms.len(), 4);
    let norm = |v: Tensor<2>| values(v).iter().map(|x| x * x).sum::<f64>().sqrt();
    assert!((norms[3] - norm(w.clone())).abs() < 1e-6, "{norms:?}");
    let w_hh = stack.cells[0].weight_hh.val();
    let da = w.clone() * (last.clone().powi_scalar(2).neg() + 1.0);
    let expected = norm(da.matmul(w_hh));
    assert!(
        (norms[2] - expected).abs() < 1e-5,
        "{norms:?} vs {expected}"
    );
    assert!(norms[0] > 0.0, "{norms:?}");

    let min = RecurrentConfig::new(CellType::MinGru, 2, 3).init(&device);
    let trace = min.trace(random([1, 4, 2], &device), None, None);
    let last = trace.output.clone().narrow(1, 3, 1).reshape([1, 3]);
    let grads = (last * w.clone()).sum().backward();
    let norms = &trace.hidden_grad_norms(&grads)[0];
    let z_last = trace.layers[0]
        .gate("z")
        .unwrap()
        .narrow(1, 3, 1)
        .reshape([1, 3]);
    let expected = norm((z_last.neg() + 1.0) * w);
    assert!(
        (norms[2] - expected).abs() < 1e-5,
        "{norms:?} vs {expected}"
    );
}
