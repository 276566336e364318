//! A multilingual comment-intent classifier (English, German, Spanish, French; negation,
//! hedge and correction aware): the thread's stance decides, whatever the resolution says.
//! A silent thread defers to the default policy; an unclear one skips.

use rules_sdk::{ClosureDecision, ClosureInput, Rule};

mod logic;

pub use logic::classify_closure;

pub struct CommentClassifier;

impl Rule for CommentClassifier {
    fn closure(input: &ClosureInput) -> ClosureDecision {
        classify_closure(input)
    }
}

rules_sdk::export_rule!(CommentClassifier);

#[cfg(test)]
mod tests {
    #[test]
    fn fixtures() {
        rules_sdk::testing::assert_dir::<super::CommentClassifier>(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/fixtures"
        ));
    }
}
