//! Unit tests: the fast path against the reference path, the single-step API, dropout,
//! initialisation and config validation.
//!
//! (Over 400 lines: one test module; each test is one property of the stack.)

use burn::Tensor;
use burn::module::Module;
use burn::prelude::Device;
use burn::tensor::{Distribution, TensorData};

use crate::cell::{CellType, Nonlinearity, RecurrentNorm};
use crate::params::RecurrentInit;
use crate::recurrent::{Recurrent, RecurrentConfig, TimeLoop};
use crate::state::RecurrentState;
use crate::time_loop::split_time;
use crate::{GruConfig, LstmConfig, LstmState, reference};

/// Fast path vs reference path: both in f32, different summation orders.
const FAST_VS_REFERENCE_TOL: f32 = 1e-5;
/// `step` vs `forward`: the same math on different matmul shapes.
const STEP_VS_FORWARD_TOL: f32 = 1e-6;

fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .unwrap()
}

/// `|a − b| ≤ tol · max(1, |b|)` elementwise, with shapes equal.
pub(crate) fn assert_close<const D: usize>(a: Tensor<D>, b: Tensor<D>, tol: f32, what: &str) {
    assert_eq!(a.dims(), b.dims(), "{what}: shapes differ");
    let (a, b) = (values(a), values(b));
    for (i, (x, y)) in a.iter().zip(&b).enumerate() {
        let bound = tol * y.abs().max(1.0);
        assert!(
            (x - y).abs() <= bound,
            "{what}[{i}]: {x} vs {y} (tolerance {bound})"
        );
    }
}

pub(crate) fn random<const D: usize>(shape: [usize; D], device: &Device) -> Tensor<D> {
    Tensor::random(shape, Distribution::Uniform(-1.0, 1.0), device)
}

/// Every cell with layers, directions, projection, bias and lengths varied.
fn configs() -> Vec<RecurrentConfig> {
    let mut out = Vec::new();
    for cell in [
        CellType::Rnn,
        CellType::Lstm,
        CellType::Gru,
        CellType::Slstm,
    ] {
        for (n_layers, bidirectional) in [(1, false), (2, true), (3, false)] {
            out.push(
                RecurrentConfig::new(cell, 3, 5)
                    .with_n_layers(n_layers)
                    .with_bidirectional(bidirectional),
            );
        }
        out.push(
            RecurrentConfig::new(cell, 4, 6)
                .with_bias(false)
                .with_batch_first(false),
        );
    }
    out.push(
        RecurrentConfig::new(CellType::Rnn, 3, 5)
            .with_nonlinearity(Nonlinearity::Relu)
            .with_bidirectional(true),
    );
    out.push(
        RecurrentConfig::new(CellType::Lstm, 3, 6)
            .with_proj_size(2)
            .with_n_layers(2)
            .with_bidirectional(true),
    );
    out.push(
        RecurrentConfig::new(CellType::Slstm, 3, 6)
            .with_heads(3)
            .with_n_layers(2)
            .with_bidirectional(true),
    );
    out
}

fn batch_first_input(stack: &Recurrent, input: Tensor<3>) -> Tensor<3> {
    if stack.meta.batch_first {
        input
    } else {
        input.swap_dims(0, 1)
    }
}

#[test]
fn fast_path_matches_reference_forward_and_gradients() {
    let device = Device::flex().autodiff();
    device.seed(11);
    for time_loop in [TimeLoop::Auto, TimeLoop::TensorOps] {
        for config in configs() {
            let mut stack = config.init(&device);
            stack.meta.time_loop = time_loop;
            for lengths in [None, Some(vec![9, 3, 1, 6])] {
                check_against_reference(&stack, 4, 9, lengths, true, FAST_VS_REFERENCE_TOL);
            }
        }
    }
}

/// A random initial cell state `[L·D, B, ·]`: the sLSTM's `[c | n | m]` with a positive
/// normaliser (its `h` is `o · c / n`).
pub(crate) fn initial_cell(
    meta: &crate::recurrent::StackMeta,
    [count, batch]: [usize; 2],
    device: &Device,
) -> Tensor<3> {
    let shape = [count, batch, meta.d_hidden];
    match meta.kind {
        crate::cell::CellKind::Slstm => Tensor::cat(
            vec![
                random(shape, device),
                random(shape, device).abs().add_scalar(0.5),
                random(shape, device),
            ],
            2,
        ),
        _ => random(shape, device),
    }
}

/// Runs `stack` (on its parameters' device) and the reference path on the same random input
/// (`[B, T, ·]` logically) and initial state, and compares outputs, final states and every
/// gradient of one random scalar loss.
pub(crate) fn check_against_reference(
    stack: &Recurrent,
    batch: usize,
    time: usize,
    lengths: Option<Vec<usize>>,
    with_state: bool,
    tol: f32,
) {
    let device = stack.cells[0].weight_ih.device();
    let meta = stack.meta.clone();
    let count = meta.n_layers * meta.directions;
    let shape = if meta.batch_first {
        [batch, time, meta.d_input]
    } else {
        [time, batch, meta.d_input]
    };
    let input = random(shape, &device).require_grad();
    let h0 = random([count, batch, meta.d_out()], &device).require_grad();
    let c0 = meta
        .kind
        .has_cell_state()
        .then(|| initial_cell(&meta, [count, batch], &device).require_grad());
    let state = with_state.then(|| RecurrentState {
        hidden: h0.clone(),
        cell: c0.clone(),
    });
    let (out, st) = match &lengths {
        Some(l) => stack.forward_with_lengths(input.clone(), l, state),
        None => stack.forward(input.clone(), state),
    };
    let (ref_out, ref_h, ref_c) = reference::forward(
        stack,
        batch_first_input(stack, input.clone()),
        lengths.as_deref(),
        with_state.then(|| h0.clone()),
        if with_state { c0.clone() } else { None },
    );
    let what = format!("{:?} lengths={lengths:?} state={with_state}", meta);
    let out_bf = batch_first_input(stack, out);
    assert_close(
        out_bf.clone(),
        ref_out.clone(),
        tol,
        &format!("output {what}"),
    );
    assert_close(
        st.hidden.clone(),
        ref_h.clone(),
        tol,
        &format!("h_n {what}"),
    );
    if let (Some(c), Some(rc)) = (st.cell.clone(), ref_c.clone()) {
        assert_close(c, rc, tol, &format!("c_n {what}"));
    }

    // Same scalar loss through both paths; compare every gradient.
    let w_out = random(out_bf.dims(), &device);
    let w_h = random(st.hidden.dims(), &device);
    let loss = |o: Tensor<3>, h: Tensor<3>, c: Option<Tensor<3>>| {
        let mut l = (o * w_out.clone()).sum() + (h * w_h.clone()).sum();
        if let Some(c) = c {
            l = l + c.sum();
        }
        l
    };
    let grads = loss(out_bf, st.hidden, st.cell).backward();
    let ref_grads = loss(ref_out, ref_h, ref_c).backward();
    let mut pairs = vec![(
        input.grad(&grads),
        input.grad(&ref_grads),
        "input".to_string(),
    )];
    if with_state {
        pairs.push((h0.grad(&grads), h0.grad(&ref_grads), "h0".to_string()));
    }
    for (g, rg, name) in pairs {
        assert_close(g.unwrap(), rg.unwrap(), tol, &format!("grad {name} {what}"));
    }
    if let (Some(c0), true) = (&c0, with_state) {
        assert_close(
            c0.grad(&grads).unwrap(),
            c0.grad(&ref_grads).unwrap(),
            tol,
            &format!("grad c0 {what}"),
        );
    }
    for (i, p) in stack.cells.iter().enumerate() {
        let mut params: Vec<(Tensor<2>, &str)> =
            vec![(p.weight_hh.val(), "W_hh"), (p.weight_ih.val(), "W_ih")];
        params.extend(p.weight_hr.as_ref().map(|w| (w.val(), "W_hr")));
        for (w, name) in params {
            assert_close(
                w.grad(&grads).unwrap(),
                w.grad(&ref_grads).unwrap(),
                tol,
                &format!("grad {name}[{i}] {what}"),
            );
        }
        for (b, name) in [(&p.bias_ih, "b_ih"), (&p.bias_hh, "b_hh")] {
            if let Some(b) = b {
                let b = b.val();
                assert_close(
                    b.grad(&grads).unwrap(),
                    b.grad(&ref_grads).unwrap(),
                    tol,
                    &format!("grad {name}[{i}] {what}"),
                );
            }
        }
    }
}

#[test]
fn saturated_gates_keep_finite_gradients() {
    let device = Device::flex().autodiff();
    for cell in [
        CellType::Rnn,
        CellType::Lstm,
        CellType::Gru,
        CellType::Slstm,
    ] {
        let stack = RecurrentConfig::new(cell, 3, 4).init(&device);
        // Pre-activations in the thousands: e^(−x) would overflow without the clamp.
        let input = (random([2, 5, 3], &device) * 5000.0).require_grad();
        let (out, state) = stack.forward(input.clone(), None);
        let grads = (out.sum() + state.hidden.sum()).backward();
        let g = values(input.grad(&grads).unwrap());
        assert!(g.iter().all(|v| v.is_finite()), "{cell:?}: {g:?}");
        for p in &stack.cells {
            assert!(
                values(p.weight_hh.val().grad(&grads).unwrap())
                    .iter()
                    .all(|v| v.is_finite())
            );
        }
    }
}

#[test]
fn step_reproduces_forward() {
    let device = Device::flex();
    device.seed(3);
    for (cell, norm) in [
        (CellType::Rnn, RecurrentNorm::None),
        (CellType::Lstm, RecurrentNorm::None),
        (CellType::Gru, RecurrentNorm::None),
        (CellType::Lstm, RecurrentNorm::Layer),
        (CellType::Gru, RecurrentNorm::Layer),
        (CellType::Slstm, RecurrentNorm::None),
    ] {
        let stack = RecurrentConfig::new(cell, 3, 5)
            .with_n_layers(2)
            .with_norm(norm)
            .init(&device);
        let input = random([2, 6, 3], &device);
        let (out, final_state) = stack.forward(input.clone(), None);
        let mut state = None;
        for t in 0..6 {
            let x_t = input.clone().narrow(1, t, 1).squeeze_dim(1);
            let (y, s) = stack.step(x_t, state);
            let expected = out.clone().narrow(1, t, 1).squeeze_dim(1);
            assert_close(
                y,
                expected,
                STEP_VS_FORWARD_TOL,
                &format!("{cell:?} {norm:?} step {t}"),
            );
            state = Some(s);
        }
        let state = state.unwrap();
        assert_close(
            state.hidden,
            final_state.hidden,
            STEP_VS_FORWARD_TOL,
            "final h",
        );
        if let (Some(c), Some(fc)) = (state.cell, final_state.cell) {
            assert_close(c, fc, STEP_VS_FORWARD_TOL, "final c");
        }
    }
}

#[test]
fn lstm_step_with_projection_reproduces_forward() {
    let device = Device::flex();
    device.seed(5);
    let lstm = LstmConfig::new(4, 6)
        .with_proj_size(3)
        .with_n_layers(2)
        .init(&device);
    let input = random([3, 5, 4], &device);
    let initial = LstmState::new(random([2, 3, 3], &device), random([2, 3, 6], &device));
    let (out, _) = lstm.forward(input.clone(), Some(initial.clone()));
    let mut state = Some(initial);
    for t in 0..5 {
        let (y, s) = lstm.step(input.clone().narrow(1, t, 1).squeeze_dim(1), state);
        assert_close(
            y,
            out.clone().narrow(1, t, 1).squeeze_dim(1),
            STEP_VS_FORWARD_TOL,
            "projected step",
        );
        state = Some(s);
    }
}

#[test]
fn full_lengths_equal_plain_forward() {
    let device = Device::flex();
    let gru = GruConfig::new(3, 4).with_bidirectional(true).init(&device);
    let input = random([3, 5, 3], &device);
    let (a, ha) = gru.forward(input.clone(), None);
    let (b, hb) = gru.forward_with_lengths(input, &[5, 5, 5], None);
    assert_close(a, b, 0.0, "output");
    assert_close(ha, hb, 0.0, "h_n");
}

#[test]
fn outputs_past_each_length_are_zero() {
    let device = Device::flex();
    let lstm = LstmConfig::new(3, 4).with_bidirectional(true).init(&device);
    let (out, _) = lstm.forward_with_lengths(random([2, 6, 3], &device), &[2, 6], None);
    let tail = values(out.narrow(0, 0, 1).narrow(1, 2, 4));
    assert!(tail.iter().all(|&v| v == 0.0), "{tail:?}");
}

#[test]
fn split_time_returns_every_step_in_order() {
    let device = Device::flex();
    for time in [1, 3, 4, 5, 16, 17, 100] {
        let x = Tensor::<1, burn::tensor::Int>::arange(0..(time as i64 * 2), &device)
            .float()
            .reshape([time, 2]);
        let steps: Vec<Tensor<1>> = split_time(x);
        assert_eq!(steps.len(), time);
        for (t, s) in steps.into_iter().enumerate() {
            assert_eq!(values(s), vec![2.0 * t as f32, 2.0 * t as f32 + 1.0]);
        }
    }
}

#[test]
fn dropout_acts_between_layers_in_training_only() {
    let ad = Device::flex().autodiff();
    ad.seed(7);
    let config = RecurrentConfig::new(CellType::Gru, 4, 64)
        .with_n_layers(2)
        .with_dropout(0.5);
    let stack = config.init(&ad);
    let plain = Recurrent {
        dropout: burn::nn::DropoutConfig::new(0.0).init(),
        ..stack.clone()
    };
    let input = random([2, 5, 4], &ad);
    // Training (autodiff device): the first layer's outputs are dropped, so the result differs.
    let (train_out, _) = stack.forward(input.clone(), None);
    let (plain_out, _) = plain.forward(input.clone(), None);
    let diff = values((train_out - plain_out.clone()).abs().sum())[0];
    assert!(diff > 1e-3, "dropout had no effect in training ({diff})");
    // Validation mode (`valid()`, what burn-train evaluates with): dropout is the identity.
    let (valid_out, _) = stack.valid().forward(input.clone(), None);
    assert_close(valid_out, plain_out, 0.0, "valid() output");
    // A single layer has no dropout at all (PyTorch drops between layers only).
    let one = RecurrentConfig::new(CellType::Gru, 4, 8)
        .with_dropout(0.5)
        .init(&ad);
    let (a, _) = one.forward(input.clone(), None);
    let (b, _) = one.forward(input, None);
    assert_close(a, b, 0.0, "single layer in training");
}

#[test]
fn default_init_is_pytorch_uniform() {
    let device = Device::flex();
    let stack = RecurrentConfig::new(CellType::Lstm, 10, 25).init(&device);
    let bound = 1.0 / 5.0;
    for v in values(stack.cells[0].weight_ih.val())
        .into_iter()
        .chain(values(stack.cells[0].bias_hh.as_ref().unwrap().val()))
    {
        assert!(v.abs() <= bound, "{v} outside ±{bound}");
    }
    let w = values(stack.cells[0].weight_hh.val());
    let max = w.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    assert!(max > 0.9 * bound, "not spread over the range: max {max}");
}

#[test]
fn orthogonal_recurrent_init_and_forget_bias() {
    let device = Device::flex();
    let stack = RecurrentConfig::new(CellType::Lstm, 3, 8)
        .with_recurrent_init(RecurrentInit::Orthogonal)
        .with_forget_bias(Some(1.0))
        .init(&device);
    let w = stack.cells[0].weight_hh.val();
    for gate in 0..4 {
        let block = w.clone().narrow(0, gate * 8, 8);
        let gram = block.clone().matmul(block.transpose());
        assert_close(
            gram,
            Tensor::eye(8, &device),
            1e-5,
            "W_hh block · W_hh blockᵀ",
        );
    }
    let p = &stack.cells[0];
    let total = p.bias_ih.as_ref().unwrap().val() + p.bias_hh.as_ref().unwrap().val();
    assert!(
        values(total.clone().narrow(0, 8, 8))
            .iter()
            .all(|&v| v == 1.0)
    );
    assert!(values(total.narrow(0, 0, 8)).iter().all(|&v| v != 1.0));
}

#[test]
fn invalid_configs_name_the_key() {
    let device = Device::flex();
    let cases = [
        (RecurrentConfig::new(CellType::Lstm, 3, 0), "d_hidden"),
        (RecurrentConfig::new(CellType::Lstm, 0, 3), "d_input"),
        (
            RecurrentConfig::new(CellType::Lstm, 3, 3).with_n_layers(0),
            "n_layers",
        ),
        (
            RecurrentConfig::new(CellType::Lstm, 3, 3).with_dropout(1.0),
            "dropout",
        ),
        (
            RecurrentConfig::new(CellType::Gru, 3, 3).with_proj_size(2),
            "proj_size",
        ),
        (
            RecurrentConfig::new(CellType::Lstm, 3, 3).with_proj_size(3),
            "proj_size",
        ),
        (
            RecurrentConfig::new(CellType::Rnn, 3, 3).with_forget_bias(Some(1.0)),
            "forget_bias",
        ),
        (
            RecurrentConfig::new(CellType::Rnn, 3, 3).with_norm(RecurrentNorm::Layer),
            "norm",
        ),
        (
            RecurrentConfig::new(CellType::MinGru, 3, 3).with_norm(RecurrentNorm::Layer),
            "norm",
        ),
        (
            RecurrentConfig::new(CellType::Lstm, 3, 4)
                .with_proj_size(2)
                .with_norm(RecurrentNorm::Layer),
            "norm",
        ),
        (
            RecurrentConfig::new(CellType::Slstm, 3, 3).with_norm(RecurrentNorm::Layer),
            "norm",
        ),
        (
            RecurrentConfig::new(CellType::Slstm, 3, 3).with_zoneout(0.1),
            "zoneout",
        ),
        (
            RecurrentConfig::new(CellType::Slstm, 3, 6).with_heads(4),
            "heads",
        ),
        (
            RecurrentConfig::new(CellType::Slstm, 3, 6).with_heads(0),
            "heads",
        ),
        (
            RecurrentConfig::new(CellType::Lstm, 3, 6).with_heads(2),
            "heads",
        ),
    ];
    for (config, key) in cases {
        let err = config.try_init(&device).unwrap_err();
        assert_eq!(err.key, key, "{err}");
        assert!(err.to_string().contains(key));
    }
}

#[test]
fn config_uses_lowercase_cell_names() {
    let config = RecurrentConfig::new(CellType::Gru, 3, 4).with_nonlinearity(Nonlinearity::Relu);
    let json = serde_json::to_string(&config).unwrap();
    assert!(
        json.contains(r#""cell":"gru""#) && json.contains(r#""nonlinearity":"relu""#),
        "{json}"
    );
    let back: RecurrentConfig =
        serde_json::from_str(&json.replace(r#""cell":"gru""#, r#""cell":"lstm""#)).unwrap();
    assert_eq!(back.cell, CellType::Lstm);
    assert_eq!(back.nonlinearity, Nonlinearity::Relu);
    let bad = serde_json::from_str::<RecurrentConfig>(
        &json.replace(r#""cell":"gru""#, r#""cell":"LSTM""#),
    );
    assert!(
        bad.unwrap_err()
            .to_string()
            .contains("unknown variant `LSTM`")
    );
}

#[test]
fn state_shapes_follow_pytorch() {
    let device = Device::flex();
    let stack = RecurrentConfig::new(CellType::Lstm, 3, 6)
        .with_n_layers(2)
        .with_bidirectional(true)
        .with_proj_size(4)
        .init(&device);
    let (out, state) = stack.forward(Tensor::zeros([5, 7, 3], &device), None);
    assert_eq!(out.dims(), [5, 7, 8]);
    assert_eq!(state.hidden.dims(), [4, 5, 4]);
    assert_eq!(state.cell.unwrap().dims(), [4, 5, 6]);
    let data = TensorData::new(vec![0.0f32; 3], [1, 3]);
    let seq_first = RecurrentConfig::new(CellType::Rnn, 3, 2)
        .with_batch_first(false)
        .init(&device);
    let (out, _) = seq_first.forward(
        Tensor::<2>::from_data(data, &device)
            .unsqueeze_dim(0)
            .repeat_dim(0, 4),
        None,
    );
    assert_eq!(out.dims(), [4, 1, 2]);
}
