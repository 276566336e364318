use sea_orm::entity::prelude::*;

/// A native Forge installation of Verdict on a site, and the app system token it last handed
/// over (encrypted, tenants::secrets).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "forge_installations")]
pub struct Model {
    /// `ari:cloud:ecosystem::installation/<uuid>`: new on every (re)install.
    #[sea_orm(primary_key, auto_increment = false)]
    pub installation_id: String,
    pub tenant_id: String,
    pub cloud_id: String,
    /// The invocation token's `app.apiBaseUrl` (`https://api.atlassian.com/ex/jira/<cloudId>`).
    pub api_base_url: String,
    pub app_version: Option<String>,
    /// `active` or `uninstalled` (tenants::forge::InstallationStatus).
    pub status: String,
    pub system_token: Option<String>,
    pub token_expires_at: Option<DateTimeUtc>,
    pub installed_at: DateTimeUtc,
    pub uninstalled_at: Option<DateTimeUtc>,
    pub updated_at: DateTimeUtc,
    /// When the scheduled trigger last started a reconciliation of the tenant's tickets.
    pub reconciled_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
