//! Tests of the whole-layer op: the native f32 kernels against the generic implementation in
//! f64 (which flex runs for f64 tensors), the f64 gradients against finite differences, and a
//! property test of whole stacks against the reference path.
//!
//! (Over 400 lines: one test module of case tables run on every path.)

use std::sync::Arc;

use burn::Tensor;
use burn::prelude::Device;
use burn::tensor::{DType, Distribution, TensorData};
use proptest::prelude::*;

use super::{LayerTensors, OpCell, OpOptions, RecurrenceTensors, layer, recurrence};
use crate::cell::{CellType, Nonlinearity};
use crate::recurrent::RecurrentConfig;
use crate::tests::check_against_reference;

/// Input width of the cases that run through [`layer`].
const D_IN: usize = 7;

/// One call's inputs as host data, so that the same values can be run in f32 and f64.
#[derive(Clone, Debug)]
struct Case {
    cell: OpCell,
    reverse: bool,
    lengths: Option<Vec<usize>>,
    time: usize,
    batch: usize,
    hidden: usize,
    proj: usize,
    /// Input width of a case that runs through [`layer`].
    d_in: usize,
    with_b_hn: bool,
    /// `xp` and `y` are `[B, T, ·]`.
    batch_first: bool,
    /// Through [`layer`] (the op projects `x` itself; `Some(true)`: with a bias) instead of
    /// [`recurrence`] of `xp`.
    layer: Option<bool>,
    /// `xp`, `w_hh`, `b_hn`, `w_hr`, `h0`, `c0`, then the loss weights of `y`, `h_n`, `c_n`,
    /// then (used through `layer`) `x`, `w_ih`, `bias`.
    values: Vec<Vec<f64>>,
}

impl Case {
    fn new(
        cell: OpCell,
        reverse: bool,
        lengths: Option<Vec<usize>>,
        proj: usize,
        seed: u64,
    ) -> Self {
        Self::sized(cell, reverse, lengths, proj, seed, [5, 3, 4])
    }

    /// A case of `[T, B, H]`.
    fn sized(
        cell: OpCell,
        reverse: bool,
        lengths: Option<Vec<usize>>,
        proj: usize,
        seed: u64,
        dims: [usize; 3],
    ) -> Self {
        Self::sized_in(cell, reverse, lengths, proj, seed, dims, D_IN)
    }

    /// A case of `[T, B, H]` whose input (through [`layer`]) is `d_in` wide.
    fn sized_in(
        cell: OpCell,
        reverse: bool,
        lengths: Option<Vec<usize>>,
        proj: usize,
        seed: u64,
        [time, batch, hidden]: [usize; 3],
        d_in: usize,
    ) -> Self {
        let d_out = if proj > 0 { proj } else { hidden };
        let gh = cell.gates() * hidden;
        let cw = cell.state_units() * hidden;
        let device = Device::flex();
        device.seed(seed);
        let sizes = [
            time * batch * gh,
            gh * d_out,
            hidden,
            proj * hidden,
            batch * d_out,
            batch * cw,
            time * batch * d_out,
            batch * d_out,
            batch * cw,
            time * batch * d_in,
            gh * d_in,
            gh,
        ];
        let values = sizes
            .iter()
            .map(|&n| {
                Tensor::<1>::random([n.max(1)], Distribution::Uniform(-1.0, 1.0), &device)
                    .into_data()
                    .convert::<f64>()
                    .try_into_vec::<f64>()
                    .unwrap()
            })
            .collect::<Vec<Vec<f64>>>();
        // PyTorch's initialisation scale for the recurrent weights, so that larger cases stay
        // well conditioned (uniform ±1 weights make the recurrence chaotic).
        let mut values = values;
        for (i, fan_in) in [(1, d_out), (3, hidden), (10, d_in)] {
            let scale = 1.0 / (fan_in as f64).sqrt();
            values[i].iter_mut().for_each(|v| *v *= scale);
        }
        // The sLSTM's initial normaliser is positive (`h = o · c / n`), and its stabiliser
        // within a few units of the gates.
        if cell == OpCell::Slstm {
            for row in values[5].chunks_exact_mut(3 * hidden) {
                row[hidden..2 * hidden]
                    .iter_mut()
                    .for_each(|n| *n = n.abs() + 0.5);
            }
        }
        Self {
            cell,
            reverse,
            lengths,
            time,
            batch,
            hidden,
            proj,
            d_in,
            with_b_hn: cell == OpCell::Gru,
            batch_first: false,
            layer: None,
            values,
        }
    }

    fn d_out(&self) -> usize {
        if self.proj > 0 {
            self.proj
        } else {
            self.hidden
        }
    }

    fn shapes(&self) -> [Vec<usize>; 12] {
        let (t, b, h, p, o) = (self.time, self.batch, self.hidden, self.proj, self.d_out());
        let gh = self.cell.gates() * h;
        let cw = self.cell.state_units() * h;
        let steps = |w: usize| {
            if self.batch_first {
                vec![b, t, w]
            } else {
                vec![t, b, w]
            }
        };
        [
            steps(gh),
            vec![gh, o],
            vec![h],
            vec![p, h],
            vec![b, o],
            vec![b, cw],
            steps(o),
            vec![b, o],
            vec![b, cw],
            steps(self.d_in),
            vec![gh, self.d_in],
            vec![gh],
        ]
    }

    /// The inputs as tensors of `dtype` on `device`, requiring gradients on an autodiff device.
    fn tensors(&self, values: &[Vec<f64>], f32: bool, device: &Device) -> Vec<Tensor<1>> {
        values
            .iter()
            .map(|v| {
                let (data, dtype) = if f32 {
                    let v32: Vec<f32> = v.iter().map(|&x| x as f32).collect();
                    (TensorData::new(v32, [v.len()]), DType::F32)
                } else {
                    (TensorData::new(v.clone(), [v.len()]), DType::F64)
                };
                let t = Tensor::<1>::from_data(data, (device, dtype));
                assert_eq!(t.dtype(), dtype);
                if device.is_autodiff() {
                    t.require_grad()
                } else {
                    t
                }
            })
            .collect()
    }

    /// The scalar loss `Σ y·w_y + Σ h_n·w_h (+ Σ c_n·w_c)` and the leaf tensors it depends on.
    fn loss(&self, values: &[Vec<f64>], f32: bool, device: &Device) -> (Tensor<1>, Vec<Tensor<1>>) {
        let leaves = self.tensors(values, f32, device);
        (self.loss_of(&leaves), leaves)
    }

    /// The loss of [`loss`](Self::loss) from given leaf tensors.
    fn loss_of(&self, leaves: &[Tensor<1>]) -> Tensor<1> {
        let shapes = self.shapes();
        let shaped = |i: usize| -> Tensor<1> { leaves[i].clone() };
        let d2 = |i: usize| shaped(i).reshape([shapes[i][0], shapes[i][1]]);
        let d3 = |i: usize| shaped(i).reshape([shapes[i][0], shapes[i][1], shapes[i][2]]);
        let lstm = self.cell.state_units() > 0;
        let options = OpOptions {
            cell: self.cell,
            reverse: self.reverse,
            lengths: self.lengths.clone().map(Arc::from),
            batch_first: self.batch_first,
        };
        let (y, h_n, c_n) = match self.layer {
            None => recurrence(
                RecurrenceTensors {
                    xp: d3(0),
                    w_hh: d2(1),
                    b_hn: self.with_b_hn.then(|| shaped(2)),
                    w_hr: (self.proj > 0).then(|| d2(3)),
                    h0: d2(4),
                    c0: lstm.then(|| d2(5)),
                },
                options,
            ),
            Some(bias) => layer(
                LayerTensors {
                    x: d3(9),
                    w_ih: d2(10),
                    bias: bias.then(|| shaped(11)),
                    w_hh: d2(1),
                    b_hn: self.with_b_hn.then(|| shaped(2)),
                    w_hr: (self.proj > 0).then(|| d2(3)),
                    h0: d2(4),
                    c0: lstm.then(|| d2(5)),
                },
                options,
            ),
        };
        let mut loss = (y.reshape([-1]) * shaped(6)).sum() + (h_n.reshape([-1]) * shaped(7)).sum();
        if let Some(c) = c_n {
            loss = loss + (c.reshape([-1]) * shaped(8)).sum();
        }
        loss
    }

    /// Which inputs the op has (the loss weights are not inputs).
    fn inputs(&self) -> Vec<usize> {
        let mut v = match self.layer {
            None => vec![0, 1, 4],
            Some(false) => vec![9, 10, 1, 4],
            Some(true) => vec![9, 10, 11, 1, 4],
        };
        if self.with_b_hn {
            v.push(2);
        }
        if self.proj > 0 {
            v.push(3);
        }
        if self.cell.state_units() > 0 {
            v.push(5);
        }
        v
    }
}

fn as_f64(t: Tensor<1>) -> Vec<f64> {
    t.into_data()
        .convert::<f64>()
        .try_into_vec::<f64>()
        .unwrap()
}

fn cases() -> Vec<Case> {
    let mut out = Vec::new();
    let mut seed = 1;
    for (cell, proj) in [
        (OpCell::RnnTanh, 0),
        (OpCell::RnnRelu, 0),
        (OpCell::Lstm, 0),
        (OpCell::Lstm, 2),
        (OpCell::Gru, 0),
        (OpCell::Slstm, 0),
    ] {
        for reverse in [false, true] {
            for lengths in [None, Some(vec![5, 2, 4])] {
                seed += 1;
                out.push(Case::new(cell, reverse, lengths.clone(), proj, seed));
                // The same call batch-first (`[B, T, ·]` buffers) where it has lengths.
                if lengths.is_some() {
                    seed += 1;
                    let case = Case::new(cell, reverse, lengths, proj, seed);
                    out.push(Case {
                        batch_first: true,
                        ..case
                    });
                }
            }
        }
    }
    out
}

/// Cases large enough that the native kernels split each step over two cores.
fn large_cases() -> Vec<Case> {
    let lengths = Some(vec![4, 1, 3, 4, 2, 4, 4, 3, 1, 4, 2, 4]);
    vec![
        Case::sized(OpCell::Lstm, false, lengths.clone(), 0, 101, [4, 12, 64]),
        Case::sized(OpCell::Lstm, true, lengths.clone(), 48, 102, [4, 12, 64]),
        Case::sized(OpCell::Gru, false, lengths.clone(), 0, 103, [4, 12, 64]),
        Case::sized(OpCell::RnnTanh, true, None, 0, 104, [4, 48, 64]),
        Case::sized(OpCell::Lstm, true, None, 0, 105, [3, 33, 72]),
        Case {
            batch_first: true,
            ..Case::sized(OpCell::Lstm, true, lengths.clone(), 48, 106, [4, 12, 64])
        },
        Case {
            batch_first: true,
            ..Case::sized(OpCell::Gru, false, lengths.clone(), 0, 107, [4, 12, 64])
        },
        Case::sized(OpCell::Slstm, true, lengths.clone(), 0, 108, [4, 12, 64]),
        Case {
            batch_first: true,
            ..Case::sized(OpCell::Slstm, false, lengths, 0, 109, [4, 12, 64])
        },
    ]
}

/// Calls through [`layer`] (the op projects its input): every cell, both orders, with and
/// without a bias, small and split over two cores.
fn layer_cases() -> Vec<Case> {
    let lengths = Some(vec![4, 1, 3, 4, 2, 4, 4, 3, 1, 4, 2, 4]);
    let mut out = Vec::new();
    for (i, (cell, proj)) in [
        (OpCell::RnnTanh, 0),
        (OpCell::Lstm, 0),
        (OpCell::Lstm, 48),
        (OpCell::Gru, 0),
        (OpCell::Slstm, 0),
    ]
    .into_iter()
    .enumerate()
    {
        let seed = 300 + 4 * i as u64;
        for (j, batch_first) in [false, true].into_iter().enumerate() {
            let small = Case::new(
                cell,
                j == 1,
                Some(vec![5, 2, 4]),
                proj.min(2),
                seed + j as u64,
            );
            let large = Case::sized(
                cell,
                j == 0,
                lengths.clone(),
                proj,
                seed + 2 + j as u64,
                [4, 12, 64],
            );
            out.push(Case {
                batch_first,
                layer: Some(j == 0),
                ..small
            });
            out.push(Case {
                batch_first,
                layer: Some(j == 1),
                ..large
            });
        }
    }
    // Inputs so wide (each core's `W_ihᵀ` over 1 MiB) that the op projects all steps at once
    // rather than step by step (`flex/forward.rs`, `per_step`): both cores on halves of the
    // batch (a batch-first LSTM), then on halves of the units (a reverse GRU).
    for (cell, reverse, batch_first, d_in) in [
        (OpCell::Lstm, false, true, 1100),
        (OpCell::Gru, true, false, 2800),
    ] {
        let case = Case::sized_in(cell, reverse, lengths.clone(), 0, 340, [4, 12, 64], d_in);
        out.push(Case {
            batch_first,
            layer: Some(true),
            ..case
        });
    }
    out
}

#[test]
fn native_f32_kernels_match_the_generic_path_in_f64() {
    let device = Device::flex().autodiff();
    for case in cases()
        .into_iter()
        .chain(large_cases())
        .chain(layer_cases())
    {
        let (loss64, leaves64) = case.loss(&case.values, false, &device);
        let (loss32, leaves32) = case.loss(&case.values, true, &device);
        let (l64, l32) = (
            loss64.clone().into_scalar::<f64>(),
            loss32.clone().into_scalar::<f64>(),
        );
        assert!(
            (l64 - l32).abs() <= 1e-5 * l64.abs().max(1.0),
            "{case:?}: loss {l32} vs {l64}"
        );
        // Without autodiff the native forward saves nothing (its inference kernels).
        let inference = case
            .loss(&case.values, true, &Device::flex())
            .0
            .into_scalar::<f64>();
        assert!(
            (l64 - inference).abs() <= 1e-5 * l64.abs().max(1.0),
            "{case:?}: inference loss {inference} vs {l64}"
        );
        let (g64, g32) = (loss64.backward(), loss32.backward());
        for i in case.inputs() {
            let a = as_f64(leaves32[i].grad(&g32).expect("f32 gradient"));
            let b = as_f64(leaves64[i].grad(&g64).expect("f64 gradient"));
            for (k, (x, y)) in a.iter().zip(&b).enumerate() {
                assert!(
                    (x - y).abs() <= 1e-5 * y.abs().max(1.0),
                    "{:?} input {i}[{k}]: f32 {x} vs f64 {y}",
                    case.cell
                );
            }
        }
    }
}

/// Calls without autodiff (generation, evaluation) keep their packed weights between calls
/// (`flex/cache.rs`): repeated calls (single steps and several) with the same weight tensors,
/// and calls with other weights of the same shape in between, all compute what the f64 path
/// computes.
#[test]
fn repeated_inference_calls_match_the_generic_path() {
    let plain = Device::flex();
    let scalar = |loss: Tensor<1>| loss.into_scalar::<f64>();
    for (i, (cell, proj, batch, hidden, time)) in [
        (OpCell::Lstm, 0, 3, 5, 1),
        (OpCell::Lstm, 0, 40, 64, 1),
        (OpCell::Lstm, 24, 40, 64, 1),
        (OpCell::Gru, 0, 40, 64, 1),
        (OpCell::RnnRelu, 0, 2, 4, 1),
        (OpCell::Lstm, 0, 40, 64, 4),
        (OpCell::Gru, 0, 3, 5, 3),
        (OpCell::Slstm, 0, 40, 64, 1),
        (OpCell::Slstm, 0, 3, 5, 3),
    ]
    .into_iter()
    .enumerate()
    {
        let seed = 200 + 2 * i as u64;
        // The second case projects its input inside the op (its packed `W_ih` is cached too).
        let cases = [(seed, None), (seed + 1, Some(true))].map(|(s, layer)| Case {
            layer,
            ..Case::sized(cell, false, None, proj, s, [time, batch, hidden])
        });
        // One set of f32 leaves per case, reused by every step.
        let leaves = cases.each_ref().map(|c| c.tensors(&c.values, true, &plain));
        for round in 0..3 {
            for (case, leaves) in cases.iter().zip(&leaves) {
                let got = scalar(case.loss_of(leaves));
                let want = scalar(case.loss(&case.values, false, &plain).0);
                assert!(
                    (got - want).abs() <= 1e-5 * want.abs().max(1.0),
                    "{cell:?} proj {proj} B {batch} T {time} round {round}: {got} vs {want}"
                );
            }
        }
    }
}

/// The CubeCL kernels (`cube/`) on wgpu against the f64 path on flex, every case of the native
/// kernels' test: loss and gradients within 1e-4; each wgpu evaluation runs twice on the same
/// leaf tensors, which the kernels' in-place state updates must leave alone.
#[test]
fn cube_kernels_match_the_generic_path_in_f64() {
    if !crate::testing::wgpu_or_skip("cube_kernels_match_the_generic_path_in_f64") {
        return;
    }
    let wgpu = Device::wgpu(burn::tensor::DeviceKind::DefaultDevice);
    let flex = Device::flex().autodiff();
    let close = |x: f64, y: f64| (x - y).abs() <= 1e-4 * y.abs().max(1.0);
    for case in cases().into_iter().chain(layer_cases()) {
        let (loss64, leaves64) = case.loss(&case.values, false, &flex);
        let want = loss64.clone().into_scalar::<f64>();
        let plain = case.tensors(&case.values, true, &wgpu);
        for round in 0..2 {
            let got = case.loss_of(&plain).into_scalar::<f64>();
            assert!(
                close(got, want),
                "{case:?} inference round {round}: {got} vs {want}"
            );
        }
        let g64 = loss64.backward();
        let leaves = case.tensors(&case.values, true, &wgpu.clone().autodiff());
        for round in 0..2 {
            let loss = case.loss_of(&leaves);
            let got = loss.clone().into_scalar::<f64>();
            assert!(
                close(got, want),
                "{case:?} train round {round}: {got} vs {want}"
            );
            let grads = loss.backward();
            for i in case.inputs() {
                let a = as_f64(leaves[i].grad(&grads).expect("wgpu gradient"));
                let b = as_f64(leaves64[i].grad(&g64).expect("f64 gradient"));
                for (k, (x, y)) in a.iter().zip(&b).enumerate() {
                    assert!(
                        close(*x, *y),
                        "{:?} reverse={} lengths={:?} batch_first={} input {i}[{k}]: \
                         wgpu {x} vs f64 {y}",
                        case.cell,
                        case.reverse,
                        case.lengths,
                        case.batch_first
                    );
                }
            }
        }
    }
}

#[test]
fn gradients_match_finite_differences() {
    let device = Device::flex().autodiff();
    let plain = Device::flex();
    for case in cases() {
        let (loss, leaves) = case.loss(&case.values, false, &device);
        let grads = loss.backward();
        for i in case.inputs() {
            let analytic = as_f64(leaves[i].grad(&grads).expect("gradient"));
            // A few coordinates of every input, spread over the tensor.
            let n = case.values[i].len();
            for k in (0..n).step_by(n.div_ceil(7)) {
                let eps = 1e-6;
                let at = |delta: f64| {
                    let mut values = case.values.clone();
                    values[i][k] += delta;
                    case.loss(&values, false, &plain).0.into_scalar::<f64>()
                };
                let numeric = (at(eps) - at(-eps)) / (2.0 * eps);
                assert!(
                    (numeric - analytic[k]).abs() <= 1e-6 * numeric.abs().max(1.0),
                    "{:?} reverse={} lengths={:?} input {i}[{k}]: analytic {} vs numeric {numeric}",
                    case.cell,
                    case.reverse,
                    case.lengths,
                    analytic[k]
                );
            }
        }
    }
}

/// A random stack configuration with a batch shape, lengths and whether to pass a state.
fn stack_strategy()
-> impl Strategy<Value = (RecurrentConfig, usize, usize, Option<Vec<usize>>, bool)> {
    (
        0usize..6,
        1usize..4,
        1usize..6,
        1usize..3,
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        0usize..3,
        1usize..6,
        1usize..4,
        any::<bool>(),
    )
        .prop_flat_map(
            |(cell, d_in, hidden, layers, bidir, bias, batch_first, proj, time, batch, state)| {
                let lengths = prop::option::of(prop::collection::vec(1..=time, batch));
                lengths.prop_map(move |lengths| {
                    let (cell_type, nonlinearity) = match cell {
                        0 => (CellType::Rnn, Nonlinearity::Tanh),
                        1 => (CellType::Rnn, Nonlinearity::Relu),
                        2 => (CellType::Lstm, Nonlinearity::Tanh),
                        3 => (CellType::Gru, Nonlinearity::Tanh),
                        _ => (CellType::Slstm, Nonlinearity::Tanh),
                    };
                    // Head-wise recurrence where the sLSTM's hidden size splits in two.
                    let heads = if cell == 5 && hidden % 2 == 0 { 2 } else { 1 };
                    let proj = if cell_type == CellType::Lstm && proj < hidden {
                        proj
                    } else {
                        0
                    };
                    let config = RecurrentConfig::new(cell_type, d_in, hidden)
                        .with_n_layers(layers)
                        .with_bidirectional(bidir)
                        .with_bias(bias)
                        .with_batch_first(batch_first)
                        .with_proj_size(proj)
                        .with_nonlinearity(nonlinearity)
                        .with_heads(heads);
                    (config, time, batch, lengths, state)
                })
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Any cell, size, depth, direction, lengths and state: the op-backed stack computes what
    /// the reference computes, outputs and gradients.
    #[test]
    fn op_matches_reference_on_random_stacks(
        (config, time, batch, lengths, state) in stack_strategy(),
        seed in 0u64..1000,
    ) {
        let device = Device::flex().autodiff();
        device.seed(seed);
        let stack = config.init(&device);
        check_against_reference(&stack, batch, time, lengths, state, 1e-5);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// The same property on wgpu, where the op runs its CubeCL kernels (`cube/`):
    /// Mesa's software Vulkan in CI (a machine without any Vulkan driver skips it with a
    /// `SKIP` line). GPU arithmetic rounds differently: within 1e-4.
    #[test]
    fn op_matches_reference_on_random_stacks_on_wgpu(
        (config, time, batch, lengths, state) in stack_strategy(),
        seed in 0u64..1000,
    ) {
        if !crate::testing::wgpu_or_skip("op_matches_reference_on_random_stacks_on_wgpu") {
            return Ok(());
        }
        let device = Device::wgpu(burn::tensor::DeviceKind::DefaultDevice).autodiff();
        device.seed(seed);
        let stack = config.init(&device);
        check_against_reference(&stack, batch, time, lengths, state, 1e-4);
    }
}
