use sea_orm::entity::prelude::*;

/// A verified webhook delivery, stored before it was acknowledged.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "webhook_deliveries")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub tenant_id: String,
    pub identifier: String,
    pub retry_count: i32,
    pub event: String,
    /// How it arrived: `connect`, `oauth`, `hmac`.
    pub source: String,
    pub received_at: DateTimeUtc,
    pub body: String,
    /// `pending`, `processing`, `done`, `ignored`, `failed`.
    pub state: String,
    pub attempts: i32,
    pub lease_until: Option<DateTimeUtc>,
    pub processed_at: Option<DateTimeUtc>,
    pub outcome: Option<String>,
    /// The worker holding the lease.
    pub lease_owner: Option<String>,
    /// When a waiting delivery may be claimed (next: its retry; while leased: the lease's
    /// end); null once finished.
    pub due_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
