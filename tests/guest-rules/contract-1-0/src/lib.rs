//! A closure rule of contract 1.0.0 (no `references-ticket` on pages): accepts the risk when a
//! page carries `risk-approved`, and says what it was given, so a test sees every record.

wit_bindgen::generate!({
    world: "closure-rule",
    path: "../../../rules-sdk/wit-frozen/1.0.0",
});

use exports::verdict::rules::closure::{ClosureDecision, ClosureInput, Guest};
use verdict::rules::host::{Level, log};
use verdict::rules::types::{FindingStatus, Verdict};

struct Rule;

impl Guest for Rule {
    fn decide(input: ClosureInput) -> ClosureDecision {
        log(
            Level::Info,
            &format!("1.0.0 rule, ticket {}", input.ticket.key),
        );
        let approved = input
            .pages
            .iter()
            .find(|p| p.labels.iter().any(|l| l == "risk-approved"));
        match approved {
            Some(p) => ClosureDecision::Apply(Verdict {
                status: FindingStatus::AcceptedRisk,
                reason: format!("page {} `{}` ({}) approves it", p.id, p.title, p.url),
                confidence: 0.9,
            }),
            None => ClosureDecision::Skip(format!(
                "{} page(s), none approved; {} comment(s)",
                input.pages.len(),
                input.ticket.comments.len()
            )),
        }
    }
}

export!(Rule);
