//! Log-mel filterbank and MFCC features: pre-emphasis, 25 ms periodic-Hann frames every 10 ms
//! (by default), a real FFT (`realfft`), HTK-scale triangular mel filters (librosa's
//! `filters.mel(htk=True, norm=None)`, torchaudio's default), natural log, an orthonormal
//! DCT-II for MFCCs, optional HTK deltas, optional per-utterance mean subtraction.
//!
//! (Over 400 lines with its tests; the code is under 320.)

use std::path::Path;
use std::sync::Arc;

use realfft::{RealFftPlanner, RealToComplex};

use super::config::FeatureConfig;
use super::wav::Clip;
use crate::error::DataError;

/// Energies below this are floored before the log (as librosa's `amin`).
pub const LOG_FLOOR: f64 = 1e-10;

/// A recording's features, row-major `[frames, dim]`.
#[derive(Clone, Debug, PartialEq)]
pub struct Features {
    /// The values.
    pub values: Vec<f32>,
    /// Frames.
    pub frames: usize,
    /// Values per frame.
    pub dim: usize,
}

impl Features {
    /// Frame `t`.
    pub fn frame(&self, t: usize) -> &[f32] {
        &self.values[t * self.dim..(t + 1) * self.dim]
    }
}

/// HTK mel scale: `2595 · log10(1 + f / 700)`.
pub fn hz_to_mel(hz: f64) -> f64 {
    2595.0 * (1.0 + hz / 700.0).log10()
}

/// Inverse of [`hz_to_mel`].
pub fn mel_to_hz(mel: f64) -> f64 {
    700.0 * (10f64.powf(mel / 2595.0) - 1.0)
}

/// `n_mels` triangular filters over the `n_fft / 2 + 1` FFT bins, `[n_mels][bins]`: edges
/// equally spaced on the HTK mel scale from `f_min` to `f_max`, each triangle 1 at its centre
/// (no area normalisation), computed as librosa does.
pub fn mel_filterbank(
    sample_rate: f64,
    n_fft: usize,
    n_mels: usize,
    f_min: f64,
    f_max: f64,
) -> Vec<Vec<f64>> {
    let bins = n_fft / 2 + 1;
    let freq = |j: usize| j as f64 * sample_rate / n_fft as f64;
    let (lo, hi) = (hz_to_mel(f_min), hz_to_mel(f_max));
    let edges: Vec<f64> = (0..n_mels + 2)
        .map(|i| mel_to_hz(lo + (hi - lo) * i as f64 / (n_mels + 1) as f64))
        .collect();
    (0..n_mels)
        .map(|m| {
            let (left, centre, right) = (edges[m], edges[m + 1], edges[m + 2]);
            (0..bins)
                .map(|j| {
                    let rising = (freq(j) - left) / (centre - left);
                    let falling = (right - freq(j)) / (right - centre);
                    rising.min(falling).max(0.0)
                })
                .collect()
        })
        .collect()
}

/// The orthonormal DCT-II matrix `[n_out][n_in]` (scipy's `dct(type=2, norm="ortho")`).
pub fn dct_matrix(n_out: usize, n_in: usize) -> Vec<Vec<f64>> {
    let n = n_in as f64;
    (0..n_out)
        .map(|k| {
            let scale = if k == 0 {
                (1.0 / n).sqrt()
            } else {
                (2.0 / n).sqrt()
            };
            (0..n_in)
                .map(|i| {
                    scale * (std::f64::consts::PI * k as f64 * (2 * i + 1) as f64 / (2.0 * n)).cos()
                })
                .collect()
        })
        .collect()
}

/// HTK regression deltas over ±2 frames (edges repeat the first/last frame), of `dim`
/// columns starting at `from` in each `stride`-wide row, written at `to`.
fn deltas(values: &mut [f32], frames: usize, stride: usize, from: usize, to: usize, dim: usize) {
    let at = |v: &[f32], t: isize, j: usize| {
        v[(t.clamp(0, frames as isize - 1) as usize) * stride + from + j]
    };
    let mut out = vec![0f32; frames * dim];
    for t in 0..frames as isize {
        for j in 0..dim {
            let d = (1..=2)
                .map(|n| n as f32 * (at(values, t + n, j) - at(values, t - n, j)))
                .sum::<f32>()
                / 10.0;
            out[t as usize * dim + j] = d;
        }
    }
    for t in 0..frames {
        values[t * stride + to..t * stride + to + dim]
            .copy_from_slice(&out[t * dim..(t + 1) * dim]);
    }
}

/// Computes [`Features`] from recordings for one [`FeatureConfig`].
#[derive(Clone)]
pub struct FeatureExtractor {
    config: FeatureConfig,
    frame_len: usize,
    hop: usize,
    window: Vec<f32>,
    filters: Vec<Vec<f32>>,
    dct: Vec<Vec<f32>>,
    fft: Arc<dyn RealToComplex<f32>>,
}

impl std::fmt::Debug for FeatureExtractor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FeatureExtractor")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl FeatureExtractor {
    /// The extractor for `config`, or the key of the first impossible value.
    pub fn new(config: &FeatureConfig) -> Result<Self, DataError> {
        config
            .validate()
            .map_err(|e| DataError::invalid(format!("data.features.{e}")))?;
        let sr = config.sample_rate as f64;
        let frame_len = (sr * config.frame_ms / 1000.0).round() as usize;
        let hop = (sr * config.hop_ms / 1000.0).round() as usize;
        let n_fft = frame_len.next_power_of_two().max(2);
        let filters = mel_filterbank(sr, n_fft, config.n_mels, config.f_min, config.f_max_hz());
        if let Some(m) = filters.iter().position(|f| f.iter().all(|&w| w == 0.0)) {
            return Err(DataError::invalid(format!(
                "data.features.n_mels = {}: band {m} covers no FFT bin of a {n_fft}-point FFT; \
                 use fewer bands or longer frames",
                config.n_mels
            )));
        }
        let to_f32 = |m: Vec<Vec<f64>>| -> Vec<Vec<f32>> {
            m.into_iter()
                .map(|r| r.into_iter().map(|v| v as f32).collect())
                .collect()
        };
        let window = (0..frame_len)
            .map(|n| {
                (0.5 - 0.5 * (2.0 * std::f64::consts::PI * n as f64 / frame_len as f64).cos())
                    as f32
            })
            .collect();
        Ok(Self {
            config: config.clone(),
            frame_len,
            hop,
            window,
            filters: to_f32(filters),
            dct: to_f32(dct_matrix(config.n_mfcc, config.n_mels)),
            fft: RealFftPlanner::<f32>::new().plan_fft_forward(n_fft),
        })
    }

    /// Its config.
    pub fn config(&self) -> &FeatureConfig {
        &self.config
    }

    /// Samples per frame.
    pub fn frame_len(&self) -> usize {
        self.frame_len
    }

    /// Samples between frame starts.
    pub fn hop(&self) -> usize {
        self.hop
    }

    /// Frames of a recording of `samples` samples (0 if shorter than one frame).
    pub fn frames(&self, samples: usize) -> usize {
        if samples < self.frame_len {
            0
        } else {
            1 + (samples - self.frame_len) / self.hop
        }
    }

    /// The log-mel energies `[frames, n_mels]` of `clip` (read from `path`, named in errors):
    /// another sample rate or a clip shorter than one frame is an error.
    pub fn log_mel(&self, clip: &Clip, path: &Path) -> Result<Features, DataError> {
        if clip.sample_rate != self.config.sample_rate {
            return Err(DataError::in_file(
                path,
                format!(
                    "sample rate {} Hz; this run expects {} Hz (data.features.sample_rate): \
                     resample it first, e.g. `sox in.wav -r {} out.wav`",
                    clip.sample_rate, self.config.sample_rate, self.config.sample_rate
                ),
            ));
        }
        let frames = self.frames(clip.samples.len());
        if frames == 0 {
            return Err(DataError::in_file(
                path,
                format!(
                    "{} samples ({:.3} s): too short, at least one {} ms frame ({} samples) is needed",
                    clip.samples.len(),
                    clip.seconds(),
                    self.config.frame_ms,
                    self.frame_len
                ),
            ));
        }
        let a = self.config.preemphasis as f32;
        let x = &clip.samples;
        let emphasised: Vec<f32> = (0..x.len())
            .map(|n| if n == 0 { x[0] } else { x[n] - a * x[n - 1] })
            .collect();
        let mut input = self.fft.make_input_vec();
        let mut spectrum = self.fft.make_output_vec();
        let mut scratch = self.fft.make_scratch_vec();
        let mut power = vec![0f32; spectrum.len()];
        let n_mels = self.config.n_mels;
        let mut values = Vec::with_capacity(frames * n_mels);
        for t in 0..frames {
            let start = t * self.hop;
            input.fill(0.0);
            for (n, w) in self.window.iter().enumerate() {
                input[n] = emphasised[start + n] * w;
            }
            self.fft
                .process_with_scratch(&mut input, &mut spectrum, &mut scratch)
                .map_err(|e| DataError::invalid(format!("FFT failed: {e}")))?;
            for (p, c) in power.iter_mut().zip(&spectrum) {
                *p = c.re * c.re + c.im * c.im;
            }
            for filter in &self.filters {
                let e: f64 = filter
                    .iter()
                    .zip(&power)
                    .map(|(&w, &p)| w as f64 * p as f64)
                    .sum();
                values.push(e.max(LOG_FLOOR).ln() as f32);
            }
        }
        Ok(Features {
            values,
            frames,
            dim: n_mels,
        })
    }

    /// The configured features `[frames, dim]` of `clip`: log-mel or MFCC, the utterance mean
    /// subtracted if asked, deltas appended if asked.
    pub fn compute(&self, clip: &Clip, path: &Path) -> Result<Features, DataError> {
        Ok(self.from_log_mel(&self.log_mel(clip, path)?))
    }

    /// The configured features of a recording from its [`log_mel`](Self::log_mel) energies.
    pub fn from_log_mel(&self, mel: &Features) -> Features {
        let c = &self.config;
        let base = if c.n_mfcc == 0 { c.n_mels } else { c.n_mfcc };
        let dim = self.config.dim();
        let frames = mel.frames;
        let mut values = vec![0f32; frames * dim];
        for t in 0..frames {
            let row = &mut values[t * dim..t * dim + base];
            let m = mel.frame(t);
            if c.n_mfcc == 0 {
                row.copy_from_slice(m);
            } else {
                for (v, d) in row.iter_mut().zip(&self.dct) {
                    *v = d.iter().zip(m).map(|(a, b)| a * b).sum();
                }
            }
        }
        if c.utterance_mean {
            for j in 0..base {
                let mean =
                    (0..frames).map(|t| values[t * dim + j] as f64).sum::<f64>() / frames as f64;
                for t in 0..frames {
                    values[t * dim + j] -= mean as f32;
                }
            }
        }
        if c.deltas {
            deltas(&mut values, frames, dim, 0, base, base);
            deltas(&mut values, frames, dim, base, 2 * base, base);
        }
        Features {
            values,
            frames,
            dim,
        }
    }

    /// Reads `path` and computes its features.
    pub fn read(&self, path: &Path) -> Result<Features, DataError> {
        self.compute(&super::read_wav(path)?, path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(hz: f64, seconds: f64, rate: u32) -> Clip {
        let n = (seconds * rate as f64) as usize;
        Clip {
            samples: (0..n)
                .map(|i| {
                    (0.5 * (2.0 * std::f64::consts::PI * hz * i as f64 / rate as f64).sin()) as f32
                })
                .collect(),
            sample_rate: rate,
        }
    }

    #[test]
    fn a_tone_lands_in_the_band_around_its_frequency() {
        let c = FeatureConfig {
            n_mfcc: 0,
            deltas: false,
            utterance_mean: false,
            preemphasis: 0.0,
            ..FeatureConfig::default()
        };
        let x = FeatureExtractor::new(&c).unwrap();
        let f = x
            .compute(&tone(1000.0, 0.5, 8000), Path::new("tone"))
            .unwrap();
        assert_eq!((f.frames, f.dim), (1 + (4000 - 200) / 80, 40));
        let bank = mel_filterbank(8000.0, 256, 40, 0.0, 4000.0);
        // 1000 Hz is bin 32 of a 256-point FFT at 8 kHz.
        let expected = (0..40)
            .max_by(|&a, &b| bank[a][32].total_cmp(&bank[b][32]))
            .unwrap();
        let row = f.frame(10);
        let loudest = (0..40).max_by(|&a, &b| row[a].total_cmp(&row[b])).unwrap();
        assert_eq!(loudest, expected);
    }

    #[test]
    fn dct_is_orthonormal_and_deltas_follow_htk() {
        let d = dct_matrix(8, 8);
        for a in 0..8 {
            for b in 0..8 {
                let dot: f64 = (0..8).map(|i| d[a][i] * d[b][i]).sum();
                assert!((dot - if a == b { 1.0 } else { 0.0 }).abs() < 1e-12);
            }
        }
        // A ramp of slope 2 has delta 2 away from the edges; the edges repeat a frame.
        let mut v: Vec<f32> = (0..6).flat_map(|t| [2.0 * t as f32, 0.0]).collect();
        deltas(&mut v, 6, 2, 0, 1, 1);
        let d: Vec<f32> = (0..6).map(|t| v[t * 2 + 1]).collect();
        assert_eq!(d[2..4], [2.0, 2.0]);
        assert!((d[0] - (1.0 * 2.0 + 2.0 * 4.0) / 10.0).abs() < 1e-6);
    }

    #[test]
    fn gain_does_not_change_mean_normalised_features() {
        let x = FeatureExtractor::new(&FeatureConfig::default()).unwrap();
        // A tone over white noise (every band well above the log floor).
        let mut quiet = tone(440.0, 0.3, 8000);
        let mut state = 1u32;
        for s in &mut quiet.samples {
            state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            *s = 0.1 * *s + 0.01 * ((state >> 8) as f32 / (1 << 24) as f32 - 0.5);
        }
        let loud = Clip {
            samples: quiet.samples.iter().map(|s| s * 8.0).collect(),
            ..quiet.clone()
        };
        let (a, b) = (
            x.compute(&quiet, Path::new("q")).unwrap(),
            x.compute(&loud, Path::new("l")).unwrap(),
        );
        assert_eq!(a.dim, 39);
        for (p, q) in a.values.iter().zip(&b.values) {
            assert!((p - q).abs() < 1e-3, "{p} vs {q}");
        }
    }

    #[test]
    fn bad_configs_and_clips_name_the_key_or_file() {
        let bad = |c: FeatureConfig| FeatureExtractor::new(&c).unwrap_err().to_string();
        let d = FeatureConfig::default;
        assert!(bad(FeatureConfig { n_mels: 0, ..d() }).starts_with("data.features.n_mels = 0"));
        assert!(bad(FeatureConfig { n_mfcc: 41, ..d() }).starts_with("data.features.n_mfcc = 41"));
        assert!(
            bad(FeatureConfig {
                f_max: 5000.0,
                ..d()
            })
            .starts_with("data.features.f_min")
        );
        assert!(
            bad(FeatureConfig {
                hop_ms: f64::NAN,
                ..d()
            })
            .starts_with("data.features.hop_ms")
        );
        assert!(bad(FeatureConfig { n_mels: 200, ..d() }).contains("covers no FFT bin"));
        let x = FeatureExtractor::new(&d()).unwrap();
        let e = x
            .compute(&tone(440.0, 0.01, 8000), Path::new("a.wav"))
            .unwrap_err();
        assert!(
            e.to_string()
                .starts_with("a.wav: 80 samples (0.010 s): too short"),
            "{e}"
        );
        let e = x
            .compute(&tone(440.0, 0.5, 16000), Path::new("b.wav"))
            .unwrap_err();
        assert!(
            e.to_string()
                .starts_with("b.wav: sample rate 16000 Hz; this run expects 8000 Hz"),
            "{e}"
        );
    }
}
