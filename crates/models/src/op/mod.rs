//! The whole-layer recurrent op: the time loop of one direction of one layer as a single backend
//! operation, with a hand-written backward through time.
//!
//! The layer splits into two parts:
//! - the input projection `xp = x · W_ihᵀ + b` for all `T·B` rows at once, one large matmul.
//!   [`RecurrentOps::recurrent_layer`] ([`layer`] on burn tensors, what the stacks call) takes
//!   `x` and does it: with burn's own ops by default, so that on autodiff its backward (`dx`,
//!   `dW_ih`, the bias) is one large matmul each too; flex inference does it inside the op on
//!   the same packed-weight kernel as the steps, with the bias added in the product;
//! - [`RecurrentOps::recurrent_scan`] ([`recurrence`]): the recurrence over `xp`. Per step one
//!   matmul with `W_hh` and one fused pass over the gates; it saves what the backward needs.
//!   Its backward, [`RecurrentOps::recurrent_scan_backward`], runs per step one matmul for the
//!   state gradient and one fused pass, and computes `dW_hh` (and `dW_hr`) as one large matmul
//!   over all steps.
//!
//! Backends:
//! - `flex`: native kernels on the f32 buffers (gemm and one vectorised pass per step with a fast
//!   `exp`), in `flex/`; single-step inference calls (generation) keep their packed weights
//!   (`W_hh`, `W_ih`, `W_hr`) between calls ([`clear_weight_cache`] drops them);
//! - wgpu (CubeCL): per step burn's matmul and one fused CubeCL kernel over the gates, which
//!   writes the outputs and saved activations in place, forward and backward (`cube/`);
//! - the trait's default bodies, written with burn's backend ops (`generic.rs`), for flex in
//!   f64 and as the path the kernels are tested against;
//! - autodiff: the forward registers one graph node whose backward calls the inner backend's
//!   `recurrent_scan_backward` (`autodiff.rs`).
//!
//! [`recurrence`] and [`layer`] are the entry points on burn tensors, with [`OpOptions`]; [`supports`] says whether a device has the op
//! (the stack falls back to the tensor-op loop of `time_loop.rs` where it has not).
//!
//! (Over 400 lines: the op's public entry points, its backend trait with the default bodies'
//! dispatch, and the shape checks every backend relies on.)

use std::sync::Arc;

use burn::Tensor;
use burn::backend::{Backend, Dispatch, DispatchDevice, backend_extension, tensor::FloatTensor};
use burn::prelude::Device;

#[cfg(feature = "autodiff")]
mod autodiff;
#[cfg(feature = "wgpu")]
mod cube;
#[cfg(feature = "flex")]
mod flex;
mod generic;
mod layout;
#[cfg(all(test, feature = "flex", feature = "autodiff"))]
mod tests;

#[cfg(feature = "flex")]
pub use flex::{CpuIsa, ISA_VAR, IsaError, clear_weight_cache, cpu_isa};

/// Runs `a` on this thread and `b` on another at the same time, each op call in them on one
/// core, where `device` is flex on a machine with two cores or more (the two directions of a
/// bidirectional layer then need no synchronisation per step); elsewhere one after the other.
pub fn side_by_side<A: Send, B: Send>(
    device: &Device,
    a: impl FnOnce() -> A + Send,
    b: impl FnOnce() -> B + Send,
) -> (A, B) {
    #[cfg(feature = "flex")]
    {
        if flex::cores() >= 2
            && matches!(
                device.as_dispatch().clone().inner(),
                DispatchDevice::Flex(_)
            )
        {
            return flex::one_core_each(a, b);
        }
    }
    let _ = device;
    (a(), b())
}
#[doc(hidden)]
pub use layout::SavedLayout;

/// The cell the op runs (PyTorch's gate order and bias placement; see `cell.rs`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpCell {
    /// Elman RNN, `h' = tanh(xp + W_hh h)`.
    RnnTanh,
    /// Elman RNN, `h' = relu(xp + W_hh h)`.
    RnnRelu,
    /// LSTM, gates `i, f, g, o`; with `w_hr` the hidden state is projected.
    Lstm,
    /// GRU, gates `r, z, n`; `b_hn` stays inside `r * (W_hn h + b_hn)`.
    Gru,
    /// sLSTM (Beck et al. 2024, xLSTM), gates `i, f, z, o`: exponential input gate, sigmoid
    /// forget gate, the normaliser `n` and the stabiliser `m` (see `cell.rs`). Its "cell state"
    /// is `[c | n | m]`, `3·H` wide.
    Slstm,
}

impl OpCell {
    /// Number of gates `G` in `[G·H, ·]`.
    pub fn gates(self) -> usize {
        match self {
            OpCell::RnnTanh | OpCell::RnnRelu => 1,
            OpCell::Lstm | OpCell::Slstm => 4,
            OpCell::Gru => 3,
        }
    }

    /// Width of the state carried next to `h`, in units of `H`: 1 for the LSTM's `c`, 3 for
    /// the sLSTM's `[c | n | m]`, 0 for a cell without one.
    pub fn state_units(self) -> usize {
        match self {
            OpCell::Lstm => 1,
            OpCell::Slstm => 3,
            OpCell::RnnTanh | OpCell::RnnRelu | OpCell::Gru => 0,
        }
    }
}

#[doc(hidden)] // the op's backend interface: its callers use `recurrence` and `layer`
/// Everything about one call of the op that is not a tensor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScanSpec {
    /// The cell.
    pub cell: OpCell,
    /// Run from the last step to the first (the second direction of a bidirectional layer).
    pub reverse: bool,
    /// GRU: whether the call has a `b_hn` (else the `b_hn` tensor is a placeholder).
    pub has_b_hn: bool,
    /// LSTM: whether the call projects with a `w_hr` (else the `w_hr` tensor is a placeholder).
    pub has_w_hr: bool,
    /// [`RecurrentOps::recurrent_layer`]: whether the input projection adds a bias (else the
    /// `bias` tensor is a placeholder).
    pub has_bias: bool,
    /// Length of every batch row, each in `1..=T` (PyTorch's packed-sequence semantics: steps
    /// past a row's length leave its state alone and output zeros); `None` = all `T`.
    pub lengths: Option<Arc<[usize]>>,
    /// Whether to return the saved activations the backward needs.
    pub save: bool,
    /// Whether `xp`, `y` (and in the backward `dy`, `d_xp`) are `[B, T, ·]` instead of
    /// `[T, B, ·]`: a batch-first stack then needs no transposes around the op.
    pub batch_first: bool,
}

impl ScanSpec {
    /// The call's `b_hn`, or `None` where it passed a placeholder.
    pub(crate) fn b_hn_of<T>(&self, b_hn: T) -> Option<T> {
        self.has_b_hn.then_some(b_hn)
    }

    /// The call's input-projection bias, or `None` where it passed a placeholder.
    pub(crate) fn bias_of<T>(&self, bias: T) -> Option<T> {
        self.has_bias.then_some(bias)
    }

    /// The call's `w_hr`, or `None` where it passed a placeholder.
    pub(crate) fn w_hr_of<T>(&self, w_hr: T) -> Option<T> {
        self.has_w_hr.then_some(w_hr)
    }

    /// The call's cell state (or its gradient), or `None` for a cell without one.
    pub(crate) fn cell_of<T>(&self, c: T) -> Option<T> {
        (self.cell.state_units() > 0).then_some(c)
    }

    /// Whether row `b` takes part in step `t`.
    pub(crate) fn valid(&self, t: usize, b: usize) -> bool {
        self.lengths.as_ref().is_none_or(|l| t < l[b])
    }
}

#[doc(hidden)] // the op's backend interface: its callers use `recurrence` and `layer`
/// What [`RecurrentOps::recurrent_scan`] returns: `(y, h_n, c_n, saved)`.
///
/// - `y`: `[T, B, H_out]` (`[B, T, H_out]` when `spec.batch_first`), zero past each row's
///   length;
/// - `h_n`: `[B, H_out]`, the state after each row's last step;
/// - `c_n`: `[B, H]` (LSTM), `[B, 3·H]` (sLSTM: `[c | n | m]`);
/// - `saved`: per-step activations laid out by [`SavedLayout`] (when `spec.save`), `[T, B, S]`
///   or, on a backend that keeps them in `xp`'s order, `[B, T, S]` when `spec.batch_first`;
///   only that backend's backward reads them.
pub type ScanOutput<B> = (
    FloatTensor<B>,
    FloatTensor<B>,
    Option<FloatTensor<B>>,
    Option<FloatTensor<B>>,
);

#[doc(hidden)] // the op's backend interface: its callers use `recurrence` and `layer`
/// What [`RecurrentOps::recurrent_scan_backward`] returns:
/// `(d_xp, d_w_hh, d_b_hn, d_w_hr, d_h0, d_c0)`, each shaped like its input.
pub type ScanGrads<B> = (
    FloatTensor<B>,
    FloatTensor<B>,
    Option<FloatTensor<B>>,
    Option<FloatTensor<B>>,
    FloatTensor<B>,
    Option<FloatTensor<B>>,
);

#[doc(hidden)] // the op's backend interface: its callers use `recurrence` and `layer`
/// The whole-layer recurrent op, as a burn backend extension.
///
/// Shapes: `T` steps, `B` rows, `H` hidden units, `G` gates, `H_out` the state size (`P` when an
/// LSTM projects with `w_hr`, else `H`).
#[backend_extension(
    Flex: cfg(feature = "flex"),
    Cube: cfg(feature = "wgpu"),
    Autodiff: cfg(feature = "autodiff"),
)]
pub trait RecurrentOps: Backend {
    /// Runs the recurrence over a projected input.
    ///
    /// - `xp`: `[T, B, G·H]` (`[B, T, G·H]` when `spec.batch_first`), the input projection
    ///   `x · W_ihᵀ` plus every bias but `b_hn`;
    /// - `w_hh`: `[G·H, H_out]`; `b_hn`: `[H]` (GRU with `spec.has_b_hn`); `w_hr`: `[P, H]`
    ///   (LSTM with `spec.has_w_hr`);
    /// - `h0`: `[B, H_out]`; `c0`: `[B, H]` (LSTM), `[B, 3·H]` (sLSTM: `[c | n | m]`).
    ///
    /// A tensor the call does not have is any placeholder (backend extensions take no optional
    /// tensors). Returns [`ScanOutput`].
    #[allow(clippy::too_many_arguments, clippy::type_complexity)]
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
        let (b_hn, w_hr, c0) = (spec.b_hn_of(b_hn), spec.w_hr_of(w_hr), spec.cell_of(c0));
        generic::forward::<Self>(xp, w_hh, b_hn, w_hr, h0, c0, &spec)
    }

    /// A whole layer-direction: the input projection `xp = x · W_ihᵀ + bias` and
    /// [`recurrent_scan`](Self::recurrent_scan) over it.
    ///
    /// - `x`: `[T, B, d_in]` (`[B, T, d_in]` when `spec.batch_first`);
    /// - `w_ih`: `[G·H, d_in]`; `bias`: `[G·H]`, every bias but `b_hn` (when
    ///   `spec.has_bias`, else a placeholder);
    /// - the rest as in `recurrent_scan`, whose [`ScanOutput`] it returns.
    ///
    /// The default body projects with the backend's matmul (so on autodiff the projection's
    /// gradients are burn's) and calls `recurrent_scan`; flex inference runs the projection
    /// inside the op, with the bias added in the product and the weights packed like `W_hh`.
    #[allow(clippy::too_many_arguments, clippy::type_complexity)]
    fn recurrent_layer(
        x: FloatTensor<Self>,
        w_ih: FloatTensor<Self>,
        bias: FloatTensor<Self>,
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
        let xp = generic::project::<Self>(x, w_ih, spec.bias_of(bias));
        Self::recurrent_scan(xp, w_hh, b_hn, w_hr, h0, c0, spec)
    }

    /// Backward through time of [`recurrent_scan`](Self::recurrent_scan).
    ///
    /// - `saved`: the forward's `[T, B, S]` activations; `w_hh`, `w_hr` as in the forward;
    /// - `dy`: `[T, B, H_out]` (`[B, T, H_out]` when `spec.batch_first`); `dh_n`: `[B, H_out]`;
    ///   `dc_n`: `[B, H]` (LSTM), `[B, 3·H]` (sLSTM); else a placeholder.
    ///
    /// Returns [`ScanGrads`] (`d_b_hn` when `spec.has_b_hn`, `d_w_hr` when `spec.has_w_hr`).
    #[allow(clippy::too_many_arguments, clippy::type_complexity)]
    fn recurrent_scan_backward(
        saved: FloatTensor<Self>,
        w_hh: FloatTensor<Self>,
        w_hr: FloatTensor<Self>,
        dy: FloatTensor<Self>,
        dh_n: FloatTensor<Self>,
        dc_n: FloatTensor<Self>,
        spec: ScanSpec,
    ) -> (
        FloatTensor<Self>,
        FloatTensor<Self>,
        Option<FloatTensor<Self>>,
        Option<FloatTensor<Self>>,
        FloatTensor<Self>,
        Option<FloatTensor<Self>>,
    ) {
        let (w_hr, dc_n) = (spec.w_hr_of(w_hr), spec.cell_of(dc_n));
        generic::backward::<Self>(saved, w_hh, w_hr, dy, dh_n, dc_n, &spec)
    }
}

/// Whether the op runs on `device` (with or without autodiff) in this build.
pub fn supports(device: &Device) -> bool {
    if device.is_autodiff() && !cfg!(feature = "autodiff") {
        return false;
    }
    match device.as_dispatch().clone().inner() {
        #[cfg(feature = "flex")]
        DispatchDevice::Flex(_) => true,
        #[cfg(feature = "wgpu")]
        DispatchDevice::Cube(_) => true,
        #[allow(unreachable_patterns)]
        _ => false,
    }
}

/// How one call of [`recurrence`] or [`layer`] runs: the cell, the direction, the rows'
/// lengths and the layout.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpOptions {
    /// The cell.
    pub cell: OpCell,
    /// Run from the last step to the first (the second direction of a bidirectional layer).
    pub reverse: bool,
    /// Length of every batch row, each in `1..=T` (steps past it leave the row's state alone
    /// and output zeros); `None` = all `T`.
    pub lengths: Option<Arc<[usize]>>,
    /// `[B, T, ·]` inputs and outputs instead of `[T, B, ·]`.
    pub batch_first: bool,
}

impl OpOptions {
    /// A forward, time-major call of `cell` over full-length rows.
    pub fn new(cell: OpCell) -> Self {
        Self {
            cell,
            reverse: false,
            lengths: None,
            batch_first: false,
        }
    }
}

/// The tensors of one call of [`recurrence`].
#[derive(Debug)]
pub struct RecurrenceTensors {
    /// `[T, B, G·H]` (`[B, T, G·H]` for a batch-first call): the input projection plus every
    /// bias but `b_hn`.
    pub xp: Tensor<3>,
    /// `[G·H, H_out]`.
    pub w_hh: Tensor<2>,
    /// GRU only: `[H]`, added to `W_hn h` inside the reset gate's product.
    pub b_hn: Option<Tensor<1>>,
    /// LSTM only: the projection `[P, H]`.
    pub w_hr: Option<Tensor<2>>,
    /// `[B, H_out]`.
    pub h0: Tensor<2>,
    /// LSTM: `[B, H]`; sLSTM: `[B, 3·H]`, `[c | n | m]`.
    pub c0: Option<Tensor<2>>,
}

/// Runs the recurrence over an input projection already made (`xp`) on burn tensors: returns
/// `y` `[T, B, H_out]` (`[B, T, H_out]` when `batch_first`, as `xp` then is), `h_n`
/// `[B, H_out]` and, for LSTM, `c_n` `[B, H]` (sLSTM: `[B, 3·H]`). Differentiable on an
/// autodiff device.
///
/// # Panics
/// If the device has no implementation ([`supports`] is false) or the shapes disagree.
pub fn recurrence(
    tensors: RecurrenceTensors,
    options: OpOptions,
) -> (Tensor<3>, Tensor<2>, Option<Tensor<2>>) {
    let RecurrenceTensors {
        xp,
        w_hh,
        b_hn,
        w_hr,
        h0,
        c0,
    } = tensors;
    let call = Call {
        xp_dims: xp.dims(),
        w_hh,
        b_hn,
        w_hr,
        h0,
        c0,
        has_bias: false,
    };
    call.run(options, |spec, [w_hh, b_hn, w_hr, h0, c0]| {
        <Dispatch as RecurrentOps>::recurrent_scan(
            xp.into_dispatch(),
            w_hh,
            b_hn,
            w_hr,
            h0,
            c0,
            spec,
        )
    })
}

/// The tensors of one call of [`layer`]: a layer-direction's input and every weight.
#[derive(Debug)]
pub struct LayerTensors {
    /// `[T, B, d_in]` (`[B, T, d_in]` for a batch-first call).
    pub x: Tensor<3>,
    /// `[G·H, d_in]`.
    pub w_ih: Tensor<2>,
    /// `[G·H]`: every bias but `b_hn` (`b_ih + b_hh`, GRU's `b_hn` part left out).
    pub bias: Option<Tensor<1>>,
    /// `[G·H, H_out]`.
    pub w_hh: Tensor<2>,
    /// GRU only: `[H]`, added to `W_hn h` inside the reset gate's product.
    pub b_hn: Option<Tensor<1>>,
    /// LSTM only: the projection `[P, H]`.
    pub w_hr: Option<Tensor<2>>,
    /// `[B, H_out]`.
    pub h0: Tensor<2>,
    /// LSTM: `[B, H]`; sLSTM: `[B, 3·H]`, `[c | n | m]`.
    pub c0: Option<Tensor<2>>,
}

/// [`recurrence`] with the input projection inside the op: the recurrence over
/// `x · W_ihᵀ + bias`. Returns what `recurrence` returns; differentiable on an autodiff device.
///
/// # Panics
/// If the device has no implementation ([`supports`] is false) or the shapes disagree.
pub fn layer(
    tensors: LayerTensors,
    options: OpOptions,
) -> (Tensor<3>, Tensor<2>, Option<Tensor<2>>) {
    let LayerTensors {
        x,
        w_ih,
        bias,
        w_hh,
        b_hn,
        w_hr,
        h0,
        c0,
    } = tensors;
    let [d0, d1, d_in] = x.dims();
    let [gh, w_in] = w_ih.dims();
    assert_eq!(
        d_in, w_in,
        "recurrent layer: x is [.., .., {d_in}], w_ih [.., {w_in}]"
    );
    if let Some(b) = &bias {
        assert_eq!(b.dims(), [gh], "recurrent layer: bias shape");
    }
    let call = Call {
        xp_dims: [d0, d1, gh],
        w_hh,
        b_hn,
        w_hr,
        h0,
        c0,
        has_bias: bias.is_some(),
    };
    let device = x.device();
    let bias = bias.map_or_else(|| placeholder(&device), Tensor::into_dispatch);
    call.run(options, |spec, [w_hh, b_hn, w_hr, h0, c0]| {
        <Dispatch as RecurrentOps>::recurrent_layer(
            x.into_dispatch(),
            w_ih.into_dispatch(),
            bias,
            w_hh,
            b_hn,
            w_hr,
            h0,
            c0,
            spec,
        )
    })
}

/// A one-element constant standing for a tensor a call does not have.
fn placeholder(device: &Device) -> FloatTensor<Dispatch> {
    Tensor::<1>::zeros([1], device).into_dispatch()
}

/// What [`recurrence`] and [`layer`] share: the recurrence's tensors, checked against the input
/// projection's shape `xp_dims` (in the call's order).
struct Call {
    xp_dims: [usize; 3],
    w_hh: Tensor<2>,
    b_hn: Option<Tensor<1>>,
    w_hr: Option<Tensor<2>>,
    h0: Tensor<2>,
    c0: Option<Tensor<2>>,
    has_bias: bool,
}

impl Call {
    /// Checks the shapes, builds the spec and runs `op` on `[w_hh, b_hn, w_hr, h0, c0]` (absent
    /// ones as placeholders): `(y, h_n, c_n)` as burn tensors.
    fn run(
        self,
        options: OpOptions,
        op: impl FnOnce(ScanSpec, [FloatTensor<Dispatch>; 5]) -> ScanOutput<Dispatch>,
    ) -> (Tensor<3>, Tensor<2>, Option<Tensor<2>>) {
        let Call {
            xp_dims,
            w_hh,
            b_hn,
            w_hr,
            h0,
            c0,
            has_bias,
        } = self;
        let OpOptions {
            cell,
            reverse,
            lengths,
            batch_first,
        } = options;
        check_shapes(
            cell,
            batch_first,
            xp_dims,
            &w_hh,
            &b_hn,
            &w_hr,
            &h0,
            &c0,
            lengths.as_deref(),
        );
        let spec = ScanSpec {
            cell,
            reverse,
            has_b_hn: b_hn.is_some(),
            has_w_hr: w_hr.is_some(),
            has_bias,
            lengths,
            save: false,
            batch_first,
        };
        let device = h0.device();
        let or_placeholder =
            |t: Option<FloatTensor<Dispatch>>| t.unwrap_or_else(|| placeholder(&device));
        let tensors = [
            w_hh.into_dispatch(),
            or_placeholder(b_hn.map(Tensor::into_dispatch)),
            or_placeholder(w_hr.map(Tensor::into_dispatch)),
            h0.into_dispatch(),
            or_placeholder(c0.map(Tensor::into_dispatch)),
        ];
        let (y, h_n, c_n, _) = op(spec, tensors);
        (
            Tensor::from_dispatch(y),
            Tensor::from_dispatch(h_n),
            c_n.map(Tensor::from_dispatch),
        )
    }
}

#[allow(clippy::too_many_arguments)]
fn check_shapes(
    cell: OpCell,
    batch_first: bool,
    xp_dims: [usize; 3],
    w_hh: &Tensor<2>,
    b_hn: &Option<Tensor<1>>,
    w_hr: &Option<Tensor<2>>,
    h0: &Tensor<2>,
    c0: &Option<Tensor<2>>,
    lengths: Option<&[usize]>,
) {
    let [time, batch, gh] = match xp_dims {
        [b, t, gh] if batch_first => [t, b, gh],
        dims => dims,
    };
    let [gh_w, d_out] = w_hh.dims();
    assert!(time > 0, "recurrent scan: xp has no steps");
    assert_eq!(
        gh, gh_w,
        "recurrent scan: xp is [.., .., {gh}], w_hh [{gh_w}, ..]"
    );
    assert_eq!(gh % cell.gates(), 0, "recurrent scan: {gh} is not G·H");
    let hidden = gh / cell.gates();
    let expect_out = w_hr.as_ref().map_or(hidden, |w| w.dims()[0]);
    assert_eq!(d_out, expect_out, "recurrent scan: w_hh is [.., {d_out}]");
    if let Some(w) = w_hr {
        assert!(cell == OpCell::Lstm, "recurrent scan: w_hr is LSTM only");
        assert_eq!(
            w.dims()[1],
            hidden,
            "recurrent scan: w_hr is [P, {}]",
            w.dims()[1]
        );
    }
    if let Some(b) = b_hn {
        assert!(cell == OpCell::Gru, "recurrent scan: b_hn is GRU only");
        assert_eq!(b.dims(), [hidden], "recurrent scan: b_hn shape");
    }
    assert_eq!(h0.dims(), [batch, d_out], "recurrent scan: h0 shape");
    assert_eq!(
        c0.is_some(),
        cell.state_units() > 0,
        "recurrent scan: c0 is given exactly for LSTM and sLSTM"
    );
    if let Some(c) = c0 {
        let width = cell.state_units() * hidden;
        assert_eq!(c.dims(), [batch, width], "recurrent scan: c0 shape");
    }
    if let Some(l) = lengths {
        assert_eq!(l.len(), batch, "recurrent scan: one length per row");
        assert!(
            l.iter().all(|&l| (1..=time).contains(&l)),
            "recurrent scan: lengths must be in 1..={time}"
        );
    }
}
