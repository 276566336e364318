//! Tenants (one Jira site or connection each) and their API keys.
//! A key's secret is shown once at creation; only its SHA-256 is stored and compared.

use std::fmt;
use std::str::FromStr;

use base64::Engine as _;
use chrono::Utc;
use rand::RngCore;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder,
    Set, SqlErr,
};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::store::entities::{api_keys, tenants};

pub mod connect;
pub mod credentials;
pub mod data;
pub mod forge;
pub mod health;
pub mod privacy;
pub mod secrets;

/// Every key starts with this, so leaked keys are recognisable by secret scanners.
pub const API_KEY_PREFIX: &str = "vdk_";
const PREFIX_SHOWN: usize = 12;

#[derive(Debug, thiserror::Error)]
pub enum TenantError {
    #[error("tenant `{0}` not found")]
    NotFound(String),
    #[error("a tenant named `{0}` already exists")]
    NameTaken(String),
    #[error("invalid tenant name: {0}")]
    InvalidName(&'static str),
    #[error("API key `{0}` not found for this tenant")]
    KeyNotFound(String),
    #[error("API key `{0}` is already revoked")]
    KeyAlreadyRevoked(String),
    #[error("missing API key")]
    MissingKey,
    #[error("invalid or revoked API key")]
    InvalidKey,
    /// Answered like [`TenantError::InvalidKey`]; the tenant is for counting the refusal.
    #[error("invalid or revoked API key")]
    RevokedKey { tenant: String },
    #[error("tenant is disabled")]
    TenantDisabled { tenant: String },
    /// The app was uninstalled from the tenant's Jira site; its data is kept (for a reinstall
    /// or an export) but nothing acts for it.
    #[error(
        "the tenant's Jira app is uninstalled; reinstall Verdict on the site to use its API keys again"
    )]
    TenantUninstalled { tenant: String },
    #[error("unknown API key scope `{0}` (scanner or admin)")]
    UnknownScope(String),
    #[error("stored tenant data is corrupt: {0}")]
    Corrupt(String),
    #[error("database error: {0}")]
    Db(#[from] DbErr),
}

/// How a tenant is connected to Atlassian. Filled in by the connectivity work; `Standalone`
/// tenants use the findings API only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
#[value(rename_all = "snake_case")]
pub enum ConnectionKind {
    Standalone,
    Connect,
    Forge,
    Oauth2,
    ApiToken,
    DataCenterPat,
}

impl ConnectionKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ConnectionKind::Standalone => "standalone",
            ConnectionKind::Connect => "connect",
            ConnectionKind::Forge => "forge",
            ConnectionKind::Oauth2 => "oauth2",
            ConnectionKind::ApiToken => "api_token",
            ConnectionKind::DataCenterPat => "data_center_pat",
        }
    }
}

impl fmt::Display for ConnectionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ConnectionKind {
    type Err = TenantError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        <Self as clap::ValueEnum>::value_variants()
            .iter()
            .copied()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| TenantError::Corrupt(format!("unknown connection kind `{s}`")))
    }
}

/// The state of a tenant's link to Atlassian, driven by the lifecycle callbacks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ConnectionStatus {
    Active,
    Disabled,
    Uninstalled,
}

impl ConnectionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ConnectionStatus::Active => "active",
            ConnectionStatus::Disabled => "disabled",
            ConnectionStatus::Uninstalled => "uninstalled",
        }
    }

    pub fn parse(s: &str) -> Result<Self, TenantError> {
        match s {
            "active" => Ok(ConnectionStatus::Active),
            "disabled" => Ok(ConnectionStatus::Disabled),
            "uninstalled" => Ok(ConnectionStatus::Uninstalled),
            other => Err(TenantError::Corrupt(format!(
                "unknown connection status `{other}`"
            ))),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Tenant {
    pub id: String,
    pub name: String,
    pub kind: ConnectionKind,
    /// An admin switch in Verdict: a disabled tenant's API keys stop working.
    pub enabled: bool,
    /// The Atlassian side: installed, disabled or uninstalled there.
    pub status: ConnectionStatus,
    pub site_url: Option<String>,
    pub client_key: Option<String>,
    pub installation_id: Option<String>,
    pub created_at: chrono::DateTime<Utc>,
    pub installed_at: Option<chrono::DateTime<Utc>>,
    pub uninstalled_at: Option<chrono::DateTime<Utc>>,
}

impl TryFrom<tenants::Model> for Tenant {
    type Error = TenantError;

    fn try_from(m: tenants::Model) -> Result<Self, Self::Error> {
        Ok(Tenant {
            kind: m.kind.parse()?,
            status: ConnectionStatus::parse(&m.status)?,
            id: m.id,
            name: m.name,
            enabled: m.enabled,
            site_url: m.site_url,
            client_key: m.client_key,
            installation_id: m.installation_id,
            created_at: m.created_at,
            installed_at: m.installed_at,
            uninstalled_at: m.uninstalled_at,
        })
    }
}

/// What an API key may do. A scanner key imports and reads findings and nothing else; an admin
/// key also manages settings, rules, connections, exports and jobs. Keys made before scopes
/// existed are admin keys.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Serialize,
    serde::Deserialize,
    clap::ValueEnum,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum KeyScope {
    Scanner,
    Admin,
}

impl KeyScope {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyScope::Scanner => "scanner",
            KeyScope::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Result<Self, TenantError> {
        match s {
            "scanner" => Ok(KeyScope::Scanner),
            "admin" => Ok(KeyScope::Admin),
            other => Err(TenantError::UnknownScope(other.to_owned())),
        }
    }

    fn stored(s: &str) -> Result<Self, TenantError> {
        Self::parse(s).map_err(|_| TenantError::Corrupt(format!("unknown key scope `{s}`")))
    }
}

/// A freshly created key: `secret` exists only here and is never stored.
#[derive(Debug, Serialize)]
pub struct NewApiKey {
    pub id: String,
    pub tenant_id: String,
    pub name: String,
    pub prefix: String,
    pub scope: KeyScope,
    pub secret: String,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ApiKeyInfo {
    pub id: String,
    pub name: String,
    pub prefix: String,
    pub scope: KeyScope,
    pub created_at: chrono::DateTime<Utc>,
    pub revoked_at: Option<chrono::DateTime<Utc>>,
}

impl TryFrom<api_keys::Model> for ApiKeyInfo {
    type Error = TenantError;

    fn try_from(k: api_keys::Model) -> Result<Self, TenantError> {
        Ok(ApiKeyInfo {
            scope: KeyScope::stored(&k.scope)?,
            id: k.id,
            name: k.name,
            prefix: k.prefix,
            created_at: k.created_at,
            revoked_at: k.revoked_at,
        })
    }
}

/// Who made an authenticated API request.
#[derive(Debug, Clone)]
pub struct ApiPrincipal {
    pub tenant_id: String,
    pub key_id: String,
    pub scope: KeyScope,
}

pub async fn create_tenant(
    db: &DatabaseConnection,
    name: &str,
    kind: ConnectionKind,
) -> Result<Tenant, TenantError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(TenantError::InvalidName("must not be empty"));
    }
    if name.chars().count() > 200 {
        return Err(TenantError::InvalidName("must be at most 200 characters"));
    }
    let model = tenants::ActiveModel {
        id: Set(uuid::Uuid::now_v7().to_string()),
        name: Set(name.to_owned()),
        kind: Set(kind.as_str().to_owned()),
        enabled: Set(true),
        created_at: Set(Utc::now()),
        status: Set(ConnectionStatus::Active.as_str().to_owned()),
        ..Default::default()
    };
    match model.insert(db).await {
        Ok(m) => m.try_into(),
        Err(e) if matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) => {
            Err(TenantError::NameTaken(name.to_owned()))
        }
        Err(e) => Err(e.into()),
    }
}

pub async fn list_tenants(db: &DatabaseConnection) -> Result<Vec<Tenant>, TenantError> {
    tenants::Entity::find()
        .order_by_asc(tenants::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(Tenant::try_from)
        .collect()
}

/// Finds a tenant by id or, failing that, by name (what an operator types on the CLI).
pub async fn find_tenant(db: &DatabaseConnection, id_or_name: &str) -> Result<Tenant, TenantError> {
    let found = tenants::Entity::find()
        .filter(
            tenants::Column::Id
                .eq(id_or_name)
                .or(tenants::Column::Name.eq(id_or_name)),
        )
        .one(db)
        .await?;
    found
        .ok_or_else(|| TenantError::NotFound(id_or_name.to_owned()))?
        .try_into()
}

pub async fn create_api_key<C: sea_orm::ConnectionTrait>(
    db: &C,
    tenant: &Tenant,
    name: &str,
    scope: KeyScope,
) -> Result<NewApiKey, TenantError> {
    let mut raw = [0u8; 32];
    rand::rng().fill_bytes(&mut raw);
    let secret = format!(
        "{API_KEY_PREFIX}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
    );
    let prefix: String = secret.chars().take(PREFIX_SHOWN).collect();
    let id = uuid::Uuid::now_v7().to_string();
    api_keys::ActiveModel {
        id: Set(id.clone()),
        tenant_id: Set(tenant.id.clone()),
        name: Set(name.to_owned()),
        prefix: Set(prefix.clone()),
        key_hash: Set(hash_key(&secret)),
        created_at: Set(Utc::now()),
        revoked_at: Set(None),
        scope: Set(scope.as_str().to_owned()),
    }
    .insert(db)
    .await?;
    Ok(NewApiKey {
        id,
        tenant_id: tenant.id.clone(),
        name: name.to_owned(),
        prefix,
        scope,
        secret,
    })
}

pub async fn list_api_keys(
    db: &DatabaseConnection,
    tenant: &Tenant,
) -> Result<Vec<ApiKeyInfo>, TenantError> {
    api_keys::Entity::find()
        .filter(api_keys::Column::TenantId.eq(&tenant.id))
        .order_by_asc(api_keys::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(ApiKeyInfo::try_from)
        .collect()
}

async fn find_key<C: sea_orm::ConnectionTrait>(
    db: &C,
    tenant: &Tenant,
    key: &str,
) -> Result<api_keys::Model, TenantError> {
    api_keys::Entity::find()
        .filter(api_keys::Column::TenantId.eq(&tenant.id))
        .filter(
            api_keys::Column::Id
                .eq(key)
                .or(api_keys::Column::Prefix.eq(key)),
        )
        .one(db)
        .await?
        .ok_or_else(|| TenantError::KeyNotFound(key.to_owned()))
}

/// Revokes a key by id or by its shown prefix; it stops working on the next request.
pub async fn revoke_api_key<C: sea_orm::ConnectionTrait>(
    db: &C,
    tenant: &Tenant,
    key: &str,
) -> Result<ApiKeyInfo, TenantError> {
    let found = find_key(db, tenant, key).await?;
    if found.revoked_at.is_some() {
        return Err(TenantError::KeyAlreadyRevoked(key.to_owned()));
    }
    let mut active: api_keys::ActiveModel = found.into();
    active.revoked_at = Set(Some(Utc::now()));
    active.update(db).await?.try_into()
}

/// Changes a key's scope (by id or shown prefix), e.g. narrowing an old admin key to a scanner
/// key; it applies from the key's next request. Returns the key before and after.
pub async fn set_api_key_scope<C: sea_orm::ConnectionTrait>(
    db: &C,
    tenant: &Tenant,
    key: &str,
    scope: KeyScope,
) -> Result<(ApiKeyInfo, ApiKeyInfo), TenantError> {
    let found = find_key(db, tenant, key).await?;
    let before = ApiKeyInfo::try_from(found.clone())?;
    let mut active: api_keys::ActiveModel = found.into();
    active.scope = Set(scope.as_str().to_owned());
    Ok((before, active.update(db).await?.try_into()?))
}

/// Resolves a presented bearer secret to its tenant. Unknown, revoked and malformed keys all
/// fail the same way so a caller learns nothing about which keys exist.
pub async fn authenticate(
    db: &DatabaseConnection,
    secret: &str,
) -> Result<ApiPrincipal, TenantError> {
    if !secret.starts_with(API_KEY_PREFIX) || secret.len() > 128 {
        return Err(TenantError::InvalidKey);
    }
    let key = api_keys::Entity::find()
        .filter(api_keys::Column::KeyHash.eq(hash_key(secret)))
        .one(db)
        .await?
        .ok_or(TenantError::InvalidKey)?;
    if key.revoked_at.is_some() {
        return Err(TenantError::RevokedKey {
            tenant: key.tenant_id,
        });
    }
    let tenant = tenants::Entity::find_by_id(&key.tenant_id)
        .one(db)
        .await?
        .ok_or(TenantError::InvalidKey)?;
    if !tenant.enabled {
        return Err(TenantError::TenantDisabled { tenant: tenant.id });
    }
    if tenant.status == ConnectionStatus::Uninstalled.as_str() {
        return Err(TenantError::TenantUninstalled { tenant: tenant.id });
    }
    Ok(ApiPrincipal {
        tenant_id: key.tenant_id,
        key_id: key.id,
        scope: KeyScope::stored(&key.scope)?,
    })
}

/// Keys carry 256 random bits, so a plain SHA-256 is enough (no password-hash stretching needed)
/// and keeps per-request authentication cheap.
fn hash_key(secret: &str) -> String {
    let digest = Sha256::digest(secret.as_bytes());
    hex::encode(digest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_hash_is_hex_sha256() {
        assert_eq!(
            hash_key("foo"),
            "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae"
        );
    }

    #[test]
    fn connection_kinds_round_trip() {
        for k in <ConnectionKind as clap::ValueEnum>::value_variants() {
            assert_eq!(k.as_str().parse::<ConnectionKind>().unwrap(), *k);
        }
    }
}
