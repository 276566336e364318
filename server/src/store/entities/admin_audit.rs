use sea_orm::entity::prelude::*;

/// One change made through the admin app: who (a Jira account or the operator), through
/// which door (Connect, Forge, the standalone page), what, and the value before and after.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "admin_audit")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub tenant_id: Option<String>,
    /// `jira_account` or `operator`.
    pub actor_kind: String,
    pub actor_id: String,
    /// `connect`, `forge` or `standalone`.
    pub via: String,
    pub action: String,
    pub target: Option<String>,
    /// JSON.
    pub old_value: Option<String>,
    /// JSON.
    pub new_value: Option<String>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
