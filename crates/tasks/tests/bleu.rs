//! BLEU and chrF against sacrebleu: `fixtures/bleu.json`, made by
//! `fixtures/make_bleu_fixture.py` (the command is in its docstring; CI never runs Python).

use rnnlab_tasks::translate::bleu::{corpus_bleu, corpus_chrf, tokenize_13a};
use serde_json::Value;

fn fixture() -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/bleu.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

#[test]
fn tokenisation_is_sacrebleus_13a() {
    for pair in fixture()["tokenized"].as_array().unwrap() {
        let (line, expected) = (pair[0].as_str().unwrap(), pair[1].as_str().unwrap());
        assert_eq!(tokenize_13a(line), expected, "{line:?}");
    }
}

#[test]
fn corpus_bleu_and_chrf_match_sacrebleu_within_1e_9() {
    let f = fixture();
    let corpora = f["corpora"].as_array().unwrap();
    assert!(corpora.len() >= 8);
    for c in corpora {
        let hyps = strings(&c["hypotheses"]);
        let refs: Vec<Vec<String>> = c["references"]
            .as_array()
            .unwrap()
            .iter()
            .map(strings)
            .collect();
        let bleu = corpus_bleu(&hyps, &refs);
        let want = c["bleu"].as_f64().unwrap();
        assert!(
            (bleu.score - want).abs() < 1e-9,
            "BLEU {} against {want}",
            bleu.score
        );
        assert_eq!(bleu.sys_len as u64, c["sys_len"].as_u64().unwrap());
        assert_eq!(bleu.ref_len as u64, c["ref_len"].as_u64().unwrap());
        assert!((bleu.brevity_penalty - c["bp"].as_f64().unwrap()).abs() < 1e-12);
        for (p, q) in bleu
            .precisions
            .iter()
            .zip(c["precisions"].as_array().unwrap())
        {
            assert!(
                (p - q.as_f64().unwrap()).abs() < 1e-9,
                "precision {p} against {q}"
            );
        }
        let chrf = corpus_chrf(&hyps, &refs);
        let want = c["chrf"].as_f64().unwrap();
        assert!((chrf - want).abs() < 1e-9, "chrF {chrf} against {want}");
    }
}
