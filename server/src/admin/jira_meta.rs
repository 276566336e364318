//! What the settings pickers offer, read from the tenant's Jira with the app's own
//! credentials: projects, a project's issue types, priorities, resolutions and statuses, and
//! the create screen a field map is written for.

use serde::Serialize;

use super::AdminError;
use super::settings::Source;
use crate::jira::api::{Named, ProjectRef, StatusOption};
use crate::state::AppState;

/// A picker's choices, whatever the source.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Choice {
    /// What is stored (project key, name, or status id).
    pub value: String,
    /// What is shown.
    pub label: String,
    /// A status's category (`new`, `indeterminate`, `done`).
    pub detail: Option<String>,
}

impl From<ProjectRef> for Choice {
    fn from(p: ProjectRef) -> Self {
        Choice {
            label: format!("{} ({})", p.name, p.key),
            value: p.key,
            detail: None,
        }
    }
}

impl From<Named> for Choice {
    fn from(n: Named) -> Self {
        Choice {
            value: n.name.clone(),
            label: n.name,
            detail: None,
        }
    }
}

impl From<StatusOption> for Choice {
    fn from(s: StatusOption) -> Self {
        Choice {
            label: format!("{} ({})", s.name, s.id),
            value: s.id,
            detail: Some(s.category),
        }
    }
}

fn valid_project_key(p: &str) -> bool {
    !p.is_empty() && p.len() <= 64 && p.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The choices of one picker. `project` is needed for issue types.
pub async fn choices(
    state: &AppState,
    tenant: &str,
    source: Source,
    project: Option<&str>,
) -> Result<Vec<Choice>, AdminError> {
    let auth = state.jira_auth(tenant).await?;
    let jira = state.jira();
    Ok(match source {
        Source::Projects => jira
            .projects(&auth)
            .await?
            .into_iter()
            .map(Choice::from)
            .collect(),
        Source::IssueTypes => {
            let project = project
                .filter(|p| valid_project_key(p))
                .ok_or_else(|| AdminError::invalid("project", "choose a project first"))?;
            jira.project_issue_types(&auth, project)
                .await?
                .into_iter()
                .map(Choice::from)
                .collect()
        }
        Source::Priorities => jira
            .priorities(&auth)
            .await?
            .into_iter()
            .map(Choice::from)
            .collect(),
        Source::Resolutions => jira
            .resolutions(&auth)
            .await?
            .into_iter()
            .map(Choice::from)
            .collect(),
        Source::Statuses => jira
            .statuses(&auth)
            .await?
            .into_iter()
            .map(Choice::from)
            .collect(),
    })
}

/// The create screen of `issue_type` in `project`, read fresh: the fields a field map can
/// set, which are required and what each allows.
pub async fn create_screen(
    state: &AppState,
    tenant: &str,
    project: &str,
    issue_type: &str,
) -> Result<crate::jira::api::CreateScreen, AdminError> {
    if !valid_project_key(project) {
        return Err(AdminError::invalid("project", "not a Jira project key"));
    }
    if issue_type.trim().is_empty() || issue_type.len() > 255 {
        return Err(AdminError::invalid("issue_type", "name an issue type"));
    }
    let auth = state.jira_auth(tenant).await?;
    state
        .jira()
        .create_screen(&auth, project, issue_type, true)
        .await?
        .map(|s| (*s).clone())
        .ok_or_else(|| {
            AdminError::NotFound(format!(
                "Jira project {project} has no issue type `{issue_type}`"
            ))
        })
}
