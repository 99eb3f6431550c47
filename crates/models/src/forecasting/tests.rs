//! The segment model's shapes, channel independence, decoding, normalisations, and a small
//! series it learns.

use burn::Tensor;
use burn::optim::{AdamConfig, GradientsParams};
use burn::prelude::Device;
use burn::tensor::{Distribution, TensorData};

use super::*;
use crate::{CellType, RecurrentConfig, RecurrentState};

fn config(cell: CellType, c: usize) -> SegmentRnnConfig {
    SegmentRnnConfig::new(RecurrentConfig::new(cell, 8, 8), 12, 8, 4, c)
}

fn read<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().try_to_vec::<f32>().unwrap()
}

fn random(shape: [usize; 3], device: &Device) -> Tensor<3> {
    Tensor::random(shape, Distribution::Normal(0.0, 1.0), device)
}

#[test]
fn every_cell_forecasts_the_horizon_for_every_column() {
    let device = Device::flex();
    for cell in [
        CellType::Rnn,
        CellType::Lstm,
        CellType::Gru,
        CellType::Slstm,
        CellType::MinGru,
        CellType::MinLstm,
    ] {
        for norm in [SegmentNorm::Last, SegmentNorm::Revin, SegmentNorm::None] {
            let model = config(cell, 3).with_norm(norm).init(&device);
            let y = model.forward(random([5, 12, 3], &device));
            assert_eq!(y.dims(), [5, 8, 3], "{cell:?} {norm:?}");
            assert!(read(y).iter().all(|v| v.is_finite()));
        }
    }
}

/// Changing one column's window changes only that column's forecast.
#[test]
fn columns_are_independent() {
    let device = Device::flex();
    for cell in [CellType::Gru, CellType::Lstm] {
        let model = config(cell, 3).init(&device);
        let x = random([2, 12, 3], &device);
        let changed = x
            .clone()
            .slice_assign([0..2, 0..12, 1..2], random([2, 12, 1], &device));
        let (a, b) = (model.forward(x), model.forward(changed));
        let column = |t: &Tensor<3>, k: usize| read(t.clone().narrow(2, k, 1));
        for k in [0, 2] {
            assert_eq!(column(&a, k), column(&b, k), "{cell:?}: column {k} moved");
        }
        assert_ne!(column(&a, 1), column(&b, 1));
    }
}

/// The parallel decoder equals stepping the stack once from the encoder's state for each
/// output segment on its own.
#[test]
fn decoding_is_one_step_per_output_segment() {
    let device = Device::flex();
    let model = config(CellType::Lstm, 2)
        .with_norm(SegmentNorm::None)
        .init(&device);
    let x = random([3, 12, 2], &device);
    let y = model.forward(x.clone()); // [3, 8, 2]
    let (state, _) = model.encode(x);
    let position = model.position.val();
    let channel = model.channel.as_ref().unwrap().val();
    for row in 0..6 {
        let (b, c) = (row / 2, row % 2);
        let pick = |s: &Tensor<3>| s.clone().narrow(1, row, 1);
        for j in 0..2 {
            let input = Tensor::cat(
                vec![
                    position.clone().narrow(0, j, 1),
                    channel.clone().narrow(0, c, 1),
                ],
                1,
            );
            let start = RecurrentState {
                hidden: pick(&state.hidden),
                cell: state.cell.as_ref().map(pick),
            };
            let (out, _) = model.rnn.step(input, Some(start));
            let alone = read(model.predict.forward(out));
            let batched = read(
                y.clone()
                    .narrow(0, b, 1)
                    .narrow(1, 4 * j, 4)
                    .narrow(2, c, 1),
            );
            for (p, q) in alone.iter().zip(&batched) {
                assert!(
                    (p - q).abs() < 1e-5,
                    "row {row} segment {j}: {alone:?} vs {batched:?}"
                );
            }
        }
    }
}

/// A level added to a window moves its forecast by that level (`last`); a scale and a level
/// move it by both (`revin`).
#[test]
fn normalisations_follow_the_window() {
    let device = Device::flex();
    let x = random([2, 12, 3], &device);
    let model = config(CellType::Gru, 3).init(&device);
    let shifted = read(model.forward(x.clone() + 5.0));
    let base = read(model.forward(x.clone()));
    for (s, b) in shifted.iter().zip(&base) {
        assert!((s - b - 5.0).abs() < 1e-4, "{s} vs {b} + 5");
    }
    let model = config(CellType::Gru, 3)
        .with_norm(SegmentNorm::Revin)
        .init(&device);
    let moved = read(model.forward(x.clone() * 3.0 - 2.0));
    let base = read(model.forward(x));
    for (m, b) in moved.iter().zip(&base) {
        assert!((m - (3.0 * b - 2.0)).abs() < 1e-3, "{m} vs 3·{b} − 2");
    }
}

#[test]
fn bad_shapes_are_one_clear_error() {
    let device = Device::flex();
    let err = |c: SegmentRnnConfig| c.try_init(&device).unwrap_err().key;
    assert_eq!(
        err(SegmentRnnConfig::new(
            RecurrentConfig::new(CellType::Gru, 8, 8),
            10,
            8,
            4,
            1
        )),
        "lookback"
    );
    assert_eq!(
        err(SegmentRnnConfig::new(
            RecurrentConfig::new(CellType::Gru, 8, 8),
            12,
            6,
            4,
            1
        )),
        "horizon"
    );
    let bidirectional = RecurrentConfig::new(CellType::Gru, 8, 8).with_bidirectional(true);
    assert_eq!(
        err(SegmentRnnConfig::new(bidirectional, 12, 8, 4, 1)),
        "rnn.bidirectional"
    );
}

/// Two noisy-free sine columns of different periods, 24 steps in, 8 out: a few hundred Adam
/// steps take the forecast error far below the last-value forecast's.
#[test]
fn it_learns_a_small_series() {
    let device = Device::flex().autodiff();
    device.seed(7);
    let series = |t: usize, k: usize| ((t as f32) * [0.3f32, 0.7][k]).sin();
    let windows: Vec<usize> = (0..64).collect();
    let batch = |starts: &[usize], offset: usize, len: usize| {
        let v: Vec<f32> = starts
            .iter()
            .flat_map(|&s| {
                (s + offset..s + offset + len).flat_map(move |t| [series(t, 0), series(t, 1)])
            })
            .collect();
        Tensor::<3>::from_data(TensorData::new(v, [starts.len(), len, 2]), &device)
    };
    let (x, y) = (batch(&windows, 0, 24), batch(&windows, 24, 8));
    let mut model = SegmentRnnConfig::new(RecurrentConfig::new(CellType::Gru, 16, 16), 24, 8, 4, 2)
        .init(&device);
    let mut optim = AdamConfig::new().init();
    let mse = |m: &SegmentRnn| (m.forward(x.clone()) - y.clone()).square().mean();
    // The last-value forecast's error (the model's with a zero output map).
    let last = x.clone().narrow(1, 23, 1).expand([64, 8, 2]);
    let naive = read((last - y.clone()).square().mean())[0];
    for _ in 0..300 {
        let loss = mse(&model);
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = optim.step(1e-2, model, grads);
    }
    let trained = read(mse(&model))[0];
    assert!(
        trained < naive / 20.0,
        "MSE {trained} against the last value's {naive}"
    );
}
