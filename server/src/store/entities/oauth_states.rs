use sea_orm::entity::prelude::*;

/// An authorization request waiting for its callback: single use, short-lived.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "oauth_states")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub state: String,
    pub tenant_id: String,
    /// The PKCE verifier, encrypted.
    pub pkce_verifier: String,
    /// The site URL the admin asked for, when the grant covers several.
    pub site: Option<String>,
    pub expires_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
