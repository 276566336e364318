//! A tenant's connection as an admin checks it: kind, site, lifecycle status, OAuth and
//! dynamic-webhook health, and when Jira last delivered a webhook.

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QuerySelect};
use serde::Serialize;

use super::TenantError;
use crate::store::entities::{oauth_connections, tenants, webhook_deliveries as wd};

/// Inbox states: the last delivery is the latest over all of them, one index seek each.
const DELIVERY_STATES: [&str; 5] = ["pending", "processing", "done", "ignored", "failed"];

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ConnectionHealth {
    pub tenant: String,
    pub name: String,
    /// `standalone`, `connect`, `forge`, `oauth2`, `api_token` or `data_center_pat`.
    pub kind: String,
    pub site: Option<String>,
    /// The URL people use (links); the site URL when Jira sent none.
    pub display_url: Option<String>,
    /// `active`, `disabled` or `uninstalled` (the Atlassian side).
    pub status: String,
    /// For OAuth 2.0: `connected`, `reconsent_needed` or `client_rejected`.
    pub oauth_status: Option<String>,
    pub oauth_error: Option<String>,
    /// Dynamic webhooks registered for this connection (OAuth 2.0).
    pub webhooks: Option<u32>,
    /// When Jira drops them unless refreshed (Verdict refreshes well before).
    pub webhooks_expire_at: Option<DateTime<Utc>>,
    pub webhook_error: Option<String>,
    pub installed_at: Option<DateTime<Utc>>,
    /// When Verdict last received a webhook delivery for this tenant.
    pub last_delivery_at: Option<DateTime<Utc>>,
    /// For a Forge tenant: its live installation and until when Verdict holds an app system
    /// token (`null`: none now — work for Jira waits for the next Forge invocation).
    pub forge: Option<super::forge::InstallationView>,
}

/// When the tenant's latest webhook delivery arrived.
pub async fn last_delivery(
    db: &DatabaseConnection,
    tenant: &str,
) -> Result<Option<DateTime<Utc>>, TenantError> {
    let mut latest = None;
    for state in DELIVERY_STATES {
        let at: Option<DateTime<Utc>> = wd::Entity::find()
            .select_only()
            .column_as(wd::Column::ReceivedAt.max(), "at")
            .filter(wd::Column::TenantId.eq(tenant))
            .filter(wd::Column::State.eq(state))
            .into_tuple::<Option<DateTime<Utc>>>()
            .one(db)
            .await?
            .flatten();
        latest = latest.max(at);
    }
    Ok(latest)
}

/// The health of one tenant's connection.
pub async fn health(
    db: &DatabaseConnection,
    tenant: &str,
) -> Result<ConnectionHealth, TenantError> {
    let t = tenants::Entity::find_by_id(tenant)
        .one(db)
        .await?
        .ok_or_else(|| TenantError::NotFound(tenant.to_owned()))?;
    let hooks = oauth_connections::Entity::find_by_id(tenant)
        .one(db)
        .await?;
    Ok(ConnectionHealth {
        oauth_status: hooks.as_ref().map(|h| h.status.clone()),
        oauth_error: hooks.as_ref().and_then(|h| h.last_error.clone()),
        webhooks: hooks
            .as_ref()
            .and_then(|h| h.webhook_ids.as_ref())
            .and_then(|v| v.as_array().map(|a| a.len() as u32)),
        webhooks_expire_at: hooks.as_ref().and_then(|h| h.webhooks_expire_at),
        webhook_error: hooks.and_then(|h| h.webhook_error),
        last_delivery_at: last_delivery(db, tenant).await?,
        forge: super::forge::installation(db, tenant).await?,
        display_url: t.display_url.clone().or_else(|| t.site_url.clone()),
        tenant: t.id,
        name: t.name,
        kind: t.kind,
        site: t.site_url,
        status: t.status,
        installed_at: t.installed_at,
    })
}
