use sea_orm::entity::prelude::*;

/// One outbound Jira action. `state`: pending → processing (leased) → done | failed.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "outbox_jobs")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub tenant_id: String,
    /// `create_issue`, `sync_status`, `comment`, `remote_link`.
    pub kind: String,
    pub finding_id: Option<String>,
    /// Set for jobs queued by one bulk request, to report on them together.
    pub bulk_id: Option<String>,
    /// The job's parameters as JSON.
    pub payload: String,
    pub state: String,
    pub attempts: i32,
    pub next_attempt_at: DateTimeUtc,
    pub lease_until: Option<DateTimeUtc>,
    pub lease_owner: Option<String>,
    pub last_error: Option<String>,
    pub outcome: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
