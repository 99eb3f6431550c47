//! Sampling from a [`CharLm`]: temperature, top-k, top-p, a prime text and a seed.

use burn::Tensor;
use burn::prelude::Device;
use burn::tensor::{Int, TensorData};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use serde::{Deserialize, Serialize};

use super::CharLm;

/// How the next token is drawn.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SamplingConfig {
    /// Divides the logits; `0` means greedy (always the most likely token).
    pub temperature: f64,
    /// Keep only the `k` most likely tokens (`0` = all).
    pub top_k: usize,
    /// Keep the smallest set of most likely tokens whose probability reaches `p` (`1` = all).
    pub top_p: f64,
    /// Seed of the random draws (the same seed gives the same text).
    pub seed: u64,
}

/// Draws tokens from next-token logits.
#[derive(Debug)]
pub struct Sampler {
    config: SamplingConfig,
    rng: std::cell::RefCell<StdRng>,
}

impl Sampler {
    /// A sampler seeded with `config.seed`.
    pub fn new(config: SamplingConfig) -> Self {
        let rng = std::cell::RefCell::new(StdRng::seed_from_u64(config.seed));
        Self { config, rng }
    }

    /// The index drawn from `logits` (one row).
    pub fn draw(&self, logits: &[f32]) -> usize {
        let argmax = || {
            logits
                .iter()
                .enumerate()
                .max_by(|a, b| a.1.total_cmp(b.1))
                .map_or(0, |(i, _)| i)
        };
        if self.config.temperature <= 0.0 {
            return argmax();
        }
        let mut order: Vec<usize> = (0..logits.len()).collect();
        order.sort_by(|&a, &b| logits[b].total_cmp(&logits[a]));
        if self.config.top_k > 0 {
            order.truncate(self.config.top_k);
        }
        let max = logits[order[0]] as f64;
        let mut probs: Vec<f64> = order
            .iter()
            .map(|&i| ((logits[i] as f64 - max) / self.config.temperature).exp())
            .collect();
        let total: f64 = probs.iter().sum();
        probs.iter_mut().for_each(|p| *p /= total);
        if self.config.top_p < 1.0 {
            let mut cumulative = 0.0;
            let keep = probs.iter().take_while(|&&p| {
                let inside = cumulative < self.config.top_p;
                cumulative += p;
                inside
            });
            let keep = keep.count().max(1);
            order.truncate(keep);
            probs.truncate(keep);
        }
        let total: f64 = probs.iter().sum();
        let mut u = self.rng.borrow_mut().random::<f64>() * total;
        for (i, p) in order.iter().zip(&probs) {
            if u < *p {
                return *i;
            }
            u -= p;
        }
        order[order.len() - 1]
    }

    /// Feeds `prompt` (at least one token) through the model once, then draws `length` tokens
    /// one step at a time, carrying the recurrent state.
    pub fn generate(
        &self,
        model: &CharLm,
        prompt: &[u32],
        length: usize,
        device: &Device,
    ) -> Vec<u32> {
        assert!(
            !prompt.is_empty(),
            "generation needs a prompt of at least one token"
        );
        let ids: Vec<i64> = prompt.iter().map(|&t| t as i64).collect();
        let tokens = Tensor::<2, Int>::from_data(TensorData::new(ids, [1, prompt.len()]), device);
        let (logits, mut state) = model.forward(tokens, None);
        let vocab = logits.dims()[2];
        let last = logits.narrow(1, prompt.len() - 1, 1).reshape([1, vocab]);
        let mut next = self.draw(&row(last));
        let mut out = Vec::with_capacity(length);
        for _ in 0..length {
            out.push(next as u32);
            let token =
                Tensor::<1, Int>::from_data(TensorData::new(vec![next as i64], [1]), device);
            let (logits, new_state) = model.next_logits(token, Some(state));
            state = new_state;
            next = self.draw(&row(logits));
        }
        out
    }
}

fn row(logits: Tensor<2>) -> Vec<f32> {
    logits
        .into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .expect("float logits")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sampler(temperature: f64, top_k: usize, top_p: f64, seed: u64) -> Sampler {
        Sampler::new(SamplingConfig {
            temperature,
            top_k,
            top_p,
            seed,
        })
    }

    #[test]
    fn greedy_top_k_top_p_and_seed() {
        let logits = [1.0, 3.0, 2.0, 0.5];
        assert_eq!(sampler(0.0, 0, 1.0, 0).draw(&logits), 1);
        assert!((0..50).all(|_| sampler(1.0, 1, 1.0, 3).draw(&logits) == 1));
        // top-p 0.5: token 1 alone carries 0.61 of the mass.
        let s = sampler(1.0, 0, 0.5, 9);
        assert!((0..50).all(|_| s.draw(&logits) == 1));
        // top-k 2 never draws outside {1, 2}; both appear.
        let s = sampler(1.0, 2, 1.0, 5);
        let draws: Vec<usize> = (0..200).map(|_| s.draw(&logits)).collect();
        assert!(draws.iter().all(|d| [1, 2].contains(d)) && draws.contains(&2));
        // Same seed, same draws; temperature 1 follows the softmax roughly (p(1) = 0.61).
        let a: Vec<usize> = {
            let s = sampler(1.0, 0, 1.0, 42);
            (0..2000).map(|_| s.draw(&logits)).collect()
        };
        let b: Vec<usize> = {
            let s = sampler(1.0, 0, 1.0, 42);
            (0..2000).map(|_| s.draw(&logits)).collect()
        };
        assert_eq!(a, b);
        let share = a.iter().filter(|&&d| d == 1).count() as f64 / 2000.0;
        assert!((share - 0.61).abs() < 0.05, "{share}");
    }
}
