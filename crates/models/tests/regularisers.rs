//! Weight drop keeps the fused op exact: with the same seed, the whole-layer op and the
//! tensor-op loop draw the same `W_hh` masks (once per layer-direction, in the same order) and
//! must agree in outputs and gradients. (Its own test binary: flex has one random generator per
//! process, and tests running beside it would interleave their draws with these.)

use burn::Tensor;
use burn::prelude::Device;
use burn::tensor::Distribution;
use rnnlab_models::{CellType, Recurrent, RecurrentConfig};

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
