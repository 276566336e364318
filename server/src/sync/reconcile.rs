//! Reconciliation between findings and their tickets: compare every linked finding with its
//! ticket, then push (ticket follows finding), import (finding follows ticket, closures
//! decided by the tenant's closure rule) or reconcile (the newer change wins).

use std::fmt::Write as _;

use chrono::{DateTime, Utc};
use rules_sdk::{ClosureDecision, FindingStatus, RuleInput, RuleOutput};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde::Serialize;
use serde_json::json;

use super::{JobError, JobOutcome, status};
use crate::findings::model::{Actor, EventSource, Finding};
use crate::findings::{FindingsError, StatusChange};
use crate::state::AppState;
use crate::store::entities::{finding_events, jira_links};
use crate::webhooks::event::JiraEvent;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// The newer side wins, per finding.
    Reconcile,
    /// Tickets follow their findings.
    Push,
    /// Findings follow their tickets.
    Import,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    Table,
    Csv,
    Json,
}

#[derive(Debug, Clone)]
pub struct Options {
    pub mode: Mode,
    pub tenant: Option<String>,
    pub project: Option<String>,
    /// Only findings changed (in Verdict) since then.
    pub since: Option<DateTime<Utc>>,
    /// Only open findings (the ones a closure Verdict missed would have decided).
    pub only_open: bool,
    pub dry_run: bool,
}

/// What reconciliation does with one finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Finding and ticket agree.
    None,
    /// Move the ticket to fit the finding.
    Push,
    /// Change the finding to fit the ticket.
    Import,
    /// The ticket could not be read.
    Error,
}

impl Action {
    fn as_str(self) -> &'static str {
        match self {
            Action::None => "none",
            Action::Push => "push",
            Action::Import => "import",
            Action::Error => "error",
        }
    }
}

/// One finding's line in the report.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub finding: String,
    pub issue_key: String,
    pub verdict_status: String,
    pub jira_status: String,
    pub action: Action,
    /// `ok: …`, `skipped: …`, `failed: …`, `in sync` or `dry run`.
    pub result: String,
    #[serde(skip)]
    failed: bool,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    pub checked: usize,
    pub in_sync: usize,
    pub pushed: usize,
    pub imported: usize,
    pub skipped: usize,
    pub failed: usize,
    pub dry_run: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub rows: Vec<Row>,
    pub summary: Summary,
}

#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    #[error("no linked findings match {0}; nothing was processed")]
    NothingMatched(String),
    #[error("database error: {0}")]
    Db(#[from] sea_orm::DbErr),
}

/// When the finding's status last changed in Verdict.
async fn verdict_changed_at(
    state: &AppState,
    f: &Finding,
) -> Result<DateTime<Utc>, sea_orm::DbErr> {
    let last = finding_events::Entity::find()
        .filter(finding_events::Column::FindingId.eq(&f.id))
        .filter(finding_events::Column::Kind.is_in(["status_changed", "created"]))
        .order_by_desc(finding_events::Column::CreatedAt)
        .one(state.store().db())
        .await?;
    Ok(last.map(|e| e.created_at).unwrap_or(f.updated_at))
}

fn describe(opts: &Options) -> String {
    let mut parts = Vec::new();
    if let Some(t) = &opts.tenant {
        parts.push(format!("--tenant {t}"));
    }
    if let Some(p) = &opts.project {
        parts.push(format!("--project {p}"));
    }
    if let Some(s) = &opts.since {
        parts.push(format!("--since {}", s.format("%Y-%m-%d")));
    }
    if parts.is_empty() {
        "the filters (there are no linked findings)".into()
    } else {
        parts.join(" ")
    }
}

/// Runs reconciliation (see the module docs). Findings are processed one by one; a failure
/// is reported on its row and the run goes on.
pub async fn run(state: &AppState, opts: &Options) -> Result<Report, ReconcileError> {
    let mut q = jira_links::Entity::find();
    if let Some(t) = &opts.tenant {
        q = q.filter(jira_links::Column::TenantId.eq(t));
    }
    if let Some(p) = &opts.project {
        q = q.filter(jira_links::Column::ProjectKey.eq(p));
    }
    let links = q
        .order_by_asc(jira_links::Column::IssueKey)
        .all(state.store().db())
        .await?;
    let mut rows = Vec::new();
    let mut summary = Summary {
        dry_run: opts.dry_run,
        ..Default::default()
    };
    for link in links {
        let finding = match state
            .findings()
            .get(&link.tenant_id, &link.finding_id)
            .await
        {
            Ok(f) => f,
            Err(_) => continue,
        };
        if opts.since.is_some_and(|s| finding.updated_at < s)
            || (opts.only_open && finding.status != FindingStatus::Open)
        {
            continue;
        }
        let row = one(state, opts, &finding, &link).await?;
        summary.checked += 1;
        match (row.action, row.failed, row.result.starts_with("skipped")) {
            (_, true, _) => summary.failed += 1,
            (Action::None, _, _) => summary.in_sync += 1,
            (_, _, true) => summary.skipped += 1,
            (Action::Push, _, _) => summary.pushed += 1,
            (Action::Import, _, _) => summary.imported += 1,
            (Action::Error, _, _) => summary.failed += 1,
        }
        rows.push(row);
    }
    if rows.is_empty() {
        return Err(ReconcileError::NothingMatched(describe(opts)));
    }
    Ok(Report { rows, summary })
}

/// Open findings follow their tickets for one tenant: closures whose events never arrived are
/// decided now (by the tenant's closure rule). Run by the Forge scheduled trigger; the outcome
/// goes to the log. One ticket read per open linked finding.
pub async fn catch_up(state: &AppState, tenant: &str) {
    let opts = Options {
        mode: Mode::Import,
        tenant: Some(tenant.to_owned()),
        project: None,
        since: None,
        only_open: true,
        dry_run: false,
    };
    // A safety net reading one ticket per open finding: bulk work for the hour's budget (the
    // closures that arrive as events stay closure work).
    let outcome =
        crate::jira::budget::with_priority(crate::jira::budget::Priority::Bulk, run(state, &opts))
            .await;
    match outcome {
        Ok(report) => {
            let s = &report.summary;
            tracing::info!(%tenant, checked = s.checked, imported = s.imported, failed = s.failed, "scheduled reconciliation");
        }
        Err(ReconcileError::NothingMatched(_)) => {}
        Err(e) => tracing::warn!(%tenant, error = %e, "scheduled reconciliation failed"),
    }
}

async fn one(
    state: &AppState,
    opts: &Options,
    finding: &Finding,
    link: &jira_links::Model,
) -> Result<Row, ReconcileError> {
    let mut row = Row {
        finding: finding.id.clone(),
        issue_key: link.issue_key.clone(),
        verdict_status: finding.status.as_str().to_owned(),
        jira_status: String::new(),
        action: Action::None,
        result: String::new(),
        failed: false,
    };
    let fail = |mut row: Row, why: String| {
        row.result = format!("failed: {why}");
        row.failed = true;
        row
    };
    let auth = match state.jira_auth(&link.tenant_id).await {
        Ok(a) => a,
        Err(e) => {
            row.action = Action::Error;
            return Ok(fail(row, format!("no Jira connection: {e}")));
        }
    };
    let issue = match state.jira().get_issue(&auth, &link.issue_id).await {
        Ok(i) => i,
        Err(e) => {
            row.action = Action::Error;
            return Ok(fail(row, e.to_string()));
        }
    };
    row.issue_key = issue.key.clone();
    row.jira_status = format!("{} ({})", issue.status.name, issue.status.category);
    let jira_done = issue.status.category == "done";
    // A group's ticket is done when every finding in it is: one resolved finding of a group
    // with open ones agrees with an open ticket.
    let verdict_done = match super::groups::ticket_wants_done(state, &link.tenant_id, finding).await
    {
        Ok((done, _)) => done,
        Err(e) => {
            row.action = Action::Error;
            return Ok(fail(row, e.to_string()));
        }
    };
    if jira_done == verdict_done {
        row.result = "in sync".into();
        return Ok(row);
    }
    row.action = match opts.mode {
        Mode::Push => Action::Push,
        Mode::Import => Action::Import,
        Mode::Reconcile => {
            let ours = verdict_changed_at(state, finding).await?.timestamp_millis();
            let theirs = issue.status_category_changed.or(issue.updated).unwrap_or(0);
            if ours >= theirs {
                Action::Push
            } else {
                Action::Import
            }
        }
    };
    if opts.dry_run {
        row.result = "dry run".into();
        return Ok(row);
    }
    let result = match row.action {
        Action::Push => {
            status::move_ticket(
                state,
                &link.tenant_id,
                finding,
                Some(format!(
                    "reconciled: the finding is {} in Verdict",
                    finding.status
                )),
            )
            .await
        }
        _ => import(state, &link.tenant_id, finding, &issue).await,
    };
    match result {
        Ok(JobOutcome::Done(s)) => row.result = format!("ok: {s}"),
        Ok(JobOutcome::Skipped(s)) => row.result = format!("skipped: {s}"),
        Err(e) => return Ok(fail(row, e.to_string())),
    }
    Ok(row)
}

/// The finding follows its ticket: reopened when the ticket is open; when the ticket is
/// closed, the closure rule decides what the closure means (and may leave it as is).
async fn import(
    state: &AppState,
    tenant: &str,
    finding: &Finding,
    issue: &crate::jira::api::Issue,
) -> Result<JobOutcome, JobError> {
    let (to, reason, rule) = if issue.status.category != "done" {
        (
            FindingStatus::Open,
            format!(
                "reconciled: {} is `{}` in Jira",
                issue.key, issue.status.name
            ),
            None,
        )
    } else {
        let ev = JiraEvent::parse(&json!({
            "webhookEvent": "jira:issue_updated",
            "issue": {"id": issue.id, "key": issue.key},
        }))
        .map_err(|e| JobError::Permanent(e.to_string()))?;
        let input = crate::triage::gather(state, tenant, &ev, finding)
            .await
            .map_err(|e| JobError::Transient(e.to_string()))?
            .input;
        let decided = state
            .rules()
            .decide(
                state.metrics_arc(),
                tenant,
                Some(&issue.project),
                RuleInput::Closure(input),
            )
            .await?;
        let rule = decided
            .rule
            .as_ref()
            .filter(|_| decided.source == crate::rules::DecisionSource::Rule)
            .map(|r| crate::findings::RuleRef {
                id: r.name.clone(),
                version: r.version.to_string(),
            });
        match decided.output {
            RuleOutput::Closure(ClosureDecision::Apply(v)) => (
                v.status,
                format!(
                    "reconciled from {}: {} (confidence {:.2})",
                    issue.key, v.reason, v.confidence
                ),
                rule,
            ),
            RuleOutput::Closure(ClosureDecision::Skip(why)) => {
                return Ok(JobOutcome::Skipped(format!(
                    "{} is closed but the closure rule left the finding as is: {why}",
                    issue.key
                )));
            }
            other => {
                return Ok(JobOutcome::Skipped(format!(
                    "no closure decision ({other:?})"
                )));
            }
        }
    };
    let change = StatusChange {
        to,
        reason: Some(reason),
        actor: Actor::System("reconcile".into()),
        source: EventSource::Reconcile,
        rule,
        bulk_id: None,
    };
    match state
        .findings()
        .change_status(tenant, &finding.id, change)
        .await
    {
        Ok((f, _)) => Ok(JobOutcome::Done(format!("finding is now {}", f.status))),
        Err(FindingsError::AlreadyInStatus(s)) => {
            Ok(JobOutcome::Skipped(format!("finding already {s}")))
        }
        Err(e) => Err(e.into()),
    }
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

const COLUMNS: [&str; 6] = [
    "finding",
    "issue",
    "verdict_status",
    "jira_status",
    "action",
    "result",
];

fn cells(r: &Row) -> [String; 6] {
    [
        r.finding.clone(),
        r.issue_key.clone(),
        r.verdict_status.clone(),
        r.jira_status.clone(),
        r.action.as_str().to_owned(),
        r.result.clone(),
    ]
}

fn summary_line(s: &Summary) -> String {
    let (push, import) = if s.dry_run {
        ("to push", "to import")
    } else {
        ("pushed", "imported")
    };
    format!(
        "{} checked: {} in sync, {} {push}, {} {import}, {} skipped, {} failed{}",
        s.checked,
        s.in_sync,
        s.pushed,
        s.imported,
        s.skipped,
        s.failed,
        if s.dry_run {
            " (dry run: nothing changed)"
        } else {
            ""
        }
    )
}

/// The report in the chosen format.
pub fn render(report: &Report, format: OutputFormat) -> String {
    match format {
        OutputFormat::Json => serde_json::to_string_pretty(report).expect("plain data serialises"),
        OutputFormat::Csv => {
            let mut out = COLUMNS.join(",");
            out.push('\n');
            for r in &report.rows {
                out.push_str(
                    &cells(r)
                        .iter()
                        .map(|c| csv_field(c))
                        .collect::<Vec<_>>()
                        .join(","),
                );
                out.push('\n');
            }
            out
        }
        OutputFormat::Table => {
            let rows: Vec<[String; 6]> = report.rows.iter().map(cells).collect();
            let mut width = COLUMNS.map(str::len);
            for r in &rows {
                for (w, c) in width.iter_mut().zip(r) {
                    *w = (*w).max(c.chars().count());
                }
            }
            let mut out = String::new();
            let line = |cells: &[String]| {
                cells
                    .iter()
                    .zip(width)
                    .map(|(c, w)| format!("{c:<w$}"))
                    .collect::<Vec<_>>()
                    .join("  ")
                    .trim_end()
                    .to_owned()
            };
            let header: Vec<String> = COLUMNS.iter().map(|c| c.to_uppercase()).collect();
            let _ = writeln!(out, "{}", line(&header));
            for r in &rows {
                let _ = writeln!(out, "{}", line(r));
            }
            let _ = writeln!(out, "\n{}", summary_line(&report.summary));
            out
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_have_consistent_columns() {
        let report = Report {
            rows: vec![Row {
                finding: "f1".into(),
                issue_key: "APP-1".into(),
                verdict_status: "resolved".into(),
                jira_status: "To Do (new)".into(),
                action: Action::Push,
                result: "ok: APP-1: moved, with \"quotes\"".into(),
                failed: false,
            }],
            summary: Summary {
                checked: 1,
                pushed: 1,
                ..Default::default()
            },
        };
        let csv = render(&report, OutputFormat::Csv);
        assert_eq!(
            csv,
            "finding,issue,verdict_status,jira_status,action,result\nf1,APP-1,resolved,To Do (new),push,\"ok: APP-1: moved, with \"\"quotes\"\"\"\n"
        );
        let table = render(&report, OutputFormat::Table);
        assert!(
            table.starts_with("FINDING  ISSUE  VERDICT_STATUS  JIRA_STATUS  ACTION  RESULT\n"),
            "{table}"
        );
        assert!(table.contains("1 checked: 0 in sync, 1 pushed"));
        let json: serde_json::Value =
            serde_json::from_str(&render(&report, OutputFormat::Json)).unwrap();
        assert_eq!(json["rows"][0]["action"], "push");
        assert_eq!(json["summary"]["pushed"], 1);
    }
}
