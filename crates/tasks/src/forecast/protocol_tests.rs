//! The long-horizon protocol's window arithmetic on ETTh1 (`experiments/forecast-etth1-long.toml`),
//! against the LTSF code's (`Dataset_ETT_hour`): borders 0 / 8640 − L / 11520 − L, windows
//! `len − L − H + 1` per split, every test window scored.

use std::path::PathBuf;

use burn::data::dataset::Dataset;

use super::config::ForecastExperiment;
use super::data::prepare;
use super::score::test_origins;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[test]
fn etth1_long_horizon_windows_are_the_ltsf_ones() {
    let file = repo().join("experiments/forecast-etth1-long.toml");
    let data = repo().join("datasets/timeseries/ETTh1.csv");
    for h in [96, 192, 336, 720] {
        let overrides = [
            format!("data.horizon={h}"),
            format!("data.path={}", data.display()),
        ];
        let (e, _) = crate::config::resolve::<ForecastExperiment>(Some(&file), &overrides).unwrap();
        let l = e.data.lookback;
        assert_eq!(l, 96);
        let p = prepare(&e, None).unwrap();
        let s = &p.splits;
        assert_eq!(s.bounds, [8640, 11520, 14400]);
        // LTSF: train rows [0, 8640), valid [8640 − L, 11520), test [11520 − L, 14400), each
        // with len − L − H + 1 windows at stride 1.
        assert_eq!(s.train.len(), 8640 - l - h + 1, "H = {h}");
        assert_eq!(s.valid.len(), 11520 - (8640 - l) - l - h + 1, "H = {h}");
        assert_eq!(s.valid.target_rows().next(), Some(8640));
        let origins = test_origins(&e, &p);
        assert_eq!(origins.len(), 14400 - (11520 - l) - l - h + 1, "H = {h}");
        assert_eq!(origins.first(), Some(&11520));
        assert_eq!(origins.last(), Some(&(14400 - h)));
        // Scaled with the training rows' statistics: the training rows of every column have
        // mean 0 on the model's scale.
        let c = p.series.names().len();
        for col in 0..c {
            let mean: f64 = (0..8640)
                .map(|r| f64::from(p.model_values[r * c + col]))
                .sum::<f64>()
                / 8640.0;
            assert!(mean.abs() < 1e-4, "column {col}: {mean}");
        }
    }
}
