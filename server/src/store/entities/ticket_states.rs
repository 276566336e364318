use sea_orm::entity::prelude::*;

/// The last change the closure pipeline applied for a ticket: older events never override it.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "ticket_states")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub issue_id: String,
    pub issue_key: String,
    /// The event's `timestamp` (ms since the epoch).
    pub last_event_at: i64,
    /// Jira's changelog id (numeric), the tie-breaker within one millisecond.
    pub last_changelog_id: i64,
    /// The status category it was left in: `new`, `indeterminate`, `done`.
    pub category: String,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
