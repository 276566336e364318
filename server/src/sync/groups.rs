//! Groups: findings that share a vulnerability, a scanner rule or a package (`ticket.group_by`)
//! share one ticket that lists them. A group has at most one open ticket (the export that files
//! it claims the group first; the others wait, then join); it is done in Jira only when every
//! finding in it is, and a closure in Jira is decided for each finding.

use std::time::Duration;

use chrono::Utc;
use rules_sdk::{Config, ConfigEntry, FindingStatus, defaults};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, sea_query::Expr,
    sea_query::OnConflict,
};
use verdict_wire::field_map::{self, GroupBy, KEY_GROUP_BY};

use super::{JobError, setting};
use crate::atlassian::JiraAuth;
use crate::atlassian::outbound::ApiFlavor;
use crate::findings::LinkTarget;
use crate::findings::model::Finding;
use crate::jira::JiraError;
use crate::jira::api::RichText;
use crate::redact;
use crate::state::AppState;
use crate::store::entities::{findings as finding_rows, jira_links, ticket_groups};

/// How long an export waits before asking again while another files its group's ticket.
pub const GROUP_WAIT: Duration = Duration::from_secs(2);
/// A claim older than this is abandoned (its job died or was dead-lettered): taken over.
const CLAIM_EXPIRES_MINUTES: i64 = 10;
/// A group ticket lists at most this many findings (Jira's description holds 32,767
/// characters); the rest are counted.
pub const LISTED: usize = 100;

/// The tenant's grouping (`ticket.group_by`; `none` when unset or unreadable).
pub fn group_by(config: &[ConfigEntry]) -> GroupBy {
    setting(config, KEY_GROUP_BY)
        .and_then(|v| v.parse().ok())
        .unwrap_or(GroupBy::None)
}

/// The group `finding` belongs to, if the tenant groups and the finding has what it groups by.
pub fn key_for(config: &[ConfigEntry], finding: &Finding) -> Option<String> {
    field_map::group_key(
        group_by(config),
        &finding.vulnerability_ids,
        finding.rule_id.as_deref(),
        finding.repository.as_deref(),
        finding.package.as_deref(),
    )
}

/// The key of a group an export or a ticketing rule named.
pub fn chosen(group: &str) -> String {
    format!("custom:{}", group.trim())
}

/// A group key as people read it: `CVE-2021-44228`, `rule java.log4j`, `npm:lodash in acme/api`.
pub fn describe(key: &str) -> String {
    match key.split_once(':') {
        Some(("custom", group)) => group.to_owned(),
        Some(("vulnerability", id)) => id.to_owned(),
        Some(("rule", id)) => format!("rule {id}"),
        Some(("package", rest)) => match rest.split_once('|') {
            Some(("", package)) => format!("package {package}"),
            Some((repo, package)) => format!("{package} in {repo}"),
            None => rest.to_owned(),
        },
        _ => key.to_owned(),
    }
}

/// What an export does for a finding of a group.
#[derive(Debug)]
pub enum Slot {
    /// The group has an open ticket: link the finding to it.
    Join(LinkTarget),
    /// This job files the group's ticket (it holds the claim).
    Create,
}

/// Joins the group's open ticket, or claims the right to file it. While another export files
/// it, asks to be retried shortly ([`GROUP_WAIT`], no attempt used).
pub async fn claim(
    state: &AppState,
    auth: &JiraAuth,
    tenant: &str,
    key: &str,
    job_id: &str,
) -> Result<Slot, JobError> {
    let db = state.store().db();
    let id = || (tenant.to_owned(), key.to_owned());
    let now = Utc::now();
    for _ in 0..3 {
        let row = ticket_groups::Entity::find_by_id(id()).one(db).await?;
        let Some(row) = row else {
            let _gate = state.store().write_lock().await;
            let inserted = ticket_groups::Entity::insert(ticket_groups::ActiveModel {
                tenant_id: Set(tenant.to_owned()),
                group_key: Set(key.to_owned()),
                issue_id: Set(None),
                issue_key: Set(None),
                project_key: Set(None),
                claimed_by: Set(Some(job_id.to_owned())),
                claimed_at: Set(Some(now)),
                updated_at: Set(now),
            })
            .on_conflict(
                OnConflict::columns([
                    ticket_groups::Column::TenantId,
                    ticket_groups::Column::GroupKey,
                ])
                .do_nothing()
                .to_owned(),
            )
            .exec_without_returning(db)
            .await?;
            if inserted == 1 {
                return Ok(Slot::Create);
            }
            continue;
        };
        if let Some(issue_id) = &row.issue_id {
            let open = match state.jira().get_issue(auth, issue_id).await {
                Ok(i) if i.status.category != "done" => Some(i),
                Ok(_) | Err(JiraError::Status { status: 404, .. }) => None,
                Err(e) => return Err(e.into()),
            };
            if let Some(i) = open {
                return Ok(Slot::Join(LinkTarget {
                    site: auth.base_url().to_string(),
                    issue_id: i.id,
                    issue_key: i.key,
                    project_key: i.project,
                    group_key: Some(key.to_owned()),
                }));
            }
            // Done or deleted: the group starts a new ticket (its findings found again).
            if take_over(state, tenant, key, job_id, |q| {
                q.filter(ticket_groups::Column::IssueId.eq(issue_id.as_str()))
            })
            .await?
            {
                return Ok(Slot::Create);
            }
            continue;
        }
        if row.claimed_by.as_deref() == Some(job_id) {
            return Ok(Slot::Create);
        }
        let abandoned = row
            .claimed_at
            .is_none_or(|at| now - at > chrono::Duration::minutes(CLAIM_EXPIRES_MINUTES));
        if abandoned {
            let holder = row.claimed_by.clone();
            if take_over(state, tenant, key, job_id, |q| match &holder {
                Some(h) => q.filter(ticket_groups::Column::ClaimedBy.eq(h.as_str())),
                None => q.filter(ticket_groups::Column::ClaimedBy.is_null()),
            })
            .await?
            {
                return Ok(Slot::Create);
            }
            continue;
        }
        return Err(JobError::Paused {
            wait: GROUP_WAIT,
            reason: format!(
                "the ticket of group {} is being filed by another export",
                describe(key)
            ),
        });
    }
    Err(JobError::Transient(format!(
        "the group {} changed while it was being read",
        describe(key)
    )))
}

/// Claims the group for `job_id` if its row still matches `expect` (someone else may have
/// been faster). Returns whether the claim is this job's.
async fn take_over(
    state: &AppState,
    tenant: &str,
    key: &str,
    job_id: &str,
    expect: impl FnOnce(
        sea_orm::UpdateMany<ticket_groups::Entity>,
    ) -> sea_orm::UpdateMany<ticket_groups::Entity>,
) -> Result<bool, JobError> {
    let _gate = state.store().write_lock().await;
    let now = Utc::now();
    let q = ticket_groups::Entity::update_many()
        .col_expr(
            ticket_groups::Column::IssueId,
            Expr::value(Option::<String>::None),
        )
        .col_expr(
            ticket_groups::Column::IssueKey,
            Expr::value(Option::<String>::None),
        )
        .col_expr(
            ticket_groups::Column::ClaimedBy,
            Expr::value(job_id.to_owned()),
        )
        .col_expr(ticket_groups::Column::ClaimedAt, Expr::value(now))
        .col_expr(ticket_groups::Column::UpdatedAt, Expr::value(now))
        .filter(ticket_groups::Column::TenantId.eq(tenant))
        .filter(ticket_groups::Column::GroupKey.eq(key));
    let done = expect(q).exec(state.store().db()).await?;
    Ok(done.rows_affected == 1)
}

/// Gives up the claims `job_id` holds on groups still without a ticket (its create failed;
/// a retry claims again, or joins what another export filed meanwhile).
pub async fn release_claims_of(
    state: &AppState,
    tenant: &str,
    job_id: &str,
) -> Result<(), sea_orm::DbErr> {
    let _gate = state.store().write_lock().await;
    ticket_groups::Entity::delete_many()
        .filter(ticket_groups::Column::TenantId.eq(tenant))
        .filter(ticket_groups::Column::ClaimedBy.eq(job_id))
        .filter(ticket_groups::Column::IssueId.is_null())
        .exec(state.store().db())
        .await?;
    Ok(())
}

/// Records the group's new ticket (the claim ends), in the caller's transaction.
pub async fn record_ticket_in<C: ConnectionTrait>(
    db: &C,
    tenant: &str,
    key: &str,
    target: &LinkTarget,
) -> Result<(), sea_orm::DbErr> {
    let now = Utc::now();
    ticket_groups::Entity::insert(ticket_groups::ActiveModel {
        tenant_id: Set(tenant.to_owned()),
        group_key: Set(key.to_owned()),
        issue_id: Set(Some(target.issue_id.clone())),
        issue_key: Set(Some(target.issue_key.clone())),
        project_key: Set(Some(target.project_key.clone())),
        claimed_by: Set(None),
        claimed_at: Set(None),
        updated_at: Set(now),
    })
    .on_conflict(
        OnConflict::columns([
            ticket_groups::Column::TenantId,
            ticket_groups::Column::GroupKey,
        ])
        .update_columns([
            ticket_groups::Column::IssueId,
            ticket_groups::Column::IssueKey,
            ticket_groups::Column::ProjectKey,
            ticket_groups::Column::ClaimedBy,
            ticket_groups::Column::ClaimedAt,
            ticket_groups::Column::UpdatedAt,
        ])
        .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    Ok(())
}

/// The findings linked to `issue_id` (a group's ticket has several), oldest link first.
pub async fn members(
    state: &AppState,
    tenant: &str,
    issue_id: &str,
) -> Result<Vec<Finding>, JobError> {
    use sea_orm::QueryOrder;
    let links = jira_links::Entity::find()
        .filter(jira_links::Column::TenantId.eq(tenant))
        .filter(jira_links::Column::IssueId.eq(issue_id))
        .order_by_asc(jira_links::Column::CreatedAt)
        .all(state.store().db())
        .await?;
    let mut out = Vec::with_capacity(links.len());
    for l in links {
        match state.findings().get(tenant, &l.finding_id).await {
            Ok(f) => out.push(f),
            Err(crate::findings::FindingsError::NotFound(_)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(out)
}

/// Whether `finding`'s ticket should be done: its own status, or — for a group's ticket —
/// every finding in the group resolved one way or another. Returns (done, open members).
pub async fn ticket_wants_done(
    state: &AppState,
    tenant: &str,
    finding: &Finding,
) -> Result<(bool, usize), JobError> {
    let Some(link) = finding.jira.as_ref().filter(|l| l.group.is_some()) else {
        return Ok((finding.status != FindingStatus::Open, 0));
    };
    // One count, not a read per finding: this runs for every status change in the group.
    use sea_orm::{PaginatorTrait, QuerySelect, QueryTrait};
    let linked = jira_links::Entity::find()
        .select_only()
        .column(jira_links::Column::FindingId)
        .filter(jira_links::Column::TenantId.eq(tenant))
        .filter(jira_links::Column::IssueId.eq(link.issue_id.as_str()))
        .into_query();
    let open = finding_rows::Entity::find()
        .filter(finding_rows::Column::TenantId.eq(tenant))
        .filter(finding_rows::Column::Status.eq(FindingStatus::Open.as_str()))
        .filter(finding_rows::Column::Id.in_subquery(linked))
        .count(state.store().db())
        .await? as usize;
    Ok((open == 0, open))
}

/// A group ticket's summary, description and priority, over its findings (masked).
pub fn content(
    state: &AppState,
    config: &[ConfigEntry],
    key: &str,
    members: &[Finding],
    flavor: ApiFlavor,
) -> (String, RichText, String) {
    let what = describe(key);
    let n = members.len();
    let summary = super::template::summary(&redact::masked(&format!(
        "{what}: {n} finding{}",
        if n == 1 { "" } else { "s" }
    )));
    let worst = members
        .iter()
        .map(|f| f.severity)
        .max()
        .unwrap_or(rules_sdk::Severity::Info);
    let priority = defaults::priority_for(worst, Config(config));
    let open = members
        .iter()
        .filter(|f| f.status == FindingStatus::Open)
        .count();
    let mut text = format!(
        "Grouped by {}: {n} finding{}, {open} open. The ticket is resolved when every finding is.\n",
        match key.split_once(':').map(|(kind, _)| kind) {
            Some("vulnerability") => "vulnerability",
            Some("rule") => "scanner rule",
            Some("package") => "package",
            _ => "a chosen group",
        },
        if n == 1 { "" } else { "s" },
    );
    for f in members.iter().take(LISTED) {
        let location = match (&f.repository, &f.file_path, f.line) {
            (r, Some(p), l) => format!(
                " — {}{p}{}",
                r.as_deref().map(|r| format!("{r}: ")).unwrap_or_default(),
                l.map(|l| format!(":{l}")).unwrap_or_default()
            ),
            (Some(r), None, _) => format!(" — {r}"),
            _ => String::new(),
        };
        text.push_str(&format!(
            "\n- [{}] {}{location} — {} — {}",
            f.severity.as_str(),
            f.title,
            f.status,
            super::export::finding_url(state, &f.id)
        ));
    }
    if n > LISTED {
        text.push_str(&format!("\n\n… and {} more findings.", n - LISTED));
    }
    let text = redact::masked(&text);
    let description = match flavor {
        ApiFlavor::CloudV3 => RichText::Adf(crate::triage::adf::from_text(&text)),
        ApiFlavor::DataCenterV2 => RichText::Wiki(text),
    };
    (summary, description, priority)
}
