//! Fuzzing the readers of user files and run artefacts: arbitrary bytes and near-valid
//! mutations of real files, fed to every reader, must give an error or a value, never a panic.
//!
//! ```text
//! cargo test --release --workspace --test fuzz                          # CI: 1,000 cases each
//! RNNLAB_FUZZ_CASES=20000 cargo test --release --workspace --test fuzz  # on demand
//! ```

use std::path::Path;

use burn::prelude::Device;
use proptest::prelude::*;
use rnnlab_data::audio::read_wav;
use rnnlab_data::classification::load_tsv;
use rnnlab_data::timeseries::{Missing, Scaler, Series};
use rnnlab_data::tokenizer::AnyTokenizer;
use rnnlab_models::{RecurrentConfig, StateDict};
use rnnlab_tasks::sentiment::SentimentExperiment;
use rnnlab_tasks::training::load_model;

fn cases() -> u32 {
    std::env::var("RNNLAB_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000)
}

fn datasets() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../datasets")
}

/// Valid seed files, each cut to a few KiB (mutations of them reach deeper than noise), read
/// once.
fn seeds() -> &'static [Vec<u8>] {
    static SEEDS: std::sync::OnceLock<Vec<Vec<u8>>> = std::sync::OnceLock::new();
    SEEDS.get_or_init(read_seeds)
}

fn read_seeds() -> Vec<Vec<u8>> {
    let read = |p: &str| {
        let mut b = std::fs::read(datasets().join(p)).unwrap();
        b.truncate(4096);
        b
    };
    let tokenizer = {
        let t = rnnlab_data::tokenizer::CharTokenizer::fit(
            "hello, world",
            rnnlab_data::tokenizer::UnknownPolicy::Error,
        );
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.json");
        AnyTokenizer::Char(t).save(&p).unwrap();
        std::fs::read(p).unwrap()
    };
    vec![
        read("timeseries/airline_passengers.csv"),
        read("speech/fsdd/recordings/0_george_0.wav"),
        b"good film\t1\nbad film\t0\n".to_vec(),
        b"task = \"sentiment\"\n[model]\nd_hidden = 8\n[data]\nformat = \"tsv\"\n".to_vec(),
        br#"{"kind":"zscore","columns":["a"],"offset":[1.0],"scale":[2.0]}"#.to_vec(),
        tokenizer,
    ]
}

/// Arbitrary bytes, or a seed with bytes flipped, inserted, deleted or the tail cut.
fn inputs() -> impl Strategy<Value = Vec<u8>> {
    let noise = proptest::collection::vec(any::<u8>(), 0..512);
    let mutated = (
        0..seeds().len(),
        proptest::collection::vec((any::<usize>(), any::<u8>(), 0..4u8), 1..8),
    )
        .prop_map(|(i, edits)| {
            let mut b = seeds()[i].clone();
            for (at, byte, kind) in edits {
                let at = if b.is_empty() { 0 } else { at % b.len() };
                match kind {
                    0 if !b.is_empty() => b[at] = byte,
                    1 => b.insert(at, byte),
                    2 if !b.is_empty() => {
                        b.remove(at);
                    }
                    _ => b.truncate(at),
                }
            }
            b
        });
    prop_oneof![noise, mutated]
}

/// Writes `bytes` to a fresh file named `name` and calls `read` on it.
fn with_file<T>(name: &str, bytes: &[u8], read: impl FnOnce(&Path) -> T) -> T {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).unwrap();
    read(&path)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    #[test]
    fn text_and_table_readers_never_panic(bytes in inputs()) {
        with_file("d.tsv", &bytes, |p| drop(load_tsv(p, &["0", "1"])));
        with_file("s.csv", &bytes, |p| {
            drop(Series::from_csv(p, "Month"));
            for missing in [Missing::Error, Missing::Interpolate, Missing::Ffill, Missing::Drop] {
                drop(Series::read(p, "Month", Some(&["#Passengers".to_string()]), missing));
            }
        });
    }

    #[test]
    fn artefact_loaders_never_panic(bytes in inputs()) {
        with_file("tokenizer.json", &bytes, |p| drop(AnyTokenizer::load(p)));
        with_file("scaler.json", &bytes, |p| drop(Scaler::load(p)));
        with_file("w.safetensors", &bytes, |p| drop(StateDict::from_file(p)));
        with_file("w.pt", &bytes, |p| drop(StateDict::from_file(p)));
        with_file("a.wav", &bytes, |p| drop(read_wav(p)));
        let mut model = RecurrentConfig::new(rnnlab_models::CellType::Gru, 2, 3).init(&Device::flex());
        with_file("model.bpk", &bytes, |p| drop(load_model(&mut model, p)));
    }

    #[test]
    fn configs_and_overrides_never_panic(
        bytes in inputs(),
        key in "[a-z_.]{0,24}",
        value in "[ -~]{0,16}",
    ) {
        with_file("e.toml", &bytes, |p| {
            drop(rnnlab_tasks::config::resolve::<SentimentExperiment>(Some(p), &[]));
            drop(rnnlab_tasks::config::resolve::<SentimentExperiment>(
                Some(p),
                &[format!("{key}={value}")],
            ));
        });
    }
}
