use sea_orm::entity::prelude::*;

/// One uploaded version of a tenant's rule: the module, its precompiled artifact and state.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "rules")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub tenant_id: String,
    pub name: String,
    pub version: i32,
    /// Jira project key it is scoped to; `None` = tenant-wide.
    pub project: Option<String>,
    /// Comma-separated decision kinds the module exports.
    pub decisions: String,
    pub contract_version: String,
    pub sha256: String,
    pub size_bytes: i32,
    pub module: Vec<u8>,
    pub artifact: Vec<u8>,
    /// `active` or `inactive`.
    pub state: String,
    pub created_at: DateTimeUtc,
    pub activated_at: Option<DateTimeUtc>,
    /// `rust`, `javascript`, `python` or `unknown`; null until first loaded for versions
    /// uploaded before languages were recorded.
    pub language: Option<String>,
    /// The tools its producers sections name, comma-separated.
    pub toolchain: Option<String>,
    pub core_instances: Option<i32>,
    pub memories: Option<i32>,
    pub tables: Option<i32>,
    /// Which compiler made `artifact`: `baseline` (Winch, until the tier-up) or `optimized`.
    pub code_tier: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
