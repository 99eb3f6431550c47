//! Tests of [`SentimentClassifier`](super::SentimentClassifier): pooling and padding, token
//! features, subwords.

use burn::data::dataloader::batcher::Batcher;
use burn::optim::AdamConfig;
use rnnlab_data::classification::{ClassBatcher, ClassItem};
use rnnlab_models::CellType;

use super::*;
use crate::training::{Policy, Step};
use burn::train::TrainStep;

/// Class 1 iff token 3 occurs anywhere; padding must not change anything.
fn items() -> Vec<ClassItem> {
    (0..32)
        .map(|i| {
            let len = 2 + i % 5;
            let mut ids: Vec<u32> = (0..len).map(|j| 4 + ((i * 7 + j * 3) % 5) as u32).collect();
            let label = i % 2;
            if label == 1 {
                ids[(i / 2) % len] = 3;
            }
            ClassItem {
                ids,
                label,
                ..ClassItem::default()
            }
        })
        .collect()
}

#[test]
fn every_pooling_learns_a_keyword_task_and_ignores_padding() {
    for (pooling, bi, buckets) in [
        (Pooling::Last, true, 0),
        (Pooling::Mean, false, 0),
        (Pooling::Attention, true, 0),
        (Pooling::Mean, false, 37),
    ] {
        let device = Device::flex().autodiff();
        device.seed(1);
        let rnn = RecurrentConfig::new(CellType::Gru, 8, 12).with_bidirectional(bi);
        let mut model = Step::new(
            SentimentConfig::new(10, 2, rnn, pooling)
                .with_ngram_buckets(buckets)
                .try_init(&device)
                .unwrap(),
            Policy::new(1.0, false),
        );
        let batch = ClassBatcher { pad_id: 0 }.batch(items(), &device);
        let mut optim = AdamConfig::new().init();
        for _ in 0..80 {
            let out = TrainStep::step(&model, batch.clone());
            model = model.optimize(&mut optim, 0.03.into(), out.grads);
        }
        let valid = model.model.valid();
        let out = valid
            .forward_classification(ClassBatcher { pad_id: 0 }.batch(items(), &Device::flex()));
        let predicted: Vec<i64> = out
            .output
            .argmax(1)
            .reshape([32])
            .into_data()
            .convert::<i64>()
            .try_to_vec::<i64>()
            .unwrap();
        let correct = predicted
            .iter()
            .enumerate()
            .filter(|(i, p)| **p == (*i % 2) as i64)
            .count();
        assert!(correct >= 30, "{pooling:?}: {correct}/32");
        // One sentence alone gives the same logits as inside the padded batch.
        let one = ClassBatcher { pad_id: 0 }.batch(vec![items()[2].clone()], &Device::flex());
        let alone = valid.forward(one);
        let full = ClassBatcher { pad_id: 0 }.batch(items(), &Device::flex());
        let batched = valid.forward(full);
        let a: Vec<f32> = alone.logits.into_data().try_to_vec::<f32>().unwrap();
        let b: Vec<f32> = batched
            .logits
            .narrow(0, 2, 1)
            .into_data()
            .try_to_vec::<f32>()
            .unwrap();
        for (x, y) in a.iter().zip(&b) {
            assert!(
                (x - y).abs() < 1e-4,
                "{pooling:?}: padding changed the logits"
            );
        }
        if let Some(bag) = &valid.bag {
            let moved: f32 = bag.bigrams.weight.val().abs().sum().into_scalar();
            assert!(moved > 0.0, "the bag trained from zero");
        }
        if pooling == Pooling::Attention {
            let w: Vec<f32> = batched
                .weights
                .unwrap()
                .narrow(0, 2, 1)
                .into_data()
                .try_to_vec::<f32>()
                .unwrap();
            let len = items()[2].ids.len();
            assert!((w[..len].iter().sum::<f32>() - 1.0).abs() < 1e-5);
            assert!(w[len..].iter().all(|&v| v == 0.0), "no weight on padding");
        }
    }
}

#[test]
fn token_features_reach_the_recurrent_stack() {
    // Every sentence has the same ids; only a feature of one of its tokens tells the class.
    let items: Vec<ClassItem> = (0..16)
        .map(|i| {
            let label = i % 2;
            let sign = if label == 1 { 1.0 } else { -1.0 };
            ClassItem {
                ids: vec![4, 5, 6],
                label,
                features: (0..3)
                    .map(|t| vec![if t == i % 3 { sign } else { 0.0 }])
                    .collect(),
                ..ClassItem::default()
            }
        })
        .collect();
    let device = Device::flex().autodiff();
    device.seed(2);
    let rnn = RecurrentConfig::new(CellType::Gru, 9, 8);
    let config = SentimentConfig::new(10, 2, rnn, Pooling::Mean).with_d_features(1);
    let mut model = Step::new(config.try_init(&device).unwrap(), Policy::new(1.0, false));
    assert_eq!(
        model.model.embedding.weight.dims(),
        [10, 8],
        "d_input − d_features"
    );
    let batch = ClassBatcher { pad_id: 0 }.batch(items.clone(), &device);
    let mut optim = AdamConfig::new().init();
    for _ in 0..60 {
        let out = TrainStep::step(&model, batch.clone());
        model = model.optimize(&mut optim, 0.03.into(), out.grads);
    }
    let out = model
        .model
        .valid()
        .forward(ClassBatcher { pad_id: 0 }.batch(items, &Device::flex()));
    let predicted: Vec<i64> = out
        .logits
        .argmax(1)
        .reshape([16])
        .into_data()
        .convert::<i64>()
        .try_to_vec::<i64>()
        .unwrap();
    let expected: Vec<i64> = (0..16).map(|i| i % 2).collect();
    assert_eq!(predicted, expected);
    let too_wide = SentimentConfig::new(
        10,
        2,
        RecurrentConfig::new(CellType::Gru, 4, 8),
        Pooling::Mean,
    )
    .with_d_features(4)
    .try_init(&Device::flex());
    assert_eq!(too_wide.unwrap_err().key, "d_features");
}

/// Sentences of three words whose class is the stem of one of them (`superb…` or
/// `dismal…`); the test keywords have suffixes training never saw, so the vocabulary maps
/// them to `<unk>` and only their pieces can tell the classes apart.
fn stems(suffixes: &[String], vocab: &mut Vec<String>, grow: bool) -> Vec<ClassItem> {
    let subwords = rnnlab_data::subwords::Subwords {
        buckets: 4096,
        min_n: 3,
        max_n: 5,
    };
    let fillers = ["the", "film", "was", "so", "very"];
    let mut out = Vec::new();
    for (i, suffix) in suffixes.iter().enumerate() {
        for (label, stem) in ["dismal", "superb"].into_iter().enumerate() {
            let keyword = format!("{stem}{suffix}");
            let mut words = vec![fillers[i % 5].to_string(), fillers[(i * 3 + 1) % 5].into()];
            words.insert(i % 3, keyword.clone());
            if grow && !vocab.contains(&keyword) {
                vocab.push(keyword);
            }
            let ids = words
                .iter()
                .map(|w| vocab.iter().position(|v| v == w).unwrap_or(1) as u32)
                .collect();
            out.push(ClassItem {
                ids,
                label,
                pieces: subwords.of_words(&words),
                ..ClassItem::default()
            });
        }
    }
    out
}

#[test]
fn subwords_classify_words_the_vocabulary_never_saw() {
    let mut vocab: Vec<String> = ["<pad>", "<unk>", "the", "film", "was", "so", "very"]
        .map(String::from)
        .to_vec();
    let seen: Vec<String> = ('a'..='p').map(String::from).collect();
    let unseen: Vec<String> = "qrstuvwx"
        .chars()
        .flat_map(|a| ['y', 'z'].map(|b| format!("{a}{b}")))
        .collect();
    let train = stems(&seen, &mut vocab, true);
    let test = stems(&unseen, &mut vocab, false);
    assert!(
        test.iter().all(|item| item.ids.contains(&1)),
        "test keywords are <unk>"
    );
    let device = Device::flex().autodiff();
    device.seed(3);
    let rnn = RecurrentConfig::new(CellType::Gru, 8, 12);
    let mut model = Step::new(
        SentimentConfig::new(vocab.len(), 2, rnn, Pooling::Mean)
            .with_subword_buckets(4096)
            .try_init(&device)
            .unwrap(),
        Policy::new(1.0, false),
    );
    let batch = ClassBatcher { pad_id: 0 }.batch(train, &device);
    assert_eq!(batch.pieces.as_ref().unwrap().dims()[..2], [32, 3]);
    let mut optim = AdamConfig::new().init();
    for _ in 0..100 {
        let out = TrainStep::step(&model, batch.clone());
        model = model.optimize(&mut optim, 0.03.into(), out.grads);
    }
    let valid = model.model.valid();
    let correct = |items: Vec<ClassItem>| {
        let n = items.len();
        let labels: Vec<usize> = items.iter().map(|i| i.label).collect();
        let out = valid.forward(ClassBatcher { pad_id: 0 }.batch(items, &Device::flex()));
        let predicted = out
            .logits
            .argmax(1)
            .reshape([n])
            .into_data()
            .convert::<i64>()
            .try_to_vec::<i64>()
            .unwrap();
        predicted
            .iter()
            .zip(&labels)
            .filter(|(p, l)| **p == **l as i64)
            .count()
    };
    let with = correct(test.clone());
    // Without pieces, each test pair is the same ids: one of the two is right, no more.
    let without = correct(
        test.into_iter()
            .map(|item| ClassItem {
                pieces: Vec::new(),
                ..item
            })
            .collect(),
    );
    assert_eq!(without, 16, "ids alone cannot tell the unseen words apart");
    assert!(
        with >= 28,
        "{with}/32 unseen keywords classified by their pieces"
    );
}
