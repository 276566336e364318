//! `/api/v1/findings`: import (one or a batch), list with filters and cursor paging, read,
//! status change and the audit trail. Thin: parse, call the findings service, shape the answer.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use chrono::{DateTime, Utc};
use rules_sdk::{FindingStatus, Severity};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::AppState;
use super::auth::{AdminKeyAuth, ApiKeyAuth};
use super::error::{ApiError, ErrorEnvelope};
use super::extract::{ApiJson, ApiPath, ApiQuery};
use crate::findings::{
    Actor, EventSource, FieldError, Finding, FindingEvent, FindingFilter, FindingInput,
    ImportOptions, ImportOutcome, ImportedItem, InputError, MAX_PAGE, ScanScope, StatusChange,
    dedupe_batch, limits, parse_finding,
};

#[derive(Serialize, ToSchema)]
pub struct ImportOneResponse {
    pub outcome: ImportOutcome,
    pub finding: Finding,
    /// Names this import in the events it wrote.
    pub import_id: String,
    /// The finding was resolved (or an expired accepted risk) and the scan reported it again:
    /// it is open again, and so is its ticket.
    pub reopened: bool,
}

/// Imports one finding (upsert on `external_id`): 201 when created, 200 otherwise.
#[utoipa::path(
    post, path = "/api/v1/findings", tag = "findings",
    request_body = FindingInput,
    responses(
        (status = 201, description = "Created", body = ImportOneResponse),
        (status = 200, description = "Updated or unchanged", body = ImportOneResponse),
        (status = "4XX", description = "Bad input or credentials", body = ErrorEnvelope),
    ),
    security(("api_key" = []))
)]
pub async fn import_one(
    State(state): State<AppState>,
    ApiKeyAuth(principal): ApiKeyAuth,
    ApiJson(body): ApiJson<serde_json::Value>,
) -> Result<impl IntoResponse, ApiError> {
    let finding = parse_finding(body).map_err(|e| match e {
        InputError::Malformed(f) => ApiError::invalid_field(f),
        InputError::Invalid(f) => ApiError::unprocessable(f),
    })?;
    let actor = Actor::ApiKey(principal.key_id.clone());
    let auto_ticket = crate::sync::export::auto_tickets(&state, &principal.tenant_id).await;
    let options = ImportOptions {
        auto_ticket,
        close_missing: None,
    };
    let mut report = state
        .findings()
        .import_scan(&principal.tenant_id, &actor, vec![(0, finding)], &options)
        .await?;
    let item = report.items.pop().expect("one item in, one result out");
    let finding = state.findings().get(&principal.tenant_id, &item.id).await?;
    let status = if item.outcome == ImportOutcome::Created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        Json(ImportOneResponse {
            outcome: item.outcome,
            finding,
            reopened: !report.verification.reopened.is_empty(),
            import_id: report.verification.import_id,
        }),
    ))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchRequest {
    /// Up to 10,000 findings; each is validated on its own.
    #[schema(value_type = Vec<FindingInput>)]
    pub findings: Vec<serde_json::Value>,
    /// What this batch is a complete scan of (with `close_missing`): every finding in it must
    /// carry this repository and scan type.
    #[serde(default)]
    pub scope: Option<ScopeBody>,
    /// The batch is the whole scan of `scope`: open findings of that scope it does not report
    /// are resolved (source `scan`) and their tickets closed. Refused unless every item is
    /// valid, so a rejected item is never taken for a fixed one.
    #[serde(default)]
    pub close_missing: bool,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScopeBody {
    pub repository: String,
    /// e.g. `sast`; compared case-insensitively.
    pub scan_type: String,
}

#[derive(Serialize, ToSchema)]
pub struct BatchItemError {
    pub index: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    /// `invalid_field` (wrong type/shape) or `validation_failed` (value not acceptable).
    pub code: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    pub message: String,
}

#[derive(Serialize, ToSchema)]
pub struct BatchResponse {
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
    pub failed: usize,
    /// Names this import in the events and decisions it touched.
    pub import_id: String,
    /// Ids of resolved findings (and expired accepted risks) the scan reported again: open
    /// again, their tickets reopened.
    pub reopened: Vec<String>,
    /// Ids of open findings of the full scan's scope it no longer reports: resolved.
    pub closed: Vec<String>,
    /// One entry per imported finding, in batch order.
    pub items: Vec<ImportedItem>,
    /// One entry per refused finding; the rest of the batch is still imported.
    pub errors: Vec<BatchItemError>,
}

/// Imports up to 10,000 findings at once. Invalid items are reported one by one and do not
/// fail the batch.
#[utoipa::path(
    post, path = "/api/v1/findings:batch", tag = "findings",
    request_body = BatchRequest,
    responses(
        (status = 200, description = "Import summary", body = BatchResponse),
        (status = "4XX", description = "Bad input or credentials", body = ErrorEnvelope),
    ),
    security(("api_key" = []))
)]
pub async fn import_batch(
    State(state): State<AppState>,
    ApiKeyAuth(principal): ApiKeyAuth,
    ApiJson(body): ApiJson<BatchRequest>,
) -> Result<Json<BatchResponse>, ApiError> {
    if body.findings.len() > limits::BATCH_FINDINGS {
        return Err(crate::findings::FindingsError::BatchTooLarge {
            max: limits::BATCH_FINDINGS,
            got: body.findings.len(),
        }
        .into());
    }
    let mut valid = Vec::with_capacity(body.findings.len());
    let mut errors = Vec::new();
    for (index, value) in body.findings.into_iter().enumerate() {
        let external_id = value
            .get("external_id")
            .and_then(|v| v.as_str())
            .map(str::to_owned);
        match parse_finding(value) {
            Ok(f) => valid.push((index, f)),
            Err(e) => errors.push(item_error(index, external_id, e.code(), e.field_error())),
        }
    }
    let (unique, duplicates) = dedupe_batch(valid);
    for d in duplicates {
        let error = item_error(d.index, Some(d.external_id), "duplicate_in_batch", &d.error);
        errors.push(error);
    }
    errors.sort_by_key(|e| e.index);
    let close_missing = full_scan_scope(&body.scope, body.close_missing, &unique, &errors)?;
    state.metrics().findings_failed(errors.len() as u64);

    let actor = Actor::ApiKey(principal.key_id.clone());
    let auto_ticket = crate::sync::export::auto_tickets(&state, &principal.tenant_id).await;
    let options = ImportOptions {
        auto_ticket,
        close_missing,
    };
    let report = state
        .findings()
        .import_scan(&principal.tenant_id, &actor, unique, &options)
        .await?;
    let items = report.items;
    let count = |o| items.iter().filter(|i| i.outcome == o).count();
    Ok(Json(BatchResponse {
        created: count(ImportOutcome::Created),
        updated: count(ImportOutcome::Updated),
        unchanged: count(ImportOutcome::Unchanged),
        failed: errors.len(),
        import_id: report.verification.import_id,
        reopened: report.verification.reopened,
        closed: report.verification.closed,
        items,
        errors,
    }))
}

/// Checks a full-scan import before anything is written: `close_missing` needs a scope, every
/// item valid and inside it.
fn full_scan_scope(
    scope: &Option<ScopeBody>,
    close_missing: bool,
    items: &[crate::findings::Indexed],
    errors: &[BatchItemError],
) -> Result<Option<ScanScope>, ApiError> {
    let Some(scope) = scope else {
        if close_missing {
            return Err(ApiError::unprocessable(FieldError::new(
                "scope",
                "is required with close_missing: the repository and scan type the batch is a full scan of",
            )));
        }
        return Ok(None);
    };
    let repository = scope.repository.trim();
    let scan_type = scope.scan_type.trim().to_ascii_lowercase();
    if repository.is_empty() || scan_type.is_empty() {
        return Err(ApiError::unprocessable(FieldError::new(
            "scope",
            "needs a non-empty repository and scan_type",
        )));
    }
    if let Some((index, _)) = items.iter().find(|(_, f)| {
        f.repository.as_deref() != Some(repository) || f.scan_type.as_deref() != Some(&scan_type)
    }) {
        return Err(ApiError::unprocessable(FieldError::new(
            "findings",
            format!(
                "the finding at index {index} is outside the scope ({repository}, {scan_type}); a full-scan import holds only that scope's findings"
            ),
        )));
    }
    if close_missing && !errors.is_empty() {
        return Err(ApiError::unprocessable(FieldError::new(
            "findings",
            format!(
                "{} finding(s) were refused (the first at index {}): a full-scan import closes what it does not report, so every item must be valid",
                errors.len(),
                errors[0].index
            ),
        )));
    }
    Ok(close_missing.then(|| ScanScope {
        repository: repository.to_owned(),
        scan_type,
    }))
}

fn item_error(
    index: usize,
    external_id: Option<String>,
    code: &str,
    e: &FieldError,
) -> BatchItemError {
    BatchItemError {
        index,
        external_id,
        code: code.to_owned(),
        field: (!e.field.is_empty()).then(|| e.field.clone()),
        message: e.to_string(),
    }
}

/// Filters for `GET /api/v1/findings`. Lists are comma-separated.
#[derive(Clone, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// e.g. `open,accepted_risk`
    pub status: Option<String>,
    /// e.g. `high,critical`
    pub severity: Option<String>,
    pub min_score: Option<f64>,
    pub max_score: Option<f64>,
    pub scan_type: Option<String>,
    pub repository: Option<String>,
    pub has_jira_link: Option<bool>,
    /// RFC 3339 time, e.g. `2026-11-01T00:00:00Z`
    pub updated_since: Option<String>,
    /// From the previous page's `next_cursor`.
    pub cursor: Option<String>,
    /// 1–1000, default 100.
    pub limit: Option<u64>,
}

#[derive(Serialize, ToSchema)]
pub struct FindingPage {
    pub findings: Vec<Finding>,
    /// Pass as `cursor` to get the next page; null on the last page.
    pub next_cursor: Option<String>,
}

fn parse_list<T: std::str::FromStr>(param: &str, raw: &Option<String>) -> Result<Vec<T>, ApiError>
where
    T::Err: std::fmt::Display,
{
    let Some(raw) = raw else {
        return Ok(Vec::new());
    };
    raw.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<T>().map_err(|e| {
                ApiError::bad_request("invalid_query", format!("{param}: {e}")).with_field(param)
            })
        })
        .collect()
}

/// The filter and page size a list query asks for, checked.
pub fn list_filter(q: &ListQuery) -> Result<(FindingFilter, u64), ApiError> {
    let limit = q.limit.unwrap_or(100);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(ApiError::bad_request(
            "invalid_query",
            format!("limit: {limit} is outside 1 to {MAX_PAGE}"),
        )
        .with_field("limit"));
    }
    for (name, value) in [("min_score", q.min_score), ("max_score", q.max_score)] {
        if let Some(v) = value
            && !(0.0..=10.0).contains(&v)
        {
            return Err(ApiError::bad_request(
                "invalid_query",
                format!("{name}: {v} is outside 0 to 10"),
            )
            .with_field(name));
        }
    }
    let updated_since = q
        .updated_since
        .as_deref()
        .map(|s| {
            DateTime::parse_from_rfc3339(s)
                .map(|t| t.with_timezone(&Utc))
                .map_err(|e| {
                    ApiError::bad_request(
                        "invalid_query",
                        format!("updated_since: `{s}` is not an RFC 3339 time ({e})"),
                    )
                    .with_field("updated_since")
                })
        })
        .transpose()?;
    let filter = FindingFilter {
        statuses: parse_list::<FindingStatus>("status", &q.status)?,
        severities: parse_list::<Severity>("severity", &q.severity)?,
        min_score: q.min_score,
        max_score: q.max_score,
        scan_type: q.scan_type.clone(),
        repository: q.repository.clone(),
        has_jira_link: q.has_jira_link,
        updated_since,
        newest_first: false,
    };
    Ok((filter, limit))
}

/// Lists the tenant's findings, oldest first, with filters and cursor paging.
#[utoipa::path(
    get, path = "/api/v1/findings", tag = "findings",
    params(ListQuery),
    responses(
        (status = 200, description = "A page of findings", body = FindingPage),
        (status = "4XX", description = "Bad parameters or credentials", body = ErrorEnvelope),
    ),
    security(("api_key" = []))
)]
pub async fn list(
    State(state): State<AppState>,
    ApiKeyAuth(principal): ApiKeyAuth,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Json<FindingPage>, ApiError> {
    let (filter, limit) = list_filter(&q)?;
    let page = state
        .findings()
        .list(&principal.tenant_id, &filter, q.cursor.as_deref(), limit)
        .await?;
    Ok(Json(FindingPage {
        findings: page.findings,
        next_cursor: page.next_cursor,
    }))
}

/// One finding. Another tenant's finding answers 404, exactly like a missing one.
#[utoipa::path(
    get, path = "/api/v1/findings/{id}", tag = "findings",
    params(("id" = String, Path, description = "Finding id")),
    responses(
        (status = 200, description = "The finding", body = Finding),
        (status = 404, description = "No such finding for this tenant", body = ErrorEnvelope),
    ),
    security(("api_key" = []))
)]
pub async fn get(
    State(state): State<AppState>,
    ApiKeyAuth(principal): ApiKeyAuth,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<Finding>, ApiError> {
    Ok(Json(state.findings().get(&principal.tenant_id, &id).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchFinding {
    #[schema(schema_with = crate::findings::model::status_schema)]
    pub status: FindingStatus,
    /// Required for `false_positive` and `accepted_risk`; recorded in the audit trail.
    #[serde(default)]
    pub reason: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct PatchResponse {
    pub finding: Finding,
    /// The audit event this change wrote.
    pub event: FindingEvent,
}

/// Changes a finding's status, with a reason; writes an audit event.
#[utoipa::path(
    patch, path = "/api/v1/findings/{id}", tag = "findings",
    params(("id" = String, Path, description = "Finding id")),
    request_body = PatchFinding,
    responses(
        (status = 200, description = "Changed", body = PatchResponse),
        (status = 404, description = "No such finding for this tenant", body = ErrorEnvelope),
        (status = 409, description = "Already in that status, or changed concurrently", body = ErrorEnvelope),
        (status = 422, description = "Missing or invalid reason", body = ErrorEnvelope),
    ),
    security(("api_key" = []))
)]
pub async fn patch(
    State(state): State<AppState>,
    AdminKeyAuth(principal): AdminKeyAuth,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<PatchFinding>,
) -> Result<Json<PatchResponse>, ApiError> {
    let change = StatusChange {
        to: body.status,
        reason: body.reason,
        actor: Actor::ApiKey(principal.key_id.clone()),
        source: EventSource::Api,
        rule: None,
        bulk_id: None,
    };
    let (finding, event) = state
        .findings()
        .change_status(&principal.tenant_id, &id, change)
        .await?;
    Ok(Json(PatchResponse { finding, event }))
}

#[derive(Serialize, ToSchema)]
pub struct EventList {
    pub events: Vec<FindingEvent>,
}

/// The finding's audit trail, oldest first.
#[utoipa::path(
    get, path = "/api/v1/findings/{id}/events", tag = "findings",
    params(("id" = String, Path, description = "Finding id")),
    responses(
        (status = 200, description = "Audit trail", body = EventList),
        (status = 404, description = "No such finding for this tenant", body = ErrorEnvelope),
    ),
    security(("api_key" = []))
)]
pub async fn events(
    State(state): State<AppState>,
    ApiKeyAuth(principal): ApiKeyAuth,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<EventList>, ApiError> {
    Ok(Json(EventList {
        events: state.findings().events(&principal.tenant_id, &id).await?,
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewNote {
    /// The note (1–10,000 characters); secrets in it are masked before it is stored or sent.
    pub body: String,
}

#[derive(Serialize, ToSchema)]
pub struct NoteAdded {
    pub note: crate::sync::notes::Note,
    /// Whether a `[Verdict] Note from …` comment was queued for the ticket; a finding without
    /// a ticket sends its notes when one is filed.
    pub sent_to_jira: bool,
}

#[derive(Serialize, ToSchema)]
pub struct NoteList {
    pub notes: Vec<crate::sync::notes::Note>,
}

/// Adds a note: kept in the audit trail and sent to the ticket as a tagged comment (never read
/// back as closure evidence).
#[utoipa::path(
    post, path = "/api/v1/findings/{id}/notes", tag = "findings",
    params(("id" = String, Path, description = "Finding id")),
    request_body = NewNote,
    responses(
        (status = 201, description = "Noted", body = NoteAdded),
        (status = 404, description = "No such finding for this tenant", body = ErrorEnvelope),
        (status = 422, description = "Empty or too long", body = ErrorEnvelope),
    ),
    security(("api_key" = []))
)]
pub async fn add_note(
    State(state): State<AppState>,
    AdminKeyAuth(principal): AdminKeyAuth,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<NewNote>,
) -> Result<(axum::http::StatusCode, Json<NoteAdded>), ApiError> {
    let (note, sent_to_jira) = crate::sync::notes::add(
        &state,
        &principal.tenant_id,
        &id,
        &crate::sync::notes::Writer::ApiKey(principal.key_id.clone()),
        &body.body,
    )
    .await?;
    Ok((
        axum::http::StatusCode::CREATED,
        Json(NoteAdded { note, sent_to_jira }),
    ))
}

/// The finding's notes and its ticket's Jira comments (masked), oldest first.
#[utoipa::path(
    get, path = "/api/v1/findings/{id}/notes", tag = "findings",
    params(("id" = String, Path, description = "Finding id")),
    responses(
        (status = 200, description = "Notes and Jira comments", body = NoteList),
        (status = 404, description = "No such finding for this tenant", body = ErrorEnvelope),
    ),
    security(("api_key" = []))
)]
pub async fn notes(
    State(state): State<AppState>,
    ApiKeyAuth(principal): ApiKeyAuth,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<NoteList>, ApiError> {
    Ok(Json(NoteList {
        notes: crate::sync::notes::list(&state, &principal.tenant_id, &id).await?,
    }))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LinkRequest {
    /// The Jira issue key (`SEC-12`) or id (`10042`).
    pub issue: String,
}

#[utoipa::path(
    put, path = "/api/v1/findings/{id}/jira-link", tag = "findings",
    params(("id" = String, Path, description = "Finding id")),
    request_body = LinkRequest,
    responses(
        (status = 200, description = "Linked (the issue was found in Jira)", body = Finding),
        (status = 404, description = "No such finding, or Jira has no such issue", body = ErrorEnvelope),
        (status = 422, description = "The issue is linked to another finding", body = ErrorEnvelope),
        (status = 502, description = "Jira could not be asked", body = ErrorEnvelope),
    ),
    security(("api_key" = []))
)]
pub async fn put_link(
    State(state): State<AppState>,
    AdminKeyAuth(principal): AdminKeyAuth,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<LinkRequest>,
) -> Result<Json<Finding>, ApiError> {
    let issue = body.issue.trim();
    let valid = !issue.is_empty()
        && issue.len() <= 64
        && issue
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !valid {
        return Err(
            ApiError::bad_request("invalid_field", "issue must be a Jira issue key or id")
                .with_field("issue"),
        );
    }
    // The finding first: never ask Jira on behalf of someone else's finding id.
    state.findings().get(&principal.tenant_id, &id).await?;
    let auth = state
        .jira_auth(&principal.tenant_id)
        .await
        .map_err(|e| ApiError::new(StatusCode::CONFLICT, "not_connected", e.to_string()))?;
    let found = state
        .jira()
        .get_issue(&auth, issue)
        .await
        .map_err(|e| match e {
            crate::jira::JiraError::Status { status: 404, .. } => ApiError::not_found(format!(
                "Jira has no issue {issue} (or Verdict may not see it)"
            )),
            other => ApiError::new(
                StatusCode::BAD_GATEWAY,
                "jira_unavailable",
                other.to_string(),
            ),
        })?;
    let target = crate::findings::LinkTarget {
        site: auth.base_url().to_string(),
        issue_id: found.id.clone(),
        issue_key: found.key.clone(),
        project_key: found.project.clone(),
        group_key: None,
    };
    let category = found.status.category.clone();
    let actor = Actor::ApiKey(principal.key_id.clone());
    let finding = state
        .findings()
        .link(&principal.tenant_id, &id, target.clone(), &actor)
        .await?;
    crate::triage::seed_ticket_state(
        &state,
        &principal.tenant_id,
        &target.issue_id,
        &target.issue_key,
        &category,
    )
    .await
    .map_err(|e| ApiError::internal("ticket state", &e))?;
    Ok(Json(finding))
}

#[utoipa::path(
    delete, path = "/api/v1/findings/{id}/jira-link", tag = "findings",
    params(("id" = String, Path, description = "Finding id")),
    responses(
        (status = 204, description = "Unlinked"),
        (status = 404, description = "No such finding, or it has no link", body = ErrorEnvelope),
    ),
    security(("api_key" = []))
)]
pub async fn delete_link(
    State(state): State<AppState>,
    AdminKeyAuth(principal): AdminKeyAuth,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    let actor = Actor::ApiKey(principal.key_id.clone());
    state
        .findings()
        .unlink(&principal.tenant_id, &id, &actor)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize, ToSchema)]
pub struct ResolvedQuality {
    /// Per rule and resolution, most contradicted first.
    pub records: Vec<crate::triage::quality::ResolvedRecord>,
}

/// How often a Resolved verdict held: closure decisions that resolved a finding, and how many
/// a later scan contradicted by reporting the finding again, per rule and per resolution.
#[utoipa::path(
    get, path = "/api/v1/quality/resolved", tag = "findings",
    responses(
        (status = 200, description = "Resolved verdicts and their contradictions", body = ResolvedQuality),
        (status = "4XX", description = "Bad credentials", body = ErrorEnvelope),
    ),
    security(("api_key" = []))
)]
pub async fn resolved_quality(
    State(state): State<AppState>,
    ApiKeyAuth(principal): ApiKeyAuth,
) -> Result<Json<ResolvedQuality>, ApiError> {
    let records =
        crate::triage::quality::resolved_records(state.store().db(), &principal.tenant_id).await?;
    Ok(Json(ResolvedQuality { records }))
}

/// `GET /f/{id}`: where a ticket's "Finding in Verdict" link lands. Anyone who can click it in
/// Jira may open it, so it shows no finding data — it says where the finding is shown (the
/// ticket's Verdict panel; the admin app). The id is only echoed when it looks like one.
pub async fn finding_link_page(
    axum::extract::Path(id): axum::extract::Path<String>,
) -> axum::response::Html<String> {
    let shown = if !id.is_empty()
        && id.len() <= 64
        && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    {
        format!("<p>Finding <code>{id}</code>.</p>")
    } else {
        String::new()
    };
    axum::response::Html(format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>Verdict finding</title></head>\
         <body style=\"font-family:sans-serif;margin:24px;max-width:40em\">\
         <h1>A security finding tracked by Verdict</h1>{shown}\
         <p>Its details — status, severity, location, and the last decision with its reason and \
         evidence — are shown on the Jira ticket itself, in the <strong>Security findings \
         (Verdict)</strong> panel, to everyone who can see the ticket.</p>\
         <p>Jira administrators see every finding in Jira: <em>Apps → Verdict → Findings</em>.</p>\
         <p>Nothing about the finding is shown on this page: Verdict shows findings only inside \
         Jira, or to an operator signed in to its admin app.</p></body></html>"
    ))
}
