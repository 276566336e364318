//! The classifier's logic: the thread's stance decides, whatever the resolution says.

use rules_sdk::policy::{Stance, ThreadStance, thread_stance};
use rules_sdk::{ClosureDecision, ClosureInput, FindingStatus, StatusCategory, Verdict, log};

/// The rule's whole logic, kept apart so the benchmark can compile it natively too.
pub fn classify_closure(input: &ClosureInput) -> ClosureDecision {
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
                Stance::Real | Stance::Unfixed => {
                    return ClosureDecision::Skip(
                        "the comments say the issue is real and not dealt with".into(),
                    );
                }
                Stance::NotFixed => {
                    return ClosureDecision::Skip(
                        "not fixed: the comments say the ticket was closed without a fix here"
                            .into(),
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
