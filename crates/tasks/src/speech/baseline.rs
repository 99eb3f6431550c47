//! The speech baselines: multinomial logistic regression (`linfa-logistic`, L2 penalty) on each
//! recording's per-feature mean and standard deviation over its frames — what a model that
//! ignores the order of the frames can do; for digit strings, the same classifier on the
//! segments an energy threshold finds.

use anyhow::Context;
use linfa::prelude::{Dataset, Fit, Predict};
use linfa_logistic::{MultiFittedLogisticRegression, MultiLogisticRegression};
use ndarray::{Array1, Array2};
use rnnlab_data::audio::Features;

/// `[mean, std]` of every feature over the frames.
pub fn summary(f: &Features) -> Vec<f64> {
    let n = f.frames.max(1) as f64;
    let mut out = vec![0.0; 2 * f.dim];
    for t in 0..f.frames {
        for (j, &v) in f.frame(t).iter().enumerate() {
            out[j] += v as f64 / n;
        }
    }
    for t in 0..f.frames {
        for (j, &v) in f.frame(t).iter().enumerate() {
            out[f.dim + j] += (v as f64 - out[j]).powi(2) / n;
        }
    }
    for v in &mut out[f.dim..] {
        *v = v.sqrt();
    }
    out
}

fn matrix(rows: &[&Features]) -> Array2<f64> {
    let width = rows.first().map_or(0, |f| 2 * f.dim);
    let flat: Vec<f64> = rows.iter().flat_map(|f| summary(f)).collect();
    Array2::from_shape_vec((rows.len(), width), flat).expect("one summary per row")
}

/// The fitted logistic regression.
pub struct Classifier(MultiFittedLogisticRegression<f64, usize>);

impl Classifier {
    /// Fits on `train` (features and classes).
    pub fn fit(train: &[(&Features, usize)], alpha: f64) -> anyhow::Result<Self> {
        let rows: Vec<&Features> = train.iter().map(|(f, _)| *f).collect();
        let y: Array1<usize> = train.iter().map(|(_, y)| *y).collect();
        let model = MultiLogisticRegression::default()
            .alpha(alpha)
            .max_iterations(300)
            .fit(&Dataset::new(matrix(&rows), y))
            .context("the speech baseline's logistic regression did not fit")?;
        Ok(Self(model))
    }

    /// The class of every recording.
    pub fn predict(&self, test: &[&Features]) -> Vec<usize> {
        if test.is_empty() {
            return Vec::new();
        }
        let predicted: Array1<usize> = self.0.predict(&matrix(test));
        predicted.to_vec()
    }
}

/// Fits on `train` (features and classes) and predicts the class of every `test` recording.
pub fn fit_predict(
    train: &[(&Features, usize)],
    test: &[&Features],
    alpha: f64,
) -> anyhow::Result<Vec<usize>> {
    Ok(Classifier::fit(train, alpha)?.predict(test))
}

/// Each frame's energy in dB (`10 log10` of its mean square; frames of `frame_len` samples
/// every `hop`).
pub fn frame_db(samples: &[f32], frame_len: usize, hop: usize) -> Vec<f64> {
    let frames = if samples.len() < frame_len {
        0
    } else {
        1 + (samples.len() - frame_len) / hop
    };
    (0..frames)
        .map(|t| {
            let x = &samples[t * hop..t * hop + frame_len];
            let ms = x.iter().map(|&v| (v as f64).powi(2)).sum::<f64>() / frame_len as f64;
            10.0 * ms.max(1e-20).log10()
        })
        .collect()
}

/// Speech segments `[start, end)` in frames by energy: frames above `max(floor + 10 dB,
/// peak − 35 dB)` (floor: the 10th percentile), gaps under 3 frames bridged, segments under 5
/// frames dropped.
pub fn segments(db: &[f64]) -> Vec<(usize, usize)> {
    if db.is_empty() {
        return Vec::new();
    }
    let mut sorted = db.to_vec();
    sorted.sort_by(f64::total_cmp);
    let floor = sorted[sorted.len() / 10];
    let peak = sorted[sorted.len() - 1];
    let threshold = (floor + 10.0).max(peak - 35.0);
    let mut runs: Vec<(usize, usize)> = Vec::new();
    for (t, &v) in db.iter().enumerate() {
        if v <= threshold {
            continue;
        }
        match runs.last_mut() {
            Some((_, end)) if t - *end < 3 => *end = t + 1,
            _ => runs.push((t, t + 1)),
        }
    }
    runs.retain(|(a, b)| b - a >= 5);
    runs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_is_mean_and_std_and_the_fit_separates_loud_from_flat() {
        let f = Features {
            values: vec![1.0, 10.0, 3.0, 10.0],
            frames: 2,
            dim: 2,
        };
        assert_eq!(summary(&f), [2.0, 10.0, 1.0, 0.0]);
        // Class 1 varies over time, class 0 does not: only the std tells them apart.
        let make = |i: usize| {
            let swing = if i % 2 == 1 { 2.0 } else { 0.0 };
            Features {
                values: (0..6)
                    .map(|t| if t % 2 == 0 { swing } else { -swing } + 0.01 * i as f32)
                    .collect(),
                frames: 6,
                dim: 1,
            }
        };
        let feats: Vec<Features> = (0..20).map(make).collect();
        let train: Vec<(&Features, usize)> =
            feats.iter().enumerate().map(|(i, f)| (f, i % 2)).collect();
        let test = [&feats[4], &feats[7]];
        assert_eq!(fit_predict(&train, &test, 0.01).unwrap(), [0, 1]);
    }

    #[test]
    fn energy_segments_find_the_loud_runs() {
        // 10 quiet frames, 8 loud, 2 quiet (bridged), 6 loud, 10 quiet, 3 loud (too short).
        let mut db = vec![-80.0; 10];
        db.extend([-20.0; 8]);
        db.extend([-80.0; 2]);
        db.extend([-22.0; 6]);
        db.extend([-80.0; 10]);
        db.extend([-20.0; 3]);
        db.extend([-80.0; 5]);
        assert_eq!(segments(&db), [(10, 26)]);
        let tone: Vec<f32> = (0..800).map(|i| if i < 400 { 0.5 } else { 0.0 }).collect();
        let d = frame_db(&tone, 200, 100);
        assert_eq!(d.len(), 7);
        assert!((d[0] - 10.0 * 0.25f64.log10()).abs() < 1e-9);
        assert_eq!(d[6], -200.0);
    }
}
