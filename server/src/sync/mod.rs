//! Findings → Jira: the persisted outbox of outbound actions (create issue, move a ticket,
//! comment, remote link), its leased workers, and the admin's view of failed jobs.
//!
//! Every action is a row first, written in the same transaction as the change that caused
//! it, so nothing is lost across crashes; workers lease jobs like the webhook inbox, retry
//! with backoff, and dead-letter a job after `outbox_max_attempts` with its reason.

pub mod export;
pub mod reconcile;
pub mod redact;
pub mod status;
pub mod template;

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Condition, Expr};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect,
};
use serde::{Deserialize, Serialize};

use crate::jira::JiraError;
use crate::state::AppState;
use crate::store::entities::outbox_jobs as oj;
use crate::webhooks::worker::TicketLocks;

/// How long a claimed job stays ours before another worker may take it.
pub const LEASE: Duration = Duration::from_secs(120);
/// How often idle workers look for due jobs nobody announced.
const POLL: Duration = Duration::from_millis(250);

/// What an outbound job does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum JobKind {
    /// File a Jira issue for a finding (export or auto-ticketing).
    CreateIssue,
    /// Move the finding's ticket to match the finding's current status.
    SyncStatus,
    /// Post a comment on an issue.
    Comment,
    /// Add the web link back to the finding on its issue.
    RemoteLink,
}

impl JobKind {
    pub fn as_str(self) -> &'static str {
        match self {
            JobKind::CreateIssue => "create_issue",
            JobKind::SyncStatus => "sync_status",
            JobKind::Comment => "comment",
            JobKind::RemoteLink => "remote_link",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::CreateIssue,
            Self::SyncStatus,
            Self::Comment,
            Self::RemoteLink,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
}

/// Where a job is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    Pending,
    Processing,
    Done,
    /// Finished without acting (already exported, ticket already in place…); see `outcome`.
    Skipped,
    /// Dead-lettered: gave up after its attempts, or refused by Jira for good.
    Failed,
}

impl JobState {
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Pending => "pending",
            JobState::Processing => "processing",
            JobState::Done => "done",
            JobState::Skipped => "skipped",
            JobState::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::Pending,
            Self::Processing,
            Self::Done,
            Self::Skipped,
            Self::Failed,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
}

/// A job's parameters (the `payload` column).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Payload {
    CreateIssue(export::ExportRequest),
    SyncStatus {
        /// Why the status changed, for the comment on the ticket.
        #[serde(default)]
        reason: Option<String>,
    },
    Comment {
        issue_id: String,
        text: String,
    },
    RemoteLink {
        issue_id: String,
    },
}

impl Payload {
    pub fn kind(&self) -> JobKind {
        match self {
            Payload::CreateIssue(_) => JobKind::CreateIssue,
            Payload::SyncStatus { .. } => JobKind::SyncStatus,
            Payload::Comment { .. } => JobKind::Comment,
            Payload::RemoteLink { .. } => JobKind::RemoteLink,
        }
    }
}

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
    /// Jira asked us to wait (quota): rescheduled without using up an attempt.
    #[error("rate limited for {wait:?}: {reason}")]
    Paused { wait: Duration, reason: String },
    /// Will never pass as it is (Jira refused the request): dead-lettered at once.
    #[error("{0}")]
    Permanent(String),
    #[error("database error: {0}")]
    Db(#[from] sea_orm::DbErr),
    #[error("{0}")]
    Findings(#[from] crate::findings::FindingsError),
}

impl From<JiraError> for JobError {
    fn from(e: JiraError) -> Self {
        match e {
            JiraError::RateLimited { wait, reason } => JobError::Paused { wait, reason },
            e if e.is_transient() => JobError::Transient(e.to_string()),
            e => JobError::Permanent(e.to_string()),
        }
    }
}

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

/// Queues a job inside the caller's transaction (so it exists exactly when the change that
/// caused it does). Returns the job id.
pub async fn enqueue_in<C: ConnectionTrait>(
    db: &C,
    tenant_id: &str,
    finding_id: Option<&str>,
    bulk_id: Option<&str>,
    payload: &Payload,
) -> Result<String, sea_orm::DbErr> {
    let id = uuid::Uuid::now_v7().to_string();
    let now = Utc::now();
    oj::Entity::insert(oj::ActiveModel {
        id: Set(id.clone()),
        tenant_id: Set(tenant_id.to_owned()),
        kind: Set(payload.kind().as_str().to_owned()),
        finding_id: Set(finding_id.map(str::to_owned)),
        bulk_id: Set(bulk_id.map(str::to_owned)),
        payload: Set(serde_json::to_string(payload).expect("plain data serialises")),
        state: Set(JobState::Pending.as_str().to_owned()),
        attempts: Set(0),
        next_attempt_at: Set(now),
        lease_until: Set(None),
        lease_owner: Set(None),
        last_error: Set(None),
        outcome: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    })
    .exec(db)
    .await?;
    Ok(id)
}

fn claimable(now: DateTime<Utc>) -> Condition {
    Condition::any()
        .add(
            Condition::all()
                .add(oj::Column::State.eq("pending"))
                .add(oj::Column::NextAttemptAt.lte(now)),
        )
        .add(
            Condition::all()
                .add(oj::Column::State.eq("processing"))
                .add(oj::Column::LeaseUntil.lt(now)),
        )
}

/// Claims the next due job for `owner`.
pub async fn claim(state: &AppState, owner: &str) -> Result<Option<oj::Model>, sea_orm::DbErr> {
    let now = Utc::now();
    let candidates = oj::Entity::find()
        .filter(claimable(now))
        .order_by_asc(oj::Column::NextAttemptAt)
        .order_by_asc(oj::Column::Id)
        .limit(16)
        .all(state.store().db())
        .await?;
    for c in candidates {
        let until = now + chrono::Duration::from_std(LEASE).unwrap_or_default();
        let _gate = state.store().write_lock().await;
        let res = oj::Entity::update_many()
            .col_expr(oj::Column::State, Expr::value("processing"))
            .col_expr(oj::Column::LeaseUntil, Expr::value(until))
            .col_expr(oj::Column::LeaseOwner, Expr::value(owner))
            .col_expr(oj::Column::Attempts, Expr::col(oj::Column::Attempts).add(1))
            .col_expr(oj::Column::UpdatedAt, Expr::value(now))
            .filter(oj::Column::Id.eq(&c.id))
            .filter(claimable(now))
            .exec(state.store().db())
            .await?;
        if res.rows_affected == 1 {
            return Ok(Some(oj::Model {
                state: "processing".into(),
                lease_until: Some(until),
                lease_owner: Some(owner.to_owned()),
                attempts: c.attempts + 1,
                ..c
            }));
        }
    }
    Ok(None)
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
    let res = oj::Entity::update_many()
        .col_expr(oj::Column::State, Expr::value(state.as_str()))
        .col_expr(oj::Column::Outcome, Expr::value(text.clone()))
        .col_expr(
            oj::Column::LeaseUntil,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .col_expr(oj::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(oj::Column::Id.eq(&job.id))
        .filter(oj::Column::State.eq("processing"))
        .filter(oj::Column::LeaseOwner.eq(job.lease_owner.clone().unwrap_or_default()))
        .exec(db)
        .await?;
    Ok(res.rows_affected == 1)
}

/// Gives a failed job back: retried with backoff, rescheduled after a rate-limit pause, or
/// dead-lettered (`failed`) when it cannot pass or has used its attempts.
async fn release(
    state: &AppState,
    job: &oj::Model,
    error: &JobError,
) -> Result<JobState, sea_orm::DbErr> {
    let max = state.config().outbox_max_attempts as i32;
    let (next_state, delay, attempts) = match error {
        JobError::Paused { wait, .. } => (JobState::Pending, *wait, job.attempts - 1),
        JobError::Permanent(_) => (JobState::Failed, Duration::ZERO, job.attempts),
        _ if job.attempts >= max => (JobState::Failed, Duration::ZERO, job.attempts),
        _ => {
            let backoff = Duration::from_millis(500 * 2u64.pow(job.attempts.clamp(0, 10) as u32))
                .min(Duration::from_secs(300));
            (JobState::Pending, backoff, job.attempts)
        }
    };
    let now = Utc::now();
    let _gate = state.store().write_lock().await;
    oj::Entity::update_many()
        .col_expr(oj::Column::State, Expr::value(next_state.as_str()))
        .col_expr(oj::Column::Attempts, Expr::value(attempts))
        .col_expr(
            oj::Column::NextAttemptAt,
            Expr::value(now + chrono::Duration::from_std(delay).unwrap_or_default()),
        )
        .col_expr(
            oj::Column::LeaseUntil,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .col_expr(oj::Column::LeaseOwner, Expr::value(Option::<String>::None))
        .col_expr(oj::Column::LastError, Expr::value(error.to_string()))
        .col_expr(oj::Column::UpdatedAt, Expr::value(now))
        .filter(oj::Column::Id.eq(&job.id))
        .filter(oj::Column::LeaseOwner.eq(job.lease_owner.clone().unwrap_or_default()))
        .exec(state.store().db())
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
    }
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

/// Claims, runs and records one job. Returns false when none was due.
pub async fn work_one(state: &AppState, owner: &str, locks: &TicketLocks) -> bool {
    let job = match claim(state, owner).await {
        Ok(Some(j)) => j,
        Ok(None) => return false,
        Err(e) => {
            tracing::error!(error = %e, "cannot read the outbox");
            return false;
        }
    };
    let started = Instant::now();
    // One action per finding at a time in this process: two moves of one ticket would race.
    let lock = locks.lock_for(&job.tenant_id, job.finding_id.as_deref().unwrap_or(&job.id));
    let _held = lock.lock().await;
    let result = run(state, &job).await;
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
    true
}

/// Runs `count` outbox workers until `stop` flips to true.
pub fn spawn(
    state: AppState,
    count: usize,
    stop: tokio::sync::watch::Receiver<bool>,
) -> Vec<tokio::task::JoinHandle<()>> {
    let locks = TicketLocks::default();
    let wake = state.outbox_wake();
    (0..count)
        .map(|n| {
            let state = state.clone();
            let locks = locks.clone();
            let wake = wake.clone();
            let mut stop = stop.clone();
            let owner = format!("{}-o{n}", uuid::Uuid::new_v4().simple());
            tokio::spawn(async move {
                loop {
                    if *stop.borrow() {
                        break;
                    }
                    let notified = wake.notified();
                    tokio::pin!(notified);
                    notified.as_mut().enable();
                    if work_one(&state, &owner, &locks).await {
                        continue;
                    }
                    tokio::select! {
                        _ = notified => {}
                        _ = tokio::time::sleep(POLL) => {}
                        _ = stop.changed() => {}
                    }
                }
            })
        })
        .collect()
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
    let Some(job) = oj::Entity::find_by_id(job_id)
        .filter(oj::Column::TenantId.eq(tenant_id))
        .one(state.store().db())
        .await?
    else {
        return Ok(None);
    };
    if job.state != JobState::Failed.as_str() {
        return Ok(Some(false));
    }
    let now = Utc::now();
    let _gate = state.store().write_lock().await;
    let res = oj::Entity::update_many()
        .col_expr(oj::Column::State, Expr::value("pending"))
        .col_expr(oj::Column::Attempts, Expr::value(0))
        .col_expr(oj::Column::NextAttemptAt, Expr::value(now))
        .col_expr(oj::Column::UpdatedAt, Expr::value(now))
        .filter(oj::Column::Id.eq(job_id))
        .filter(oj::Column::State.eq("failed"))
        .exec(state.store().db())
        .await?;
    drop(_gate);
    state.outbox_wake().notify_waiters();
    Ok(Some(res.rows_affected == 1))
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
    oj::Entity::find()
        .filter(oj::Column::State.is_in(["pending", "processing"]))
        .count(state.store().db())
        .await
}
