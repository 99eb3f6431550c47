//! The sLSTM (xLSTM's scalar-memory LSTM) from the public API: a two-layer stack with head-wise
//! recurrence learns to repeat its input from a few steps back, then runs one step at a time,
//! carrying its `[c | n | m]` state, and gives what the whole-sequence forward gave.
//!
//! ```text
//! cargo build --release --workspace --examples && target/release/examples/slstm
//! ```

use burn::Tensor;
use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::optim::{AdamConfig, GradientsParams};
use burn::prelude::Device;
use burn::tensor::Distribution;
use rnnlab_models::{CellType, Recurrent, RecurrentConfig};

/// How many steps back the target is.
const DELAY: usize = 3;

/// sLSTM stack → linear read-out.
#[derive(Module, Debug)]
struct Delay {
    rnn: Recurrent,
    head: Linear,
}

impl Delay {
    /// `x` `[B, T, 1]` → predictions `[B, T, 1]`.
    fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        self.head.forward(self.rnn.forward(x, None).0)
    }
}

fn main() {
    let device = Device::flex().autodiff();
    device.seed(0);
    let (batch, time, hidden) = (16, 24, 32);
    // Four heads: each unit reads only its own head's previous state (block-diagonal `W_hh`).
    let rnn = RecurrentConfig::new(CellType::Slstm, 1, hidden)
        .with_n_layers(2)
        .with_heads(4)
        .with_forget_bias(Some(1.0))
        .init(&device);
    let mut model = Delay {
        rnn,
        head: LinearConfig::new(hidden, 1).init(&device),
    };
    let mut optim = AdamConfig::new().init();
    for step in 0..300 {
        let x = Tensor::<3>::random([batch, time, 1], Distribution::Uniform(-1.0, 1.0), &device);
        // The target at step t is the input at t − DELAY (0 before the start).
        let target = Tensor::cat(
            vec![
                Tensor::zeros([batch, DELAY, 1], &device),
                x.clone().narrow(1, 0, time - DELAY),
            ],
            1,
        );
        let loss = (model.forward(x) - target).powi_scalar(2).mean();
        if step % 50 == 0 || step == 299 {
            println!(
                "step {step:3}  mean squared error {:.4}",
                loss.clone().into_scalar::<f32>()
            );
        }
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = optim.step(3e-3, model, grads);
    }
    println!("(predicting 0 scores 0.33; remembering the input 3 steps back scores near 0)");

    // One step at a time, as a generator would run it: the same outputs as the whole sequence.
    let model = model.valid();
    let plain = model.head.weight.device();
    let x = Tensor::<3>::random([1, time, 1], Distribution::Uniform(-1.0, 1.0), &plain);
    let (whole, final_state) = model.rnn.forward(x.clone(), None);
    let mut state = None;
    let mut worst = 0.0f32;
    for t in 0..time {
        let (h, s) = model
            .rnn
            .step(x.clone().narrow(1, t, 1).squeeze_dim(1), state);
        let diff = (h - whole.clone().narrow(1, t, 1).squeeze_dim(1))
            .abs()
            .max()
            .into_scalar::<f32>();
        worst = worst.max(diff);
        state = Some(s);
    }
    let cell = final_state.cell.expect("the sLSTM carries a cell state");
    println!(
        "step by step against the whole sequence: worst difference {worst:.1e}; \
         state: h {:?}, [c | n | m] {:?}",
        final_state.hidden.dims(),
        cell.dims()
    );
}
