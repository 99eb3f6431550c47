//! Batched beam search on the decoder's step API (width 1 is greedy decoding): every sentence
//! of a batch keeps `beam` hypotheses as rows of one decoder batch; a hypothesis ends at
//! `<eos>` or at its sentence's length limit, a sentence ends when it holds `beam` finished
//! hypotheses, and the best ranks by log-probability / ((5 + length) / 6)^α (GNMT's length
//! penalty; length counts `<eos>`).
//!
//! (Over 400 lines with its tests; the code is under 230.)

use burn::Tensor;
use burn::prelude::Device;
use burn::tensor::activation::log_softmax;
use burn::tensor::{Int, TensorData};
use rnnlab_models::RecurrentState;

use super::model::Seq2Seq;
use crate::metrics::read_floats as floats;
use rnnlab_data::translation::{BOS, EOS, PAD};

/// How to decode.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Decoding {
    /// Hypotheses kept per sentence (1 = greedy).
    pub beam: usize,
    /// GNMT length penalty α (0 = none).
    pub length_penalty: f64,
    /// Longest output, `<eos>` included; each sentence also stops at `2 · source + 5`.
    pub max_len: usize,
}

/// A decoded sentence.
#[derive(Clone, Debug, PartialEq)]
pub struct Translation {
    /// Target ids, without `<eos>`.
    pub tokens: Vec<u32>,
    /// Whether it ended with `<eos>` (else at the length limit).
    pub ended: bool,
    /// Its total log-probability.
    pub log_prob: f64,
    /// One row of source weights per output step (`<eos>` included; empty without attention).
    pub attention: Vec<Vec<f32>>,
}

/// GNMT's length penalty of an output of `len` steps.
fn penalty(len: usize, alpha: f64) -> f64 {
    ((5.0 + len as f64) / 6.0).powf(alpha)
}

/// Decodes each of `sources` (non-empty id sequences), in one batch.
pub fn decode(
    model: &Seq2Seq,
    sources: &[Vec<u32>],
    how: Decoding,
    device: &Device,
) -> anyhow::Result<Vec<Translation>> {
    let (n, k) = (sources.len(), how.beam.max(1));
    if n == 0 {
        return Ok(Vec::new());
    }
    let s = sources.iter().map(Vec::len).max().unwrap_or(1);
    let mut ids = vec![PAD as i64; n * s];
    for (i, src) in sources.iter().enumerate() {
        for (j, &t) in src.iter().enumerate() {
            ids[i * s + j] = t as i64;
        }
    }
    let lengths: Vec<usize> = sources.iter().map(Vec::len).collect();
    let limits: Vec<usize> = lengths
        .iter()
        .map(|&l| (2 * l + 5).min(how.max_len).max(1))
        .collect();
    let ints = |v: Vec<i64>| {
        let len = v.len();
        Tensor::<1, Int>::from_data(TensorData::new(v, [len]), device)
    };
    let source = Tensor::<2, Int>::from_data(TensorData::new(ids, [n, s]), device);
    let (memory, state) = model.encode(source, &lengths);
    let rows = n * k;
    let repeat = ints((0..rows).map(|r| (r / k) as i64).collect());
    let memory = memory.select(repeat.clone());
    let mut state = select_state(state, repeat);
    let mut feed = model.first_feed(rows, device);
    let mut tokens = vec![BOS; rows];
    // Only the first hypothesis of each sentence is alive at the start.
    let mut scores: Vec<f64> = (0..rows)
        .map(|r| if r % k == 0 { 0.0 } else { f64::NEG_INFINITY })
        .collect();
    let mut history: Vec<Vec<u32>> = vec![Vec::new(); rows];
    let mut attention: Vec<Vec<Vec<f32>>> = vec![Vec::new(); rows];
    let mut finished: Vec<Vec<(f64, Translation)>> = vec![Vec::new(); n];
    let mut done = vec![false; n];
    for t in 0.. {
        let input = model.embed(ints(tokens.iter().map(|&x| x as i64).collect()));
        let out = model.step(&memory, input, feed, state);
        let logp = log_softmax(model.logits(out.attentional.clone()), 1);
        let v = logp.dims()[1];
        let logp = floats(logp)?;
        let weights = out.weights.map(floats).transpose()?;
        let (mut parents, mut next, mut next_scores) = (
            vec![0usize; rows],
            vec![EOS; rows],
            vec![f64::NEG_INFINITY; rows],
        );
        for i in 0..n {
            if done[i] {
                continue;
            }
            let at_limit = t + 1 >= limits[i];
            let mut candidates: Vec<(f64, usize, u32)> = Vec::new();
            for row in (i * k..(i + 1) * k).filter(|&r| scores[r].is_finite()) {
                let lp = &logp[row * v..(row + 1) * v];
                candidates.extend(
                    lp.iter()
                        .enumerate()
                        .map(|(tok, &p)| (scores[row] + p as f64, row, tok as u32)),
                );
            }
            let top = (2 * k).min(candidates.len());
            if top < candidates.len() {
                candidates.select_nth_unstable_by(top, |a, b| b.0.total_cmp(&a.0));
                candidates.truncate(top);
            }
            candidates.sort_by(|a, b| b.0.total_cmp(&a.0));
            let mut alive = 0;
            for (rank, &(score, row, tok)) in candidates.iter().enumerate() {
                if tok == EOS || at_limit {
                    if rank < k {
                        let mut tokens = history[row].clone();
                        if tok != EOS {
                            tokens.push(tok);
                        }
                        let mut att = attention[row].clone();
                        if let Some(w) = &weights {
                            att.push(w[row * s..row * s + lengths[i]].to_vec());
                        }
                        let len = tokens.len() + 1;
                        let translation = Translation {
                            tokens,
                            ended: tok == EOS,
                            log_prob: score,
                            attention: att,
                        };
                        finished[i].push((score / penalty(len, how.length_penalty), translation));
                    }
                } else if alive < k {
                    let slot = i * k + alive;
                    (parents[slot], next[slot], next_scores[slot]) = (row, tok, score);
                    alive += 1;
                }
                if alive == k {
                    break;
                }
            }
            parents[i * k + alive..(i + 1) * k].fill(i * k);
            done[i] = at_limit || finished[i].len() >= k || alive == 0;
        }
        if done.iter().all(|&d| d) {
            break;
        }
        for i in (0..n).filter(|&i| done[i]) {
            for slot in i * k..(i + 1) * k {
                (parents[slot], next_scores[slot]) = (i * k, f64::NEG_INFINITY);
            }
        }
        let order = ints(parents.iter().map(|&p| p as i64).collect());
        state = select_state(out.state, order.clone());
        feed = out.attentional.select(0, order);
        let (old_history, old_attention) = (history, attention);
        history = parents
            .iter()
            .zip(&next)
            .map(|(&p, &tok)| [old_history[p].as_slice(), &[tok]].concat())
            .collect();
        attention = parents
            .iter()
            .map(|&p| {
                let mut a = old_attention[p].clone();
                if let Some(w) = &weights {
                    a.push(w[p * s..p * s + lengths[p / k]].to_vec());
                }
                a
            })
            .collect();
        tokens = next;
        scores = next_scores;
    }
    Ok(finished
        .into_iter()
        .map(|mut f| {
            f.sort_by(|a, b| b.0.total_cmp(&a.0));
            f.into_iter()
                .next()
                .map(|(_, t)| t)
                .expect("every sentence finishes at its length limit")
        })
        .collect())
}

/// Decodes many sentences in batches of `batch` sentences of similar length; the results are
/// in the order of `sources`.
pub fn decode_all(
    model: &Seq2Seq,
    sources: &[Vec<u32>],
    how: Decoding,
    batch: usize,
    device: &Device,
) -> anyhow::Result<Vec<Translation>> {
    let mut order: Vec<usize> = (0..sources.len()).collect();
    order.sort_by_key(|&i| sources[i].len());
    let mut out: Vec<Option<Translation>> = vec![None; sources.len()];
    for chunk in order.chunks(batch.max(1)) {
        let part: Vec<Vec<u32>> = chunk.iter().map(|&i| sources[i].clone()).collect();
        for (&i, t) in chunk.iter().zip(decode(model, &part, how, device)?) {
            out[i] = Some(t);
        }
    }
    Ok(out
        .into_iter()
        .map(|t| t.expect("every sentence is decoded"))
        .collect())
}

fn select_state(state: RecurrentState, rows: Tensor<1, Int>) -> RecurrentState {
    RecurrentState {
        hidden: state.hidden.select(1, rows.clone()),
        cell: state.cell.map(|c| c.select(1, rows)),
    }
}

#[cfg(test)]
mod tests {
    use burn::data::dataloader::batcher::Batcher;
    use rnnlab_models::{CellType, RecurrentConfig, Score};

    use super::*;
    use crate::translate::model::Seq2SeqConfig;
    use rnnlab_data::translation::{PairBatcher, PairItem};

    const V: usize = 6;

    fn model(cell: CellType, attention: Option<Score>) -> Seq2Seq {
        let device = Device::flex();
        crate::training::seeded_init(3, &device, |cpu| {
            let encoder = RecurrentConfig::new(cell, 5, 4).with_bidirectional(true);
            Seq2SeqConfig::new(7, V, encoder)
                .with_attention(attention)
                .try_init(cpu)
        })
        .unwrap()
    }

    /// The slow, obvious score: one sentence stepped token by token.
    fn log_prob(m: &Seq2Seq, source: &[u32], tokens: &[u32], ended: bool) -> f64 {
        let device = Device::flex();
        let ids: Vec<i64> = source.iter().map(|&t| t as i64).collect();
        let src = Tensor::<2, Int>::from_data(TensorData::new(ids, [1, source.len()]), &device);
        let (memory, mut state) = m.encode(src, &[source.len()]);
        let mut feed = m.first_feed(1, &device);
        let (mut previous, mut total) = (BOS, 0.0);
        let steps: Vec<u32> = tokens.iter().copied().chain(ended.then_some(EOS)).collect();
        for &tok in &steps {
            let one =
                Tensor::<1, Int>::from_data(TensorData::new(vec![previous as i64], [1]), &device);
            let out = m.step(&memory, m.embed(one), feed, state);
            let lp = floats(log_softmax(m.logits(out.attentional.clone()), 1)).unwrap();
            total += lp[tok as usize] as f64;
            (state, feed, previous) = (out.state, out.attentional, tok);
        }
        total
    }

    /// Every output `decode` could give with a length limit of `limit`, best first.
    fn exhaustive(m: &Seq2Seq, source: &[u32], limit: usize, alpha: f64) -> (Vec<u32>, f64) {
        let words: Vec<u32> = (0..V as u32).filter(|&t| t != EOS).collect();
        let mut best = (Vec::new(), f64::NEG_INFINITY, f64::NEG_INFINITY);
        let mut prefixes: Vec<Vec<u32>> = vec![Vec::new()];
        for len in 0..=limit {
            for p in &prefixes {
                let ended = len < limit;
                let lp = log_prob(m, source, p, ended);
                let score = lp / penalty(p.len() + 1, alpha);
                if score > best.2 {
                    best = (p.clone(), lp, score);
                }
            }
            prefixes = prefixes
                .iter()
                .flat_map(|p| words.iter().map(move |&w| [p.as_slice(), &[w]].concat()))
                .collect();
        }
        (best.0, best.1)
    }

    #[test]
    fn a_wide_beam_finds_the_best_output_of_an_exhaustive_search() {
        let device = Device::flex();
        for (cell, attention) in [
            (CellType::Gru, Some(Score::Additive)),
            (CellType::Lstm, Some(Score::General)),
            (CellType::Gru, None),
        ] {
            let m = model(cell, attention);
            for alpha in [0.0, 1.0] {
                let how = Decoding {
                    beam: 200,
                    length_penalty: alpha,
                    max_len: 3,
                };
                let sources = [vec![4u32, 5, 6], vec![6u32]];
                let got = decode(&m, &sources, how, &device).unwrap();
                for (src, t) in sources.iter().zip(&got) {
                    let (tokens, lp) = exhaustive(&m, src, 3, alpha);
                    assert_eq!(t.tokens, tokens, "{cell:?} {attention:?} α={alpha}");
                    assert!((t.log_prob - lp).abs() < 1e-4, "{} vs {lp}", t.log_prob);
                }
            }
        }
    }

    #[test]
    fn width_one_is_greedy_and_batches_decode_as_single_sentences() {
        let device = Device::flex();
        let m = model(CellType::Gru, Some(Score::Dot));
        let how = Decoding {
            beam: 1,
            length_penalty: 1.0,
            max_len: 6,
        };
        let sources = [vec![4u32, 5], vec![6u32, 6, 6, 5], vec![5u32]];
        let batched = decode(&m, &sources, how, &device).unwrap();
        for (src, t) in sources.iter().zip(&batched) {
            // Greedy, the obvious way: the most likely token at every step.
            let (mut tokens, mut ended) = (Vec::new(), false);
            while tokens.len() < (2 * src.len() + 5).min(6) {
                let next = (0..V as u32)
                    .map(|tok| {
                        let mut with = tokens.clone();
                        with.push(tok);
                        let lp = if tok == EOS {
                            log_prob(&m, src, &tokens, true)
                        } else {
                            log_prob(&m, src, &with, false)
                        };
                        (tok, lp)
                    })
                    .max_by(|a, b| a.1.total_cmp(&b.1))
                    .unwrap()
                    .0;
                if next == EOS {
                    ended = true;
                    break;
                }
                tokens.push(next);
            }
            assert_eq!((&t.tokens, t.ended), (&tokens, ended));
            let alone = decode(&m, std::slice::from_ref(src), how, &device).unwrap();
            assert_eq!(alone[0].tokens, t.tokens);
            assert!((alone[0].log_prob - t.log_prob).abs() < 1e-4);
            assert!(
                t.attention
                    .iter()
                    .all(|row| row.len() == src.len()
                        && (row.iter().sum::<f32>() - 1.0).abs() < 1e-5)
            );
        }
    }

    #[test]
    fn without_teacher_forcing_training_feeds_back_the_greedy_tokens() {
        let device = Device::flex();
        let encoder = RecurrentConfig::new(CellType::Gru, 5, 4);
        let m = crate::training::seeded_init(5, &device, |cpu| {
            Seq2SeqConfig::new(7, V, encoder)
                .with_attention(Some(Score::Additive))
                .with_teacher_forcing(0.0)
                .try_init(cpu)
        })
        .unwrap();
        let source = vec![4u32, 6, 5];
        let how = Decoding {
            beam: 1,
            length_penalty: 0.0,
            max_len: 6,
        };
        let greedy = &decode(&m, std::slice::from_ref(&source), how, &device).unwrap()[0];
        let mut steps = greedy.tokens.clone();
        if greedy.ended {
            steps.push(EOS);
        }
        // A reference unlike the greedy output at every step: it must never reach the decoder.
        let target: Vec<u32> = (0..5)
            .map(|j| match steps.get(j) {
                Some(4) => 5,
                _ => 4,
            })
            .collect();
        let item = PairItem { source, target };
        let batch = PairBatcher.batch(vec![item.clone()], &device);
        let logits = log_softmax(m.forward(&batch), 2);
        let v = logits.dims()[2];
        let lp = floats(logits).unwrap();
        let fed_back: f64 = steps
            .iter()
            .enumerate()
            .map(|(j, &tok)| lp[j * v + tok as usize] as f64)
            .sum();
        let stepped = log_prob(&m, &item.source, &greedy.tokens, greedy.ended);
        assert!((fed_back - stepped).abs() < 1e-4, "{fed_back} vs {stepped}");
    }

    #[test]
    fn teacher_forced_logits_score_a_target_as_stepping_does() {
        let device = Device::flex();
        let m = model(CellType::Lstm, Some(Score::Additive));
        let items = vec![
            PairItem {
                source: vec![4, 5, 6],
                target: vec![4, 5],
            },
            PairItem {
                source: vec![6],
                target: vec![5, 5, 4],
            },
        ];
        let batch = PairBatcher.batch(items.clone(), &device);
        let logits = log_softmax(m.forward(&batch), 2);
        let [_, t, v] = logits.dims();
        let lp = floats(logits).unwrap();
        for (row, item) in items.iter().enumerate() {
            let steps: Vec<u32> = item.target.iter().copied().chain([EOS]).collect();
            let forced: f64 = steps
                .iter()
                .enumerate()
                .map(|(j, &tok)| lp[(row * t + j) * v + tok as usize] as f64)
                .sum();
            let stepped = log_prob(&m, &item.source, &item.target, true);
            assert!((forced - stepped).abs() < 1e-4, "{forced} vs {stepped}");
        }
    }
}
