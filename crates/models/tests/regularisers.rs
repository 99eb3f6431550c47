//! Tests that compare two runs' random draws under one seed, in their own binary (flex has one
//! random generator per process, and other tests running beside them would interleave their
//! draws), one at a time (`SERIAL`):
//! - weight drop keeps the fused op exact: the whole-layer op and the tensor-op loop draw the
//!   same `W_hh` masks (once per layer-direction, in the same order) and must agree in outputs
//!   and gradients;
//! - standard dropout gives burn's `Dropout` bit for bit (runs from before the regularisers
//!   repeat).

use std::sync::Mutex;

use burn::Tensor;
use burn::prelude::Device;
use burn::tensor::Distribution;
use rnnlab_models::regularise::{DropoutKind, dropout};
use rnnlab_models::{CellType, Recurrent, RecurrentConfig};

/// Held by each test while it draws.
static SERIAL: Mutex<()> = Mutex::new(());

fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .unwrap()
}

fn assert_close(a: Vec<f32>, b: Vec<f32>, what: &str) {
    assert_eq!(a.len(), b.len(), "{what}: lengths");
    for (i, (x, y)) in a.iter().zip(&b).enumerate() {
        assert!(
            (x - y).abs() <= 1e-5 * y.abs().max(1.0),
            "{what}[{i}]: {x} vs {y}"
        );
    }
}

#[test]
fn weight_drop_keeps_the_fused_op_exact() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let device = Device::flex().autodiff();
    for (cell, bidirectional) in [
        (CellType::Lstm, false),
        (CellType::Gru, true),
        (CellType::Rnn, false),
    ] {
        device.seed(5);
        let fused = RecurrentConfig::new(cell, 3, 5)
            .with_n_layers(2)
            .with_bidirectional(bidirectional)
            .with_weight_drop(0.4)
            .init(&device);
        let looped = fused.clone().with_tensor_op_loop();
        let x = Tensor::<3>::random([3, 7, 3], Distribution::Uniform(-1.0, 1.0), &device)
            .require_grad();
        let run = |stack: &Recurrent| {
            device.seed(9);
            let (y, state) = stack.forward(x.clone(), None);
            let loss = (y.clone() * y.clone()).sum() + state.hidden.sum();
            let grads = loss.backward();
            let g_x = x.grad(&grads).expect("dx");
            let g_w: Vec<Vec<f32>> = stack
                .cells
                .iter()
                .map(|c| values(c.weight_hh.grad(&grads).expect("dW_hh")))
                .collect();
            (values(y.inner()), values(g_x), g_w)
        };
        let (y_a, gx_a, gw_a) = run(&fused);
        let (y_b, gx_b, gw_b) = run(&looped);
        let what = format!("{cell:?} bidirectional={bidirectional}");
        assert_close(y_a.clone(), y_b, &format!("{what}: output"));
        assert_close(gx_a, gx_b, &format!("{what}: dx"));
        for (i, (a, b)) in gw_a.iter().zip(gw_b).enumerate() {
            assert_close(a.clone(), b, &format!("{what}: dW_hh of cell {i}"));
            // A dropped weight gets no gradient.
            assert!(a.contains(&0.0), "{what}: no dropped element in cell {i}");
        }
        // And the drop acted: without it the output differs.
        let mut plain = RecurrentConfig::new(cell, 3, 5)
            .with_n_layers(2)
            .with_bidirectional(bidirectional)
            .init(&device);
        plain.cells = fused.cells.clone();
        device.seed(9);
        assert_ne!(
            values(plain.forward(x.clone(), None).0.inner()),
            y_a,
            "{what}"
        );
    }
}

#[test]
fn standard_dropout_is_burns_bit_for_bit() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let device = Device::flex().autodiff();
    // Probabilities whose scale 1 / (1 - p) rounds differently in f32 and f64, among others.
    for p in [0.04, 0.15, 0.3, 0.45, 0.52] {
        let x = Tensor::<3>::random([4, 9, 16], Distribution::Uniform(-1.0, 1.0), &device);
        device.seed(21);
        let ours = dropout(x.clone(), p, DropoutKind::Standard, 1, true);
        device.seed(21);
        let burns = burn::nn::DropoutConfig::new(p).init().forward(x);
        assert_eq!(values(ours), values(burns), "p = {p}");
    }
}
