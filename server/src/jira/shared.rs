//! Jira's rate budget shared by every replica on one database: each replica records a
//! heartbeat, paces each site at its share of the rate (rate ÷ live replicas), and publishes
//! what Jira's rate-limit headers taught it (learned rate, pauses) for the others to apply.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DatabaseBackend, DbErr, Statement, Value};

use super::limits::{Governor, SiteNews};
use crate::store::Store;

/// How often a replica looks for what the others learned (a 429 seen by one reaches the
/// others within this).
pub const NEWS_POLL: Duration = Duration::from_millis(250);

/// A replica missing this many heartbeats no longer counts as live.
pub const MISSED_HEARTBEATS: u32 = 3;

/// One replica's part in the shared budget.
pub struct Replica {
    pub id: String,
    store: Store,
    governor: Arc<Governor>,
    heartbeat: Duration,
    /// Per site, the newest `updated_at` already applied here.
    applied: HashMap<String, DateTime<Utc>>,
    /// Whether everything known was read once (a new replica starts from what the others
    /// already learned, however old).
    caught_up: bool,
}

fn p(backend: DatabaseBackend, n: usize) -> String {
    match backend {
        DatabaseBackend::Postgres => format!("${n}"),
        _ => format!("?{n}"),
    }
}

impl Replica {
    pub fn new(store: Store, governor: Arc<Governor>, heartbeat: Duration) -> Self {
        Self {
            id: format!("{}", uuid::Uuid::now_v7().simple()),
            store,
            governor,
            heartbeat,
            applied: HashMap::new(),
            caught_up: false,
        }
    }

    async fn exec(&self, sql: String, values: Vec<Value>) -> Result<u64, DbErr> {
        let db = self.store.db();
        let _gate = self.store.write_lock().await;
        Ok(db
            .execute(Statement::from_sql_and_values(
                db.get_database_backend(),
                sql,
                values,
            ))
            .await?
            .rows_affected())
    }

    /// Records this replica as alive and returns how many replicas are; sets the governor's
    /// share to that.
    pub async fn beat(&self) -> Result<u32, DbErr> {
        let db = self.store.db();
        let backend = db.get_database_backend();
        let now = Utc::now();
        self.exec(
            format!(
                "INSERT INTO replicas (id, started_at, heartbeat_at) VALUES ({}, {}, {}) \
                 ON CONFLICT (id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at",
                p(backend, 1),
                p(backend, 2),
                p(backend, 2)
            ),
            vec![self.id.clone().into(), now.into()],
        )
        .await?;
        let since = now
            - chrono::Duration::from_std(self.heartbeat * MISSED_HEARTBEATS).unwrap_or_default();
        let live = db
            .query_one(Statement::from_sql_and_values(
                backend,
                format!(
                    "SELECT COUNT(*) AS n FROM replicas WHERE heartbeat_at > {}",
                    p(backend, 1)
                ),
                [Value::from(since)],
            ))
            .await?
            .map(|r| r.try_get::<i64>("", "n"))
            .transpose()?
            .unwrap_or(1)
            .clamp(1, i64::from(u32::MAX)) as u32;
        self.governor.set_share(live);
        // Long-dead replicas are forgotten.
        let forget = now - chrono::Duration::hours(1);
        self.exec(
            format!(
                "DELETE FROM replicas WHERE heartbeat_at < {}",
                p(backend, 1)
            ),
            vec![forget.into()],
        )
        .await?;
        Ok(live)
    }

    /// Publishes what this replica learned and applies what the others published.
    pub async fn exchange(&mut self) -> Result<(), DbErr> {
        let db = self.store.db();
        let backend = db.get_database_backend();
        let now = Utc::now();
        for (site, news) in self.governor.take_news() {
            self.exec(
                format!(
                    "INSERT INTO jira_site_pace (site, rate, paused_until, updated_by, updated_at) \
                     VALUES ({p1}, {p2}, {p3}, {p4}, {p5}) ON CONFLICT (site) DO UPDATE SET \
                     rate = COALESCE(excluded.rate, jira_site_pace.rate), \
                     paused_until = COALESCE(excluded.paused_until, jira_site_pace.paused_until), \
                     updated_by = excluded.updated_by, updated_at = excluded.updated_at",
                    p1 = p(backend, 1),
                    p2 = p(backend, 2),
                    p3 = p(backend, 3),
                    p4 = p(backend, 4),
                    p5 = p(backend, 5),
                ),
                vec![
                    site.clone().into(),
                    news.rate.into(),
                    news.paused_until.into(),
                    self.id.clone().into(),
                    now.into(),
                ],
            )
            .await?;
            self.applied.insert(site, now);
        }
        // Clocks of replicas differ a little: look back a few seconds, apply each row once.
        let since = if self.caught_up {
            now - chrono::Duration::seconds(10)
        } else {
            DateTime::<Utc>::UNIX_EPOCH
        };
        let rows = db
            .query_all(Statement::from_sql_and_values(
                backend,
                format!(
                    "SELECT site, rate, paused_until, updated_at FROM jira_site_pace \
                     WHERE updated_at > {} AND updated_by <> {}",
                    p(backend, 1),
                    p(backend, 2)
                ),
                [Value::from(since), Value::from(self.id.clone())],
            ))
            .await?;
        for r in rows {
            let site: String = r.try_get("", "site")?;
            let at: DateTime<Utc> = r.try_get("", "updated_at")?;
            if self.applied.get(&site).is_some_and(|seen| *seen >= at) {
                continue;
            }
            let news = SiteNews {
                rate: r.try_get("", "rate")?,
                paused_until: r.try_get("", "paused_until")?,
            };
            tracing::debug!(%site, ?news, "applying what another replica learned from Jira");
            self.governor.apply_news(&site, &news);
            self.applied.insert(site, at);
        }
        self.caught_up = true;
        Ok(())
    }

    /// Leaves the registry (a graceful stop), so the others take up the share at once.
    pub async fn leave(&self) -> Result<(), DbErr> {
        let backend = self.store.db().get_database_backend();
        self.exec(
            format!("DELETE FROM replicas WHERE id = {}", p(backend, 1)),
            vec![self.id.clone().into()],
        )
        .await?;
        self.governor.set_share(1);
        Ok(())
    }
}

/// Runs the heartbeat and the exchange until `stop` flips to true, then leaves.
pub fn spawn(
    store: Store,
    governor: Arc<Governor>,
    heartbeat: Duration,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut replica = Replica::new(store, governor, heartbeat);
        let mut beat = tokio::time::interval(heartbeat);
        let mut news = tokio::time::interval(NEWS_POLL);
        loop {
            tokio::select! {
                _ = beat.tick() => {
                    if let Err(e) = replica.beat().await {
                        tracing::warn!(error = %e, "replica heartbeat failed");
                    }
                }
                _ = news.tick() => {
                    if let Err(e) = replica.exchange().await {
                        tracing::warn!(error = %e, "cannot exchange Jira rate-limit news with other replicas");
                    }
                }
                _ = stop.changed() => break,
            }
            if *stop.borrow() {
                break;
            }
        }
        if let Err(e) = replica.leave().await {
            tracing::warn!(error = %e, "cannot leave the replica registry; it expires on its own");
        }
    })
}
