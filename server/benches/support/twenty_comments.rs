//! The benchmarks' ticket: closed, with 20 comments of ~200 characters in two languages,
//! the 18th saying it is a false positive.

use rules_sdk::{Comment, DecisionKind, RuleInput};
use verdict_server::rules::smoke;

pub fn input() -> RuleInput {
    let RuleInput::Closure(mut base) = smoke::input(DecisionKind::Closure) else {
        unreachable!()
    };
    let phrases = [
        "Looked at the scanner output again this morning and compared it with the code path in the payment service; ",
        "we talked about it in the weekly triage with the platform team and agreed on next steps for the sprint; ",
        "the dependency is pinned in the lockfile and the vulnerable function is only referenced from a migration; ",
        "Die Eingabe wird vorher validiert, trotzdem prüfen wir den Pfad noch einmal mit dem Team zusammen; ",
    ];
    base.ticket.comments = (0..20)
        .map(|i| {
            let mut body = String::new();
            while body.len() < 200 {
                body.push_str(phrases[(i + body.len()) % phrases.len()]);
            }
            if i == 17 {
                body.push_str("False positive: this only runs in test fixtures.");
            }
            Comment {
                id: i.to_string(),
                author: format!("acc-{}", i % 3),
                body,
                created: 0,
                updated: 0,
            }
        })
        .collect();
    RuleInput::Closure(base)
}
