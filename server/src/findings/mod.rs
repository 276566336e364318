//! Findings: import (upsert on the scanner's id), queries, and status changes — each status
//! change written together with its audit-trail event, by one function, in one transaction.

pub use verdict_wire::findings as model;
pub mod ticket_view;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use rules_sdk::{FindingStatus, Severity};
use sea_orm::sea_query::{Expr, OnConflict, Query};
use sea_orm::{
    ActiveValue::NotSet, ColumnTrait, Condition, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set, SqlErr, TransactionTrait,
};
use serde::Serialize;

pub use model::{
    Actor, EventKind, EventSource, FieldError, Finding, FindingEvent, FindingInput, InputError,
    JiraLink, RuleRef, ValidFinding, limits, parse_finding,
};

use crate::metrics::Metrics;
use crate::store::Store;
use crate::store::entities::{decisions, finding_events, findings, jira_links, risk_expiries};

#[derive(Debug, thiserror::Error)]
pub enum FindingsError {
    /// Also returned for another tenant's finding: never reveal that it exists.
    #[error("finding `{0}` not found")]
    NotFound(String),
    #[error("{0}")]
    Invalid(FieldError),
    #[error("finding is already {0}")]
    AlreadyInStatus(FindingStatus),
    #[error("the finding's status changed concurrently; read it again and retry")]
    ConcurrentChange,
    #[error("a batch holds at most {max} findings, got {got}")]
    BatchTooLarge { max: usize, got: usize },
    #[error("invalid cursor")]
    BadCursor,
    #[error("stored finding data is corrupt: {0}")]
    Corrupt(String),
    #[error("database error: {0}")]
    Db(#[from] DbErr),
}

/// How one imported finding compared with what was stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ImportOutcome {
    Created,
    Updated,
    Unchanged,
}

impl ImportOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            ImportOutcome::Created => "created",
            ImportOutcome::Updated => "updated",
            ImportOutcome::Unchanged => "unchanged",
        }
    }
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ImportedItem {
    /// Position in the submitted batch.
    pub index: usize,
    pub external_id: String,
    pub id: String,
    pub outcome: ImportOutcome,
}

/// One repository's scan of one type, imported whole: its findings that the scan no longer
/// reports are resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanScope {
    pub repository: String,
    /// Lower case, as findings store it.
    pub scan_type: String,
}

/// How an import treats what it finds (and does not find) already stored.
#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    /// Queue an auto-ticketing job for every finding the import creates.
    pub auto_ticket: bool,
    /// A full scan of this scope: resolve its open findings the import does not report.
    pub close_missing: Option<ScanScope>,
}

/// What an import did beyond upserting: scan verification.
#[derive(Debug, Clone)]
pub struct ScanVerification {
    /// Names this import in the events and decisions it touched.
    pub import_id: String,
    /// Resolved findings (and accepted risks past their expiry) the scan reported again: open
    /// again, their tickets reopened.
    pub reopened: Vec<String>,
    /// Open findings of a full scan's scope it no longer reports: resolved, their tickets
    /// closed.
    pub closed: Vec<String>,
}

/// The result of an import.
#[derive(Debug, Clone)]
pub struct ImportReport {
    pub items: Vec<ImportedItem>,
    pub verification: ScanVerification,
    /// The Resolved verdicts the scan contradicted: (rule name, resolution) each.
    contradicted: Vec<(Option<String>, Option<String>)>,
}

/// A status change request, from any source. `rule` is set when a rule decided it.
#[derive(Debug, Clone)]
pub struct StatusChange {
    pub to: FindingStatus,
    pub reason: Option<String>,
    pub actor: Actor,
    pub source: EventSource,
    pub rule: Option<RuleRef>,
    /// The bulk request this change belongs to, so its outbound Jira jobs report together.
    pub bulk_id: Option<String>,
}

/// Filters for listing findings; every field narrows the result.
#[derive(Debug, Clone, Default)]
pub struct FindingFilter {
    pub statuses: Vec<FindingStatus>,
    pub severities: Vec<Severity>,
    pub min_score: Option<f64>,
    pub max_score: Option<f64>,
    pub scan_type: Option<String>,
    pub repository: Option<String>,
    pub has_jira_link: Option<bool>,
    pub updated_since: Option<DateTime<Utc>>,
    /// Newest first (the admin app) instead of oldest first (the API's order).
    pub newest_first: bool,
}

#[derive(Debug, Clone)]
pub struct Page {
    pub findings: Vec<Finding>,
    /// Pass back as `cursor` for the next page; `None` on the last page.
    pub next_cursor: Option<String>,
}

/// Largest page a list call returns.
pub const MAX_PAGE: u64 = 1000;

// SQLite caps bound parameters at 32,766; stay well below it per statement.
const INSERT_CHUNK_ROWS: usize = 1000;
const LOOKUP_CHUNK: usize = 500;
// Two imports racing to create the same external id: the loser re-reads and retries.
const IMPORT_ATTEMPTS: usize = 3;

/// The findings service: the only code that writes findings and their events.
#[derive(Clone)]
pub struct Findings {
    store: Store,
    metrics: Arc<Metrics>,
    outbox: crate::queue::Queue,
}

impl Findings {
    pub fn new(store: Store, metrics: Arc<Metrics>, outbox: crate::queue::Queue) -> Self {
        Self {
            store,
            metrics,
            outbox,
        }
    }

    /// Upserts validated findings by external id in one transaction. Duplicate external ids
    /// inside one call must be filtered by the caller (see [`dedupe_batch`]).
    pub async fn import(
        &self,
        tenant_id: &str,
        actor: &Actor,
        items: Vec<Indexed>,
    ) -> Result<Vec<ImportedItem>, FindingsError> {
        self.import_with(tenant_id, actor, items, false).await
    }

    /// Imports, and with `auto_ticket` queues an auto-ticketing job for every finding it
    /// creates in the same transaction, so a crash right after the import loses no ticket.
    pub async fn import_with(
        &self,
        tenant_id: &str,
        actor: &Actor,
        items: Vec<Indexed>,
        auto_ticket: bool,
    ) -> Result<Vec<ImportedItem>, FindingsError> {
        let options = ImportOptions {
            auto_ticket,
            close_missing: None,
        };
        Ok(self
            .import_scan(tenant_id, actor, items, &options)
            .await?
            .items)
    }

    /// Imports a scan and verifies earlier verdicts against it, in one transaction: a
    /// resolved finding reported again reopens (its ticket too, and the decision that resolved
    /// it is marked contradicted); an accepted risk past its expiry reopens; false positives
    /// and accepted risks stay. With `close_missing`, open findings of that scope the scan no
    /// longer reports are resolved.
    pub async fn import_scan(
        &self,
        tenant_id: &str,
        actor: &Actor,
        items: Vec<Indexed>,
        options: &ImportOptions,
    ) -> Result<ImportReport, FindingsError> {
        if items.len() > limits::BATCH_FINDINGS {
            return Err(FindingsError::BatchTooLarge {
                max: limits::BATCH_FINDINGS,
                got: items.len(),
            });
        }
        let mut attempt = 0;
        let report = loop {
            attempt += 1;
            match self.import_once(tenant_id, actor, &items, options).await {
                Err(FindingsError::Db(e))
                    if attempt < IMPORT_ATTEMPTS
                        && matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) =>
                {
                    tracing::debug!(
                        attempt,
                        "concurrent import created the same finding; retrying"
                    );
                }
                other => break other?,
            }
        };
        for r in &report.items {
            self.metrics.finding_imported(r.outcome);
        }
        let v = &report.verification;
        for _ in &v.reopened {
            self.metrics
                .status_changed(FindingStatus::Open, EventSource::Scan);
        }
        for _ in &v.closed {
            self.metrics
                .status_changed(FindingStatus::Resolved, EventSource::Scan);
        }
        for (rule, resolution) in &report.contradicted {
            self.metrics
                .resolved_contradicted(rule.as_deref(), resolution.as_deref());
        }
        let created = report
            .items
            .iter()
            .any(|r| r.outcome == ImportOutcome::Created);
        if (options.auto_ticket && created) || !v.reopened.is_empty() || !v.closed.is_empty() {
            self.outbox.wake();
        }
        Ok(report)
    }

    async fn import_once(
        &self,
        tenant_id: &str,
        actor: &Actor,
        items: &[Indexed],
        options: &ImportOptions,
    ) -> Result<ImportReport, FindingsError> {
        let _gate = self.store.write_lock().await;
        let txn = self.store.db().begin().await?;
        // external id → (id, content hash, status)
        let mut existing: HashMap<String, (String, String, String)> =
            HashMap::with_capacity(items.len());
        let ids: Vec<&str> = items.iter().map(|(_, f)| f.external_id.as_str()).collect();
        for chunk in ids.chunks(LOOKUP_CHUNK) {
            let rows: Vec<(String, String, String, String)> = findings::Entity::find()
                .select_only()
                .column(findings::Column::ExternalId)
                .column(findings::Column::Id)
                .column(findings::Column::ContentHash)
                .column(findings::Column::Status)
                .filter(findings::Column::TenantId.eq(tenant_id))
                .filter(findings::Column::ExternalId.is_in(chunk.iter().copied()))
                .into_tuple()
                .all(&txn)
                .await?;
            existing.extend(
                rows.into_iter()
                    .map(|(ext, id, hash, status)| (ext, (id, hash, status))),
            );
        }

        let now = Utc::now();
        let mut results = Vec::with_capacity(items.len());
        let mut inserts = Vec::new();
        let mut updates = Vec::new();
        let mut events = Vec::new();
        for (index, finding) in items {
            let hash = finding.content_hash();
            let (id, outcome) = match existing.get(&finding.external_id) {
                Some((id, old_hash, _)) if *old_hash == hash => {
                    (id.clone(), ImportOutcome::Unchanged)
                }
                Some((id, _, _)) => {
                    // A full row so the multi-row upsert below can carry it; on conflict only
                    // the content columns and `updated_at` are written, never status or id.
                    let mut row = content_columns(finding, hash);
                    row.id = Set(id.clone());
                    row.tenant_id = Set(tenant_id.to_owned());
                    row.status = Set(FindingStatus::Open.as_str().to_owned());
                    row.created_at = Set(now);
                    row.updated_at = Set(now);
                    updates.push(row);
                    (id.clone(), ImportOutcome::Updated)
                }
                None => {
                    let id = uuid::Uuid::now_v7().to_string();
                    let mut row = content_columns(finding, hash);
                    row.id = Set(id.clone());
                    row.tenant_id = Set(tenant_id.to_owned());
                    row.status = Set(FindingStatus::Open.as_str().to_owned());
                    row.created_at = Set(now);
                    row.updated_at = Set(now);
                    inserts.push(row);
                    events.push(event_row(
                        tenant_id,
                        &id,
                        EventKind::Created,
                        None,
                        Some(FindingStatus::Open),
                        actor,
                        EventSource::Api,
                        None,
                        None,
                        now,
                    ));
                    (id, ImportOutcome::Created)
                }
            };
            results.push(ImportedItem {
                index: *index,
                external_id: finding.external_id.clone(),
                id,
                outcome,
            });
        }
        while !inserts.is_empty() {
            let rest = inserts.split_off(inserts.len().min(INSERT_CHUNK_ROWS));
            findings::Entity::insert_many(std::mem::replace(&mut inserts, rest))
                .exec(&txn)
                .await?;
        }
        while !updates.is_empty() {
            let rest = updates.split_off(updates.len().min(INSERT_CHUNK_ROWS));
            findings::Entity::insert_many(std::mem::replace(&mut updates, rest))
                .on_conflict(
                    OnConflict::columns([findings::Column::TenantId, findings::Column::ExternalId])
                        .update_columns(
                            CONTENT_COLUMNS
                                .iter()
                                .copied()
                                .chain([findings::Column::UpdatedAt]),
                        )
                        .to_owned(),
                )
                .exec(&txn)
                .await?;
        }
        while !events.is_empty() {
            let rest = events.split_off(events.len().min(INSERT_CHUNK_ROWS));
            finding_events::Entity::insert_many(std::mem::replace(&mut events, rest))
                .exec(&txn)
                .await?;
        }
        if options.auto_ticket {
            let created: Vec<&str> = results
                .iter()
                .filter(|r| r.outcome == ImportOutcome::Created)
                .map(|r| r.id.as_str())
                .collect();
            for chunk in created.chunks(INSERT_CHUNK_ROWS) {
                crate::outbox::enqueue_many_in(
                    &txn,
                    tenant_id,
                    chunk,
                    &crate::outbox::Payload::AutoTicket {},
                )
                .await?;
            }
        }
        // A linked finding whose content changed: its ticket follows (the job sends only what
        // differs from what the ticket was last sent).
        let updated: Vec<&str> = results
            .iter()
            .filter(|r| r.outcome == ImportOutcome::Updated)
            .map(|r| r.id.as_str())
            .collect();
        let mut tickets_to_update = 0;
        for chunk in updated.chunks(LOOKUP_CHUNK) {
            let linked: Vec<String> = jira_links::Entity::find()
                .select_only()
                .column(jira_links::Column::FindingId)
                .filter(jira_links::Column::TenantId.eq(tenant_id))
                .filter(jira_links::Column::FindingId.is_in(chunk.iter().copied()))
                .into_tuple()
                .all(&txn)
                .await?;
            let linked: Vec<&str> = linked.iter().map(String::as_str).collect();
            tickets_to_update += linked.len();
            crate::outbox::enqueue_many_in(
                &txn,
                tenant_id,
                &linked,
                &crate::outbox::Payload::UpdateIssue { force: false },
            )
            .await?;
        }
        let import_id = uuid::Uuid::now_v7().to_string();
        let (reopened, contradicted) =
            reopen_reported_again(&txn, tenant_id, actor, &existing, &import_id).await?;
        let closed = match &options.close_missing {
            Some(scope) => {
                let reported: HashSet<&str> = ids.iter().copied().collect();
                close_missing(&txn, tenant_id, actor, scope, &reported, &import_id).await?
            }
            None => Vec::new(),
        };
        txn.commit().await?;
        if tickets_to_update > 0 {
            self.outbox.wake();
        }
        Ok(ImportReport {
            items: results,
            verification: ScanVerification {
                import_id,
                reopened,
                closed,
            },
            contradicted,
        })
    }

    /// Changes a finding's status and writes its audit event atomically. The update is
    /// conditional on the status read, so a concurrent change is reported, never overwritten.
    pub async fn change_status(
        &self,
        tenant_id: &str,
        finding_id: &str,
        change: StatusChange,
    ) -> Result<(Finding, FindingEvent), FindingsError> {
        let reason = Self::checked_reason(&change)?;
        let _gate = self.store.write_lock().await;
        let txn = self.store.db().begin().await?;
        let out = change_status_in(&txn, tenant_id, finding_id, &change, reason).await?;
        txn.commit().await?;
        drop(_gate);
        self.metrics.status_changed(change.to, change.source);
        if out.0.jira.is_some() {
            self.outbox.wake();
        }
        Ok(out)
    }

    /// Checks a status change's reason (length, NUL, required for FP/AR), for callers that
    /// apply it inside their own transaction with [`change_status_in`].
    pub fn checked_reason(change: &StatusChange) -> Result<Option<String>, FindingsError> {
        let reason = change
            .reason
            .as_deref()
            .map(str::trim)
            .filter(|r| !r.is_empty())
            .map(str::to_owned);
        if let Some(r) = &reason {
            if r.len() > limits::REASON_BYTES || r.contains('\0') {
                return Err(FindingsError::Invalid(FieldError::new(
                    "reason",
                    format!(
                        "must be at most {} bytes of text without NUL characters",
                        limits::REASON_BYTES
                    ),
                )));
            }
        } else if change.to.requires_reason() {
            return Err(FindingsError::Invalid(FieldError::new(
                "reason",
                format!("is required when marking a finding {}", change.to),
            )));
        }
        Ok(reason)
    }

    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    pub async fn get(&self, tenant_id: &str, finding_id: &str) -> Result<Finding, FindingsError> {
        let db = self.store.db();
        let row = find_row(db, tenant_id, finding_id).await?;
        let link = links_for(db, tenant_id, std::slice::from_ref(&row.id))
            .await?
            .remove(&row.id);
        to_finding(row, link)
    }

    pub async fn list(
        &self,
        tenant_id: &str,
        filter: &FindingFilter,
        cursor: Option<&str>,
        limit: u64,
    ) -> Result<Page, FindingsError> {
        let mut cond = Condition::all().add(findings::Column::TenantId.eq(tenant_id));
        if !filter.statuses.is_empty() {
            cond = cond
                .add(findings::Column::Status.is_in(filter.statuses.iter().map(|s| s.as_str())));
        }
        if !filter.severities.is_empty() {
            cond = cond.add(
                findings::Column::Severity.is_in(filter.severities.iter().map(|s| s.as_str())),
            );
        }
        if let Some(min) = filter.min_score {
            cond = cond.add(findings::Column::Score.gte(min));
        }
        if let Some(max) = filter.max_score {
            cond = cond.add(findings::Column::Score.lte(max));
        }
        if let Some(scan_type) = &filter.scan_type {
            cond = cond.add(findings::Column::ScanType.eq(scan_type.to_ascii_lowercase()));
        }
        if let Some(repository) = &filter.repository {
            cond = cond.add(findings::Column::Repository.eq(repository.as_str()));
        }
        if let Some(since) = filter.updated_since {
            cond = cond.add(findings::Column::UpdatedAt.gte(since));
        }
        if let Some(has_link) = filter.has_jira_link {
            let linked = Query::select()
                .column(jira_links::Column::FindingId)
                .from(jira_links::Entity)
                .and_where(jira_links::Column::TenantId.eq(tenant_id))
                .to_owned();
            cond = cond.add(if has_link {
                findings::Column::Id.in_subquery(linked)
            } else {
                findings::Column::Id.not_in_subquery(linked)
            });
        }
        if let Some(cursor) = cursor {
            let after = decode_cursor(cursor)?;
            cond = cond.add(if filter.newest_first {
                findings::Column::Id.lt(after)
            } else {
                findings::Column::Id.gt(after)
            });
        }
        let db = self.store.db();
        let order = if filter.newest_first {
            sea_orm::Order::Desc
        } else {
            sea_orm::Order::Asc
        };
        let mut rows = findings::Entity::find()
            .filter(cond)
            .order_by(findings::Column::Id, order)
            .limit(limit + 1)
            .all(db)
            .await?;
        let next_cursor = if rows.len() as u64 > limit {
            rows.truncate(limit as usize);
            rows.last().map(|r| encode_cursor(&r.id))
        } else {
            None
        };
        let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
        let mut links = links_for(db, tenant_id, &ids).await?;
        let findings = rows
            .into_iter()
            .map(|row| {
                let link = links.remove(&row.id);
                to_finding(row, link)
            })
            .collect::<Result<_, _>>()?;
        Ok(Page {
            findings,
            next_cursor,
        })
    }

    /// How many of the tenant's findings are in each status.
    pub async fn status_counts(
        &self,
        tenant_id: &str,
    ) -> Result<HashMap<FindingStatus, u64>, FindingsError> {
        let rows: Vec<(String, i64)> = findings::Entity::find()
            .select_only()
            .column(findings::Column::Status)
            .column_as(findings::Column::Id.count(), "n")
            .filter(findings::Column::TenantId.eq(tenant_id))
            .group_by(findings::Column::Status)
            .into_tuple()
            .all(self.store.db())
            .await?;
        rows.into_iter()
            .map(|(s, n)| Ok((parse_stored(&s)?, n as u64)))
            .collect()
    }

    /// The audit trail of one finding, oldest first.
    pub async fn events(
        &self,
        tenant_id: &str,
        finding_id: &str,
    ) -> Result<Vec<FindingEvent>, FindingsError> {
        let db = self.store.db();
        let row = find_row(db, tenant_id, finding_id).await?;
        finding_events::Entity::find()
            .filter(finding_events::Column::TenantId.eq(tenant_id))
            .filter(finding_events::Column::FindingId.eq(row.id))
            .order_by_asc(finding_events::Column::Id)
            .all(db)
            .await?
            .into_iter()
            .map(to_event)
            .collect()
    }
}

/// Reopens what the scan reported again that a verdict said was gone: resolved findings, and
/// accepted risks past their expiry. False positives and accepted risks in force stay — that
/// is what those verdicts mean. Returns the reopened ids and, per contradicted Resolved
/// verdict, its rule and resolution.
async fn reopen_reported_again(
    txn: &sea_orm::DatabaseTransaction,
    tenant_id: &str,
    actor: &Actor,
    existing: &HashMap<String, (String, String, String)>,
    import_id: &str,
) -> Result<(Vec<String>, Vec<(Option<String>, Option<String>)>), FindingsError> {
    let resolved = FindingStatus::Resolved.as_str();
    let accepted = FindingStatus::AcceptedRisk.as_str();
    let mut candidates: Vec<(&str, &str)> = existing
        .values()
        .filter(|(_, _, status)| status == resolved || status == accepted)
        .map(|(id, _, status)| (id.as_str(), status.as_str()))
        .collect();
    if candidates.is_empty() {
        return Ok((Vec::new(), Vec::new()));
    }
    candidates.sort_unstable();
    let now = Utc::now();
    let accepted_ids: Vec<&str> = candidates
        .iter()
        .filter(|(_, s)| *s == accepted)
        .map(|(id, _)| *id)
        .collect();
    let mut expired: HashSet<String> = HashSet::new();
    for chunk in accepted_ids.chunks(LOOKUP_CHUNK) {
        let rows: Vec<String> = risk_expiries::Entity::find()
            .select_only()
            .column(risk_expiries::Column::FindingId)
            .filter(risk_expiries::Column::TenantId.eq(tenant_id))
            .filter(risk_expiries::Column::FindingId.is_in(chunk.iter().copied()))
            .filter(risk_expiries::Column::ExpiresAt.lte(now))
            .into_tuple()
            .all(txn)
            .await?;
        expired.extend(rows);
    }
    let mut reopened = Vec::new();
    let mut contradicted = Vec::new();
    for (id, status) in candidates {
        let was_resolved = status == resolved;
        if !was_resolved && !expired.contains(id) {
            continue;
        }
        let why = if was_resolved {
            format!("reported again by the scanner (import {import_id}): it was resolved")
        } else {
            format!(
                "reported again by the scanner (import {import_id}) after its accepted risk expired"
            )
        };
        change_by_scan(txn, tenant_id, id, FindingStatus::Open, actor, why).await?;
        if was_resolved {
            if let Some(c) = contradict_resolving_decision(txn, tenant_id, id, import_id).await? {
                contradicted.push(c);
            }
        } else {
            risk_expiries::Entity::delete_many()
                .filter(risk_expiries::Column::TenantId.eq(tenant_id))
                .filter(risk_expiries::Column::FindingId.eq(id))
                .exec(txn)
                .await?;
        }
        reopened.push(id.to_owned());
    }
    Ok((reopened, contradicted))
}

/// A status change an import makes (source `scan`), with its event and, for a linked finding,
/// the outbound job that moves the ticket.
async fn change_by_scan(
    txn: &sea_orm::DatabaseTransaction,
    tenant_id: &str,
    finding_id: &str,
    to: FindingStatus,
    actor: &Actor,
    why: String,
) -> Result<(), FindingsError> {
    let change = StatusChange {
        to,
        reason: Some(why),
        actor: actor.clone(),
        source: EventSource::Scan,
        rule: None,
        bulk_id: None,
    };
    change_status_in(txn, tenant_id, finding_id, &change, change.reason.clone()).await?;
    Ok(())
}

/// Marks the closure decision that resolved a finding as contradicted by `import_id` — when
/// the finding's latest closure decision is a Resolved verdict (a finding resolved by hand
/// has none to mark).
async fn contradict_resolving_decision(
    txn: &sea_orm::DatabaseTransaction,
    tenant_id: &str,
    finding_id: &str,
    import_id: &str,
) -> Result<Option<(Option<String>, Option<String>)>, FindingsError> {
    let latest = decisions::Entity::find()
        .filter(decisions::Column::TenantId.eq(tenant_id))
        .filter(decisions::Column::FindingId.eq(finding_id))
        .filter(decisions::Column::Kind.eq("closure"))
        .order_by_desc(decisions::Column::CreatedAt)
        .one(txn)
        .await?;
    let Some(d) = latest else {
        return Ok(None);
    };
    let resolved_it = d.outcome.as_deref() == Some("apply")
        && d.verdict.as_deref() == Some(FindingStatus::Resolved.as_str())
        && d.contradicted_at.is_none();
    if !resolved_it {
        return Ok(None);
    }
    decisions::Entity::update_many()
        .col_expr(decisions::Column::ContradictedAt, Expr::value(Utc::now()))
        .col_expr(decisions::Column::ContradictedBy, Expr::value(import_id))
        .filter(decisions::Column::Id.eq(&d.id))
        .exec(txn)
        .await?;
    Ok(Some((d.rule_name, d.resolution)))
}

/// A full scan of `scope` no longer reports these open findings: they are resolved.
async fn close_missing(
    txn: &sea_orm::DatabaseTransaction,
    tenant_id: &str,
    actor: &Actor,
    scope: &ScanScope,
    reported: &HashSet<&str>,
    import_id: &str,
) -> Result<Vec<String>, FindingsError> {
    let open: Vec<(String, String)> = findings::Entity::find()
        .select_only()
        .column(findings::Column::Id)
        .column(findings::Column::ExternalId)
        .filter(findings::Column::TenantId.eq(tenant_id))
        .filter(findings::Column::Repository.eq(scope.repository.as_str()))
        .filter(findings::Column::ScanType.eq(scope.scan_type.as_str()))
        .filter(findings::Column::Status.eq(FindingStatus::Open.as_str()))
        .order_by_asc(findings::Column::Id)
        .into_tuple()
        .all(txn)
        .await?;
    let mut closed = Vec::new();
    for (id, external_id) in open {
        if reported.contains(external_id.as_str()) {
            continue;
        }
        let why = format!(
            "not reported by the full scan of {} ({}) in import {import_id}",
            scope.repository, scope.scan_type
        );
        change_by_scan(txn, tenant_id, &id, FindingStatus::Resolved, actor, why).await?;
        closed.push(id);
    }
    Ok(closed)
}

/// A finding paired with its position in the submitted batch.
pub type Indexed = (usize, ValidFinding);

/// A batch item refused because its external id already appeared earlier in the batch.
#[derive(Debug, Clone)]
pub struct BatchDuplicate {
    pub index: usize,
    pub external_id: String,
    pub error: FieldError,
}

/// Splits a batch into items to import and the repeats of an external id already seen in it
/// (the first occurrence wins; later ones are reported, so nothing is applied twice).
pub fn dedupe_batch(items: Vec<Indexed>) -> (Vec<Indexed>, Vec<BatchDuplicate>) {
    let mut seen: HashMap<String, usize> = HashMap::with_capacity(items.len());
    let mut unique = Vec::with_capacity(items.len());
    let mut duplicates = Vec::new();
    for (index, finding) in items {
        match seen.get(&finding.external_id) {
            Some(first) => duplicates.push(BatchDuplicate {
                index,
                external_id: finding.external_id.clone(),
                error: FieldError::new(
                    "external_id",
                    format!("repeats the finding at index {first} of this batch"),
                ),
            }),
            None => {
                seen.insert(finding.external_id.clone(), index);
                unique.push((index, finding));
            }
        }
    }
    (unique, duplicates)
}

/// The scanner-owned columns: what an import may overwrite. Status, ids and times are Verdict's.
const CONTENT_COLUMNS: [findings::Column; 18] = [
    findings::Column::Title,
    findings::Column::Description,
    findings::Column::Severity,
    findings::Column::Score,
    findings::Column::CvssVector,
    findings::Column::CvssScore,
    findings::Column::CweIds,
    findings::Column::ScanType,
    findings::Column::Repository,
    findings::Column::FilePath,
    findings::Column::Line,
    findings::Column::CodeSnippet,
    findings::Column::IsSecret,
    findings::Column::Tags,
    findings::Column::ContentHash,
    findings::Column::RuleId,
    findings::Column::Package,
    findings::Column::VulnerabilityIds,
];

fn content_columns(f: &ValidFinding, hash: String) -> findings::ActiveModel {
    findings::ActiveModel {
        id: NotSet,
        tenant_id: NotSet,
        external_id: Set(f.external_id.clone()),
        title: Set(f.title.clone()),
        description: Set(f.description.clone()),
        severity: Set(f.severity.as_str().to_owned()),
        score: Set(f.score),
        cvss_vector: Set(f.cvss_vector.clone()),
        cvss_score: Set(f.cvss_score),
        cwe_ids: Set(serde_json::json!(f.cwe_ids)),
        scan_type: Set(f.scan_type.clone()),
        repository: Set(f.repository.clone()),
        file_path: Set(f.file_path.clone()),
        line: Set(f.line.map(|l| l as i32)),
        code_snippet: Set(f.code_snippet.clone()),
        is_secret: Set(f.is_secret),
        tags: Set(serde_json::json!(f.tags)),
        status: NotSet,
        content_hash: Set(hash),
        rule_id: Set(f.rule_id.clone()),
        package: Set(f.package.clone()),
        vulnerability_ids: Set(
            (!f.vulnerability_ids.is_empty()).then(|| serde_json::json!(f.vulnerability_ids))
        ),
        created_at: NotSet,
        updated_at: NotSet,
    }
}

#[allow(clippy::too_many_arguments)]
fn event_row(
    tenant_id: &str,
    finding_id: &str,
    kind: EventKind,
    from: Option<FindingStatus>,
    to: Option<FindingStatus>,
    actor: &Actor,
    source: EventSource,
    reason: Option<String>,
    rule: Option<RuleRef>,
    at: DateTime<Utc>,
) -> finding_events::ActiveModel {
    let (rule_id, rule_version) = rule.map(|r| (r.id, r.version)).unzip();
    finding_events::ActiveModel {
        id: Set(uuid::Uuid::now_v7().to_string()),
        tenant_id: Set(tenant_id.to_owned()),
        finding_id: Set(finding_id.to_owned()),
        kind: Set(kind.as_str().to_owned()),
        from_status: Set(from.map(|s| s.as_str().to_owned())),
        to_status: Set(to.map(|s| s.as_str().to_owned())),
        actor_kind: Set(actor.kind().to_owned()),
        actor_id: Set(actor.id().to_owned()),
        source: Set(source.as_str().to_owned()),
        reason: Set(reason),
        rule_id: Set(rule_id),
        rule_version: Set(rule_version),
        created_at: Set(at),
    }
}

async fn find_row<C: sea_orm::ConnectionTrait>(
    db: &C,
    tenant_id: &str,
    finding_id: &str,
) -> Result<findings::Model, FindingsError> {
    findings::Entity::find_by_id(finding_id)
        .filter(findings::Column::TenantId.eq(tenant_id))
        .one(db)
        .await?
        .ok_or_else(|| FindingsError::NotFound(finding_id.to_owned()))
}

type LinkMap = HashMap<String, JiraLink>;

async fn links_for<C: sea_orm::ConnectionTrait>(
    db: &C,
    tenant_id: &str,
    finding_ids: &[String],
) -> Result<LinkMap, FindingsError> {
    let mut out = HashMap::new();
    for chunk in finding_ids.chunks(LOOKUP_CHUNK) {
        let rows = jira_links::Entity::find()
            .filter(jira_links::Column::TenantId.eq(tenant_id))
            .filter(jira_links::Column::FindingId.is_in(chunk.iter().cloned()))
            .all(db)
            .await?;
        for l in rows {
            out.insert(
                l.finding_id,
                JiraLink {
                    site: l.site,
                    issue_id: l.issue_id,
                    issue_key: l.issue_key,
                    project_key: l.project_key,
                    group: l.group_key,
                },
            );
        }
    }
    Ok(out)
}

fn parse_stored<T: std::str::FromStr>(value: &str) -> Result<T, FindingsError>
where
    T::Err: std::fmt::Display,
{
    value
        .parse()
        .map_err(|e: T::Err| FindingsError::Corrupt(e.to_string()))
}

fn json_list<T: serde::de::DeserializeOwned>(
    value: serde_json::Value,
) -> Result<Vec<T>, FindingsError> {
    serde_json::from_value(value).map_err(|e| FindingsError::Corrupt(e.to_string()))
}

fn to_finding(row: findings::Model, jira: Option<JiraLink>) -> Result<Finding, FindingsError> {
    Ok(Finding {
        severity: parse_stored(&row.severity)?,
        status: parse_stored(&row.status)?,
        cwe_ids: json_list(row.cwe_ids)?,
        tags: json_list(row.tags)?,
        vulnerability_ids: row
            .vulnerability_ids
            .map(json_list)
            .transpose()?
            .unwrap_or_default(),
        rule_id: row.rule_id,
        package: row.package,
        line: row.line.map(|l| l as u32),
        id: row.id,
        external_id: row.external_id,
        title: row.title,
        description: row.description,
        score: row.score,
        cvss_vector: row.cvss_vector,
        cvss_score: row.cvss_score,
        scan_type: row.scan_type,
        repository: row.repository,
        file_path: row.file_path,
        code_snippet: row.code_snippet,
        is_secret: row.is_secret,
        jira,
        created_at: row.created_at,
        updated_at: row.updated_at,
    })
}

fn to_event(row: finding_events::Model) -> Result<FindingEvent, FindingsError> {
    let optional_status = |s: Option<String>| -> Result<Option<FindingStatus>, FindingsError> {
        s.as_deref().map(parse_stored).transpose()
    };
    Ok(FindingEvent {
        kind: EventKind::parse(&row.kind)
            .ok_or_else(|| FindingsError::Corrupt(format!("event kind `{}`", row.kind)))?,
        from_status: optional_status(row.from_status)?,
        to_status: optional_status(row.to_status)?,
        actor: Actor::from_parts(&row.actor_kind, row.actor_id)
            .ok_or_else(|| FindingsError::Corrupt(format!("actor kind `{}`", row.actor_kind)))?,
        source: EventSource::parse(&row.source)
            .ok_or_else(|| FindingsError::Corrupt(format!("event source `{}`", row.source)))?,
        rule: row.rule_id.map(|id| RuleRef {
            id,
            version: row.rule_version.unwrap_or_default(),
        }),
        id: row.id,
        finding_id: row.finding_id,
        reason: row.reason,
        created_at: row.created_at,
    })
}

/// Cursors are opaque to clients: base64 of the last id seen.
fn encode_cursor(id: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(id)
}

fn decode_cursor(cursor: &str) -> Result<String, FindingsError> {
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor)
        .map_err(|_| FindingsError::BadCursor)?;
    let id = String::from_utf8(bytes).map_err(|_| FindingsError::BadCursor)?;
    uuid::Uuid::parse_str(&id).map_err(|_| FindingsError::BadCursor)?;
    Ok(id)
}

/// The status change itself (conditional on the status read) and its audit event, inside the
/// caller's transaction. `reason` comes from [`Findings::checked_reason`].
pub async fn change_status_in(
    txn: &sea_orm::DatabaseTransaction,
    tenant_id: &str,
    finding_id: &str,
    change: &StatusChange,
    reason: Option<String>,
) -> Result<(Finding, FindingEvent), FindingsError> {
    let row = find_row(txn, tenant_id, finding_id).await?;
    let from: FindingStatus = parse_stored(&row.status)?;
    if from == change.to {
        return Err(FindingsError::AlreadyInStatus(from));
    }
    let now = Utc::now();
    let updated = findings::Entity::update_many()
        .col_expr(findings::Column::Status, Expr::value(change.to.as_str()))
        .col_expr(findings::Column::UpdatedAt, Expr::value(now))
        .filter(findings::Column::Id.eq(&row.id))
        .filter(findings::Column::Status.eq(from.as_str()))
        .exec(txn)
        .await?;
    if updated.rows_affected != 1 {
        return Err(FindingsError::ConcurrentChange);
    }
    // A scan that brings a finding back reopens it (scan verification); everything else is a
    // plain status change.
    let kind = if change.source == EventSource::Scan && change.to == FindingStatus::Open {
        EventKind::Reopened
    } else {
        EventKind::StatusChanged
    };
    let event = event_row(
        tenant_id,
        &row.id,
        kind,
        Some(from),
        Some(change.to),
        &change.actor,
        change.source,
        reason,
        change.rule.clone(),
        now,
    );
    let event = finding_events::Entity::insert(event)
        .exec_with_returning(txn)
        .await?;
    let row = find_row(txn, tenant_id, finding_id).await?;
    let link = links_for(txn, tenant_id, std::slice::from_ref(&row.id))
        .await?
        .remove(&row.id);
    // Changes made in Verdict move the ticket; changes that came from Jira (webhooks,
    // reconcile imports) already match it.
    if link.is_some()
        && matches!(
            change.source,
            EventSource::Api | EventSource::Rule | EventSource::Scan
        )
    {
        crate::outbox::enqueue_in(
            txn,
            tenant_id,
            Some(finding_id),
            change.bulk_id.as_deref(),
            &crate::outbox::Payload::SyncStatus {
                reason: event.reason.clone(),
            },
        )
        .await?;
    }
    let finding = to_finding(row, link)?;
    Ok((finding, to_event(event)?))
}

/// Records an event that does not change the status (link, unlink, skipped closure).
#[allow(clippy::too_many_arguments)]
pub async fn note_in<C: sea_orm::ConnectionTrait>(
    db: &C,
    tenant_id: &str,
    finding_id: &str,
    kind: EventKind,
    actor: &Actor,
    source: EventSource,
    reason: String,
    rule: Option<RuleRef>,
) -> Result<(), FindingsError> {
    let row = find_row(db, tenant_id, finding_id).await?;
    let status: FindingStatus = parse_stored(&row.status)?;
    finding_events::Entity::insert(event_row(
        tenant_id,
        finding_id,
        kind,
        Some(status),
        Some(status),
        actor,
        source,
        Some(reason),
        rule,
        Utc::now(),
    ))
    .exec(db)
    .await?;
    Ok(())
}

/// The Jira issue a finding is linked to, as verified with Jira.
#[derive(Debug, Clone)]
pub struct LinkTarget {
    pub site: String,
    pub issue_id: String,
    pub issue_key: String,
    pub project_key: String,
    /// The group whose shared ticket this is (`ticket.group_by`); `None` for a finding's own.
    pub group_key: Option<String>,
}

impl Findings {
    /// Links a finding to an issue (replacing any earlier link) and records it. Refused when
    /// another finding of the tenant is already linked to that issue.
    pub async fn link(
        &self,
        tenant_id: &str,
        finding_id: &str,
        target: LinkTarget,
        actor: &Actor,
    ) -> Result<Finding, FindingsError> {
        let _gate = self.store.write_lock().await;
        let txn = self.store.db().begin().await?;
        let reason = format!("linked to Jira issue {}", target.issue_key);
        link_in(
            &txn,
            tenant_id,
            finding_id,
            &target,
            actor,
            EventSource::Api,
            reason,
        )
        .await?;
        txn.commit().await?;
        drop(_gate);
        self.get(tenant_id, finding_id).await
    }

    /// Removes a finding's link; `NotFound` when it had none.
    pub async fn unlink(
        &self,
        tenant_id: &str,
        finding_id: &str,
        actor: &Actor,
    ) -> Result<(), FindingsError> {
        let _gate = self.store.write_lock().await;
        let txn = self.store.db().begin().await?;
        find_row(&txn, tenant_id, finding_id).await?;
        let link = jira_links::Entity::find()
            .filter(jira_links::Column::TenantId.eq(tenant_id))
            .filter(jira_links::Column::FindingId.eq(finding_id))
            .one(&txn)
            .await?
            .ok_or_else(|| FindingsError::NotFound(format!("a Jira link on {finding_id}")))?;
        jira_links::Entity::delete_by_id(link.id).exec(&txn).await?;
        note_in(
            &txn,
            tenant_id,
            finding_id,
            EventKind::Unlinked,
            actor,
            EventSource::Api,
            format!("unlinked from Jira issue {}", link.issue_key),
            None,
        )
        .await?;
        txn.commit().await?;
        Ok(())
    }
}

/// Links a finding to an issue (replacing any earlier link) and records `reason` in its
/// audit trail, inside the caller's transaction. Refused when another finding of the tenant
/// is already linked to that issue, unless both belong to the issue's group.
pub async fn link_in(
    txn: &sea_orm::DatabaseTransaction,
    tenant_id: &str,
    finding_id: &str,
    target: &LinkTarget,
    actor: &Actor,
    source: EventSource,
    reason: String,
) -> Result<(), FindingsError> {
    find_row(txn, tenant_id, finding_id).await?;
    if let Some(other) = jira_links::Entity::find()
        .filter(jira_links::Column::TenantId.eq(tenant_id))
        .filter(jira_links::Column::IssueId.eq(&target.issue_id))
        .filter(jira_links::Column::FindingId.ne(finding_id))
        .one(txn)
        .await?
        && (target.group_key.is_none() || other.group_key != target.group_key)
    {
        return Err(FindingsError::Invalid(FieldError::new(
            "issue",
            format!(
                "{} is already linked to finding {}",
                target.issue_key, other.finding_id
            ),
        )));
    }
    jira_links::Entity::delete_many()
        .filter(jira_links::Column::TenantId.eq(tenant_id))
        .filter(jira_links::Column::FindingId.eq(finding_id))
        .exec(txn)
        .await?;
    let now = Utc::now();
    jira_links::Entity::insert(jira_links::ActiveModel {
        id: Set(uuid::Uuid::now_v7().to_string()),
        tenant_id: Set(tenant_id.to_owned()),
        finding_id: Set(finding_id.to_owned()),
        site: Set(target.site.clone()),
        issue_id: Set(target.issue_id.clone()),
        issue_key: Set(target.issue_key.clone()),
        project_key: Set(target.project_key.clone()),
        created_at: Set(now),
        updated_at: Set(now),
        due_date: Set(None),
        overdue_noted_at: Set(None),
        pushed_hash: Set(None),
        group_key: Set(target.group_key.clone()),
    })
    .exec(txn)
    .await?;
    note_in(
        txn,
        tenant_id,
        finding_id,
        EventKind::Linked,
        actor,
        source,
        reason,
        None,
    )
    .await
}
