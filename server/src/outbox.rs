//! Outbound job records: what a job for Jira is (kind, state, parameters) and queueing one
//! inside the caller's transaction, plus the record of ticket moves Verdict makes itself. Sits
//! below findings, triage and sync (which runs the jobs), so each enqueues without a cycle.

use chrono::Utc;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use serde::{Deserialize, Serialize};

use crate::store::entities::{outbox_jobs as oj, own_transitions};

/// What an outbound job does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum JobKind {
    /// File a Jira issue for a finding (export or auto-ticketing).
    CreateIssue,
    /// Move the finding's ticket to match the finding's current status.
    SyncStatus,
    /// Post a comment on an issue.
    Comment,
    /// Add the web link back to the finding on its issue.
    RemoteLink,
    /// Ask the tenant's ticketing rule about a newly imported finding, and file its ticket.
    AutoTicket,
    /// Bring the ticket's summary, description and priority in step with its finding.
    UpdateIssue,
}

impl JobKind {
    pub fn as_str(self) -> &'static str {
        match self {
            JobKind::CreateIssue => "create_issue",
            JobKind::SyncStatus => "sync_status",
            JobKind::Comment => "comment",
            JobKind::RemoteLink => "remote_link",
            JobKind::AutoTicket => "auto_ticket",
            JobKind::UpdateIssue => "update_issue",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::CreateIssue,
            Self::SyncStatus,
            Self::Comment,
            Self::RemoteLink,
            Self::AutoTicket,
            Self::UpdateIssue,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
}

/// Where a job is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    Pending,
    Processing,
    Done,
    /// Finished without acting (already exported, ticket already in place…); see `outcome`.
    Skipped,
    /// Dead-lettered: gave up after its attempts, or refused by Jira for good.
    Failed,
}

impl JobState {
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Pending => "pending",
            JobState::Processing => "processing",
            JobState::Done => "done",
            JobState::Skipped => "skipped",
            JobState::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::Pending,
            Self::Processing,
            Self::Done,
            Self::Skipped,
            Self::Failed,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
}

/// A job's parameters (the `payload` column).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
// Built once per job and serialised at once: the size of the export variant never adds up.
#[allow(clippy::large_enum_variant)]
pub enum Payload {
    CreateIssue(ExportRequest),
    SyncStatus {
        /// Why the status changed, for the comment on the ticket.
        #[serde(default)]
        reason: Option<String>,
    },
    Comment {
        issue_id: String,
        text: String,
    },
    RemoteLink {
        issue_id: String,
    },
    /// Queued with the import that created the finding.
    AutoTicket {},
    /// Queued by an import that changed a linked finding, or by a re-push (`force`: send even
    /// when the ticket was last sent the same content).
    UpdateIssue {
        #[serde(default)]
        force: bool,
    },
}

impl Payload {
    pub fn kind(&self) -> JobKind {
        match self {
            Payload::CreateIssue(_) => JobKind::CreateIssue,
            Payload::SyncStatus { .. } => JobKind::SyncStatus,
            Payload::Comment { .. } => JobKind::Comment,
            Payload::RemoteLink { .. } => JobKind::RemoteLink,
            Payload::AutoTicket {} => JobKind::AutoTicket,
            Payload::UpdateIssue { .. } => JobKind::UpdateIssue,
        }
    }
}

/// What to file. Unset fields come from the tenant's settings (`ticket.project`,
/// `ticket.issue_type`, `priority.<severity>`, `sla_days.<severity>`, `ticket.labels`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExportRequest {
    /// Jira project key, e.g. `APP`.
    #[serde(default)]
    pub project: Option<String>,
    /// Issue type name, e.g. `Bug` (default `ticket.issue_type`, else `Bug`).
    #[serde(default)]
    pub issue_type: Option<String>,
    /// Epic (parent) issue key; dropped and noted when Jira refuses it.
    #[serde(default)]
    pub parent: Option<String>,
    /// Assignee's Atlassian account id.
    #[serde(default)]
    pub assignee: Option<String>,
    /// Extra labels (no spaces).
    #[serde(default)]
    pub labels: Vec<String>,
    /// Priority name; default from the severity mapping.
    #[serde(default)]
    pub priority: Option<String>,
    /// `YYYY-MM-DD`; default from the SLA policy. Dropped and noted when not on the screen.
    #[serde(default)]
    pub due_date: Option<String>,
    /// Why the ticket is filed (auto-ticketing records the policy's reason).
    #[serde(default)]
    pub reason: Option<String>,
    /// Jira fields over the tenant's field map, like `ticket.fields`: field id or name → a
    /// value, a `{{template}}` or Jira's own shape, e.g. `{"Team": "AppSec"}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub fields: Option<serde_json::Map<String, serde_json::Value>>,
    /// Findings exported with the same group share one ticket (instead of `ticket.group_by`);
    /// at most 200 bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// Verdict's epic for this key (`Security findings in <key>`, created in the project when
    /// first needed, then reused) instead of `ticket.epic_by` / `ticket.epic`; ignored when
    /// `parent` is given; at most 200 bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epic_key: Option<String>,
}

impl ExportRequest {
    /// Checks what can be checked before queueing.
    pub fn validate(&self) -> Result<(), String> {
        if let Some(l) = self
            .labels
            .iter()
            .find(|l| l.is_empty() || l.contains(char::is_whitespace) || l.len() > 255)
        {
            return Err(format!(
                "label `{l}` must be 1–255 characters without spaces"
            ));
        }
        if let Some(d) = &self.due_date
            && chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").is_err()
        {
            return Err(format!("due_date `{d}` is not YYYY-MM-DD"));
        }
        for (name, v) in [
            ("project", &self.project),
            ("issue_type", &self.issue_type),
            ("parent", &self.parent),
        ] {
            if v.as_deref()
                .is_some_and(|v| v.trim().is_empty() || v.len() > 255)
            {
                return Err(format!("{name} must be 1–255 characters"));
            }
        }
        if let Some(fields) = &self.fields {
            verdict_wire::field_map::parse(&serde_json::Value::Object(fields.clone()).to_string())
                .map_err(|e| format!("fields: {e}"))?;
        }
        for (what, v) in [("group", &self.group), ("epic_key", &self.epic_key)] {
            if let Some(g) = v
                && (g.trim().is_empty() || g.len() > 200 || g.chars().any(char::is_control))
            {
                return Err(format!(
                    "{what} must be 1–200 bytes without control characters"
                ));
            }
        }
        Ok(())
    }
}

/// A new pending job's row, due now.
fn job_row(
    tenant_id: &str,
    finding_id: Option<&str>,
    bulk_id: Option<&str>,
    kind: JobKind,
    payload: String,
) -> oj::ActiveModel {
    let now = Utc::now();
    oj::ActiveModel {
        id: Set(uuid::Uuid::now_v7().to_string()),
        tenant_id: Set(tenant_id.to_owned()),
        kind: Set(kind.as_str().to_owned()),
        finding_id: Set(finding_id.map(str::to_owned)),
        bulk_id: Set(bulk_id.map(str::to_owned)),
        payload: Set(payload),
        state: Set(JobState::Pending.as_str().to_owned()),
        attempts: Set(0),
        next_attempt_at: Set(now),
        lease_until: Set(None),
        lease_owner: Set(None),
        last_error: Set(None),
        outcome: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    }
}

fn payload_text(payload: &Payload) -> String {
    serde_json::to_string(payload).expect("plain data serialises")
}

/// Queues one job per finding (same payload) inside the caller's transaction, with one
/// statement.
pub async fn enqueue_many_in<C: ConnectionTrait>(
    db: &C,
    tenant_id: &str,
    finding_ids: &[&str],
    payload: &Payload,
) -> Result<(), sea_orm::DbErr> {
    if finding_ids.is_empty() {
        return Ok(());
    }
    let text = payload_text(payload);
    oj::Entity::insert_many(
        finding_ids
            .iter()
            .map(|f| job_row(tenant_id, Some(f), None, payload.kind(), text.clone())),
    )
    .exec_without_returning(db)
    .await?;
    Ok(())
}

/// Queues a job inside the caller's transaction (so it exists exactly when the change that
/// caused it does). Returns the job id.
pub async fn enqueue_in<C: ConnectionTrait>(
    db: &C,
    tenant_id: &str,
    finding_id: Option<&str>,
    bulk_id: Option<&str>,
    payload: &Payload,
) -> Result<String, sea_orm::DbErr> {
    let row = job_row(
        tenant_id,
        finding_id,
        bulk_id,
        payload.kind(),
        payload_text(payload),
    );
    let id = match &row.id {
        sea_orm::ActiveValue::Set(id) => id.clone(),
        _ => unreachable!("job_row sets the id"),
    };
    oj::Entity::insert(row).exec_without_returning(db).await?;
    Ok(id)
}

/// How long a recorded own transition waits for its webhook.
pub const OWN_WINDOW_MINUTES: i64 = 10;

/// Records that Verdict is moving `issue_id` to `status_id`, before it asks Jira to.
pub async fn record_own<C: ConnectionTrait>(
    db: &C,
    tenant: &str,
    issue_id: &str,
    status_id: &str,
) -> Result<(), sea_orm::DbErr> {
    own_transitions::Entity::insert(own_transitions::ActiveModel {
        tenant_id: Set(tenant.to_owned()),
        issue_id: Set(issue_id.to_owned()),
        to_status_id: Set(status_id.to_owned()),
        expires_at: Set(Utc::now() + chrono::Duration::minutes(OWN_WINDOW_MINUTES)),
    })
    .on_conflict(
        OnConflict::columns([
            own_transitions::Column::TenantId,
            own_transitions::Column::IssueId,
            own_transitions::Column::ToStatusId,
        ])
        .update_column(own_transitions::Column::ExpiresAt)
        .to_owned(),
    )
    .exec(db)
    .await?;
    Ok(())
}

/// Whether Verdict recorded a move of `issue_id` to `status_id` that is still waiting for its
/// webhook (a read: most status changes are people's, and need no write to find that out).
pub async fn is_own<C: ConnectionTrait>(
    db: &C,
    tenant: &str,
    issue_id: &str,
    status_id: &str,
) -> Result<bool, sea_orm::DbErr> {
    use sea_orm::PaginatorTrait as _;
    Ok(own_transitions::Entity::find()
        .filter(own_transitions::Column::TenantId.eq(tenant))
        .filter(own_transitions::Column::IssueId.eq(issue_id))
        .filter(own_transitions::Column::ToStatusId.eq(status_id))
        .filter(own_transitions::Column::ExpiresAt.gt(Utc::now()))
        .count(db)
        .await?
        > 0)
}

/// Consumes the record of Verdict's move of `issue_id` to `status_id`, so a person's later move
/// to the same status counts again. Returns whether there was one.
pub async fn take_own<C: ConnectionTrait>(
    db: &C,
    tenant: &str,
    issue_id: &str,
    status_id: &str,
) -> Result<bool, sea_orm::DbErr> {
    let res = own_transitions::Entity::delete_many()
        .filter(own_transitions::Column::TenantId.eq(tenant))
        .filter(own_transitions::Column::IssueId.eq(issue_id))
        .filter(own_transitions::Column::ToStatusId.eq(status_id))
        .filter(own_transitions::Column::ExpiresAt.gt(Utc::now()))
        .exec(db)
        .await?;
    Ok(res.rows_affected > 0)
}
