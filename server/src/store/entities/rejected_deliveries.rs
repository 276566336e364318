use sea_orm::entity::prelude::*;

/// A delivery refused as malformed (after its signature was verified), kept for the admin.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "rejected_deliveries")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub tenant_id: Option<String>,
    pub route: String,
    pub received_at: DateTimeUtc,
    pub reason: String,
    /// The first 4 KiB of the body.
    pub body_excerpt: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
