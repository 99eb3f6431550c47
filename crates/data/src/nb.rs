//! Naive-Bayes log-count ratios of token uni- and bigrams (Wang & Manning 2012, "Baselines and
//! Bigrams": the features of NBSVM), as per-token inputs for a sequence classifier: token `t`
//! gets, for each class `c`, the ratio of its unigram and of the bigram `(t − 1, t)`,
//!
//! `r_c(g) = ln((n_c(g) + α) / |n_c + α|) − ln((n_¬c(g) + α) / |n_¬c + α|)`,
//!
//! where `n_c(g)` counts the training sentences of class `c` that contain `g` (binarised) and
//! `|·|` sums over the grams of that order. A gram training never saw reads 0.
//!
//! The ratios of a training sentence must not come from that sentence's own label, or a
//! model learns to trust them more than they deserve on new text: [`cross_fitted`] gives each
//! training sentence the ratios fitted on the other folds (out-of-fold target encoding).

use std::collections::{HashMap, HashSet};

use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};

use crate::error::DataError;

/// Fitted log-count ratios, one per class, of every uni- and bigram of token ids seen in
/// training.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LogCountRatios {
    /// Number of classes (ratios per gram).
    pub n_classes: usize,
    /// Per class `c`: `ln(N_c / N_¬c)` over the training sentences (the classifier's bias).
    priors: Vec<f32>,
    /// Per token id: its ratio for each class.
    unigrams: HashMap<u32, Vec<f32>>,
    /// Per bigram `(a << 32) | b`: its ratio for each class.
    bigrams: HashMap<u64, Vec<f32>>,
}

fn bigram(a: u32, b: u32) -> u64 {
    (u64::from(a) << 32) | u64::from(b)
}

/// Binarised document counts per class of the grams `key` yields for each sentence.
fn counts<K: std::hash::Hash + Eq + Copy>(
    docs: &[(&[u32], usize)],
    n_classes: usize,
    grams: impl Fn(&[u32]) -> Vec<K>,
) -> HashMap<K, Vec<f64>> {
    let mut out: HashMap<K, Vec<f64>> = HashMap::new();
    for (ids, label) in docs {
        let unique: HashSet<K> = grams(ids).into_iter().collect();
        for g in unique {
            out.entry(g).or_insert_with(|| vec![0.0; n_classes])[*label] += 1.0;
        }
    }
    out
}

/// The one-against-the-rest ratios of `counts` with smoothing `alpha`.
fn ratios<K: std::hash::Hash + Eq + Copy>(
    counts: HashMap<K, Vec<f64>>,
    n_classes: usize,
    alpha: f64,
) -> HashMap<K, Vec<f32>> {
    let grams = counts.len() as f64;
    let mut per_class = vec![0.0; n_classes];
    for c in counts.values() {
        for (total, n) in per_class.iter_mut().zip(c) {
            *total += n;
        }
    }
    let all: f64 = per_class.iter().sum();
    counts
        .into_iter()
        .map(|(g, c)| {
            let total: f64 = c.iter().sum();
            let r = (0..n_classes)
                .map(|k| {
                    let p = (c[k] + alpha) / (per_class[k] + alpha * grams);
                    let q = (total - c[k] + alpha) / (all - per_class[k] + alpha * grams);
                    (p.ln() - q.ln()) as f32
                })
                .collect();
            (g, r)
        })
        .collect()
}

impl LogCountRatios {
    /// Fits the ratios on labelled sentences of token ids (labels below `n_classes`) with
    /// additive smoothing `alpha` (> 0; 1 in NBSVM).
    pub fn fit(docs: &[(&[u32], usize)], n_classes: usize, alpha: f64) -> Result<Self, DataError> {
        if n_classes < 2 || !(alpha > 0.0 && alpha.is_finite()) {
            return Err(DataError::invalid(format!(
                "log-count ratios need at least 2 classes and a positive alpha (got {n_classes} \
                 classes, alpha {alpha})"
            )));
        }
        if let Some((_, label)) = docs.iter().find(|(_, label)| *label >= n_classes) {
            return Err(DataError::invalid(format!(
                "label {label} of a training sentence: only {n_classes} classes"
            )));
        }
        let uni = counts(docs, n_classes, |ids| ids.to_vec());
        let bi = counts(docs, n_classes, |ids| {
            ids.windows(2).map(|w| bigram(w[0], w[1])).collect()
        });
        let per_class = (0..n_classes)
            .map(|c| docs.iter().filter(|(_, l)| *l == c).count() as f64)
            .collect::<Vec<_>>();
        let priors = per_class
            .iter()
            .map(|&n| (((n + 1.0) / (docs.len() as f64 - n + 1.0)).ln()) as f32)
            .collect();
        Ok(Self {
            n_classes,
            priors,
            unigrams: ratios(uni, n_classes, alpha),
            bigrams: ratios(bi, n_classes, alpha),
        })
    }

    /// Features per token: `2 · n_classes`.
    pub fn width(&self) -> usize {
        2 * self.n_classes
    }

    /// Per token of `ids`: its unigram's ratios, then those of the bigram ending at it (0 for
    /// the first token and for grams never seen).
    pub fn features(&self, ids: &[u32]) -> Vec<Vec<f32>> {
        let c = self.n_classes;
        ids.iter()
            .enumerate()
            .map(|(t, &id)| {
                let mut row = vec![0.0; 2 * c];
                if let Some(r) = self.unigrams.get(&id) {
                    row[..c].copy_from_slice(r);
                }
                if t > 0
                    && let Some(r) = self.bigrams.get(&bigram(ids[t - 1], id))
                {
                    row[c..].copy_from_slice(r);
                }
                row
            })
            .collect()
    }
}

impl LogCountRatios {
    /// Naive Bayes over binarised uni- and bigrams (MNB in Wang & Manning 2012; one class
    /// against the rest when there are more than two): the class `c` with the largest
    /// `ln(N_c / N_¬c) + Σ r_c(g)` over the distinct grams of `ids`.
    pub fn classify(&self, ids: &[u32]) -> usize {
        let mut score: Vec<f64> = self.priors.iter().map(|&p| f64::from(p)).collect();
        let uni: HashSet<u32> = ids.iter().copied().collect();
        let bi: HashSet<u64> = ids.windows(2).map(|w| bigram(w[0], w[1])).collect();
        let seen = uni
            .iter()
            .filter_map(|g| self.unigrams.get(g))
            .chain(bi.iter().filter_map(|g| self.bigrams.get(g)));
        for r in seen {
            for (s, v) in score.iter_mut().zip(r) {
                *s += f64::from(*v);
            }
        }
        (0..score.len())
            .max_by(|&a, &b| score[a].total_cmp(&score[b]).then(b.cmp(&a)))
            .unwrap_or(0)
    }
}

/// The features of each of `docs` from the ratios fitted on the other `folds` (≥ 2) folds,
/// the folds drawn with `seed`: what a model sees in training in place of ratios that know
/// the sentence's own label.
pub fn cross_fitted(
    docs: &[(&[u32], usize)],
    n_classes: usize,
    alpha: f64,
    folds: usize,
    seed: u64,
) -> Result<Vec<Vec<Vec<f32>>>, DataError> {
    if folds < 2 {
        return Err(DataError::invalid(format!(
            "cross-fitting needs at least 2 folds (got {folds})"
        )));
    }
    let mut order: Vec<usize> = (0..docs.len()).collect();
    order.shuffle(&mut StdRng::seed_from_u64(seed));
    let mut fold_of = vec![0; docs.len()];
    for (rank, &i) in order.iter().enumerate() {
        fold_of[i] = rank % folds;
    }
    let mut out = vec![Vec::new(); docs.len()];
    for fold in 0..folds {
        let rest: Vec<(&[u32], usize)> = (0..docs.len())
            .filter(|&i| fold_of[i] != fold)
            .map(|i| docs[i])
            .collect();
        let fitted = LogCountRatios::fit(&rest, n_classes, alpha)?;
        for i in (0..docs.len()).filter(|&i| fold_of[i] == fold) {
            out[i] = fitted.features(docs[i].0);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratios_follow_the_formula_and_unseen_grams_read_zero() {
        // Class 1 sentences hold 1; class 0 sentences hold 2; 3 is in both.
        let docs: Vec<(Vec<u32>, usize)> = vec![
            (vec![1, 3], 1),
            (vec![1, 1, 3], 1),
            (vec![2, 3], 0),
            (vec![2], 0),
        ];
        let docs: Vec<(&[u32], usize)> = docs.iter().map(|(d, l)| (d.as_slice(), *l)).collect();
        let r = LogCountRatios::fit(&docs, 2, 1.0).unwrap();
        assert_eq!(r.width(), 4);
        // Unigram counts (binarised): 1 → [0, 2], 2 → [2, 0], 3 → [1, 2]; per class 3 and 4,
        // three grams, alpha 1.
        let f = r.features(&[1, 3, 9]);
        let ratio =
            |n1: f64, n0: f64| ((n1 + 1.0) / (4.0 + 3.0)).ln() - ((n0 + 1.0) / (3.0 + 3.0)).ln();
        assert!((f[0][1] as f64 - ratio(2.0, 0.0)).abs() < 1e-6, "{f:?}");
        assert!(
            (f[0][0] as f64 + ratio(2.0, 0.0)).abs() < 1e-6,
            "two classes: r_0 = −r_1"
        );
        assert!((f[1][1] as f64 - ratio(2.0, 1.0)).abs() < 1e-6);
        assert_eq!(&f[0][2..], &[0.0, 0.0], "no bigram ends at the first token");
        assert!(f[1][3] > 0.0, "the bigram (1, 3) is class 1's only");
        assert_eq!(f[2], vec![0.0; 4], "token 9 and bigram (3, 9) never seen");
        assert_eq!(r.classify(&[1, 3]), 1);
        assert_eq!(r.classify(&[2, 3, 2]), 0);
    }

    #[test]
    fn cross_fitted_features_never_see_their_own_sentence() {
        // Every sentence has a word of its own: its out-of-fold ratio is 0 (never seen),
        // while the ratios fitted on everything know it.
        let docs: Vec<(Vec<u32>, usize)> = (0..20)
            .map(|i| (vec![100 + i, i % 2], (i % 2) as usize))
            .collect();
        let docs: Vec<(&[u32], usize)> = docs.iter().map(|(d, l)| (d.as_slice(), *l)).collect();
        let all = LogCountRatios::fit(&docs, 2, 1.0).unwrap();
        let out = cross_fitted(&docs, 2, 1.0, 5, 7).unwrap();
        for (i, f) in out.iter().enumerate() {
            assert_eq!(f[0][..2], [0.0, 0.0], "sentence {i}'s own word");
            assert_ne!(all.features(docs[i].0)[0][..2], [0.0, 0.0]);
            let sign = if i % 2 == 1 { 1.0 } else { -1.0 };
            assert!(
                f[1][1] * sign > 0.0,
                "the shared class word still points to its class"
            );
        }
        assert!(cross_fitted(&docs, 2, 1.0, 1, 7).is_err());
        assert!(LogCountRatios::fit(&docs, 2, 0.0).is_err());
    }
}
