use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "findings")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub tenant_id: String,
    pub external_id: String,
    pub title: String,
    pub description: Option<String>,
    pub severity: String,
    pub score: Option<f64>,
    pub cvss_vector: Option<String>,
    pub cvss_score: Option<f64>,
    /// JSON array of CWE numbers.
    pub cwe_ids: Json,
    pub scan_type: Option<String>,
    pub repository: Option<String>,
    pub file_path: Option<String>,
    pub line: Option<i32>,
    pub code_snippet: Option<String>,
    pub is_secret: bool,
    /// JSON array of strings.
    pub tags: Json,
    pub status: String,
    /// SHA-256 of the scanner-provided fields: re-imports compare it to tell unchanged from updated.
    pub content_hash: String,
    /// The scanner's rule (check) id.
    pub rule_id: Option<String>,
    /// The affected package (`name` or `ecosystem:name`).
    pub package: Option<String>,
    /// JSON array of vulnerability ids (`CVE-…`, `GHSA-…`); `NULL` when none.
    pub vulnerability_ids: Option<Json>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
