//! Leased work queues kept in database tables — the webhook inbox and the Jira outbox share
//! this one claim / lease / retry / dead-letter mechanism and its metrics.
//!
//! A row is claimable while its state is `pending` or `processing` and its due time has
//! passed (a retry's backoff is over, or a crashed worker's lease ran out). Claims are fair
//! between tenants: one claim first finds the tenants with due rows (a skip scan, one index
//! seek per tenant, starting after the tenant the previous claim ended with), then takes an
//! equal share of the batch from each, oldest first. Each table has a partial index on
//! `(tenant_id, due, id)` over exactly the waiting states, and every query repeats that
//! predicate, so a claim costs the same with ten rows waiting or a million, and a
//! tenant's storm of deliveries delays another tenant by one share of one batch, not by the
//! storm. The claim reads ids only; PostgreSQL replicas skip each other's locked rows
//! (`FOR UPDATE SKIP LOCKED`), SQLite writers queue on the store's gate.

pub mod retention;
mod workers;

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use sea_orm::sea_query::{Alias, Expr, Query};
use sea_orm::{ConnectionTrait, DatabaseBackend, DbErr, Statement, Value};

use crate::store::Store;

pub use workers::{TicketLocks, WorkerPool, spawn_workers};

/// The columns a queue table has besides `id`, `tenant_id`, `state`, `attempts`,
/// `lease_until`, `lease_owner` and `outcome`, which every queue table has.
#[derive(Debug)]
pub struct QueueSpec {
    /// Label in metrics and logs.
    pub name: &'static str,
    pub table: &'static str,
    /// When a waiting row may be claimed; while leased, when the lease ends.
    pub due: &'static str,
    /// Where a failed attempt's error is written.
    pub error: &'static str,
    /// Stamped when the row finishes (and, for the outbox, on every change).
    pub finished: &'static str,
    /// Whether `finished` is also stamped on every claim and release.
    pub stamp_every_change: bool,
    /// Whether `due` is cleared when a row leaves the queue (finished or dead-lettered).
    pub due_nullable: bool,
}

/// Verified webhook deliveries waiting for the closure pipeline.
pub const INBOX: QueueSpec = QueueSpec {
    name: "inbox",
    table: "webhook_deliveries",
    due: "due_at",
    error: "outcome",
    finished: "processed_at",
    stamp_every_change: false,
    due_nullable: true,
};

/// Outbound Jira actions.
pub const OUTBOX: QueueSpec = QueueSpec {
    name: "outbox",
    table: "outbox_jobs",
    due: "next_attempt_at",
    error: "last_error",
    finished: "updated_at",
    stamp_every_change: true,
    due_nullable: false,
};

/// Most tenants one claim serves (SQLite allows 500 terms in one compound SELECT); with more
/// waiting, the next claim serves the next ones.
pub const MAX_TENANTS_PER_CLAIM: usize = 200;

/// States a claim can take a row from (the partial index's predicate).
pub const WAITING: [&str; 2] = ["pending", "processing"];

/// A row this worker holds under a lease.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claimed {
    pub id: String,
    /// Attempts including this one.
    pub attempts: i32,
    /// Unique per claim: a finish or release only applies while it still matches.
    pub owner: String,
}

impl Claimed {
    /// The claim a worker holds on a row it read back (its lease owner is the claim's).
    pub fn of_row(id: &str, attempts: i32, lease_owner: Option<&str>) -> Self {
        Self {
            id: id.to_owned(),
            attempts,
            owner: lease_owner.unwrap_or_default().to_owned(),
        }
    }
}

/// What happens to a claimed row whose attempt failed.
#[derive(Debug, Clone, Copy)]
pub enum Release {
    /// Claimable again at `at`; `attempts` replaces the count (a rate-limit pause gives the
    /// attempt back).
    Retry {
        at: DateTime<Utc>,
        attempts: Option<i32>,
    },
    /// Dead-lettered (`failed`) until an admin retries it.
    Dead,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct QueueLabel {
    queue: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TenantQueueLabel {
    queue: &'static str,
    tenant: String,
}

/// Per-queue gauges and timings, registered in the app's metrics registry.
#[derive(Clone)]
pub struct QueueMetrics {
    depth: Family<QueueLabel, Gauge>,
    oldest_due: Family<QueueLabel, Gauge<f64, std::sync::atomic::AtomicU64>>,
    claim_seconds: Family<QueueLabel, Histogram>,
    claimed: Family<QueueLabel, Counter>,
    tenant_depth: Family<TenantQueueLabel, Gauge>,
    tenant_oldest_due: Family<TenantQueueLabel, Gauge<f64, std::sync::atomic::AtomicU64>>,
    /// Tenants whose gauges were set last time, per queue: a tenant that drained is set to 0.
    reported: Arc<std::sync::Mutex<std::collections::HashMap<&'static str, Vec<String>>>>,
}

impl QueueMetrics {
    pub fn register(registry: &mut Registry) -> Self {
        let m = Self {
            depth: Family::default(),
            oldest_due: Family::default(),
            claim_seconds: Family::new_with_constructor(|| {
                // 50 µs … ~0.8 s
                Histogram::new(exponential_buckets(0.000_05, 2.0, 15))
            }),
            claimed: Family::default(),
            tenant_depth: Family::default(),
            tenant_oldest_due: Family::default(),
            reported: Arc::default(),
        };
        registry.register(
            "queue_depth",
            "Rows waiting in a queue (pending, or leased by a worker), by queue",
            m.depth.clone(),
        );
        registry.register(
            "queue_oldest_due_seconds",
            "How long the longest-waiting claimable row has been due, by queue (0 when none)",
            m.oldest_due.clone(),
        );
        registry.register(
            "queue_claim_seconds",
            "Latency of one batch claim (one database round-trip), by queue",
            m.claim_seconds.clone(),
        );
        registry.register(
            "queue_claimed",
            "Rows claimed by workers, by queue",
            m.claimed.clone(),
        );
        registry.register(
            "queue_tenant_depth",
            "Rows waiting in a queue for one tenant (pending, or leased by a worker), by queue and tenant",
            m.tenant_depth.clone(),
        );
        registry.register(
            "queue_tenant_oldest_due_seconds",
            "How long one tenant's longest-waiting row has been due, by queue and tenant (0 when none)",
            m.tenant_oldest_due.clone(),
        );
        m
    }

    /// Sets the per-tenant gauges of `queue` to `now` (tenant, waiting, oldest due); tenants
    /// reported before and absent now go to 0.
    fn set_tenants(&self, queue: &'static str, now: &[(String, i64, Duration)]) {
        let mut reported = self.reported.lock().unwrap_or_else(|p| p.into_inner());
        let before = reported.entry(queue).or_default();
        let label = |tenant: &str| TenantQueueLabel {
            queue,
            tenant: tenant.to_owned(),
        };
        for gone in before.iter().filter(|t| !now.iter().any(|(n, ..)| n == *t)) {
            self.tenant_depth.get_or_create(&label(gone)).set(0);
            self.tenant_oldest_due.get_or_create(&label(gone)).set(0.0);
        }
        for (tenant, waiting, oldest) in now {
            self.tenant_depth
                .get_or_create(&label(tenant))
                .set(*waiting);
            self.tenant_oldest_due
                .get_or_create(&label(tenant))
                .set(oldest.as_secs_f64());
        }
        *before = now.iter().map(|(t, ..)| t.clone()).collect();
    }
}

impl Default for QueueMetrics {
    fn default() -> Self {
        Self::register(&mut Registry::default())
    }
}

/// One queue table plus what wakes its workers.
#[derive(Clone)]
pub struct Queue {
    spec: &'static QueueSpec,
    store: Store,
    wake: Arc<tokio::sync::Notify>,
    metrics: QueueMetrics,
    finisher: tokio::sync::mpsc::Sender<Finish>,
    /// The tenant the last claim of this process ended with: the next one starts after it.
    turn: Arc<std::sync::Mutex<String>>,
}

type FinishReply = tokio::sync::oneshot::Sender<Result<bool, String>>;

/// A finish with no other effect to commit with it, waiting for the next group commit.
struct Finish {
    claim: Claimed,
    state: &'static str,
    outcome: String,
    reply: FinishReply,
}

/// Most finishes one group commit takes.
const FINISH_BATCH: usize = 256;

/// Commits every finish waiting at that moment in one transaction (behind SQLite's gate), so a
/// storm of deliveries that need nothing but "ignored" costs one commit per batch, not per row.
fn start_finisher(spec: &'static QueueSpec, store: Store) -> tokio::sync::mpsc::Sender<Finish> {
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Finish>(4 * FINISH_BATCH);
    tokio::spawn(async move {
        use sea_orm::TransactionTrait as _;
        while let Some(first) = rx.recv().await {
            let mut batch = vec![first];
            while batch.len() < FINISH_BATCH {
                match rx.try_recv() {
                    Ok(f) => batch.push(f),
                    Err(_) => break,
                }
            }
            let result = async {
                let _gate = store.write_lock().await;
                let txn = store.db().begin().await?;
                let mut held = Vec::with_capacity(batch.len());
                for f in &batch {
                    held.push(Queue::finish_in(spec, &txn, &f.claim, f.state, &f.outcome).await?);
                }
                txn.commit().await?;
                Ok::<_, DbErr>(held)
            }
            .await;
            match result {
                Ok(held) => {
                    for (f, h) in batch.into_iter().zip(held) {
                        let _ = f.reply.send(Ok(h));
                    }
                }
                Err(e) => {
                    tracing::warn!(queue = spec.name, error = %e, size = batch.len(), "group finish failed; the rows stay leased and are taken again");
                    for f in batch {
                        let _ = f.reply.send(Err(e.to_string()));
                    }
                }
            }
        }
    });
    tx
}

/// The depth of a queue at one moment.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Depth {
    pub waiting: u64,
    /// How long the first row in claim order has been due (zero when nothing is due).
    pub oldest_due: Duration,
}

fn placeholder(backend: DatabaseBackend, n: usize) -> String {
    match backend {
        DatabaseBackend::Postgres => format!("${n}"),
        _ => format!("?{n}"),
    }
}

impl Queue {
    /// Needs a Tokio runtime: it starts the queue's group-finish task.
    pub fn new(spec: &'static QueueSpec, store: Store, metrics: QueueMetrics) -> Self {
        Self {
            spec,
            finisher: start_finisher(spec, store.clone()),
            store,
            wake: Arc::new(tokio::sync::Notify::new()),
            metrics,
            turn: Arc::default(),
        }
    }

    /// Marks a claimed row finished when nothing else needs to commit with it, in a group
    /// commit with the other finishes waiting. Returns false when the claim lost the row.
    pub async fn finish(
        &self,
        claim: &Claimed,
        state: &'static str,
        outcome: String,
    ) -> Result<bool, DbErr> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let stopped = || DbErr::Custom("the queue's finisher stopped".into());
        self.finisher
            .send(Finish {
                claim: claim.clone(),
                state,
                outcome,
                reply,
            })
            .await
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?.map_err(DbErr::Custom)
    }

    pub fn spec(&self) -> &'static QueueSpec {
        self.spec
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Tells this process's idle workers there is something new (other replicas find it by
    /// polling).
    pub fn wake(&self) {
        self.wake.notify_waiters();
    }

    pub(crate) fn wake_handle(&self) -> Arc<tokio::sync::Notify> {
        self.wake.clone()
    }

    /// Claims up to `max` due rows for a new owner, leasing them for `lease`: an equal share
    /// from each tenant with due rows (oldest first within a tenant), tenants taken in turn.
    pub async fn claim(
        &self,
        owner: &str,
        max: usize,
        lease: Duration,
    ) -> Result<Vec<Claimed>, DbErr> {
        if max == 0 {
            return Ok(Vec::new());
        }
        let max = max.min(10_000);
        let started = Instant::now();
        let db = self.store.db();
        let backend = db.get_database_backend();
        let now = Utc::now();
        let until = now + chrono::Duration::from_std(lease).unwrap_or_default();
        let most_tenants = max.min(MAX_TENANTS_PER_CLAIM);
        let tenants = self.due_tenants(now, most_tenants).await?;
        if tenants.is_empty() {
            self.observe_claim(started, 0);
            return Ok(Vec::new());
        }
        let share = max.div_ceil(tenants.len());
        let p = |n| placeholder(backend, n);
        let QueueSpec {
            table,
            due,
            finished,
            ..
        } = self.spec;
        let stamp = if self.spec.stamp_every_change {
            format!(", {finished} = {}", p(3))
        } else {
            String::new()
        };
        let lock = match backend {
            DatabaseBackend::Postgres => " FOR UPDATE SKIP LOCKED",
            _ => "",
        };
        // One oldest-first slice per tenant, each served by the (tenant_id, due, id) index.
        let slices = (0..tenants.len())
            .map(|i| {
                let share = share_sql(self.spec, &p(6 + i), &p(3), &p(5));
                format!("SELECT id FROM ({share}{lock}) AS s{i}")
            })
            .collect::<Vec<_>>()
            .join(" UNION ALL ");
        let sql = format!(
            "UPDATE {table} SET state = 'processing', lease_owner = {p1}, lease_until = {p2}, \
             {due} = {p2}, attempts = attempts + 1{stamp} \
             WHERE id IN (SELECT id FROM ({slices}) AS shares LIMIT {p4}) \
             RETURNING id, attempts",
            p1 = p(1),
            p2 = p(2),
            p4 = p(4),
        );
        let mut values: Vec<Value> = vec![
            owner.into(),
            until.into(),
            now.into(),
            (max as i64).into(),
            (share as i64).into(),
        ];
        values.extend(tenants.iter().map(|t| Value::from(t.as_str())));
        let rows = {
            let _gate = self.store.write_lock().await;
            db.query_all(Statement::from_sql_and_values(backend, sql, values))
                .await?
        };
        if tenants.len() == most_tenants {
            // More tenants are waiting than one batch has places: the next claim starts
            // after the last one served.
            *self.turn.lock().unwrap_or_else(|p| p.into_inner()) =
                tenants.last().cloned().unwrap_or_default();
        }
        let mut claimed = rows
            .into_iter()
            .map(|r| {
                Ok(Claimed {
                    id: r.try_get::<String>("", "id")?,
                    attempts: r.try_get::<i32>("", "attempts")?,
                    owner: owner.to_owned(),
                })
            })
            .collect::<Result<Vec<_>, DbErr>>()?;
        // RETURNING gives no order; ids are time-ordered UUIDv7s, which is close to due order.
        claimed.sort_by(|a, b| a.id.cmp(&b.id));
        self.observe_claim(started, claimed.len());
        Ok(claimed)
    }

    fn observe_claim(&self, started: Instant, claimed: usize) {
        let label = QueueLabel {
            queue: self.spec.name,
        };
        self.metrics
            .claim_seconds
            .get_or_create(&label)
            .observe(started.elapsed().as_secs_f64());
        self.metrics
            .claimed
            .get_or_create(&label)
            .inc_by(claimed as u64);
    }

    /// Up to `max` tenants with rows due at `now`, in turn: those after the tenant the last
    /// claim ended with, then from the start. A skip scan: one index seek per tenant found,
    /// whatever each tenant's backlog.
    async fn due_tenants(&self, now: DateTime<Utc>, max: usize) -> Result<Vec<String>, DbErr> {
        let after = self.turn.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let mut tenants = self.due_tenants_after(now, &after, max).await?;
        if tenants.len() < max && !after.is_empty() {
            for t in self.due_tenants_after(now, "", max).await? {
                if tenants.len() == max || t > after {
                    break;
                }
                tenants.push(t);
            }
        }
        Ok(tenants)
    }

    async fn due_tenants_after(
        &self,
        now: DateTime<Utc>,
        after: &str,
        max: usize,
    ) -> Result<Vec<String>, DbErr> {
        let db = self.store.db();
        let backend = db.get_database_backend();
        let sql = tenant_scan_sql(self.spec, backend);
        let values: Vec<Value> = vec![now.into(), after.into(), (max as i64).into()];
        db.query_all(Statement::from_sql_and_values(backend, sql, values))
            .await?
            .iter()
            .map(|r| r.try_get::<String>("", "tenant"))
            .collect()
    }

    /// Gives a claimed row back after a failed attempt, only while `claim` still holds it.
    /// Returns false when the lease was lost meanwhile.
    pub async fn release(
        &self,
        claim: &Claimed,
        release: Release,
        error: &str,
    ) -> Result<bool, DbErr> {
        let t = Alias::new(self.spec.table);
        let now = Utc::now();
        let mut q = Query::update();
        q.table(t)
            .value(Alias::new(self.spec.error), error)
            .value(Alias::new("lease_owner"), Option::<String>::None)
            .value(Alias::new("lease_until"), Option::<DateTime<Utc>>::None);
        match release {
            Release::Retry { at, attempts } => {
                q.value(Alias::new("state"), "pending")
                    .value(Alias::new(self.spec.due), at);
                if let Some(a) = attempts {
                    q.value(Alias::new("attempts"), a);
                }
            }
            Release::Dead => {
                q.value(Alias::new("state"), "failed");
                if self.spec.due_nullable {
                    q.value(Alias::new(self.spec.due), Option::<DateTime<Utc>>::None);
                }
            }
        }
        if self.spec.stamp_every_change {
            q.value(Alias::new(self.spec.finished), now);
        }
        q.and_where(Expr::col(Alias::new("id")).eq(claim.id.as_str()))
            .and_where(Expr::col(Alias::new("lease_owner")).eq(claim.owner.as_str()));
        let db = self.store.db();
        let _gate = self.store.write_lock().await;
        let res = db.execute(db.get_database_backend().build(&q)).await?;
        Ok(res.rows_affected() == 1)
    }

    /// Marks a claimed row finished (`state` is the table's end state, e.g. `done`) inside
    /// `db` — the caller's transaction when the row's effects commit with it. Returns false
    /// when this claim no longer holds the row.
    pub async fn finish_in<C: ConnectionTrait>(
        spec: &QueueSpec,
        db: &C,
        claim: &Claimed,
        state: &str,
        outcome: &str,
    ) -> Result<bool, DbErr> {
        let mut q = Query::update();
        q.table(Alias::new(spec.table))
            .value(Alias::new("state"), state)
            .value(Alias::new("outcome"), outcome)
            .value(Alias::new(spec.finished), Utc::now())
            .value(Alias::new("lease_until"), Option::<DateTime<Utc>>::None);
        if spec.due_nullable {
            q.value(Alias::new(spec.due), Option::<DateTime<Utc>>::None);
        }
        q.and_where(Expr::col(Alias::new("id")).eq(claim.id.as_str()))
            .and_where(Expr::col(Alias::new("state")).eq("processing"))
            .and_where(Expr::col(Alias::new("lease_owner")).eq(claim.owner.as_str()));
        let res = db.execute(db.get_database_backend().build(&q)).await?;
        Ok(res.rows_affected() == 1)
    }

    /// Puts a dead-lettered row of `tenant` back with fresh attempts, due now. `None` when
    /// the tenant has no such row; `Some(false)` when it is not dead-lettered.
    pub async fn requeue_failed(&self, tenant: &str, id: &str) -> Result<Option<bool>, DbErr> {
        let db = self.store.db();
        let backend = db.get_database_backend();
        let t = Alias::new(self.spec.table);
        let found = db
            .query_one(
                backend.build(
                    Query::select()
                        .column(Alias::new("state"))
                        .from(t.clone())
                        .and_where(Expr::col(Alias::new("id")).eq(id))
                        .and_where(Expr::col(Alias::new("tenant_id")).eq(tenant)),
                ),
            )
            .await?;
        let Some(row) = found else {
            return Ok(None);
        };
        if row.try_get::<String>("", "state")? != "failed" {
            return Ok(Some(false));
        }
        let now = Utc::now();
        let mut q = Query::update();
        q.table(t)
            .value(Alias::new("state"), "pending")
            .value(Alias::new("attempts"), 0)
            .value(Alias::new(self.spec.due), now)
            .value(Alias::new("lease_until"), Option::<DateTime<Utc>>::None)
            .value(Alias::new("lease_owner"), Option::<String>::None)
            .and_where(Expr::col(Alias::new("id")).eq(id))
            .and_where(Expr::col(Alias::new("tenant_id")).eq(tenant))
            .and_where(Expr::col(Alias::new("state")).eq("failed"));
        if self.spec.stamp_every_change {
            q.value(Alias::new(self.spec.finished), now);
        }
        let res = {
            let _gate = self.store.write_lock().await;
            db.execute(backend.build(&q)).await?
        };
        self.wake();
        Ok(Some(res.rows_affected() == 1))
    }

    /// Makes every pending row of `tenant` that waits for a later time due now (credentials
    /// came back: what waited for them need not wait out its pause). Returns how many.
    pub async fn resume_tenant(&self, tenant: &str) -> Result<u64, DbErr> {
        let db = self.store.db();
        let backend = db.get_database_backend();
        let now = Utc::now();
        let due = Alias::new(self.spec.due);
        let mut q = Query::update();
        q.table(Alias::new(self.spec.table))
            .value(due.clone(), now)
            .and_where(Expr::col(Alias::new("tenant_id")).eq(tenant))
            .and_where(Expr::col(Alias::new("state")).eq("pending"))
            .and_where(Expr::col(due).gt(now));
        let res = {
            let _gate = self.store.write_lock().await;
            db.execute(backend.build(&q)).await?
        };
        if res.rows_affected() > 0 {
            self.wake();
        }
        Ok(res.rows_affected())
    }

    /// Rows one tenant has waiting (pending, or leased by a worker).
    pub async fn waiting_for(&self, tenant: &str) -> Result<u64, DbErr> {
        let db = self.store.db();
        let backend = db.get_database_backend();
        let table = self.spec.table;
        let row = db
            .query_one(Statement::from_sql_and_values(
                backend,
                format!(
                    "SELECT COUNT(*) AS n FROM {table} \
                     WHERE tenant_id = {} AND state IN ('pending', 'processing')",
                    placeholder(backend, 1)
                ),
                [tenant.into()],
            ))
            .await?;
        Ok(row
            .map(|r| r.try_get::<i64>("", "n"))
            .transpose()?
            .unwrap_or(0)
            .max(0) as u64)
    }

    /// Rows waiting and how long the head of the queue has been due; also sets the gauges,
    /// per queue and per tenant.
    pub async fn depth(&self) -> Result<Depth, DbErr> {
        let db = self.store.db();
        let backend = db.get_database_backend();
        let QueueSpec { table, due, .. } = self.spec;
        let now = Utc::now();
        let rows = db
            .query_all(Statement::from_string(
                backend,
                format!(
                    "SELECT tenant_id, COUNT(*) AS n, MIN({due}) AS head FROM {table} \
                     WHERE state IN ('pending', 'processing') GROUP BY tenant_id"
                ),
            ))
            .await?;
        let mut tenants = Vec::with_capacity(rows.len());
        for r in rows {
            let head = r.try_get::<Option<DateTime<Utc>>>("", "head")?;
            let waited = head
                .and_then(|t| (now - t).to_std().ok())
                .unwrap_or_default();
            tenants.push((
                r.try_get::<String>("", "tenant_id")?,
                r.try_get::<i64>("", "n")?,
                waited,
            ));
        }
        let count: i64 = tenants.iter().map(|(_, n, _)| n).sum();
        let oldest_due = tenants.iter().map(|(_, _, w)| *w).max().unwrap_or_default();
        let label = QueueLabel {
            queue: self.spec.name,
        };
        self.metrics.depth.get_or_create(&label).set(count);
        self.metrics
            .oldest_due
            .get_or_create(&label)
            .set(oldest_due.as_secs_f64());
        self.metrics.set_tenants(self.spec.name, &tenants);
        Ok(Depth {
            waiting: count.max(0) as u64,
            oldest_due,
        })
    }

    /// The claim's query plans as the database explains them (the tenant scan, then one
    /// tenant's share), for tests and checks that the partial index serves both.
    pub async fn explain_claim(&self) -> Result<String, DbErr> {
        let db = self.store.db();
        let backend = db.get_database_backend();
        let p = |n| placeholder(backend, n);
        let scan = tenant_scan_sql(self.spec, backend);
        let share = share_sql(self.spec, &p(2), &p(1), "32");
        let now = Value::from(Utc::now());
        let mut plans = Vec::new();
        for (select, values) in [
            (scan, vec![now.clone(), Value::from(""), Value::from(32i64)]),
            (share, vec![now, Value::from("")]),
        ] {
            let (sql, column) = match backend {
                DatabaseBackend::Postgres => (format!("EXPLAIN {select}"), "QUERY PLAN"),
                _ => (format!("EXPLAIN QUERY PLAN {select}"), "detail"),
            };
            let rows = db
                .query_all(Statement::from_sql_and_values(backend, sql, values))
                .await?;
            plans.extend(
                rows.iter()
                    .filter_map(|r| r.try_get::<String>("", column).ok()),
            );
        }
        Ok(plans.join("\n"))
    }
}

/// One tenant's due rows, oldest first, at most `limit`: what a claim takes from it.
fn share_sql(spec: &QueueSpec, tenant: &str, now: &str, limit: &str) -> String {
    let QueueSpec { table, due, .. } = spec;
    format!(
        "SELECT id FROM {table} WHERE tenant_id = {tenant} \
         AND state IN ('pending', 'processing') AND {due} <= {now} \
         ORDER BY tenant_id, {due}, id LIMIT {limit}"
    )
}

/// The tenants with due rows after `$2`, at most `$3`, at `$1`: a skip scan over the claim
/// index, two seeks per tenant (its id, its oldest due time: the tenant's first entry),
/// whatever the tenant's backlog or how much of it waits for a retry.
fn tenant_scan_sql(spec: &QueueSpec, backend: DatabaseBackend) -> String {
    let QueueSpec { table, due, .. } = spec;
    let p = |n| placeholder(backend, n);
    // The next tenant's first entry, and with it its oldest due time. A range on tenant_id
    // ordered by (tenant_id, due) can only be served by the claim index.
    let next = |column: &str, than: &str| {
        format!(
            "(SELECT {column} FROM {table} WHERE state IN ('pending', 'processing') \
             AND tenant_id > {than} ORDER BY tenant_id, {due} LIMIT 1)"
        )
    };
    format!(
        "WITH RECURSIVE turn(tenant, head) AS (SELECT {t0}, {h0} \
         UNION ALL SELECT {t1}, {h1} FROM turn WHERE turn.tenant IS NOT NULL) \
         SELECT tenant FROM turn WHERE tenant IS NOT NULL AND head <= {p1} LIMIT {p3}",
        t0 = next("tenant_id", &p(2)),
        h0 = next(due, &p(2)),
        t1 = next("tenant_id", "turn.tenant"),
        h1 = next(due, "turn.tenant"),
        p1 = p(1),
        p3 = p(3),
    )
}

/// True for errors a retried transaction may not hit again: PostgreSQL's deadlock
/// (`40P01`) and serialization failure (`40001`), SQLite's busy/locked.
pub fn is_transient_conflict(e: &DbErr) -> bool {
    let sqlx_err = match e {
        DbErr::Exec(sea_orm::RuntimeErr::SqlxError(e))
        | DbErr::Query(sea_orm::RuntimeErr::SqlxError(e))
        | DbErr::Conn(sea_orm::RuntimeErr::SqlxError(e)) => Some(e),
        _ => None,
    };
    if let Some(sqlx::Error::Database(d)) = sqlx_err
        && let Some(code) = d.code()
    {
        return matches!(code.as_ref(), "40P01" | "40001" | "5" | "6" | "517" | "262");
    }
    let text = e.to_string();
    text.contains("deadlock detected") || text.contains("could not serialize access")
}

#[cfg(test)]
mod tests {
    use sea_orm::{EntityTrait, Set};

    use super::*;
    use crate::store::entities::outbox_jobs;

    async fn outbox() -> (tempfile::TempDir, Queue) {
        let dir = tempfile::tempdir().unwrap();
        let config = crate::config::Config {
            database_url: crate::config::DatabaseUrl::new(format!(
                "sqlite://{}",
                dir.path().join("q.db").display()
            )),
            ..Default::default()
        };
        let db = crate::store::connect(&config).await.unwrap();
        crate::store::migrate(&db).await.unwrap();
        let queue = Queue::new(&OUTBOX, Store::new(db), QueueMetrics::default());
        (dir, queue)
    }

    /// `n` due jobs for each tenant, oldest first in the order given.
    async fn jobs(queue: &Queue, per_tenant: &[(&str, usize)]) {
        let now = Utc::now() - chrono::Duration::seconds(60);
        let mut rows = Vec::new();
        for (tenant, n) in per_tenant {
            for i in 0..*n {
                let at = now + chrono::Duration::milliseconds(i as i64);
                rows.push(outbox_jobs::ActiveModel {
                    id: Set(uuid::Uuid::now_v7().to_string()),
                    tenant_id: Set((*tenant).to_owned()),
                    kind: Set("comment".into()),
                    finding_id: Set(None),
                    bulk_id: Set(None),
                    payload: Set("{}".into()),
                    state: Set("pending".into()),
                    attempts: Set(0),
                    next_attempt_at: Set(at),
                    lease_until: Set(None),
                    lease_owner: Set(None),
                    last_error: Set(None),
                    outcome: Set(None),
                    created_at: Set(at),
                    updated_at: Set(at),
                });
            }
        }
        for chunk in rows.chunks(500) {
            outbox_jobs::Entity::insert_many(chunk.to_vec())
                .exec(queue.store().db())
                .await
                .unwrap();
        }
    }

    async fn tenants_of(queue: &Queue, claimed: &[Claimed]) -> Vec<String> {
        let mut out = Vec::new();
        for c in claimed {
            let row = outbox_jobs::Entity::find_by_id(&c.id)
                .one(queue.store().db())
                .await
                .unwrap()
                .unwrap();
            out.push(row.tenant_id);
        }
        out
    }

    #[tokio::test]
    async fn a_storm_shares_each_claim_with_the_tenant_behind_it() {
        let (_dir, queue) = outbox().await;
        // The storm is older than everything the quiet tenant has.
        jobs(&queue, &[("tenant-a", 2_000)]).await;
        jobs(&queue, &[("tenant-b", 3)]).await;
        let lease = Duration::from_secs(60);
        let first = queue.claim("w1", 8, lease).await.unwrap();
        let who = tenants_of(&queue, &first).await;
        assert_eq!(
            first.len(),
            7,
            "{who:?}: 4 of the storm, all 3 of the quiet tenant"
        );
        assert_eq!(
            who.iter().filter(|t| *t == "tenant-b").count(),
            3,
            "{who:?}"
        );
        // With the quiet tenant done, the storm gets whole batches again.
        let next = queue.claim("w2", 8, lease).await.unwrap();
        assert_eq!(tenants_of(&queue, &next).await, vec!["tenant-a"; 8]);

        let depth = queue.depth().await.unwrap();
        assert_eq!(depth.waiting, 2_003, "leased rows still count as waiting");
        assert!(depth.oldest_due >= Duration::from_secs(59), "{depth:?}");
    }

    #[tokio::test]
    async fn more_tenants_than_one_claim_serves_are_taken_in_turn() {
        let (_dir, queue) = outbox().await;
        let names: Vec<String> = (0..MAX_TENANTS_PER_CLAIM + 50)
            .map(|i| format!("tenant-{i:04}"))
            .collect();
        let per: Vec<(&str, usize)> = names.iter().map(|n| (n.as_str(), 2)).collect();
        jobs(&queue, &per).await;
        let lease = Duration::from_secs(60);
        let first = queue.claim("w1", 1000, lease).await.unwrap();
        let served = tenants_of(&queue, &first).await;
        let mut distinct = served.clone();
        distinct.dedup();
        assert_eq!(distinct.len(), MAX_TENANTS_PER_CLAIM);
        // The next claim starts after the last tenant served, then wraps to the start.
        let second = queue.claim("w2", 1000, lease).await.unwrap();
        let mut next = tenants_of(&queue, &second).await;
        next.sort();
        next.dedup();
        assert_eq!(next.len(), 50, "{next:?}");
        assert!(next.iter().all(|t| t > served.last().unwrap()), "{next:?}");
        let all = first.len() + second.len();
        assert_eq!(all, 2 * names.len(), "every row claimed once");
    }
}
