//! Where a new ticket goes and who owns it: its epic (the export's; one per repository, created
//! on demand and reused; or the configured one) and its assignee (the export's, or the first
//! `ticket.owners` rule that matches the finding).

use std::collections::BTreeMap;

use chrono::Utc;
use rules_sdk::ConfigEntry;
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, sea_query::OnConflict};
use sha2::Digest;
use verdict_wire::field_map::{self, KEY_EPIC, KEY_EPIC_BY, KEY_EPIC_ISSUE_TYPE, KEY_OWNERS};

use super::export::ExportRequest;
use super::template::{self, Format};
use super::{JobError, setting};
use crate::atlassian::JiraAuth;
use crate::atlassian::outbound::ApiFlavor;
use crate::findings::model::Finding;
use crate::jira::api::NewIssue;
use crate::redact;
use crate::state::AppState;
use crate::store::entities::ticket_epics;

/// Where a ticket's epic came from (what to do when Jira refuses it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EpicSource {
    /// The export request named it.
    Request,
    /// A setting names it (`ticket.epic` or `ticket.epic.<PROJECT>`).
    Configured(String),
    /// Verdict's epic for a group of tickets (`repository:<name>`, or `chosen:<key>` for a key an export or a ticketing rule chose).
    Group(String),
}

/// A new ticket's epic and assignee.
#[derive(Debug, Clone, Default)]
pub struct Placement {
    pub parent: Option<String>,
    pub source: Option<EpicSource>,
    pub assignee: Option<String>,
}

/// The epic and assignee of a ticket for `finding` in `project`.
pub async fn place(
    state: &AppState,
    auth: &JiraAuth,
    tenant: &str,
    config: &[ConfigEntry],
    project: &str,
    finding: &Finding,
    req: &ExportRequest,
) -> Result<Placement, JobError> {
    let mut out = Placement::default();
    if let Some(p) = &req.parent {
        out.parent = Some(p.clone());
        out.source = Some(EpicSource::Request);
    } else if let Some(key) = req.epic_key.as_deref().map(str::trim) {
        // A key the export or the ticketing rule chose: Verdict's epic for it.
        let group = format!("chosen:{key}");
        out.parent = Some(group_epic(state, auth, tenant, config, project, &group, key).await?);
        out.source = Some(EpicSource::Group(group));
    } else if setting(config, KEY_EPIC_BY) == Some("repository")
        && let Some(repo) = finding.repository.as_deref().filter(|r| !r.is_empty())
    {
        let group = format!("repository:{repo}");
        out.parent = Some(group_epic(state, auth, tenant, config, project, &group, repo).await?);
        out.source = Some(EpicSource::Group(group));
    } else {
        let per_project = format!("{KEY_EPIC}.{}", project.to_ascii_uppercase());
        for key in [per_project.as_str(), KEY_EPIC] {
            if let Some(epic) = setting(config, key) {
                out.parent = Some(epic.to_owned());
                out.source = Some(EpicSource::Configured(key.to_owned()));
                break;
            }
        }
    }
    out.assignee = match &req.assignee {
        Some(a) => Some(a.clone()),
        None => match setting(config, KEY_OWNERS) {
            Some(text) => {
                let rules = field_map::parse_owners(text)
                    .map_err(|e| JobError::Permanent(format!("`{KEY_OWNERS}`: {e}")))?;
                field_map::owner_for(
                    &rules,
                    finding.repository.as_deref(),
                    finding.file_path.as_deref(),
                )
                .map(str::to_owned)
            }
            None => None,
        },
    };
    Ok(out)
}

/// The label that finds Verdict's epic for a group again (a create that landed unheard).
fn group_label(project: &str, group: &str) -> String {
    let digest = sha2::Sha256::digest(format!("{project}|{group}").as_bytes());
    format!("verdict-epic-{}", &hex::encode(digest)[..16])
}

/// Verdict's epic for `group` in `project`: the one it created before, one it finds by its
/// label, or a new one.
async fn group_epic(
    state: &AppState,
    auth: &JiraAuth,
    tenant: &str,
    config: &[ConfigEntry],
    project: &str,
    group: &str,
    subject: &str,
) -> Result<String, JobError> {
    let project = project.to_ascii_uppercase();
    if let Some(row) =
        ticket_epics::Entity::find_by_id((tenant.to_owned(), project.clone(), group.to_owned()))
            .one(state.store().db())
            .await?
    {
        return Ok(row.epic_key);
    }
    let label = group_label(&project, group);
    let jira = state.jira();
    let found = jira
        .search_all(
            auth,
            &format!("project = \"{project}\" AND labels = \"{label}\" ORDER BY created ASC"),
            1,
        )
        .await?;
    let (id, key) = match found.into_iter().next() {
        Some(i) => (i.id, i.key),
        None => {
            let issue_type = setting(config, KEY_EPIC_ISSUE_TYPE).unwrap_or("Epic");
            let screen = jira
                .create_screen(auth, &project, issue_type, false)
                .await?
                .ok_or_else(|| {
                    JobError::Permanent(format!(
                        "Jira project {project} has no issue type `{issue_type}` for epics ({KEY_EPIC_ISSUE_TYPE})"
                    ))
                })?;
            let summary =
                template::summary(&format!("Security findings in {}", redact::masked(subject)));
            let mut vars = BTreeMap::new();
            vars.insert("repository", redact::masked(subject));
            let format = match auth.flavor() {
                ApiFlavor::CloudV3 => Format::Adf,
                ApiFlavor::DataCenterV2 => Format::Wiki,
            };
            let (description, _) = template::render(
                "Security findings Verdict filed for {{repository}}.",
                &vars,
                format,
            )
            .map_err(|e| JobError::Permanent(e.to_string()))?;
            // Fields the project requires of epics: the map scoped to the epic issue type
            // (`ticket.fields.<PROJECT>.Epic`; the broader maps are for findings' tickets).
            let [_, _, epic_key] = field_map::keys_for(&project, issue_type);
            let mut fields = match setting(config, &epic_key) {
                Some(text) => {
                    let map = field_map::parse(text)
                        .map_err(|e| JobError::Permanent(format!("`{epic_key}`: {e}")))?;
                    super::fields::apply(&screen, &map, &vars, auth.flavor())
                        .map_err(|e| JobError::Permanent(format!("`{epic_key}`: {e}")))?
                }
                None => serde_json::Map::new(),
            };
            // Data Center epics need an Epic Name.
            if let Some(name) = screen
                .fields
                .iter()
                .find(|f| f.custom.as_deref() == Some("com.pyxis.greenhopper.jira:gh-epic-label"))
            {
                fields.insert(name.id.clone(), serde_json::json!(summary));
            }
            let epic = NewIssue {
                project: project.clone(),
                issue_type: screen.issue_type.clone(),
                summary,
                description,
                labels: if screen.has("labels") {
                    vec!["verdict".into(), label]
                } else {
                    Vec::new()
                },
                fields,
                ..Default::default()
            };
            let created = jira.create_issue(auth, &epic).await?;
            (created.id, created.key)
        }
    };
    let _gate = state.store().write_lock().await;
    ticket_epics::Entity::insert(ticket_epics::ActiveModel {
        tenant_id: Set(tenant.to_owned()),
        project_key: Set(project.clone()),
        group_key: Set(group.to_owned()),
        epic_id: Set(id),
        epic_key: Set(key.clone()),
        created_at: Set(Utc::now()),
    })
    .on_conflict(
        OnConflict::columns([
            ticket_epics::Column::TenantId,
            ticket_epics::Column::ProjectKey,
            ticket_epics::Column::GroupKey,
        ])
        .update_columns([ticket_epics::Column::EpicId, ticket_epics::Column::EpicKey])
        .to_owned(),
    )
    .exec(state.store().db())
    .await?;
    Ok(key)
}

/// Forgets Verdict's epic for `group` (Jira refused it: deleted or moved) and makes a new one.
pub async fn replace_group_epic(
    state: &AppState,
    auth: &JiraAuth,
    tenant: &str,
    config: &[ConfigEntry],
    project: &str,
    group: &str,
) -> Result<String, JobError> {
    {
        let _gate = state.store().write_lock().await;
        ticket_epics::Entity::delete_many()
            .filter(ticket_epics::Column::TenantId.eq(tenant))
            .filter(ticket_epics::Column::ProjectKey.eq(project.to_ascii_uppercase()))
            .filter(ticket_epics::Column::GroupKey.eq(group))
            .exec(state.store().db())
            .await?;
    }
    let subject = group
        .strip_prefix("repository:")
        .or_else(|| group.strip_prefix("chosen:"))
        .unwrap_or(group);
    group_epic(state, auth, tenant, config, project, group, subject).await
}
