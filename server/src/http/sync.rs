//! Findings → Jira over REST: export one finding or many, change many findings' status, and
//! the outbox's jobs (list, dead letters, retry, bulk summaries). Thin: the work is in `sync`.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use rules_sdk::{FindingStatus, Severity};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::AppState;
use super::auth::AdminKeyAuth;
use super::error::{ApiError, ErrorEnvelope};
use super::extract::{ApiJson, ApiPath, ApiQuery};
use crate::findings::{Actor, EventSource, FindingFilter, FindingsError, StatusChange};
use crate::sync::export::{BulkQueued, ExportRequest, NotQueued};
use crate::sync::{self, BulkSummary, Job, JobError, JobFilter, JobKind, JobState};

/// Most findings one bulk request takes.
pub const MAX_BULK: usize = 10_000;

pub fn routes() -> axum::Router<AppState> {
    axum::Router::new()
        .route("/api/v1/findings/{id}/export", post(export_one))
        .route("/api/v1/findings/{id}/push", post(push_one))
        .route("/api/v1/findings:export", post(export_bulk))
        .route("/api/v1/findings:status", post(status_bulk))
        .route("/api/v1/jobs", get(list_jobs))
        .route("/api/v1/jobs/{id}/retry", post(retry_job))
        .route("/api/v1/bulk/{id}", get(bulk_summary))
}

impl From<JobError> for ApiError {
    fn from(e: JobError) -> Self {
        match e {
            JobError::Findings(f) => f.into(),
            JobError::Db(d) => d.into(),
            JobError::Permanent(m) => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed", m)
            }
            JobError::NotExported(m) => ApiError::new(StatusCode::CONFLICT, "not_exported", m),
            other => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "jira_unavailable",
                other.to_string(),
            ),
        }
    }
}

fn check(req: &ExportRequest) -> Result<(), ApiError> {
    req.validate()
        .map_err(|m| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed", m))
}

#[derive(Serialize, ToSchema)]
pub struct Queued {
    pub job_id: String,
}

/// Files a Jira issue for one finding, through the outbox (202 with the job id). 409 when
/// the finding is already linked to an issue.
#[utoipa::path(
    post, path = "/api/v1/findings/{id}/export", tag = "jira",
    params(("id" = String, Path, description = "Finding id")),
    request_body = ExportRequest,
    responses(
        (status = 202, description = "Queued", body = Queued),
        (status = 404, description = "No such finding", body = ErrorEnvelope),
        (status = 409, description = "Already exported, or an export is queued", body = ErrorEnvelope),
        (status = 422, description = "Invalid options", body = ErrorEnvelope),
    ),
    security(("api_key" = []))
)]
pub async fn export_one(
    State(state): State<AppState>,
    AdminKeyAuth(principal): AdminKeyAuth,
    ApiPath(id): ApiPath<String>,
    ApiJson(req): ApiJson<ExportRequest>,
) -> Result<impl IntoResponse, ApiError> {
    check(&req)?;
    // 404 for an unknown (or another tenant's) finding, before anything is queued.
    state.findings().get(&principal.tenant_id, &id).await?;
    let (q, jobs) = sync::export::queue_exports(
        &state,
        &principal.tenant_id,
        std::slice::from_ref(&id),
        &req,
    )
    .await?;
    let Some(job_id) = jobs.into_iter().next() else {
        let reason = q
            .skipped
            .into_iter()
            .next()
            .map(|s| s.reason)
            .unwrap_or_default();
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "already_exported",
            reason,
        ));
    };
    Ok((StatusCode::ACCEPTED, Json(Queued { job_id })))
}

/// Re-pushes a finding's ticket: its summary, description and priority are sent again from
/// the finding (fields in `ticket.jira_owned` left alone), even when unchanged (202 with the
/// job id). 409 `not_exported` when the finding has no ticket.
#[utoipa::path(
    post, path = "/api/v1/findings/{id}/push", tag = "jira",
    params(("id" = String, Path, description = "Finding id")),
    responses(
        (status = 202, description = "Queued", body = Queued),
        (status = 404, description = "No such finding", body = ErrorEnvelope),
        (status = 409, description = "The finding has no ticket", body = ErrorEnvelope),
    ),
    security(("api_key" = []))
)]
pub async fn push_one(
    State(state): State<AppState>,
    AdminKeyAuth(principal): AdminKeyAuth,
    ApiPath(id): ApiPath<String>,
) -> Result<impl IntoResponse, ApiError> {
    let job_id = sync::export::queue_push(&state, &principal.tenant_id, &id).await?;
    Ok((StatusCode::ACCEPTED, Json(Queued { job_id })))
}

/// Which findings a bulk request covers: `ids`, or a `filter` (exactly one of them).
#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct Selection {
    #[serde(default)]
    pub ids: Option<Vec<String>>,
    #[serde(default)]
    pub filter: Option<SelectionFilter>,
}

#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct SelectionFilter {
    #[serde(default)]
    #[schema(value_type = Vec<String>)]
    pub status: Vec<FindingStatus>,
    #[serde(default)]
    #[schema(value_type = Vec<String>)]
    pub severity: Vec<Severity>,
    #[serde(default)]
    pub min_score: Option<f64>,
    #[serde(default)]
    pub scan_type: Option<String>,
    #[serde(default)]
    pub repository: Option<String>,
    #[serde(default)]
    pub has_jira_link: Option<bool>,
}

async fn select(state: &AppState, tenant: &str, sel: Selection) -> Result<Vec<String>, ApiError> {
    let ids = match (sel.ids, sel.filter) {
        (Some(ids), None) => ids,
        (None, Some(f)) => {
            let filter = FindingFilter {
                statuses: f.status,
                severities: f.severity,
                min_score: f.min_score,
                scan_type: f.scan_type,
                repository: f.repository,
                has_jira_link: f.has_jira_link,
                ..Default::default()
            };
            let mut ids = Vec::new();
            let mut cursor: Option<String> = None;
            loop {
                let page = state
                    .findings()
                    .list(
                        tenant,
                        &filter,
                        cursor.as_deref(),
                        crate::findings::MAX_PAGE,
                    )
                    .await?;
                ids.extend(page.findings.into_iter().map(|f| f.id));
                if ids.len() > MAX_BULK {
                    break;
                }
                match page.next_cursor {
                    Some(c) => cursor = Some(c),
                    None => break,
                }
            }
            ids
        }
        _ => {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation_failed",
                "give exactly one of `ids` and `filter`",
            ));
        }
    };
    if ids.is_empty() {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "nothing_selected",
            "the selection matches no findings; nothing was done",
        ));
    }
    if ids.len() > MAX_BULK {
        return Err(FindingsError::BatchTooLarge {
            max: MAX_BULK,
            got: ids.len(),
        }
        .into());
    }
    let mut seen = std::collections::HashSet::new();
    Ok(ids.into_iter().filter(|i| seen.insert(i.clone())).collect())
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkExportRequest {
    /// Finding ids (give this or `filter`).
    #[serde(default)]
    pub ids: Option<Vec<String>>,
    #[serde(default)]
    pub filter: Option<SelectionFilter>,
    /// What to file; unset fields come from the tenant's settings.
    #[serde(default)]
    pub options: ExportRequest,
}

/// Files Jira issues for many findings (by `ids` or `filter`, at most 10,000). Exported and
/// already queued findings are skipped and listed; follow the rest with `GET /api/v1/bulk/{id}`.
#[utoipa::path(
    post, path = "/api/v1/findings:export", tag = "jira",
    request_body = BulkExportRequest,
    responses(
        (status = 202, description = "Queued", body = BulkQueued),
        (status = 422, description = "Bad selection or options", body = ErrorEnvelope),
    ),
    security(("api_key" = []))
)]
pub async fn export_bulk(
    State(state): State<AppState>,
    AdminKeyAuth(principal): AdminKeyAuth,
    ApiJson(body): ApiJson<BulkExportRequest>,
) -> Result<impl IntoResponse, ApiError> {
    check(&body.options)?;
    let ids = select(
        &state,
        &principal.tenant_id,
        Selection {
            ids: body.ids,
            filter: body.filter,
        },
    )
    .await?;
    let (q, _) =
        sync::export::queue_exports(&state, &principal.tenant_id, &ids, &body.options).await?;
    Ok((StatusCode::ACCEPTED, Json(q)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkStatusRequest {
    /// Finding ids (give this or `filter`).
    #[serde(default)]
    pub ids: Option<Vec<String>>,
    #[serde(default)]
    pub filter: Option<SelectionFilter>,
    #[schema(value_type = String)]
    pub status: FindingStatus,
    /// Required for false_positive and accepted_risk; becomes the comment on each ticket.
    #[serde(default)]
    pub reason: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct BulkStatusResponse {
    /// Follow the tickets' transitions with `GET /api/v1/bulk/{bulk_id}`.
    pub bulk_id: String,
    pub changed: usize,
    /// Findings already in that status.
    pub skipped: Vec<NotQueued>,
    pub failed: Vec<NotQueued>,
}

/// Changes many findings' status (each with its audit event); linked tickets follow through
/// the outbox. Continues past failures and reports them.
#[utoipa::path(
    post, path = "/api/v1/findings:status", tag = "jira",
    request_body = BulkStatusRequest,
    responses(
        (status = 200, description = "Summary", body = BulkStatusResponse),
        (status = 422, description = "Bad selection or missing reason", body = ErrorEnvelope),
    ),
    security(("api_key" = []))
)]
pub async fn status_bulk(
    State(state): State<AppState>,
    AdminKeyAuth(principal): AdminKeyAuth,
    ApiJson(body): ApiJson<BulkStatusRequest>,
) -> Result<Json<BulkStatusResponse>, ApiError> {
    let template = StatusChange {
        to: body.status,
        reason: body.reason,
        actor: Actor::ApiKey(principal.key_id.clone()),
        source: EventSource::Api,
        rule: None,
        bulk_id: Some(uuid::Uuid::now_v7().to_string()),
    };
    // A missing reason is wrong for every finding: say so once.
    crate::findings::Findings::checked_reason(&template)?;
    let ids = select(
        &state,
        &principal.tenant_id,
        Selection {
            ids: body.ids,
            filter: body.filter,
        },
    )
    .await?;
    let mut out = BulkStatusResponse {
        bulk_id: template.bulk_id.clone().unwrap_or_default(),
        changed: 0,
        skipped: Vec::new(),
        failed: Vec::new(),
    };
    for id in ids {
        match state
            .findings()
            .change_status(&principal.tenant_id, &id, template.clone())
            .await
        {
            Ok(_) => out.changed += 1,
            Err(e @ FindingsError::AlreadyInStatus(_)) => out.skipped.push(NotQueued {
                finding_id: id,
                reason: e.to_string(),
            }),
            Err(e) => out.failed.push(NotQueued {
                finding_id: id,
                reason: e.to_string(),
            }),
        }
    }
    Ok(Json(out))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct JobQuery {
    /// `pending`, `processing`, `done`, `skipped` or `failed` (dead-lettered).
    pub state: Option<String>,
    /// `create_issue`, `sync_status`, `comment` or `remote_link`.
    pub kind: Option<String>,
    pub finding_id: Option<String>,
    pub bulk_id: Option<String>,
    /// 1–1000, default 100.
    pub limit: Option<u64>,
}

#[derive(Serialize, ToSchema)]
pub struct JobList {
    pub jobs: Vec<Job>,
}

/// The tenant's outbound Jira jobs, newest first; `?state=failed` lists the dead letters
/// with their reasons.
#[utoipa::path(
    get, path = "/api/v1/jobs", tag = "jira",
    params(JobQuery),
    responses(
        (status = 200, description = "Jobs", body = JobList),
        (status = 400, description = "Bad parameter", body = ErrorEnvelope),
    ),
    security(("api_key" = []))
)]
pub async fn list_jobs(
    State(state): State<AppState>,
    AdminKeyAuth(principal): AdminKeyAuth,
    ApiQuery(q): ApiQuery<JobQuery>,
) -> Result<Json<JobList>, ApiError> {
    let bad = |p: &'static str, v: &str| {
        ApiError::bad_request("invalid_query", format!("{p}: unknown value `{v}`")).with_field(p)
    };
    let filter = JobFilter {
        state: match &q.state {
            Some(s) => Some(JobState::parse(s).ok_or_else(|| bad("state", s))?),
            None => None,
        },
        kind: match &q.kind {
            Some(k) => Some(JobKind::parse(k).ok_or_else(|| bad("kind", k))?),
            None => None,
        },
        finding_id: q.finding_id,
        bulk_id: q.bulk_id,
    };
    let limit = q.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(
            ApiError::bad_request("invalid_query", "limit: must be 1–1000").with_field("limit"),
        );
    }
    let jobs = sync::list(&state, &principal.tenant_id, &filter, limit).await?;
    Ok(Json(JobList { jobs }))
}

/// Puts a dead-lettered job back in the queue with fresh attempts.
#[utoipa::path(
    post, path = "/api/v1/jobs/{id}/retry", tag = "jira",
    params(("id" = String, Path, description = "Job id")),
    responses(
        (status = 202, description = "Queued again", body = Queued),
        (status = 404, description = "No such job", body = ErrorEnvelope),
        (status = 409, description = "The job is not failed", body = ErrorEnvelope),
    ),
    security(("api_key" = []))
)]
pub async fn retry_job(
    State(state): State<AppState>,
    AdminKeyAuth(principal): AdminKeyAuth,
    ApiPath(id): ApiPath<String>,
) -> Result<impl IntoResponse, ApiError> {
    match sync::retry(&state, &principal.tenant_id, &id).await? {
        None => Err(ApiError::not_found(format!("job `{id}` not found"))),
        Some(false) => Err(ApiError::new(
            StatusCode::CONFLICT,
            "not_failed",
            format!("job `{id}` is not failed; only dead-lettered jobs can be retried"),
        )),
        Some(true) => Ok((StatusCode::ACCEPTED, Json(Queued { job_id: id }))),
    }
}

/// Where the jobs of one bulk request are: counts, and every skipped or failed one with its
/// reason.
#[utoipa::path(
    get, path = "/api/v1/bulk/{id}", tag = "jira",
    params(("id" = String, Path, description = "Bulk id from a bulk request")),
    responses(
        (status = 200, description = "Summary", body = BulkSummary),
        (status = 404, description = "No jobs with that bulk id", body = ErrorEnvelope),
    ),
    security(("api_key" = []))
)]
pub async fn bulk_summary(
    State(state): State<AppState>,
    AdminKeyAuth(principal): AdminKeyAuth,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<BulkSummary>, ApiError> {
    sync::summary(&state, &principal.tenant_id, &id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found(format!("no jobs for bulk `{id}`")))
}
