//! The recurrent family's options from the public API: a small character language model whose
//! LSTM has layer-normalised cells, variational dropout, weight drop and zoneout, with
//! embedding dropout on its input, trained for a few steps and then sampled one step at a time.
//!
//! ```text
//! cargo build --release --workspace --examples && target/release/examples/regularised_lm
//! ```

use burn::Tensor;
use burn::module::Module;
use burn::nn::loss::CrossEntropyLossConfig;
use burn::nn::{Embedding, EmbeddingConfig, Linear, LinearConfig};
use burn::optim::{AdamConfig, GradientsParams};
use burn::prelude::Device;
use burn::tensor::module::embedding;
use burn::tensor::{Int, TensorData};
use rnnlab_models::{
    CellType, DropoutKind, Recurrent, RecurrentConfig, RecurrentNorm, RecurrentState, regularise,
};

/// Embedding → regularised LSTM stack → linear head.
#[derive(Module, Debug)]
struct Lm {
    embedding: Embedding,
    rnn: Recurrent,
    head: Linear,
}

impl Lm {
    /// `tokens` `[B, T]` → logits `[B, T, V]`.
    fn forward(&self, tokens: Tensor<2, Int>) -> Tensor<3> {
        // The stack says whether its regularisers act (training flag and autodiff device); the
        // embedding dropout follows it.
        let training = self.rnn.training(&tokens.device());
        let weight = regularise::embedding_dropout(self.embedding.weight.val(), 0.1, training);
        let (h, _) = self.rnn.forward(embedding(weight, tokens), None);
        self.head.forward(h)
    }

    /// One token `[1]` → the next token, carrying the state.
    fn next(&self, token: i64, state: Option<RecurrentState>) -> (i64, RecurrentState) {
        let device = self.embedding.weight.device();
        let tokens = Tensor::<2, Int>::from_data(TensorData::new(vec![token], [1, 1]), &device);
        let x = self.embedding.forward(tokens).squeeze_dim::<2>(1);
        let (h, state) = self.rnn.step(x, state);
        let next = self.head.forward(h).argmax(1).into_data();
        (next.iter::<i64>().next().expect("one token"), state)
    }
}

fn main() {
    let text = "to be, or not to be, that is the question. ".repeat(30);
    let mut vocab: Vec<char> = text.chars().collect();
    vocab.sort_unstable();
    vocab.dedup();
    let ids: Vec<i64> = text
        .chars()
        .map(|c| {
            vocab
                .iter()
                .position(|&v| v == c)
                .expect("in the vocabulary") as i64
        })
        .collect();

    let device = Device::flex().autodiff();
    device.seed(0);
    let rnn = RecurrentConfig::new(CellType::Lstm, 16, 64)
        .with_n_layers(2)
        .with_norm(RecurrentNorm::Layer)
        .with_dropout_kind(DropoutKind::Variational)
        .with_input_dropout(0.1)
        .with_dropout(0.2)
        .with_output_dropout(0.2)
        .with_weight_drop(0.3)
        .with_zoneout(0.05)
        .init(&device);
    let mut model = Lm {
        embedding: EmbeddingConfig::new(vocab.len(), 16).init(&device),
        rnn,
        head: LinearConfig::new(64, vocab.len()).init(&device),
    };
    let mut optim = AdamConfig::new().init();
    let (batch, seq) = (8, 32);
    for step in 0..80 {
        let starts: Vec<usize> = (0..batch)
            .map(|b| (step * 37 + b * 101) % (ids.len() - seq - 1))
            .collect();
        let window = |shift: usize| -> Vec<i64> {
            starts
                .iter()
                .flat_map(|&s| ids[s + shift..s + shift + seq].to_vec())
                .collect()
        };
        let input = Tensor::<2, Int>::from_data(TensorData::new(window(0), [batch, seq]), &device);
        let target =
            Tensor::<1, Int>::from_data(TensorData::new(window(1), [batch * seq]), &device);
        let logits = model.forward(input).reshape([batch * seq, vocab.len()]);
        let loss = CrossEntropyLossConfig::new()
            .init(&device)
            .forward(logits, target);
        if step % 10 == 0 {
            println!(
                "step {step:2}  loss {:.3}",
                loss.clone().into_scalar::<f32>()
            );
        }
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = optim.step(3e-3, model, grads);
    }
    // `valid()`: the inference model, every regulariser off (zoneout mixes by its expectation).
    let model = model.valid();
    let (mut token, mut state) = (ids[0], None);
    let mut sample = String::from(vocab[token as usize]);
    for _ in 0..60 {
        let (next, s) = model.next(token, state);
        sample.push(vocab[next as usize]);
        (token, state) = (next, Some(s));
    }
    println!("greedy sample: {sample}");
}
