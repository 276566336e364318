//! Tenants of native Forge installations. An invocation's installation id (signed in its token)
//! finds its tenant; an installation Verdict has not seen reattaches the tenant that already
//! holds its site — Forge gives a reinstall a new id, and a Connect tenant of the site becomes
//! the Forge tenant — or creates one. The app system token every invocation carries is kept
//! encrypted in the database until it expires, so a restart and every replica can use it.

use std::collections::HashMap;
use std::sync::Mutex;

use chrono::{DateTime, Duration, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, Set,
    TransactionTrait,
};
use url::Url;

use super::secrets::SecretBox;
use super::{ConnectionKind, ConnectionStatus, TenantError};
use crate::atlassian::JiraAuth;
use crate::config::Secret;
use crate::store::Store;
use crate::store::entities::{forge_installations as fi, tenants};

/// Forge promises an app system token stays valid for at least this long after it is handed
/// over; Verdict uses it for no longer.
pub const SYSTEM_TOKEN_LIFETIME_MINUTES: i64 = 55;
/// The manifest's scheduled trigger (`interval: fiveMinute`) brings a fresh token at least this
/// often, so a quiet site never goes longer without one.
pub const SCHEDULED_TRIGGER_MINUTES: i64 = 5;
/// A token with less than this left is not handed to a call that may still take a while.
const TOKEN_MARGIN_SECS: i64 = 30;

/// Whether an installation is live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InstallationStatus {
    Active,
    Uninstalled,
}

impl InstallationStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Uninstalled => "uninstalled",
        }
    }

    pub fn parse(s: &str) -> Result<Self, TenantError> {
        match s {
            "active" => Ok(Self::Active),
            "uninstalled" => Ok(Self::Uninstalled),
            other => Err(TenantError::Corrupt(format!(
                "unknown Forge installation status `{other}`"
            ))),
        }
    }
}

/// Who a verified Forge invocation comes from (all of it read from the signed token).
#[derive(Debug, Clone)]
pub struct ForgeSite {
    pub installation_id: String,
    pub cloud_id: String,
    pub api_base_url: Url,
}

impl ForgeSite {
    /// From the token's `app.installationId` and `app.apiBaseUrl`
    /// (`https://api.atlassian.com/ex/jira/<cloudId>`): the cloud id is its last segment.
    pub fn from_token(installation_id: &str, api_base_url: &str) -> Result<Self, ForgeTenantError> {
        let url = Url::parse(api_base_url)
            .map_err(|_| ForgeTenantError::BadApiBaseUrl(api_base_url.to_owned()))?;
        let segments: Vec<&str> = url
            .path_segments()
            .map(|s| s.filter(|x| !x.is_empty()).collect())
            .unwrap_or_default();
        let cloud_id = match segments.as_slice() {
            [.., "ex", "jira", cloud] => (*cloud).to_owned(),
            _ => return Err(ForgeTenantError::BadApiBaseUrl(api_base_url.to_owned())),
        };
        if installation_id.is_empty() || installation_id.len() > 200 {
            return Err(ForgeTenantError::BadInstallationId);
        }
        Ok(Self {
            installation_id: installation_id.to_owned(),
            cloud_id,
            api_base_url: url,
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ForgeTenantError {
    #[error("Forge installation {0} was uninstalled; install the app again")]
    Uninstalled(String),
    #[error(
        "the invocation token's apiBaseUrl `{0}` is not a Jira gateway URL (…/ex/jira/<cloudId>)"
    )]
    BadApiBaseUrl(String),
    #[error("the invocation token has no usable installation id")]
    BadInstallationId,
    #[error(transparent)]
    Tenant(#[from] TenantError),
    #[error("database error: {0}")]
    Db(#[from] sea_orm::DbErr),
}

/// How an installation came to its tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attachment {
    /// Verdict knew this installation.
    Known,
    /// A new site: a new tenant.
    Created,
    /// A new installation on a site whose tenant Verdict keeps (a reinstall).
    Reinstalled,
    /// The site's Connect tenant became the Forge tenant, with all its data.
    MigratedFromConnect,
}

impl Attachment {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Known => "known",
            Self::Created => "created",
            Self::Reinstalled => "reinstalled",
            Self::MigratedFromConnect => "migrated_from_connect",
        }
    }
}

/// The tenant of a known installation; an uninstalled installation is an error (a late event
/// never brings it back; a reinstall comes with a new installation id).
pub async fn known(
    db: &DatabaseConnection,
    installation_id: &str,
) -> Result<Option<String>, ForgeTenantError> {
    let Some(row) = fi::Entity::find_by_id(installation_id).one(db).await? else {
        return Ok(None);
    };
    match InstallationStatus::parse(&row.status)? {
        InstallationStatus::Active => Ok(Some(row.tenant_id)),
        InstallationStatus::Uninstalled => Err(ForgeTenantError::Uninstalled(row.installation_id)),
    }
}

fn same_site(a: &str, b: &str) -> bool {
    a.trim_end_matches('/')
        .eq_ignore_ascii_case(b.trim_end_matches('/'))
}

/// Attaches a new installation to its tenant: the tenant of an earlier installation on the same
/// cloud id (a reinstall), else the Connect tenant of `site_url` (the site Jira's `serverInfo`
/// names), else a new tenant. One transaction; a concurrent first invocation of the same
/// installation finds the row the other wrote.
pub async fn attach(
    store: &Store,
    site: &ForgeSite,
    site_url: &str,
    app_version: Option<&str>,
) -> Result<(String, Attachment), ForgeTenantError> {
    let db = store.db();
    let _gate = store.write_lock().await;
    let txn = db.begin().await?;
    if let Some(row) = fi::Entity::find_by_id(&site.installation_id)
        .one(&txn)
        .await?
    {
        return match InstallationStatus::parse(&row.status)? {
            InstallationStatus::Active => Ok((row.tenant_id, Attachment::Known)),
            InstallationStatus::Uninstalled => {
                Err(ForgeTenantError::Uninstalled(row.installation_id))
            }
        };
    }
    let now = Utc::now();
    let earlier = fi::Entity::find()
        .filter(fi::Column::CloudId.eq(&site.cloud_id))
        .order_by_desc(fi::Column::InstalledAt)
        .one(&txn)
        .await?;
    let connect = if earlier.is_none() {
        tenants::Entity::find()
            .filter(tenants::Column::Kind.eq(ConnectionKind::Connect.as_str()))
            .all(&txn)
            .await?
            .into_iter()
            .find(|t| {
                t.site_url
                    .as_deref()
                    .is_some_and(|u| same_site(u, site_url))
            })
    } else {
        None
    };
    let (tenant_id, how) = match (earlier, connect) {
        (Some(e), _) => (e.tenant_id, Attachment::Reinstalled),
        (None, Some(t)) => (t.id, Attachment::MigratedFromConnect),
        (None, None) => {
            let base = site_url
                .split_once("://")
                .map_or(site_url, |(_, rest)| rest)
                .trim_end_matches('/')
                .to_owned();
            let taken = tenants::Entity::find()
                .filter(tenants::Column::Name.eq(base.as_str()))
                .one(&txn)
                .await?
                .is_some();
            let name = if taken {
                format!("{base} (forge {})", &site.cloud_id)
            } else {
                base
            };
            let id = uuid::Uuid::now_v7().to_string();
            tenants::ActiveModel {
                id: Set(id.clone()),
                name: Set(name),
                kind: Set(ConnectionKind::Forge.as_str().to_owned()),
                enabled: Set(true),
                created_at: Set(now),
                status: Set(ConnectionStatus::Active.as_str().to_owned()),
                ..Default::default()
            }
            .insert(&txn)
            .await?;
            (id, Attachment::Created)
        }
    };
    // Earlier installations of the site are over: only one is live.
    fi::Entity::update_many()
        .col_expr(
            fi::Column::Status,
            sea_orm::sea_query::Expr::value(InstallationStatus::Uninstalled.as_str()),
        )
        .col_expr(
            fi::Column::SystemToken,
            sea_orm::sea_query::Expr::value(Option::<String>::None),
        )
        .filter(fi::Column::TenantId.eq(&tenant_id))
        .filter(fi::Column::Status.eq(InstallationStatus::Active.as_str()))
        .exec(&txn)
        .await?;
    fi::ActiveModel {
        installation_id: Set(site.installation_id.clone()),
        tenant_id: Set(tenant_id.clone()),
        cloud_id: Set(site.cloud_id.clone()),
        api_base_url: Set(site.api_base_url.to_string()),
        app_version: Set(app_version.map(str::to_owned)),
        status: Set(InstallationStatus::Active.as_str().to_owned()),
        system_token: Set(None),
        token_expires_at: Set(None),
        installed_at: Set(now),
        uninstalled_at: Set(None),
        updated_at: Set(now),
        reconciled_at: Set(None),
    }
    .insert(&txn)
    .await?;
    let row = tenants::Entity::find_by_id(&tenant_id)
        .one(&txn)
        .await?
        .ok_or_else(|| TenantError::NotFound(tenant_id.clone()))?;
    let mut t: tenants::ActiveModel = row.into();
    t.kind = Set(ConnectionKind::Forge.as_str().to_owned());
    t.installation_id = Set(Some(site.installation_id.clone()));
    t.site_url = Set(Some(site_url.trim_end_matches('/').to_owned()));
    t.status = Set(ConnectionStatus::Active.as_str().to_owned());
    t.installed_at = Set(Some(now));
    t.uninstalled_at = Set(None);
    t.updated_at = Set(Some(now));
    t.update(&txn).await?;
    txn.commit().await?;
    Ok((tenant_id, how))
}

/// Records an upgrade's app version.
pub async fn upgraded(
    store: &Store,
    installation_id: &str,
    version: Option<&str>,
) -> Result<(), ForgeTenantError> {
    let _gate = store.write_lock().await;
    if let Some(row) = fi::Entity::find_by_id(installation_id)
        .one(store.db())
        .await?
    {
        let mut a: fi::ActiveModel = row.into();
        a.app_version = Set(version.map(str::to_owned));
        a.updated_at = Set(Utc::now());
        a.update(store.db()).await?;
    }
    Ok(())
}

/// Marks the installation and its tenant uninstalled (data kept until the retention purge) and
/// forgets its system token. Returns the tenant, when Verdict knew the installation.
pub async fn uninstalled(
    store: &Store,
    installation_id: &str,
) -> Result<Option<String>, ForgeTenantError> {
    let _gate = store.write_lock().await;
    let txn = store.db().begin().await?;
    let Some(row) = fi::Entity::find_by_id(installation_id).one(&txn).await? else {
        return Ok(None);
    };
    let now = Utc::now();
    let tenant_id = row.tenant_id.clone();
    let mut a: fi::ActiveModel = row.into();
    a.status = Set(InstallationStatus::Uninstalled.as_str().to_owned());
    a.system_token = Set(None);
    a.token_expires_at = Set(None);
    a.uninstalled_at = Set(Some(now));
    a.updated_at = Set(now);
    a.update(&txn).await?;
    // The tenant follows only if this was its current installation.
    if let Some(t) = tenants::Entity::find_by_id(&tenant_id).one(&txn).await?
        && t.installation_id.as_deref() == Some(installation_id)
    {
        let mut t: tenants::ActiveModel = t.into();
        t.status = Set(ConnectionStatus::Uninstalled.as_str().to_owned());
        t.uninstalled_at = Set(Some(now));
        t.updated_at = Set(Some(now));
        t.update(&txn).await?;
    }
    txn.commit().await?;
    Ok(Some(tenant_id))
}

fn token_purpose(installation_id: &str) -> String {
    format!("forge-system-token:{installation_id}")
}

#[derive(Clone)]
struct Held {
    installation_id: String,
    token: Secret,
    api_base_url: Url,
    until: DateTime<Utc>,
}

/// The app system tokens of Forge tenants: written to the database (encrypted) when a new one
/// arrives, read from it by any replica, kept in memory so that every call does not decrypt.
#[derive(Default)]
pub struct SystemTokens {
    held: Mutex<HashMap<String, Held>>,
}

impl SystemTokens {
    /// Keeps the token an invocation brought (valid for [`SYSTEM_TOKEN_LIFETIME_MINUTES`] from
    /// `now`), unless this replica holds one with more than half its life left. Returns true
    /// when the tenant had no valid token before this one (work waiting for it can go now).
    pub async fn remember(
        &self,
        store: &Store,
        secrets: &SecretBox,
        tenant_id: &str,
        site: &ForgeSite,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, ForgeTenantError> {
        let until = now + Duration::minutes(SYSTEM_TOKEN_LIFETIME_MINUTES);
        // A token this replica holds with more than half its life left serves as well as a new
        // one: at most a couple of writes an hour per tenant, however many events arrive.
        let fresh_enough = {
            let held = self.held.lock().unwrap_or_else(|e| e.into_inner());
            held.get(tenant_id).is_some_and(|h| {
                h.installation_id == site.installation_id
                    && h.until > now + Duration::minutes(SYSTEM_TOKEN_LIFETIME_MINUTES / 2)
            })
        };
        if fresh_enough {
            return Ok(false);
        }
        let had_valid = fi::Entity::find_by_id(&site.installation_id)
            .one(store.db())
            .await?
            .is_some_and(|r| {
                r.system_token.is_some()
                    && r.token_expires_at
                        .is_some_and(|u| u > now + Duration::seconds(TOKEN_MARGIN_SECS))
            });
        {
            let _gate = store.write_lock().await;
            fi::Entity::update_many()
                .col_expr(
                    fi::Column::SystemToken,
                    sea_orm::sea_query::Expr::value(
                        secrets.seal(&token_purpose(&site.installation_id), token),
                    ),
                )
                .col_expr(
                    fi::Column::TokenExpiresAt,
                    sea_orm::sea_query::Expr::value(until),
                )
                .col_expr(
                    fi::Column::ApiBaseUrl,
                    sea_orm::sea_query::Expr::value(site.api_base_url.to_string()),
                )
                .col_expr(fi::Column::UpdatedAt, sea_orm::sea_query::Expr::value(now))
                .filter(fi::Column::InstallationId.eq(&site.installation_id))
                .filter(fi::Column::Status.eq(InstallationStatus::Active.as_str()))
                .exec(store.db())
                .await?;
        }
        self.held.lock().unwrap_or_else(|e| e.into_inner()).insert(
            tenant_id.to_owned(),
            Held {
                installation_id: site.installation_id.clone(),
                token: Secret::new(token),
                api_base_url: site.api_base_url.clone(),
                until,
            },
        );
        Ok(!had_valid)
    }

    /// Forgets what this replica holds for the tenant (uninstalled).
    pub fn forget(&self, tenant_id: &str) {
        self.held
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(tenant_id);
    }

    /// Credentials for a Forge tenant's next call: the newest system token any replica stored,
    /// while it is valid; `None` when there is none (the next invocation brings one).
    pub async fn jira_auth(
        &self,
        db: &DatabaseConnection,
        secrets: &SecretBox,
        tenant_id: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<JiraAuth>, ForgeTenantError> {
        let usable = |until: DateTime<Utc>| until > now + Duration::seconds(TOKEN_MARGIN_SECS);
        if let Some(h) = self
            .held
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(tenant_id)
            .filter(|h| usable(h.until))
        {
            return Ok(Some(JiraAuth::ForgeSystemToken {
                token: h.token.clone(),
                api_base_url: h.api_base_url.clone(),
            }));
        }
        let Some(row) = fi::Entity::find()
            .filter(fi::Column::TenantId.eq(tenant_id))
            .filter(fi::Column::Status.eq(InstallationStatus::Active.as_str()))
            .order_by_desc(fi::Column::InstalledAt)
            .one(db)
            .await?
        else {
            return Ok(None);
        };
        let (Some(sealed), Some(until)) = (&row.system_token, row.token_expires_at) else {
            return Ok(None);
        };
        if !usable(until) {
            return Ok(None);
        }
        let token = secrets
            .open(&token_purpose(&row.installation_id), sealed)
            .map_err(|e| TenantError::Corrupt(format!("Forge system token: {e}")))?;
        let api_base_url = Url::parse(&row.api_base_url)
            .map_err(|e| TenantError::Corrupt(format!("Forge apiBaseUrl: {e}")))?;
        let held = Held {
            installation_id: row.installation_id,
            token: Secret::new(token),
            api_base_url,
            until,
        };
        let auth = JiraAuth::ForgeSystemToken {
            token: held.token.clone(),
            api_base_url: held.api_base_url.clone(),
        };
        self.held
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(tenant_id.to_owned(), held);
        Ok(Some(auth))
    }
}

/// How often the scheduled trigger reconciles a Forge tenant's linked tickets.
pub const RECONCILE_EVERY_MINUTES: i64 = 60;

/// Whether this invocation of the scheduled trigger should start the tenant's reconciliation:
/// true for exactly one caller per [`RECONCILE_EVERY_MINUTES`], whichever replica it reaches.
pub async fn claim_reconciliation(
    store: &Store,
    tenant_id: &str,
    now: DateTime<Utc>,
) -> Result<bool, sea_orm::DbErr> {
    use sea_orm::sea_query::{Condition, Expr};
    let _gate = store.write_lock().await;
    let due = now - Duration::minutes(RECONCILE_EVERY_MINUTES);
    let claimed = fi::Entity::update_many()
        .col_expr(fi::Column::ReconciledAt, Expr::value(now))
        .filter(fi::Column::TenantId.eq(tenant_id))
        .filter(fi::Column::Status.eq(InstallationStatus::Active.as_str()))
        .filter(
            Condition::any()
                .add(fi::Column::ReconciledAt.is_null())
                .add(fi::Column::ReconciledAt.lt(due)),
        )
        .exec(store.db())
        .await?;
    Ok(claimed.rows_affected > 0)
}

/// A Forge tenant's installation as the admin sees it.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct InstallationView {
    pub installation_id: String,
    pub cloud_id: String,
    pub app_version: Option<String>,
    pub installed_at: DateTime<Utc>,
    /// Until when Verdict can call Jira without a new invocation; `None`: it cannot now.
    pub token_valid_until: Option<DateTime<Utc>>,
}

/// The tenant's live installation, if it has one.
pub async fn installation(
    db: &DatabaseConnection,
    tenant_id: &str,
) -> Result<Option<InstallationView>, sea_orm::DbErr> {
    let now = Utc::now();
    Ok(fi::Entity::find()
        .filter(fi::Column::TenantId.eq(tenant_id))
        .filter(fi::Column::Status.eq(InstallationStatus::Active.as_str()))
        .order_by_desc(fi::Column::InstalledAt)
        .one(db)
        .await?
        .map(|r| InstallationView {
            installation_id: r.installation_id,
            cloud_id: r.cloud_id,
            app_version: r.app_version,
            installed_at: r.installed_at,
            token_valid_until: r
                .token_expires_at
                .filter(|u| *u > now && r.system_token.is_some()),
        }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cloud_id_comes_from_the_gateway_url() {
        let s = ForgeSite::from_token(
            "ari:cloud:ecosystem::installation/1",
            "https://api.atlassian.com/ex/jira/a436116f-02ce-4520-8fbb-7301462a1674",
        )
        .unwrap();
        assert_eq!(s.cloud_id, "a436116f-02ce-4520-8fbb-7301462a1674");
        assert!(ForgeSite::from_token("i", "http://127.0.0.1:9/api/ex/jira/c1/").is_ok());
        assert!(matches!(
            ForgeSite::from_token("i", "https://acme.atlassian.net"),
            Err(ForgeTenantError::BadApiBaseUrl(_))
        ));
        assert!(matches!(
            ForgeSite::from_token("", "https://api.atlassian.com/ex/jira/c1"),
            Err(ForgeTenantError::BadInstallationId)
        ));
    }
}
