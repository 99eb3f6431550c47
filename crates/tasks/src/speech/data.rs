//! The speech data: the `{digit}_{speaker}_{take}.wav` recordings of a folder, their split
//! (official or leave-one-speaker-out), their features (computed once per run, on both cores)
//! and the per-feature normaliser fitted on the training frames (the run's [`SpeechArtefacts`]).

use std::path::Path;

use anyhow::bail;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

use burn::data::dataloader::{DataLoader, DataLoaderBuilder};
use burn::data::dataset::InMemDataset;
use burn::prelude::Device;
use rnnlab_data::audio::{
    FeatureExtractor, Features, FrameBatch, FrameBatcher, FrameItem, read_wav,
};
use rnnlab_data::buckets::EpochBuckets;
use rnnlab_data::classification::{Split as Indices, bucket_by_length};
use rnnlab_data::timeseries::{Scaler, ScalerKind};

use super::config::{SpeechExperiment, Split, Target};
pub use super::recordings::{Recording, list, par_map, split};
pub use super::sequences::{Sample, Strings};
use crate::training::Loaders;

/// What a speech run fits on its training frames.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SpeechArtefacts {
    /// The per-feature normaliser.
    pub normalizer: Scaler,
}

/// A speech run's data.
pub struct SpeechData {
    /// Every recording.
    pub recordings: Vec<Recording>,
    /// Their train/validation/test indices.
    pub split: Indices,
    /// Each recording's normalised features.
    pub features: Vec<Features>,
    /// The digit strings of `target = "sequence"`, normalised.
    pub strings: Option<Strings>,
    /// The per-feature normaliser (fitted on the training frames, or the run's).
    pub normalizer: Scaler,
    /// The feature extractor (for `predict`).
    pub extractor: FeatureExtractor,
}

/// The normaliser's column names: `c0`… (MFCC) or `mel0`…, then `d_`, `dd_` for deltas.
fn columns(e: &SpeechExperiment) -> Vec<String> {
    let f = &e.data.features;
    let (prefix, n) = if f.n_mfcc == 0 {
        ("mel", f.n_mels)
    } else {
        ("c", f.n_mfcc)
    };
    let base: Vec<String> = (0..n).map(|i| format!("{prefix}{i}")).collect();
    let mut out = base.clone();
    if f.deltas {
        out.extend(base.iter().map(|c| format!("d_{c}")));
        out.extend(base.iter().map(|c| format!("dd_{c}")));
    }
    out
}

/// Lists, splits and featurises the recordings (and, for `target = "sequence"`, synthesises
/// and featurises the digit strings); fits the normaliser on the training frames (of the
/// strings when there are strings), or uses the run's.
pub fn read(e: &SpeechExperiment, run: Option<SpeechArtefacts>) -> anyhow::Result<SpeechData> {
    let extractor = FeatureExtractor::new(&e.data.features)?;
    let recordings = list(Path::new(&e.data.path))?;
    let split = split(&recordings, &e.data.split, e.data.valid_takes)?;
    let clips = par_map(&recordings, |r| read_wav(&r.path))?;
    let mut features = par_map(&(0..clips.len()).collect::<Vec<_>>(), |&i| {
        extractor.compute(&clips[i], &recordings[i].path)
    })?;
    let mut strings = match e.data.target {
        Target::Digit => None,
        Target::Sequence => Some(Strings::make(e, &recordings, &clips, &split, &extractor)?),
    };
    let normalizer = match run {
        Some(run) => run.normalizer,
        None => {
            let train: Vec<f32> = match &strings {
                Some(s) => s
                    .train
                    .iter()
                    .flat_map(|u| u.features.values.iter().copied())
                    .collect(),
                None => split
                    .train
                    .iter()
                    .flat_map(|&i| features[i].values.iter().copied())
                    .collect(),
            };
            let names = columns(e);
            let rows = train.len() / names.len();
            Scaler::fit(ScalerKind::Zscore, &names, &train, 0..rows)
        }
    };
    for f in &mut features {
        normalizer.transform(&mut f.values);
    }
    if let Some(s) = &mut strings {
        s.normalise(&normalizer);
    }
    Ok(SpeechData {
        recordings,
        split,
        features,
        strings,
        normalizer,
        extractor,
    })
}

/// The normaliser of a run from before `artefacts.json` (`normalizer.json`), if `dir` has one.
pub fn legacy(dir: &Path) -> Option<anyhow::Result<SpeechArtefacts>> {
    let path = dir.join("normalizer.json");
    path.is_file().then(|| {
        Ok(SpeechArtefacts {
            normalizer: Scaler::load(&path)?,
        })
    })
}

/// Checks a run's normaliser against its config (the features it makes).
pub fn check(e: &SpeechExperiment, artefacts: &SpeechArtefacts) -> anyhow::Result<()> {
    let (saved, names) = (&artefacts.normalizer.columns, columns(e));
    if *saved != names {
        let at = saved.iter().zip(&names).position(|(a, b)| a != b);
        bail!(
            "the normaliser's features ({} from {:?}) are not those this run's config makes \
             ({} from {:?}){}",
            saved.len(),
            saved.first().map_or("", String::as_str),
            names.len(),
            names.first().map_or("", String::as_str),
            at.map_or(String::new(), |i| format!(
                "; feature {i} is {:?}, the config's {:?}",
                saved[i], names[i]
            ))
        );
    }
    Ok(())
}

impl SpeechData {
    /// What the run saves (the normaliser).
    pub fn artefacts(&self) -> SpeechArtefacts {
        SpeechArtefacts {
            normalizer: self.normalizer.clone(),
        }
    }

    /// The recordings of `indices` with their digits, in that order.
    pub fn items(&self, indices: &[usize]) -> Vec<FrameItem> {
        indices
            .iter()
            .map(|&i| FrameItem {
                features: self.features[i].clone(),
                targets: vec![self.recordings[i].digit],
            })
            .collect()
    }

    /// The training recordings' features with their digits (what the baselines fit on).
    pub fn training_recordings(&self) -> Vec<(&Features, usize)> {
        self.split
            .train
            .iter()
            .map(|&i| (&self.features[i], self.recordings[i].digit as usize))
            .collect()
    }

    /// Digit strings with CTC targets (digit `d` → class `d + 1`), in that order.
    pub fn string_items(&self, samples: &[Sample]) -> Vec<FrameItem> {
        samples
            .iter()
            .map(|u| FrameItem {
                features: u.features.clone(),
                targets: u.digits.iter().map(|d| d + 1).collect(),
            })
            .collect()
    }

    /// How the split was made, for the report.
    pub fn describe_split(&self, split: &Split) -> String {
        let what = match split {
            Split::Official => "official split: takes 0-4 tested".to_string(),
            Split::Speaker(name) => format!("speaker {name} left out"),
        };
        format!(
            "{what}; {}/{}/{} train/validation/test of {} recordings",
            self.split.train.len(),
            self.split.valid.len(),
            self.split.test.len(),
            self.recordings.len()
        )
    }
}

/// Length-bucketed training batches (drawn again every epoch from the run's seed) and
/// validation batches.
pub fn loaders(
    e: &SpeechExperiment,
    data: &SpeechData,
    device: &Device,
) -> anyhow::Result<Loaders<FrameBatch>> {
    let b = e.data.batch_size;
    let (train, valid) = match &data.strings {
        Some(s) => (data.string_items(&s.train), data.string_items(&s.valid)),
        None => (data.items(&data.split.train), data.items(&data.split.valid)),
    };
    let steps_per_epoch = train.len().div_ceil(b);
    Ok(Loaders {
        train: Arc::new(EpochBuckets::new(
            train,
            |i| i.features.frames,
            FrameBatcher,
            b,
            e.train.seed,
            device,
        )),
        valid: frame_loader(valid, b, Some(0), device),
        steps_per_epoch,
    })
}

/// Batches of `items` on `device`: in their order, or length-bucketed with `bucket_seed`.
pub fn frame_loader(
    mut items: Vec<FrameItem>,
    batch_size: usize,
    bucket_seed: Option<u64>,
    device: &Device,
) -> Arc<dyn DataLoader<FrameBatch>> {
    if let Some(seed) = bucket_seed {
        bucket_by_length(&mut items, |i| i.features.frames, batch_size, seed);
    }
    DataLoaderBuilder::new(FrameBatcher)
        .set_device(device.clone())
        .batch_size(batch_size)
        .build(InMemDataset::new(items))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequence_runs_train_on_strings_with_ctc_targets() {
        let mut e = SpeechExperiment::default();
        e.data.path = rnnlab_data::shipped_datasets_dir()
            .join("speech/fsdd/recordings")
            .display()
            .to_string();
        e.data.target = Target::Sequence;
        e.data.batch_size = 4;
        let q = &mut e.data.sequences;
        (q.train, q.valid, q.test) = (10, 3, 2);
        let data = read(&e, None).unwrap();
        let loaders = loaders(&e, &data, &Device::flex()).unwrap();
        assert_eq!(loaders.steps_per_epoch, 3);
        let batches: Vec<FrameBatch> = loaders.train.iter().map(Result::unwrap).collect();
        assert_eq!(batches.iter().map(|b| b.lengths.len()).sum::<usize>(), 10);
        let strings = data.strings.as_ref().unwrap();
        let mut lengths: Vec<usize> = batches
            .iter()
            .flat_map(|b| b.target_lengths.clone())
            .collect();
        let mut expected: Vec<usize> = strings.train.iter().map(|s| s.digits.len()).collect();
        lengths.sort_unstable();
        expected.sort_unstable();
        assert_eq!(lengths, expected, "one target per digit");
        for b in &batches {
            let y: Vec<i64> = b
                .targets
                .clone()
                .into_data()
                .convert::<i64>()
                .try_to_vec()
                .unwrap();
            let s = b.targets.dims()[1];
            for (row, &n) in b.target_lengths.iter().enumerate() {
                assert!(
                    y[row * s..row * s + n]
                        .iter()
                        .all(|&c| (1..=10).contains(&c)),
                    "{y:?}"
                );
            }
        }
        assert_eq!(strings.test.len(), 2);
        assert!(strings.test.iter().all(|s| s.clip.is_some()));
    }
}
