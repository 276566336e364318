//! Inbox workers: take stored deliveries from the database under a lease, hand them to the
//! closure pipeline, and record the outcome. A crashed worker's lease runs out and another
//! takes the delivery; the pipeline commits its effects and the delivery's `done` together,
//! so nothing is lost and nothing is applied twice, across replicas too.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::Utc;
use sea_orm::sea_query::{Condition, Expr};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use crate::state::AppState;
use crate::store::entities::webhook_deliveries as wd;
use crate::triage::{self, TriageError};

/// How long a claimed delivery stays ours before another worker may take it.
pub const LEASE: Duration = Duration::from_secs(60);
/// After this many failed attempts a delivery is dead-lettered (`failed`).
pub const MAX_ATTEMPTS: i32 = 10;
/// How often idle workers look for deliveries nobody announced (other replicas, expired leases).
const POLL: Duration = Duration::from_millis(500);

/// Per-ticket locks so two deliveries for one ticket are never processed at the same time in
/// this process (across replicas, the pipeline's ordering check decides).
type LockMap = HashMap<(String, String), Arc<tokio::sync::Mutex<()>>>;

#[derive(Default, Clone)]
pub struct TicketLocks(Arc<Mutex<LockMap>>);

impl TicketLocks {
    pub fn lock_for(&self, tenant: &str, issue: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut map = self.0.lock().expect("ticket locks");
        if map.len() > 10_000 {
            map.retain(|_, l| Arc::strong_count(l) > 1);
        }
        map.entry((tenant.to_owned(), issue.to_owned()))
            .or_default()
            .clone()
    }
}

fn claimable(now: chrono::DateTime<Utc>) -> Condition {
    Condition::all()
        .add(wd::Column::State.is_in(["pending", "processing"]))
        .add(
            Condition::any()
                .add(wd::Column::LeaseUntil.is_null())
                .add(wd::Column::LeaseUntil.lt(now)),
        )
}

/// Claims the oldest claimable delivery for `owner`.
pub async fn claim(state: &AppState, owner: &str) -> Result<Option<wd::Model>, sea_orm::DbErr> {
    let now = Utc::now();
    let candidates = wd::Entity::find()
        .filter(claimable(now))
        .order_by_asc(wd::Column::ReceivedAt)
        .order_by_asc(wd::Column::Id)
        .limit(8)
        .all(state.store().db())
        .await?;
    for c in candidates {
        let until = now + chrono::Duration::from_std(LEASE).unwrap_or_default();
        let _gate = state.store().write_lock().await;
        let res = wd::Entity::update_many()
            .col_expr(wd::Column::State, Expr::value("processing"))
            .col_expr(wd::Column::LeaseUntil, Expr::value(until))
            .col_expr(wd::Column::LeaseOwner, Expr::value(owner))
            .col_expr(wd::Column::Attempts, Expr::col(wd::Column::Attempts).add(1))
            .filter(wd::Column::Id.eq(&c.id))
            .filter(claimable(now))
            .exec(state.store().db())
            .await?;
        if res.rows_affected == 1 {
            return Ok(Some(wd::Model {
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

/// Gives a delivery back after a failure that may pass (Jira down, rate limited): it is
/// retried with backoff, and dead-lettered after [`MAX_ATTEMPTS`].
async fn release(
    state: &AppState,
    d: &wd::Model,
    error: &TriageError,
) -> Result<(), sea_orm::DbErr> {
    let dead = d.attempts >= MAX_ATTEMPTS || !error.is_retryable();
    let backoff = Duration::from_secs(2u64.saturating_pow(d.attempts.clamp(0, 9) as u32))
        .min(Duration::from_secs(300));
    let _gate = state.store().write_lock().await;
    wd::Entity::update_many()
        .col_expr(
            wd::Column::State,
            Expr::value(if dead { "failed" } else { "pending" }),
        )
        .col_expr(
            wd::Column::LeaseUntil,
            Expr::value(if dead {
                None
            } else {
                Some(Utc::now() + chrono::Duration::from_std(backoff).unwrap_or_default())
            }),
        )
        .col_expr(wd::Column::LeaseOwner, Expr::value(Option::<String>::None))
        .col_expr(wd::Column::Outcome, Expr::value(format!("error: {error}")))
        .filter(wd::Column::Id.eq(&d.id))
        .filter(wd::Column::LeaseOwner.eq(d.lease_owner.clone().unwrap_or_default()))
        .exec(state.store().db())
        .await?;
    if dead {
        tracing::error!(delivery = %d.id, tenant = %d.tenant_id, attempts = d.attempts, error = %error, "webhook delivery dead-lettered");
    } else {
        tracing::warn!(delivery = %d.id, tenant = %d.tenant_id, attempts = d.attempts, retry_in = ?backoff, error = %error, "webhook delivery will be retried");
    }
    Ok(())
}

/// Processes one claimed delivery to its end state.
pub async fn handle(state: &AppState, locks: &TicketLocks, d: wd::Model) {
    let started = Instant::now();
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
            if let Err(db) = release(state, &d, &e).await {
                tracing::error!(delivery = %d.id, error = %db, "cannot release a failed delivery; its lease will expire");
            }
        }
    }
}

/// Runs `count` workers until `stop` flips to true.
pub fn spawn(
    state: AppState,
    count: usize,
    stop: tokio::sync::watch::Receiver<bool>,
) -> Vec<tokio::task::JoinHandle<()>> {
    let locks = TicketLocks::default();
    let wake = state.inbox().stored();
    (0..count)
        .map(|n| {
            let state = state.clone();
            let locks = locks.clone();
            let wake = wake.clone();
            let mut stop = stop.clone();
            let owner = format!("{}-{n}", uuid::Uuid::new_v4().simple());
            tokio::spawn(async move {
                loop {
                    if *stop.borrow() {
                        break;
                    }
                    // Register interest before looking, so a batch stored meanwhile wakes us
                    // (`notify_waiters` only wakes futures already enabled).
                    let notified = wake.notified();
                    tokio::pin!(notified);
                    notified.as_mut().enable();
                    match claim(&state, &owner).await {
                        Ok(Some(d)) => {
                            handle(&state, &locks, d).await;
                            continue;
                        }
                        Ok(None) => {}
                        Err(e) => tracing::error!(error = %e, "cannot read the webhook inbox"),
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

/// Deliveries waiting (pending, or processing under a lease), for metrics and the admin.
pub async fn depth(state: &AppState) -> Result<u64, sea_orm::DbErr> {
    use sea_orm::PaginatorTrait as _;
    wd::Entity::find()
        .filter(wd::Column::State.is_in(["pending", "processing"]))
        .count(state.store().db())
        .await
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
    use sea_orm::PaginatorTrait as _;
    let base = wd::Entity::find()
        .filter(wd::Column::TenantId.eq(tenant))
        .filter(wd::Column::State.eq("failed"));
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
    let Some(d) = wd::Entity::find_by_id(id)
        .filter(wd::Column::TenantId.eq(tenant))
        .select_only()
        .column(wd::Column::State)
        .into_tuple::<String>()
        .one(state.store().db())
        .await?
    else {
        return Ok(None);
    };
    if d != "failed" {
        return Ok(Some(false));
    }
    let gate = state.store().write_lock().await;
    let res = wd::Entity::update_many()
        .col_expr(wd::Column::State, Expr::value("pending"))
        .col_expr(wd::Column::Attempts, Expr::value(0))
        .col_expr(
            wd::Column::LeaseUntil,
            Expr::value(Option::<chrono::DateTime<Utc>>::None),
        )
        .col_expr(wd::Column::LeaseOwner, Expr::value(Option::<String>::None))
        .filter(wd::Column::Id.eq(id))
        .filter(wd::Column::TenantId.eq(tenant))
        .filter(wd::Column::State.eq("failed"))
        .exec(state.store().db())
        .await?;
    drop(gate);
    state.inbox().stored().notify_waiters();
    Ok(Some(res.rows_affected == 1))
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
