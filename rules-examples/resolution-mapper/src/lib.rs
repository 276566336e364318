//! Maps the Jira resolution alone to a verdict, from a table the tenant can extend
//! (`resolution.<name in lower case>` = `resolved` | `false_positive` | `accepted_risk` |
//! `skip`). Resolutions it does not know defer to the default policy.

use rules_sdk::{
    ClosureDecision, ClosureInput, Config, FindingStatus, Rule, StatusCategory, Verdict,
};

pub struct ResolutionMapper;

/// Names teams use in several languages; config entries come first.
const BUILT_IN: &[(&str, &str)] = &[
    ("done", "resolved"),
    ("fixed", "resolved"),
    ("erledigt", "resolved"),
    ("behoben", "resolved"),
    ("hecho", "resolved"),
    ("corregido", "resolved"),
    ("terminé", "resolved"),
    ("corrigé", "resolved"),
    ("false positive", "false_positive"),
    ("not a bug", "false_positive"),
    ("falsch positiv", "false_positive"),
    ("falso positivo", "false_positive"),
    ("faux positif", "false_positive"),
    ("known risk", "accepted_risk"),
    ("risk accepted", "accepted_risk"),
    ("risiko akzeptiert", "accepted_risk"),
    ("riesgo aceptado", "accepted_risk"),
    ("risque accepté", "accepted_risk"),
    ("won't do", "skip"),
    ("duplicate", "skip"),
    ("cannot reproduce", "skip"),
];

impl Rule for ResolutionMapper {
    fn closure(input: &ClosureInput) -> ClosureDecision {
        if input.ticket.status.category != StatusCategory::Done {
            return ClosureDecision::Skip("the ticket is not closed".into());
        }
        let Some(resolution) = input.ticket.resolution.as_deref() else {
            return ClosureDecision::Defer;
        };
        let name = resolution.trim().to_lowercase();
        let configured = Config(&input.config).get(&format!("resolution.{name}"));
        let meaning =
            configured.or_else(|| BUILT_IN.iter().find(|(n, _)| *n == name).map(|(_, m)| *m));
        let status = match meaning.map(str::trim) {
            Some("resolved") => FindingStatus::Resolved,
            Some("false_positive") => FindingStatus::FalsePositive,
            Some("accepted_risk") => FindingStatus::AcceptedRisk,
            Some("skip") => {
                return ClosureDecision::Skip(format!(
                    "resolution `{resolution}` does not say what the closure means"
                ));
            }
            Some(other) => {
                return ClosureDecision::Skip(format!(
                    "resolution.{name} is `{other}`, not one of resolved, false_positive, accepted_risk, skip"
                ));
            }
            None => return ClosureDecision::Defer,
        };
        ClosureDecision::Apply(Verdict {
            status,
            reason: format!("resolution `{resolution}` means {}", status.as_str()),
            confidence: 0.9,
        })
    }
}

rules_sdk::export_rule!(ResolutionMapper);

#[cfg(test)]
mod tests {
    #[test]
    fn fixtures() {
        rules_sdk::testing::assert_dir::<super::ResolutionMapper>(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/fixtures"
        ));
    }
}
