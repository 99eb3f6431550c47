//! Digit strings for continuous recognition, synthesised deterministically from a split's
//! recordings (`[data.sequences]`): one speaker per string, `min_digits`–`max_digits` of their
//! recordings joined by random silences, the whole string at a random gain, white noise
//! `noise_db` below its peak.

use std::path::Path;

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use rnnlab_data::audio::{Clip, FeatureExtractor, Features};
use rnnlab_data::classification::Split as Indices;
use rnnlab_data::timeseries::Scaler;

use super::config::{SequenceSection, SpeechExperiment};
use super::recordings::{Recording, par_map};

/// One synthesised string.
#[derive(Clone, Debug, PartialEq)]
pub struct Utterance {
    /// The audio.
    pub clip: Clip,
    /// The digits spoken, in order.
    pub digits: Vec<u32>,
    /// Who speaks them.
    pub speaker: String,
}

/// `n` strings from the recordings `pool` (indices into `recs` and `clips`), drawn from the
/// generator of `(q.seed, stream)`: the same arguments always give the same strings.
pub fn synthesise(
    recs: &[Recording],
    clips: &[Clip],
    pool: &[usize],
    n: usize,
    q: &SequenceSection,
    stream: u64,
) -> Vec<Utterance> {
    let mut rng = StdRng::seed_from_u64(q.seed ^ stream.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let mut speakers: Vec<&str> = pool.iter().map(|&i| recs[i].speaker.as_str()).collect();
    speakers.sort_unstable();
    speakers.dedup();
    let by_speaker: Vec<Vec<usize>> = speakers
        .iter()
        .map(|s| {
            pool.iter()
                .copied()
                .filter(|&i| recs[i].speaker == *s)
                .collect()
        })
        .collect();
    (0..n)
        .map(|_| {
            let who = rng.random_range(0..speakers.len());
            let own = &by_speaker[who];
            let count = rng.random_range(q.min_digits..=q.max_digits);
            let picks: Vec<usize> = (0..count)
                .map(|_| own[rng.random_range(0..own.len())])
                .collect();
            let rate = clips[picks[0]].sample_rate;
            let gap = |rng: &mut StdRng| {
                let ms = rng.random::<f64>() * q.max_gap_ms;
                vec![0f32; (ms * rate as f64 / 1000.0) as usize]
            };
            let mut samples = gap(&mut rng);
            for &i in &picks {
                samples.extend_from_slice(&clips[i].samples);
                samples.extend(gap(&mut rng));
            }
            let gain = 10f64.powf((rng.random::<f64>() * 2.0 - 1.0) * q.gain_db / 20.0) as f32;
            let peak = samples.iter().fold(0f32, |m, s| m.max(s.abs())) * gain;
            // Uniform noise of this half-width has an RMS of `peak · 10^(−noise_db/20)`.
            let width = peak * 10f64.powf(-q.noise_db / 20.0) as f32 * 3f32.sqrt();
            for s in &mut samples {
                *s = *s * gain + width * (rng.random::<f32>() * 2.0 - 1.0);
            }
            Utterance {
                clip: Clip {
                    samples,
                    sample_rate: rate,
                },
                digits: picks.iter().map(|&i| recs[i].digit).collect(),
                speaker: speakers[who].to_string(),
            }
        })
        .collect()
}

/// A digit string ready for the model.
#[derive(Clone, Debug)]
pub struct Sample {
    /// Its features (normalised once [`Strings::normalise`] ran).
    pub features: Features,
    /// The digits spoken.
    pub digits: Vec<u32>,
    /// Who speaks them.
    pub speaker: String,
    /// The audio (test strings only: the baseline segments it).
    pub clip: Option<Clip>,
}

/// The training, validation and test strings of a run.
#[derive(Clone, Debug)]
pub struct Strings {
    /// Made from training recordings.
    pub train: Vec<Sample>,
    /// Made from validation recordings.
    pub valid: Vec<Sample>,
    /// Made from test recordings.
    pub test: Vec<Sample>,
}

impl Strings {
    /// Synthesises `[data.sequences]`'s strings from each part of `split` and computes their
    /// features.
    pub fn make(
        e: &SpeechExperiment,
        recs: &[Recording],
        clips: &[Clip],
        split: &Indices,
        extractor: &FeatureExtractor,
    ) -> anyhow::Result<Self> {
        let q = &e.data.sequences;
        let part = |pool: &[usize], n: usize, stream: u64, keep_audio: bool| {
            let made = synthesise(recs, clips, pool, n, q, stream);
            par_map(&made, |u| {
                let name = format!("synthesised string of {}", u.speaker);
                Ok(Sample {
                    features: extractor.compute(&u.clip, Path::new(&name))?,
                    digits: u.digits.clone(),
                    speaker: u.speaker.clone(),
                    clip: keep_audio.then(|| u.clip.clone()),
                })
            })
        };
        Ok(Self {
            train: part(&split.train, q.train, 0, false)?,
            valid: part(&split.valid, q.valid, 1, false)?,
            test: part(&split.test, q.test, 2, true)?,
        })
    }

    /// Applies the run's normaliser to every string's features.
    pub fn normalise(&mut self, normalizer: &Scaler) {
        for s in self
            .train
            .iter_mut()
            .chain(&mut self.valid)
            .chain(&mut self.test)
        {
            normalizer.transform(&mut s.features.values);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    #[test]
    fn strings_are_deterministic_and_use_only_their_pool() {
        let recs: Vec<Recording> = (0..8)
            .map(|i| Recording {
                path: PathBuf::from(format!("{i}.wav")),
                digit: i as u32 % 4,
                speaker: if i < 4 { "a".into() } else { "b".into() },
                take: i,
            })
            .collect();
        // Each recording is 100 samples of its own index, so the pieces can be told apart.
        let clips: Vec<Clip> = (0..8)
            .map(|i| Clip {
                samples: vec![(i + 1) as f32 / 10.0; 100],
                sample_rate: 8000,
            })
            .collect();
        let q = SequenceSection {
            train: 0,
            valid: 0,
            test: 0,
            min_digits: 2,
            max_digits: 4,
            max_gap_ms: 10.0,
            gain_db: 0.0,
            noise_db: 200.0,
            seed: 5,
        };
        let pool = [0, 1, 4, 5];
        let a = synthesise(&recs, &clips, &pool, 20, &q, 1);
        assert_eq!(a, synthesise(&recs, &clips, &pool, 20, &q, 1));
        assert_ne!(a, synthesise(&recs, &clips, &pool, 20, &q, 2));
        for u in &a {
            assert!((2..=4).contains(&u.digits.len()));
            assert!(u.digits.iter().all(|&d| d <= 1), "only digits of the pool");
            // One speaker per string: speaker a holds recordings 0-1 (values .1, .2).
            let loud: Vec<f32> = u
                .clip
                .samples
                .iter()
                .copied()
                .filter(|&s| s > 0.05)
                .collect();
            let from_a = loud.iter().all(|&s| s < 0.25);
            assert_eq!(from_a, u.speaker == "a");
            assert_eq!(loud.len(), 100 * u.digits.len());
            assert!(u.clip.samples.len() <= 100 * u.digits.len() + 80 * (u.digits.len() + 1));
        }
    }
}
