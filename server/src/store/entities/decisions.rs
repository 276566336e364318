use sea_orm::entity::prelude::*;

/// One decision taken (closure, transition, ticketing): its full rule input and output, who
/// decided (a rule version or the default policy) and any rule error. Replay reads these.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "decisions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub tenant_id: String,
    pub kind: String,
    pub finding_id: Option<String>,
    pub issue_id: Option<String>,
    pub issue_key: Option<String>,
    /// `RuleInput` JSON.
    pub input: String,
    /// `RuleOutput` JSON (what was acted on).
    pub output: String,
    /// `rule`, `default` or `default_after_error`.
    pub source: String,
    pub rule_id: Option<String>,
    pub rule_name: Option<String>,
    pub rule_version: Option<i32>,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    pub created_at: DateTimeUtc,
    /// The webhook delivery that led to it, when one did.
    pub delivery_id: Option<String>,
    /// What the output says, kept as columns so the decision log filters without parsing
    /// JSON: `apply`, `skip`, `defer`, `take`, `none`, `create`.
    pub outcome: Option<String>,
    /// The status applied (closure), the transition id taken, or the project (ticketing).
    pub verdict: Option<String>,
    pub reason: Option<String>,
    pub confidence: Option<f64>,
    /// The Jira account that closed the ticket (closure decisions).
    pub actor: Option<String>,
    /// The ticket's resolution when it was closed (closure decisions).
    pub resolution: Option<String>,
    /// When a later scan reported the finding again after this decision resolved it.
    pub contradicted_at: Option<DateTimeUtc>,
    /// The import that contradicted it.
    pub contradicted_by: Option<String>,
    /// What the host noted while gathering the input (e.g. a link to another site it did not
    /// follow), as a JSON array of sentences.
    pub notes: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
