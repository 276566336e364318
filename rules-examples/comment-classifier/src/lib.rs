//! A multilingual comment-intent classifier (English, German, Spanish, French; negation,
//! hedge and correction aware): the thread's stance decides, whatever the resolution says.
//! A silent thread defers to the default policy; an unclear one skips.

use rules_sdk::policy::{Stance, ThreadStance, thread_stance};
use rules_sdk::{
    ClosureDecision, ClosureInput, FindingStatus, Rule, StatusCategory, Verdict, log,
};

pub struct CommentClassifier;

impl Rule for CommentClassifier {
    fn closure(input: &ClosureInput) -> ClosureDecision {
        if input.ticket.status.category != StatusCategory::Done {
            return ClosureDecision::Skip("the ticket is not closed".into());
        }
        match thread_stance(&input.ticket.comments) {
            ThreadStance::Silent => ClosureDecision::Defer,
            ThreadStance::Unsure => {
                ClosureDecision::Skip("the comments are hedged or questions only".into())
            }
            ThreadStance::Unclear(why) => ClosureDecision::Skip(why),
            ThreadStance::Clear { stance, comment } => {
                let status = match stance {
                    Stance::FalsePositive => FindingStatus::FalsePositive,
                    Stance::AcceptedRisk => FindingStatus::AcceptedRisk,
                    Stance::Fixed => FindingStatus::Resolved,
                    Stance::StillReal => {
                        return ClosureDecision::Skip(
                            "the comments say the issue is real and not dealt with".into(),
                        );
                    }
                };
                log::debug("classified the thread");
                ClosureDecision::Apply(Verdict {
                    status,
                    reason: format!("comment {} says it is {}", comment + 1, stance.describe()),
                    confidence: 0.85,
                })
            }
        }
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
