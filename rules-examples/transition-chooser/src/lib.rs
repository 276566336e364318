//! Chooses the transition Verdict uses to move a ticket, by status category, never by name:
//! a completion-style transition (into `done`, no screen if one exists) for Resolved, a
//! cancellation-style one (into a different `done` status than completion uses) for False
//! Positive and Accepted Risk, and back into `new`/`indeterminate` to reopen. It never picks
//! a transition whose target Jira does not state.

use rules_sdk::{
    FindingStatus, OfferedTransition, Rule, StatusCategory, TransitionChoice, TransitionDecision,
    TransitionInput, defaults,
};

pub struct TransitionChooser;

fn into(t: &OfferedTransition, c: StatusCategory) -> bool {
    t.to.as_ref().is_some_and(|s| s.category == c)
}

impl Rule for TransitionChooser {
    fn transition(input: &TransitionInput) -> TransitionDecision {
        let known: Vec<&OfferedTransition> = input
            .transitions
            .iter()
            .filter(|t| t.to.is_some())
            .collect();
        let done: Vec<&OfferedTransition> = known
            .iter()
            .copied()
            .filter(|t| into(t, StatusCategory::Done))
            .collect();
        // Completion: the first done transition that needs no screen, else the first one.
        let completion = done
            .iter()
            .copied()
            .find(|t| t.required_fields.is_empty())
            .or_else(|| done.first().copied());
        let completion_status = completion
            .and_then(|t| t.to.as_ref())
            .map(|s| s.id.as_str());
        let chosen = match input.target {
            FindingStatus::Resolved => completion,
            FindingStatus::FalsePositive | FindingStatus::AcceptedRisk => done
                .iter()
                .copied()
                .find(|t| t.to.as_ref().map(|s| s.id.as_str()) != completion_status)
                .or(completion),
            FindingStatus::Open => known
                .iter()
                .copied()
                .find(|t| into(t, StatusCategory::ToDo))
                .or_else(|| {
                    known
                        .iter()
                        .copied()
                        .find(|t| into(t, StatusCategory::InProgress))
                }),
        };
        let Some(chosen) = chosen else {
            return TransitionDecision::None(format!(
                "no transition with a known target fits `{}`",
                input.target.as_str()
            ));
        };
        // Let the default policy fill the resolution the same way it would for this transition.
        let mut only = input.clone();
        only.transitions = vec![chosen.clone()];
        only.config.push(rules_sdk::ConfigEntry {
            key: format!("transition.{}_status_ids", input.target.as_str()),
            value: chosen.to.as_ref().map(|s| s.id.clone()).unwrap_or_default(),
        });
        match defaults::transition(&only) {
            TransitionDecision::Take(c) => TransitionDecision::Take(TransitionChoice {
                reason: format!(
                    "{} ({} style)",
                    c.reason,
                    if input.target == FindingStatus::Resolved {
                        "completion"
                    } else if input.target == FindingStatus::Open {
                        "reopen"
                    } else {
                        "cancellation"
                    }
                ),
                ..c
            }),
            other => other,
        }
    }
}

rules_sdk::export_rule!(TransitionChooser);

#[cfg(test)]
mod tests {
    #[test]
    fn fixtures() {
        rules_sdk::testing::assert_dir::<super::TransitionChooser>(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/fixtures"
        ));
    }
}
