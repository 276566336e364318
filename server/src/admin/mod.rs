//! The admin app's domain: who is administering which tenant (a Jira admin through Connect or
//! Forge, or the operator), what they may see and change, and the audit trail of every change.

pub mod access;
pub mod audit;
pub mod decisions;
pub mod jira_meta;
pub mod overview;
pub mod people;
pub mod sessions;
pub mod settings;

use serde::Serialize;

/// How the admin reached Verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Via {
    /// Connect's configure/admin page inside Jira (context JWT).
    Connect,
    /// Forge's `jira:adminPage` (Forge Invocation Token).
    Forge,
    /// Verdict's own `/admin` page, signed in with the operator's `admin_token`.
    Standalone,
}

impl Via {
    pub fn as_str(self) -> &'static str {
        match self {
            Via::Connect => "connect",
            Via::Forge => "forge",
            Via::Standalone => "standalone",
        }
    }
}

/// Who is administering.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "id", rename_all = "snake_case")]
pub enum Principal {
    /// A Jira administrator, by Atlassian account id (checked against Jira's permissions).
    JiraAccount(String),
    /// Whoever holds the server's `admin_token`.
    Operator,
}

impl Principal {
    pub fn kind(&self) -> &'static str {
        match self {
            Principal::JiraAccount(_) => "jira_account",
            Principal::Operator => "operator",
        }
    }

    pub fn id(&self) -> &str {
        match self {
            Principal::JiraAccount(id) => id,
            Principal::Operator => "operator",
        }
    }
}

/// An authorised admin request: the tenant it is about and who is asking.
#[derive(Debug, Clone)]
pub struct AdminCtx {
    pub tenant_id: String,
    pub principal: Principal,
    pub via: Via,
}

/// A field that failed validation, for an inline error next to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct FieldProblem {
    pub field: String,
    pub message: String,
}

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error(
        "{0} is not a Jira administrator of this site; only Jira administrators can administer Verdict"
    )]
    NotJiraAdmin(String),
    #[error("cannot check Jira permissions right now: {0}")]
    PermissionCheckFailed(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{}", .0.first().map(|p| format!("{}: {}", p.field, p.message)).unwrap_or_default())]
    Invalid(Vec<FieldProblem>),
    #[error("{0}")]
    Conflict(String),
    #[error("Jira: {0}")]
    Jira(#[from] crate::jira::JiraError),
    #[error("the tenant is not connected to Jira: {0}")]
    NotConnected(String),
    #[error(transparent)]
    Tenant(#[from] crate::tenants::TenantError),
    #[error(transparent)]
    Rules(#[from] crate::rules::RulesError),
    #[error(transparent)]
    Findings(#[from] crate::findings::FindingsError),
    #[error("database error: {0}")]
    Db(#[from] sea_orm::DbErr),
}

impl AdminError {
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        AdminError::Invalid(vec![FieldProblem {
            field: field.to_owned(),
            message: message.into(),
        }])
    }
}

impl From<crate::state::ConnectionError> for AdminError {
    fn from(e: crate::state::ConnectionError) -> Self {
        AdminError::NotConnected(e.to_string())
    }
}
