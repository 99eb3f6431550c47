//! [`CharLm`]: embedding → recurrent stack → linear head over the vocabulary.

use burn::Tensor;
use burn::config::Config;
use burn::module::Module;
use burn::nn::loss::CrossEntropyLossConfig;
use burn::nn::{Embedding, EmbeddingConfig, Linear, LinearConfig};
use burn::prelude::Device;
use burn::tensor::Int;
use burn::tensor::module::embedding;
use burn::train::SequenceOutput;
use rnnlab_data::lm::LmBatch;
use rnnlab_models::{ConfigError, Recurrent, RecurrentConfig, RecurrentState, regularise};

use crate::training::Objective;

/// Configuration of a [`CharLm`].
#[derive(Config, Debug)]
pub struct CharLmConfig {
    /// Number of token ids.
    pub vocab_size: usize,
    /// The recurrent stack; its `d_input` is the embedding size and it must be unidirectional
    /// (generation steps one token at a time).
    pub rnn: RecurrentConfig,
    /// Embedding dropout: whole tokens dropped from the embedding matrix, one mask per batch
    /// (training only; see [`rnnlab_models::regularise`]).
    #[config(default = 0.0)]
    pub embed_dropout: f64,
}

impl CharLmConfig {
    /// Builds the model, or names the invalid key.
    pub fn try_init(&self, device: &Device) -> Result<CharLm, ConfigError> {
        if self.vocab_size == 0 {
            return Err(ConfigError {
                key: "vocab_size",
                message: "must be at least 1".into(),
            });
        }
        if self.rnn.bidirectional {
            return Err(ConfigError {
                key: "bidirectional",
                message: "must be false for a language model (generation runs one step at a time)"
                    .into(),
            });
        }
        if !(0.0..1.0).contains(&self.embed_dropout) {
            return Err(ConfigError {
                key: "embed_dropout",
                message: format!("{}: must be in [0, 1)", self.embed_dropout),
            });
        }
        let rnn = self.rnn.try_init(device)?;
        Ok(CharLm {
            embed_dropout: self.embed_dropout,
            embedding: EmbeddingConfig::new(self.vocab_size, self.rnn.d_input).init(device),
            head: LinearConfig::new(rnn.d_output(), self.vocab_size).init(device),
            rnn,
        })
    }
}

/// A recurrent language model.
#[derive(Module, Debug)]
pub struct CharLm {
    /// Token embedding `[V, d_input]`.
    pub embedding: Embedding,
    /// The recurrent stack (batch-first).
    pub rnn: Recurrent,
    /// Output projection to the vocabulary.
    pub head: Linear,
    /// Embedding dropout's probability (see the config).
    #[module(skip)]
    pub embed_dropout: f64,
}

impl CharLm {
    /// `tokens` `[B, T]` → logits `[B, T, V]` and the final state (carry it for truncated BPTT,
    /// detached).
    pub fn forward(
        &self,
        tokens: Tensor<2, Int>,
        state: Option<RecurrentState>,
    ) -> (Tensor<3>, RecurrentState) {
        let device = tokens.device();
        let weight = regularise::embedding_dropout(
            self.embedding.weight.val(),
            self.embed_dropout,
            self.rnn.training(&device),
        );
        let (hidden, state) = self.rnn.forward(embedding(weight, tokens), state);
        (self.head.forward(hidden), state)
    }

    /// One token per sequence: `tokens` `[B]` → next-token logits `[B, V]`, using the stack's
    /// single-step API (no re-run of the prefix).
    pub fn next_logits(
        &self,
        tokens: Tensor<1, Int>,
        state: Option<RecurrentState>,
    ) -> (Tensor<2>, RecurrentState) {
        let x = self
            .embedding
            .forward(tokens.unsqueeze_dim(1))
            .squeeze_dim::<2>(1);
        let (hidden, state) = self.rnn.step(x, state);
        (self.head.forward(hidden), state)
    }

    /// Mean cross-entropy (nats per token) of next-token prediction on `batch`.
    pub fn forward_loss(&self, batch: LmBatch) -> SequenceOutput {
        self.forward_loss_from(batch, None).0
    }

    /// [`forward_loss`](Self::forward_loss) from `state`; also returns the final state.
    pub fn forward_loss_from(
        &self,
        batch: LmBatch,
        state: Option<RecurrentState>,
    ) -> (SequenceOutput, RecurrentState) {
        let (logits, state) = self.forward(batch.input, state);
        let [b, t, v] = logits.dims();
        let loss = CrossEntropyLossConfig::new()
            .init(&logits.device())
            .forward(
                logits.clone().reshape([b * t, v]),
                batch.target.clone().reshape([b * t]),
            );
        let output = SequenceOutput {
            loss,
            logits,
            predictions: None,
            targets: batch.target,
        };
        (output, state)
    }
}

impl Objective for CharLm {
    type Batch = LmBatch;
    type Output = SequenceOutput;

    fn objective(&self, batch: LmBatch) -> SequenceOutput {
        self.forward_loss(batch)
    }

    /// Truncated BPTT: continues from the previous batch's state when it has as many rows.
    fn objective_from(
        &self,
        batch: LmBatch,
        state: Option<RecurrentState>,
    ) -> (SequenceOutput, Option<RecurrentState>) {
        let rows = batch.input.dims()[0];
        let state = state.filter(|s| s.hidden.dims()[1] == rows);
        let (output, state) = self.forward_loss_from(batch, state);
        (output, Some(state))
    }

    fn loss(output: &SequenceOutput) -> Tensor<1> {
        output.loss.clone()
    }
}

#[cfg(test)]
mod tests {
    use burn::data::dataloader::batcher::Batcher;
    use burn::optim::AdamConfig;
    use rnnlab_data::lm::{ContiguousBatches, LmBatcher, LmItem};
    use rnnlab_models::CellType;

    use super::*;
    use crate::charlm::{Sampler, SamplingConfig};
    use crate::training::{Policy, Step};
    use burn::train::{InferenceStep, TrainStep};

    #[test]
    fn learns_a_periodic_text_and_generates_it_step_by_step() {
        let device = Device::flex().autodiff();
        device.seed(0);
        // "abcd" repeated: ids 0..4.
        let tokens: Vec<u32> = (0..400).map(|i| (i % 4) as u32).collect();
        let config = CharLmConfig::new(4, RecurrentConfig::new(CellType::Lstm, 8, 16));
        let mut model = Step::new(config.try_init(&device).unwrap(), Policy::new(0.0, true));
        let mut optim = AdamConfig::new().init();
        let batches = ContiguousBatches::new(tokens, 4, 20).unwrap();
        let mut first_loss = None;
        let mut last_loss = 0.0;
        for _ in 0..15 {
            for batch in batches.iter(&device) {
                let out = TrainStep::step(&model, batch);
                let loss = out.item.loss.clone().into_scalar::<f32>();
                first_loss.get_or_insert(loss);
                last_loss = loss;
                model = model.optimize(&mut optim, 0.02.into(), out.grads);
            }
        }
        assert!(
            first_loss.unwrap() > 1.2,
            "starts near ln 4: {first_loss:?}"
        );
        assert!(last_loss < 0.05, "learnt the period: {last_loss}");
        // Validation step on the inference model.
        let valid = model.model.valid();
        let item = LmItem {
            input: vec![0, 1, 2, 3],
            target: vec![1, 2, 3, 0],
        };
        let out = InferenceStep::step(
            &Step::new(valid.clone(), Policy::default()),
            LmBatcher.batch(vec![item], &Device::flex()),
        );
        assert!(out.loss.into_scalar::<f32>() < 0.1);
        // Generation through the single-step API continues the pattern.
        let sampler = Sampler::new(SamplingConfig {
            temperature: 0.5,
            top_k: 0,
            top_p: 1.0,
            seed: 1,
        });
        let generated = sampler.generate(&valid, &[0, 1], 10, &Device::flex());
        assert_eq!(generated, vec![2, 3, 0, 1, 2, 3, 0, 1, 2, 3]);
    }

    #[test]
    fn invalid_model_configs_name_the_key() {
        let device = Device::flex();
        let bi = CharLmConfig::new(
            4,
            RecurrentConfig::new(CellType::Gru, 8, 16).with_bidirectional(true),
        );
        assert_eq!(bi.try_init(&device).unwrap_err().key, "bidirectional");
        let zero = CharLmConfig::new(4, RecurrentConfig::new(CellType::Gru, 8, 0));
        assert_eq!(zero.try_init(&device).unwrap_err().key, "d_hidden");
    }
}
