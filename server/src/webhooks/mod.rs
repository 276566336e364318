//! Webhook intake: a verified delivery is written to the inbox (deduplicated on Jira's
//! identifier) before it is acknowledged; malformed ones are kept for the admin. The ack path
//! makes no Jira calls and evaluates no rules — processing reads the inbox later.

pub mod event;

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

/// Stores the delivery unless its identifier is already in the tenant's inbox.
pub async fn store(store: &Store, d: &Delivery<'_>) -> Result<Intake, DbErr> {
    let _gate = store.write_lock().await;
    let row = webhook_deliveries::ActiveModel {
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
    };
    let inserted = webhook_deliveries::Entity::insert(row)
        .on_conflict(
            OnConflict::columns([
                webhook_deliveries::Column::TenantId,
                webhook_deliveries::Column::Identifier,
            ])
            .do_nothing()
            .to_owned(),
        )
        .exec_without_returning(store.db())
        .await?;
    Ok(if inserted == 0 {
        Intake::Duplicate
    } else {
        Intake::Stored
    })
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
