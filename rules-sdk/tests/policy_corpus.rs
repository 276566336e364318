//! The default policy on the labelled corpus of closing threads
//! (`tests/fixtures/closing-threads/corpus.json`): a regression below issue #14's targets,
//! or a thread decided against its last word, fails.

use std::path::Path;

use rules_sdk::policy::PolicyConfig;
use rules_sdk::testing::quality::{self, CORPUS, TARGETS};

#[test]
fn the_default_policy_meets_its_quality_targets_on_the_corpus() {
    let threads = quality::load(Path::new(CORPUS)).unwrap();
    assert!(
        threads.len() >= 600,
        "the corpus has {} threads",
        threads.len()
    );
    let langs: std::collections::BTreeSet<&str> = threads.iter().map(|t| t.lang.as_str()).collect();
    assert!(langs.len() >= 6, "languages: {langs:?}");
    let report = quality::score(&threads, &PolicyConfig::default());
    let shortfalls = report.shortfalls(&TARGETS);
    assert!(shortfalls.is_empty(), "{}\n{report}", shortfalls.join("\n"));
}

#[test]
fn every_language_meets_the_targets_on_its_own() {
    let threads = quality::load(Path::new(CORPUS)).unwrap();
    let report = quality::score(&threads, &PolicyConfig::default());
    for (lang, slice) in &report.by_lang {
        for v in ["false_positive", "accepted_risk"] {
            let c = slice.get(v);
            assert!(
                c.precision().unwrap_or(1.0) >= TARGETS.precision_fp_ar,
                "{lang} {v} precision {:?}\n{report}",
                c.precision()
            );
        }
    }
}
