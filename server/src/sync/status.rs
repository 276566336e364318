//! Outbound status sync: when a finding's status changes in Verdict, its ticket follows —
//! the tenant's transition rule (or the default policy) picks from the transitions Jira
//! offers, a required resolution is filled, and the reason goes along as a comment. The
//! transition is recorded first as Verdict's own, so its webhook is not read as a person's
//! decision.

use rules_sdk::{
    FindingStatus, OfferedTransition, RuleInput, RuleOutput, Status, StatusCategory,
    TransitionDecision, TransitionInput,
};

use super::{JobError, JobOutcome};
use crate::findings::FindingsError;
use crate::jira::api::{Issue, RichText, StatusRef};
use crate::outbox::{record_own, take_own};
use crate::redact;
use crate::state::AppState;
use crate::store::entities::outbox_jobs as oj;
use crate::triage::{OWN_COMMENT_TAG, adf};

/// Rich text for a comment, in the tenant's representation.
pub fn comment_body(auth: &crate::atlassian::JiraAuth, text: &str) -> RichText {
    let text = redact::masked(text);
    match auth.flavor() {
        crate::atlassian::outbound::ApiFlavor::DataCenterV2 => RichText::Wiki(text),
        _ => RichText::Adf(adf::from_text(&text)),
    }
}

fn rule_status(s: &StatusRef) -> Status {
    Status {
        id: s.id.clone(),
        name: s.name.clone(),
        category: StatusCategory::from_key(&s.category),
    }
}

fn rule_ticket(i: &Issue) -> rules_sdk::Ticket {
    rules_sdk::Ticket {
        id: i.id.clone(),
        key: i.key.clone(),
        project: i.project.clone(),
        issue_type: i.issue_type.clone(),
        status: rule_status(&i.status),
        resolution: i.resolution.clone(),
        labels: i.labels.clone(),
        priority: None,
        reporter: None,
        assignee: None,
        closer: None,
        created: 0,
        resolved: None,
        closing_change: None,
        comments: Vec::new(),
    }
}

fn wants_done(s: FindingStatus) -> bool {
    s != FindingStatus::Open
}

/// Runs a `sync_status` job: moves the ticket to match the finding's *current* status (so
/// repeated or out-of-date jobs converge instead of fighting).
pub async fn run(
    state: &AppState,
    job: &oj::Model,
    reason: Option<String>,
) -> Result<JobOutcome, JobError> {
    let tenant = job.tenant_id.as_str();
    let finding_id = job.finding_id.clone().unwrap_or_default();
    let outcome = match state.findings().get(tenant, &finding_id).await {
        Ok(f) => move_ticket(state, tenant, &f, reason).await?,
        Err(FindingsError::NotFound(_)) => {
            JobOutcome::Skipped("the finding no longer exists".into())
        }
        Err(e) => return Err(e.into()),
    };
    super::finish(state, job, outcome).await
}

/// Moves `finding`'s ticket to a status that fits the finding's status (see the module docs).
pub async fn move_ticket(
    state: &AppState,
    tenant: &str,
    finding: &crate::findings::model::Finding,
    reason: Option<String>,
) -> Result<JobOutcome, JobError> {
    let Some(link) = finding.jira.clone() else {
        return Ok(JobOutcome::Skipped("the finding has no Jira issue".into()));
    };
    let auth = state.jira_auth(tenant).await?;
    let (issue, transitions) = state
        .jira()
        .issue_with_transitions(&auth, &link.issue_id)
        .await?;
    let target = finding.status;
    // A group's ticket is done only when every finding in it is.
    let (done, open) = super::groups::ticket_wants_done(state, tenant, finding).await?;
    if wants_done(target) && !done {
        return Ok(JobOutcome::Skipped(format!(
            "{} stays open: {open} finding{} of its group still open",
            issue.key,
            if open == 1 { " is" } else { "s are" }
        )));
    }
    if done == (issue.status.category == "done") {
        return Ok(JobOutcome::Skipped(format!(
            "{} is already in `{}`, which fits {target}",
            issue.key, issue.status.name
        )));
    }
    let config = state
        .rules()
        .config_entries(tenant)
        .await
        .unwrap_or_default();
    let mut resolutions: Vec<String> = Vec::new();
    for t in &transitions {
        for r in &t.resolutions {
            if !resolutions.contains(r) {
                resolutions.push(r.clone());
            }
        }
    }
    let input = TransitionInput {
        ticket: rule_ticket(&issue),
        finding: crate::triage::to_rule_finding(finding),
        target,
        transitions: transitions
            .iter()
            .map(|t| OfferedTransition {
                id: t.id.clone(),
                name: t.name.clone(),
                to: t.to.as_ref().map(rule_status),
                required_fields: t.required_fields.clone(),
            })
            .collect(),
        resolutions,
        config,
    };
    let decided = state
        .rules()
        .decide(
            state.metrics_arc(),
            tenant,
            Some(&issue.project),
            RuleInput::Transition(input),
        )
        .await?;
    let who = match &decided.rule {
        Some(r) if decided.source == crate::rules::DecisionSource::Rule => {
            format!("rule {}@{}", r.name, r.version)
        }
        _ => "default policy".to_owned(),
    };
    let why = reason.unwrap_or_else(|| format!("the finding is {target} in Verdict"));
    match decided.output {
        RuleOutput::Transition(TransitionDecision::Take(choice)) => {
            let Some(chosen) = transitions.iter().find(|t| t.id == choice.id) else {
                return Err(JobError::Permanent(format!(
                    "{who} chose transition {} that Jira does not offer",
                    choice.id
                )));
            };
            if let Some(to) = &chosen.to {
                let _gate = state.store().write_lock().await;
                record_own(state.store().db(), tenant, &issue.id, &to.id).await?;
            }
            let comment = comment_body(
                &auth,
                &format!("{OWN_COMMENT_TAG} Verdict marked this finding {target}: {why}"),
            );
            let moved = state
                .jira()
                .transition(
                    &auth,
                    &issue.id,
                    &choice.id,
                    choice.resolution.as_deref(),
                    Some(&comment),
                )
                .await;
            if let Err(e) = moved {
                // Refused outright: no webhook will come, and a person's later move to that
                // status must count. (An unclear failure keeps the record: it may have landed.)
                if let (false, Some(to)) = (e.is_ambiguous(), &chosen.to) {
                    let _gate = state.store().write_lock().await;
                    take_own(state.store().db(), tenant, &issue.id, &to.id).await?;
                }
                return Err(e.into());
            }
            let to = chosen
                .to
                .as_ref()
                .map(|s| s.name.clone())
                .unwrap_or_else(|| "?".into());
            Ok(JobOutcome::Done(format!(
                "{}: `{}` → `{to}` via `{}`{} ({who})",
                issue.key,
                issue.status.name,
                chosen.name,
                choice
                    .resolution
                    .as_deref()
                    .map(|r| format!(", resolution {r}"))
                    .unwrap_or_default()
            )))
        }
        RuleOutput::Transition(TransitionDecision::None(no)) => {
            // Say so on the ticket: people should know the finding and ticket disagree.
            let text = format!(
                "{OWN_COMMENT_TAG} Verdict marked this finding {target} ({why}) but did not move the ticket: {no}"
            );
            state
                .jira()
                .add_comment(&auth, &issue.id, &comment_body(&auth, &text))
                .await?;
            Ok(JobOutcome::Skipped(format!(
                "{}: not moved: {no} ({who})",
                issue.key
            )))
        }
        other => Err(JobError::Permanent(format!(
            "the transition decision was {other:?}"
        ))),
    }
}

/// Runs a `comment` job. A repeated job first looks for its comment (a POST that failed in
/// flight may have landed).
pub async fn comment_job(
    state: &AppState,
    job: &oj::Model,
    issue_id: &str,
    text: &str,
) -> Result<JobOutcome, JobError> {
    let auth = state.jira_auth(&job.tenant_id).await?;
    let body = comment_body(&auth, text);
    if job.attempts > 1 {
        let path = format!(
            "{}/issue/{issue_id}/comment?orderBy=-created&maxResults=50",
            crate::jira::api::rest(&auth)
        );
        let page = state.jira().get(&auth, &path).await?;
        let want = redact::masked(text);
        let landed = page
            .get("comments")
            .and_then(serde_json::Value::as_array)
            .is_some_and(|cs| {
                cs.iter().any(|c| {
                    c.get("body")
                        .is_some_and(|b| adf::to_text(b).trim() == want.trim())
                })
            });
        if landed {
            return super::finish(
                state,
                job,
                JobOutcome::Done(format!("comment on {issue_id} had landed")),
            )
            .await;
        }
    }
    let id = state.jira().add_comment(&auth, issue_id, &body).await?;
    super::finish(
        state,
        job,
        JobOutcome::Done(format!("comment {id} on {issue_id}")),
    )
    .await
}
