//! Labelled sentences: loaders (MR, `text<TAB>label`), seeded stratified splits, and padded
//! batches with lengths and a mask (optionally bucketed by length).
//!
//! (Over 400 lines with its tests; the code is under 330.)

use std::path::Path;

use burn::Tensor;
use burn::data::dataloader::batcher::Batcher;
use burn::data::dataset::{Dataset, DatasetError};
use burn::prelude::Device;
use burn::tensor::{Bool, Int, TensorData};
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;

use crate::error::DataError;
use crate::io::read_text;
use crate::tokenizer::Tokenizer;

/// A sentence and its class index.
#[derive(Clone, Debug, PartialEq)]
pub struct Labelled {
    /// The text, trimmed.
    pub text: String,
    /// Index into the declared label set.
    pub label: usize,
}

/// MR (sentence polarity v1.0): `rt-polarity.neg` (label 0) then `rt-polarity.pos` (label 1)
/// from `dir`, one snippet per line, the trailing space before each newline removed.
pub fn load_mr(dir: &Path) -> Result<Vec<Labelled>, DataError> {
    let mut out = Vec::new();
    for (file, label) in [("rt-polarity.neg", 0), ("rt-polarity.pos", 1)] {
        let path = dir.join(file);
        for (i, line) in read_text(&path)?.lines().enumerate() {
            let text = line.trim();
            if text.is_empty() {
                return Err(
                    DataError::in_file(&path, "empty line; expected one snippet per line")
                        .at_line(i + 1),
                );
            }
            out.push(Labelled {
                text: text.to_string(),
                label,
            });
        }
    }
    Ok(out)
}

/// `text<TAB>label` lines; every label must be one of `labels` (its index is the class).
pub fn load_tsv(path: &Path, labels: &[&str]) -> Result<Vec<Labelled>, DataError> {
    read_text(path)?
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, line)| {
            let (text, label) = line.rsplit_once('\t').ok_or_else(|| {
                DataError::in_file(path, "no tab; expected `text<TAB>label`").at_line(i + 1)
            })?;
            if text.trim().is_empty() {
                return Err(DataError::in_file(
                    path,
                    "no text before the tab; expected `text<TAB>label`",
                )
                .at_line(i + 1));
            }
            Ok(Labelled {
                text: text.trim().to_string(),
                label: label_index(path, i + 1, label.trim(), labels)?,
            })
        })
        .collect()
}

fn label_index(path: &Path, line: usize, label: &str, labels: &[&str]) -> Result<usize, DataError> {
    labels.iter().position(|l| *l == label).ok_or_else(|| {
        DataError::in_file(path, format!("label `{label}` is not one of {labels:?}")).at_line(line)
    })
}

/// Indices of a seeded stratified train/validation/test split.
#[derive(Clone, Debug, PartialEq)]
pub struct Split {
    /// Training indices.
    pub train: Vec<usize>,
    /// Validation indices.
    pub valid: Vec<usize>,
    /// Test indices.
    pub test: Vec<usize>,
}

/// Splits each class on its own (shuffled with `seed`): `round(valid · n_c)` of class `c` go to
/// validation, `round(test · n_c)` to test, the rest to training, so every split keeps the class
/// balance. Deterministic for a given seed.
pub fn stratified_split(
    labels: &[usize],
    valid: f64,
    test: f64,
    seed: u64,
) -> Result<Split, DataError> {
    if !(valid >= 0.0 && test > 0.0 && valid + test < 1.0) {
        return Err(DataError::invalid(format!(
            "split fractions valid={valid} test={test}: need valid >= 0, test > 0, valid + test < 1"
        )));
    }
    let mut split = Split {
        train: Vec::new(),
        valid: Vec::new(),
        test: Vec::new(),
    };
    for class in shuffled_classes(labels, seed) {
        let n = class.len() as f64;
        let (n_test, n_valid) = ((test * n).round() as usize, (valid * n).round() as usize);
        split.test.extend(&class[..n_test]);
        split.valid.extend(&class[n_test..n_test + n_valid]);
        split.train.extend(&class[n_test + n_valid..]);
    }
    for part in [&mut split.train, &mut split.valid, &mut split.test] {
        part.sort_unstable();
    }
    Ok(split)
}

fn shuffled_classes(labels: &[usize], seed: u64) -> Vec<Vec<usize>> {
    let n_classes = labels.iter().max().map_or(0, |m| m + 1);
    let mut classes = vec![Vec::new(); n_classes];
    for (i, &l) in labels.iter().enumerate() {
        classes[l].push(i);
    }
    let mut rng = StdRng::seed_from_u64(seed);
    for class in &mut classes {
        class.shuffle(&mut rng);
    }
    classes
}

/// A tokenised sentence.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ClassItem {
    /// Token ids (at least one).
    pub ids: Vec<u32>,
    /// Class index.
    pub label: usize,
    /// Per token, its subword buckets ([`Subwords::pieces`](crate::subwords::Subwords::pieces),
    /// none 0); empty when the model uses no subwords, else one list per id.
    pub pieces: Vec<Vec<u32>>,
    /// Per token, dense input features of one width (e.g. the log-count ratios of
    /// [`crate::nb::LogCountRatios`]); empty when the model takes none, else one row per id.
    pub features: Vec<Vec<f32>>,
}

/// Tokenised sentences, optionally reordered so that consecutive items have similar lengths.
#[derive(Clone, Debug)]
pub struct ClassDataset {
    items: Vec<ClassItem>,
}

impl ClassDataset {
    /// The items as they are (each with at least one id).
    pub fn from_items(items: Vec<ClassItem>) -> Self {
        Self { items }
    }

    /// Tokenises `examples[indices]`; an empty encoding becomes one `pad_id` token (length 1).
    pub fn new(
        examples: &[Labelled],
        indices: &[usize],
        tokenizer: &dyn Tokenizer,
        pad_id: u32,
    ) -> Result<Self, DataError> {
        let items = indices
            .iter()
            .map(|&i| {
                let mut ids = tokenizer.encode(&examples[i].text)?;
                if ids.is_empty() {
                    ids.push(pad_id);
                }
                Ok(ClassItem {
                    ids,
                    label: examples[i].label,
                    ..ClassItem::default()
                })
            })
            .collect::<Result<_, DataError>>()?;
        Ok(Self { items })
    }

    /// Length bucketing: shuffles with `seed`, sorts by length inside chunks of
    /// `50 · batch_size` items, then shuffles the order of the resulting batches. Iterate it
    /// without the loader's own shuffle so batches keep their low padding.
    pub fn bucket_by_length(mut self, batch_size: usize, seed: u64) -> Self {
        bucket_by_length(&mut self.items, |item| item.ids.len(), batch_size, seed);
        self
    }

    /// The items, in their current order.
    pub fn into_items(self) -> Vec<ClassItem> {
        self.items
    }

    /// Total padding (`Σ (max length − length)`) over consecutive batches of `batch_size`.
    pub fn padding(&self, batch_size: usize) -> usize {
        self.items
            .chunks(batch_size.max(1))
            .map(|b| {
                let max = b.iter().map(|i| i.ids.len()).max().unwrap_or(0);
                b.iter().map(|i| max - i.ids.len()).sum::<usize>()
            })
            .sum()
    }
}

/// Orders `items` so that consecutive batches of `batch_size` hold items of similar `len`:
/// shuffled with `seed`, sorted within windows of 50 batches, then the full batches shuffled
/// (a short last batch stays last).
pub fn bucket_by_length<T: Clone>(
    items: &mut Vec<T>,
    len: impl Fn(&T) -> usize,
    batch_size: usize,
    seed: u64,
) {
    let mut rng = StdRng::seed_from_u64(seed);
    items.shuffle(&mut rng);
    for chunk in items.chunks_mut(50 * batch_size.max(1)) {
        chunk.sort_by_key(|item| len(item));
    }
    let mut batches: Vec<Vec<T>> = items.chunks(batch_size.max(1)).map(<[T]>::to_vec).collect();
    // A short last batch stays last, or it would shift every later batch boundary.
    let full =
        batches.len() - usize::from(batches.last().is_some_and(|b| b.len() < batch_size.max(1)));
    batches[..full].shuffle(&mut rng);
    *items = batches.into_iter().flatten().collect();
}

impl Dataset<ClassItem> for ClassDataset {
    fn get(&self, index: usize) -> Result<ClassItem, DatasetError> {
        self.items.get(index).cloned().ok_or_else(|| {
            DatasetError::new(DataError::invalid(format!(
                "item {index} out of range: there are {}",
                self.items.len()
            )))
        })
    }

    fn len(&self) -> usize {
        self.items.len()
    }
}

/// A padded batch of sentences.
#[derive(Clone, Debug)]
pub struct ClassBatch {
    /// Token ids `[B, T_max]`, padded with the pad id.
    pub tokens: Tensor<2, Int>,
    /// Each sentence's length (for `forward_with_lengths`).
    pub lengths: Vec<usize>,
    /// `[B, T_max]`, true on real tokens.
    pub mask: Tensor<2, Bool>,
    /// Class indices `[B]`.
    pub labels: Tensor<1, Int>,
    /// Subword buckets `[B, T_max, K_max]` (K_max: the most pieces of a token in the batch),
    /// 0 on padding; `None` when the items carry no pieces.
    pub pieces: Option<Tensor<3, Int>>,
    /// Per-token features `[B, T_max, F]`, 0 on padding; `None` when the items carry none.
    pub features: Option<Tensor<3>>,
}

/// Pads [`ClassItem`]s to the longest in the batch.
#[derive(Clone, Debug)]
pub struct ClassBatcher {
    /// The id used for padding.
    pub pad_id: u32,
}

impl Batcher<ClassItem, ClassBatch> for ClassBatcher {
    fn batch(&self, items: Vec<ClassItem>, device: &Device) -> ClassBatch {
        let b = items.len();
        let t = items.iter().map(|i| i.ids.len()).max().unwrap_or(0);
        let mut tokens = vec![self.pad_id as i64; b * t];
        let mut mask = vec![false; b * t];
        for (row, item) in items.iter().enumerate() {
            for (col, &id) in item.ids.iter().enumerate() {
                tokens[row * t + col] = id as i64;
                mask[row * t + col] = true;
            }
        }
        let labels: Vec<i64> = items.iter().map(|i| i.label as i64).collect();
        let k = items
            .iter()
            .flat_map(|i| i.pieces.iter().map(Vec::len))
            .max()
            .unwrap_or(0);
        let pieces = (k > 0).then(|| {
            let mut pieces = vec![0i64; b * t * k];
            for (row, item) in items.iter().enumerate() {
                for (col, of_token) in item.pieces.iter().enumerate() {
                    for (j, &p) in of_token.iter().enumerate() {
                        pieces[(row * t + col) * k + j] = i64::from(p);
                    }
                }
            }
            Tensor::from_data(TensorData::new(pieces, [b, t, k]), device)
        });
        let f = items
            .iter()
            .flat_map(|i| i.features.first().map(Vec::len))
            .max()
            .unwrap_or(0);
        let features = (f > 0).then(|| {
            let mut features = vec![0f32; b * t * f];
            for (row, item) in items.iter().enumerate() {
                for (col, of_token) in item.features.iter().enumerate() {
                    let at = (row * t + col) * f;
                    features[at..at + of_token.len()].copy_from_slice(of_token);
                }
            }
            Tensor::from_data(TensorData::new(features, [b, t, f]), device)
        });
        ClassBatch {
            pieces,
            features,
            tokens: Tensor::from_data(TensorData::new(tokens, [b, t]), device),
            lengths: items.iter().map(|i| i.ids.len()).collect(),
            mask: Tensor::from_data(TensorData::new(mask, [b, t]), device),
            labels: Tensor::from_data(TensorData::new(labels, [b]), device),
        }
    }
}

#[cfg(test)]
mod tests {
    use burn::data::dataloader::DataLoaderBuilder;

    use super::*;
    use crate::shipped_datasets_dir;
    use crate::tokenizer::{WordConfig, WordTokenizer};

    fn mr() -> Vec<Labelled> {
        load_mr(&shipped_datasets_dir().join("sentiment/mr")).unwrap()
    }

    #[test]
    fn mr_loads_balanced_without_trailing_spaces() {
        let data = mr();
        assert_eq!(data.len(), 10_662);
        assert_eq!(data.iter().filter(|e| e.label == 1).count(), 5_331);
        assert!(
            data.iter()
                .all(|e| !e.text.ends_with(' ') && !e.text.is_empty())
        );
    }

    #[test]
    fn stratified_split_keeps_balance_and_is_seeded() {
        let labels: Vec<usize> = mr().iter().map(|e| e.label).collect();
        let split = stratified_split(&labels, 0.1, 0.1, 42).unwrap();
        assert_eq!(
            (split.train.len(), split.valid.len(), split.test.len()),
            (8_530, 1_066, 1_066)
        );
        assert_eq!(split.test.iter().filter(|&&i| labels[i] == 1).count(), 533);
        assert_eq!(stratified_split(&labels, 0.1, 0.1, 42).unwrap(), split);
        assert_ne!(
            stratified_split(&labels, 0.1, 0.1, 7).unwrap().test,
            split.test
        );
        let mut all: Vec<usize> = split
            .train
            .iter()
            .chain(&split.valid)
            .chain(&split.test)
            .copied()
            .collect();
        all.sort_unstable();
        assert_eq!(all, (0..labels.len()).collect::<Vec<_>>());
    }

    #[test]
    fn padded_batches_with_lengths_mask_and_bucketing() {
        let data = mr();
        let tok = WordTokenizer::fit(data.iter().map(|e| e.text.as_str()), &WordConfig::default());
        let split = stratified_split(
            &data.iter().map(|e| e.label).collect::<Vec<_>>(),
            0.1,
            0.1,
            42,
        )
        .unwrap();
        let train = ClassDataset::new(&data, &split.train, &tok, 0).unwrap();
        let bucketed = train.clone().bucket_by_length(64, 3);
        assert_eq!(bucketed.len(), train.len());
        let (before, after) = (train.padding(64), bucketed.padding(64));
        assert!(
            after * 5 < before,
            "bucketing cuts padding by 5x or more: {before} -> {after}"
        );
        let loader = DataLoaderBuilder::new(ClassBatcher { pad_id: 0 })
            .set_device(Device::flex())
            .batch_size(64)
            .build(bucketed);
        let batch = loader.iter().next().unwrap().unwrap();
        let [b, t] = batch.tokens.dims();
        assert_eq!((b, t), (64, *batch.lengths.iter().max().unwrap()));
        let mask: Vec<bool> = batch
            .mask
            .into_data()
            .convert::<bool>()
            .try_to_vec()
            .unwrap();
        for (row, &len) in batch.lengths.iter().enumerate() {
            assert_eq!(
                mask[row * t..(row + 1) * t].iter().filter(|&&m| m).count(),
                len
            );
        }
    }

    #[test]
    fn pieces_pad_to_the_longest_token_and_longest_sentence() {
        let item = |ids: Vec<u32>, pieces: Vec<Vec<u32>>| ClassItem {
            ids,
            label: 1,
            pieces,
            ..ClassItem::default()
        };
        let items = vec![
            item(vec![5, 6], vec![vec![7, 8, 9], vec![4]]),
            item(vec![3], vec![vec![2, 2]]),
        ];
        let batch = ClassBatcher { pad_id: 0 }.batch(items, &Device::flex());
        let pieces = batch
            .pieces
            .expect("items with pieces give a pieces tensor");
        assert_eq!(pieces.dims(), [2, 2, 3]);
        let flat: Vec<i64> = pieces.into_data().convert::<i64>().try_to_vec().unwrap();
        assert_eq!(flat, [7, 8, 9, 4, 0, 0, 2, 2, 0, 0, 0, 0]);
        let plain = ClassBatcher { pad_id: 0 }.batch(
            vec![ClassItem {
                ids: vec![1],
                ..ClassItem::default()
            }],
            &Device::flex(),
        );
        assert!(plain.pieces.is_none());
        assert!(plain.features.is_none());
    }

    #[test]
    fn features_pad_with_zeros_to_the_longest_sentence() {
        let item = |ids: Vec<u32>, features: Vec<Vec<f32>>| ClassItem {
            ids,
            features,
            ..ClassItem::default()
        };
        let items = vec![
            item(vec![5], vec![vec![0.5, -1.0]]),
            item(vec![3, 4], vec![vec![1.0, 2.0], vec![3.0, 4.0]]),
        ];
        let batch = ClassBatcher { pad_id: 0 }.batch(items, &Device::flex());
        let features = batch.features.expect("items with features give a tensor");
        assert_eq!(features.dims(), [2, 2, 2]);
        let flat: Vec<f32> = features.into_data().convert::<f32>().try_to_vec().unwrap();
        assert_eq!(flat, [0.5, -1.0, 0.0, 0.0, 1.0, 2.0, 3.0, 4.0]);
    }

    #[test]
    fn loader_errors_name_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let tsv = dir.path().join("data.tsv");
        std::fs::write(&tsv, "good film\tpos\nbad film\tneg\nodd film\tmaybe\n").unwrap();
        let err = load_tsv(&tsv, &["neg", "pos"]).unwrap_err().to_string();
        assert_eq!(
            err,
            format!(
                "{}:3: label `maybe` is not one of [\"neg\", \"pos\"]",
                tsv.display()
            )
        );
        std::fs::write(&tsv, "good film\tpos\nno tab here\n").unwrap();
        assert_eq!(
            load_tsv(&tsv, &["neg", "pos"]).unwrap_err().to_string(),
            format!("{}:2: no tab; expected `text<TAB>label`", tsv.display())
        );
        std::fs::write(&tsv, "good film\t1\nbad film\t0\n").unwrap();
        assert_eq!(
            load_tsv(&tsv, &["0", "1"]).unwrap()[1],
            Labelled {
                text: "bad film".into(),
                label: 0
            }
        );
        let missing = dir.path().join("nope");
        assert!(
            load_mr(&missing)
                .unwrap_err()
                .to_string()
                .contains("rt-polarity.neg: cannot read")
        );
    }
}
