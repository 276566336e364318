use sea_orm::entity::prelude::*;

/// An epic Verdict created for a group of tickets (`repository:<name>`, or `chosen:<key>` for a key an export or a ticketing rule chose) in one project.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "ticket_epics")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub project_key: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub group_key: String,
    pub epic_id: String,
    pub epic_key: String,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
