//! API-token (Jira Cloud) and personal-access-token (Jira Data Center) connections: the
//! credentials are checked against Jira (`myself`) before they are stored, encrypted; and the
//! secret that signs a site's admin webhooks.

use sea_orm::{ActiveModelTrait, DatabaseConnection, EntityTrait, Set};
use serde::{Deserialize, Serialize};
use url::Url;

use super::secrets::SecretBox;
use super::{ConnectionKind, ConnectionStatus, Tenant, TenantError};
use crate::atlassian::JiraAuth;
use crate::config::Secret;
use crate::jira::JiraClient;
use crate::store::entities::tenants;

#[derive(Serialize, Deserialize)]
struct Stored {
    email: Option<String>,
    token: String,
}

fn purpose(kind: &str, tenant_id: &str) -> String {
    format!("{kind}:{tenant_id}")
}

#[derive(Debug, thiserror::Error)]
pub enum CredentialError {
    #[error(transparent)]
    Tenant(#[from] TenantError),
    #[error("Jira refused these credentials: {0}")]
    Refused(String),
    #[error("invalid site URL: {0}")]
    BadUrl(String),
}

/// Connects `tenant` with an API token (Cloud) or, without an email, a PAT (Data Center).
/// The credentials must work (`GET …/myself`) before anything is stored.
pub async fn connect(
    db: &DatabaseConnection,
    secrets: &SecretBox,
    client: &JiraClient,
    tenant: &Tenant,
    site: &str,
    email: Option<&str>,
    token: &str,
) -> Result<Tenant, CredentialError> {
    let site_url = Url::parse(site).map_err(|e| CredentialError::BadUrl(e.to_string()))?;
    let auth = match email {
        Some(e) => JiraAuth::ApiToken {
            email: e.to_owned(),
            token: Secret::new(token),
            site_url: site_url.clone(),
        },
        None => JiraAuth::DataCenterPat {
            token: Secret::new(token),
            base_url: site_url.clone(),
        },
    };
    client
        .myself(&auth)
        .await
        .map_err(|e| CredentialError::Refused(e.to_string()))?;
    let kind = if email.is_some() {
        ConnectionKind::ApiToken
    } else {
        ConnectionKind::DataCenterPat
    };
    let stored = serde_json::to_string(&Stored {
        email: email.map(str::to_owned),
        token: token.to_owned(),
    })
    .expect("JSON");
    let row = tenants::Entity::find_by_id(&tenant.id)
        .one(db)
        .await
        .map_err(TenantError::from)?
        .ok_or_else(|| TenantError::NotFound(tenant.id.clone()))?;
    let mut a: tenants::ActiveModel = row.into();
    a.kind = Set(kind.as_str().to_owned());
    a.site_url = Set(Some(site_url.as_str().trim_end_matches('/').to_owned()));
    a.credentials = Set(Some(
        secrets.seal(&purpose("credentials", &tenant.id), &stored),
    ));
    a.status = Set(ConnectionStatus::Active.as_str().to_owned());
    a.updated_at = Set(Some(chrono::Utc::now()));
    Ok(a.update(db).await.map_err(TenantError::from)?.try_into()?)
}

/// The stored API-token / PAT credentials of a tenant as `JiraAuth`.
pub fn jira_auth(secrets: &SecretBox, row: &tenants::Model) -> Result<JiraAuth, TenantError> {
    let sealed = row
        .credentials
        .as_deref()
        .ok_or_else(|| TenantError::Corrupt("tenant has no stored credentials".into()))?;
    let raw = secrets
        .open(&purpose("credentials", &row.id), sealed)
        .map_err(|e| TenantError::Corrupt(e.to_string()))?;
    let stored: Stored =
        serde_json::from_str(&raw).map_err(|e| TenantError::Corrupt(e.to_string()))?;
    let site = row
        .site_url
        .as_deref()
        .ok_or_else(|| TenantError::Corrupt("tenant has no site URL".into()))?;
    let site_url = Url::parse(site).map_err(|e| TenantError::Corrupt(e.to_string()))?;
    Ok(match stored.email {
        Some(email) => JiraAuth::ApiToken {
            email,
            token: Secret::new(stored.token),
            site_url,
        },
        None => JiraAuth::DataCenterPat {
            token: Secret::new(stored.token),
            base_url: site_url,
        },
    })
}

/// Generates, stores (encrypted) and returns a new admin-webhook signing secret: shown once,
/// to paste into Jira's webhook settings.
pub async fn rotate_webhook_secret(
    db: &DatabaseConnection,
    secrets: &SecretBox,
    tenant: &Tenant,
) -> Result<String, TenantError> {
    let secret = SecretBox::generate_key();
    let row = tenants::Entity::find_by_id(&tenant.id)
        .one(db)
        .await?
        .ok_or_else(|| TenantError::NotFound(tenant.id.clone()))?;
    let mut a: tenants::ActiveModel = row.into();
    a.webhook_secret = Set(Some(
        secrets.seal(&purpose("webhook-secret", &tenant.id), &secret),
    ));
    a.update(db).await?;
    Ok(secret)
}

pub fn webhook_secret(
    secrets: &SecretBox,
    row: &tenants::Model,
) -> Result<Option<String>, TenantError> {
    row.webhook_secret
        .as_deref()
        .map(|s| {
            secrets
                .open(&purpose("webhook-secret", &row.id), s)
                .map_err(|e| TenantError::Corrupt(e.to_string()))
        })
        .transpose()
}
