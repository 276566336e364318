//! Leased work queues kept in database tables — the webhook inbox and the Jira outbox share
//! this one claim / lease / retry / dead-letter mechanism and its metrics.
//!
//! A row is claimable while its state is `pending` or `processing` and its due time has
//! passed (a retry's backoff is over, or a crashed worker's lease ran out). Each table has a
//! partial index on `(due, id)` over exactly those states, and the claim repeats that
//! predicate, so it walks the index in order and stops after one batch: it costs the same with
//! ten rows waiting or a million. The claim reads ids only; PostgreSQL replicas skip each
//! other's locked rows (`FOR UPDATE SKIP LOCKED`), SQLite writers queue on the store's gate.

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

/// Per-queue gauges and timings, registered in the app's metrics registry.
#[derive(Clone)]
pub struct QueueMetrics {
    depth: Family<QueueLabel, Gauge>,
    oldest_due: Family<QueueLabel, Gauge<f64, std::sync::atomic::AtomicU64>>,
    claim_seconds: Family<QueueLabel, Histogram>,
    claimed: Family<QueueLabel, Counter>,
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
        m
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

    /// Claims up to `max` due rows in due order for a new owner, leasing them for `lease`.
    pub async fn claim(
        &self,
        owner: &str,
        max: usize,
        lease: Duration,
    ) -> Result<Vec<Claimed>, DbErr> {
        if max == 0 {
            return Ok(Vec::new());
        }
        let started = Instant::now();
        let db = self.store.db();
        let backend = db.get_database_backend();
        let now = Utc::now();
        let until = now + chrono::Duration::from_std(lease).unwrap_or_default();
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
        let sql = format!(
            "UPDATE {table} SET state = 'processing', lease_owner = {p1}, lease_until = {p2}, \
             {due} = {p2}, attempts = attempts + 1{stamp} \
             WHERE id IN (SELECT id FROM {table} \
               WHERE state IN ('pending', 'processing') AND {due} <= {p3} \
               ORDER BY {due}, id LIMIT {p4}{lock}) \
             RETURNING id, attempts",
            p1 = p(1),
            p2 = p(2),
            p3 = p(3),
            p4 = p(4),
        );
        let values: Vec<Value> = vec![
            owner.into(),
            until.into(),
            now.into(),
            (max.min(10_000) as i64).into(),
        ];
        let rows = {
            let _gate = self.store.write_lock().await;
            db.query_all(Statement::from_sql_and_values(backend, sql, values))
                .await?
        };
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
            .inc_by(claimed.len() as u64);
        Ok(claimed)
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

    /// Rows waiting and how long the head of the queue has been due; also sets the gauges.
    pub async fn depth(&self) -> Result<Depth, DbErr> {
        let db = self.store.db();
        let backend = db.get_database_backend();
        let QueueSpec { table, due, .. } = self.spec;
        let count = db
            .query_one(Statement::from_string(
                backend,
                format!(
                    "SELECT COUNT(*) AS n FROM {table} WHERE state IN ('pending', 'processing')"
                ),
            ))
            .await?
            .map(|r| r.try_get::<i64>("", "n"))
            .transpose()?
            .unwrap_or(0);
        let head = db
            .query_one(Statement::from_string(
                backend,
                format!(
                    "SELECT {due} AS due FROM {table} WHERE state IN ('pending', 'processing') \
                     ORDER BY {due}, id LIMIT 1"
                ),
            ))
            .await?
            .map(|r| r.try_get::<Option<DateTime<Utc>>>("", "due"))
            .transpose()?
            .flatten();
        let oldest_due = head
            .and_then(|t| (Utc::now() - t).to_std().ok())
            .unwrap_or_default();
        let label = QueueLabel {
            queue: self.spec.name,
        };
        self.metrics.depth.get_or_create(&label).set(count);
        self.metrics
            .oldest_due
            .get_or_create(&label)
            .set(oldest_due.as_secs_f64());
        Ok(Depth {
            waiting: count.max(0) as u64,
            oldest_due,
        })
    }

    /// The claim's query plan as the database explains it, for tests and `verdict doctor`-style
    /// checks that the partial index serves it.
    pub async fn explain_claim(&self) -> Result<String, DbErr> {
        let db = self.store.db();
        let backend = db.get_database_backend();
        let QueueSpec { table, due, .. } = self.spec;
        let select = format!(
            "SELECT id FROM {table} WHERE state IN ('pending', 'processing') AND {due} <= {} \
             ORDER BY {due}, id LIMIT 32",
            placeholder(backend, 1)
        );
        let (sql, column) = match backend {
            DatabaseBackend::Postgres => (format!("EXPLAIN {select}"), "QUERY PLAN"),
            _ => (format!("EXPLAIN QUERY PLAN {select}"), "detail"),
        };
        let rows = db
            .query_all(Statement::from_sql_and_values(
                backend,
                sql,
                [Value::from(Utc::now())],
            ))
            .await?;
        Ok(rows
            .iter()
            .filter_map(|r| r.try_get::<String>("", column).ok())
            .collect::<Vec<_>>()
            .join("\n"))
    }
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
