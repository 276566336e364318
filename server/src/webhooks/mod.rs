//! Webhook intake: a verified delivery is written to the inbox (deduplicated on Jira's
//! identifier) before it is acknowledged; malformed ones are kept for the admin. The ack path
//! makes no Jira calls and evaluates no rules — processing reads the inbox later.

pub mod event;
pub mod worker;

use chrono::Utc;
use sea_orm::sea_query::OnConflict;
use sea_orm::{DbErr, EntityTrait, Set};

use crate::store::Store;
use crate::store::entities::{rejected_deliveries, webhook_deliveries};

/// Largest part of a rejected body kept for the admin.
pub const REJECTED_EXCERPT_BYTES: usize = 4096;

/// One delivery as it arrived, after its signature was verified.
pub struct Delivery<'a> {
    pub tenant_id: &'a str,
    /// `X-Atlassian-Webhook-Identifier` (stable across retries).
    pub identifier: &'a str,
    /// `X-Atlassian-Webhook-Retry`, 0 on the first attempt.
    pub retry_count: i32,
    pub event: &'a str,
    pub source: &'a str,
    pub body: &'a str,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Intake {
    Stored,
    /// Already in the inbox: a retry or duplicate of a delivery Verdict has.
    Duplicate,
}

impl Intake {
    pub fn as_str(self) -> &'static str {
        match self {
            Intake::Stored => "stored",
            Intake::Duplicate => "duplicate",
        }
    }
}

fn row_for(d: &Delivery<'_>) -> webhook_deliveries::ActiveModel {
    webhook_deliveries::ActiveModel {
        id: Set(uuid::Uuid::now_v7().to_string()),
        tenant_id: Set(d.tenant_id.to_owned()),
        identifier: Set(d.identifier.to_owned()),
        retry_count: Set(d.retry_count),
        event: Set(d.event.to_owned()),
        source: Set(d.source.to_owned()),
        received_at: Set(Utc::now()),
        body: Set(d.body.to_owned()),
        state: Set("pending".to_owned()),
        attempts: Set(0),
        lease_until: Set(None),
        processed_at: Set(None),
        outcome: Set(None),
        lease_owner: Set(None),
    }
}

async fn insert<C: sea_orm::ConnectionTrait>(
    db: &C,
    row: webhook_deliveries::ActiveModel,
) -> Result<Intake, DbErr> {
    let inserted = webhook_deliveries::Entity::insert(row)
        .on_conflict(
            OnConflict::columns([
                webhook_deliveries::Column::TenantId,
                webhook_deliveries::Column::Identifier,
            ])
            .do_nothing()
            .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    Ok(if inserted == 0 {
        Intake::Duplicate
    } else {
        Intake::Stored
    })
}

/// Most deliveries one inbox transaction takes.
pub const MAX_BATCH: usize = 256;

type Reply = tokio::sync::oneshot::Sender<Result<Intake, String>>;

/// Group commit for the inbox: one writer task stores every delivery waiting at that moment
/// in one transaction, then answers each request. A request is acknowledged only after the
/// transaction holding its delivery committed, so "stored before acknowledged" holds.
#[derive(Clone)]
pub struct InboxWriter {
    tx: tokio::sync::mpsc::Sender<(webhook_deliveries::ActiveModel, Reply)>,
    stored: std::sync::Arc<tokio::sync::Notify>,
}

impl InboxWriter {
    pub fn start(store: Store) -> Self {
        let (tx, mut rx) =
            tokio::sync::mpsc::channel::<(webhook_deliveries::ActiveModel, Reply)>(4 * MAX_BATCH);
        let stored = std::sync::Arc::new(tokio::sync::Notify::new());
        let wake = stored.clone();
        tokio::spawn(async move {
            while let Some(first) = rx.recv().await {
                let mut batch = vec![first];
                while batch.len() < MAX_BATCH {
                    match rx.try_recv() {
                        Ok(p) => batch.push(p),
                        Err(_) => break,
                    }
                }
                let rows = batch.iter().map(|(row, _)| row.clone()).collect();
                match write_batch(&store, rows).await {
                    Ok(outcomes) => {
                        for ((_, reply), outcome) in batch.into_iter().zip(outcomes) {
                            let _ = reply.send(Ok(outcome));
                        }
                        // Wake the inbox workers: there is something new to process.
                        wake.notify_waiters();
                    }
                    Err(e) => {
                        tracing::error!(error = %e, size = batch.len(), "inbox batch failed; nothing in it is acknowledged");
                        for (_, reply) in batch {
                            let _ = reply.send(Err(e.to_string()));
                        }
                    }
                }
            }
        });
        Self { tx, stored }
    }

    /// Resolves after the next batch of deliveries is committed.
    pub fn stored(&self) -> std::sync::Arc<tokio::sync::Notify> {
        self.stored.clone()
    }

    pub async fn store(&self, d: &Delivery<'_>) -> Result<Intake, DbErr> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let stopped = || DbErr::Custom("the inbox writer stopped".into());
        self.tx
            .send((row_for(d), reply))
            .await
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?.map_err(DbErr::Custom)
    }
}

async fn write_batch(
    store: &Store,
    rows: Vec<webhook_deliveries::ActiveModel>,
) -> Result<Vec<Intake>, DbErr> {
    use sea_orm::TransactionTrait as _;
    let _gate = store.write_lock().await;
    let txn = store.db().begin().await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        out.push(insert(&txn, row).await?);
    }
    txn.commit().await?;
    Ok(out)
}

/// Keeps a refused delivery (bounded) so the admin can see what Jira sent and why it failed.
pub async fn reject(
    store: &Store,
    tenant_id: Option<&str>,
    route: &str,
    reason: &str,
    body: &[u8],
) -> Result<(), DbErr> {
    let mut end = body.len().min(REJECTED_EXCERPT_BYTES);
    while end > 0 && std::str::from_utf8(&body[..end]).is_err() {
        end -= 1;
    }
    let excerpt = String::from_utf8_lossy(&body[..end]).replace('\0', "");
    let _gate = store.write_lock().await;
    rejected_deliveries::Entity::insert(rejected_deliveries::ActiveModel {
        id: Set(uuid::Uuid::now_v7().to_string()),
        tenant_id: Set(tenant_id.map(str::to_owned)),
        route: Set(route.to_owned()),
        received_at: Set(Utc::now()),
        reason: Set(reason.to_owned()),
        body_excerpt: Set(excerpt),
    })
    .exec_without_returning(store.db())
    .await?;
    Ok(())
}
