use sea_orm::entity::prelude::*;

/// Finding ↔ Jira issue. `issue_id` is the stable link; `issue_key` is refreshed when it moves.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "jira_links")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub tenant_id: String,
    pub finding_id: String,
    pub site: String,
    pub issue_id: String,
    pub issue_key: String,
    pub project_key: String,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    /// The ticket's due date as Verdict filed it (`YYYY-MM-DD`).
    pub due_date: Option<String>,
    /// When Verdict commented that the ticket passed its due date with the finding open.
    pub overdue_noted_at: Option<DateTimeUtc>,
    /// SHA-256 of the fields last sent by an update (a repeat with the same content is skipped).
    pub pushed_hash: Option<String>,
    /// The group whose ticket this is (`ticket_groups`), when findings share it.
    pub group_key: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
