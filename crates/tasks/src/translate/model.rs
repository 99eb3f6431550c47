//! [`Seq2Seq`]: a (bi)recurrent encoder over source embeddings, a bridge from its final states
//! to the decoder's initial ones, and a decoder that runs one step at a time through
//! [`Recurrent::step`] with optional attention over the encoder outputs (Bahdanau or Luong) and
//! input feeding (Luong et al. 2015): the attentional vector `tanh(W_c [h; context])` predicts
//! the next token and, fed back, is part of the next input.

use burn::Tensor;
use burn::config::Config;
use burn::module::Module;
use burn::nn::loss::CrossEntropyLossConfig;
use burn::nn::{Dropout, DropoutConfig, Embedding, EmbeddingConfig, Linear, LinearConfig};
use burn::prelude::Device;
use burn::tensor::module::embedding;
use burn::tensor::{Bool, Distribution, Int, TensorData};
use burn::train::ClassificationOutput;
use rnnlab_models::{
    ConfigError, Recurrent, RecurrentConfig, RecurrentState, Score, SeqAttention,
    SeqAttentionConfig, regularise,
};

use crate::training::Objective;
use rnnlab_data::translation::{PAD, PairBatch};

/// Configuration of a [`Seq2Seq`].
#[derive(Config, Debug)]
pub struct Seq2SeqConfig {
    /// Source ids.
    pub source_vocab: usize,
    /// Target ids.
    pub target_vocab: usize,
    /// The encoder stack (`d_input` is the embedding width); its layer count, cell and
    /// hidden size are the decoder's too.
    pub encoder: RecurrentConfig,
    /// The attention's score; `None` = no attention.
    pub attention: Option<Score>,
    /// Feed the previous attentional vector into the next decoder step.
    #[config(default = true)]
    pub input_feeding: bool,
    /// Dropout on embeddings and before the output layer (training only).
    #[config(default = 0.0)]
    pub dropout: f64,
    /// Embedding dropout: whole tokens dropped from the embedding matrix, one mask per batch
    /// (training only; see [`rnnlab_models::regularise`]).
    #[config(default = 0.0)]
    pub embed_dropout: f64,
    /// Chance that a training step's decoder input is the reference token.
    #[config(default = 1.0)]
    pub teacher_forcing: f64,
    /// Label smoothing of the loss.
    #[config(default = 0.0)]
    pub label_smoothing: f64,
}

impl Seq2SeqConfig {
    /// Builds the model, or names the invalid key.
    pub fn try_init(&self, device: &Device) -> Result<Seq2Seq, ConfigError> {
        let e = &self.encoder;
        if e.proj_size > 0 {
            return Err(ConfigError {
                key: "proj_size",
                message: "the translator has no projected LSTM".into(),
            });
        }
        let encoder = e.try_init(device)?;
        let (h, d_memory, layers) = (e.d_hidden, encoder.d_output(), e.n_layers);
        let d_input = e.d_input + if self.input_feeding { h } else { 0 };
        // The decoder shares the encoder's between-layer dropout, weight drop (one mask per
        // batch: `forward` draws it), zoneout and normalisation; its input and output have the
        // model's own dropout (it runs step by step: a mask per step).
        let decoder = RecurrentConfig::new(e.cell, d_input, h)
            .with_n_layers(layers)
            .with_dropout(e.dropout)
            .with_weight_drop(e.weight_drop)
            .with_zoneout(e.zoneout)
            .with_norm(e.norm)
            .with_heads(e.heads)
            .try_init(device)?;
        let attention = match self.attention {
            Some(score) => Some(SeqAttentionConfig::new(h, h, score).try_init(device)?),
            None => None,
        };
        let lstm = encoder.cell() == rnnlab_models::CellType::Lstm;
        Ok(Seq2Seq {
            source_embed: EmbeddingConfig::new(self.source_vocab, e.d_input).init(device),
            target_embed: EmbeddingConfig::new(self.target_vocab, e.d_input).init(device),
            encoder,
            bridge: LinearConfig::new(d_memory, h).init(device),
            bridge_cell: lstm.then(|| LinearConfig::new(d_memory, h).init(device)),
            memory: (d_memory != h).then(|| LinearConfig::new(d_memory, h).init(device)),
            decoder,
            attention,
            combine: LinearConfig::new(if self.attention.is_some() { 2 * h } else { h }, h)
                .init(device),
            output: LinearConfig::new(h, self.target_vocab).init(device),
            dropout: DropoutConfig::new(self.dropout).init(),
            input_feeding: self.input_feeding,
            d_hidden: h,
            directions: if e.bidirectional { 2 } else { 1 },
            teacher_forcing: self.teacher_forcing,
            label_smoothing: self.label_smoothing,
            embed_dropout: self.embed_dropout,
        })
    }
}

/// An encoder–decoder translator.
#[derive(Module, Debug)]
pub struct Seq2Seq {
    /// Source token embedding.
    pub source_embed: Embedding,
    /// Target token embedding.
    pub target_embed: Embedding,
    /// The encoder (batch-first, with lengths).
    pub encoder: Recurrent,
    /// Final encoder state (directions concatenated) → initial decoder state, per layer.
    pub bridge: Linear,
    /// The same for the LSTM cell state.
    pub bridge_cell: Option<Linear>,
    /// Encoder outputs → attention memory of the decoder's width (when they differ).
    pub memory: Option<Linear>,
    /// The decoder (unidirectional, one step at a time).
    pub decoder: Recurrent,
    /// Attention over the memory.
    pub attention: Option<SeqAttention>,
    /// `W_c`: `[h; context]` (or `h`) → the attentional vector.
    pub combine: Linear,
    /// Attentional vector → target logits.
    pub output: Linear,
    /// Dropout on embeddings and attentional vectors.
    pub dropout: Dropout,
    /// Input feeding.
    #[module(skip)]
    pub input_feeding: bool,
    /// Decoder width `H`.
    #[module(skip)]
    pub d_hidden: usize,
    /// Encoder directions.
    #[module(skip)]
    pub directions: usize,
    /// Teacher-forcing ratio (training).
    #[module(skip)]
    pub teacher_forcing: f64,
    /// Label smoothing (training and validation loss).
    #[module(skip)]
    pub label_smoothing: f64,
    /// Embedding dropout's probability (see the config).
    #[module(skip)]
    pub embed_dropout: f64,
}

/// The encoded source batch the decoder attends to.
#[derive(Clone, Debug)]
pub struct Memory {
    /// `[B, S, H]` attention values.
    pub values: Tensor<3>,
    /// `[B, S, ·]` the values prepared as keys.
    pub keys: Tensor<3>,
    /// `[B, S]`, true on real source positions.
    pub mask: Tensor<2, Bool>,
}

impl Memory {
    /// The rows `rows` (e.g. each sentence repeated once per beam).
    pub fn select(&self, rows: Tensor<1, Int>) -> Memory {
        Memory {
            values: self.values.clone().select(0, rows.clone()),
            keys: self.keys.clone().select(0, rows.clone()),
            mask: self.mask.clone().select(0, rows),
        }
    }
}

/// What one decoder step produces.
#[derive(Clone, Debug)]
pub struct Stepped {
    /// `[B, H]` attentional vector (the next step's feed).
    pub attentional: Tensor<2>,
    /// `[B, S]` attention weights (with attention).
    pub weights: Option<Tensor<2>>,
    /// The decoder state after the step.
    pub state: RecurrentState,
}

impl Seq2Seq {
    /// `source` `[B, S]` with each row's `lengths` (1..=S) → the memory and the decoder's
    /// initial state `[L, B, H]`.
    pub fn encode(&self, source: Tensor<2, Int>, lengths: &[usize]) -> (Memory, RecurrentState) {
        let x = self.source_input(source);
        let (out, state) = self.encoder.forward_with_lengths(x, lengths, None);
        self.memory_of(out, state, lengths)
    }

    /// What the encoder reads of `source` `[B, S]`: the embeddings `[B, S, E]` (dropout in
    /// training).
    pub fn source_input(&self, source: Tensor<2, Int>) -> Tensor<3> {
        let device = source.device();
        let source_w = self.dropped(&self.source_embed, &device);
        self.dropout.forward(embedding(source_w, source))
    }

    /// The memory and the decoder's initial state from the encoder's output `out` `[B, S, ·]`
    /// and final `state` over [`source_input`](Self::source_input).
    pub fn memory_of(
        &self,
        out: Tensor<3>,
        state: RecurrentState,
        lengths: &[usize],
    ) -> (Memory, RecurrentState) {
        let [b, s, _] = out.dims();
        let device = out.device();
        let values = match &self.memory {
            Some(m) => m.forward(out),
            None => out,
        };
        let keys = match &self.attention {
            Some(a) => a.prepare(values.clone()),
            None => values.clone(),
        };
        let mask: Vec<bool> = lengths
            .iter()
            .flat_map(|&l| (0..s).map(move |j| j < l))
            .collect();
        let mask = Tensor::<2, Bool>::from_data(TensorData::new(mask, [b, s]), &device);
        let bridge = |t: Tensor<3>, linear: &Linear| {
            // [L·D, B, H] → [L, B, D·H] → [L, B, H].
            let [ld, b, h] = t.dims();
            let (l, d) = (ld / self.directions, self.directions);
            let t = t
                .reshape([l, d, b, h])
                .swap_dims(1, 2)
                .reshape([l, b, d * h]);
            linear.forward(t).tanh()
        };
        let hidden = bridge(state.hidden, &self.bridge);
        let cell = match (state.cell, &self.bridge_cell) {
            (Some(c), Some(linear)) => Some(bridge(c, linear)),
            _ => None,
        };
        (
            Memory { values, keys, mask },
            RecurrentState { hidden, cell },
        )
    }

    /// The embedding matrix of `table` with embedding dropout (one mask per call, in training).
    fn dropped(&self, table: &Embedding, device: &Device) -> Tensor<2> {
        let training = self.encoder.training(device);
        regularise::embedding_dropout(table.weight.val(), self.embed_dropout, training)
    }

    /// `tokens` `[B]` → their embeddings `[B, E]` (dropout in training).
    pub fn embed(&self, tokens: Tensor<1, Int>) -> Tensor<2> {
        let [b] = tokens.dims();
        let e = self.target_embed.forward(tokens.reshape([b, 1]));
        let d = e.dims()[2];
        self.dropout.forward(e.reshape([b, d]))
    }

    /// One decoder step: `input` `[B, E]` embeddings of the previous tokens, `feed` `[B, H]`
    /// the previous attentional vector (zeros at the first step), `state` the decoder state.
    pub fn step(
        &self,
        memory: &Memory,
        input: Tensor<2>,
        feed: Tensor<2>,
        state: RecurrentState,
    ) -> Stepped {
        self.step_on(&self.decoder, memory, input, feed, state)
    }

    /// [`step`](Self::step) through `decoder` (the model's, or a copy with its weight-drop
    /// masks drawn for the batch).
    fn step_on(
        &self,
        decoder: &Recurrent,
        memory: &Memory,
        input: Tensor<2>,
        feed: Tensor<2>,
        state: RecurrentState,
    ) -> Stepped {
        let x = if self.input_feeding {
            Tensor::cat(vec![input, feed], 1)
        } else {
            input
        };
        let (h, state) = decoder.step(x, Some(state));
        let (combined, weights) = match &self.attention {
            Some(a) => {
                let (context, w) = a.forward(
                    h.clone(),
                    memory.keys.clone(),
                    memory.values.clone(),
                    memory.mask.clone(),
                );
                (Tensor::cat(vec![h, context], 1), Some(w))
            }
            None => (h, None),
        };
        Stepped {
            attentional: self.combine.forward(combined).tanh(),
            weights,
            state,
        }
    }

    /// Attentional vectors `[..., H]` → target logits `[..., V]`.
    pub fn logits<const D: usize>(&self, attentional: Tensor<D>) -> Tensor<D> {
        self.output.forward(self.dropout.forward(attentional))
    }

    /// The zero feed of a first step: `[B, H]`.
    pub fn first_feed(&self, batch: usize, device: &Device) -> Tensor<2> {
        Tensor::zeros([batch, self.d_hidden], device)
    }

    /// Teacher-forced decoding of a batch → logits `[B, T, V]`. With `teacher_forcing < 1`
    /// each sentence's input at each step is, with that chance, the reference token, else the
    /// model's own prediction of the previous step.
    pub fn forward(&self, batch: &PairBatch) -> Tensor<3> {
        let [b, t] = batch.inputs.dims();
        let device = batch.inputs.device();
        let (memory, mut state) = self.encode(batch.source.clone(), &batch.lengths);
        // One weight-drop mask per batch for the decoder's steps.
        let decoder = self.decoder.with_weight_drop_drawn(&device);
        let mut feed = self.first_feed(b, &device);
        // One embedding-dropout mask for the batch, for the reference tokens and the model's own.
        let target_w = self.dropped(&self.target_embed, &device);
        let gold = self
            .dropout
            .forward(embedding(target_w.clone(), batch.inputs.clone()));
        let e = gold.dims()[2];
        let sampled = self.teacher_forcing < 1.0;
        let mut outputs = Vec::with_capacity(t);
        for step in 0..t {
            let mut input = gold.clone().narrow(1, step, 1).reshape([b, e]);
            if sampled && step > 0 {
                let previous = self
                    .output
                    .forward(feed.clone().detach())
                    .argmax(1)
                    .reshape([b]);
                let own = embedding(target_w.clone(), previous.reshape([b, 1])).reshape([b, e]);
                let own = self.dropout.forward(own);
                let keep = Tensor::<2>::random([b, 1], Distribution::Uniform(0.0, 1.0), &device)
                    .lower_elem(self.teacher_forcing);
                input = own.mask_where(keep.expand([b, e]), input);
            }
            let out = self.step_on(&decoder, &memory, input, feed, state);
            state = out.state;
            feed = out.attentional.clone();
            outputs.push(out.attentional);
        }
        self.logits(Tensor::stack(outputs, 1))
    }

    /// The mean cross-entropy per real target token (label-smoothed), with the logits.
    pub fn forward_loss(&self, batch: PairBatch) -> ClassificationOutput {
        let logits = self.forward(&batch);
        let [b, t, v] = logits.dims();
        let logits = logits.reshape([b * t, v]);
        let targets = batch.targets.reshape([b * t]);
        let smoothing = (self.label_smoothing > 0.0).then_some(self.label_smoothing as f32);
        let loss = CrossEntropyLossConfig::new()
            .with_pad_tokens(Some(vec![PAD as usize]))
            .with_smoothing(smoothing)
            .init(&logits.device())
            .forward(logits.clone(), targets.clone());
        ClassificationOutput::new(loss, logits, targets)
    }
}

impl Objective for Seq2Seq {
    type Batch = PairBatch;
    type Output = ClassificationOutput;

    fn objective(&self, batch: PairBatch) -> ClassificationOutput {
        self.forward_loss(batch)
    }

    fn loss(output: &ClassificationOutput) -> Tensor<1> {
        output.loss.clone()
    }
}
