//! The decision log as the admin reads it: every closure (and transition, ticketing) decision
//! with its verdict, reason, confidence, who decided (a rule version or the default policy) and
//! who closed the ticket, filtered and paged on indexed columns; one decision in full.

use chrono::{DateTime, TimeZone, Utc};
use sea_orm::sea_query::Condition;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::AdminError;
use crate::state::AppState;
use crate::store::entities::{decisions, tenants};

pub const DEFAULT_PAGE: u64 = 50;
pub const MAX_PAGE: u64 = 200;

const KINDS: [&str; 3] = ["closure", "transition", "ticketing"];
const SOURCES: [&str; 3] = ["rule", "default", "default_after_error"];
const OUTCOMES: [&str; 6] = ["apply", "skip", "defer", "take", "none", "create"];

#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct DecisionFilter {
    /// `closure` (default), `transition` or `ticketing`.
    pub kind: Option<String>,
    /// The status applied: `resolved`, `false_positive`, `accepted_risk`.
    pub verdict: Option<String>,
    /// `apply`, `skip`, `defer`, `take`, `none`, `create`.
    pub outcome: Option<String>,
    /// Who decided: `rule`, `default` or `default_after_error`.
    pub source: Option<String>,
    /// A rule name.
    pub rule: Option<String>,
    /// A Jira issue key.
    pub issue: Option<String>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// 1–200, default 50.
    pub limit: Option<u64>,
}

/// One decision in the log (without its full input).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DecisionRow {
    pub id: String,
    pub kind: String,
    pub issue_key: Option<String>,
    /// The ticket in Jira.
    pub issue_url: Option<String>,
    pub finding_id: Option<String>,
    pub outcome: Option<String>,
    pub verdict: Option<String>,
    pub reason: Option<String>,
    pub confidence: Option<f64>,
    /// `rule` or `default`; `default_after_error` on decisions stored before rules failed
    /// closed (the default policy decided because the rule failed).
    pub source: String,
    pub rule_name: Option<String>,
    pub rule_version: Option<i32>,
    /// The rule's error, on decisions stored before rules failed closed (a rule that fails now
    /// makes the decision wait: no decision is stored).
    pub error_code: Option<String>,
    /// The Atlassian account that closed the ticket.
    pub closed_by: Option<String>,
    /// Its display name, when Jira told.
    pub closed_by_name: Option<String>,
    pub decided_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DecisionPage {
    pub decisions: Vec<DecisionRow>,
    pub next_cursor: Option<String>,
}

/// One decision with everything the rule saw and answered.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DecisionDetail {
    #[serde(flatten)]
    pub row: DecisionRow,
    /// The full rule input.
    #[schema(value_type = Object)]
    pub input: Value,
    /// What was acted on.
    #[schema(value_type = Object)]
    pub output: Value,
    pub error_message: Option<String>,
    pub delivery_id: Option<String>,
    /// What Verdict noted while gathering the input, e.g. a Confluence link to another site it
    /// did not follow.
    pub notes: Vec<String>,
}

/// The listed columns of a `decisions` row (never the input and output blobs).
#[derive(Debug, sea_orm::FromQueryResult)]
struct RowData {
    id: String,
    kind: String,
    issue_key: Option<String>,
    finding_id: Option<String>,
    outcome: Option<String>,
    verdict: Option<String>,
    reason: Option<String>,
    confidence: Option<f64>,
    source: String,
    rule_name: Option<String>,
    rule_version: Option<i32>,
    error_code: Option<String>,
    actor: Option<String>,
    created_at: DateTime<Utc>,
}

fn one_of(field: &str, value: &Option<String>, allowed: &[&str]) -> Result<(), AdminError> {
    match value {
        Some(v) if !allowed.contains(&v.as_str()) => Err(AdminError::invalid(
            field,
            format!("must be one of {}", allowed.join(", ")),
        )),
        _ => Ok(()),
    }
}

fn parse_cursor(cursor: &str) -> Result<(DateTime<Utc>, String), AdminError> {
    let bad = || AdminError::invalid("cursor", "not a cursor this API returned");
    let (millis, id) = cursor.split_once('.').ok_or_else(bad)?;
    let millis: i64 = millis.parse().map_err(|_| bad())?;
    let at = Utc.timestamp_millis_opt(millis).single().ok_or_else(bad)?;
    if id.is_empty() || id.len() > 36 {
        return Err(bad());
    }
    Ok((at, id.to_owned()))
}

/// The tenant's link base for issues (`…/browse/KEY`).
async fn browse_base(state: &AppState, tenant: &str) -> Result<Option<String>, AdminError> {
    let t = tenants::Entity::find_by_id(tenant)
        .select_only()
        .columns([tenants::Column::DisplayUrl, tenants::Column::SiteUrl])
        .into_tuple::<(Option<String>, Option<String>)>()
        .one(state.store().db())
        .await?;
    Ok(t.and_then(|(display, site)| display.or(site))
        .map(|u| format!("{}/browse/", u.trim_end_matches('/'))))
}

fn to_row(t: RowData, browse: &Option<String>) -> DecisionRow {
    DecisionRow {
        issue_url: match (browse, &t.issue_key) {
            (Some(b), Some(k)) => Some(format!("{b}{k}")),
            _ => None,
        },
        id: t.id,
        kind: t.kind,
        issue_key: t.issue_key,
        finding_id: t.finding_id,
        outcome: t.outcome,
        verdict: t.verdict,
        reason: t.reason,
        confidence: t.confidence,
        source: t.source,
        rule_name: t.rule_name,
        rule_version: t.rule_version,
        error_code: t.error_code,
        closed_by: t.actor,
        closed_by_name: None,
        decided_at: t.created_at,
    }
}

const ROW_COLUMNS: [decisions::Column; 14] = [
    decisions::Column::Id,
    decisions::Column::Kind,
    decisions::Column::IssueKey,
    decisions::Column::FindingId,
    decisions::Column::Outcome,
    decisions::Column::Verdict,
    decisions::Column::Reason,
    decisions::Column::Confidence,
    decisions::Column::Source,
    decisions::Column::RuleName,
    decisions::Column::RuleVersion,
    decisions::Column::ErrorCode,
    decisions::Column::Actor,
    decisions::Column::CreatedAt,
];

/// A page of the log, newest first.
pub async fn list(
    state: &AppState,
    tenant: &str,
    f: &DecisionFilter,
) -> Result<DecisionPage, AdminError> {
    one_of("kind", &f.kind, &KINDS)?;
    one_of("source", &f.source, &SOURCES)?;
    one_of("outcome", &f.outcome, &OUTCOMES)?;
    one_of(
        "verdict",
        &f.verdict,
        &["open", "resolved", "false_positive", "accepted_risk"],
    )?;
    let limit = f.limit.unwrap_or(DEFAULT_PAGE);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(AdminError::invalid(
            "limit",
            format!("must be between 1 and {MAX_PAGE}"),
        ));
    }
    let mut q = decisions::Entity::find()
        .filter(decisions::Column::TenantId.eq(tenant))
        .filter(decisions::Column::Kind.eq(f.kind.as_deref().unwrap_or("closure")));
    if let Some(v) = &f.verdict {
        q = q.filter(decisions::Column::Verdict.eq(v));
    }
    if let Some(o) = &f.outcome {
        q = q.filter(decisions::Column::Outcome.eq(o));
    }
    if let Some(s) = &f.source {
        q = q.filter(decisions::Column::Source.eq(s));
    }
    if let Some(r) = f.rule.as_deref().filter(|r| !r.is_empty()) {
        q = q.filter(decisions::Column::RuleName.eq(r));
    }
    if let Some(i) = f.issue.as_deref().map(str::trim).filter(|i| !i.is_empty()) {
        q = q.filter(decisions::Column::IssueKey.eq(i.to_ascii_uppercase()));
    }
    if let Some(c) = f.cursor.as_deref().filter(|c| !c.is_empty()) {
        let (at, id) = parse_cursor(c)?;
        q = q.filter(
            Condition::any()
                .add(decisions::Column::CreatedAt.lt(at))
                .add(
                    Condition::all()
                        .add(decisions::Column::CreatedAt.eq(at))
                        .add(decisions::Column::Id.lt(id)),
                ),
        );
    }
    let rows: Vec<RowData> = q
        .select_only()
        .columns(ROW_COLUMNS)
        .order_by_desc(decisions::Column::CreatedAt)
        .order_by_desc(decisions::Column::Id)
        .limit(limit + 1)
        .into_model()
        .all(state.store().db())
        .await?;
    let browse = browse_base(state, tenant).await?;
    let more = rows.len() as u64 > limit;
    let mut decisions: Vec<DecisionRow> = rows
        .into_iter()
        .take(limit as usize)
        .map(|r| to_row(r, &browse))
        .collect();
    name_closers(state, tenant, &mut decisions).await;
    let next_cursor = more
        .then(|| decisions.last())
        .flatten()
        .map(|d| format!("{}.{}", d.decided_at.timestamp_millis(), d.id));
    Ok(DecisionPage {
        decisions,
        next_cursor,
    })
}

async fn name_closers(state: &AppState, tenant: &str, rows: &mut [DecisionRow]) {
    let mut accounts: Vec<String> = rows.iter().filter_map(|d| d.closed_by.clone()).collect();
    accounts.sort();
    accounts.dedup();
    let names = state.people().names(state, tenant, &accounts).await;
    for d in rows {
        d.closed_by_name = d.closed_by.as_ref().and_then(|a| names.get(a).cloned());
    }
}

/// One decision of the tenant, in full.
pub async fn get(state: &AppState, tenant: &str, id: &str) -> Result<DecisionDetail, AdminError> {
    let d = decisions::Entity::find_by_id(id)
        .filter(decisions::Column::TenantId.eq(tenant))
        .one(state.store().db())
        .await?
        .ok_or_else(|| AdminError::NotFound(format!("decision `{id}` not found")))?;
    let browse = browse_base(state, tenant).await?;
    let mut row = to_row(
        RowData {
            id: d.id,
            kind: d.kind,
            issue_key: d.issue_key,
            finding_id: d.finding_id,
            outcome: d.outcome,
            verdict: d.verdict,
            reason: d.reason,
            confidence: d.confidence,
            source: d.source,
            rule_name: d.rule_name,
            rule_version: d.rule_version,
            error_code: d.error_code,
            actor: d.actor,
            created_at: d.created_at,
        },
        &browse,
    );
    name_closers(state, tenant, std::slice::from_mut(&mut row)).await;
    Ok(DecisionDetail {
        row,
        input: serde_json::from_str(&d.input).unwrap_or(Value::Null),
        output: serde_json::from_str(&d.output).unwrap_or(Value::Null),
        error_message: d.error_message,
        delivery_id: d.delivery_id,
        notes: d
            .notes
            .as_deref()
            .and_then(|n| serde_json::from_str(n).ok())
            .unwrap_or_default(),
    })
}
