//! The regularisers: what each mask may hold, that nothing acts outside training, and
//! zoneout's mixing against a step loop. (That weight drop leaves the fused op exact is in
//! `tests/regularisers.rs`: it compares two runs' random draws, which other tests running in
//! the same process would interleave with.)

use burn::Tensor;
use burn::module::Module;
use burn::prelude::Device;

use super::{DropoutKind, drop_weight, dropout, embedding_dropout, zoneout};
use crate::cell::CellType;
use crate::recurrent::{Recurrent, RecurrentConfig};
use crate::state::RecurrentState;
use crate::tests::{assert_close, random};

fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .unwrap()
}

/// The fraction of zeros in `v`.
fn zeros(v: &[f32]) -> f64 {
    v.iter().filter(|&&x| x == 0.0).count() as f64 / v.len() as f64
}

#[test]
fn dropout_keeps_or_scales_and_variational_masks_hold_over_time() {
    let device = Device::flex();
    device.seed(1);
    let x = Tensor::<3>::ones([32, 20, 32], &device);
    for kind in [DropoutKind::Standard, DropoutKind::Variational] {
        let v = values(dropout(x.clone(), 0.25, kind, 1, true));
        assert!(v.iter().all(|&e| e == 0.0 || (e - 1.0 / 0.75).abs() < 1e-6));
        let dropped = zeros(&v);
        // (Bounds of 7 standard deviations or more: other tests share the generator.)
        assert!((dropped - 0.25).abs() < 0.1, "{kind:?}: {dropped} dropped");
        // Variational: every row's mask is the same at all 20 steps; standard: it is not.
        let same_over_time = (0..32).all(|b| {
            (0..32).all(|d| (1..20).all(|t| v[(b * 20 + t) * 32 + d] == v[b * 20 * 32 + d]))
        });
        assert_eq!(same_over_time, kind == DropoutKind::Variational, "{kind:?}");
        // Outside training, or at p = 0, the input comes back.
        assert_eq!(
            values(dropout(x.clone(), 0.25, kind, 1, false)),
            values(x.clone())
        );
        assert_eq!(
            values(dropout(x.clone(), 0.0, kind, 1, true)),
            values(x.clone())
        );
    }
}

#[test]
fn weight_drop_drops_elements_and_embedding_dropout_whole_rows() {
    let device = Device::flex();
    device.seed(2);
    let w = Tensor::<2>::ones([64, 32], &device);
    let v = values(drop_weight(w.clone(), 0.5, true));
    assert!(v.iter().all(|&e| e == 0.0 || e == 2.0));
    assert!((zeros(&v) - 0.5).abs() < 0.08);
    assert_eq!(
        values(drop_weight(w.clone(), 0.5, false)),
        values(w.clone())
    );
    let e = values(embedding_dropout(w.clone(), 0.5, true));
    let rows: Vec<&[f32]> = e.chunks(32).collect();
    assert!(
        rows.iter()
            .all(|r| r.iter().all(|&x| x == 0.0) || r.iter().all(|&x| x == 2.0))
    );
    let dropped = rows.iter().filter(|r| r[0] == 0.0).count();
    assert!((10..=54).contains(&dropped), "{dropped} of 64 rows dropped");
    assert_eq!(values(embedding_dropout(w.clone(), 0.5, false)), values(w));
}

#[test]
fn zoneout_keeps_the_previous_state_or_takes_the_new_one_and_mixes_at_inference() {
    let device = Device::flex();
    device.seed(3);
    let new = Tensor::<2>::ones([40, 40], &device);
    let prev = Tensor::<2>::zeros([40, 40], &device);
    let v = values(zoneout(new.clone(), prev.clone(), 0.3, true));
    assert!(v.iter().all(|&e| e == 0.0 || e == 1.0));
    assert!((zeros(&v) - 0.3).abs() < 0.08, "{} kept", zeros(&v));
    let mixed = values(zoneout(new.clone(), prev.clone(), 0.3, false));
    assert!(mixed.iter().all(|&e| (e - 0.7).abs() < 1e-6));
    assert_eq!(values(zoneout(new.clone(), prev, 0.0, true)), values(new));
}

/// A two-layer stack of `cell` with every regulariser at `p` (zoneout at `zoneout`).
fn regularised(cell: CellType, p: f64, zoneout: f64, device: &Device) -> Recurrent {
    RecurrentConfig::new(cell, 3, 5)
        .with_n_layers(2)
        .with_dropout(p)
        .with_input_dropout(p)
        .with_output_dropout(p)
        .with_dropout_kind(DropoutKind::Variational)
        .with_weight_drop(p)
        .with_zoneout(zoneout)
        .init(device)
}

/// The same stack with other regularisers (same parameters).
fn with_regular(stack: &Recurrent, zoneout: f64, p: f64) -> Recurrent {
    let mut out = stack.clone();
    out.meta.regular.zoneout = zoneout;
    out.meta.regular.weight_drop = p;
    out.dropout = burn::nn::DropoutConfig::new(p).init();
    out.meta.regular.input_dropout = p;
    out.meta.regular.output_dropout = p;
    out
}

#[test]
fn nothing_is_dropped_outside_training() {
    let device = Device::flex().autodiff();
    device.seed(4);
    for cell in [CellType::Lstm, CellType::Gru, CellType::MinGru] {
        let stack = if cell == CellType::MinGru {
            RecurrentConfig::new(cell, 3, 5)
                .with_n_layers(2)
                .with_dropout(0.5)
                .with_input_dropout(0.5)
                .with_output_dropout(0.5)
                .with_dropout_kind(DropoutKind::Variational)
                .init(&device)
        } else {
            regularised(cell, 0.5, 0.0, &device)
        };
        let plain = with_regular(&stack, 0.0, 0.0).valid();
        let x = random([2, 6, 3], &device);
        let expect = plain.forward(x.clone().inner(), None).0;
        let on_flex = |t: Tensor<3>| Tensor::<3>::from_data(t.into_data(), &Device::flex());
        // In training they act; on the inference device and with the flag cleared they do not
        // (equal to rounding: the training device runs other kernels).
        let trained = on_flex(stack.forward(x.clone(), None).0);
        assert_ne!(values(trained), values(expect.clone()), "{cell:?}");
        let (y, _) = stack.clone().valid().forward(x.clone().inner(), None);
        assert_close(y, expect.clone(), 1e-6, &format!("{cell:?}: valid"));
        let (y, _) = stack.clone().freeze().forward(x, None);
        assert_close(on_flex(y), expect, 1e-6, &format!("{cell:?}: frozen"));
    }
}

#[test]
fn zoneout_at_inference_mixes_each_step_with_the_previous_state() {
    let device = Device::flex();
    device.seed(6);
    for cell in [CellType::Rnn, CellType::Lstm, CellType::Gru] {
        let p = 0.3;
        let zoned = RecurrentConfig::new(cell, 3, 5)
            .with_zoneout(p)
            .init(&device);
        let plain = with_regular(&zoned, 0.0, 0.0);
        let x = random([2, 6, 3], &device);
        let (out, last) = zoned.forward(x.clone(), None);
        // By hand: each step of the plain cell from the zoned state, mixed by `p`.
        let mut state: Option<RecurrentState> = None;
        let mut outs = Vec::new();
        for t in 0..6 {
            let x_t = x.clone().narrow(1, t, 1).squeeze_dim(1);
            let prev = state.clone().unwrap_or_else(|| {
                let (_, s) = plain.step(x_t.clone() * 0.0, None);
                RecurrentState {
                    hidden: s.hidden.zeros_like(),
                    cell: s.cell.map(|c| c.zeros_like()),
                }
            });
            let (_, new) = plain.step(x_t, Some(prev.clone()));
            let mix = |new: Tensor<3>, prev: Tensor<3>| prev * p + new * (1.0 - p);
            let next = RecurrentState {
                hidden: mix(new.hidden, prev.hidden),
                cell: new.cell.zip(prev.cell).map(|(n, p)| mix(n, p)),
            };
            outs.push(next.hidden.clone().squeeze_dim::<2>(0));
            state = Some(next);
        }
        let expect = Tensor::stack::<3>(outs, 1);
        assert_close(out, expect, 1e-6, &format!("{cell:?}: outputs"));
        let state = state.expect("six steps");
        assert_close(last.hidden, state.hidden, 1e-6, &format!("{cell:?}: h_n"));
        // `step` with zoneout gives what `forward` gives.
        let mut s = None;
        let mut stepped = Vec::new();
        for t in 0..6 {
            let (y, next) = zoned.step(x.clone().narrow(1, t, 1).squeeze_dim(1), s);
            stepped.push(y);
            s = Some(next);
        }
        let (forward, _) = zoned.forward(x, None);
        assert_close(
            Tensor::stack::<3>(stepped, 1),
            forward,
            1e-6,
            &format!("{cell:?}: step"),
        );
    }
}

#[test]
fn zoneout_in_training_keeps_some_units_at_their_previous_value() {
    // With the input at zero and no bias, a unit that zones out at every step stays at h0:
    // the fraction of units of the last step still equal to h0 is about p^T for T steps.
    let device = Device::flex().autodiff();
    device.seed(7);
    let stack = RecurrentConfig::new(CellType::Gru, 3, 64)
        .with_zoneout(0.5)
        .with_bias(false)
        .init(&device);
    let h0 = Tensor::<3>::ones([1, 32, 64], &device);
    let (_, last) = stack.forward(
        Tensor::zeros([32, 2, 3], &device),
        Some(RecurrentState::hidden(h0)),
    );
    let kept = values(last.hidden.inner())
        .iter()
        .filter(|&&h| h == 1.0)
        .count() as f64
        / (32.0 * 64.0);
    assert!(
        (kept - 0.25).abs() < 0.06,
        "{kept} of units kept h0 over 2 steps"
    );
}

#[test]
fn the_config_names_a_bad_regulariser() {
    let device = Device::flex();
    let bad = [
        (
            RecurrentConfig::new(CellType::Lstm, 3, 5).with_weight_drop(1.0),
            "weight_drop",
        ),
        (
            RecurrentConfig::new(CellType::Gru, 3, 5).with_zoneout(-0.1),
            "zoneout",
        ),
        (
            RecurrentConfig::new(CellType::Gru, 3, 5).with_input_dropout(1.5),
            "input_dropout",
        ),
        (
            RecurrentConfig::new(CellType::Rnn, 3, 5).with_output_dropout(f64::NAN),
            "output_dropout",
        ),
        (
            RecurrentConfig::new(CellType::MinGru, 3, 5).with_weight_drop(0.1),
            "weight_drop",
        ),
        (
            RecurrentConfig::new(CellType::MinLstm, 3, 5).with_zoneout(0.1),
            "zoneout",
        ),
    ];
    for (config, key) in bad {
        let err = config.try_init(&device).expect_err(key);
        assert_eq!(err.key, key, "{err}");
    }
}
