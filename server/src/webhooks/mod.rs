//! Webhook intake: a verified delivery is written to the inbox (deduplicated on Jira's
//! identifier) before it is acknowledged; malformed ones are kept for the admin. The ack path
//! makes no Jira calls and evaluates no rules — processing reads the inbox later.

pub use verdict_wire::jira_event as event;
pub mod worker;

use chrono::Utc;
use sea_orm::sea_query::OnConflict;
use sea_orm::{DbErr, EntityTrait, Set};

use crate::queue::Queue;
use crate::redact;
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

#[derive(Debug, thiserror::Error)]
pub enum IntakeError {
    /// The tenant has `limit` deliveries waiting already (`inbox_max_pending_per_tenant`).
    #[error(
        "this tenant has {limit} webhook deliveries waiting to be processed (inbox_max_pending_per_tenant); deliver again later"
    )]
    TenantFull { limit: u64 },
    #[error(transparent)]
    Db(#[from] DbErr),
}

/// How long a tenant's count of waiting deliveries is trusted before it is read again: the
/// quota costs one count per tenant per second, not one per delivery.
const PENDING_COUNT_TTL: std::time::Duration = std::time::Duration::from_secs(1);

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
    let now = Utc::now();
    webhook_deliveries::ActiveModel {
        id: Set(uuid::Uuid::now_v7().to_string()),
        tenant_id: Set(d.tenant_id.to_owned()),
        identifier: Set(d.identifier.to_owned()),
        retry_count: Set(d.retry_count),
        event: Set(d.event.to_owned()),
        source: Set(d.source.to_owned()),
        received_at: Set(now),
        body: Set(stored_body(d.body).into_owned()),
        state: Set("pending".to_owned()),
        attempts: Set(0),
        lease_until: Set(None),
        processed_at: Set(None),
        outcome: Set(None),
        lease_owner: Set(None),
        due_at: Set(Some(now)),
    }
}

/// A delivery's body as the inbox keeps it: the comments it carries (the event's, and the
/// thread an issue event lists in its fields) masked like every stored comment (see
/// [`crate::redact`]), anything else byte for byte. Processing reads only who wrote a comment,
/// when, and its words, and masking keeps those; everything downstream (stored comments, rule
/// inputs) starts from the masked text.
pub fn stored_body(body: &str) -> std::borrow::Cow<'_, str> {
    use std::borrow::Cow;
    if !body.contains("\"comment\"") {
        return Cow::Borrowed(body);
    }
    let Ok(mut v) = serde_json::from_str::<serde_json::Value>(body) else {
        return Cow::Borrowed(body);
    };
    // The comment an event is about, and the thread an issue event may carry in its fields.
    // A webhook's comment, or a Forge event's (inside `payload`).
    let mut masked = v.pointer_mut("/comment/body").map_or(0, mask_strings)
        + v.pointer_mut("/payload/comment/body")
            .map_or(0, mask_strings);
    if let Some(serde_json::Value::Array(thread)) = v.pointer_mut("/issue/fields/comment/comments")
    {
        masked += thread
            .iter_mut()
            .filter_map(|c| c.get_mut("body"))
            .map(mask_strings)
            .sum::<usize>();
    }
    if masked == 0 {
        return Cow::Borrowed(body);
    }
    serde_json::to_string(&v)
        .map(Cow::Owned)
        .unwrap_or(Cow::Borrowed(body))
}

/// Masks every string in `v` (a plain comment body, or every text node of an ADF one).
fn mask_strings(v: &mut serde_json::Value) -> usize {
    use serde_json::Value;
    match v {
        Value::String(s) => {
            let (masked, n) = redact::mask(s);
            if n > 0 {
                *s = masked;
            }
            n
        }
        Value::Array(items) => items.iter_mut().map(mask_strings).sum(),
        Value::Object(fields) => fields.values_mut().map(mask_strings).sum(),
        _ => 0,
    }
}

/// Most deliveries one inbox transaction takes.
pub const MAX_BATCH: usize = 256;
/// Times a batch is tried when PostgreSQL aborts it for a deadlock or serialization failure.
pub const CONFLICT_ATTEMPTS: usize = 5;

type Reply = tokio::sync::oneshot::Sender<Result<Intake, String>>;

/// Group commit for the inbox: one writer task stores every delivery waiting at that moment
/// with one statement, then answers each request. A request is acknowledged only after the
/// transaction holding its delivery committed, so "stored before acknowledged" holds.
#[derive(Clone)]
pub struct InboxWriter {
    tx: tokio::sync::mpsc::Sender<(webhook_deliveries::ActiveModel, Reply)>,
    queue: Queue,
    max_pending: u64,
    /// Each tenant's waiting deliveries, counted at most once per [`PENDING_COUNT_TTL`] and
    /// raised by each one stored meanwhile.
    pending: std::sync::Arc<crate::cache::TtlCache<u64>>,
}

impl InboxWriter {
    /// Most tenants whose waiting count is remembered at once.
    const COUNTED_TENANTS: usize = 10_000;

    pub fn start(store: Store, queue: Queue, max_pending_per_tenant: u64) -> Self {
        let writer_queue = queue.clone();
        let (tx, mut rx) =
            tokio::sync::mpsc::channel::<(webhook_deliveries::ActiveModel, Reply)>(4 * MAX_BATCH);
        tokio::spawn(async move {
            while let Some(first) = rx.recv().await {
                let mut batch = vec![first];
                while batch.len() < MAX_BATCH {
                    match rx.try_recv() {
                        Ok(p) => batch.push(p),
                        Err(_) => break,
                    }
                }
                let rows: Vec<_> = batch.iter().map(|(row, _)| row.clone()).collect();
                match write_batch(&store, &rows).await {
                    Ok(outcomes) => {
                        for ((_, reply), outcome) in batch.into_iter().zip(outcomes) {
                            let _ = reply.send(Ok(outcome));
                        }
                        writer_queue.wake();
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
        Self {
            tx,
            queue,
            max_pending: max_pending_per_tenant,
            pending: std::sync::Arc::new(crate::cache::TtlCache::new(
                PENDING_COUNT_TTL,
                Self::COUNTED_TENANTS,
            )),
        }
    }

    /// Stores a delivery unless its tenant already has `inbox_max_pending_per_tenant` waiting
    /// (a retry of one the inbox has is answered as a duplicate all the same, by the database).
    pub async fn store(&self, d: &Delivery<'_>) -> Result<Intake, IntakeError> {
        let waiting = match self.pending.get(d.tenant_id) {
            Some(n) => n,
            None => {
                let n = self.queue.waiting_for(d.tenant_id).await?;
                self.pending.put(d.tenant_id, n);
                n
            }
        };
        if waiting >= self.max_pending {
            return Err(IntakeError::TenantFull {
                limit: self.max_pending,
            });
        }
        let (reply, answer) = tokio::sync::oneshot::channel();
        let stopped = || DbErr::Custom("the inbox writer stopped".into());
        self.tx
            .send((row_for(d), reply))
            .await
            .map_err(|_| stopped())?;
        let intake = answer
            .await
            .map_err(|_| stopped())?
            .map_err(DbErr::Custom)?;
        if intake == Intake::Stored
            && let Some(n) = self.pending.get(d.tenant_id)
        {
            self.pending.put(d.tenant_id, n + 1);
        }
        Ok(intake)
    }
}

fn key(row: &webhook_deliveries::ActiveModel) -> (String, String) {
    let text = |v: &sea_orm::ActiveValue<String>| match v {
        sea_orm::ActiveValue::Set(s) | sea_orm::ActiveValue::Unchanged(s) => s.clone(),
        sea_orm::ActiveValue::NotSet => String::new(),
    };
    (text(&row.tenant_id), text(&row.identifier))
}

/// Stores a batch with one `INSERT … ON CONFLICT DO NOTHING RETURNING`, rows in (tenant,
/// identifier) order so two replicas storing the same retried deliveries take their index
/// locks in the same order and never deadlock; a transaction PostgreSQL aborts anyway
/// (deadlock, serialization failure) is tried again. Returns one outcome per row, in order:
/// the first of equal deliveries is `Stored` if it was new, every other one `Duplicate`.
async fn write_batch(
    store: &Store,
    rows: &[webhook_deliveries::ActiveModel],
) -> Result<Vec<Intake>, DbErr> {
    let keys: Vec<(String, String)> = rows.iter().map(key).collect();
    let mut order: Vec<usize> = (0..rows.len()).collect();
    order.sort_by(|a, b| keys[*a].cmp(&keys[*b]));
    order.dedup_by(|a, b| keys[*a] == keys[*b]);
    let unique: Vec<_> = order.iter().map(|i| rows[*i].clone()).collect();
    let mut attempt = 0;
    let stored = loop {
        attempt += 1;
        match insert_new(store, unique.clone()).await {
            Ok(stored) => break stored,
            Err(e) if attempt < CONFLICT_ATTEMPTS && crate::queue::is_transient_conflict(&e) => {
                tracing::warn!(error = %e, attempt, "inbox batch aborted by the database; trying again");
                let jitter = rand::random_range(0..10u64);
                tokio::time::sleep(std::time::Duration::from_millis(
                    5 * attempt as u64 + jitter,
                ))
                .await;
            }
            Err(e) => return Err(e),
        }
    };
    let mut first_seen = std::collections::HashSet::new();
    Ok(keys
        .into_iter()
        .map(|k| {
            if stored.contains(&k) && first_seen.insert(k) {
                Intake::Stored
            } else {
                Intake::Duplicate
            }
        })
        .collect())
}

/// Inserts the rows that are new; returns their (tenant, identifier) keys.
async fn insert_new(
    store: &Store,
    rows: Vec<webhook_deliveries::ActiveModel>,
) -> Result<std::collections::HashSet<(String, String)>, DbErr> {
    use sea_orm::{ConnectionTrait as _, QueryTrait as _};
    let mut insert = webhook_deliveries::Entity::insert_many(rows)
        .on_conflict(
            OnConflict::columns([
                webhook_deliveries::Column::TenantId,
                webhook_deliveries::Column::Identifier,
            ])
            .do_nothing()
            .to_owned(),
        )
        .into_query();
    insert.returning(sea_orm::sea_query::Query::returning().columns([
        webhook_deliveries::Column::TenantId,
        webhook_deliveries::Column::Identifier,
    ]));
    let db = store.db();
    let _gate = store.write_lock().await;
    let returned = db
        .query_all(db.get_database_backend().build(&insert))
        .await?;
    returned
        .into_iter()
        .map(|r| Ok((r.try_get("", "tenant_id")?, r.try_get("", "identifier")?)))
        .collect()
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
    let excerpt = redact::masked(&String::from_utf8_lossy(&body[..end]).replace('\0', ""));
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

#[cfg(test)]
mod tests {
    use super::stored_body;

    #[test]
    fn a_comment_is_kept_masked_and_everything_else_byte_for_byte() {
        let plain = r#"{"webhookEvent":"comment_created","comment":{"id":"1","body":"rotated; old key AKIAIOSFODNN7EXAMPLE"},"issue":{"id":"10"}}"#;
        let kept = stored_body(plain);
        assert!(!kept.contains("AKIAIOSFODNN7EXAMPLE"), "{kept}");
        assert!(kept.contains("[REDACTED:aws-access-key]"), "{kept}");
        let v: serde_json::Value = serde_json::from_str(&kept).unwrap();
        assert_eq!(v["issue"]["id"], "10");

        let adf = r#"{"comment":{"body":{"type":"doc","content":[{"type":"paragraph","content":[{"type":"text","text":"password=hunter2hunter2"}]}]}}}"#;
        let kept = stored_body(adf);
        assert!(!kept.contains("hunter2hunter2"), "{kept}");
        assert!(kept.contains("\"type\":\"paragraph\""), "{kept}");

        let thread = r#"{"webhookEvent":"jira:issue_updated","issue":{"fields":{"comment":{"comments":[{"body":"ok"},{"body":"token ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789"}]}}}}"#;
        let kept = stored_body(thread);
        assert!(!kept.contains("ghp_aBcDeF"), "{kept}");
        assert!(kept.contains(r#"{"body":"ok"}"#), "{kept}");

        for untouched in [
            r#"{"comment":{"body":"False positive, test fixture only."},"x":  1}"#,
            r#"{"webhookEvent":"jira:issue_updated","issue":{"fields":{"summary":"AKIAIOSFODNN7EXAMPLE"}}}"#,
            "not json \"comment\"",
        ] {
            assert_eq!(stored_body(untouched), untouched);
        }
    }
}
