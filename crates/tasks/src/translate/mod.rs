//! Machine translation (issue: translation). So far its scoring: corpus BLEU and chrF as
//! sacrebleu computes them by default ([`bleu`]).

pub mod bleu;
