//! The audio front end against librosa: `fixtures/audio_features.json`, made by
//! `fixtures/make_audio_fixture.py` (the command is in its docstring; CI never runs Python).

use std::path::Path;

use rnnlab_data::audio::{FeatureConfig, FeatureExtractor, mel_filterbank, read_wav};
use rnnlab_data::shipped_datasets_dir;
use serde_json::Value;

fn fixture() -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/audio_features.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn matrix(v: &Value) -> Vec<Vec<f64>> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|r| {
            r.as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_f64().unwrap())
                .collect()
        })
        .collect()
}

/// Largest absolute difference.
fn max_diff(a: &[Vec<f64>], b: &[Vec<f64>]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .flat_map(|(r, s)| {
            assert_eq!(r.len(), s.len());
            r.iter().zip(s).map(|(x, y)| (x - y).abs())
        })
        .fold(0.0, f64::max)
}

#[test]
fn filterbanks_match_librosa_within_1e_6() {
    let f = fixture();
    for bank in f["filterbanks"].as_array().unwrap() {
        let get = |k: &str| bank[k].as_f64().unwrap();
        let ours = mel_filterbank(
            get("sample_rate"),
            get("n_fft") as usize,
            get("n_mels") as usize,
            get("f_min"),
            get("f_max"),
        );
        let theirs = matrix(&bank["weights"]);
        let d = max_diff(&ours, &theirs);
        // librosa returns float32 weights.
        assert!(d < 1e-6, "filterbank differs from librosa by {d}");
    }
}

#[test]
fn log_mel_and_mfcc_of_a_recording_match_the_reference_within_1e_4() {
    let f = fixture();
    let rec = &f["recording"];
    let path = shipped_datasets_dir().join(
        rec["path"]
            .as_str()
            .unwrap()
            .trim_start_matches("datasets/"),
    );
    let clip = read_wav(&path).unwrap();
    let config = FeatureConfig {
        n_mfcc: 0,
        deltas: false,
        utterance_mean: false,
        ..FeatureConfig::default()
    };
    let rows = |features: rnnlab_data::audio::Features, n: usize| -> Vec<Vec<f64>> {
        (0..n)
            .map(|t| features.frame(t).iter().map(|&v| v as f64).collect())
            .collect()
    };
    let mel = FeatureExtractor::new(&config)
        .unwrap()
        .compute(&clip, &path)
        .unwrap();
    assert_eq!(mel.frames as u64, rec["frames"].as_u64().unwrap());
    let theirs = matrix(&rec["log_mel"]);
    // f32 FFT against float64 numpy: measured 2.4e-5 (log-mel) and 1.2e-5 (MFCC).
    let d = max_diff(&rows(mel, theirs.len()), &theirs);
    assert!(d < 1e-4, "log-mel differs by {d}");
    let mfcc = FeatureExtractor::new(&FeatureConfig {
        n_mfcc: 13,
        ..config
    })
    .unwrap()
    .compute(&clip, &path)
    .unwrap();
    let theirs = matrix(&rec["mfcc"]);
    let d = max_diff(&rows(mfcc, theirs.len()), &theirs);
    assert!(d < 1e-4, "MFCC differs by {d}");
}
