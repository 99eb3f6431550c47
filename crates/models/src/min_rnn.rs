//! [`MinRnn`]: minGRU and minLSTM (Feng, Tung, Ahmed, Bengio & Hajimirsadeghi 2024, "Were RNNs
//! All We Needed?", arXiv:2410.01201), stacked and optionally bidirectional, with lengths and a
//! single-step API.
//!
//! Their gates read only the input, so a layer's recurrence is the affine scan
//! `h_t = a_t ⊙ h_{t−1} + b_t` with `a` and `b` known for every step at once:
//! - minGRU: `z = σ(k)`, `h̃ = g(x_h)`, `a = 1 − z`, `b = z ⊙ h̃`;
//! - minLSTM: `f = σ(x_f)`, `i = σ(x_i)`, normalised to `f / (f + i)`, `i / (f + i)`, `h̃ = g(x_h)`,
//!   `a = f'`, `b = i' ⊙ h̃`;
//!
//! with `[k | x_h]` (minGRU) or `[x_f | x_i | x_h]` (minLSTM) one linear map of `x_t`, and
//! `g(x) = x + ½` for `x ≥ 0`, `σ(x)` below (so `h̃ > 0` and every state is positive).
//!
//! Training runs the scan in parallel over time. Pairs `(A, B)` combine as "`(A₁, B₁)` then
//! `(A₂, B₂)` = `(A₁A₂, A₂B₁ + B₂)`", in the odd-even (Ladner-Fischer) recursion: combine
//! neighbours, scan the half-length sequence, fill in the even positions. That is O(T) work in
//! ⌈log₂ T⌉ levels of tensor ops.
//!
//! It needs no logarithms, although the paper's parallel mode works in log space. The paper
//! needs them for its `cumsum`/`logcumsumexp` form; here a pairwise combine keeps every `A` in
//! `[0, 1]` and every `B` between 0 and the largest candidate. A product of forget gates that
//! underflows to 0 is the true, negligible weight of a distant step. The log-space version
//! computed the same values within 1e-5 and was about 1.5× slower per training step
//! (BENCHMARKS.md).
//!
//! [`MinRnn::step`] runs the sequential form for generation. Tests hold both forms against
//! PyTorch running the paper's log-space code and against a plain per-element loop in f64.

use burn::config::Config;
use burn::module::Module;
use burn::nn::{Dropout, DropoutConfig, Initializer, Linear, LinearConfig};
use burn::prelude::Device;
use burn::serde::{Deserialize, Serialize};
use burn::tensor::activation::sigmoid;
use burn::tensor::{Int, Tensor, TensorData};

use crate::error::ConfigError;
use crate::regularise::{self, DropoutKind};

#[cfg(test)]
mod tests;

/// Which of the two cells.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(crate = "burn::serde", rename_all = "lowercase")]
pub enum MinCell {
    /// minGRU: one update gate.
    MinGru,
    /// minLSTM: forget and input gates, normalised to sum to one.
    MinLstm,
}

impl MinCell {
    /// Linear outputs per hidden unit: the gates and the candidate.
    fn width(self) -> usize {
        match self {
            MinCell::MinGru => 2,
            MinCell::MinLstm => 3,
        }
    }
}

/// Configuration of a [`MinRnn`].
#[derive(Config, Debug)]
pub struct MinRnnConfig {
    /// minGRU or minLSTM.
    pub cell: MinCell,
    /// Size of each input step.
    pub d_input: usize,
    /// Hidden size `H` (the state and each direction's output).
    pub d_hidden: usize,
    /// Number of stacked layers.
    #[config(default = 1)]
    pub n_layers: usize,
    /// `[B, T, ·]` input and output when true, `[T, B, ·]` when false.
    #[config(default = true)]
    pub batch_first: bool,
    /// Dropout on the outputs of every layer but the last, in training only.
    #[config(default = 0.0)]
    pub dropout: f64,
    /// How `dropout` draws its masks: per element and step, or one per sequence.
    #[config(default = "DropoutKind::Standard")]
    pub dropout_kind: DropoutKind,
    /// Adds a time-reversed direction per layer.
    #[config(default = false)]
    pub bidirectional: bool,
    /// Whether each map has a bias.
    #[config(default = true)]
    pub bias: bool,
}

/// What a [`MinRnn`] is, besides its weights.
#[derive(Clone, Debug)]
struct MinMeta {
    cell: MinCell,
    d_hidden: usize,
    n_layers: usize,
    directions: usize,
    batch_first: bool,
    dropout_kind: DropoutKind,
}

/// A stack of minGRU or minLSTM layers (see the module docs).
#[derive(Module, Debug)]
pub struct MinRnn {
    /// Each layer-direction's map `x_t → [gates | candidate]`, indexed `layer · D + direction`.
    pub maps: Vec<Linear>,
    /// Dropout between layers.
    pub dropout: Dropout,
    #[module(skip)]
    meta: MinMeta,
}

impl MinRnnConfig {
    /// Builds the stack, or names the invalid key. Weights are drawn like PyTorch's
    /// `nn.Linear` (uniform in `±1/√fan_in`).
    pub fn try_init(&self, device: &Device) -> Result<MinRnn, ConfigError> {
        let err = |key, message: &str| {
            Err(ConfigError {
                key,
                message: message.to_string(),
            })
        };
        for (key, value) in [
            ("d_input", self.d_input),
            ("d_hidden", self.d_hidden),
            ("n_layers", self.n_layers),
        ] {
            if value == 0 {
                return err(key, "must be at least 1");
            }
        }
        if !(0.0..1.0).contains(&self.dropout) {
            return err("dropout", "must be in [0, 1)");
        }
        let directions = if self.bidirectional { 2 } else { 1 };
        let mut maps = Vec::with_capacity(self.n_layers * directions);
        for layer in 0..self.n_layers {
            let d_in = if layer == 0 {
                self.d_input
            } else {
                directions * self.d_hidden
            };
            let bound = 1.0 / (d_in as f64).sqrt();
            let uniform = Initializer::Uniform {
                min: -bound,
                max: bound,
            };
            for _ in 0..directions {
                maps.push(
                    LinearConfig::new(d_in, self.cell.width() * self.d_hidden)
                        .with_bias(self.bias)
                        .with_initializer(uniform.clone())
                        .init(device),
                );
            }
        }
        Ok(MinRnn {
            maps,
            dropout: DropoutConfig::new(self.dropout).init(),
            meta: MinMeta {
                cell: self.cell,
                d_hidden: self.d_hidden,
                n_layers: self.n_layers,
                directions,
                batch_first: self.batch_first,
                dropout_kind: self.dropout_kind,
            },
        })
    }

    /// Builds the stack; panics on an invalid config (see [`try_init`](Self::try_init)).
    pub fn init(&self, device: &Device) -> MinRnn {
        self.try_init(device)
            .unwrap_or_else(|e| panic!("invalid MinRnnConfig: {e}"))
    }
}

/// `g(x)`: `x + ½` for `x ≥ 0`, `σ(x)` below.
fn g<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    let positive = x.clone().greater_equal_elem(0.0);
    sigmoid(x.clone()).mask_where(positive, x + 0.5)
}

/// The inclusive scan along time (dim 1) of the pairs `(A, B)` `[B, T, H]` under "`x` then
/// `y`": `(A_x A_y, A_y B_x + B_y)`, in linear space (what training runs; see the module docs
/// for why it needs no logarithms). Odd-even recursion: O(T) work, ⌈log₂ T⌉ levels.
fn linear_scan(a: Tensor<3>, b_: Tensor<3>) -> (Tensor<3>, Tensor<3>) {
    let [b, t, h] = a.dims();
    if t == 1 {
        return (a, b_);
    }
    let device = a.device();
    // An odd length gets one identity pair (A = 1, B = 0) at the end.
    let (a, b_) = if t % 2 == 1 {
        (
            Tensor::cat(vec![a, Tensor::ones([b, 1, h], &device)], 1),
            Tensor::cat(vec![b_, Tensor::zeros([b, 1, h], &device)], 1),
        )
    } else {
        (a, b_)
    };
    let half = t.div_ceil(2);
    let pairs = |x: Tensor<3>| x.reshape([b, half, 2, h]);
    let part = |x: Tensor<4>, i: usize| x.narrow(2, i, 1).reshape([b, half, h]);
    let (a4, b4) = (pairs(a), pairs(b_));
    let (even_a, odd_a) = (part(a4.clone(), 0), part(a4, 1));
    let (even_b, odd_b) = (part(b4.clone(), 0), part(b4, 1));
    // Each odd position combined with the even one before it, then scanned: the prefix up to
    // every odd position.
    let (odd_a, odd_b) = linear_scan(
        even_a.clone() * odd_a.clone(),
        even_b.clone() * odd_a + odd_b,
    );
    // Each even position: the prefix up to the odd position before it, then itself.
    let before = |x: Tensor<3>, identity: f32| {
        let first = Tensor::full([b, 1, h], identity, &device);
        match half {
            1 => first,
            _ => Tensor::cat(vec![first, x.narrow(1, 0, half - 1)], 1),
        }
    };
    let (prev_a, prev_b) = (before(odd_a.clone(), 1.0), before(odd_b.clone(), 0.0));
    let fill_a = prev_a * even_a.clone();
    let fill_b = prev_b * even_a + even_b;
    let interleave = |even: Tensor<3>, odd: Tensor<3>| {
        Tensor::stack::<4>(vec![even, odd], 2)
            .reshape([b, 2 * half, h])
            .narrow(1, 0, t)
    };
    (interleave(fill_a, odd_a), interleave(fill_b, odd_b))
}

/// Per row, the index of step `t` in the row's first `length` steps reversed (steps past the
/// length stay where they are): `[B, T, F]`, for `gather` along time.
fn reversal(lengths: &[usize], time: usize, features: usize, device: &Device) -> Tensor<3, Int> {
    let index: Vec<i64> = lengths
        .iter()
        .flat_map(|&len| (0..time).map(move |t| if t < len { len - 1 - t } else { t } as i64))
        .collect();
    Tensor::<3, Int>::from_data(TensorData::new(index, [lengths.len(), time, 1]), device)
        .repeat_dim(2, features)
}

impl MinRnn {
    /// The cell.
    pub fn cell(&self) -> MinCell {
        self.meta.cell
    }

    /// `(log a, log b)` `[B, T, H]` of the affine recurrence from one map's output
    /// `[B, T, G·H]`.
    fn coefficients(&self, projected: Tensor<3>) -> (Tensor<3>, Tensor<3>) {
        let h = self.meta.d_hidden;
        let piece = |i: usize| projected.clone().narrow(2, i * h, h);
        match self.meta.cell {
            MinCell::MinGru => {
                let (k, candidate) = (piece(0), piece(1));
                // 1 − σ(k) = σ(−k), without cancellation.
                (sigmoid(k.clone().neg()), sigmoid(k) * g(candidate))
            }
            MinCell::MinLstm => {
                let (f, i, candidate) = (sigmoid(piece(0)), sigmoid(piece(1)), piece(2));
                let sum = f.clone() + i.clone();
                (f / sum.clone(), i / sum * g(candidate))
            }
        }
    }

    /// One layer-direction over `x` `[B, T, F]` (time already reversed for a backward
    /// direction) from the state `h0` `[B, H]`: all states `[B, T, H]`; steps past a row's
    /// length keep its state.
    fn scan(
        &self,
        index: usize,
        x: Tensor<3>,
        h0: Tensor<2>,
        valid: Option<&Tensor<3, burn::tensor::Bool>>,
    ) -> Tensor<3> {
        let (mut a, mut b_) = self.coefficients(self.maps[index].forward(x));
        if let Some(valid) = valid {
            // Past a row's length: A = 1, B = 0, the state carries.
            let past = valid.clone().bool_not();
            a = a.mask_fill(past.clone(), 1.0);
            b_ = b_.mask_fill(past, 0.0);
        }
        let [b, _, h] = a.dims();
        let device = a.device();
        // The initial state is the first pair: (A = 1, B = h0).
        let a = Tensor::cat(vec![Tensor::ones([b, 1, h], &device), a], 1);
        let b_ = Tensor::cat(vec![h0.reshape([b, 1, h]), b_], 1);
        let (_, states) = linear_scan(a, b_);
        let t = states.dims()[1] - 1;
        states.narrow(1, 1, t)
    }

    /// Runs the whole sequence.
    ///
    /// - `input`: `[B, T, d_input]` (`[T, B, d_input]` when not batch-first).
    /// - `hidden`: initial state `[L·D, B, H]`; zeros when `None` (every state the cells produce
    ///   from a positive start stays positive).
    ///
    /// Returns outputs `[B, T, D·H]` (`[T, B, ·]` when not batch-first) and the final state
    /// `[L·D, B, H]`.
    pub fn forward(&self, input: Tensor<3>, hidden: Option<Tensor<3>>) -> (Tensor<3>, Tensor<3>) {
        self.run(input, None, hidden)
    }

    /// [`forward`](Self::forward) for padded sequences of the given `lengths` (each in
    /// `1..=T`): steps past a row's length leave its state alone and output zeros; a backward
    /// direction reads each row's own steps in reverse.
    pub fn forward_with_lengths(
        &self,
        input: Tensor<3>,
        lengths: &[usize],
        hidden: Option<Tensor<3>>,
    ) -> (Tensor<3>, Tensor<3>) {
        self.run(input, Some(lengths), hidden)
    }

    fn run(
        &self,
        input: Tensor<3>,
        lengths: Option<&[usize]>,
        hidden: Option<Tensor<3>>,
    ) -> (Tensor<3>, Tensor<3>) {
        let m = &self.meta;
        let mut x = if m.batch_first {
            input
        } else {
            input.swap_dims(0, 1)
        };
        let [b, t, _] = x.dims();
        let device = x.device();
        if let Some(lengths) = lengths {
            assert_eq!(lengths.len(), b, "one length per batch row");
            assert!(
                lengths.iter().all(|&l| (1..=t).contains(&l)),
                "lengths must be in 1..={t}: {lengths:?}"
            );
        }
        let h0 = hidden
            .unwrap_or_else(|| Tensor::zeros([m.n_layers * m.directions, b, m.d_hidden], &device));
        // `[B, T, 1]`: whether step t is within row b's length (None: all are).
        let valid = lengths.map(|lengths| {
            let mask: Vec<bool> = lengths
                .iter()
                .flat_map(|&len| (0..t).map(move |s| s < len))
                .collect();
            Tensor::<3, burn::tensor::Bool>::from_data(TensorData::new(mask, [b, t, 1]), &device)
        });
        let valid_h = valid.as_ref().map(|v| v.clone().repeat_dim(2, m.d_hidden));
        let mut finals = Vec::with_capacity(m.n_layers * m.directions);
        for layer in 0..m.n_layers {
            if layer > 0 {
                // `[B, T, ·]` here.
                let training = regularise::training(&self.dropout, &device);
                x = regularise::dropout(x, self.dropout.prob, m.dropout_kind, 1, training);
            }
            let mut outputs = Vec::with_capacity(m.directions);
            for direction in 0..m.directions {
                let index = layer * m.directions + direction;
                let state = h0.clone().narrow(0, index, 1).reshape([b, m.d_hidden]);
                let features = x.dims()[2];
                let reverse = |x: Tensor<3>, f: usize| match lengths {
                    Some(l) => x.gather(1, reversal(l, t, f, &device)),
                    None => x.flip([1]),
                };
                let seq = if direction == 1 {
                    reverse(x.clone(), features)
                } else {
                    x.clone()
                };
                let states = self.scan(index, seq, state, valid_h.as_ref());
                // States past a row's length carry its last one: the final state is at T − 1.
                finals.push(
                    states
                        .clone()
                        .narrow(1, t - 1, 1)
                        .reshape([1, b, m.d_hidden]),
                );
                let states = if direction == 1 {
                    reverse(states, m.d_hidden)
                } else {
                    states
                };
                outputs.push(match &valid_h {
                    Some(v) => states.mask_fill(v.clone().bool_not(), 0.0),
                    None => states,
                });
            }
            x = Tensor::cat(outputs, 2);
        }
        let out = if m.batch_first { x } else { x.swap_dims(0, 1) };
        (out, Tensor::cat(finals, 0))
    }

    /// The sequential form over a whole sequence, keeping every step of every layer and
    /// direction for a trace ([`crate::trace`]): `(output, h_n, traces)`, with `input`,
    /// `lengths` and `hidden` as in [`forward_with_lengths`](Self::forward_with_lengths). A
    /// reverse direction walks from the last step back, keeping its initial state until each
    /// row's own last step (as the classic cells' loop does).
    pub(crate) fn trace(
        &self,
        input: Tensor<3>,
        lengths: Option<&[usize]>,
        hidden: Option<Tensor<3>>,
    ) -> (Tensor<3>, Tensor<3>, Vec<crate::trace::LayerTrace>) {
        let m = &self.meta;
        let mut x = if m.batch_first {
            input
        } else {
            input.swap_dims(0, 1)
        };
        let [b, t, _] = x.dims();
        let device = x.device();
        let lens = lengths.map_or_else(|| vec![t; b], <[usize]>::to_vec);
        assert_eq!(lens.len(), b, "one length per batch row");
        assert!(
            lens.iter().all(|&l| (1..=t).contains(&l)),
            "lengths must be in 1..={t}: {lens:?}"
        );
        let h0 = hidden
            .unwrap_or_else(|| Tensor::zeros([m.n_layers * m.directions, b, m.d_hidden], &device));
        // `[B, 1]` per step: 1 where the step is within the row's length.
        let valid: Vec<Tensor<2>> = (0..t)
            .map(|s| {
                let v: Vec<f32> = lens.iter().map(|&l| f32::from(u8::from(s < l))).collect();
                Tensor::from_data(TensorData::new(v, [b, 1]), &device)
            })
            .collect();
        let (mut finals, mut traces) = (Vec::new(), Vec::new());
        for layer in 0..m.n_layers {
            if layer > 0 {
                let training = regularise::training(&self.dropout, &device);
                x = regularise::dropout(x, self.dropout.prob, m.dropout_kind, 1, training);
            }
            let mut outputs = Vec::with_capacity(m.directions);
            for direction in 0..m.directions {
                let index = layer * m.directions + direction;
                let (a, b_) = self.coefficients(self.maps[index].forward(x.clone()));
                let gate = match m.cell {
                    MinCell::MinGru => ("z", a.clone().neg() + 1.0),
                    MinCell::MinLstm => ("f", a.clone()),
                };
                let mut h = h0.clone().narrow(0, index, 1).reshape([b, m.d_hidden]);
                let mut outs = vec![None; t];
                let mut probes = vec![None; t];
                let order: Vec<usize> = if direction == 1 {
                    (0..t).rev().collect()
                } else {
                    (0..t).collect()
                };
                for s in order {
                    let at = |v: &Tensor<3>| v.clone().narrow(1, s, 1).reshape([b, m.d_hidden]);
                    let mut new = at(&a) * h.clone() + at(&b_);
                    if device.is_autodiff() {
                        let probe = Tensor::<2>::zeros([m.d_hidden, b], &device).require_grad();
                        new = new + probe.clone().transpose();
                        probes[s] = Some(probe);
                    }
                    h = h.clone() + (new.clone() - h) * valid[s].clone();
                    outs[s] = Some(new * valid[s].clone());
                }
                finals.push(h.reshape([1, b, m.d_hidden]));
                let states = Tensor::stack::<3>(outs.into_iter().flatten().collect(), 1);
                traces.push(crate::trace::LayerTrace {
                    layer,
                    direction,
                    hidden: states.clone(),
                    cell: None,
                    gates: vec![gate],
                    probes: probes.into_iter().flatten().collect(),
                });
                outputs.push(states);
            }
            x = Tensor::cat(outputs, 2);
        }
        let out = if m.batch_first { x } else { x.swap_dims(0, 1) };
        (out, Tensor::cat(finals, 0), traces)
    }

    /// One timestep of a unidirectional stack, in the sequential form: `input` `[B, d_input]`
    /// → output `[B, H]` and the new state `[L, B, H]`.
    ///
    /// # Panics
    /// On a bidirectional stack (it has no single next step).
    pub fn step(&self, input: Tensor<2>, hidden: Option<Tensor<3>>) -> (Tensor<2>, Tensor<3>) {
        let m = &self.meta;
        assert_eq!(m.directions, 1, "a bidirectional stack has no single step");
        let [b, _] = input.dims();
        let device = input.device();
        let h0 = hidden.unwrap_or_else(|| Tensor::zeros([m.n_layers, b, m.d_hidden], &device));
        let mut x = input;
        let mut states = Vec::with_capacity(m.n_layers);
        for layer in 0..m.n_layers {
            if layer > 0 {
                x = self.dropout.forward(x);
            }
            let h = h0.clone().narrow(0, layer, 1).reshape([b, m.d_hidden]);
            let p = self.maps[layer].forward(x);
            let piece = |i: usize| p.clone().narrow(1, i * m.d_hidden, m.d_hidden);
            let next = match m.cell {
                MinCell::MinGru => {
                    let z = sigmoid(piece(0));
                    (z.clone().neg() + 1.0) * h + z * g(piece(1))
                }
                MinCell::MinLstm => {
                    let (f, i) = (sigmoid(piece(0)), sigmoid(piece(1)));
                    let sum = f.clone() + i.clone();
                    f / sum.clone() * h + i / sum * g(piece(2))
                }
            };
            states.push(next.clone().reshape([1, b, m.d_hidden]));
            x = next;
        }
        (x, Tensor::cat(states, 0))
    }
}
