//! The op on CubeCL devices (wgpu): per step one matmul launch (burn's, `h · W_hhᵀ` forward,
//! `da · W_hh` backward) and one fused kernel over the gates (`kernels.rs`); a projected LSTM
//! adds its projection's matmul and a small kernel for the state update.
//!
//! The kernels write the outputs and the saved activations straight into their `[T, B, ·]`
//! (or, batch-first, `[B, T, ·]`) buffers and update the states in place, so a step allocates
//! nothing but the matmul's output. The saved activations keep `xp`'s order (batch-first rows
//! too), which the backward's weight products read as is. The weight gradients are one matmul
//! each over all steps (`generic::weight_grads`), the input projection burn's matmul
//! (the trait's default `recurrent_layer`). The maths is `generic.rs`'s; the tests hold both
//! to the reference.
//!
//! (Over 400 lines: the wgpu side of the op trait, forward and backward of every cell, in one place
//! as `flex/mod.rs` is for flex.)

mod backward;
mod forward;
mod kernels;

use std::any::{Any, TypeId};

use burn::backend::ops::FloatTensorOps;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Cube, DType, Shape, TensorData, TensorMetadata};
use burn_backend::cubecl::dtype_to_storage_type;
use burn_cubecl::kernel::into_contiguous;
use burn_cubecl::ops::numeric::{empty_device_contiguous_dtype, zeros_client};
use burn_cubecl::tensor::CubeTensor;
use burn_cubecl::{CubeBackend, CubeDevice};
use cubecl::client::Client;
use cubecl::prelude::*;

use super::generic::{self, order, weight_grads};
use super::{OpCell, RecurrentOps, SavedLayout, ScanGrads, ScanOutput, ScanSpec};
use kernels::StepLaunch;

impl RecurrentOps for Cube {
    fn recurrent_scan(
        xp: FloatTensor<Self>,
        w_hh: FloatTensor<Self>,
        b_hn: FloatTensor<Self>,
        w_hr: FloatTensor<Self>,
        h0: FloatTensor<Self>,
        c0: FloatTensor<Self>,
        spec: ScanSpec,
    ) -> ScanOutput<Self> {
        let (b_hn, w_hr, c0) = (spec.b_hn_of(b_hn), spec.w_hr_of(w_hr), spec.cell_of(c0));
        if !native() {
            return generic::forward::<Self>(xp, w_hh, b_hn, w_hr, h0, c0, &spec);
        }
        let (b_hn, w_hr, c0) = (b_hn.map(down), w_hr.map(down), c0.map(down));
        let (y, h, c, saved) = forward(down(xp), down(w_hh), b_hn, w_hr, down(h0), c0, &spec);
        (up(y), up(h), c.map(up), saved.map(up))
    }

    fn recurrent_scan_backward(
        saved: FloatTensor<Self>,
        w_hh: FloatTensor<Self>,
        w_hr: FloatTensor<Self>,
        dy: FloatTensor<Self>,
        dh_n: FloatTensor<Self>,
        dc_n: FloatTensor<Self>,
        spec: ScanSpec,
    ) -> ScanGrads<Self> {
        let (w_hr, dc_n) = (spec.w_hr_of(w_hr), spec.cell_of(dc_n));
        if !native() {
            return generic::backward::<Self>(saved, w_hh, w_hr, dy, dh_n, dc_n, &spec);
        }
        let (w_hr, dc_n) = (w_hr.map(down), dc_n.map(down));
        let (saved, w_hh, dy, dh_n) = (down(saved), down(w_hh), down(dy), down(dh_n));
        let (d_xp, d_w_hh, d_b_hn, d_w_hr, dh0, dc0) =
            backward(saved, w_hh, w_hr, dy, dh_n, dc_n, &spec);
        let (d_b_hn, d_w_hr, dc0) = (d_b_hn.map(up), d_w_hr.map(up), dc0.map(up));
        (up(d_xp), up(d_w_hh), d_b_hn, d_w_hr, up(dh0), dc0)
    }
}

/// Whether `Cube`'s tensors are `CubeTensor`s, which the kernels take. They are in this
/// workspace's build; burn's `fusion` feature (on by default in a plain `burn` dependency with
/// `wgpu`) wraps them in fusion tensors, and the op then runs the generic body.
fn native() -> bool {
    TypeId::of::<FloatTensor<Cube>>() == TypeId::of::<CubeTensor>()
}

/// `a` as a `B`, when `A` is `B`.
fn same<A: 'static, B: 'static>(a: A) -> Option<B> {
    let mut slot = Some(a);
    (&mut slot as &mut dyn Any)
        .downcast_mut::<Option<B>>()
        .and_then(Option::take)
}

fn down(t: FloatTensor<Cube>) -> CubeTensor {
    same(t).expect("native() holds")
}

fn up(t: CubeTensor) -> FloatTensor<Cube> {
    same(t).expect("native() holds")
}

type T = CubeTensor;

/// The shapes of one call and what every launch needs.
struct Run {
    client: Client,
    device: CubeDevice,
    dtype: DType,
    /// Steps `T` and rows `B`.
    time: usize,
    batch: usize,
    /// Row strides of a step and of a batch entry in the `[·, ·, W]` buffers.
    st: usize,
    sb: usize,
    batch_first: bool,
    layout: SavedLayout,
    /// `lengths` as floats `[B]` (all `T` without lengths).
    lengths: T,
}

impl Run {
    fn new(like: &T, dims: [usize; 3], layout: SavedLayout, spec: &ScanSpec) -> Self {
        let [d0, d1, _] = dims;
        let (time, batch) = if spec.batch_first { (d1, d0) } else { (d0, d1) };
        let (st, sb) = if spec.batch_first {
            (1, time)
        } else {
            (batch, 1)
        };
        let values: Vec<f32> = match &spec.lengths {
            Some(l) => l.iter().map(|&l| l as f32).collect(),
            None => vec![time as f32; batch],
        };
        let data = TensorData::new(values, [batch]).convert_dtype(like.dtype);
        Self {
            client: like.client.clone(),
            device: like.device.clone(),
            dtype: like.dtype,
            time,
            batch,
            st,
            sb,
            batch_first: spec.batch_first,
            layout,
            lengths: CubeBackend::float_from_data(data, &like.device),
        }
    }

    /// A row-major buffer the kernels fill entirely.
    fn empty(&self, dims: &[usize]) -> T {
        let (client, device) = (self.client.clone(), self.device.clone());
        empty_device_contiguous_dtype(client, device, Shape::from(dims.to_vec()), self.dtype)
    }

    fn zeros(&self, dims: &[usize]) -> T {
        let (client, device) = (self.client.clone(), self.device.clone());
        zeros_client(client, device, Shape::from(dims.to_vec()), self.dtype)
    }

    /// The `[·, ·, width]` shape of a buffer in the call's row order.
    fn rows(&self, width: usize) -> [usize; 3] {
        if self.batch_first {
            [self.batch, self.time, width]
        } else {
            [self.time, self.batch, width]
        }
    }

    /// The scalars of step `t` for a kernel over `B × units`, and its launch grid.
    fn step(&self, t: usize, units: usize) -> (StepLaunch, CubeCount, CubeDim) {
        let n = self.batch * units;
        let dim = CubeDim::new(&self.client, n);
        let count = cubecl::calculate_cube_count_elemwise(&self.client, n, dim);
        let scalars = StepLaunch::new(
            t as u32,
            self.st as u32,
            self.sb as u32,
            self.batch as u32,
            units as u32,
            self.layout.width() as u32,
        );
        (scalars, count, dim)
    }

    fn elem(&self) -> ElemType {
        dtype_to_storage_type(self.dtype)
    }
}

/// A state the step kernels may update in place: the caller's tensor when nothing else holds
/// it, else a copy.
fn owned(t: T) -> T {
    let t = into_contiguous(t);
    if t.can_mut() { t } else { t.copy() }
}

fn arg(t: &T) -> TensorArg {
    t.clone().into_tensor_arg()
}

#[allow(clippy::too_many_arguments)]
fn forward(
    xp: T,
    w_hh: T,
    b_hn: Option<T>,
    w_hr: Option<T>,
    h0: T,
    c0: Option<T>,
    spec: &ScanSpec,
) -> ScanOutput<CubeBackend> {
    let xp = into_contiguous(xp);
    let dims: [usize; 3] = xp.shape().dims();
    let hidden = dims[2] / spec.cell.gates();
    let d_out = w_hh.shape()[1];
    let layout = SavedLayout::new(spec.cell, hidden, d_out, w_hr.is_some());
    let run = Run::new(&xp, dims, layout, spec);
    let (h, c) = (owned(h0), c0.map(owned));
    let y = run.empty(&run.rows(d_out));
    let saved = if spec.save {
        run.empty(&run.rows(layout.width()))
    } else {
        run.empty(&[1])
    };
    // Transposed once per call, so that no step's matmul reads (or copies) a strided view.
    let w_hh_t = into_contiguous(CubeBackend::float_transpose(w_hh));
    let w_hr_t = w_hr.map(|w| into_contiguous(CubeBackend::float_transpose(w)));
    let m = w_hr_t.as_ref().map(|_| run.empty(&[run.batch, hidden]));
    let (client, elem, save) = (&run.client, run.elem(), spec.save);
    for t in order(run.time, spec.reverse) {
        let rec = into_contiguous(CubeBackend::float_matmul(h.clone(), w_hh_t.clone()));
        let (s, count, dim) = run.step(t, hidden);
        match spec.cell {
            OpCell::Lstm => {
                let c = c.as_ref().expect("LSTM has a cell state");
                forward::lstm_forward::launch(
                    client,
                    count,
                    dim,
                    arg(&xp),
                    arg(&rec),
                    arg(&run.lengths),
                    arg(c),
                    arg(m.as_ref().unwrap_or(&h)),
                    arg(&y),
                    arg(&saved),
                    s,
                    layout.m() as u32,
                    save,
                    m.is_some(),
                    elem,
                );
                if let (Some(m), Some(w)) = (&m, &w_hr_t) {
                    let hp = CubeBackend::float_matmul(m.clone(), w.clone());
                    let (s, count, dim) = run.step(t, d_out);
                    forward::commit_forward::launch(
                        client,
                        count,
                        dim,
                        arg(&hp),
                        arg(&run.lengths),
                        arg(&h),
                        arg(&y),
                        arg(&saved),
                        s,
                        layout.h_prev() as u32,
                        save,
                        elem,
                    );
                }
            }
            OpCell::Slstm => forward::slstm_forward::launch(
                client,
                count,
                dim,
                arg(&xp),
                arg(&rec),
                arg(&run.lengths),
                arg(c.as_ref().expect("sLSTM has a cell state")),
                arg(&h),
                arg(&y),
                arg(&saved),
                s,
                save,
                elem,
            ),
            OpCell::Gru => forward::gru_forward::launch(
                client,
                count,
                dim,
                arg(&xp),
                arg(&rec),
                arg(b_hn.as_ref().unwrap_or(&run.lengths)),
                arg(&run.lengths),
                arg(&h),
                arg(&y),
                arg(&saved),
                s,
                save,
                b_hn.is_some(),
                elem,
            ),
            OpCell::RnnTanh | OpCell::RnnRelu => forward::rnn_forward::launch(
                client,
                count,
                dim,
                arg(&xp),
                arg(&rec),
                arg(&run.lengths),
                arg(&h),
                arg(&y),
                arg(&saved),
                s,
                save,
                spec.cell == OpCell::RnnRelu,
                elem,
            ),
        }
    }
    (y, h, c, spec.save.then_some(saved))
}

#[allow(clippy::too_many_arguments)]
fn backward(
    saved: T,
    w_hh: T,
    w_hr: Option<T>,
    dy: T,
    dh_n: T,
    dc_n: Option<T>,
    spec: &ScanSpec,
) -> ScanGrads<CubeBackend> {
    let (saved, dy) = (into_contiguous(saved), into_contiguous(dy));
    let [gh, d_out]: [usize; 2] = w_hh.shape().dims();
    let hidden = gh / spec.cell.gates();
    let layout = SavedLayout::new(spec.cell, hidden, d_out, w_hr.is_some());
    let run = Run::new(&saved, saved.shape().dims(), layout, spec);
    let dc = dc_n.map(owned);
    let carry = run.zeros(&[run.batch, d_out]);
    let d_xp = run.empty(&run.rows(gh));
    // GRU: the gradient of `W_hh h` differs from that of `xp` in the `n` block.
    let d_rec = (spec.cell == OpCell::Gru).then(|| run.empty(&run.rows(gh)));
    let da = run.empty(&[run.batch, gh]);
    // Projected LSTM: each step's output gradient, `[B, P]` for `dm` and all rows for `dW_hr`.
    let d_proj = w_hr.as_ref().map(|_| {
        let step = run.empty(&[run.batch, d_out]);
        (step, run.empty(&run.rows(d_out)))
    });
    let (client, elem) = (&run.client, run.elem());
    let mut dh = into_contiguous(dh_n);
    for t in order(run.time, !spec.reverse) {
        let (s, count, dim) = run.step(t, hidden);
        match spec.cell {
            OpCell::Lstm => {
                let dm = match (&d_proj, &w_hr) {
                    (Some((step, all)), Some(w)) => {
                        let (s, count, dim) = run.step(t, d_out);
                        backward::commit_backward::launch(
                            client,
                            count,
                            dim,
                            arg(&dh),
                            arg(&dy),
                            arg(&run.lengths),
                            arg(&carry),
                            arg(step),
                            arg(all),
                            s,
                            elem,
                        );
                        Some(CubeBackend::float_matmul(step.clone(), w.clone()))
                    }
                    _ => None,
                };
                backward::lstm_backward::launch(
                    client,
                    count,
                    dim,
                    arg(&saved),
                    arg(&dh),
                    arg(dm.as_ref().unwrap_or(&dh)),
                    arg(&dy),
                    arg(&run.lengths),
                    arg(&carry),
                    arg(dc.as_ref().expect("LSTM has a cell-state gradient")),
                    arg(&d_xp),
                    arg(&da),
                    s,
                    dm.is_some(),
                    elem,
                );
            }
            OpCell::Slstm => backward::slstm_backward::launch(
                client,
                count,
                dim,
                arg(&saved),
                arg(&dh),
                arg(&dy),
                arg(&run.lengths),
                arg(&carry),
                arg(dc.as_ref().expect("sLSTM has a cell-state gradient")),
                arg(&d_xp),
                arg(&da),
                s,
                elem,
            ),
            OpCell::Gru => backward::gru_backward::launch(
                client,
                count,
                dim,
                arg(&saved),
                arg(&dh),
                arg(&dy),
                arg(&run.lengths),
                arg(&carry),
                arg(&d_xp),
                arg(d_rec.as_ref().expect("GRU has a d_rec buffer")),
                arg(&da),
                s,
                elem,
            ),
            OpCell::RnnTanh | OpCell::RnnRelu => backward::rnn_backward::launch(
                client,
                count,
                dim,
                arg(&saved),
                arg(&dh),
                arg(&dy),
                arg(&run.lengths),
                arg(&carry),
                arg(&d_xp),
                arg(&da),
                s,
                spec.cell == OpCell::RnnRelu,
                elem,
            ),
        }
        dh = CubeBackend::float_matmul(da.clone(), w_hh.clone());
    }
    let dh0 = CubeBackend::float_add(dh, carry);
    let d_rec = d_rec.unwrap_or_else(|| d_xp.clone());
    let d_proj = d_proj.map(|(_, all)| all);
    let (d_w_hh, d_b_hn, d_w_hr) =
        weight_grads::<CubeBackend>(saved, d_rec, d_proj, &layout, spec.has_b_hn);
    (d_xp, d_w_hh, d_b_hn, d_w_hr, dh0, dc)
}
