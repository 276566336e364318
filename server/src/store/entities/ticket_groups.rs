use sea_orm::entity::prelude::*;

/// A group of findings that share one ticket (`ticket.group_by`): the ticket it has, or the
/// export job that claimed the right to create it (so one group never files two tickets).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "ticket_groups")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: String,
    /// `vulnerability:<id>`, `rule:<id>` or `package:<repository>/<package>`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub group_key: String,
    pub issue_id: Option<String>,
    pub issue_key: Option<String>,
    pub project_key: Option<String>,
    /// The export job creating the group's ticket, while it does.
    pub claimed_by: Option<String>,
    pub claimed_at: Option<DateTimeUtc>,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
