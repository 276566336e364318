use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "tenants")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub name: String,
    pub kind: String,
    pub enabled: bool,
    pub created_at: DateTimeUtc,
    /// Connect `clientKey`: the tenant's identity in Atlassian's signed requests.
    pub client_key: Option<String>,
    /// The site's API base URL (the install payload's `baseUrl`).
    pub site_url: Option<String>,
    pub display_url: Option<String>,
    /// Encrypted (tenants::secrets); rotated on every install.
    pub shared_secret: Option<String>,
    /// Connect-on-Forge installation id, the key Forge Remote requests carry.
    pub installation_id: Option<String>,
    pub oauth_client_id: Option<String>,
    /// `active`, `disabled` or `uninstalled`.
    pub status: String,
    pub installed_at: Option<DateTimeUtc>,
    pub uninstalled_at: Option<DateTimeUtc>,
    pub updated_at: Option<DateTimeUtc>,
    /// Encrypted JSON credentials of API-token / PAT connections.
    pub credentials: Option<String>,
    /// Encrypted secret that signs this site's admin webhooks (`X-Hub-Signature`).
    pub webhook_secret: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
