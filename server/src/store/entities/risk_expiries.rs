use sea_orm::entity::prelude::*;

/// When a finding's accepted risk runs out (it reopens then).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "risk_expiries")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub finding_id: String,
    pub tenant_id: String,
    pub expires_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
