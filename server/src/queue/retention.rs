//! Retention: finished webhook deliveries, finished outbox jobs and old decisions (with their
//! rule inputs) are deleted after configurable periods, in small batches that never hold the
//! database long, so it stays bounded under a steady stream.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DatabaseBackend, DbErr, Statement, Value};

use crate::store::Store;

/// How long each kind of row is kept, and how many rows one delete takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// Processed and ignored webhook deliveries (and refused ones), after processing.
    pub deliveries: Duration,
    /// Done and skipped outbox jobs, after they finished.
    pub jobs: Duration,
    /// Decisions — their rule inputs are what replay runs on — after they were taken.
    pub decisions: Duration,
    pub batch: usize,
}

/// Rows deleted by one pass.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Pruned {
    pub deliveries: u64,
    pub rejected_deliveries: u64,
    pub jobs: u64,
    pub decisions: u64,
}

impl Pruned {
    pub fn total(&self) -> u64 {
        self.deliveries + self.rejected_deliveries + self.jobs + self.decisions
    }
}

struct Target {
    table: &'static str,
    /// Only rows matching this are ever deleted.
    finished: &'static str,
    at: &'static str,
}

const DELIVERIES: Target = Target {
    table: "webhook_deliveries",
    finished: "state IN ('done', 'ignored')",
    at: "processed_at",
};
const REJECTED: Target = Target {
    table: "rejected_deliveries",
    finished: "1 = 1",
    at: "received_at",
};
const JOBS: Target = Target {
    table: "outbox_jobs",
    finished: "state IN ('done', 'skipped')",
    at: "updated_at",
};
const DECISIONS: Target = Target {
    table: "decisions",
    finished: "1 = 1",
    at: "created_at",
};

/// Deletes, batch by batch, every row older than its period at `now`. Each batch is its own
/// short write (behind SQLite's gate), so intake and workers interleave with a long prune.
pub async fn prune(store: &Store, r: &Retention, now: DateTime<Utc>) -> Result<Pruned, DbErr> {
    let before = |d: Duration| now - chrono::Duration::from_std(d).unwrap_or_default();
    Ok(Pruned {
        deliveries: prune_table(store, &DELIVERIES, before(r.deliveries), r.batch).await?,
        rejected_deliveries: prune_table(store, &REJECTED, before(r.deliveries), r.batch).await?,
        jobs: prune_table(store, &JOBS, before(r.jobs), r.batch).await?,
        decisions: prune_table(store, &DECISIONS, before(r.decisions), r.batch).await?,
    })
}

async fn prune_table(
    store: &Store,
    t: &Target,
    before: DateTime<Utc>,
    batch: usize,
) -> Result<u64, DbErr> {
    let db = store.db();
    let backend = db.get_database_backend();
    let (p1, p2) = match backend {
        DatabaseBackend::Postgres => ("$1", "$2"),
        _ => ("?1", "?2"),
    };
    let Target {
        table,
        finished,
        at,
    } = t;
    let sql = format!(
        "DELETE FROM {table} WHERE id IN (SELECT id FROM {table} \
         WHERE {finished} AND {at} < {p1} ORDER BY {at} LIMIT {p2})"
    );
    let mut total = 0;
    loop {
        let deleted = {
            let _gate = store.write_lock().await;
            db.execute(Statement::from_sql_and_values(
                backend,
                sql.clone(),
                [Value::from(before), Value::from(batch.max(1) as i64)],
            ))
            .await?
            .rows_affected()
        };
        total += deleted;
        if deleted < batch.max(1) as u64 {
            return Ok(total);
        }
        // Let intake and workers in between batches.
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}
