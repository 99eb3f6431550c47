//! Attention of a decoder state over encoder outputs (Bahdanau et al. 2015; Luong et al. 2015),
//! with a padding mask: the scoring functions of sequence-to-sequence translation.

use burn::Tensor;
use burn::config::Config;
use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::prelude::Device;
use burn::serde::{Deserialize, Serialize};
use burn::tensor::Bool;
use burn::tensor::activation::softmax;

/// How a query scores each key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(crate = "burn::serde", rename_all = "lowercase")]
pub enum Score {
    /// Bahdanau: `vᵀ tanh(W_q q + W_k k)`.
    Additive,
    /// Luong `dot`: `qᵀ k` (query and keys of one width).
    Dot,
    /// Luong `general`: `qᵀ W k`.
    General,
}

/// Configuration of [`SeqAttention`].
#[derive(Config, Debug)]
pub struct SeqAttentionConfig {
    /// Width of the query (the decoder state).
    pub d_query: usize,
    /// Width of each key (an encoder output).
    pub d_key: usize,
    /// The scoring function.
    pub score: Score,
    /// Width of the additive score's hidden layer (0 = `d_query`).
    #[config(default = 0)]
    pub d_attention: usize,
}

impl SeqAttentionConfig {
    /// The module, or the reason the widths do not fit the score.
    pub fn try_init(&self, device: &Device) -> Result<SeqAttention, crate::ConfigError> {
        if self.score == Score::Dot && self.d_query != self.d_key {
            return Err(crate::ConfigError {
                key: "score",
                message: format!(
                    "dot attention needs the query ({}) and keys ({}) of one width",
                    self.d_query, self.d_key
                ),
            });
        }
        let d_att = if self.d_attention == 0 {
            self.d_query
        } else {
            self.d_attention
        };
        let (query, key, v) = match self.score {
            Score::Additive => (
                Some(
                    LinearConfig::new(self.d_query, d_att)
                        .with_bias(false)
                        .init(device),
                ),
                Some(LinearConfig::new(self.d_key, d_att).init(device)),
                Some(LinearConfig::new(d_att, 1).with_bias(false).init(device)),
            ),
            Score::General => (
                None,
                Some(
                    LinearConfig::new(self.d_key, self.d_query)
                        .with_bias(false)
                        .init(device),
                ),
                None,
            ),
            Score::Dot => (None, None, None),
        };
        Ok(SeqAttention {
            query,
            key,
            v,
            score: self.score,
        })
    }
}

/// Scores a query against masked keys and returns the weighted sum of the values.
#[derive(Module, Debug)]
pub struct SeqAttention {
    /// `W_q` (additive).
    pub query: Option<Linear>,
    /// `W_k` (additive) or `W` (general).
    pub key: Option<Linear>,
    /// `v` (additive).
    pub v: Option<Linear>,
    /// The scoring function.
    #[module(skip)]
    pub score: Score,
}

impl SeqAttention {
    /// The keys prepared once per source batch (`keys` `[B, S, d_key]` → `[B, S, ·]`): the
    /// key projection of additive and general attention, the keys themselves for dot.
    pub fn prepare(&self, keys: Tensor<3>) -> Tensor<3> {
        match &self.key {
            Some(k) => k.forward(keys),
            None => keys,
        }
    }

    /// `query` `[B, d_query]` against `prepared` keys (from [`prepare`](Self::prepare)),
    /// `values` `[B, S, d_value]` (usually the unprepared keys) and `mask` `[B, S]` (true on
    /// real source positions) → context `[B, d_value]` and weights `[B, S]` (zero on padding,
    /// each row summing to 1).
    pub fn forward(
        &self,
        query: Tensor<2>,
        prepared: Tensor<3>,
        values: Tensor<3>,
        mask: Tensor<2, Bool>,
    ) -> (Tensor<2>, Tensor<2>) {
        let [b, s, _] = prepared.dims();
        let scores = match (&self.query, &self.v) {
            (Some(q), Some(v)) => {
                let q = q.forward(query);
                let d = q.dims()[1];
                let hidden = (prepared + q.reshape([b, 1, d])).tanh();
                v.forward(hidden).reshape([b, s])
            }
            _ => {
                let d = query.dims()[1];
                prepared.matmul(query.reshape([b, d, 1])).reshape([b, s])
            }
        };
        let weights = softmax(scores.mask_fill(mask.bool_not(), -1.0e9), 1);
        let [_, _, dv] = values.dims();
        let context = weights
            .clone()
            .reshape([b, 1, s])
            .matmul(values)
            .reshape([b, dv]);
        (context, weights)
    }
}

#[cfg(test)]
mod tests {
    use burn::tensor::{Distribution, TensorData};

    use super::*;

    fn floats<const D: usize>(t: Tensor<D>) -> Vec<f32> {
        t.into_data().try_to_vec::<f32>().unwrap()
    }

    #[test]
    fn weights_are_a_distribution_over_the_real_positions_for_every_score() {
        let device = Device::flex();
        let (b, s, d) = (3, 5, 4);
        let keys = Tensor::<3>::random([b, s, d], Distribution::Normal(0.0, 1.0), &device);
        let query = Tensor::<2>::random([b, d], Distribution::Normal(0.0, 1.0), &device);
        let lengths = [5usize, 2, 1];
        let mask: Vec<bool> = lengths
            .iter()
            .flat_map(|&l| (0..s).map(move |j| j < l))
            .collect();
        let mask = Tensor::<2, Bool>::from_data(TensorData::new(mask, [b, s]), &device);
        for score in [Score::Additive, Score::Dot, Score::General] {
            let att = SeqAttentionConfig::new(d, d, score)
                .try_init(&device)
                .unwrap();
            let prepared = att.prepare(keys.clone());
            let (context, w) = att.forward(query.clone(), prepared, keys.clone(), mask.clone());
            assert_eq!(context.dims(), [b, d]);
            let w = floats(w);
            for (row, &len) in lengths.iter().enumerate() {
                let r = &w[row * s..(row + 1) * s];
                assert!((r.iter().sum::<f32>() - 1.0).abs() < 1e-5, "{score:?}");
                assert!(
                    r[len..].iter().all(|&x| x == 0.0),
                    "{score:?}: weight on padding"
                );
            }
            // One real position: its value is the context.
            let c = floats(context);
            let k = floats(keys.clone());
            for j in 0..d {
                assert!((c[2 * d + j] - k[2 * s * d + j]).abs() < 1e-5);
            }
        }
    }

    #[test]
    fn dot_scores_are_the_inner_products() {
        let device = Device::flex();
        let keys = Tensor::<3>::from_data(
            TensorData::new(vec![1.0f32, 0.0, 0.0, 1.0], [1, 2, 2]),
            &device,
        );
        let query = Tensor::<2>::from_data(TensorData::new(vec![2.0f32, 0.0], [1, 2]), &device);
        let mask = Tensor::<2, Bool>::from_data(TensorData::new(vec![true, true], [1, 2]), &device);
        let att = SeqAttentionConfig::new(2, 2, Score::Dot)
            .try_init(&device)
            .unwrap();
        let (_, w) = att.forward(query, att.prepare(keys.clone()), keys, mask);
        let w = floats(w);
        let e2 = 2f32.exp();
        assert!((w[0] - e2 / (e2 + 1.0)).abs() < 1e-6);
        let err = SeqAttentionConfig::new(2, 3, Score::Dot)
            .try_init(&device)
            .unwrap_err();
        assert!(err.to_string().contains("one width"), "{err}");
    }
}
