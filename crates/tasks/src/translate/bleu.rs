//! Corpus BLEU and chrF exactly as sacrebleu 2.x computes them by default: BLEU on 13a tokens
//! (mteval-v13a's tokenisation), n-grams up to 4, clipped counts against the references,
//! brevity penalty from the closest reference length, `exp` smoothing (NIST's: the k-th order
//! without a match counts `1 / (2^k · total)`); chrF with character 6-grams, β = 2, whitespace
//! removed, precision and recall averaged over the orders that occur. Checked against
//! sacrebleu itself: `tests/fixtures/make_bleu_fixture.py`.

use std::collections::HashMap;
use std::sync::OnceLock;

use regex::Regex;

/// sacrebleu's `13a` tokenisation of one line.
pub fn tokenize_13a(line: &str) -> String {
    static RULES: OnceLock<[(Regex, &str); 4]> = OnceLock::new();
    let rules = RULES.get_or_init(|| {
        let re = |r: &str| Regex::new(r).expect("a valid pattern");
        [
            // Punctuation and symbols of the ASCII ranges {-~ [-` space-& (-+ :-@ and /.
            (re(r"([{-~\[-` -&(-+:-@/])"), " ${1} "),
            // Period and comma unless preceded by a digit …
            (re(r"([^0-9])([.,])"), "${1} ${2} "),
            // … or unless followed by one.
            (re(r"([.,])([^0-9])"), " ${1} ${2}"),
            // A dash after a digit.
            (re(r"([0-9])(-)"), "${1} ${2} "),
        ]
    });
    let mut s = line
        .replace("<skipped>", "")
        .replace("-\n", "")
        .replace('\n', " ");
    if s.contains('&') {
        s = s
            .replace("&quot;", "\"")
            .replace("&amp;", "&")
            .replace("&lt;", "<")
            .replace("&gt;", ">");
    }
    let mut s = format!(" {s} ");
    for (re, replacement) in rules {
        s = re.replace_all(&s, *replacement).into_owned();
    }
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

const ORDER: usize = 4;

fn ngrams(tokens: &[&str]) -> HashMap<Vec<String>, usize> {
    let mut out = HashMap::new();
    for n in 1..=ORDER {
        for w in tokens.windows(n) {
            *out.entry(w.iter().map(|s| s.to_string()).collect())
                .or_insert(0) += 1;
        }
    }
    out
}

/// A corpus BLEU score with its parts.
#[derive(Clone, Debug, PartialEq)]
pub struct Bleu {
    /// 0–100.
    pub score: f64,
    /// The four n-gram precisions (0–100, smoothed).
    pub precisions: [f64; ORDER],
    /// Brevity penalty.
    pub brevity_penalty: f64,
    /// Hypothesis tokens.
    pub sys_len: usize,
    /// Closest-reference tokens.
    pub ref_len: usize,
}

/// Corpus BLEU of `hypotheses` against `references` (for each hypothesis, one or more).
pub fn corpus_bleu(hypotheses: &[String], references: &[Vec<String>]) -> Bleu {
    assert_eq!(
        hypotheses.len(),
        references.len(),
        "references for every hypothesis"
    );
    let (mut correct, mut total) = ([0usize; ORDER], [0usize; ORDER]);
    let (mut sys_len, mut ref_len) = (0, 0);
    for (hyp, refs) in hypotheses.iter().zip(references) {
        let hyp = tokenize_13a(hyp);
        let hyp: Vec<&str> = hyp.split_whitespace().collect();
        // Clipping counts: the most a reference holds of each n-gram.
        let mut ref_counts: HashMap<Vec<String>, usize> = HashMap::new();
        let mut lens = Vec::new();
        for r in refs {
            let r = tokenize_13a(r);
            let r: Vec<&str> = r.split_whitespace().collect();
            lens.push(r.len());
            for (g, c) in ngrams(&r) {
                let e = ref_counts.entry(g).or_insert(0);
                *e = (*e).max(c);
            }
        }
        // The closest reference length; ties go to the shorter.
        let closest = lens
            .iter()
            .copied()
            .min_by_key(|&l| (l.abs_diff(hyp.len()), l))
            .unwrap_or(0);
        sys_len += hyp.len();
        ref_len += closest;
        for (g, c) in ngrams(&hyp) {
            let n = g.len() - 1;
            total[n] += c;
            correct[n] += c.min(ref_counts.get(&g).copied().unwrap_or(0));
        }
    }
    let brevity_penalty = if sys_len >= ref_len {
        1.0
    } else if sys_len > 0 {
        (1.0 - ref_len as f64 / sys_len as f64).exp()
    } else {
        0.0
    };
    let mut precisions = [0.0; ORDER];
    if correct.iter().all(|&c| c == 0) {
        return Bleu {
            score: 0.0,
            precisions,
            brevity_penalty,
            sys_len,
            ref_len,
        };
    }
    let mut smooth = 1.0;
    for n in 0..ORDER {
        if total[n] == 0 {
            break;
        }
        precisions[n] = if correct[n] == 0 {
            smooth *= 2.0;
            100.0 / (smooth * total[n] as f64)
        } else {
            100.0 * correct[n] as f64 / total[n] as f64
        };
    }
    // sacrebleu's `my_log`: log(0) is −9999999999, so a missing order makes the score 0.
    let log = |p: f64| if p == 0.0 { -9_999_999_999.0 } else { p.ln() };
    let score =
        brevity_penalty * (precisions.iter().map(|&p| log(p)).sum::<f64>() / ORDER as f64).exp();
    Bleu {
        score,
        precisions,
        brevity_penalty,
        sys_len,
        ref_len,
    }
}

const CHAR_ORDER: usize = 6;
const BETA: f64 = 2.0;

/// The counts of the `n`-grams of `chars`.
fn char_ngrams(chars: &[char], n: usize) -> HashMap<&[char], usize> {
    let mut m = HashMap::new();
    for w in chars.windows(n) {
        *m.entry(w).or_insert(0) += 1;
    }
    m
}

/// Per order: hypothesis n-grams, reference n-grams, matches.
fn chrf_stats(hyp: &str, reference: &str) -> [[usize; 3]; CHAR_ORDER] {
    let chars = |s: &str| -> Vec<char> { s.split_whitespace().flat_map(str::chars).collect() };
    let (h, r) = (chars(hyp), chars(reference));
    let mut out = [[0; 3]; CHAR_ORDER];
    for (n, stats) in (1..=CHAR_ORDER).zip(out.iter_mut()) {
        let (hc, rc) = (char_ngrams(&h, n), char_ngrams(&r, n));
        let hyp_count: usize = hc.values().sum();
        let matches: usize = hc
            .iter()
            .map(|(g, &c)| c.min(rc.get(g).copied().unwrap_or(0)))
            .sum();
        // sacrebleu does not count hypothesis n-grams of an order the reference lacks.
        *stats = [
            if rc.is_empty() { 0 } else { hyp_count },
            rc.values().sum(),
            matches,
        ];
    }
    out
}

fn chrf_score(stats: &[[usize; 3]; CHAR_ORDER]) -> f64 {
    let (mut precision, mut recall, mut orders) = (0.0, 0.0, 0);
    for &[hyp, reference, matches] in stats {
        if hyp > 0 && reference > 0 {
            precision += matches as f64 / hyp as f64;
            recall += matches as f64 / reference as f64;
            orders += 1;
        }
    }
    if orders == 0 {
        return 0.0;
    }
    let (p, r) = (precision / orders as f64, recall / orders as f64);
    let f = BETA * BETA;
    if p + r == 0.0 {
        0.0
    } else {
        100.0 * (1.0 + f) * p * r / (f * p + r)
    }
}

/// Corpus chrF (0–100) of `hypotheses` against one or more `references` each (with several,
/// each sentence uses the reference it scores best against, as sacrebleu does).
pub fn corpus_chrf(hypotheses: &[String], references: &[Vec<String>]) -> f64 {
    assert_eq!(
        hypotheses.len(),
        references.len(),
        "references for every hypothesis"
    );
    let mut sum = [[0usize; 3]; CHAR_ORDER];
    for (hyp, refs) in hypotheses.iter().zip(references) {
        let best = refs.iter().map(|r| chrf_stats(hyp, r)).fold(
            None,
            |best: Option<([[usize; 3]; CHAR_ORDER], f64)>, s| {
                let score = chrf_score(&s);
                match best {
                    Some((_, b)) if b >= score => best,
                    _ => Some((s, score)),
                }
            },
        );
        if let Some((s, _)) = best {
            for (acc, x) in sum.iter_mut().zip(s) {
                for k in 0..3 {
                    acc[k] += x[k];
                }
            }
        }
    }
    chrf_score(&sum)
}
