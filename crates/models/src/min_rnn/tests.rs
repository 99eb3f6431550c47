//! minGRU/minLSTM: the parallel log-space scan against a plain per-element loop in f64 (the
//! paper's sequential equations), against the single-step API, and its gradients against those
//! of the step loop; a long sequence stays exact.

use burn::Tensor;
use burn::module::Module;
use burn::prelude::Device;
use burn::tensor::Distribution;

use super::{MinCell, MinRnn, MinRnnConfig};

fn values<const D: usize>(t: Tensor<D>) -> Vec<f64> {
    t.into_data()
        .convert::<f64>()
        .try_into_vec::<f64>()
        .unwrap()
}

fn assert_close(got: &[f64], want: &[f64], tol: f64, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: sizes differ");
    for (i, (x, y)) in got.iter().zip(want).enumerate() {
        let bound = tol * y.abs().max(1.0);
        assert!((x - y).abs() <= bound, "{what}[{i}]: {x} vs {y}");
    }
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

fn g(x: f64) -> f64 {
    if x >= 0.0 { x + 0.5 } else { sigmoid(x) }
}

/// The stack computed row by row, step by step, from the paper's sequential equations, in f64:
/// `[B, T, D·H]` outputs (batch-first) and `[L·D, B, H]` final states.
fn reference(
    stack: &MinRnn,
    input: &[f64],
    [b, t, d_in]: [usize; 3],
    lengths: &[usize],
    h0: &[f64],
) -> (Vec<f64>, Vec<f64>) {
    let m = &stack.meta;
    let (h, dirs) = (m.d_hidden, m.directions);
    let mut x: Vec<f64> = input.to_vec();
    let mut width = d_in;
    let mut finals = vec![0.0; m.n_layers * dirs * b * h];
    for layer in 0..m.n_layers {
        let mut out = vec![0.0; b * t * dirs * h];
        for dir in 0..dirs {
            let index = layer * dirs + dir;
            let w = values(stack.maps[index].weight.val()); // [width, G·H]
            let bias = values(stack.maps[index].bias.as_ref().unwrap().val());
            let gh = m.cell.width() * h;
            for row in 0..b {
                let mut state: Vec<f64> = (0..h).map(|j| h0[(index * b + row) * h + j]).collect();
                let steps: Vec<usize> = match dir {
                    0 => (0..lengths[row]).collect(),
                    _ => (0..lengths[row]).rev().collect(),
                };
                for s in steps {
                    let xs = &x[(row * t + s) * width..(row * t + s + 1) * width];
                    let p: Vec<f64> = (0..gh)
                        .map(|o| bias[o] + (0..width).map(|i| xs[i] * w[i * gh + o]).sum::<f64>())
                        .collect();
                    for j in 0..h {
                        state[j] = match m.cell {
                            MinCell::MinGru => {
                                let z = sigmoid(p[j]);
                                (1.0 - z) * state[j] + z * g(p[h + j])
                            }
                            MinCell::MinLstm => {
                                let (f, i) = (sigmoid(p[j]), sigmoid(p[h + j]));
                                f / (f + i) * state[j] + i / (f + i) * g(p[2 * h + j])
                            }
                        };
                    }
                    out[((row * t + s) * dirs + dir) * h..][..h].copy_from_slice(&state);
                }
                finals[(index * b + row) * h..][..h].copy_from_slice(&state);
            }
        }
        x = out;
        width = dirs * h;
    }
    (x, finals)
}

fn configs() -> Vec<MinRnnConfig> {
    let mut out = Vec::new();
    for cell in [MinCell::MinGru, MinCell::MinLstm] {
        for (n_layers, bidirectional) in [(1, false), (2, true), (3, false)] {
            out.push(
                MinRnnConfig::new(cell, 3, 5)
                    .with_n_layers(n_layers)
                    .with_bidirectional(bidirectional),
            );
        }
    }
    out
}

#[test]
fn parallel_scan_matches_the_sequential_equations() {
    let device = Device::flex();
    device.seed(3);
    let (b, t) = (4, 11);
    for config in configs() {
        let stack = config.init(&device);
        let dirs = stack.meta.directions;
        let input = Tensor::<3>::random([b, t, 3], Distribution::Uniform(-2.0, 2.0), &device);
        let h0 = Tensor::<3>::random(
            [config.n_layers * dirs, b, 5],
            Distribution::Uniform(0.0, 1.5),
            &device,
        );
        for lengths in [vec![t; b], vec![11, 4, 1, 7]] {
            let (want_out, want_h) = reference(
                &stack,
                &values(input.clone()),
                [b, t, 3],
                &lengths,
                &values(h0.clone()),
            );
            let (out, h) = stack.forward_with_lengths(input.clone(), &lengths, Some(h0.clone()));
            let what = format!("{config:?} lengths {lengths:?}");
            assert_close(&values(out), &want_out, 1e-5, &format!("output {what}"));
            assert_close(&values(h), &want_h, 1e-5, &format!("state {what}"));
        }
        // Without lengths, and time-major.
        let (out, _) = stack.forward(input.clone(), Some(h0.clone()));
        let (want, _) = reference(
            &stack,
            &values(input.clone()),
            [b, t, 3],
            &[t; 4],
            &values(h0),
        );
        assert_close(&values(out), &want, 1e-5, &format!("{config:?} no lengths"));
    }
    let time_major = MinRnnConfig::new(MinCell::MinGru, 3, 5)
        .with_batch_first(false)
        .init(&device);
    let x = Tensor::<3>::random([t, b, 3], Distribution::Default, &device);
    let (out, _) = time_major.forward(x.clone(), None);
    let (want, _) = reference(
        &time_major,
        &values(x.swap_dims(0, 1)),
        [b, t, 3],
        &[t; 4],
        &vec![0.0; b * 5],
    );
    assert_close(&values(out.swap_dims(0, 1)), &want, 1e-5, "time-major");
}

#[test]
fn step_by_step_equals_the_parallel_forward() {
    let device = Device::flex();
    device.seed(5);
    for cell in [MinCell::MinGru, MinCell::MinLstm] {
        let stack = MinRnnConfig::new(cell, 4, 6).with_n_layers(2).init(&device);
        let input = Tensor::<3>::random([3, 9, 4], Distribution::Default, &device);
        let (out, h) = stack.forward(input.clone(), None);
        let mut state = None;
        let mut outs = Vec::new();
        for s in 0..9 {
            let x = input.clone().narrow(1, s, 1).reshape([3, 4]);
            let (o, next) = stack.step(x, state);
            outs.push(o.reshape([3, 1, 6]));
            state = Some(next);
        }
        let stepped = Tensor::cat(outs, 1);
        assert_close(
            &values(stepped),
            &values(out),
            1e-5,
            &format!("{cell:?} outputs"),
        );
        assert_close(
            &values(state.unwrap()),
            &values(h),
            1e-5,
            &format!("{cell:?} state"),
        );
    }
}

#[test]
fn gradients_equal_those_of_the_step_loop() {
    let device = Device::flex().autodiff();
    device.seed(7);
    for cell in [MinCell::MinGru, MinCell::MinLstm] {
        let stack = MinRnnConfig::new(cell, 3, 4).with_n_layers(2).init(&device);
        let input = Tensor::<3>::random([2, 13, 3], Distribution::Default, &device).require_grad();
        let h0 =
            Tensor::<3>::random([2, 2, 4], Distribution::Uniform(0.1, 1.0), &device).require_grad();
        let weights = Tensor::<3>::random([2, 13, 4], Distribution::Default, &device);
        let (out, h) = stack.forward(input.clone(), Some(h0.clone()));
        let parallel = ((out * weights.clone()).sum() + h.sum()).backward();
        let mut state = Some(h0.clone());
        let mut loss = Tensor::<1>::zeros([1], &device);
        for s in 0..13 {
            let x = input.clone().narrow(1, s, 1).reshape([2, 3]);
            let (o, next) = stack.step(x, state);
            loss = loss + (o * weights.clone().narrow(1, s, 1).reshape([2, 4])).sum();
            state = Some(next);
        }
        let stepped = (loss + state.unwrap().sum()).backward();
        for (name, a, b) in [
            ("input", input.grad(&parallel), input.grad(&stepped)),
            ("h0", h0.grad(&parallel), h0.grad(&stepped)),
        ] {
            assert_close(
                &values(a.unwrap()),
                &values(b.unwrap()),
                1e-4,
                &format!("{cell:?} grad {name}"),
            );
        }
        let weight = stack.maps[0].weight.val();
        assert_close(
            &values(weight.grad(&parallel).unwrap()),
            &values(weight.grad(&stepped).unwrap()),
            1e-4,
            &format!("{cell:?} grad of the first map"),
        );
    }
}

#[test]
fn a_long_sequence_keeps_its_early_steps() {
    // 2,048 steps whose gates forget hard: the paper's `logcumsumexp` with one global shift
    // underflows here; the pairwise scan does not.
    let device = Device::flex();
    device.seed(9);
    let stack = MinRnnConfig::new(MinCell::MinGru, 2, 3).init(&device);
    let t = 2048;
    let input = Tensor::<3>::random([1, t, 2], Distribution::Uniform(-3.0, 3.0), &device);
    let (out, h) = stack.forward(input.clone(), None);
    let (want, want_h) = reference(&stack, &values(input), [1, t, 2], &[t], &[0.0; 3]);
    let got = values(out);
    assert!(
        got.iter().all(|v| v.is_finite() && *v > 0.0),
        "positive, finite states"
    );
    assert_close(&got, &want, 1e-4, "2,048 steps");
    assert_close(&values(h), &want_h, 1e-4, "final state");
}

#[test]
fn bad_configs_name_the_key() {
    let device = Device::flex();
    for (config, key) in [
        (MinRnnConfig::new(MinCell::MinGru, 0, 4), "d_input"),
        (MinRnnConfig::new(MinCell::MinLstm, 3, 0), "d_hidden"),
        (
            MinRnnConfig::new(MinCell::MinGru, 3, 4).with_n_layers(0),
            "n_layers",
        ),
        (
            MinRnnConfig::new(MinCell::MinGru, 3, 4).with_dropout(1.0),
            "dropout",
        ),
    ] {
        assert_eq!(config.try_init(&device).unwrap_err().key, key);
    }
}

#[test]
fn a_recurrent_stack_runs_the_min_cells_and_exports_them() {
    use crate::{CellType, PytorchWeights, RecurrentConfig, RecurrentInit};
    let device = Device::flex();
    device.seed(13);
    for cell in [CellType::MinGru, CellType::MinLstm] {
        let config = RecurrentConfig::new(cell, 3, 4)
            .with_n_layers(2)
            .with_bidirectional(true);
        let stack = config.init(&device);
        assert_eq!(stack.cell(), cell);
        assert_eq!(stack.d_output(), 8);
        let min = stack.min.as_ref().expect("a min stack");
        let input = Tensor::<3>::random([2, 6, 3], Distribution::Default, &device);
        let (out, state) = stack.forward_with_lengths(input.clone(), &[6, 2], None);
        let (want, want_h) = min.forward_with_lengths(input.clone(), &[6, 2], None);
        assert_close(&values(out), &values(want), 0.0, "the stack is its MinRnn");
        assert_close(&values(state.hidden), &values(want_h), 0.0, "states");
        assert!(state.cell.is_none());
        // `layer{i}.weight` / `layer{i}.bias`, as the paper's code names them, round trip.
        let dict = stack.to_state_dict("rnn.");
        assert!(
            dict.get("rnn.layer3.weight").is_some(),
            "{:?}",
            dict.keys().collect::<Vec<_>>()
        );
        let fresh = config.init(&device).load_state_dict(&dict, "rnn.").unwrap();
        let (first, _) = stack.forward(input.clone(), None);
        let (second, _) = fresh.forward(input, None);
        assert_close(&values(second), &values(first), 0.0, "reloaded weights");
    }
    let err = RecurrentConfig::new(CellType::MinGru, 3, 4)
        .with_recurrent_init(RecurrentInit::Orthogonal)
        .try_init(&device)
        .unwrap_err();
    assert_eq!(err.key, "recurrent_init");
}

#[test]
fn the_scan_runs_on_wgpu() {
    if !crate::testing::wgpu_or_skip("the_scan_runs_on_wgpu") {
        return;
    }
    let flex = Device::flex();
    flex.seed(17);
    let wgpu = Device::wgpu(burn::tensor::DeviceKind::DefaultDevice);
    for cell in [MinCell::MinGru, MinCell::MinLstm] {
        let config = MinRnnConfig::new(cell, 3, 5)
            .with_n_layers(2)
            .with_bidirectional(true);
        let on_flex = config.init(&flex);
        let on_wgpu = on_flex.clone().to_device(&wgpu);
        let input = Tensor::<3>::random([3, 40, 3], Distribution::Default, &flex);
        let lengths = [40, 17, 1];
        let (want, want_h) = reference(
            &on_flex,
            &values(input.clone()),
            [3, 40, 3],
            &lengths,
            &[0.0; 4 * 3 * 5],
        );
        let (out, h) = on_wgpu.forward_with_lengths(input.to_device(&wgpu), &lengths, None);
        assert_close(&values(out), &want, 1e-4, &format!("{cell:?} on wgpu"));
        assert_close(
            &values(h),
            &want_h,
            1e-4,
            &format!("{cell:?} state on wgpu"),
        );
    }
}
