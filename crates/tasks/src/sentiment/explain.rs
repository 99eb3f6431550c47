//! Which tokens a prediction rests on: the attention weights with attention pooling, otherwise
//! occlusion (how much the predicted class's probability drops when the token is left out).

use burn::Tensor;
use burn::data::dataloader::batcher::Batcher;
use burn::prelude::Device;
use burn::tensor::activation::softmax;
use rnnlab_data::classification::{ClassBatcher, ClassItem};
use rnnlab_data::nb::LogCountRatios;

use super::SentimentClassifier;
use crate::metrics::read_floats;

/// A prediction for one sentence and the weight of each of its tokens.
#[derive(Clone, Debug)]
pub struct Explanation {
    /// Predicted class.
    pub label: usize,
    /// Probability of each class.
    pub probabilities: Vec<f32>,
    /// Each token with its weight, in sentence order.
    pub tokens: Vec<(String, f32)>,
    /// `attention` or `occlusion`.
    pub method: &'static str,
}

impl Explanation {
    /// The `k` tokens that weighed most, heaviest first.
    pub fn top(&self, k: usize) -> Vec<(String, f32)> {
        let mut sorted = self.tokens.clone();
        sorted.sort_by(|a, b| b.1.total_cmp(&a.1));
        sorted.truncate(k);
        sorted
    }
}

fn probabilities(logits: Tensor<2>) -> anyhow::Result<Vec<Vec<f32>>> {
    let [b, c] = logits.dims();
    let p = read_floats(softmax(logits, 1))?;
    Ok((0..b).map(|i| p[i * c..(i + 1) * c].to_vec()).collect())
}

/// `item` without its token `i` (and that token's pieces); with log-count ratios, the
/// features of the shorter sentence (its new bigram included).
fn dropped(item: &ClassItem, i: usize, ratios: Option<&LogCountRatios>) -> ClassItem {
    let keep = |j: &usize| *j != i;
    let ids: Vec<u32> = (0..item.ids.len())
        .filter(keep)
        .map(|j| item.ids[j])
        .collect();
    ClassItem {
        features: ratios.map(|r| r.features(&ids)).unwrap_or_default(),
        ids,
        label: item.label,
        pieces: (0..item.pieces.len())
            .filter(keep)
            .map(|j| item.pieces[j].clone())
            .collect(),
    }
}

/// Classifies `item` (one sentence; `words` names each of its ids; `ratios`, when the model
/// takes log-count ratios) and weighs its tokens.
pub fn explain(
    model: &SentimentClassifier,
    item: ClassItem,
    words: &[String],
    ratios: Option<&LogCountRatios>,
    pad_id: u32,
    device: &Device,
) -> anyhow::Result<Explanation> {
    let batcher = ClassBatcher { pad_id };
    let n = item.ids.len();
    let out = model.forward(batcher.batch(vec![item.clone()], device));
    let probs = probabilities(out.logits)?.remove(0);
    let label = super::score::argmax(std::slice::from_ref(&probs))[0];
    let (weights, method) = match out.weights {
        Some(w) => (read_floats(w)?, "attention"),
        None if n > 1 => {
            let without: Vec<ClassItem> = (0..n).map(|i| dropped(&item, i, ratios)).collect();
            let occluded = probabilities(model.forward(batcher.batch(without, device)).logits)?;
            (
                occluded.iter().map(|p| probs[label] - p[label]).collect(),
                "occlusion",
            )
        }
        None => (vec![1.0], "occlusion"),
    };
    Ok(Explanation {
        label,
        probabilities: probs,
        tokens: words.iter().cloned().zip(weights).collect(),
        method,
    })
}
