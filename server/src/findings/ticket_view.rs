//! What a Jira user sees about one ticket in Verdict's issue panel: the findings linked to that
//! ticket, their status, and the last closure decision with its reason and evidence — nothing
//! about other tickets, and no rule code, settings, keys or code snippets.

use chrono::{DateTime, Utc};
use rules_sdk::{FindingStatus, Severity};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder};
use serde::Serialize;

use super::{Findings, FindingsError};
use crate::store::entities::{decisions, jira_links};

/// Evidence excerpts shown per decision, and their length.
const MAX_COMMENTS: usize = 5;
const EXCERPT_CHARS: usize = 280;

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TicketView {
    pub issue_id: String,
    pub issue_key: Option<String>,
    pub findings: Vec<TicketFinding>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TicketFinding {
    pub id: String,
    pub title: String,
    #[schema(value_type = String)]
    pub severity: Severity,
    #[schema(value_type = String)]
    pub status: FindingStatus,
    pub scan_type: Option<String>,
    /// `repository: path:line`, as far as the scanner said.
    pub location: Option<String>,
    pub cvss_score: Option<f64>,
    pub first_seen_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub last_decision: Option<TicketDecision>,
}

/// The last closure decision about the finding.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TicketDecision {
    pub decided_at: DateTime<Utc>,
    /// `apply` (acted on), `skip` (left as it was), `defer`, …
    pub outcome: Option<String>,
    /// The status it set (`resolved`, `false_positive`, `accepted_risk`).
    pub verdict: Option<String>,
    pub reason: Option<String>,
    pub confidence: Option<f64>,
    /// `the default policy`, or the rule's name and version.
    pub decided_by: String,
    /// The Jira account that closed the ticket.
    pub closed_by: Option<String>,
    pub resolution: Option<String>,
    /// The ticket's comments the decision read (masked, shortened), newest last.
    pub comments: Vec<EvidenceComment>,
    /// Confluence pages the comments linked, by URL only: the viewer may not be allowed to
    /// read them, so their titles are not shown.
    pub pages: Vec<String>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct EvidenceComment {
    pub author: String,
    pub excerpt: String,
}

fn excerpt(text: &str) -> String {
    let t = text.trim();
    match t.char_indices().nth(EXCERPT_CHARS) {
        Some((at, _)) => format!("{}…", &t[..at]),
        None => t.to_owned(),
    }
}

fn decision_of(d: decisions::Model) -> TicketDecision {
    let input: Option<rules_sdk::RuleInput> = serde_json::from_str(&d.input).ok();
    let (comments, pages) = match input {
        Some(rules_sdk::RuleInput::Closure(i)) => {
            let thread = &i.ticket.comments;
            let start = thread.len().saturating_sub(MAX_COMMENTS);
            (
                thread[start..]
                    .iter()
                    .map(|c| EvidenceComment {
                        author: c.author.clone(),
                        excerpt: excerpt(&c.body),
                    })
                    .collect(),
                i.pages.iter().map(|p| p.url.clone()).collect(),
            )
        }
        _ => (Vec::new(), Vec::new()),
    };
    let decided_by = match (&d.rule_name, d.rule_version) {
        (Some(name), Some(v)) => format!("rule {name} v{v}"),
        (Some(name), None) => format!("rule {name}"),
        _ => "the default policy".to_owned(),
    };
    TicketDecision {
        decided_at: d.created_at,
        outcome: d.outcome,
        verdict: d.verdict,
        reason: d.reason,
        confidence: d.confidence,
        decided_by,
        closed_by: d.actor,
        resolution: d.resolution,
        comments,
        pages,
    }
}

/// The ticket `issue_id` of `tenant` as its issue panel shows it. An issue no finding is linked
/// to has no findings (not an error: the panel says so).
pub async fn for_issue(
    db: &DatabaseConnection,
    findings: &Findings,
    tenant: &str,
    issue_id: &str,
) -> Result<TicketView, FindingsError> {
    let links = jira_links::Entity::find()
        .filter(jira_links::Column::TenantId.eq(tenant))
        .filter(jira_links::Column::IssueId.eq(issue_id))
        .all(db)
        .await?;
    let mut out = Vec::with_capacity(links.len());
    let mut issue_key = None;
    for link in links {
        issue_key = Some(link.issue_key.clone());
        let f = findings.get(tenant, &link.finding_id).await?;
        let last = decisions::Entity::find()
            .filter(decisions::Column::TenantId.eq(tenant))
            .filter(decisions::Column::FindingId.eq(&f.id))
            .filter(decisions::Column::Kind.eq("closure"))
            .order_by_desc(decisions::Column::CreatedAt)
            .one(db)
            .await?;
        let location = match (&f.repository, &f.file_path, f.line) {
            (repo, Some(path), line) => Some(format!(
                "{}{path}{}",
                repo.as_deref()
                    .map(|r| format!("{r}: "))
                    .unwrap_or_default(),
                line.map(|l| format!(":{l}")).unwrap_or_default()
            )),
            (Some(repo), None, _) => Some(repo.clone()),
            _ => None,
        };
        out.push(TicketFinding {
            id: f.id,
            title: crate::redact::masked(&f.title),
            severity: f.severity,
            status: f.status,
            scan_type: f.scan_type,
            location,
            cvss_score: f.cvss_score,
            first_seen_at: f.created_at,
            updated_at: f.updated_at,
            last_decision: last.map(decision_of),
        });
    }
    Ok(TicketView {
        issue_id: issue_id.to_owned(),
        issue_key,
        findings: out,
    })
}
