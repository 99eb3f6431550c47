//! Speed of rnnlab's recurrent layers against burn-nn's built-in ones, measured in the same run.
//!
//! ```text
//! cargo bench --workspace --bench recurrent
//! RNNLAB_BENCH_DEVICE=wgpu cargo bench --workspace --bench recurrent   # on a GPU
//! RNNLAB_BENCH_ROUNDS=5 RNNLAB_BENCH_FILTER=charlm cargo bench ...        # more rounds, one shape
//! RNNLAB_BENCH_ONLY=ours ...          # ours alone, one JSON line per shape (benches/pytorch_compare.py)
//! RNNLAB_BENCH_ONLY=generate ...      # batched generation alone (RNNLAB_BENCH_GEN_STEPS, default 1000)
//! RNNLAB_BENCH_PROFILE=1 ...          # only our training steps, for `perf record` (=fwd: forwards)
//! ```
//!
//! A forward is timed up to the sum of its output as a scalar, as the PyTorch comparison's worker
//! does (`inf(x)[0].sum().item()`).
//!
//! For every shape it times a forward pass (inference device) and a training step (forward,
//! mean loss, backward on the autodiff device) of both implementations, interleaved round by
//! round, and prints the median of each with the speed-up ours/burn-nn as a Markdown table.
//! burn-nn's layers are single-layer, so two-layer stacks are built by hand from two of them.
//! burn-nn has no sLSTM: its column for the sLSTM shapes is the same stack on burn's tensor ops
//! (rnnlab's tensor-op time loop), what a burn user would write without the op.

use std::time::{Duration, Instant};

use burn::Tensor;
use burn::nn::{
    BiLstm, BiLstmConfig, Embedding, EmbeddingConfig, Gru as NnGru, GruConfig as NnGruConfig,
    Linear, LinearConfig, Lstm as NnLstm, LstmConfig as NnLstmConfig,
};
use burn::prelude::Device;
use burn::tensor::{DeviceKind, Distribution};
use rnnlab_models::{CellType, Recurrent, RecurrentConfig};

/// One benchmark shape.
struct Shape {
    name: &'static str,
    cell: CellType,
    d_input: usize,
    d_hidden: usize,
    n_layers: usize,
    bidirectional: bool,
    time: usize,
    batch: usize,
}

const SHAPES: &[Shape] = &[
    Shape {
        name: "charlm LSTM 2x256 in64 T100 B32",
        cell: CellType::Lstm,
        d_input: 64,
        d_hidden: 256,
        n_layers: 2,
        bidirectional: false,
        time: 100,
        batch: 32,
    },
    Shape {
        name: "sentiment LSTM 128 in128 T200 B64",
        cell: CellType::Lstm,
        d_input: 128,
        d_hidden: 128,
        n_layers: 1,
        bidirectional: false,
        time: 200,
        batch: 64,
    },
    Shape {
        name: "sentiment BiLSTM 128 in128 T200 B64",
        cell: CellType::Lstm,
        d_input: 128,
        d_hidden: 128,
        n_layers: 1,
        bidirectional: true,
        time: 200,
        batch: 64,
    },
    Shape {
        name: "forecast GRU 64 in8 T48 B128",
        cell: CellType::Gru,
        d_input: 8,
        d_hidden: 64,
        n_layers: 1,
        bidirectional: false,
        time: 48,
        batch: 128,
    },
    Shape {
        name: "bigger LSTM 512 in512 T50 B64",
        cell: CellType::Lstm,
        d_input: 512,
        d_hidden: 512,
        n_layers: 1,
        bidirectional: false,
        time: 50,
        batch: 64,
    },
    Shape {
        name: "charlm sLSTM 2x256 in64 T100 B32",
        cell: CellType::Slstm,
        d_input: 64,
        d_hidden: 256,
        n_layers: 2,
        bidirectional: false,
        time: 100,
        batch: 32,
    },
    Shape {
        name: "sentiment sLSTM 128 in128 T200 B64",
        cell: CellType::Slstm,
        d_input: 128,
        d_hidden: 128,
        n_layers: 1,
        bidirectional: false,
        time: 200,
        batch: 64,
    },
];

/// burn-nn's equivalent of a shape.
#[allow(clippy::large_enum_variant)] // one per shape, built once
enum Baseline {
    Lstm(Vec<NnLstm>),
    BiLstm(BiLstm),
    Gru(Vec<NnGru>),
    /// The sLSTM on burn's tensor ops.
    TensorOps(Recurrent),
}

impl Baseline {
    fn new(s: &Shape, device: &Device) -> Self {
        let d_in = |layer: usize| if layer == 0 { s.d_input } else { s.d_hidden };
        match (s.cell, s.bidirectional) {
            (CellType::Lstm, true) => {
                Baseline::BiLstm(BiLstmConfig::new(s.d_input, s.d_hidden, true).init(device))
            }
            (CellType::Lstm, false) => Baseline::Lstm(
                (0..s.n_layers)
                    .map(|l| NnLstmConfig::new(d_in(l), s.d_hidden, true).init(device))
                    .collect(),
            ),
            (CellType::Gru, false) => Baseline::Gru(
                (0..s.n_layers)
                    .map(|l| NnGruConfig::new(d_in(l), s.d_hidden, true).init(device))
                    .collect(),
            ),
            (CellType::Slstm, _) => Baseline::TensorOps(ours(s, device).with_tensor_op_loop()),
            _ => unreachable!("no such benchmark shape"),
        }
    }

    fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        match self {
            Baseline::Lstm(layers) => layers.iter().fold(x, |x, l| l.forward(x, None).0),
            Baseline::BiLstm(l) => l.forward(x, None).0,
            Baseline::Gru(layers) => layers.iter().fold(x, |x, l| l.forward(x, None)),
            Baseline::TensorOps(stack) => stack.forward(x, None).0,
        }
    }
}

fn ours(s: &Shape, device: &Device) -> Recurrent {
    RecurrentConfig::new(s.cell, s.d_input, s.d_hidden)
        .with_n_layers(s.n_layers)
        .with_bidirectional(s.bidirectional)
        .init(device)
}

/// Wall time of `f`, after waiting for the device to finish.
fn time(device: &Device, f: impl FnOnce()) -> Duration {
    device.sync().unwrap();
    let start = Instant::now();
    f();
    device.sync().unwrap();
    start.elapsed()
}

fn median(mut v: Vec<Duration>) -> f64 {
    v.sort();
    v[v.len() / 2].as_secs_f64() * 1e3
}

/// Batched generation through the single-step API: a char LM of the default experiment's size
/// (embedding 64, 2×LSTM 256, 65 symbols) samples greedily for `steps` steps at batch 256.
/// Returns characters per second.
fn generation(device: &Device, steps: usize) -> f64 {
    let (vocab, batch) = (65, 256);
    device.seed(0);
    let embed: Embedding = EmbeddingConfig::new(vocab, 64).init(device);
    let stack = RecurrentConfig::new(CellType::Lstm, 64, 256)
        .with_n_layers(2)
        .init(device);
    let head: Linear = LinearConfig::new(256, vocab).init(device);
    let run = |steps: usize| {
        let mut tokens = Tensor::<2, burn::tensor::Int>::zeros([batch, 1], device);
        let mut state = None;
        for _ in 0..steps {
            let x = embed.forward(tokens).squeeze_dim::<2>(1);
            let (h, s) = stack.step(x, state);
            state = Some(s);
            tokens = head.forward(h).argmax(1);
        }
        tokens.into_data();
    };
    run(5);
    let elapsed = time(device, || run(steps));
    (batch * steps) as f64 / elapsed.as_secs_f64()
}

/// The allocator the `rnnlab` binary uses (BENCHMARKS.md "Allocator").
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let device_name = std::env::var("RNNLAB_BENCH_DEVICE").unwrap_or_else(|_| "flex".into());
    let device = match device_name.as_str() {
        "flex" => Device::flex(),
        "wgpu" => Device::wgpu(DeviceKind::DefaultDevice),
        other => panic!("RNNLAB_BENCH_DEVICE={other}: expected flex or wgpu"),
    };
    let rounds: usize = std::env::var("RNNLAB_BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    let filter = std::env::var("RNNLAB_BENCH_FILTER").unwrap_or_default();
    let profile = std::env::var("RNNLAB_BENCH_PROFILE").unwrap_or_default();
    let profile_only = profile == "1";
    let profile_fwd = profile == "fwd";
    let train_device = device.clone().autodiff();
    let only = std::env::var("RNNLAB_BENCH_ONLY").unwrap_or_default();
    // The op kernels' instruction-set path (`RNNLAB_CPU_ISA` forces a lower one).
    let isa = match rnnlab_models::op::cpu_isa() {
        Ok(isa) => isa,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
    };
    if only == "generate" {
        let steps = std::env::var("RNNLAB_BENCH_GEN_STEPS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(1000);
        println!(
            "{{\"generate_chars_per_s\": {:.0}, \"steps\": {steps}, \"isa\": \"{isa}\"}}",
            generation(&device, steps)
        );
        return;
    }
    if only == "ours" {
        for s in SHAPES.iter().filter(|s| s.name.contains(&filter)) {
            device.seed(0);
            let (inf, ad) = (ours(s, &device), ours(s, &train_device));
            let x = Tensor::<3>::random(
                [s.batch, s.time, s.d_input],
                Distribution::Uniform(-1.0, 1.0),
                &device,
            );
            let x_ad = x.clone().to_device(&train_device);
            let fwd = || {
                // As PyTorch's worker does: `inf(x)[0].sum().item()`.
                inf.forward(x.clone(), None).0.sum().into_scalar::<f32>();
            };
            let train = || {
                let _ = ad.forward(x_ad.clone(), None).0.mean().backward();
            };
            fwd();
            train();
            let (mut f, mut t) = (Vec::new(), Vec::new());
            for _ in 0..rounds {
                f.push(time(&device, fwd));
                t.push(time(&train_device, train));
            }
            println!(
                "{{\"shape\": \"{}\", \"fwd_ms\": {:.3}, \"train_ms\": {:.3}, \"isa\": \"{isa}\"}}",
                s.name,
                median(f),
                median(t)
            );
        }
        return;
    }
    println!("device: {device_name}, CPU path {isa}, {rounds} interleaved rounds, medians in ms\n");
    println!(
        "| shape | ours fwd | burn-nn fwd | fwd speed-up | ours train | burn-nn train | train speed-up |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|");
    for s in SHAPES.iter().filter(|s| s.name.contains(&filter)) {
        device.seed(0);
        let (ours_inf, base_inf) = (ours(s, &device), Baseline::new(s, &device));
        let (ours_ad, base_ad) = (ours(s, &train_device), Baseline::new(s, &train_device));
        let x = Tensor::<3>::random(
            [s.batch, s.time, s.d_input],
            Distribution::Uniform(-1.0, 1.0),
            &device,
        );
        let x_ad = x.clone().to_device(&train_device);
        let fwd_ours = || {
            ours_inf
                .forward(x.clone(), None)
                .0
                .sum()
                .into_scalar::<f32>();
        };
        let fwd_base = || {
            base_inf.forward(x.clone()).sum().into_scalar::<f32>();
        };
        let train_ours = || {
            let _ = ours_ad.forward(x_ad.clone(), None).0.mean().backward();
        };
        let train_base = || {
            let _ = base_ad.forward(x_ad.clone()).mean().backward();
        };
        // Warm-up (GPU kernels compile on first use).
        fwd_ours();
        train_ours();
        if !profile_only && !profile_fwd {
            fwd_base();
            train_base();
        }
        let mut t = [Vec::new(), Vec::new(), Vec::new(), Vec::new()];
        if profile_fwd {
            // RNNLAB_BENCH_PROFILE=fwd: only our forward, for `perf record`.
            for _ in 0..rounds {
                fwd_ours();
            }
            continue;
        }
        if profile_only {
            // RNNLAB_BENCH_PROFILE=1: only our training step, for `perf record`.
            for _ in 0..rounds {
                train_ours();
            }
            continue;
        }
        for _ in 0..rounds {
            t[0].push(time(&device, fwd_ours));
            t[1].push(time(&device, fwd_base));
            t[2].push(time(&train_device, train_ours));
            t[3].push(time(&train_device, train_base));
        }
        let [a, b, c, d] = t.map(median);
        println!(
            "| {} | {a:.1} | {b:.1} | {:.2}x | {c:.1} | {d:.1} | {:.2}x |",
            s.name,
            b / a,
            d / c
        );
    }
    if filter.is_empty() || "generate".contains(&filter) {
        let steps = 1000;
        println!(
            "\nbatched generation (char LM 2×LSTM256, batch 256, {steps} greedy steps): {:.0} chars/s",
            generation(&device, steps)
        );
    }
}
