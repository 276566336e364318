//! The closure pipeline: a stored webhook delivery becomes a typed event, the ticket's
//! context is gathered (Jira re-read, comments, Confluence pages), a rule decides, and the
//! finding, its audit trail, the ticket's ordering state and the delivery's outcome are
//! committed together.

pub use verdict_wire::adf;
pub mod confluence;
pub mod quality;

use chrono::{DateTime, Utc};
use rules_sdk::{ClosureDecision, ClosureInput, RuleInput, RuleOutput, StatusCategory};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter, QueryOrder, Set, TransactionTrait,
};
use serde_json::Value;

use crate::findings::model::{Actor, EventKind as FindingEventKind, EventSource, RuleRef};
use crate::findings::{self, FindingsError, StatusChange};
use crate::redact;
use crate::rules::{Decided, DecisionSource};
use crate::state::AppState;
use crate::store::entities::{
    decisions, jira_links, risk_expiries, ticket_comments, ticket_states, webhook_deliveries as wd,
};
use crate::webhooks::event::{EventKind, JiraEvent};

pub use confluence::PageCache;

/// Comments Verdict itself posts start with this, so they are never read as evidence.
pub const OWN_COMMENT_TAG: &str = "[Verdict]";
/// Setting: days an Accepted Risk lasts before the finding reopens (default 90).
pub const KEY_RISK_EXPIRY_DAYS: &str = "risk.expiry_days";
/// Setting: `true` to have Verdict comment on the ticket with what it decided and why.
pub const KEY_CLOSURE_COMMENT: &str = "closure.comment";

#[derive(Debug, thiserror::Error)]
pub enum TriageError {
    #[error("database error: {0}")]
    Db(#[from] sea_orm::DbErr),
    #[error("Jira: {0}")]
    Jira(String),
    #[error("{0}")]
    Findings(#[from] FindingsError),
    #[error("lost the lease on the delivery to another worker")]
    LeaseLost,
    /// The tenant's rule could not decide (it failed, or found no free instance): the closure
    /// waits and is tried again — it is never decided by another policy.
    #[error("waiting for the tenant's rule: {0}")]
    RuleUnavailable(#[from] crate::rules::RuleUnavailable),
    /// The tenant is connected but has no credentials this moment (a Forge tenant between app
    /// system tokens): retried later without using up an attempt.
    #[error("waiting for Jira credentials: {0}")]
    Waiting(String),
}

impl TriageError {
    /// Everything but a lost lease may pass on a later attempt.
    pub fn is_retryable(&self) -> bool {
        !matches!(self, TriageError::LeaseLost)
    }
}

/// How a delivery ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Nothing to do (no linked finding, an event Verdict does not use, malformed).
    Ignored(String),
    /// Processed; the text says what happened.
    Done(String),
}

impl Outcome {
    pub fn kind(&self) -> &'static str {
        match self {
            Outcome::Ignored(_) => "ignored",
            Outcome::Done(_) => "done",
        }
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Outcome::Ignored(s) => write!(f, "ignored: {s}"),
            Outcome::Done(s) => write!(f, "done: {s}"),
        }
    }
}

/// The issue id a raw delivery is about (for per-ticket locking), if it parses.
pub fn issue_id_of(body: &str) -> Option<String> {
    let v: Value = serde_json::from_str(body).ok()?;
    // A webhook's issue, or a Forge event's (inside `payload`).
    v.pointer("/issue/id")
        .or_else(|| v.pointer("/payload/issue/id"))
        .and_then(|i| match i {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        })
}

pub use crate::jira::jira_millis;

fn claim_of(d: &wd::Model) -> crate::queue::Claimed {
    crate::queue::Claimed::of_row(&d.id, d.attempts, d.lease_owner.as_deref())
}

/// Marks the delivery finished inside `txn`, only if this worker still holds it.
async fn finish(
    txn: &DatabaseTransaction,
    d: &wd::Model,
    outcome: &Outcome,
) -> Result<(), TriageError> {
    let state = match outcome {
        Outcome::Ignored(_) => "ignored",
        Outcome::Done(_) => "done",
    };
    let claim = claim_of(d);
    let held = crate::queue::Queue::finish_in(
        &crate::queue::INBOX,
        txn,
        &claim,
        state,
        &outcome.to_string(),
    )
    .await?;
    if !held {
        return Err(TriageError::LeaseLost);
    }
    Ok(())
}

/// Runs `f` in a transaction (behind the SQLite write gate) that also finishes the delivery.
async fn commit_with<F>(state: &AppState, d: &wd::Model, f: F) -> Result<Outcome, TriageError>
where
    F: for<'t> FnOnce(
        &'t DatabaseTransaction,
    ) -> std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<Outcome, TriageError>> + Send + 't>,
    >,
{
    let _gate = state.store().write_lock().await;
    let txn = state.store().db().begin().await?;
    let outcome = f(&txn).await?;
    finish(&txn, d, &outcome).await?;
    txn.commit().await?;
    Ok(outcome)
}

/// A delivery that changes nothing is only marked `ignored`: no transaction of its own, but a
/// group commit with the others (a storm of unrelated events is mostly these).
async fn ignore(state: &AppState, d: &wd::Model, why: String) -> Result<Outcome, TriageError> {
    let outcome = Outcome::Ignored(why);
    let claim = claim_of(d);
    if !state
        .inbox_queue()
        .finish(&claim, "ignored", outcome.to_string())
        .await?
    {
        return Err(TriageError::LeaseLost);
    }
    Ok(outcome)
}

/// Processes one claimed delivery (see the module docs).
pub async fn process(state: &AppState, d: &wd::Model) -> Result<Outcome, TriageError> {
    let Ok(payload) = serde_json::from_str::<Value>(&d.body) else {
        return ignore(state, d, "the body is not JSON".into()).await;
    };
    let ev = match JiraEvent::parse(&payload) {
        Ok(ev) => ev,
        Err(e) => return ignore(state, d, format!("not an issue event: {e}")).await,
    };
    let tenant = d.tenant_id.as_str();
    // A group's ticket is linked to each of its findings.
    let links = jira_links::Entity::find()
        .filter(jira_links::Column::TenantId.eq(tenant))
        .filter(jira_links::Column::IssueId.eq(&ev.issue.id))
        .order_by_asc(jira_links::Column::CreatedAt)
        .all(state.store().db())
        .await?;
    if links.is_empty() {
        return ignore(
            state,
            d,
            format!(
                "issue {} ({}) is not linked to a finding",
                ev.issue.key, ev.issue.id
            ),
        )
        .await;
    }
    match &ev.kind {
        EventKind::IssueDeleted => unlink(state, d, &ev, links).await,
        EventKind::CommentCreated | EventKind::CommentUpdated | EventKind::CommentDeleted => {
            let ev2 = ev.clone();
            let tenant = tenant.to_owned();
            commit_with(state, d, move |txn| {
                Box::pin(async move {
                    store_comment(txn, &tenant, &ev2).await?;
                    Ok(Outcome::Done(format!(
                        "comment {} recorded",
                        ev2.comment.as_ref().map(|c| c.id.as_str()).unwrap_or("?")
                    )))
                })
            })
            .await
        }
        EventKind::IssueUpdated | EventKind::IssueCreated => {
            issue_updated(state, d, ev, links).await
        }
        EventKind::Other(name) => ignore(state, d, format!("event `{name}` is not used")).await,
    }
}

async fn unlink(
    state: &AppState,
    d: &wd::Model,
    ev: &JiraEvent,
    links: Vec<jira_links::Model>,
) -> Result<Outcome, TriageError> {
    let actor = ev
        .user_account_id
        .clone()
        .map(Actor::JiraAccount)
        .unwrap_or_else(|| Actor::System("jira".into()));
    commit_with(state, d, move |txn| {
        Box::pin(async move {
            let key = links[0].issue_key.clone();
            let n = links.len();
            for link in links {
                jira_links::Entity::delete_by_id(link.id.clone())
                    .exec(txn)
                    .await?;
                findings::note_in(
                    txn,
                    &link.tenant_id,
                    &link.finding_id,
                    FindingEventKind::Unlinked,
                    &actor,
                    EventSource::JiraWebhook,
                    format!("Jira issue {} was deleted", link.issue_key),
                    None,
                )
                .await?;
            }
            Ok(Outcome::Done(if n == 1 {
                format!("issue {key} deleted: finding unlinked")
            } else {
                format!("issue {key} deleted: {n} findings unlinked")
            }))
        })
    })
    .await
}

/// Upserts (or marks deleted) the event's comment as evidence for its ticket.
async fn store_comment(
    txn: &DatabaseTransaction,
    tenant: &str,
    ev: &JiraEvent,
) -> Result<(), TriageError> {
    let Some(c) = &ev.comment else {
        return Ok(());
    };
    let deleted = ev.kind == EventKind::CommentDeleted;
    let created = c
        .created
        .as_deref()
        .and_then(jira_millis)
        .or(ev.timestamp)
        .unwrap_or(0);
    let updated = c
        .updated
        .as_deref()
        .and_then(jira_millis)
        .unwrap_or(created);
    let row = ticket_comments::ActiveModel {
        tenant_id: Set(tenant.to_owned()),
        issue_id: Set(ev.issue.id.clone()),
        comment_id: Set(c.id.clone()),
        author: Set(c.author_account_id.clone().unwrap_or_default()),
        // Masked already: the inbox keeps deliveries with their comments masked.
        body: Set(c.body.clone()),
        created: Set(created),
        updated: Set(updated),
        deleted: Set(deleted),
    };
    let mut on_conflict = OnConflict::columns([
        ticket_comments::Column::TenantId,
        ticket_comments::Column::IssueId,
        ticket_comments::Column::CommentId,
    ]);
    if deleted {
        on_conflict.update_column(ticket_comments::Column::Deleted);
    } else {
        on_conflict.update_columns([
            ticket_comments::Column::Body,
            ticket_comments::Column::Updated,
            ticket_comments::Column::Author,
        ]);
    }
    ticket_comments::Entity::insert(row)
        .on_conflict(on_conflict)
        .exec(txn)
        .await?;
    Ok(())
}

/// (event time, changelog id) for ordering; events without either sort first.
fn order_key(ev: &JiraEvent) -> (i64, i64) {
    (
        ev.timestamp.unwrap_or(0),
        ev.changelog_id
            .as_deref()
            .and_then(|c| c.parse().ok())
            .unwrap_or(0),
    )
}

async fn ticket_state(
    state: &AppState,
    tenant: &str,
    issue: &str,
) -> Result<Option<ticket_states::Model>, TriageError> {
    Ok(
        ticket_states::Entity::find_by_id((tenant.to_owned(), issue.to_owned()))
            .one(state.store().db())
            .await?,
    )
}

async fn save_ticket_state(
    txn: &DatabaseTransaction,
    tenant: &str,
    ev: &JiraEvent,
    category: &str,
) -> Result<(), TriageError> {
    let (at, changelog) = order_key(ev);
    ticket_states::Entity::insert(ticket_states::ActiveModel {
        tenant_id: Set(tenant.to_owned()),
        issue_id: Set(ev.issue.id.clone()),
        issue_key: Set(ev.issue.key.clone()),
        last_event_at: Set(at),
        last_changelog_id: Set(changelog),
        category: Set(category.to_owned()),
        updated_at: Set(Utc::now()),
    })
    .on_conflict(
        OnConflict::columns([
            ticket_states::Column::TenantId,
            ticket_states::Column::IssueId,
        ])
        .update_columns([
            ticket_states::Column::IssueKey,
            ticket_states::Column::LastEventAt,
            ticket_states::Column::LastChangelogId,
            ticket_states::Column::Category,
            ticket_states::Column::UpdatedAt,
        ])
        .to_owned(),
    )
    .exec(txn)
    .await?;
    Ok(())
}

async fn issue_updated(
    state: &AppState,
    d: &wd::Model,
    ev: JiraEvent,
    links: Vec<jira_links::Model>,
) -> Result<Outcome, TriageError> {
    let tenant = d.tenant_id.clone();
    let category = ev
        .issue
        .status
        .as_ref()
        .and_then(|s| s.category.clone())
        .unwrap_or_default();
    let previous = ticket_state(state, &tenant, &ev.issue.id).await?;
    // An older event never overrides a newer state (duplicates and reordering land here), and
    // a change already applied is not applied again — whichever way it came (a Connect webhook
    // and a Forge event of the same change carry the same changelog id, not the same time).
    let (_, changelog) = order_key(&ev);
    if let Some(p) = &previous
        && ev.status_changed()
        && (order_key(&ev) <= (p.last_event_at, p.last_changelog_id)
            || (changelog != 0 && changelog == p.last_changelog_id))
    {
        let ev2 = ev.clone();
        return commit_with(state, d, move |txn| {
            Box::pin(async move {
                store_comment(txn, &tenant, &ev2).await?;
                Ok(Outcome::Done(format!(
                    "stale: a newer change to {} was already applied",
                    ev2.issue.key
                )))
            })
        })
        .await;
    }
    // Verdict's own transition (recorded before it asked Jira): not a person's decision.
    if let Some(to) = ev.change("status").and_then(|c| c.to.clone())
        && crate::outbox::is_own(state.store().db(), &tenant, &ev.issue.id, &to).await?
    {
        let ev2 = ev.clone();
        return commit_with(state, d, move |txn| {
            Box::pin(async move {
                // Consumed with the delivery's outcome: a crash before the commit leaves
                // the record for the retried delivery.
                crate::outbox::take_own(txn, &tenant, &ev2.issue.id, &to).await?;
                store_comment(txn, &tenant, &ev2).await?;
                if !category.is_empty() {
                    save_ticket_state(txn, &tenant, &ev2, &category).await?;
                }
                Ok(Outcome::Done(format!(
                    "{}: Verdict's own transition, not a decision",
                    ev2.issue.key
                )))
            })
        })
        .await;
    }
    let was_done = previous.as_ref().map(|p| p.category == "done");
    if ev.closes() {
        return close(state, d, ev, links).await;
    }
    // A reopen is a real status change out of `done` (not a label or priority edit).
    // Out of `done` means: Jira cleared the resolution, or the last state Verdict recorded for
    // the ticket (seeded when it was linked) was `done`. To Do → In Progress is not a reopen.
    let reopened = ev.status_changed()
        && category != "done"
        && !category.is_empty()
        && (ev.reopens() || was_done == Some(true));
    if reopened {
        return reopen(state, d, ev, links, category).await;
    }
    let ev2 = ev.clone();
    commit_with(state, d, move |txn| {
        Box::pin(async move {
            store_comment(txn, &tenant, &ev2).await?;
            if ev2.status_changed() && !category.is_empty() {
                save_ticket_state(txn, &tenant, &ev2, &category).await?;
            }
            Ok(Outcome::Done(format!(
                "{}: no closure or reopen",
                ev2.issue.key
            )))
        })
    })
    .await
}

fn closer_actor(ev: &JiraEvent) -> Actor {
    ev.user_account_id
        .clone()
        .map(Actor::JiraAccount)
        .unwrap_or_else(|| Actor::System("jira".into()))
}

async fn reopen(
    state: &AppState,
    d: &wd::Model,
    ev: JiraEvent,
    links: Vec<jira_links::Model>,
    category: String,
) -> Result<Outcome, TriageError> {
    let tenant = d.tenant_id.clone();
    let status_name = ev
        .issue
        .status
        .as_ref()
        .map(|s| s.name.clone())
        .unwrap_or_default();
    let change = StatusChange {
        to: rules_sdk::FindingStatus::Open,
        reason: Some(format!(
            "reopened in Jira ({} is now `{status_name}`)",
            ev.issue.key
        )),
        actor: closer_actor(&ev),
        source: EventSource::JiraWebhook,
        rule: None,
        bulk_id: None,
    };
    let metrics = state.metrics_arc().clone();
    let applied = commit_with(state, d, move |txn| {
        Box::pin(async move {
            store_comment(txn, &tenant, &ev).await?;
            save_ticket_state(txn, &tenant, &ev, &category).await?;
            // Every finding of the ticket (a group's has several) is open again.
            let mut reopened = 0;
            for link in &links {
                risk_expiries::Entity::delete_by_id(link.finding_id.clone())
                    .exec(txn)
                    .await?;
                let reason = findings::Findings::checked_reason(&change)?;
                match findings::change_status_in(txn, &tenant, &link.finding_id, &change, reason)
                    .await
                {
                    Ok(_) => reopened += 1,
                    Err(FindingsError::AlreadyInStatus(_)) => {}
                    Err(e) => return Err(e.into()),
                }
            }
            Ok(Outcome::Done(match (links.len(), reopened) {
                (1, 1) => format!("{} reopened: finding open again", ev.issue.key),
                (1, _) => format!("{} reopened: finding was already open", ev.issue.key),
                (n, r) => format!("{} reopened: {r} of {n} findings open again", ev.issue.key),
            }))
        })
    })
    .await?;
    if let Outcome::Done(s) = &applied
        && s.ends_with("open again")
    {
        metrics.status_changed(rules_sdk::FindingStatus::Open, EventSource::JiraWebhook);
    }
    Ok(applied)
}

fn category_of(key: &str) -> StatusCategory {
    StatusCategory::from_key(key)
}

/// A closure's rule input (secrets masked) and what the host noted while gathering it (links
/// it did not follow), for the decision log.
pub(crate) struct Gathered {
    pub input: ClosureInput,
    pub notes: Vec<String>,
}

/// The tenant's own site URLs (as installed, as displayed, as OAuth granted): the only
/// Confluence links that count as evidence.
async fn own_sites(state: &AppState, tenant: &str) -> Result<Vec<String>, TriageError> {
    use crate::store::entities::{oauth_connections, tenants};
    let mut sites = Vec::new();
    if let Some(t) = tenants::Entity::find_by_id(tenant)
        .one(state.store().db())
        .await?
    {
        sites.extend(t.site_url);
        sites.extend(t.display_url);
    }
    if let Some(o) = oauth_connections::Entity::find()
        .filter(oauth_connections::Column::TenantId.eq(tenant))
        .one(state.store().db())
        .await?
    {
        sites.push(o.site_url);
    }
    Ok(sites)
}

/// Everything the rule sees about the ticket, re-read from Jira when the payload is trimmed.
pub(crate) async fn gather(
    state: &AppState,
    tenant: &str,
    ev: &JiraEvent,
    finding: &findings::model::Finding,
) -> Result<Gathered, TriageError> {
    let auth = match state.jira_auth(tenant).await {
        Ok(a) => Some(a),
        // A gap between Forge system tokens passes within minutes: wait instead of deciding
        // from a light payload or failing the delivery.
        Err(crate::state::ConnectionError::Waiting(why)) => return Err(TriageError::Waiting(why)),
        Err(_) => None,
    };
    let mut issue_json: Option<Value> = None;
    if let Some(auth) = &auth {
        match state.jira().closure_issue(auth, &ev.issue.id).await {
            Ok(v) => issue_json = Some(v),
            Err(e) if ev.issue.trimmed => {
                // The payload cannot stand in for the issue: try again later.
                return Err(TriageError::Jira(format!(
                    "cannot re-read {}: {e}",
                    ev.issue.key
                )));
            }
            Err(e) => {
                tracing::warn!(tenant, issue = %ev.issue.key, error = %e, "cannot re-read the issue; using the webhook payload")
            }
        }
    } else if ev.issue.trimmed {
        return Err(TriageError::Jira(format!(
            "{} arrived trimmed and the tenant has no working Jira connection to re-read it",
            ev.issue.key
        )));
    }
    let fields = issue_json.as_ref().and_then(|v| v.get("fields"));
    let f = |name: &str| fields.and_then(|x| x.get(name));
    let text = |v: Option<&Value>, key: &str| {
        v.and_then(|x| x.get(key))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    let status = match f("status") {
        Some(s) => rules_sdk::Status {
            id: text(Some(s), "id").unwrap_or_default(),
            name: text(Some(s), "name").unwrap_or_default(),
            category: category_of(
                s.pointer("/statusCategory/key")
                    .and_then(Value::as_str)
                    .unwrap_or(""),
            ),
        },
        None => {
            let s = ev.issue.status.clone();
            rules_sdk::Status {
                id: s.as_ref().map(|s| s.id.clone()).unwrap_or_default(),
                name: s.as_ref().map(|s| s.name.clone()).unwrap_or_default(),
                category: category_of(s.as_ref().and_then(|s| s.category.as_deref()).unwrap_or("")),
            }
        }
    };
    let resolution = match f("resolution") {
        Some(r) => text(Some(r), "name"),
        None => ev.issue.resolution.clone().flatten().map(|r| r.name),
    };
    let labels = f("labels")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|l| l.as_str().map(str::to_owned))
                .collect()
        })
        .or_else(|| ev.issue.labels.clone())
        .unwrap_or_default();
    let description = f("description").map(adf::to_text).unwrap_or_default();

    // Comments: Jira's full list when reachable, else what the webhooks brought.
    let mut comments = stored_comments(state, tenant, &ev.issue.id).await?;
    if let Some(auth) = &auth {
        match fetch_comments(state, auth, &ev.issue.id).await {
            Ok(fetched) => comments = fetched,
            Err(e) => {
                tracing::warn!(tenant, issue = %ev.issue.key, error = %e, "cannot fetch comments; using the ones webhooks delivered")
            }
        }
    }
    comments.retain(|c| !c.body.trim_start().starts_with(OWN_COMMENT_TAG));
    comments.sort_by_key(|c| (c.created, c.id.parse::<u64>().unwrap_or(0)));

    let config = state
        .rules()
        .config_entries(tenant)
        .await
        .unwrap_or_default();
    let mut notes = Vec::new();
    let pages = match &auth {
        Some(auth) => {
            let mut texts: Vec<&str> = comments.iter().map(|c| c.body.as_str()).collect();
            texts.push(&description);
            let sites = own_sites(state, tenant).await?;
            let query = confluence::PageQuery {
                tenant,
                auth,
                issue_key: &ev.issue.key,
                texts: &texts,
                sites: &sites,
                config: &config,
            };
            state
                .page_cache()
                .pages_for(state, &query, &mut notes)
                .await
        }
        None => Vec::new(),
    };
    let closing = ev.change("status").map(|_| rules_sdk::Change {
        id: ev.changelog_id.clone().unwrap_or_default(),
        author: ev.user_account_id.clone(),
        at: ev.timestamp.unwrap_or(0),
        items: ev
            .changes
            .iter()
            .map(|c| rules_sdk::ChangeItem {
                field_id: c.field.clone(),
                from_id: c.from.clone(),
                from_name: c.from_string.clone(),
                to_id: c.to.clone(),
                to_name: c.to_string.clone(),
            })
            .collect(),
    });
    let account = |v: Option<&Value>| {
        v.and_then(|x| x.get("accountId"))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    let ticket = rules_sdk::Ticket {
        id: ev.issue.id.clone(),
        key: ev.issue.key.clone(),
        project: ev
            .issue
            .project_key
            .clone()
            .or_else(|| text(f("project"), "key"))
            .unwrap_or_default(),
        issue_type: text(f("issuetype"), "name").unwrap_or_default(),
        status,
        resolution,
        labels,
        priority: text(f("priority"), "name"),
        reporter: account(f("reporter")),
        assignee: account(f("assignee")),
        closer: ev.user_account_id.clone(),
        created: f("created")
            .and_then(Value::as_str)
            .and_then(jira_millis)
            .unwrap_or(0),
        resolved: f("resolutiondate")
            .and_then(Value::as_str)
            .and_then(jira_millis),
        closing_change: closing,
        comments,
    };
    Ok(Gathered {
        input: redacted(ClosureInput {
            ticket,
            finding: Some(to_rule_finding(finding)),
            pages,
            config,
            now: Utc::now().timestamp_millis(),
        }),
        notes,
    })
}

/// The closure input with secrets masked in its free text (comment bodies, page excerpts), as
/// the rule sees it and as the decision log keeps it: replay runs on exactly what was decided.
/// Pages were already found from the unmasked text, so a masked link cannot lose one.
fn redacted(mut input: ClosureInput) -> ClosureInput {
    for c in &mut input.ticket.comments {
        c.body = redact::masked(&c.body);
    }
    for p in &mut input.pages {
        p.excerpt = redact::masked(&p.excerpt);
    }
    input
}

pub fn to_rule_finding(f: &findings::model::Finding) -> rules_sdk::Finding {
    rules_sdk::Finding {
        id: f.id.clone(),
        title: f.title.clone(),
        severity: f.severity,
        score: f.score,
        cvss: f
            .cvss_vector
            .clone()
            .or_else(|| f.cvss_score.map(|s| s.to_string())),
        cwes: f.cwe_ids.clone(),
        scan_type: f.scan_type.clone().unwrap_or_default(),
        repository: f.repository.clone(),
        file: f.file_path.clone(),
        tags: f.tags.clone(),
        age_days: (Utc::now() - f.created_at).num_days().max(0) as u32,
        status: f.status,
        rule_id: f.rule_id.clone(),
        package: f.package.clone(),
        vulnerability_ids: f.vulnerability_ids.clone(),
    }
}

async fn stored_comments(
    state: &AppState,
    tenant: &str,
    issue: &str,
) -> Result<Vec<rules_sdk::Comment>, TriageError> {
    Ok(ticket_comments::Entity::find()
        .filter(ticket_comments::Column::TenantId.eq(tenant))
        .filter(ticket_comments::Column::IssueId.eq(issue))
        .filter(ticket_comments::Column::Deleted.eq(false))
        .order_by_asc(ticket_comments::Column::Created)
        .all(state.store().db())
        .await?
        .into_iter()
        .map(|c| rules_sdk::Comment {
            id: c.comment_id,
            author: c.author,
            body: c.body,
            created: c.created,
            updated: c.updated,
        })
        .collect())
}

/// Every comment on the issue, oldest first (at most 1,000), as rules see them.
async fn fetch_comments(
    state: &AppState,
    auth: &crate::atlassian::JiraAuth,
    issue: &str,
) -> Result<Vec<rules_sdk::Comment>, crate::jira::JiraError> {
    Ok(state
        .jira()
        .comments(auth, issue)
        .await?
        .into_iter()
        .map(|c| rules_sdk::Comment {
            id: c.id,
            author: c.author,
            body: c.body,
            created: c.created,
            updated: c.updated,
        })
        .collect())
}

fn decision_row(
    d: &wd::Model,
    finding_id: &str,
    ev: &JiraEvent,
    input: &RuleInput,
    decided: &Decided,
    notes: &[String],
) -> decisions::ActiveModel {
    let summary = crate::rules::replay::Outcome::of(&decided.output);
    let (closer, resolution) = match input {
        RuleInput::Closure(c) => (c.ticket.closer.clone(), c.ticket.resolution.clone()),
        _ => (None, None),
    };
    decisions::ActiveModel {
        id: Set(uuid::Uuid::now_v7().to_string()),
        tenant_id: Set(d.tenant_id.clone()),
        kind: Set("closure".into()),
        finding_id: Set(Some(finding_id.to_owned())),
        issue_id: Set(Some(ev.issue.id.clone())),
        issue_key: Set(Some(ev.issue.key.clone())),
        input: Set(serde_json::to_string(input).unwrap_or_default()),
        output: Set(serde_json::to_string(&decided.output).unwrap_or_default()),
        source: Set(decided.source.as_str().to_owned()),
        rule_id: Set(decided.rule.as_ref().map(|r| r.id.clone())),
        rule_name: Set(decided.rule.as_ref().map(|r| r.name.clone())),
        rule_version: Set(decided.rule.as_ref().map(|r| r.version)),
        // A rule that fails makes the closure wait: a stored decision has no rule error.
        error_code: Set(None),
        error_message: Set(None),
        created_at: Set(Utc::now()),
        delivery_id: Set(Some(d.id.clone())),
        outcome: Set(Some(summary.outcome)),
        verdict: Set(summary.status),
        reason: Set(summary.reason),
        confidence: Set(match &decided.output {
            RuleOutput::Closure(rules_sdk::ClosureDecision::Apply(v)) => {
                Some(f64::from(v.confidence))
            }
            _ => None,
        }),
        actor: Set(closer),
        resolution: Set(resolution),
        contradicted_at: Set(None),
        contradicted_by: Set(None),
        notes: Set((!notes.is_empty()).then(|| serde_json::to_string(notes).unwrap_or_default())),
    }
}

/// What a closure means for one finding of the ticket, decided before anything is written.
struct Closing {
    finding_id: String,
    decision: decisions::ActiveModel,
    output: RuleOutput,
    who: String,
    rule: Option<RuleRef>,
    accepted_until: Option<chrono::NaiveDate>,
    said: Option<String>,
}

/// Has the tenant's rule decide what the closure means for one linked finding, on the ticket
/// as gathered once for all the ticket's findings.
async fn decide_closure(
    state: &AppState,
    d: &wd::Model,
    ev: &JiraEvent,
    link: &jira_links::Model,
    gathered: &Gathered,
    comment_back: bool,
) -> Result<Closing, TriageError> {
    let tenant = d.tenant_id.as_str();
    let finding = state.findings().get(tenant, &link.finding_id).await?;
    let notes = &gathered.notes;
    let input = ClosureInput {
        finding: Some(to_rule_finding(&finding)),
        ..gathered.input.clone()
    };
    let project = input.ticket.project.clone();
    let input = RuleInput::Closure(input);
    let decided = state
        .rules()
        .decide(state.metrics_arc(), tenant, Some(&project), input.clone())
        .await?;
    let decision = decision_row(d, &link.finding_id, ev, &input, &decided, notes);
    let rule = decided
        .rule
        .as_ref()
        .filter(|_| decided.source == DecisionSource::Rule)
        .map(|r| RuleRef {
            id: r.name.clone(),
            version: r.version.to_string(),
        });
    let who = match (&decided.source, &decided.rule) {
        (DecisionSource::Rule, Some(r)) => format!("rule {}@{}", r.name, r.version),
        _ => "default policy".to_owned(),
    };
    // A date the thread gives ("accepted until 2027-06-30") ends the acceptance instead.
    let accepted_until = match (&input, &decided.output) {
        (RuleInput::Closure(c), RuleOutput::Closure(ClosureDecision::Apply(v)))
            if v.status == rules_sdk::FindingStatus::AcceptedRisk =>
        {
            let newest_first: Vec<&str> = c
                .ticket
                .comments
                .iter()
                .rev()
                .map(|c| c.body.as_str())
                .collect();
            verdict_wire::risk_date::accepted_until(&newest_first, Utc::now().date_naive())
        }
        _ => None,
    };
    let said = match (&decided.output, comment_back) {
        (RuleOutput::Closure(ClosureDecision::Apply(v)), true) => Some(format!(
            "Verdict marked the finding {}: {} ({who}).",
            v.status, v.reason
        )),
        (RuleOutput::Closure(ClosureDecision::Skip(why)), true) => Some(format!(
            "Verdict left the finding as it was: {why} ({who})."
        )),
        _ => None,
    };
    Ok(Closing {
        finding_id: link.finding_id.clone(),
        decision,
        output: decided.output,
        who,
        rule,
        accepted_until,
        said,
    })
}

/// Applies one finding's closure decision inside the delivery's transaction; returns what
/// happened, for the delivery's outcome.
async fn apply_closure(
    txn: &DatabaseTransaction,
    tenant: &str,
    key: &str,
    c: Closing,
    actor: &Actor,
    expiry_days: i64,
    metrics: &crate::metrics::Metrics,
) -> Result<String, TriageError> {
    let Closing {
        finding_id,
        decision,
        output,
        who,
        rule,
        accepted_until,
        ..
    } = c;
    decisions::Entity::insert(decision).exec(txn).await?;
    match output {
        RuleOutput::Closure(ClosureDecision::Apply(v)) => {
            let until_note = accepted_until
                .map(|d| format!("; accepted until {d}, as the thread says"))
                .unwrap_or_default();
            let change = StatusChange {
                to: v.status,
                reason: Some(format!(
                    "{} (confidence {:.2}, {who}){until_note}",
                    v.reason, v.confidence
                )),
                actor: actor.clone(),
                source: EventSource::JiraWebhook,
                rule,
                bulk_id: None,
            };
            let reason = findings::Findings::checked_reason(&change)?;
            let applied =
                match findings::change_status_in(txn, tenant, &finding_id, &change, reason).await {
                    Ok(_) => true,
                    Err(FindingsError::AlreadyInStatus(_)) => false,
                    Err(e) => return Err(e.into()),
                };
            if v.status == rules_sdk::FindingStatus::AcceptedRisk {
                let until = accepted_until
                    .and_then(|d| d.and_hms_opt(23, 59, 59))
                    .map(|t| t.and_utc())
                    .unwrap_or_else(|| Utc::now() + chrono::Duration::days(expiry_days));
                risk_expiries::Entity::insert(risk_expiries::ActiveModel {
                    finding_id: Set(finding_id.clone()),
                    tenant_id: Set(tenant.to_owned()),
                    expires_at: Set(until),
                })
                .on_conflict(
                    OnConflict::column(risk_expiries::Column::FindingId)
                        .update_column(risk_expiries::Column::ExpiresAt)
                        .to_owned(),
                )
                .exec(txn)
                .await?;
            } else {
                risk_expiries::Entity::delete_by_id(finding_id.clone())
                    .exec(txn)
                    .await?;
            }
            if applied {
                metrics.status_changed(v.status, EventSource::JiraWebhook);
                Ok(format!("finding {} by {who}", v.status))
            } else {
                Ok(format!("finding already {}", v.status))
            }
        }
        RuleOutput::Closure(ClosureDecision::Skip(why)) => {
            findings::note_in(
                txn,
                tenant,
                &finding_id,
                FindingEventKind::Skipped,
                actor,
                EventSource::JiraWebhook,
                format!("{key} closed; left as is: {why} ({who})"),
                rule,
            )
            .await?;
            Ok(format!("skipped ({why})"))
        }
        other => Ok(format!("no decision ({other:?})")),
    }
}

/// A closed ticket: each linked finding (a group's ticket has several) gets the tenant's
/// rule's decision and its own audit event, all committed with the delivery.
async fn close(
    state: &AppState,
    d: &wd::Model,
    ev: JiraEvent,
    links: Vec<jira_links::Model>,
) -> Result<Outcome, TriageError> {
    let tenant = d.tenant_id.clone();
    let config = state
        .rules()
        .config_entries(&tenant)
        .await
        .unwrap_or_default();
    let setting = |k: &str| {
        config
            .iter()
            .rev()
            .find(|e| e.key == k)
            .map(|e| e.value.trim().to_owned())
    };
    let expiry_days = setting(KEY_RISK_EXPIRY_DAYS)
        .and_then(|v| v.parse::<i64>().ok())
        .filter(|d| *d > 0)
        .unwrap_or(90);
    let comment_back = setting(KEY_CLOSURE_COMMENT).is_some_and(|v| v == "true");
    // The ticket (Jira re-read, comments, pages) is the same for every finding of a group's
    // ticket: gathered once, each finding put in its place.
    let first = state.findings().get(&tenant, &links[0].finding_id).await?;
    let gathered = gather(state, &tenant, &ev, &first).await?;
    let mut closings = Vec::with_capacity(links.len());
    for link in &links {
        closings.push(decide_closure(state, d, &ev, link, &gathered, comment_back).await?);
    }
    // The decision comment goes through the outbox, committed with the decisions: one comment
    // for the ticket, a line per finding when it lists several.
    let said: Vec<String> = closings
        .iter()
        .filter_map(|c| {
            c.said.as_ref().map(|s| {
                if closings.len() > 1 {
                    format!("{}: {s}", c.finding_id)
                } else {
                    s.clone()
                }
            })
        })
        .collect();
    let said = (!said.is_empty()).then(|| format!("{OWN_COMMENT_TAG} {}", said.join("\n")));
    let first = links.first().map(|l| l.finding_id.clone());
    let issue_id = ev.issue.id.clone();
    let actor = closer_actor(&ev);
    let metrics = state.metrics_arc().clone();
    let wake = said.is_some();
    let outcome = commit_with(state, d, move |txn| {
        Box::pin(async move {
            store_comment(txn, &tenant, &ev).await?;
            save_ticket_state(txn, &tenant, &ev, "done").await?;
            if let Some(text) = said {
                crate::outbox::enqueue_in(
                    txn,
                    &tenant,
                    first.as_deref(),
                    None,
                    &crate::outbox::Payload::Comment { issue_id, text },
                )
                .await?;
            }
            let key = ev.issue.key.clone();
            let several = closings.len() > 1;
            let mut results = Vec::with_capacity(closings.len());
            for c in closings {
                let id = c.finding_id.clone();
                let r = apply_closure(txn, &tenant, &key, c, &actor, expiry_days, &metrics).await?;
                results.push(if several { format!("{id}: {r}") } else { r });
            }
            Ok(Outcome::Done(format!(
                "{key} closed: {}",
                results.join("; ")
            )))
        })
    })
    .await?;
    if wake {
        state.outbox_queue().wake();
    }
    Ok(outcome)
}

/// Reopens findings whose accepted risk has expired (before `now`) and says so on the ticket.
/// Returns how many reopened.
pub async fn expire_risks(state: &AppState, now: DateTime<Utc>) -> Result<usize, TriageError> {
    let due = risk_expiries::Entity::find()
        .filter(risk_expiries::Column::ExpiresAt.lt(now))
        .all(state.store().db())
        .await?;
    let mut n = 0;
    for e in due {
        let change = StatusChange {
            to: rules_sdk::FindingStatus::Open,
            reason: Some(format!(
                "the risk acceptance expired on {}",
                e.expires_at.format("%Y-%m-%d")
            )),
            actor: Actor::System("risk-expiry".into()),
            source: EventSource::Rule,
            rule: None,
            bulk_id: None,
        };
        match state
            .findings()
            .change_status(&e.tenant_id, &e.finding_id, change)
            .await
        {
            // A linked finding's ticket is reopened (with this reason as its comment) by the
            // outbox job the status change queued.
            Ok(_) => n += 1,
            Err(FindingsError::AlreadyInStatus(_)) | Err(FindingsError::NotFound(_)) => {}
            Err(err) => return Err(err.into()),
        }
        let _gate = state.store().write_lock().await;
        risk_expiries::Entity::delete_by_id(e.finding_id.clone())
            .exec(state.store().db())
            .await?;
    }
    Ok(n)
}

/// Records a newly linked ticket's current status category, so the first reopen is
/// recognised even before any webhook about it arrived.
pub async fn seed_ticket_state(
    state: &AppState,
    tenant: &str,
    issue_id: &str,
    issue_key: &str,
    category: &str,
) -> Result<(), sea_orm::DbErr> {
    let _gate = state.store().write_lock().await;
    seed_ticket_state_in(state.store().db(), tenant, issue_id, issue_key, category).await
}

/// [`seed_ticket_state`] inside the caller's transaction.
pub async fn seed_ticket_state_in<C: sea_orm::ConnectionTrait>(
    db: &C,
    tenant: &str,
    issue_id: &str,
    issue_key: &str,
    category: &str,
) -> Result<(), sea_orm::DbErr> {
    ticket_states::Entity::insert(ticket_states::ActiveModel {
        tenant_id: Set(tenant.to_owned()),
        issue_id: Set(issue_id.to_owned()),
        issue_key: Set(issue_key.to_owned()),
        last_event_at: Set(0),
        last_changelog_id: Set(0),
        category: Set(category.to_owned()),
        updated_at: Set(Utc::now()),
    })
    .on_conflict(
        OnConflict::columns([
            ticket_states::Column::TenantId,
            ticket_states::Column::IssueId,
        ])
        .update_columns([
            ticket_states::Column::IssueKey,
            ticket_states::Column::Category,
        ])
        .to_owned(),
    )
    .exec(db)
    .await?;
    Ok(())
}
