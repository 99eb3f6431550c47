//! [`FeatureConfig`]: the `[data.features]` of an experiment, its defaults and validation.

use serde::{Deserialize, Serialize};

/// How a recording becomes a sequence of feature vectors (`[data.features]`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeatureConfig {
    /// The sample rate every recording must have, in Hz. A recording at another rate is an
    /// error naming its rate (resample it first, e.g. `sox in.wav -r 8000 out.wav`): a
    /// resampler inside the reader would silently change what the model hears.
    pub sample_rate: u32,
    /// Frame (window) length in milliseconds; the FFT size is the next power of two.
    pub frame_ms: f64,
    /// Hop between frame starts in milliseconds.
    pub hop_ms: f64,
    /// Pre-emphasis `y[n] = x[n] − a·x[n−1]` (0 = off).
    pub preemphasis: f64,
    /// Mel bands.
    pub n_mels: usize,
    /// Cepstral coefficients kept (DCT of the log-mel energies); 0 = the log-mel energies.
    pub n_mfcc: usize,
    /// Lowest filter edge in Hz.
    pub f_min: f64,
    /// Highest filter edge in Hz (0 = half the sample rate).
    pub f_max: f64,
    /// Append first and second differences (HTK regression over ±2 frames): 3× the features.
    pub deltas: bool,
    /// Subtract each recording's own mean of every static feature (cepstral mean
    /// normalisation): a recording's gain becomes irrelevant.
    pub utterance_mean: bool,
}

impl Default for FeatureConfig {
    fn default() -> Self {
        Self {
            sample_rate: 8000,
            frame_ms: 25.0,
            hop_ms: 10.0,
            preemphasis: 0.97,
            n_mels: 40,
            n_mfcc: 13,
            f_min: 0.0,
            f_max: 0.0,
            deltas: true,
            utterance_mean: true,
        }
    }
}

impl FeatureConfig {
    /// Checks every value; the message starts with the key (relative to `[data.features]`).
    pub fn validate(&self) -> Result<(), String> {
        let sr = self.sample_rate as f64;
        if self.sample_rate == 0 {
            return Err("sample_rate = 0: expected a rate in Hz".into());
        }
        for (key, ms) in [("frame_ms", self.frame_ms), ("hop_ms", self.hop_ms)] {
            if !(ms.is_finite() && ms > 0.0 && (sr * ms / 1000.0).round() >= 1.0) {
                return Err(format!(
                    "{key} = {ms}: expected at least one sample's length"
                ));
            }
        }
        if (sr * self.frame_ms / 1000.0).round() > 65_536.0 {
            return Err(format!(
                "frame_ms = {}: frames over 65,536 samples",
                self.frame_ms
            ));
        }
        if !(0.0..1.0).contains(&self.preemphasis) {
            return Err(format!(
                "preemphasis = {}: expected a value in [0, 1)",
                self.preemphasis
            ));
        }
        if self.n_mels == 0 || self.n_mels > 1024 {
            return Err(format!(
                "n_mels = {}: expected 1 to 1024 bands",
                self.n_mels
            ));
        }
        if self.n_mfcc > self.n_mels {
            return Err(format!(
                "n_mfcc = {}: at most n_mels = {} coefficients (0 = log-mel energies)",
                self.n_mfcc, self.n_mels
            ));
        }
        let f_max = self.f_max_hz();
        if !(self.f_min >= 0.0 && self.f_min < f_max && f_max <= sr / 2.0) {
            return Err(format!(
                "f_min = {}, f_max = {}: need 0 ≤ f_min < f_max ≤ sample_rate / 2 = {}",
                self.f_min,
                self.f_max,
                sr / 2.0
            ));
        }
        Ok(())
    }

    pub(super) fn f_max_hz(&self) -> f64 {
        if self.f_max == 0.0 {
            self.sample_rate as f64 / 2.0
        } else {
            self.f_max
        }
    }

    /// Values per frame.
    pub fn dim(&self) -> usize {
        let base = if self.n_mfcc == 0 {
            self.n_mels
        } else {
            self.n_mfcc
        };
        if self.deltas { 3 * base } else { base }
    }
}
