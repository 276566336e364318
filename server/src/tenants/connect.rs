//! Tenants created and maintained by the Connect lifecycle: install upserts (always replacing
//! the shared secret), uninstall, enable/disable, and reading a tenant's shared secret.

use chrono::Utc;
use sea_orm::{ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, Set};

use super::secrets::SecretBox;
use super::{ConnectionKind, ConnectionStatus, Tenant, TenantError};
use crate::store::entities::tenants;

/// What a verified `installed` callback tells Verdict about a site.
#[derive(Debug, Clone)]
pub struct ConnectInstall {
    pub client_key: String,
    pub shared_secret: String,
    pub site_url: String,
    pub display_url: Option<String>,
    pub installation_id: Option<String>,
    pub oauth_client_id: Option<String>,
}

fn secret_purpose(client_key: &str) -> String {
    format!("connect-shared-secret:{client_key}")
}

/// A readable, unique tenant name for a site: its URL without the scheme.
fn name_for(site_url: &str) -> String {
    site_url
        .split_once("://")
        .map(|(_, rest)| rest)
        .unwrap_or(site_url)
        .trim_end_matches('/')
        .to_owned()
}

pub async fn find_by_client_key(
    db: &DatabaseConnection,
    client_key: &str,
) -> Result<Option<tenants::Model>, TenantError> {
    Ok(tenants::Entity::find()
        .filter(tenants::Column::ClientKey.eq(client_key))
        .one(db)
        .await?)
}

/// Creates the tenant for a new install, or updates the existing one (same client key, or a
/// Connect-on-Forge install with the same installation id): always stores the new secret.
pub async fn upsert_install(
    db: &DatabaseConnection,
    secrets: &SecretBox,
    install: &ConnectInstall,
) -> Result<(Tenant, bool), TenantError> {
    let now = Utc::now();
    let sealed = secrets.seal(&secret_purpose(&install.client_key), &install.shared_secret);
    let mut existing = find_by_client_key(db, &install.client_key).await?;
    if existing.is_none()
        && let Some(id) = &install.installation_id
    {
        existing = tenants::Entity::find()
            .filter(tenants::Column::InstallationId.eq(id.as_str()))
            .one(db)
            .await?;
    }
    let (model, created) = match existing {
        Some(row) => {
            let mut active: tenants::ActiveModel = row.into();
            active.client_key = Set(Some(install.client_key.clone()));
            active.site_url = Set(Some(install.site_url.clone()));
            active.display_url = Set(install.display_url.clone());
            active.shared_secret = Set(Some(sealed));
            if install.installation_id.is_some() {
                active.installation_id = Set(install.installation_id.clone());
            }
            active.oauth_client_id = Set(install.oauth_client_id.clone());
            active.status = Set(ConnectionStatus::Active.as_str().to_owned());
            active.kind = Set(ConnectionKind::Connect.as_str().to_owned());
            active.installed_at = Set(Some(now));
            active.uninstalled_at = Set(None);
            active.updated_at = Set(Some(now));
            (active.update(db).await?, false)
        }
        None => {
            let base_name = name_for(&install.site_url);
            let taken = tenants::Entity::find()
                .filter(tenants::Column::Name.eq(base_name.as_str()))
                .one(db)
                .await?
                .is_some();
            let name = if taken {
                format!("{base_name} ({})", install.client_key)
            } else {
                base_name
            };
            let model = tenants::ActiveModel {
                id: Set(uuid::Uuid::now_v7().to_string()),
                name: Set(name),
                kind: Set(ConnectionKind::Connect.as_str().to_owned()),
                enabled: Set(true),
                created_at: Set(now),
                client_key: Set(Some(install.client_key.clone())),
                site_url: Set(Some(install.site_url.clone())),
                display_url: Set(install.display_url.clone()),
                shared_secret: Set(Some(sealed)),
                installation_id: Set(install.installation_id.clone()),
                oauth_client_id: Set(install.oauth_client_id.clone()),
                status: Set(ConnectionStatus::Active.as_str().to_owned()),
                installed_at: Set(Some(now)),
                uninstalled_at: Set(None),
                updated_at: Set(Some(now)),
                ..Default::default()
            };
            (model.insert(db).await?, true)
        }
    };
    Ok((model.try_into()?, created))
}

/// The decrypted shared secret of a Connect tenant.
pub fn shared_secret(secrets: &SecretBox, row: &tenants::Model) -> Result<String, TenantError> {
    let (Some(client_key), Some(sealed)) = (&row.client_key, &row.shared_secret) else {
        return Err(TenantError::Corrupt(
            "Connect tenant without a shared secret".into(),
        ));
    };
    secrets
        .open(&secret_purpose(client_key), sealed)
        .map_err(|e| TenantError::Corrupt(e.to_string()))
}

/// Applies a lifecycle status. A late `disabled`/`enabled` never resurrects an uninstalled
/// tenant: those callbacks can race the `uninstalled` one.
pub async fn set_status(
    db: &DatabaseConnection,
    row: tenants::Model,
    status: ConnectionStatus,
) -> Result<Tenant, TenantError> {
    let current = ConnectionStatus::parse(&row.status)?;
    if current == ConnectionStatus::Uninstalled && status != ConnectionStatus::Uninstalled {
        return row.try_into();
    }
    let now = Utc::now();
    let mut active: tenants::ActiveModel = row.into();
    active.status = Set(status.as_str().to_owned());
    active.updated_at = Set(Some(now));
    if status == ConnectionStatus::Uninstalled {
        active.uninstalled_at = Set(Some(now));
    }
    active.update(db).await?.try_into()
}

/// The credentials for Verdict's calls to a Connect tenant's site.
pub fn jira_auth(
    secrets: &SecretBox,
    row: &tenants::Model,
    app_key: &str,
) -> Result<crate::atlassian::JiraAuth, TenantError> {
    let site = row
        .site_url
        .as_deref()
        .ok_or_else(|| TenantError::Corrupt("Connect tenant without a site URL".into()))?;
    let site_url =
        url::Url::parse(site).map_err(|e| TenantError::Corrupt(format!("site URL: {e}")))?;
    Ok(crate::atlassian::JiraAuth::Connect {
        app_key: app_key.to_owned(),
        shared_secret: crate::config::Secret::new(shared_secret(secrets, row)?),
        site_url,
    })
}

/// Connect tenants and their decrypted shared secrets, by client key, for a short time: every
/// Connect-signed request needs them. Lifecycle changes forget an entry; a signature that fails
/// against a cached secret is checked again against the database, so a stale entry can delay
/// nothing but never refuse a genuine request.
pub struct ConnectCache(crate::cache::TtlCache<(tenants::Model, String)>);

impl ConnectCache {
    /// Most sites remembered at once.
    const MAX_SITES: usize = 10_000;

    pub fn new(ttl: std::time::Duration) -> Self {
        Self(crate::cache::TtlCache::new(ttl, Self::MAX_SITES))
    }

    pub fn get(&self, client_key: &str) -> Option<(tenants::Model, String)> {
        self.0.get(client_key)
    }

    pub fn put(&self, client_key: &str, tenant: tenants::Model, secret: String) {
        self.0.put(client_key, (tenant, secret));
    }

    pub fn forget(&self, client_key: &str) {
        self.0.forget(client_key);
    }
}
