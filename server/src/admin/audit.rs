//! The admin audit trail: every change made through the admin app, with who made it, through
//! which door, and the value before and after. Written in the change's own transaction where
//! the change is Verdict's alone (settings, keys), right after it otherwise.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};
use serde::Serialize;
use serde_json::Value;

use super::AdminCtx;
use crate::store::entities::admin_audit;

/// Actions recorded, by name (stable: they are shown and filtered on).
pub mod action {
    pub const SETTINGS_UPDATE: &str = "settings.update";
    pub const API_KEY_CREATE: &str = "api_key.create";
    pub const API_KEY_REVOKE: &str = "api_key.revoke";
    pub const API_KEY_SCOPE: &str = "api_key.scope";
    pub const RULE_UPLOAD: &str = "rule.upload";
    pub const RULE_ACTIVATE: &str = "rule.activate";
    pub const RULE_DEACTIVATE: &str = "rule.deactivate";
    pub const RULE_ROLLBACK: &str = "rule.rollback";
    pub const RULE_DELETE: &str = "rule.delete";
    pub const DELIVERY_RETRY: &str = "delivery.retry";
    pub const JOB_RETRY: &str = "job.retry";
    pub const FINDING_EXPORT: &str = "finding.export";
    pub const FINDINGS_EXPORT: &str = "findings.export";
    pub const FINDING_PUSH: &str = "finding.push";
    pub const FINDING_NOTE: &str = "finding.note";
}

/// One audit entry as the admin app shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AuditEntry {
    pub id: String,
    /// `jira_account` or `operator`.
    pub actor_kind: String,
    pub actor_id: String,
    /// The account's display name, when Jira told.
    pub actor_name: Option<String>,
    /// `connect`, `forge` or `standalone`.
    pub via: String,
    pub action: String,
    pub target: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub old_value: Option<Value>,
    #[schema(value_type = Option<Object>)]
    pub new_value: Option<Value>,
    pub at: DateTime<Utc>,
}

/// Records one change.
pub async fn record<C: ConnectionTrait>(
    conn: &C,
    ctx: &AdminCtx,
    action: &str,
    target: Option<&str>,
    old: Option<Value>,
    new: Option<Value>,
) -> Result<(), DbErr> {
    admin_audit::ActiveModel {
        id: Set(uuid::Uuid::now_v7().to_string()),
        tenant_id: Set(Some(ctx.tenant_id.clone())),
        actor_kind: Set(ctx.principal.kind().to_owned()),
        actor_id: Set(ctx.principal.id().to_owned()),
        via: Set(ctx.via.as_str().to_owned()),
        action: Set(action.to_owned()),
        target: Set(target.map(|t| t.chars().take(256).collect())),
        old_value: Set(old.map(|v| v.to_string())),
        new_value: Set(new.map(|v| v.to_string())),
        created_at: Set(Utc::now()),
    }
    .insert(conn)
    .await?;
    tracing::info!(
        tenant = %ctx.tenant_id,
        actor = ctx.principal.kind(),
        via = ctx.via.as_str(),
        action,
        target,
        "admin change"
    );
    Ok(())
}

/// The tenant's audit trail, newest first; `before` is an entry id from a previous page;
/// `limit` is 1–200 (checked by the caller).
pub async fn list<C: ConnectionTrait>(
    conn: &C,
    tenant: &str,
    before: Option<&str>,
    limit: u64,
) -> Result<Vec<AuditEntry>, DbErr> {
    let mut q = admin_audit::Entity::find().filter(admin_audit::Column::TenantId.eq(tenant));
    if let Some(b) = before {
        // Ids are UUIDv7: ordered by creation.
        q = q.filter(admin_audit::Column::Id.lt(b));
    }
    let rows = q
        .order_by_desc(admin_audit::Column::Id)
        .limit(limit)
        .all(conn)
        .await?;
    Ok(rows
        .into_iter()
        .map(|r| AuditEntry {
            id: r.id,
            actor_kind: r.actor_kind,
            actor_id: r.actor_id,
            actor_name: None,
            via: r.via,
            action: r.action,
            target: r.target,
            old_value: r.old_value.and_then(|v| serde_json::from_str(&v).ok()),
            new_value: r.new_value.and_then(|v| serde_json::from_str(&v).ok()),
            at: r.created_at,
        })
        .collect())
}
