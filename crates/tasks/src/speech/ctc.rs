//! CTC decoding and error rates for digit strings. Class 0 of every frame is the blank,
//! class `d + 1` the digit `d`.

use std::collections::HashMap;

/// The blank class.
pub const BLANK: usize = 0;

/// The digits of the best path: each frame's most likely class, repeats collapsed, blanks
/// dropped. `log_probs` is `[frames][classes]`.
pub fn greedy(log_probs: &[Vec<f32>]) -> Vec<u32> {
    let mut out = Vec::new();
    let mut last = BLANK;
    for frame in log_probs {
        let best = (0..frame.len())
            .max_by(|&a, &b| frame[a].total_cmp(&frame[b]))
            .unwrap_or(BLANK);
        if best != BLANK && best != last {
            out.push(best as u32 - 1);
        }
        last = best;
    }
    out
}

fn log_add(a: f64, b: f64) -> f64 {
    if a == f64::NEG_INFINITY {
        return b;
    }
    if b == f64::NEG_INFINITY {
        return a;
    }
    let m = a.max(b);
    m + ((a - m).exp() + (b - m).exp()).ln()
}

/// Prefix beam search (Hannun et al. 2014, without a language model): keeps the `width`
/// likeliest prefixes, each with the total probability of the alignments that end in a
/// blank and in its last digit. Returns the digits of the likeliest string and its log
/// probability (summed over all its alignments that survived the beam).
pub fn beam(log_probs: &[Vec<f32>], width: usize) -> (Vec<u32>, f64) {
    const NONE: f64 = f64::NEG_INFINITY;
    // prefix → (ends in blank, ends in its last label), log probabilities.
    let mut beams: Vec<(Vec<u32>, (f64, f64))> = vec![(Vec::new(), (0.0, NONE))];
    for frame in log_probs {
        let mut next: HashMap<Vec<u32>, (f64, f64)> = HashMap::new();
        for (prefix, (pb, pnb)) in &beams {
            let total = log_add(*pb, *pnb);
            let e = next.entry(prefix.clone()).or_insert((NONE, NONE));
            e.0 = log_add(e.0, total + frame[BLANK] as f64);
            for (c, &lp) in frame.iter().enumerate().skip(1) {
                let label = c as u32;
                let lp = lp as f64;
                let mut extended = prefix.clone();
                extended.push(label);
                if prefix.last() == Some(&label) {
                    // The same label again without a blank between is the same prefix; only
                    // alignments ending in a blank extend it.
                    let same = next.entry(prefix.clone()).or_insert((NONE, NONE));
                    same.1 = log_add(same.1, pnb + lp);
                    let ext = next.entry(extended).or_insert((NONE, NONE));
                    ext.1 = log_add(ext.1, pb + lp);
                } else {
                    let ext = next.entry(extended).or_insert((NONE, NONE));
                    ext.1 = log_add(ext.1, total + lp);
                }
            }
        }
        let mut ranked: Vec<(Vec<u32>, (f64, f64))> = next.into_iter().collect();
        // Ties broken by the prefix itself, so the result never depends on hashing order.
        ranked.sort_by(|a, b| {
            log_add(b.1.0, b.1.1)
                .total_cmp(&log_add(a.1.0, a.1.1))
                .then_with(|| a.0.cmp(&b.0))
        });
        ranked.truncate(width.max(1));
        beams = ranked;
    }
    let (prefix, (pb, pnb)) = beams.swap_remove(0);
    (
        prefix.into_iter().map(|l| l - 1).collect(),
        log_add(pb, pnb),
    )
}

/// Levenshtein distance (insertions, deletions and substitutions cost 1).
pub fn edit_distance<T: PartialEq>(a: &[T], b: &[T]) -> usize {
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, x) in a.iter().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, y) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (above + 1)
                .min(row[j] + 1)
                .min(diagonal + usize::from(x != y));
            diagonal = above;
        }
    }
    row[b.len()]
}

/// The English words of a digit string (`[7, 3]` → `seven three`).
pub fn words(digits: &[u32]) -> String {
    const NAMES: [&str; 10] = [
        "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
    ];
    let names: Vec<&str> = digits.iter().map(|&d| NAMES[d as usize % 10]).collect();
    names.join(" ")
}

/// Corpus error rates of hypotheses against references.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ErrorRates {
    /// Word error rate: digit edits over reference digits (each digit is a word).
    pub wer: f64,
    /// Character error rate: character edits of the spelled-out transcripts (`seven three`)
    /// over their reference characters, spaces included.
    pub cer: f64,
    /// Fraction of strings recognised exactly.
    pub string_accuracy: f64,
}

impl ErrorRates {
    /// Scores `hypotheses` against `references` (same order).
    pub fn new(hypotheses: &[Vec<u32>], references: &[Vec<u32>]) -> Self {
        assert_eq!(
            hypotheses.len(),
            references.len(),
            "one hypothesis per reference"
        );
        let (mut words, mut word_edits, mut chars, mut char_edits, mut exact) = (0, 0, 0, 0, 0);
        for (h, r) in hypotheses.iter().zip(references) {
            words += r.len();
            word_edits += edit_distance(h, r);
            let (hc, rc): (Vec<char>, Vec<char>) = (
                self::words(h).chars().collect(),
                self::words(r).chars().collect(),
            );
            chars += rc.len();
            char_edits += edit_distance(&hc, &rc);
            exact += usize::from(h == r);
        }
        let ratio = |a: usize, b: usize| if b == 0 { 0.0 } else { a as f64 / b as f64 };
        Self {
            wer: ratio(word_edits, words),
            cer: ratio(char_edits, chars),
            string_accuracy: ratio(exact, references.len()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ln(rows: &[&[f32]]) -> Vec<Vec<f32>> {
        rows.iter()
            .map(|r| r.iter().map(|p| p.ln()).collect())
            .collect()
    }

    #[test]
    fn greedy_collapses_repeats_and_drops_blanks() {
        // classes: blank, digit 0, digit 1
        let lp = ln(&[
            &[0.1, 0.8, 0.1],
            &[0.1, 0.8, 0.1],
            &[0.8, 0.1, 0.1],
            &[0.1, 0.8, 0.1],
            &[0.1, 0.1, 0.8],
        ]);
        assert_eq!(greedy(&lp), [0, 0, 1]);
    }

    #[test]
    fn beam_sums_alignments_where_greedy_takes_one_path() {
        // Two frames, blank 0.6 / digit 0 0.4 each: the best path is blank-blank (0.36), but
        // "0" has three alignments (0.24 + 0.24 + 0.16 = 0.64).
        let lp = ln(&[&[0.6, 0.4], &[0.6, 0.4]]);
        assert_eq!(greedy(&lp), Vec::<u32>::new());
        let (digits, logp) = beam(&lp, 4);
        assert_eq!(digits, [0]);
        assert!((logp.exp() - 0.64).abs() < 1e-6, "{}", logp.exp());
        // Every string's probability, summed exactly with a wide beam, is 1.
        let lp = ln(&[&[0.5, 0.3, 0.2], &[0.2, 0.3, 0.5], &[0.4, 0.4, 0.2]]);
        let (_, best) = beam(&lp, 100);
        assert!(best.exp() <= 1.0);
    }

    #[test]
    fn error_rates_count_edits() {
        assert_eq!(edit_distance(&[1, 2, 3], &[1, 3]), 1);
        assert_eq!(edit_distance(&[1, 2, 3], &[3, 2, 1]), 2);
        assert_eq!(edit_distance::<u8>(&[], &[1, 2]), 2);
        let r = ErrorRates::new(&[vec![7, 3], vec![1]], &[vec![7, 2], vec![1]]);
        assert_eq!(r.wer, 1.0 / 3.0);
        assert_eq!(r.string_accuracy, 0.5);
        // "seven three" against "seven two": "three" → "two" is 4 edits; 9 + 3 reference characters.
        assert_eq!(
            edit_distance(&['t', 'h', 'r', 'e', 'e'], &['t', 'w', 'o']),
            4
        );
        assert!((r.cer - 4.0 / 12.0).abs() < 1e-12, "{}", r.cer);
        assert_eq!(words(&[7, 3, 0]), "seven three zero");
    }
}
