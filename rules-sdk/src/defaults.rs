//! The built-in default policy for all three decisions. The server runs it natively when a
//! tenant has no rule (or a rule defers), and `rules-examples/default-policy` is this same
//! code built to wasm, so both must decide identically.

use crate::contract::*;
use crate::policy::{self, ClosedTicket, NotFixedOutcome, PolicyConfig};
use crate::{FindingStatus, Severity};

/// Config keys the default closure policy reads (comma-separated resolution names).
pub const KEY_FP_RESOLUTIONS: &str = "resolutions.false_positive";
pub const KEY_AR_RESOLUTIONS: &str = "resolutions.accepted_risk";
pub const KEY_RESOLVED_RESOLUTIONS: &str = "resolutions.resolved";
/// Resolutions that close a ticket without fixing anything ("Duplicate").
pub const KEY_NOT_FIXED_RESOLUTIONS: &str = "resolutions.not_fixed";
/// What a closure that fixed nothing becomes: `skip` (default) or `ignore`.
pub const KEY_NOT_FIXED: &str = "closure.not_fixed";

/// Checks a value for a setting the default policy reads from a closed set, so a typo is
/// refused when it is stored rather than silently read as the default. Other keys pass.
pub fn check_setting(key: &str, value: &str) -> Result<(), String> {
    if key == KEY_NOT_FIXED && NotFixedOutcome::parse(value).is_none() {
        return Err(format!(
            "setting `{KEY_NOT_FIXED}` must be `skip` or `ignore`, got `{value}`"
        ));
    }
    Ok(())
}

/// The resolution lists and the not-fixed outcome, from config where set, else
/// [`PolicyConfig::default`].
pub fn policy_config(config: Config<'_>) -> PolicyConfig {
    let mut pc = PolicyConfig::default();
    let owned = |v: Vec<&str>| v.into_iter().map(str::to_owned).collect();
    if let Some(v) = config.list(KEY_FP_RESOLUTIONS) {
        pc.false_positive_resolutions = owned(v);
    }
    if let Some(v) = config.list(KEY_AR_RESOLUTIONS) {
        pc.accepted_risk_resolutions = owned(v);
    }
    if let Some(v) = config.list(KEY_RESOLVED_RESOLUTIONS) {
        pc.resolved_resolutions = owned(v);
    }
    if let Some(v) = config.list(KEY_NOT_FIXED_RESOLUTIONS) {
        pc.not_fixed_resolutions = owned(v);
    }
    if let Some(o) = config.get(KEY_NOT_FIXED).and_then(NotFixedOutcome::parse) {
        pc.not_fixed = o;
    }
    pc
}

/// What a closed ticket means: resolution mapping plus comment evidence (see [`policy`]).
pub fn closure(input: &ClosureInput) -> ClosureDecision {
    let ticket = ClosedTicket {
        status_category: input.ticket.status.category.key(),
        resolution: input.ticket.resolution.as_deref(),
        comments: &input.ticket.comments,
    };
    let decision = policy::decide(&ticket, &policy_config(Config(&input.config)));
    match decision.status {
        Some(status) => ClosureDecision::Apply(Verdict {
            status,
            reason: decision.reason,
            confidence: decision.confidence,
        }),
        None => ClosureDecision::Skip(decision.reason),
    }
}

fn status_key(target: FindingStatus) -> &'static str {
    match target {
        FindingStatus::Open => "transition.open_status_ids",
        FindingStatus::Resolved => "transition.resolved_status_ids",
        FindingStatus::FalsePositive => "transition.false_positive_status_ids",
        FindingStatus::AcceptedRisk => "transition.accepted_risk_status_ids",
    }
}

/// Picks the transition that makes the ticket reflect `target`, by status category, never by
/// name: Resolved takes the first transition into `done` (the workflow's completion path);
/// False Positive and Accepted Risk prefer another `done` transition (a cancellation path)
/// and fall back to the completion one, letting the resolution carry the meaning; Open takes
/// a transition into `new`, else `indeterminate`. Status ids listed in
/// `transition.<status>_status_ids` win over all of that.
pub fn transition(input: &TransitionInput) -> TransitionDecision {
    let config = Config(&input.config);
    let target = input.target;
    let current = input.ticket.status.category;
    let want_done = target != FindingStatus::Open;
    if want_done == (current == StatusCategory::Done) {
        return TransitionDecision::None(format!(
            "the ticket is already in a `{}` status",
            current.key()
        ));
    }
    let category_of = |t: &OfferedTransition| t.to.as_ref().map(|s| s.category);
    let preferred: Vec<&str> = config.list(status_key(target)).unwrap_or_default();
    let configured = preferred.iter().find_map(|id| {
        input
            .transitions
            .iter()
            .find(|t| t.to.as_ref().is_some_and(|s| s.id == *id))
    });
    let done: Vec<&OfferedTransition> = input
        .transitions
        .iter()
        .filter(|t| category_of(t) == Some(StatusCategory::Done))
        .collect();
    let chosen = configured.or_else(|| match target {
        FindingStatus::Resolved => done.first().copied(),
        FindingStatus::FalsePositive | FindingStatus::AcceptedRisk => {
            let completion = done.first().and_then(|t| t.to.as_ref()).map(|s| &s.id);
            done.iter()
                .find(|t| t.to.as_ref().map(|s| &s.id) != completion)
                .or(done.first())
                .copied()
        }
        FindingStatus::Open => input
            .transitions
            .iter()
            .find(|t| category_of(t) == Some(StatusCategory::ToDo))
            .or_else(|| {
                input
                    .transitions
                    .iter()
                    .find(|t| category_of(t) == Some(StatusCategory::InProgress))
            }),
    });
    let Some(chosen) = chosen else {
        return TransitionDecision::None(format!(
            "no offered transition leads to a status for `{}`",
            target.as_str()
        ));
    };
    let resolution = if chosen.required_fields.iter().any(|f| f == "resolution") {
        match pick_resolution(target, &input.resolutions, Config(&input.config)) {
            Some(r) => Some(r),
            None => {
                return TransitionDecision::None(format!(
                    "transition `{}` requires a resolution and none of the offered ones fits `{}`",
                    chosen.id,
                    target.as_str()
                ));
            }
        }
    } else {
        None
    };
    let to = chosen
        .to
        .as_ref()
        .map(|s| s.name.as_str())
        .unwrap_or("unknown");
    TransitionDecision::Take(TransitionChoice {
        id: chosen.id.clone(),
        resolution,
        reason: format!(
            "transition `{}` leads to `{to}` for `{}`",
            chosen.name,
            target.as_str()
        ),
    })
}

/// The offered resolution whose meaning matches `target` (by the configured lists).
fn pick_resolution(
    target: FindingStatus,
    offered: &[String],
    config: Config<'_>,
) -> Option<String> {
    let pc = policy_config(config);
    let list = match target {
        FindingStatus::Resolved => &pc.resolved_resolutions,
        FindingStatus::FalsePositive => &pc.false_positive_resolutions,
        FindingStatus::AcceptedRisk => &pc.accepted_risk_resolutions,
        FindingStatus::Open => return None,
    };
    list.iter().find_map(|want| {
        offered
            .iter()
            .find(|o| o.trim().eq_ignore_ascii_case(want.trim()))
            .cloned()
    })
}

/// Config keys of the default ticket policy.
pub const KEY_TICKET_PROJECT: &str = "ticket.project";
pub const KEY_TICKET_ISSUE_TYPE: &str = "ticket.issue_type";
pub const KEY_TICKET_MIN_SEVERITY: &str = "ticket.min_severity";
pub const KEY_TICKET_MIN_SCORE: &str = "ticket.min_score";
pub const KEY_TICKET_SCAN_TYPES: &str = "ticket.scan_types";
pub const KEY_TICKET_REPOSITORIES: &str = "ticket.repositories";
pub const KEY_TICKET_LABELS: &str = "ticket.labels";

/// The Jira priority name for a severity: `priority.<severity>` in config, else Jira's
/// default scheme (Highest … Lowest).
pub fn priority_for(severity: Severity, config: Config<'_>) -> String {
    let key = format!("priority.{}", severity.as_str());
    if let Some(p) = config.get(&key) {
        return p.to_owned();
    }
    match severity {
        Severity::Critical => "Highest",
        Severity::High => "High",
        Severity::Medium => "Medium",
        Severity::Low => "Low",
        Severity::Info => "Lowest",
    }
    .to_owned()
}

/// Days to fix by severity: `sla_days.<severity>` in config (0 = no due date), else
/// 7 / 30 / 90 / 180 days and none for info.
pub fn sla_days(severity: Severity, config: Config<'_>) -> Option<u32> {
    let key = format!("sla_days.{}", severity.as_str());
    if let Some(d) = config.number(&key) {
        return (d >= 1.0).then_some(d as u32);
    }
    match severity {
        Severity::Critical => Some(7),
        Severity::High => Some(30),
        Severity::Medium => Some(90),
        Severity::Low => Some(180),
        Severity::Info => None,
    }
}

/// `YYYY-MM-DD` of `now_ms` (Unix epoch milliseconds, UTC) plus `days`.
pub fn date_after(now_ms: i64, days: u32) -> String {
    let day = now_ms.div_euclid(86_400_000) + i64::from(days);
    // Howard Hinnant's days-to-civil algorithm: rules have no date library or clock.
    let z = day + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

fn in_scope(finding: &Finding, config: Config<'_>) -> Result<(), String> {
    if let Some(types) = config.list(KEY_TICKET_SCAN_TYPES)
        && !types
            .iter()
            .any(|t| t.eq_ignore_ascii_case(&finding.scan_type))
    {
        return Err(format!(
            "scan type `{}` is not in {KEY_TICKET_SCAN_TYPES}",
            finding.scan_type
        ));
    }
    if let Some(repos) = config.list(KEY_TICKET_REPOSITORIES)
        && !finding
            .repository
            .as_deref()
            .is_some_and(|r| repos.contains(&r))
    {
        return Err(format!("repository is not in {KEY_TICKET_REPOSITORIES}"));
    }
    Ok(())
}

/// Whether a new finding gets a ticket: only when `ticket.project` is set, the finding is
/// open and in scope, and its severity reaches `ticket.min_severity` (default high) or its
/// score reaches `ticket.min_score` (when set).
pub fn ticketing(input: &TicketInput) -> TicketDecision {
    let config = Config(&input.config);
    let finding = &input.finding;
    let Some(project) = config.get(KEY_TICKET_PROJECT) else {
        return TicketDecision::Skip(format!(
            "auto-ticketing is off ({KEY_TICKET_PROJECT} is not set)"
        ));
    };
    if finding.status != FindingStatus::Open {
        return TicketDecision::Skip(format!("the finding is {}", finding.status.as_str()));
    }
    if let Err(why) = in_scope(finding, config) {
        return TicketDecision::Skip(why);
    }
    let min_severity = config
        .get(KEY_TICKET_MIN_SEVERITY)
        .and_then(|s| s.trim().parse::<Severity>().ok())
        .unwrap_or(Severity::High);
    let by_severity = finding.severity >= min_severity;
    let by_score = match (config.number(KEY_TICKET_MIN_SCORE), finding.score) {
        (Some(min), Some(score)) => score >= min,
        _ => false,
    };
    if !by_severity && !by_score {
        return TicketDecision::Skip(format!(
            "severity {} is below {} and the score does not reach the threshold",
            finding.severity.as_str(),
            min_severity.as_str()
        ));
    }
    let mut labels: Vec<String> = config
        .list(KEY_TICKET_LABELS)
        .unwrap_or_else(|| vec!["security"])
        .into_iter()
        .map(str::to_owned)
        .collect();
    labels.push(format!("severity-{}", finding.severity.as_str()));
    TicketDecision::Create(TicketPlan {
        project: project.to_owned(),
        issue_type: config
            .get(KEY_TICKET_ISSUE_TYPE)
            .unwrap_or("Bug")
            .to_owned(),
        priority: Some(priority_for(finding.severity, config)),
        labels,
        due_date: sla_days(finding.severity, config).map(|d| date_after(input.now, d)),
        reason: if by_severity {
            format!(
                "severity {} reaches {}",
                finding.severity.as_str(),
                min_severity.as_str()
            )
        } else {
            "the score reaches ticket.min_score".to_owned()
        },
        ..TicketPlan::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_civil() {
        assert_eq!(date_after(0, 0), "1970-01-01");
        // 2026-11-22T10:00:00Z
        assert_eq!(date_after(1_795_341_600_000, 0), "2026-11-22");
        assert_eq!(date_after(1_795_341_600_000, 39), "2026-12-31");
        assert_eq!(date_after(1_795_341_600_000, 40), "2027-01-01");
        assert_eq!(date_after(951_782_400_000, 0), "2000-02-29");
    }
}
