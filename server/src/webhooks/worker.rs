//! Inbox workers: take stored deliveries from the database under a lease, hand them to the
//! closure pipeline, and record the outcome. A crashed worker's lease runs out and another
//! takes the delivery; the pipeline commits its effects and the delivery's `done` together,
//! so nothing is lost and nothing is applied twice, across replicas too.

use std::time::{Duration, Instant};

use chrono::Utc;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use crate::queue::{Claimed, Release, TicketLocks, WorkerPool};

use crate::state::AppState;
use crate::store::entities::webhook_deliveries as wd;
use crate::triage::{self, TriageError};

/// After this many failed attempts a delivery is dead-lettered (`failed`).
pub const MAX_ATTEMPTS: i32 = 10;
/// How long a delivery waiting for credentials (a Forge tenant between system tokens) waits
/// before it is tried again.
pub const WAIT_FOR_CREDENTIALS: Duration = Duration::from_secs(30);
/// How often idle workers look for deliveries nobody announced (other replicas, expired leases).
const POLL: Duration = Duration::from_millis(500);

/// Gives a delivery back after a failure that may pass (Jira down, rate limited): it is
/// retried with backoff, and dead-lettered after [`MAX_ATTEMPTS`].
async fn release(
    state: &AppState,
    claim: &Claimed,
    d: &wd::Model,
    error: &TriageError,
) -> Result<(), sea_orm::DbErr> {
    // Not the delivery's fault and soon over (no credentials this moment, no free rule
    // instance): the same attempt again a little later.
    let wait = match error {
        TriageError::Waiting(_) => Some(WAIT_FOR_CREDENTIALS),
        TriageError::RuleUnavailable(e) if e.is_busy() => Some(crate::sync::RULE_BUSY_WAIT),
        _ => None,
    };
    if let Some(wait) = wait {
        state
            .inbox_queue()
            .release(
                claim,
                Release::Retry {
                    at: Utc::now() + chrono::Duration::from_std(wait).unwrap_or_default(),
                    attempts: Some(d.attempts - 1),
                },
                &format!("waiting: {error}"),
            )
            .await?;
        tracing::info!(delivery = %d.id, tenant = %d.tenant_id, retry_in = ?wait, error = %error, "webhook delivery waits");
        return Ok(());
    }
    let dead = d.attempts >= MAX_ATTEMPTS || !error.is_retryable();
    let backoff = Duration::from_secs(2u64.saturating_pow(d.attempts.clamp(0, 9) as u32))
        .min(Duration::from_secs(300));
    let release = if dead {
        Release::Dead
    } else {
        Release::Retry {
            at: Utc::now() + chrono::Duration::from_std(backoff).unwrap_or_default(),
            attempts: None,
        }
    };
    state
        .inbox_queue()
        .release(claim, release, &format!("error: {error}"))
        .await?;
    if dead {
        tracing::error!(delivery = %d.id, tenant = %d.tenant_id, attempts = d.attempts, error = %error, "webhook delivery dead-lettered");
    } else {
        tracing::warn!(delivery = %d.id, tenant = %d.tenant_id, attempts = d.attempts, retry_in = ?backoff, error = %error, "webhook delivery will be retried");
    }
    Ok(())
}

/// Processes one claimed delivery to its end state.
pub async fn handle(state: &AppState, locks: &TicketLocks, claim: Claimed) {
    let started = Instant::now();
    let d = match wd::Entity::find_by_id(&claim.id)
        .one(state.store().db())
        .await
    {
        Ok(Some(d)) if d.lease_owner.as_deref() == Some(claim.owner.as_str()) => d,
        Ok(_) => return,
        Err(e) => {
            tracing::error!(delivery = %claim.id, error = %e, "cannot read a claimed delivery; its lease will expire");
            return;
        }
    };
    let issue = triage::issue_id_of(&d.body).unwrap_or_default();
    let lock = locks.lock_for(&d.tenant_id, &issue);
    let _held = lock.lock().await;
    match triage::process(state, &d).await {
        Ok(outcome) => {
            state
                .metrics()
                .webhook_processed(outcome.kind(), started.elapsed());
            tracing::debug!(delivery = %d.id, outcome = %outcome, "webhook delivery processed");
        }
        Err(e) => {
            state
                .metrics()
                .webhook_processed("error", started.elapsed());
            if let Err(db) = release(state, &claim, &d, &e).await {
                tracing::error!(delivery = %d.id, error = %db, "cannot release a failed delivery; its lease will expire");
            }
        }
    }
}

/// Runs the inbox workers (`inbox_workers` at once) until `stop` flips to true.
pub fn spawn(
    state: AppState,
    stop: tokio::sync::watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    let locks = TicketLocks::default();
    let config = state.config();
    let pool = WorkerPool::new(
        config.inbox_workers,
        config.queue_claim_batch,
        config.inbox_lease_secs,
        POLL,
    );
    let queue = state.inbox_queue().clone();
    crate::queue::spawn_workers(queue, pool, stop, move |claim| {
        let state = state.clone();
        let locks = locks.clone();
        async move { handle(&state, &locks, claim).await }
    })
}

/// Deliveries waiting (pending, or processing under a lease), for metrics and the admin.
pub async fn depth(state: &AppState) -> Result<u64, sea_orm::DbErr> {
    Ok(state.inbox_queue().depth().await?.waiting)
}

/// A dead-lettered delivery, as the admin sees it.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct FailedDelivery {
    pub id: String,
    pub event: String,
    pub received_at: chrono::DateTime<Utc>,
    pub attempts: i32,
    /// The last error.
    pub error: Option<String>,
}

/// The tenant's dead-lettered deliveries, newest first, and how many there are.
pub async fn failed(
    state: &AppState,
    tenant: &str,
    limit: u64,
) -> Result<(u64, Vec<FailedDelivery>), sea_orm::DbErr> {
    listed(state, tenant, limit, false).await
}

/// The tenant's deliveries waiting to be tried again because something they need could not be
/// had — the tenant's rule could not decide, no credentials this moment — newest first, with
/// why, and how many there are.
pub async fn waiting(
    state: &AppState,
    tenant: &str,
    limit: u64,
) -> Result<(u64, Vec<FailedDelivery>), sea_orm::DbErr> {
    listed(state, tenant, limit, true).await
}

async fn listed(
    state: &AppState,
    tenant: &str,
    limit: u64,
    waiting: bool,
) -> Result<(u64, Vec<FailedDelivery>), sea_orm::DbErr> {
    use sea_orm::PaginatorTrait as _;
    let base = wd::Entity::find().filter(wd::Column::TenantId.eq(tenant));
    let base = if waiting {
        // Every reason a delivery waits reads "waiting" (see `release` and `TriageError`).
        base.filter(wd::Column::State.eq("pending"))
            .filter(wd::Column::Outcome.contains("waiting"))
    } else {
        base.filter(wd::Column::State.eq("failed"))
    };
    let total = base.clone().count(state.store().db()).await?;
    let rows = base
        .select_only()
        .columns([
            wd::Column::Id,
            wd::Column::Event,
            wd::Column::ReceivedAt,
            wd::Column::Attempts,
            wd::Column::Outcome,
        ])
        .order_by_desc(wd::Column::ReceivedAt)
        .limit(limit)
        .into_tuple::<(String, String, chrono::DateTime<Utc>, i32, Option<String>)>()
        .all(state.store().db())
        .await?;
    Ok((
        total,
        rows.into_iter()
            .map(|(id, event, received_at, attempts, error)| FailedDelivery {
                id,
                event,
                received_at,
                attempts,
                error,
            })
            .collect(),
    ))
}

/// Puts a dead-lettered delivery back in the inbox with fresh attempts. `None` when the
/// tenant has no such delivery; `Some(false)` when it is not failed.
pub async fn retry(
    state: &AppState,
    tenant: &str,
    id: &str,
) -> Result<Option<bool>, sea_orm::DbErr> {
    state.inbox_queue().requeue_failed(tenant, id).await
}

/// The tenant's deliveries waiting (pending, or processing under a lease).
pub async fn tenant_depth(state: &AppState, tenant: &str) -> Result<u64, sea_orm::DbErr> {
    use sea_orm::PaginatorTrait as _;
    wd::Entity::find()
        .filter(wd::Column::TenantId.eq(tenant))
        .filter(wd::Column::State.is_in(["pending", "processing"]))
        .count(state.store().db())
        .await
}
