//! Dynamic webhooks for OAuth 2.0 connections: registered when the connection is made (the
//! tenant's own earlier ones deleted first, nobody else's), with a `jqlFilter` inside the subset
//! Jira allows (`project in (…)`), refreshed well before Jira drops them after 30 days, their
//! health kept on the connection, and each delivery attributed to the site it names.

use chrono::{DateTime, Duration, Utc};
use sea_orm::{ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, Set};
use serde_json::{Value, json};

use super::JiraAuth;
use super::oauth::OAuth;
use crate::jira::JiraClient;
use crate::store::entities::oauth_connections;
use crate::tenants::secrets::SecretBox;

/// Status changes (and the resolution that comes with them) of issues.
pub const ISSUE_EVENTS: &[&str] = &["jira:issue_updated"];
/// Changes that matter whatever field moved.
pub const OTHER_EVENTS: &[&str] = &[
    "jira:issue_deleted",
    "comment_created",
    "comment_updated",
    "comment_deleted",
];
/// Refresh when less than this is left of Jira's 30 days.
pub const REFRESH_WHEN_DAYS_LEFT: i64 = 20;

/// Where Jira delivers an OAuth connection's webhooks.
pub fn webhook_url(config: &crate::config::Config) -> String {
    config.public_url("/oauth/webhooks/jira")
}

fn ids_of(v: &Value) -> Vec<u64> {
    v.get("values")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|w| w.get("id").and_then(Value::as_u64))
                .collect()
        })
        .unwrap_or_default()
}

/// Replaces the connection's webhooks in Jira: deletes `previous` (this tenant's ids from its
/// last registration, still listed by Jira) and registers new ones. Webhooks the app has on the
/// site for anyone else are left alone. Returns the new ids and their expiry.
pub async fn register(
    client: &JiraClient,
    auth: &JiraAuth,
    url: &str,
    previous: &[u64],
) -> Result<(Vec<u64>, DateTime<Utc>), String> {
    let existing = client
        .dynamic_webhooks(auth)
        .await
        .map_err(|e| e.to_string())?;
    let stale: Vec<u64> = ids_of(&existing)
        .into_iter()
        .filter(|id| previous.contains(id))
        .collect();
    if !stale.is_empty() {
        client
            .delete_dynamic_webhooks(auth, &stale)
            .await
            .map_err(|e| format!("cannot delete stale webhooks: {e}"))?;
    }
    let projects = client.projects(auth).await.map_err(|e| e.to_string())?;
    let keys: Vec<String> = projects.iter().map(|p| format!("\"{}\"", p.key)).collect();
    if keys.is_empty() {
        return Err("the connection sees no Jira projects to watch".into());
    }
    let jql = format!("project in ({})", keys.join(", "));
    let body = json!({"url": url, "webhooks": [
        {"events": ISSUE_EVENTS, "jqlFilter": jql, "fieldIdsFilter": ["status", "resolution"]},
        {"events": OTHER_EVENTS, "jqlFilter": jql},
    ]});
    let result = client
        .register_dynamic_webhooks(auth, &body)
        .await
        .map_err(|e| e.to_string())?;
    let mut ids = Vec::new();
    let mut errors = Vec::new();
    for r in result
        .get("webhookRegistrationResult")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        match r.get("createdWebhookId").and_then(Value::as_u64) {
            Some(id) => ids.push(id),
            None => errors.push(r.get("errors").map(|e| e.to_string()).unwrap_or_default()),
        }
    }
    if !errors.is_empty() {
        return Err(format!(
            "Jira refused webhook registration: {}",
            errors.join("; ")
        ));
    }
    let listed = client
        .dynamic_webhooks(auth)
        .await
        .map_err(|e| e.to_string())?;
    Ok((ids, earliest_expiry(&listed)?))
}

fn earliest_expiry(listed: &Value) -> Result<DateTime<Utc>, String> {
    listed
        .get("values")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|w| w.get("expirationDate").and_then(Value::as_i64))
        .min()
        .and_then(DateTime::from_timestamp_millis)
        .ok_or_else(|| "Jira listed no webhook expiry".to_owned())
}

async fn record(
    db: &DatabaseConnection,
    tenant_id: &str,
    outcome: Result<(Vec<u64>, DateTime<Utc>), String>,
) -> Result<(), sea_orm::DbErr> {
    let Some(row) = oauth_connections::Entity::find_by_id(tenant_id)
        .one(db)
        .await?
    else {
        return Ok(());
    };
    let mut a: oauth_connections::ActiveModel = row.into();
    match outcome {
        Ok((ids, expires)) => {
            a.webhook_ids = Set(Some(json!(ids)));
            a.webhooks_expire_at = Set(Some(expires));
            a.webhook_error = Set(None);
        }
        Err(e) => {
            tracing::warn!(tenant = tenant_id, error = %e, "dynamic webhooks need attention");
            a.webhook_error = Set(Some(e));
        }
    }
    a.update(db).await?;
    Ok(())
}

/// Registers the tenant's webhooks now (after connecting or reconnecting).
pub async fn sync(
    db: &DatabaseConnection,
    secrets: &SecretBox,
    oauth: &OAuth,
    client: &JiraClient,
    config: &crate::config::Config,
    tenant_id: &str,
) -> Result<(), sea_orm::DbErr> {
    let previous = oauth_connections::Entity::find_by_id(tenant_id)
        .one(db)
        .await?
        .map(|row| stored_ids(&row))
        .unwrap_or_default();
    let outcome = match oauth.jira_auth(db, secrets, tenant_id).await {
        Ok(auth) => register(client, &auth, &webhook_url(config), &previous).await,
        Err(e) => Err(e.to_string()),
    };
    record(db, tenant_id, outcome).await
}

/// Refreshes every connection whose webhooks expire within `REFRESH_WHEN_DAYS_LEFT` days of
/// `now`; re-registers when Jira no longer knows them. Returns how many were refreshed.
pub async fn refresh_due(
    db: &DatabaseConnection,
    secrets: &SecretBox,
    oauth: &OAuth,
    client: &JiraClient,
    config: &crate::config::Config,
    now: DateTime<Utc>,
) -> Result<usize, sea_orm::DbErr> {
    let due = oauth_connections::Entity::find()
        .filter(oauth_connections::Column::Status.eq(super::oauth::status::CONNECTED))
        .filter(
            oauth_connections::Column::WebhooksExpireAt
                .lt(now + Duration::days(REFRESH_WHEN_DAYS_LEFT)),
        )
        .all(db)
        .await?;
    let mut refreshed = 0;
    for row in due {
        let ids = stored_ids(&row);
        let outcome = match oauth.jira_auth(db, secrets, &row.tenant_id).await {
            Err(e) => Err(e.to_string()),
            Ok(auth) => {
                let put = client.refresh_dynamic_webhooks(&auth, &ids).await;
                match put {
                    Ok(()) => match client.dynamic_webhooks(&auth).await {
                        Ok(listed) if !ids_of(&listed).is_empty() => {
                            earliest_expiry(&listed).map(|e| (ids, e))
                        }
                        // Jira forgot them (expired already): register again.
                        Ok(_) => register(client, &auth, &webhook_url(config), &ids).await,
                        Err(e) => Err(e.to_string()),
                    },
                    Err(e) => Err(format!("refresh failed: {e}")),
                }
            }
        };
        if outcome.is_ok() {
            refreshed += 1;
        }
        record(db, &row.tenant_id, outcome).await?;
    }
    Ok(refreshed)
}

/// The webhook ids Jira gave the connection's last registration.
fn stored_ids(row: &oauth_connections::Model) -> Vec<u64> {
    row.webhook_ids
        .as_ref()
        .and_then(|v| serde_json::from_value(v.clone()).ok())
        .unwrap_or_default()
}

/// Why an OAuth 2.0 delivery is not attributed to a tenant.
#[derive(Debug, thiserror::Error)]
pub enum AttributionError {
    #[error("the delivery does not name its Jira site: {0}")]
    NoSite(#[from] verdict_wire::jira_event::SiteError),
    #[error("no tenant is connected with OAuth 2.0 to the site the delivery names ({0})")]
    UnknownSite(String),
    /// The site's tenant did not register any of the webhooks the delivery says matched.
    #[error(
        "the delivery names {site}, whose tenant registered none of the webhooks {matched:?} it matched"
    )]
    NotItsWebhooks {
        tenant: String,
        site: String,
        matched: Vec<u64>,
    },
    #[error("database error: {0}")]
    Db(#[from] sea_orm::DbErr),
}

impl AttributionError {
    /// The tenant of the site the delivery named, when it is known: the refused delivery is
    /// kept for that tenant's admin.
    pub fn site_tenant(&self) -> Option<&str> {
        match self {
            AttributionError::NotItsWebhooks { tenant, .. } => Some(tenant),
            _ => None,
        }
    }
}

/// The tenant a verified OAuth 2.0 delivery belongs to. Its token is the app's (the same for
/// every site) and `matchedWebhookIds` are per-site counters, so the site comes from the
/// payload's own links (see [`verdict_wire::jira_event::delivery_site`]); the ids must then be
/// among that site's tenant's registered webhooks, or the delivery is refused.
pub async fn attribute(
    db: &DatabaseConnection,
    payload: &Value,
) -> Result<String, AttributionError> {
    use verdict_wire::jira_event::{DeliverySite, delivery_site};
    let site = delivery_site(payload)?;
    let query = oauth_connections::Entity::find();
    let (query, named) = match &site {
        DeliverySite::CloudId(id) => (
            query.filter(oauth_connections::Column::CloudId.eq(id.as_str())),
            format!("cloud id {id}"),
        ),
        DeliverySite::BaseUrl(url) => (
            query
                .filter(oauth_connections::Column::SiteUrl.is_in([url.clone(), format!("{url}/")])),
            url.clone(),
        ),
    };
    let row = query
        .one(db)
        .await?
        .ok_or_else(|| AttributionError::UnknownSite(named.clone()))?;
    let matched: Vec<u64> = payload
        .get("matchedWebhookIds")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_u64).collect())
        .unwrap_or_default();
    let own = stored_ids(&row);
    if !matched.iter().any(|id| own.contains(id)) {
        return Err(AttributionError::NotItsWebhooks {
            tenant: row.tenant_id,
            site: named,
            matched,
        });
    }
    Ok(row.tenant_id)
}
