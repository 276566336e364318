//! Findings → Jira: the persisted outbox of outbound actions (create issue, move a ticket,
//! comment, remote link), its leased workers, and the admin's view of failed jobs.
//!
//! Every action is a row first, written in the same transaction as the change that caused
//! it, so nothing is lost across crashes; workers lease jobs like the webhook inbox, retry
//! with backoff, and dead-letter a job after `outbox_max_attempts` with its reason.

pub mod epics;
pub mod export;
pub mod fields;
pub mod groups;
pub mod notes;
pub mod reconcile;
pub mod sla;
pub mod status;
pub use verdict_wire::template;

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};
use serde::Serialize;

use crate::jira::JiraError;
pub use crate::outbox::{JobKind, JobState, Payload, enqueue_in, enqueue_many_in};
use crate::queue::{Claimed, Queue, Release, TicketLocks, WorkerPool};
use crate::state::AppState;
use crate::store::entities::outbox_jobs as oj;

/// How often idle workers look for due jobs nobody announced.
const POLL: Duration = Duration::from_millis(250);

/// How a job run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobOutcome {
    Done(String),
    Skipped(String),
}

#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// May pass later (Jira down, 5xx, not connected right now): retried with backoff.
    #[error("{0}")]
    Transient(String),
    /// Asked to wait (Jira's quota, a busy rule, a group's ticket being filed): rescheduled
    /// without using up an attempt.
    #[error("waiting {wait:?}: {reason}")]
    Paused { wait: Duration, reason: String },
    /// No credentials this moment (a Forge tenant between app system tokens): rescheduled
    /// without using up an attempt, and made due at once when a token arrives.
    #[error("waiting for Jira credentials: {0}")]
    Waiting(String),
    /// Will never pass as it is (Jira refused the request): dead-lettered at once.
    #[error("{0}")]
    Permanent(String),
    /// Asked about the ticket of a finding that has none (the API answers 409).
    #[error("{0}")]
    NotExported(String),
    #[error("database error: {0}")]
    Db(#[from] sea_orm::DbErr),
    #[error("{0}")]
    Findings(#[from] crate::findings::FindingsError),
}

impl From<JiraError> for JobError {
    fn from(e: JiraError) -> Self {
        match e {
            JiraError::RateLimited { wait, reason } => JobError::Paused {
                wait,
                reason: format!("rate limited by Jira: {reason}"),
            },
            e if e.is_transient() => JobError::Transient(e.to_string()),
            e => JobError::Permanent(e.to_string()),
        }
    }
}

impl From<crate::state::ConnectionError> for JobError {
    fn from(e: crate::state::ConnectionError) -> Self {
        match e {
            // A Forge tenant between system tokens: the job waits, using up no attempt.
            crate::state::ConnectionError::Waiting(reason) => JobError::Waiting(reason),
            e => JobError::Transient(format!("no Jira connection: {e}")),
        }
    }
}

impl From<crate::rules::RuleUnavailable> for JobError {
    fn from(e: crate::rules::RuleUnavailable) -> Self {
        // The tenant's rule decides or nothing does: the job waits for it.
        if e.is_busy() {
            JobError::Paused {
                wait: RULE_BUSY_WAIT,
                reason: e.to_string(),
            }
        } else {
            JobError::Transient(e.to_string())
        }
    }
}

/// How long a job whose rule found no free instance waits before it asks again.
pub const RULE_BUSY_WAIT: Duration = Duration::from_secs(5);

/// A job as the admin API shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Job {
    pub id: String,
    pub kind: JobKind,
    pub state: JobState,
    pub finding_id: Option<String>,
    pub bulk_id: Option<String>,
    pub attempts: i32,
    pub next_attempt_at: DateTime<Utc>,
    pub last_error: Option<String>,
    pub outcome: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<oj::Model> for Job {
    fn from(m: oj::Model) -> Self {
        Job {
            kind: JobKind::parse(&m.kind).unwrap_or(JobKind::Comment),
            state: JobState::parse(&m.state).unwrap_or(JobState::Pending),
            id: m.id,
            finding_id: m.finding_id,
            bulk_id: m.bulk_id,
            attempts: m.attempts,
            next_attempt_at: m.next_attempt_at,
            last_error: m.last_error,
            outcome: m.outcome,
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}

fn claim_of(job: &oj::Model) -> Claimed {
    Claimed::of_row(&job.id, job.attempts, job.lease_owner.as_deref())
}

/// Marks a claimed job finished inside `db` (the caller's transaction when the job's effects
/// are written too), only if this worker still holds it. Returns false when the lease was lost.
pub async fn finish_in<C: ConnectionTrait>(
    db: &C,
    job: &oj::Model,
    outcome: &JobOutcome,
) -> Result<bool, sea_orm::DbErr> {
    let (state, text) = match outcome {
        JobOutcome::Done(t) => (JobState::Done, t),
        JobOutcome::Skipped(t) => (JobState::Skipped, t),
    };
    Queue::finish_in(
        &crate::queue::OUTBOX,
        db,
        &claim_of(job),
        state.as_str(),
        text,
    )
    .await
}

/// Gives a failed job back: retried with backoff, rescheduled after a rate-limit pause, or
/// dead-lettered (`failed`) when it cannot pass or has used its attempts.
async fn release(
    state: &AppState,
    job: &oj::Model,
    error: &JobError,
) -> Result<JobState, sea_orm::DbErr> {
    let max = state.config().outbox_max_attempts as i32;
    let now = Utc::now();
    let later = |d: Duration| now + chrono::Duration::from_std(d).unwrap_or_default();
    let (next_state, release, delay) = match error {
        JobError::Paused { wait, .. } => (
            JobState::Pending,
            Release::Retry {
                at: later(*wait),
                attempts: Some(job.attempts - 1),
            },
            *wait,
        ),
        JobError::Waiting(_) => {
            let wait = crate::webhooks::worker::WAIT_FOR_CREDENTIALS;
            (
                JobState::Pending,
                Release::Retry {
                    at: later(wait),
                    attempts: Some(job.attempts - 1),
                },
                wait,
            )
        }
        JobError::Permanent(_) | JobError::NotExported(_) => {
            (JobState::Failed, Release::Dead, Duration::ZERO)
        }
        _ if job.attempts >= max => (JobState::Failed, Release::Dead, Duration::ZERO),
        _ => {
            let backoff = Duration::from_millis(500 * 2u64.pow(job.attempts.clamp(0, 10) as u32))
                .min(Duration::from_secs(300));
            (
                JobState::Pending,
                Release::Retry {
                    at: later(backoff),
                    attempts: None,
                },
                backoff,
            )
        }
    };
    state
        .outbox_queue()
        .release(&claim_of(job), release, &error.to_string())
        .await?;
    match next_state {
        JobState::Failed => {
            tracing::error!(job = %job.id, kind = %job.kind, tenant = %job.tenant_id, attempts = job.attempts, error = %error, "outbound Jira job dead-lettered")
        }
        _ => {
            tracing::warn!(job = %job.id, kind = %job.kind, tenant = %job.tenant_id, attempts = job.attempts, retry_in = ?delay, error = %error, "outbound Jira job will be retried")
        }
    }
    Ok(next_state)
}

/// Runs one claimed job's action; the action finishes the job itself (inside its own
/// transaction when it writes), so a crash between Jira and the database repeats the action,
/// which every action detects (search by label, current status, existing comment).
pub async fn run(state: &AppState, job: &oj::Model) -> Result<JobOutcome, JobError> {
    let payload: Payload = serde_json::from_str(&job.payload)
        .map_err(|e| JobError::Permanent(format!("unreadable job payload: {e}")))?;
    match payload {
        Payload::CreateIssue(req) => export::run(state, job, req).await,
        Payload::SyncStatus { reason } => status::run(state, job, reason).await,
        Payload::Comment { issue_id, text } => {
            status::comment_job(state, job, &issue_id, &text).await
        }
        Payload::RemoteLink { issue_id } => export::remote_link_job(state, job, &issue_id).await,
        Payload::AutoTicket {} => export::auto_ticket_job(state, job).await,
        Payload::UpdateIssue { force } => export::update_job(state, job, force).await,
    }
}

/// The tenant's outbound jobs waiting for the next hour's Jira points (rescheduled by the
/// budget; see [`crate::jira::budget`]).
pub async fn count_waiting_for_budget(
    state: &AppState,
    tenant: &str,
) -> Result<u64, sea_orm::DbErr> {
    use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
    oj::Entity::find()
        .filter(oj::Column::TenantId.eq(tenant))
        .filter(oj::Column::State.eq(JobState::Pending.as_str()))
        .filter(oj::Column::LastError.contains(crate::jira::budget::HELD_BACK))
        .count(state.store().db())
        .await
}

/// What a job's Jira calls count as: a verdict's comment and a single finding's ticket move
/// are closure write-backs; tickets filed, links, and anything a bulk request started are bulk.
pub fn priority_of(job: &oj::Model) -> crate::jira::budget::Priority {
    use crate::jira::budget::Priority;
    match JobKind::parse(&job.kind) {
        _ if job.bulk_id.is_some() => Priority::Bulk,
        Some(JobKind::Comment | JobKind::SyncStatus) => Priority::Closure,
        _ => Priority::Bulk,
    }
}

/// The tenant's settings as rules read them; none when they cannot be read (a job that needs
/// one then says which is missing).
pub async fn config_of(state: &AppState, tenant: &str) -> Vec<rules_sdk::ConfigEntry> {
    state
        .rules()
        .config_entries(tenant)
        .await
        .unwrap_or_default()
}

/// One setting's value, trimmed; `None` when unset or empty. The last entry wins.
pub fn setting<'a>(config: &'a [rules_sdk::ConfigEntry], key: &str) -> Option<&'a str> {
    config
        .iter()
        .rev()
        .find(|e| e.key.eq_ignore_ascii_case(key))
        .map(|e| e.value.trim())
        .filter(|v| !v.is_empty())
}

/// Finishes a job whose action wrote nothing else.
pub async fn finish(
    state: &AppState,
    job: &oj::Model,
    outcome: JobOutcome,
) -> Result<JobOutcome, JobError> {
    let _gate = state.store().write_lock().await;
    if !finish_in(state.store().db(), job, &outcome).await? {
        tracing::warn!(job = %job.id, "lost the lease on an outbound job before finishing it");
    }
    Ok(outcome)
}

/// Runs and records one claimed job.
pub async fn work_one(state: &AppState, claim: Claimed, locks: &TicketLocks) {
    let job = match oj::Entity::find_by_id(&claim.id)
        .one(state.store().db())
        .await
    {
        Ok(Some(j)) if j.lease_owner.as_deref() == Some(claim.owner.as_str()) => j,
        Ok(_) => return,
        Err(e) => {
            tracing::error!(job = %claim.id, error = %e, "cannot read a claimed job; its lease will expire");
            return;
        }
    };
    let started = Instant::now();
    // One action per finding at a time in this process: two moves of one ticket would race.
    let lock = locks.lock_for(&job.tenant_id, job.finding_id.as_deref().unwrap_or(&job.id));
    let _held = lock.lock().await;
    let result = crate::jira::budget::with_priority(priority_of(&job), run(state, &job)).await;
    let label = match &result {
        Ok(JobOutcome::Done(_)) => "done",
        Ok(JobOutcome::Skipped(_)) => "skipped",
        Err(_) => "error",
    };
    state
        .metrics()
        .outbox_job(job.kind.as_str(), label, started.elapsed());
    if let Err(e) = &result {
        match release(state, &job, e).await {
            Ok(JobState::Failed) => {
                state
                    .metrics()
                    .outbox_job(job.kind.as_str(), "failed", Duration::ZERO)
            }
            Ok(_) => {}
            Err(db) => {
                tracing::error!(job = %job.id, error = %db, "cannot release a failed job; its lease will expire")
            }
        }
    }
}

/// Runs the outbox workers (`outbox_workers` at once) until `stop` flips to true.
pub fn spawn(
    state: AppState,
    stop: tokio::sync::watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    let locks = TicketLocks::default();
    let config = state.config();
    let pool = WorkerPool::new(
        config.outbox_workers,
        config.queue_claim_batch,
        config.outbox_lease_secs,
        POLL,
    );
    let queue = state.outbox_queue().clone();
    crate::queue::spawn_workers(queue, pool, stop, move |claim| {
        let state = state.clone();
        let locks = locks.clone();
        async move { work_one(&state, claim, &locks).await }
    })
}

/// Filters for the jobs API.
#[derive(Debug, Clone, Default)]
pub struct JobFilter {
    pub state: Option<JobState>,
    pub kind: Option<JobKind>,
    pub finding_id: Option<String>,
    pub bulk_id: Option<String>,
}

fn filtered(tenant_id: &str, filter: &JobFilter) -> sea_orm::Select<oj::Entity> {
    let mut q = oj::Entity::find().filter(oj::Column::TenantId.eq(tenant_id));
    if let Some(s) = filter.state {
        q = q.filter(oj::Column::State.eq(s.as_str()));
    }
    if let Some(k) = filter.kind {
        q = q.filter(oj::Column::Kind.eq(k.as_str()));
    }
    if let Some(f) = &filter.finding_id {
        q = q.filter(oj::Column::FindingId.eq(f));
    }
    if let Some(b) = &filter.bulk_id {
        q = q.filter(oj::Column::BulkId.eq(b));
    }
    q
}

/// How many of the tenant's jobs match.
pub async fn count(
    state: &AppState,
    tenant_id: &str,
    filter: &JobFilter,
) -> Result<u64, sea_orm::DbErr> {
    filtered(tenant_id, filter).count(state.store().db()).await
}

/// The tenant's jobs, newest first.
pub async fn list(
    state: &AppState,
    tenant_id: &str,
    filter: &JobFilter,
    limit: u64,
) -> Result<Vec<Job>, sea_orm::DbErr> {
    Ok(filtered(tenant_id, filter)
        .order_by_desc(oj::Column::Id)
        .limit(limit)
        .all(state.store().db())
        .await?
        .into_iter()
        .map(Job::from)
        .collect())
}

/// Puts a failed job back in the queue with fresh attempts. `None` when the tenant has no
/// such job; `Some(false)` when it is not failed.
pub async fn retry(
    state: &AppState,
    tenant_id: &str,
    job_id: &str,
) -> Result<Option<bool>, sea_orm::DbErr> {
    state.outbox_queue().requeue_failed(tenant_id, job_id).await
}

/// One failed (or skipped) job in a summary.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SummaryItem {
    pub job_id: String,
    pub finding_id: Option<String>,
    pub reason: String,
}

/// Where the jobs of one bulk request are.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct BulkSummary {
    pub bulk_id: String,
    pub total: u64,
    pub pending: u64,
    pub done: u64,
    pub skipped: Vec<SummaryItem>,
    pub failed: Vec<SummaryItem>,
    /// True once every job has finished (done, skipped or failed).
    pub finished: bool,
}

pub async fn summary(
    state: &AppState,
    tenant_id: &str,
    bulk_id: &str,
) -> Result<Option<BulkSummary>, sea_orm::DbErr> {
    let base = oj::Entity::find()
        .filter(oj::Column::TenantId.eq(tenant_id))
        .filter(oj::Column::BulkId.eq(bulk_id));
    let total = base.clone().count(state.store().db()).await?;
    if total == 0 {
        return Ok(None);
    }
    let count = |s: &'static [&'static str]| {
        base.clone()
            .filter(oj::Column::State.is_in(s.iter().copied()))
            .count(state.store().db())
    };
    let pending = count(&["pending", "processing"]).await?;
    let done = count(&["done"]).await?;
    let items = |s: &'static str| {
        base.clone()
            .filter(oj::Column::State.eq(s))
            .order_by_asc(oj::Column::Id)
            .all(state.store().db())
    };
    // A skipped job's reason is its outcome; a failed one's is its last error.
    let to_items = |rows: Vec<oj::Model>, failed: bool| {
        rows.into_iter()
            .map(|r| SummaryItem {
                job_id: r.id,
                finding_id: r.finding_id,
                reason: if failed {
                    r.last_error.or(r.outcome)
                } else {
                    r.outcome.or(r.last_error)
                }
                .unwrap_or_default(),
            })
            .collect::<Vec<_>>()
    };
    let skipped = to_items(items("skipped").await?, false);
    let failed = to_items(items("failed").await?, true);
    Ok(Some(BulkSummary {
        bulk_id: bulk_id.to_owned(),
        total,
        pending,
        done,
        finished: pending == 0,
        skipped,
        failed,
    }))
}

/// Jobs waiting (pending or leased), for metrics.
pub async fn depth(state: &AppState) -> Result<u64, sea_orm::DbErr> {
    Ok(state.outbox_queue().depth().await?.waiting)
}
