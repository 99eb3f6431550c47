//! fastText's subwords (Bojanowski et al. 2017): the character n-grams of `<word>` hashed into
//! a fixed number of buckets, so that a word the vocabulary never saw still gets a vector made
//! of its pieces (`unwatchable` shares `<un`, `able>` … with words seen in training).

use serde::{Deserialize, Serialize};

/// How words are cut into hashed character n-grams.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subwords {
    /// Hash buckets, bucket 0 included; bucket 0 is never a piece (it pads), so the pieces fall
    /// in `1..buckets`. At least 2.
    pub buckets: usize,
    /// Shortest n-gram, in characters (of `<word>`, the boundary marks included).
    pub min_n: usize,
    /// Longest n-gram, in characters.
    pub max_n: usize,
}

impl Subwords {
    /// The bucket of every `n`-gram (`min_n ≤ n ≤ max_n`, in characters) of `<word>`, in order
    /// of start then length. FNV-1a (64-bit) of the n-gram's UTF-8 bytes, `1 + h mod (buckets −
    /// 1)`. A word shorter than `min_n − 2` characters has no pieces.
    pub fn pieces(&self, word: &str) -> Vec<u32> {
        let chars: Vec<char> = std::iter::once('<')
            .chain(word.chars())
            .chain(std::iter::once('>'))
            .collect();
        let slots = (self.buckets.max(2) - 1) as u64;
        let mut out = Vec::new();
        for start in 0..chars.len() {
            for n in self.min_n.max(1)..=self.max_n {
                if start + n > chars.len() {
                    break;
                }
                let gram: String = chars[start..start + n].iter().collect();
                out.push(1 + (fnv1a(gram.as_bytes()) % slots) as u32);
            }
        }
        out
    }

    /// [`pieces`](Self::pieces) of each word, in order.
    pub fn of_words<S: AsRef<str>>(&self, words: &[S]) -> Vec<Vec<u32>> {
        words.iter().map(|w| self.pieces(w.as_ref())).collect()
    }
}

/// FNV-1a, 64-bit: a fixed hash, so that a saved model reads the same buckets on every machine
/// and Rust version (std's `DefaultHasher` promises neither).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Subwords = Subwords {
        buckets: 1 << 15,
        min_n: 3,
        max_n: 5,
    };

    #[test]
    fn every_n_gram_of_the_marked_word_once() {
        // `<ab>` has two 3-grams, one 4-gram and no 5-gram.
        let p = S.pieces("ab");
        assert_eq!(p.len(), 3);
        let one = |g: &str| 1 + (fnv1a(g.as_bytes()) % (S.buckets as u64 - 1)) as u32;
        assert_eq!(p, vec![one("<ab"), one("<ab>"), one("ab>")]);
        // FNV-1a's published test vector: "a" → 0xaf63dc4c8601ec8c.
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
        // A word of L characters has (L + 2 − n + 1) n-grams for each n that fits.
        let word = "unwatchable";
        let l = word.chars().count() + 2;
        assert_eq!(
            S.pieces(word).len(),
            (3..=5).map(|n| l - n + 1).sum::<usize>()
        );
        assert!(
            S.pieces(word)
                .iter()
                .all(|&b| b >= 1 && (b as usize) < S.buckets)
        );
        // Characters, not bytes: `é` is one character.
        assert_eq!(S.pieces("é").len(), 1);
        let short = Subwords { min_n: 4, ..S };
        assert!(short.pieces("a").is_empty(), "`<a>` has no 4-gram");
    }

    #[test]
    fn related_words_share_pieces_and_others_do_not() {
        let shared = |a: &str, b: &str| {
            let pb = S.pieces(b);
            S.pieces(a).iter().filter(|p| pb.contains(p)).count()
        };
        assert!(shared("unwatchable", "watchable") >= 10);
        assert!(
            shared("unwatchable", "unbearable") >= 4,
            "<un, <unw.., able>"
        );
        assert_eq!(shared("zzz", "qqq"), 0);
        assert_eq!(
            S.of_words(&["ab", "zzz"]),
            vec![S.pieces("ab"), S.pieces("zzz")]
        );
    }
}
