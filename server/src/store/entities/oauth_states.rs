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
    /// The admin key that started the flow.
    pub initiator_key_id: Option<String>,
    /// SHA-256 of the one-time token in the link the initiator opens (`/oauth/begin`).
    pub begin_hash: Option<String>,
    /// SHA-256 of the cookie set on the browser that opened the link; the callback must carry it.
    pub binder_hash: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
