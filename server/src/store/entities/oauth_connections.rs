use sea_orm::entity::prelude::*;

/// A tenant's OAuth 2.0 (3LO) connection. Tokens are encrypted (tenants::secrets).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "oauth_connections")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: String,
    pub cloud_id: String,
    pub site_url: String,
    pub scope: String,
    pub access_token: String,
    pub access_expires_at: DateTimeUtc,
    pub refresh_token: Option<String>,
    /// `connected`, `reconsent_needed` or `client_rejected`.
    pub status: String,
    pub last_error: Option<String>,
    pub updated_at: DateTimeUtc,
    /// JSON array of the dynamic webhook ids registered in Jira.
    pub webhook_ids: Option<Json>,
    pub webhooks_expire_at: Option<DateTimeUtc>,
    /// Why the last registration or refresh failed, for the admin.
    pub webhook_error: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
