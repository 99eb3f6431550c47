//! The op on the autodiff backend: one graph node per call whose backward is the inner backend's
//! hand-written backward through time.
//!
//! The node has one output, so `y`, `h_n` and `c_n` are packed into one flat tensor before the
//! node and sliced back out after it (the trick burn-signal's `rfft` uses); the backward splits
//! the packed gradient the same way.

use burn::backend::autodiff::{
    Autodiff,
    checkpoint::{base::Checkpointer, strategy::CheckpointStrategy},
    grads::Gradients,
    ops::{Backward, Ops, OpsKind},
};
use burn::backend::tensor::FloatTensor;
use burn::backend::{AutodiffBackend, Backend, Shape, Slice, TensorMetadata};

use super::{RecurrentOps, ScanGrads, ScanSpec};

/// What the backward keeps: the saved activations, the weights it multiplies by, and the sizes
/// needed to split the packed gradient.
#[derive(Clone, Debug)]
struct ScanState<B: Backend> {
    saved: FloatTensor<B>,
    w_hh: FloatTensor<B>,
    /// The call's `w_hr`, or its placeholder.
    w_hr: FloatTensor<B>,
    spec: ScanSpec,
    /// `[T, B, H_out]` of `y`.
    y_shape: [usize; 3],
    /// `H` when an LSTM's `c_n` is packed too.
    cell_width: Option<usize>,
}

#[derive(Debug)]
struct ScanBackward;

impl<B: Backend + RecurrentOps> Backward<B, 6> for ScanBackward {
    type State = ScanState<B>;

    fn backward(self, ops: Ops<Self::State, 6>, grads: &mut Gradients, _: &mut Checkpointer) {
        let state = ops.state;
        let packed = grads.consume::<B>(&ops.node);
        let (dy, dh_n, dc_n) = split::<B>(packed, state.y_shape, state.cell_width);
        // An LSTM-less cell passes a placeholder (the backward ignores it).
        let dc_n = dc_n.unwrap_or_else(|| state.w_hr.clone());
        let (d_xp, d_w_hh, d_b_hn, d_w_hr, d_h0, d_c0): ScanGrads<B> = B::recurrent_scan_backward(
            state.saved,
            state.w_hh,
            state.w_hr,
            dy,
            dh_n,
            dc_n,
            state.spec,
        );
        let [p_xp, p_w_hh, p_b_hn, p_w_hr, p_h0, p_c0] = ops.parents;
        for (parent, grad) in [
            (p_xp, Some(d_xp)),
            (p_w_hh, Some(d_w_hh)),
            (p_b_hn, d_b_hn),
            (p_w_hr, d_w_hr),
            (p_h0, Some(d_h0)),
            (p_c0, d_c0),
        ] {
            if let (Some(node), Some(grad)) = (parent, grad) {
                grads.register::<B>(node.id, grad);
            }
        }
    }
}

/// Splits a flat `[y; h_n; c_n]` tensor into `y` (of `y_shape`: `[T, B, H_out]` or
/// `[B, T, H_out]`), `h_n` `[B, H_out]` and `c_n` `[B, H]` (when packed): the forward's
/// outputs, or their gradients in the backward.
#[allow(clippy::type_complexity)]
fn split<B: Backend>(
    packed: FloatTensor<B>,
    y_shape: [usize; 3],
    cell_width: Option<usize>,
) -> (FloatTensor<B>, FloatTensor<B>, Option<FloatTensor<B>>) {
    let n_y = y_shape.iter().product::<usize>();
    let d_out = y_shape[2];
    let batch = n_h_rows(packed.shape().num_elements() - n_y, d_out, cell_width);
    let n_h = batch * d_out;
    let take = |start: usize, len: usize, shape: [usize; 2]| {
        let part = B::float_slice(packed.clone(), &[Slice::from(start..start + len)]);
        B::float_reshape(part, Shape::new(shape))
    };
    let y = B::float_reshape(
        B::float_slice(packed.clone(), &[Slice::from(0..n_y)]),
        Shape::new(y_shape),
    );
    (
        y,
        take(n_y, n_h, [batch, d_out]),
        cell_width.map(|h| take(n_y + n_h, batch * h, [batch, h])),
    )
}

/// The batch size `B` of the `h_n` (and `c_n`) part of `len` elements.
fn n_h_rows(len: usize, d_out: usize, cell_width: Option<usize>) -> usize {
    len / (d_out + cell_width.unwrap_or(0))
}

fn flatten<B: Backend>(t: FloatTensor<B>) -> FloatTensor<B> {
    let n = t.shape().num_elements();
    B::float_reshape(t, Shape::new([n]))
}

impl<B: Backend + RecurrentOps, C: CheckpointStrategy> RecurrentOps for Autodiff<B, C> {
    fn recurrent_scan(
        xp: FloatTensor<Self>,
        w_hh: FloatTensor<Self>,
        b_hn: FloatTensor<Self>,
        w_hr: FloatTensor<Self>,
        h0: FloatTensor<Self>,
        c0: FloatTensor<Self>,
        spec: ScanSpec,
    ) -> (
        FloatTensor<Self>,
        FloatTensor<Self>,
        Option<FloatTensor<Self>>,
        Option<FloatTensor<Self>>,
    ) {
        // Placeholders are untracked, so no gradient is registered for them.
        let prep = ScanBackward
            .prepare::<C>([
                xp.node(),
                w_hh.node(),
                b_hn.node(),
                w_hr.node(),
                h0.node(),
                c0.node(),
            ])
            .compute_bound()
            .stateful();
        let inner = |t: FloatTensor<Self>| t.into_primitive();
        // What the backward multiplies by (shared buffers, no copy).
        let (w_hh_inner, w_hr_inner) = (w_hh.primitive().clone(), w_hr.primitive().clone());
        let spec = ScanSpec {
            save: matches!(prep, OpsKind::Tracked(_)),
            ..spec
        };
        let (y, h_n, c_n, saved) = B::recurrent_scan(
            inner(xp),
            inner(w_hh),
            inner(b_hn),
            inner(w_hr),
            inner(h0),
            inner(c0),
            spec.clone(),
        );
        match prep {
            OpsKind::UnTracked(prep) => {
                drop(prep);
                (
                    Self::from_inner(y),
                    Self::from_inner(h_n),
                    c_n.map(Self::from_inner),
                    None,
                )
            }
            OpsKind::Tracked(prep) => {
                let y_shape: [usize; 3] = {
                    let s = y.shape();
                    [s[0], s[1], s[2]]
                };
                let cell_width = c_n.as_ref().map(|c| c.shape()[1]);
                let mut flat = vec![flatten::<B>(y), flatten::<B>(h_n)];
                flat.extend(c_n.map(flatten::<B>));
                let packed = B::float_cat(flat, 0);
                let state = ScanState {
                    saved: saved.expect("the forward saved its activations"),
                    w_hh: w_hh_inner,
                    w_hr: w_hr_inner,
                    spec,
                    y_shape,
                    cell_width,
                };
                let packed = prep.finish(state, packed);
                let (y, h_n, c_n) = split::<Self>(packed, y_shape, cell_width);
                (y, h_n, c_n, None)
            }
        }
    }
}
