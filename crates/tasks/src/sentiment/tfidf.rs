//! The classification baseline: TF-IDF over word n-grams and multinomial logistic regression
//! with an L2 penalty (`linfa-logistic`, L-BFGS), fitted on the training sentences only.

use std::collections::HashMap;

use anyhow::Context;
use linfa::prelude::{Dataset, Fit, Predict};
use linfa_logistic::MultiLogisticRegression;
use ndarray::{Array1, Array2};

use super::config::BaselineSection;

/// TF-IDF features: n-gram → column, and each column's idf.
#[derive(Clone, Debug)]
pub struct Tfidf {
    ngram_max: usize,
    columns: HashMap<String, usize>,
    idf: Vec<f64>,
}

fn ngrams(words: &[String], n_max: usize) -> Vec<String> {
    let mut out = Vec::new();
    for n in 1..=n_max {
        for w in words.windows(n) {
            out.push(w.join(" "));
        }
    }
    out
}

impl Tfidf {
    /// Fits the vocabulary and idf on the training documents (each a list of words).
    pub fn fit(docs: &[Vec<String>], b: &BaselineSection) -> Self {
        let mut df: HashMap<String, usize> = HashMap::new();
        for doc in docs {
            let mut grams = ngrams(doc, b.ngram_max);
            grams.sort();
            grams.dedup();
            for g in grams {
                *df.entry(g).or_default() += 1;
            }
        }
        let mut kept: Vec<(String, usize)> = df
            .into_iter()
            .filter(|(_, d)| *d >= b.min_df.max(1))
            .collect();
        kept.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        kept.truncate(b.max_features);
        let n = docs.len() as f64;
        let idf = kept
            .iter()
            .map(|(_, d)| ((1.0 + n) / (1.0 + *d as f64)).ln() + 1.0)
            .collect();
        let columns = kept
            .into_iter()
            .enumerate()
            .map(|(i, (g, _))| (g, i))
            .collect();
        Self {
            ngram_max: b.ngram_max,
            columns,
            idf,
        }
    }

    /// Features (columns).
    pub fn len(&self) -> usize {
        self.idf.len()
    }

    /// Whether no n-gram was kept.
    pub fn is_empty(&self) -> bool {
        self.idf.is_empty()
    }

    /// The L2-normalised TF-IDF rows of `docs` `[docs, features]`.
    pub fn transform(&self, docs: &[Vec<String>]) -> Array2<f64> {
        let mut x = Array2::<f64>::zeros((docs.len(), self.len()));
        for (r, doc) in docs.iter().enumerate() {
            for g in ngrams(doc, self.ngram_max) {
                if let Some(&c) = self.columns.get(&g) {
                    x[[r, c]] += self.idf[c];
                }
            }
            let norm = x.row(r).dot(&x.row(r)).sqrt();
            if norm > 0.0 {
                x.row_mut(r).mapv_inplace(|v| v / norm);
            }
        }
        x
    }
}

/// Fits TF-IDF + logistic regression on `train` (words, class) and predicts the classes of
/// `test`.
pub fn fit_predict(
    train: &[(Vec<String>, usize)],
    test: &[Vec<String>],
    n_classes: usize,
    b: &BaselineSection,
) -> anyhow::Result<Vec<usize>> {
    let docs: Vec<Vec<String>> = train.iter().map(|(w, _)| w.clone()).collect();
    let tfidf = Tfidf::fit(&docs, b);
    let mut counts = vec![0usize; n_classes];
    for (_, y) in train {
        counts[*y] += 1;
    }
    let majority = (0..n_classes).max_by_key(|&c| counts[c]).unwrap_or(0);
    // No n-gram kept, or one class only: the majority class is the whole baseline.
    if tfidf.is_empty() || counts.iter().filter(|&&c| c > 0).count() < 2 {
        return Ok(vec![majority; test.len()]);
    }
    let x = tfidf.transform(&docs);
    let y: Array1<usize> = train.iter().map(|(_, y)| *y).collect();
    let model = MultiLogisticRegression::default()
        .alpha(b.alpha)
        .max_iterations(200)
        .fit(&Dataset::new(x, y))
        .context("the TF-IDF baseline's logistic regression did not fit")?;
    let predicted: Array1<usize> = model.predict(&tfidf.transform(test));
    Ok(predicted.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_string).collect()
    }

    #[test]
    fn idf_and_normalisation_follow_scikit_learn() {
        let b = BaselineSection {
            ngram_max: 2,
            min_df: 1,
            max_features: 100,
            alpha: 1.0,
        };
        let docs = [words("good film"), words("bad film"), words("good good")];
        let t = Tfidf::fit(&docs, &b);
        // "film" and "good" are in 2 of 3 documents: idf = ln(4/3) + 1.
        let idf = |g: &str| t.idf[t.columns[g]];
        assert!((idf("film") - ((4.0f64 / 3.0).ln() + 1.0)).abs() < 1e-12);
        assert!((idf("bad film") - (2.0f64.ln() + 1.0)).abs() < 1e-12);
        let x = t.transform(&docs);
        for r in 0..3 {
            assert!((x.row(r).dot(&x.row(r)) - 1.0).abs() < 1e-12);
        }
        // "good good": tf 2 for "good", 1 for the bigram.
        let (g, gg) = (x[[2, t.columns["good"]]], x[[2, t.columns["good good"]]]);
        assert!((g / gg - 2.0 * idf("good") / idf("good good")).abs() < 1e-12);
    }

    #[test]
    fn separates_a_keyword_task() {
        let b = BaselineSection {
            ngram_max: 2,
            min_df: 1,
            max_features: 1000,
            alpha: 0.1,
        };
        let train: Vec<(Vec<String>, usize)> = (0..40)
            .map(|i| {
                let w = if i % 2 == 0 { "great" } else { "awful" };
                (words(&format!("the film {} was {w} {i}", i % 7)), i % 2)
            })
            .collect();
        let test = vec![words("great"), words("awful film"), words("a great one")];
        assert_eq!(fit_predict(&train, &test, 2, &b).unwrap(), [0, 1, 0]);
    }
}
