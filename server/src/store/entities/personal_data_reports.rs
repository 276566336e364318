use sea_orm::entity::prelude::*;

/// A tenant's last report to Atlassian's personal data reporting API (one row per tenant).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "personal_data_reports")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: String,
    pub reported_at: DateTimeUtc,
    /// Account ids reported.
    pub accounts: i64,
    /// Of those, closed (and pseudonymised here).
    pub closed: i64,
    /// Of those, with a changed profile (Verdict keeps no profile data: nothing to refresh).
    pub updated: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
