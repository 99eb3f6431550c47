//! A training step (forward, mean loss, backward) of minGRU and minLSTM, whose recurrence is the
//! parallel log-space scan (O(T) work in O(log T) levels of tensor ops), against the LSTM and GRU
//! whole-layer op (T dependent steps), at T ∈ {128, 512, 2048}, same hidden size, measured
//! interleaved in one run.
//!
//! ```text
//! cargo bench --workspace --bench min_rnn
//! RNNLAB_BENCH_ROUNDS=5 RNNLAB_BENCH_TIMES=128,512 cargo bench --workspace --bench min_rnn
//! ```
//!
//! Prints one Markdown row per sequence length: the median training step of each layer in ms
//! and the min cells' speed-up over the LSTM and the GRU. The op's backend runs as it is
//! configured (`RNNLAB_CPU_ISA` forces a lower path).

use std::time::Instant;

use burn::Tensor;
use burn::prelude::Device;
use burn::tensor::Distribution;
use rnnlab_models::{CellType, MinCell, MinRnn, MinRnnConfig, Recurrent, RecurrentConfig};

/// A layer under test: one of ours.
enum Layer {
    Op(Box<Recurrent>),
    Min(MinRnn),
}

impl Layer {
    fn train_step(&self, x: Tensor<3>) {
        let out = match self {
            Layer::Op(r) => r.forward(x, None).0,
            Layer::Min(m) => m.forward(x, None).0,
        };
        let _grads = out.mean().backward();
    }
}

fn main() {
    let rounds: usize = std::env::var("RNNLAB_BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    let times: Vec<usize> = std::env::var("RNNLAB_BENCH_TIMES")
        .ok()
        .map(|v| v.split(',').filter_map(|t| t.parse().ok()).collect())
        .unwrap_or_else(|| vec![128, 512, 2048]);
    let (batch, d_input, d_hidden) = (16, 64, 256);
    let device = Device::flex().autodiff();
    device.seed(0);
    let isa = rnnlab_models::op::cpu_isa().map_or("?".to_string(), |i| i.to_string());
    let layers = [
        (
            "LSTM (op)",
            Layer::Op(Box::new(
                RecurrentConfig::new(CellType::Lstm, d_input, d_hidden).init(&device),
            )),
        ),
        (
            "GRU (op)",
            Layer::Op(Box::new(
                RecurrentConfig::new(CellType::Gru, d_input, d_hidden).init(&device),
            )),
        ),
        (
            "minGRU (scan)",
            Layer::Min(MinRnnConfig::new(MinCell::MinGru, d_input, d_hidden).init(&device)),
        ),
        (
            "minLSTM (scan)",
            Layer::Min(MinRnnConfig::new(MinCell::MinLstm, d_input, d_hidden).init(&device)),
        ),
    ];
    println!(
        "training step, B = {batch}, d_input = {d_input}, H = {d_hidden}, one layer, flex ({isa}), \
         median of {rounds} interleaved rounds"
    );
    print!("| T |");
    for (name, _) in &layers {
        print!(" {name} ms |");
    }
    println!(" minGRU vs LSTM | minGRU vs GRU | minLSTM vs LSTM |");
    println!("|---:|{}---:|---:|---:|", "---:|".repeat(layers.len()));
    for &t in &times {
        let x = Tensor::<3>::random([batch, t, d_input], Distribution::Default, &device);
        // One untimed step each (packing, allocation), then interleaved rounds.
        for (_, layer) in &layers {
            layer.train_step(x.clone());
        }
        let mut ms = vec![Vec::new(); layers.len()];
        for _ in 0..rounds {
            for (i, (_, layer)) in layers.iter().enumerate() {
                let start = Instant::now();
                layer.train_step(x.clone());
                ms[i].push(start.elapsed().as_secs_f64() * 1e3);
            }
        }
        let median: Vec<f64> = ms
            .into_iter()
            .map(|mut v| {
                v.sort_by(f64::total_cmp);
                v[v.len() / 2]
            })
            .collect();
        print!("| {t} |");
        for m in &median {
            print!(" {m:.1} |");
        }
        println!(
            " {:.2}x | {:.2}x | {:.2}x |",
            median[0] / median[2],
            median[1] / median[2],
            median[0] / median[3]
        );
    }
}
