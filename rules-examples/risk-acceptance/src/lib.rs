//! Accepts risk only with paperwork: when the closure means Accepted Risk (by resolution or
//! comments), a linked Confluence page must be about this ticket (the host says so in
//! `references_ticket`, from its title, body and labels: anyone can link an unrelated approved
//! page), carry the approval label
//! (`risk.approved_label`, default `risk-approved`) and not be expired (a label
//! `expires-YYYY-MM-DD` in the past, or older than `risk.max_age_days`, default 365). Without
//! one it skips; everything that is not about accepting risk defers to the default policy.

use rules_sdk::defaults::date_after;
use rules_sdk::policy::{Stance, ThreadStance, thread_stance};
use rules_sdk::{
    ClosureDecision, ClosureInput, Config, FindingStatus, Page, Rule, Ticket, Verdict, defaults,
};

pub struct RiskAcceptance;

const DAY_MS: i64 = 86_400_000;

/// Why `page` does not count as a valid approval, or `None` when it does.
fn invalid(
    page: &Page,
    ticket: &Ticket,
    label: &str,
    max_age_days: i64,
    now: i64,
) -> Option<String> {
    if !page.references_ticket {
        return Some(format!("`{}` is not about {}", page.title, ticket.key));
    }
    if !page.labels.iter().any(|l| l.eq_ignore_ascii_case(label)) {
        return Some(format!("`{}` is not labelled `{label}`", page.title));
    }
    let today = date_after(now, 0);
    if let Some(exp) = page.labels.iter().find_map(|l| l.strip_prefix("expires-"))
        && exp < today.as_str()
    {
        return Some(format!("`{}` expired on {exp}", page.title));
    }
    if now - page.last_modified > max_age_days * DAY_MS {
        return Some(format!(
            "`{}` was last changed more than {max_age_days} days ago",
            page.title
        ));
    }
    None
}

impl Rule for RiskAcceptance {
    fn closure(input: &ClosureInput) -> ClosureDecision {
        let config = Config(&input.config);
        let by_comments = matches!(
            thread_stance(&input.ticket.comments),
            ThreadStance::Clear {
                stance: Stance::AcceptedRisk,
                ..
            }
        );
        let pc = defaults::policy_config(config);
        let by_resolution = input.ticket.resolution.as_deref().is_some_and(|r| {
            pc.accepted_risk_resolutions
                .iter()
                .any(|n| n.eq_ignore_ascii_case(r.trim()))
        });
        let label = config.get("risk.approved_label").unwrap_or("risk-approved");
        let max_age = config.number("risk.max_age_days").unwrap_or(365.0) as i64;
        let approved = input
            .pages
            .iter()
            .find(|p| invalid(p, &input.ticket, label, max_age, input.now).is_none());
        let default = defaults::closure(input);
        let about_risk = by_comments
            || by_resolution
            || matches!(&default, ClosureDecision::Apply(v) if v.status == FindingStatus::AcceptedRisk);
        if !about_risk {
            // An approved page alone turns an unspecific "Won't Do" into Accepted Risk.
            if let (Some(page), ClosureDecision::Skip(_)) = (approved, &default)
                && input.ticket.status.category == rules_sdk::StatusCategory::Done
            {
                return ClosureDecision::Apply(Verdict {
                    status: FindingStatus::AcceptedRisk,
                    reason: format!(
                        "approved risk acceptance page `{}` ({})",
                        page.title, page.url
                    ),
                    confidence: 0.9,
                });
            }
            return ClosureDecision::Defer;
        }
        match approved {
            Some(page) => ClosureDecision::Apply(Verdict {
                status: FindingStatus::AcceptedRisk,
                reason: format!(
                    "risk accepted with approved page `{}` ({})",
                    page.title, page.url
                ),
                confidence: 0.95,
            }),
            None => {
                let why: Vec<String> = input
                    .pages
                    .iter()
                    .filter_map(|p| invalid(p, &input.ticket, label, max_age, input.now))
                    .collect();
                ClosureDecision::Skip(if why.is_empty() {
                    "risk acceptance without a linked, approved Confluence page".to_owned()
                } else {
                    format!("risk acceptance not approved: {}", why.join("; "))
                })
            }
        }
    }
}

rules_sdk::export_rule!(RiskAcceptance);

#[cfg(test)]
mod tests {
    #[test]
    fn fixtures() {
        rules_sdk::testing::assert_dir::<super::RiskAcceptance>(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/fixtures"
        ));
    }
}
