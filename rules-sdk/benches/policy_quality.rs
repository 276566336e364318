//! Prints the default policy's precision and recall on the labelled closing-thread corpus,
//! per verdict, per language and per resolution mode, and every thread it decides
//! differently from its label.
//!
//!     cargo bench -p rules-sdk --features testing --bench policy_quality
//!
//! Another corpus in the same format: `VERDICT_CORPUS=path/to/corpus.json cargo bench …`.

use std::path::PathBuf;

use rules_sdk::policy::PolicyConfig;
use rules_sdk::testing::quality::{self, CORPUS, TARGETS};

fn main() {
    let path = std::env::var_os("VERDICT_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(CORPUS));
    let threads = match quality::load(&path) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("cannot read the corpus: {e}");
            std::process::exit(2);
        }
    };
    let report = quality::score(&threads, &PolicyConfig::default());
    println!(
        "Default policy on {} ({} threads)",
        path.display(),
        threads.len()
    );
    print!("{report}");
    let shortfalls = report.shortfalls(&TARGETS);
    if shortfalls.is_empty() {
        println!("\nAll targets met.");
    } else {
        println!("\nBelow target:\n  {}", shortfalls.join("\n  "));
    }
}
