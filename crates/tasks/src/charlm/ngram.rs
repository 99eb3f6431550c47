//! The language-model baseline: an interpolated Kneser-Ney n-gram model over the run's tokens
//! (Chen & Goodman 1998, "interpolated Kneser-Ney" with one absolute discount per order,
//! `D = n1 / (n1 + 2 n2)`), fitted on the training split in seconds.
//!
//! `P_n(w | h) = max(c(h w) − D_n, 0) / c(h) + D_n · N1+(h •) / c(h) · P_{n−1}(w | h')`, where
//! `c` is the raw count at the highest order and the continuation count `N1+(• h w)` below it,
//! `h'` drops the oldest token of `h`, a context never seen falls through to `P_{n−1}`, and
//! the unigram level is interpolated with the uniform distribution over the vocabulary, so
//! every token, seen or not, has a non-zero probability.

use std::collections::HashMap;

use anyhow::bail;

/// An interpolated Kneser-Ney model of order `n` over token ids `0..vocab_size`.
#[derive(Clone, Debug)]
pub struct KneserNey {
    order: usize,
    vocab: u128,
    /// Per order `k = 1..=n` (index `k − 1`): counts of k-grams (raw at `n`, continuation below).
    counts: Vec<HashMap<u128, u32>>,
    /// Per order: context → (sum of its k-gram counts, distinct followers).
    contexts: Vec<HashMap<u128, (u64, u32)>>,
    /// Per order: the absolute discount.
    discounts: Vec<f64>,
}

impl KneserNey {
    /// Fits the model of `order` on `ids` (all `< vocab_size`).
    pub fn fit(ids: &[u32], vocab_size: usize, order: usize) -> anyhow::Result<Self> {
        let vocab = vocab_size as u128 + 1;
        if order == 0 || (vocab as f64).powi(order as i32) >= 2f64.powi(127) {
            bail!(
                "baseline.order = {order}: must be at least 1, and a {order}-gram of a \
                 vocabulary of {vocab_size} must fit in 128 bits"
            );
        }
        // Raw counts of every order.
        let mut raw: Vec<HashMap<u128, u32>> = vec![HashMap::new(); order];
        for end in 1..=ids.len() {
            let mut key = 0u128;
            for k in 1..=order.min(end) {
                // The k-gram ending at `end`: prepend the token k back.
                key += (u128::from(ids[end - k]) + 1) * vocab.pow(k as u32 - 1);
                *raw[k - 1].entry(key).or_default() += 1;
            }
        }
        // Continuation counts below the highest order: distinct left extensions.
        let mut counts = vec![HashMap::new(); order];
        counts[order - 1] = std::mem::take(&mut raw[order - 1]);
        for k in (1..order).rev() {
            let higher = if k + 1 == order {
                &counts[order - 1]
            } else {
                &raw[k]
            };
            let mut cont: HashMap<u128, u32> = HashMap::new();
            for &gram in higher.keys() {
                *cont.entry(gram % vocab.pow(k as u32)).or_default() += 1;
            }
            counts[k - 1] = cont;
        }
        let mut contexts = Vec::with_capacity(order);
        let mut discounts = Vec::with_capacity(order);
        for table in &counts {
            let mut ctx: HashMap<u128, (u64, u32)> = HashMap::new();
            let (mut n1, mut n2) = (0u64, 0u64);
            for (&gram, &c) in table {
                let entry = ctx.entry(gram / vocab).or_default();
                entry.0 += u64::from(c);
                entry.1 += 1;
                n1 += u64::from(c == 1);
                n2 += u64::from(c == 2);
            }
            let d = if n1 + n2 == 0 {
                0.5
            } else {
                n1 as f64 / (n1 + 2 * n2) as f64
            };
            discounts.push(d.clamp(0.05, 0.95));
            contexts.push(ctx);
        }
        Ok(Self {
            order,
            vocab,
            counts,
            contexts,
            discounts,
        })
    }

    /// `P(w | history)`, `history` the tokens before `w` (only the last `order − 1` count).
    pub fn prob(&self, history: &[u32], w: u32) -> f64 {
        let uniform = 1.0 / (self.vocab - 1) as f64;
        let n = (self.order - 1).min(history.len());
        // Context keys, shortest first: h of length 0..=n (tokens nearest to w lowest).
        let mut p = uniform;
        let mut ctx = 0u128;
        for k in 0..=n {
            if k > 0 {
                ctx += (u128::from(history[history.len() - k]) + 1) * self.vocab.pow(k as u32 - 1);
            }
            let level = k; // order k + 1
            let Some(&(total, followers)) = self.contexts[level].get(&ctx) else {
                continue;
            };
            let gram = ctx * self.vocab + u128::from(w) + 1;
            let c = self.counts[level].get(&gram).copied().unwrap_or(0);
            let d = self.discounts[level];
            let total = total as f64;
            p = (f64::from(c) - d).max(0.0) / total + d * f64::from(followers) / total * p;
        }
        p
    }

    /// Total negative log-likelihood (nats) of `ids`, each token given the ones before it.
    pub fn nats(&self, ids: &[u32]) -> f64 {
        (0..ids.len())
            .map(|i| {
                -self
                    .prob(&ids[i.saturating_sub(self.order - 1)..i], ids[i])
                    .ln()
            })
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distributions_sum_to_one_for_every_history() {
        let text: Vec<u32> = "abracadabra abracadabra cab bad"
            .bytes()
            .map(|b| u32::from(b - b' ').min(90))
            .collect();
        let vocab = 91;
        for order in 1..=4 {
            let lm = KneserNey::fit(&text, vocab, order).unwrap();
            for history in [&text[..0], &text[..3], &text[5..9], &[89, 89, 89][..]] {
                let sum: f64 = (0..vocab as u32).map(|w| lm.prob(history, w)).sum();
                assert!((sum - 1.0).abs() < 1e-9, "order {order}: {sum}");
            }
        }
    }

    #[test]
    fn higher_orders_predict_repetitive_text_better_and_unseen_tokens_stay_possible() {
        let train: Vec<u32> = (0..2000).map(|i| [0, 1, 2, 3, 1, 2][i % 6]).collect();
        let test: Vec<u32> = (0..300).map(|i| [0, 1, 2, 3, 1, 2][i % 6]).collect();
        let uni = KneserNey::fit(&train, 5, 1).unwrap().nats(&test);
        let tri = KneserNey::fit(&train, 5, 3).unwrap().nats(&test);
        assert!(tri < 0.2 * uni, "trigram {tri} vs unigram {uni}");
        let lm = KneserNey::fit(&train, 5, 3).unwrap();
        assert!(lm.prob(&[0, 1], 4) > 0.0, "token 4 never seen");
        assert!(KneserNey::fit(&train, 5, 0).is_err());
    }
}
