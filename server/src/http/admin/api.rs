//! `/api/admin/v1`: the JSON API behind the admin app (the same for Connect, Forge and the
//! standalone page). Every handler takes [`AdminAuth`], so it knows the tenant and who is
//! asking; every change is audited.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use base64::Engine as _;
use sea_orm::{EntityTrait as _, QueryOrder as _};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::super::AppState;
use super::super::error::ApiError;
use super::super::extract::{ApiJson, ApiPath, ApiQuery};
use super::super::findings::{FindingPage, ListQuery, list_filter};
use super::auth::{AdminAuth, OperatorSession};
use crate::admin::audit::{self, AuditEntry, action};
use crate::admin::decisions::{self, DecisionDetail, DecisionFilter, DecisionPage};
use crate::admin::jira_meta::{self, Choice};
use crate::admin::overview::{self, Overview};
use crate::admin::settings::{self, GroupUpdate, SettingsView, Source};
use crate::admin::{AdminCtx, AdminError, Principal};
use crate::rules::replay::{self, ReplayReport};
use crate::rules::{LogLine, RuleVersion, Usage};
use crate::sync::export::{BulkQueued, ExportRequest};
use crate::tenants;

/// Who is signed in, and to which tenant.
#[derive(Serialize)]
pub struct Me {
    pub principal: Principal,
    /// `connect`, `forge` or `standalone`.
    pub via: String,
    pub tenant: TenantInfo,
    pub base_url: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct TenantInfo {
    pub id: String,
    pub name: String,
    pub kind: String,
    pub site: Option<String>,
    pub display_url: Option<String>,
    pub status: String,
}

pub async fn me(
    State(state): State<AppState>,
    AdminAuth(ctx): AdminAuth,
) -> Result<Json<Me>, ApiError> {
    let h = crate::tenants::health::health(state.store().db(), &ctx.tenant_id).await?;
    Ok(Json(Me {
        via: ctx.via.as_str().to_owned(),
        principal: ctx.principal,
        tenant: TenantInfo {
            id: h.tenant,
            name: h.name,
            kind: h.kind,
            site: h.site,
            display_url: h.display_url,
            status: h.status,
        },
        base_url: state.config().public_url(""),
    }))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct TenantList {
    pub tenants: Vec<TenantInfo>,
}

/// Every tenant, for the operator's tenant picker.
pub async fn tenants(
    State(state): State<AppState>,
    _: OperatorSession,
) -> Result<Json<TenantList>, ApiError> {
    let out = crate::store::entities::tenants::Entity::find()
        .order_by_asc(crate::store::entities::tenants::Column::Id)
        .all(state.store().db())
        .await?
        .into_iter()
        .map(|r| TenantInfo {
            id: r.id,
            name: r.name,
            kind: r.kind,
            display_url: r.display_url.or_else(|| r.site_url.clone()),
            site: r.site_url,
            status: r.status,
        })
        .collect();
    Ok(Json(TenantList { tenants: out }))
}

pub async fn overview(
    State(state): State<AppState>,
    AdminAuth(ctx): AdminAuth,
) -> Result<Json<Overview>, ApiError> {
    Ok(Json(overview::overview(&state, &ctx.tenant_id).await?))
}

pub async fn retry_delivery(
    State(state): State<AppState>,
    AdminAuth(ctx): AdminAuth,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    match crate::webhooks::worker::retry(&state, &ctx.tenant_id, &id).await? {
        None => Err(ApiError::not_found(format!("delivery `{id}` not found"))),
        Some(false) => Err(ApiError::new(
            StatusCode::CONFLICT,
            "not_failed",
            "only a failed delivery can be retried",
        )),
        Some(true) => {
            audit::record(
                state.store().db(),
                &ctx,
                action::DELIVERY_RETRY,
                Some(&id),
                Some(json!("failed")),
                Some(json!("pending")),
            )
            .await?;
            Ok(StatusCode::ACCEPTED)
        }
    }
}

pub async fn retry_job(
    State(state): State<AppState>,
    AdminAuth(ctx): AdminAuth,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    match crate::sync::retry(&state, &ctx.tenant_id, &id).await? {
        None => Err(ApiError::not_found(format!("job `{id}` not found"))),
        Some(false) => Err(ApiError::new(
            StatusCode::CONFLICT,
            "not_failed",
            "only a failed job can be retried",
        )),
        Some(true) => {
            audit::record(
                state.store().db(),
                &ctx,
                action::JOB_RETRY,
                Some(&id),
                Some(json!("failed")),
                Some(json!("pending")),
            )
            .await?;
            Ok(StatusCode::ACCEPTED)
        }
    }
}

// --- scanners (API keys) -------------------------------------------------------------------

#[derive(Serialize, utoipa::ToSchema)]
pub struct ApiKeyList {
    pub keys: Vec<tenants::ApiKeyInfo>,
}

pub async fn api_keys(
    State(state): State<AppState>,
    AdminAuth(ctx): AdminAuth,
) -> Result<Json<ApiKeyList>, ApiError> {
    let tenant = tenants::find_tenant(state.store().db(), &ctx.tenant_id).await?;
    Ok(Json(ApiKeyList {
        keys: tenants::list_api_keys(state.store().db(), &tenant).await?,
    }))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewKey {
    /// What the key is for, e.g. the scanner's name (1–100 characters).
    pub name: String,
    /// `scanner` (the default: imports and reads findings) or `admin`.
    #[serde(default = "scanner_scope")]
    pub scope: tenants::KeyScope,
}

fn scanner_scope() -> tenants::KeyScope {
    tenants::KeyScope::Scanner
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct KeyChange {
    pub scope: tenants::KeyScope,
}

/// A new key: shown once.
#[derive(Serialize, utoipa::ToSchema)]
pub struct CreatedKey {
    pub id: String,
    pub name: String,
    pub prefix: String,
    pub scope: tenants::KeyScope,
    /// The key itself; it is not stored and cannot be shown again.
    pub key: String,
    /// A command that imports a finding with this key, ready to run.
    pub import_command: String,
}

pub async fn create_api_key(
    State(state): State<AppState>,
    AdminAuth(ctx): AdminAuth,
    ApiJson(body): ApiJson<NewKey>,
) -> Result<(StatusCode, Json<CreatedKey>), ApiError> {
    let name = body.name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(AdminError::invalid("name", "give the key a name of 1–100 characters").into());
    }
    let db = state.store().db();
    let tenant = tenants::find_tenant(db, &ctx.tenant_id).await?;
    let key = {
        let _w = state.store().write_lock().await;
        use sea_orm::TransactionTrait as _;
        let txn = db.begin().await?;
        let key = tenants::create_api_key(&txn, &tenant, name, body.scope).await?;
        audit::record(
            &txn,
            &ctx,
            action::API_KEY_CREATE,
            Some(&key.id),
            None,
            Some(json!({"name": key.name, "prefix": key.prefix, "scope": key.scope})),
        )
        .await?;
        txn.commit().await?;
        key
    };
    let url = state.config().public_url("/api/v1/findings");
    let import_command = format!(
        "curl -s -X POST {url} -H 'Authorization: Bearer {}' -H 'Content-Type: application/json' -d '{{\"external_id\": \"example:1\", \"title\": \"Example finding\", \"severity\": \"high\"}}'",
        key.secret
    );
    Ok((
        StatusCode::CREATED,
        Json(CreatedKey {
            id: key.id,
            name: key.name,
            prefix: key.prefix,
            scope: key.scope,
            key: key.secret,
            import_command,
        }),
    ))
}

/// Changes a key's scope (narrowing an old admin key a scanner uses, typically).
pub async fn change_api_key(
    State(state): State<AppState>,
    AdminAuth(ctx): AdminAuth,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<KeyChange>,
) -> Result<Json<tenants::ApiKeyInfo>, ApiError> {
    let db = state.store().db();
    let tenant = tenants::find_tenant(db, &ctx.tenant_id).await?;
    let _w = state.store().write_lock().await;
    use sea_orm::TransactionTrait as _;
    let txn = db.begin().await?;
    let (before, after) = tenants::set_api_key_scope(&txn, &tenant, &id, body.scope).await?;
    audit::record(
        &txn,
        &ctx,
        action::API_KEY_SCOPE,
        Some(&after.id),
        Some(json!({"name": before.name, "prefix": before.prefix, "scope": before.scope})),
        Some(json!({"scope": after.scope})),
    )
    .await?;
    txn.commit().await?;
    Ok(Json(after))
}

pub async fn revoke_api_key(
    State(state): State<AppState>,
    AdminAuth(ctx): AdminAuth,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    let db = state.store().db();
    let tenant = tenants::find_tenant(db, &ctx.tenant_id).await?;
    let _w = state.store().write_lock().await;
    use sea_orm::TransactionTrait as _;
    let txn = db.begin().await?;
    let key = tenants::revoke_api_key(&txn, &tenant, &id).await?;
    audit::record(
        &txn,
        &ctx,
        action::API_KEY_REVOKE,
        Some(&key.id),
        Some(json!({"name": key.name, "prefix": key.prefix, "revoked": false})),
        Some(json!({"revoked": true})),
    )
    .await?;
    txn.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

// --- settings ------------------------------------------------------------------------------

pub async fn get_settings(
    State(state): State<AppState>,
    AdminAuth(ctx): AdminAuth,
) -> Result<Json<SettingsView>, ApiError> {
    Ok(Json(settings::view(&state, &ctx.tenant_id).await?))
}

pub async fn put_settings(
    State(state): State<AppState>,
    AdminAuth(ctx): AdminAuth,
    ApiPath(group): ApiPath<String>,
    ApiJson(update): ApiJson<GroupUpdate>,
) -> Result<Json<SettingsView>, ApiError> {
    Ok(Json(settings::save(&state, &ctx, &group, update).await?))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ChoicesQuery {
    /// The project, for issue types.
    pub project: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ChoiceList {
    pub choices: Vec<Choice>,
}

pub async fn jira_choices(
    State(state): State<AppState>,
    AdminAuth(ctx): AdminAuth,
    ApiPath(source): ApiPath<String>,
    ApiQuery(q): ApiQuery<ChoicesQuery>,
) -> Result<Json<ChoiceList>, ApiError> {
    let source = match source.as_str() {
        "projects" => Source::Projects,
        "issue-types" => Source::IssueTypes,
        "priorities" => Source::Priorities,
        "resolutions" => Source::Resolutions,
        "statuses" => Source::Statuses,
        other => {
            return Err(ApiError::not_found(format!(
                "no Jira list `{other}` (projects, issue-types, priorities, resolutions, statuses)"
            )));
        }
    };
    Ok(Json(ChoiceList {
        choices: jira_meta::choices(&state, &ctx.tenant_id, source, q.project.as_deref()).await?,
    }))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct CreateScreenQuery {
    pub project: String,
    /// The issue type's name; `Bug` when absent.
    pub issue_type: Option<String>,
}

/// The create screen a field map is written for: fields, required ones, allowed values.
pub async fn jira_create_screen(
    State(state): State<AppState>,
    AdminAuth(ctx): AdminAuth,
    ApiQuery(q): ApiQuery<CreateScreenQuery>,
) -> Result<Json<crate::jira::api::CreateScreen>, ApiError> {
    Ok(Json(
        jira_meta::create_screen(
            &state,
            &ctx.tenant_id,
            &q.project,
            q.issue_type.as_deref().unwrap_or("Bug"),
        )
        .await?,
    ))
}

// --- rules ---------------------------------------------------------------------------------

/// A rule with all its versions.
#[derive(Serialize, utoipa::ToSchema)]
pub struct RuleSummary {
    pub name: String,
    /// Jira project key, or null for tenant-wide (of the newest version).
    pub project: Option<String>,
    #[schema(value_type = Vec<String>)]
    pub decisions: Vec<rules_sdk::DecisionKind>,
    /// The active version, if any.
    pub active_version: Option<i32>,
    pub versions: Vec<RuleVersion>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct RuleSummaries {
    pub rules: Vec<RuleSummary>,
}

pub async fn rules(
    State(state): State<AppState>,
    AdminAuth(ctx): AdminAuth,
) -> Result<Json<RuleSummaries>, ApiError> {
    let mut by_name: BTreeMap<String, Vec<RuleVersion>> = BTreeMap::new();
    for v in state.rules().list(&ctx.tenant_id).await? {
        by_name.entry(v.name.clone()).or_default().push(v);
    }
    let rules = by_name
        .into_iter()
        .map(|(name, mut versions)| {
            versions.sort_by_key(|v| std::cmp::Reverse(v.version));
            let newest = versions.first();
            RuleSummary {
                project: newest.and_then(|v| v.project.clone()),
                decisions: newest.map(|v| v.decisions.clone()).unwrap_or_default(),
                active_version: versions
                    .iter()
                    .find(|v| v.state == "active")
                    .map(|v| v.version),
                name,
                versions,
            }
        })
        .collect();
    Ok(Json(RuleSummaries { rules }))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleUpload {
    pub name: String,
    /// A Jira project key to scope the rule to; tenant-wide when absent.
    #[serde(default)]
    pub project: Option<String>,
    /// The `.wasm` file, base64.
    pub module_base64: String,
}

/// A rule error in words.
#[derive(Serialize, utoipa::ToSchema)]
pub struct RuleProblem {
    pub code: String,
    pub message: String,
    pub explanation: String,
}

fn rule_problem(e: &crate::rules::RuleError) -> RuleProblem {
    RuleProblem {
        code: e.code().to_owned(),
        message: e.to_string(),
        explanation: crate::rules::explain(e.code()).to_owned(),
    }
}

pub async fn upload_rule(
    State(state): State<AppState>,
    AdminAuth(ctx): AdminAuth,
    ApiJson(body): ApiJson<RuleUpload>,
) -> Result<axum::response::Response, ApiError> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(body.module_base64.trim())
        .map_err(|_| AdminError::invalid("module", "the file is not valid base64"))?;
    let project = body
        .project
        .as_deref()
        .map(str::trim)
        .filter(|p| !p.is_empty());
    match state
        .rules()
        .upload(&ctx.tenant_id, body.name.trim(), project, bytes)
        .await
    {
        Ok(v) => {
            audit::record(
                state.store().db(),
                &ctx,
                action::RULE_UPLOAD,
                Some(&format!("{}@{}", v.name, v.version)),
                None,
                Some(json!({"sha256": v.sha256, "size_bytes": v.size_bytes, "project": v.project, "decisions": v.decisions})),
            )
            .await?;
            Ok((StatusCode::CREATED, Json(v)).into_response())
        }
        Err(crate::rules::RulesError::Rule(e)) => {
            tracing::info!(tenant = %ctx.tenant_id, rule = %body.name, code = e.code(), "rule upload refused");
            let status = if matches!(e, crate::rules::RuleError::ModuleTooLarge { .. }) {
                StatusCode::PAYLOAD_TOO_LARGE
            } else {
                StatusCode::UNPROCESSABLE_ENTITY
            };
            let p = rule_problem(&e);
            Ok((
                status,
                Json(json!({"error": {"code": p.code, "message": p.message, "explanation": p.explanation}})),
            )
                .into_response())
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize)]
pub struct VersionPath {
    name: String,
    version: i32,
}

async fn rule_change(
    state: &AppState,
    ctx: &AdminCtx,
    action: &str,
    target: &str,
    before: Option<i32>,
    after: Option<i32>,
) -> Result<(), ApiError> {
    audit::record(
        state.store().db(),
        ctx,
        action,
        Some(target),
        Some(json!({"active_version": before})),
        Some(json!({"active_version": after})),
    )
    .await?;
    Ok(())
}

async fn active_version(
    state: &AppState,
    tenant: &str,
    name: &str,
) -> Result<Option<i32>, ApiError> {
    Ok(state
        .rules()
        .list(tenant)
        .await?
        .into_iter()
        .find(|v| v.name == name && v.state == "active")
        .map(|v| v.version))
}

pub async fn activate_rule(
    State(state): State<AppState>,
    AdminAuth(ctx): AdminAuth,
    ApiPath(p): ApiPath<VersionPath>,
) -> Result<Json<RuleVersion>, ApiError> {
    let before = active_version(&state, &ctx.tenant_id, &p.name).await?;
    let v = state
        .rules()
        .activate(&ctx.tenant_id, &p.name, p.version)
        .await?;
    rule_change(
        &state,
        &ctx,
        action::RULE_ACTIVATE,
        &p.name,
        before,
        Some(v.version),
    )
    .await?;
    Ok(Json(v))
}

pub async fn deactivate_rule(
    State(state): State<AppState>,
    AdminAuth(ctx): AdminAuth,
    ApiPath(name): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    let before = active_version(&state, &ctx.tenant_id, &name).await?;
    state.rules().deactivate(&ctx.tenant_id, &name).await?;
    rule_change(&state, &ctx, action::RULE_DEACTIVATE, &name, before, None).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn rollback_rule(
    State(state): State<AppState>,
    AdminAuth(ctx): AdminAuth,
    ApiPath(name): ApiPath<String>,
) -> Result<Json<RuleVersion>, ApiError> {
    let before = active_version(&state, &ctx.tenant_id, &name).await?;
    let v = state.rules().rollback(&ctx.tenant_id, &name).await?;
    rule_change(
        &state,
        &ctx,
        action::RULE_ROLLBACK,
        &name,
        before,
        Some(v.version),
    )
    .await?;
    Ok(Json(v))
}

pub async fn delete_rule_version(
    State(state): State<AppState>,
    AdminAuth(ctx): AdminAuth,
    ApiPath(p): ApiPath<VersionPath>,
) -> Result<StatusCode, ApiError> {
    state
        .rules()
        .delete(&ctx.tenant_id, &p.name, p.version)
        .await?;
    audit::record(
        state.store().db(),
        &ctx,
        action::RULE_DELETE,
        Some(&format!("{}@{}", p.name, p.version)),
        Some(json!({"version": p.version})),
        None,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EvaluateRequest {
    /// A rule input (`{"closure": {...}}`, …), or
    #[schema(value_type = Option<Object>)]
    #[serde(default)]
    pub input: Option<Value>,
    /// a decision from the log whose input is run again.
    #[serde(default)]
    pub decision_id: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Evaluated {
    #[schema(value_type = Option<Object>)]
    pub output: Option<rules_sdk::RuleOutput>,
    pub error: Option<RuleProblem>,
    pub usage: Usage,
    pub logs: Vec<LogLine>,
    /// The input that was run (from the log when `decision_id` was given).
    #[schema(value_type = Object)]
    pub input: Value,
}

pub async fn evaluate_rule(
    State(state): State<AppState>,
    AdminAuth(ctx): AdminAuth,
    ApiPath(p): ApiPath<VersionPath>,
    ApiJson(body): ApiJson<EvaluateRequest>,
) -> Result<Json<Evaluated>, ApiError> {
    let raw = match (body.input, body.decision_id) {
        (Some(i), None) => i,
        (None, Some(id)) => decisions::get(&state, &ctx.tenant_id, &id).await?.input,
        _ => {
            return Err(AdminError::invalid(
                "input",
                "give either an input or the id of a decision from the log",
            )
            .into());
        }
    };
    let input = serde_json::from_value::<rules_sdk::RuleInput>(raw.clone())
        .map_err(|e| {
            AdminError::invalid(
                "input",
                format!("not a rule input ({{\"closure\": {{…}}}}, {{\"transition\": …}} or {{\"ticketing\": …}}): {e}"),
            )
        })?
        .with_page_references();
    let eval = state
        .rules()
        .evaluate_version(&ctx.tenant_id, &p.name, p.version, input)
        .await?;
    let (output, error) = match eval.result {
        Ok(o) => (Some(o), None),
        Err(e) => (None, Some(rule_problem(&e))),
    };
    Ok(Json(Evaluated {
        output,
        error,
        usage: eval.usage,
        logs: eval.logs,
        input: raw,
    }))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ReplayQuery {
    /// How many of the latest closures (1–500, default 50).
    pub limit: Option<u64>,
}

pub async fn replay_rule(
    State(state): State<AppState>,
    AdminAuth(ctx): AdminAuth,
    ApiPath(p): ApiPath<VersionPath>,
    ApiQuery(q): ApiQuery<ReplayQuery>,
) -> Result<Json<ReplayReport>, ApiError> {
    let limit = q.limit.unwrap_or(50);
    if !(1..=replay::MAX_REPLAY).contains(&limit) {
        return Err(AdminError::invalid(
            "limit",
            format!("must be between 1 and {}", replay::MAX_REPLAY),
        )
        .into());
    }
    Ok(Json(
        replay::replay(
            state.rules(),
            state.store(),
            &ctx.tenant_id,
            &p.name,
            p.version,
            limit,
        )
        .await?,
    ))
}

// --- decisions, findings, audit --------------------------------------------------------------

pub async fn decision_log(
    State(state): State<AppState>,
    AdminAuth(ctx): AdminAuth,
    ApiQuery(f): ApiQuery<DecisionFilter>,
) -> Result<Json<DecisionPage>, ApiError> {
    Ok(Json(decisions::list(&state, &ctx.tenant_id, &f).await?))
}

pub async fn decision(
    State(state): State<AppState>,
    AdminAuth(ctx): AdminAuth,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<DecisionDetail>, ApiError> {
    Ok(Json(decisions::get(&state, &ctx.tenant_id, &id).await?))
}

pub async fn findings(
    State(state): State<AppState>,
    AdminAuth(ctx): AdminAuth,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Json<FindingPage>, ApiError> {
    let (mut filter, _) = list_filter(&ListQuery {
        limit: None,
        ..q.clone()
    })?;
    let limit = q.limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        return Err(AdminError::invalid("limit", "must be between 1 and 200").into());
    }
    filter.newest_first = true;
    let page = state
        .findings()
        .list(&ctx.tenant_id, &filter, q.cursor.as_deref(), limit)
        .await?;
    Ok(Json(FindingPage {
        findings: page.findings,
        next_cursor: page.next_cursor,
    }))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExportSelected {
    /// Finding ids (1–1000).
    pub ids: Vec<String>,
}

pub async fn export_findings(
    State(state): State<AppState>,
    AdminAuth(ctx): AdminAuth,
    ApiJson(body): ApiJson<ExportSelected>,
) -> Result<(StatusCode, Json<BulkQueued>), ApiError> {
    if body.ids.is_empty() || body.ids.len() > 1000 {
        return Err(AdminError::invalid("ids", "select 1–1000 findings").into());
    }
    let (q, _) = crate::sync::export::queue_exports(
        &state,
        &ctx.tenant_id,
        &body.ids,
        &ExportRequest::default(),
    )
    .await?;
    audit::record(
        state.store().db(),
        &ctx,
        if body.ids.len() == 1 {
            action::FINDING_EXPORT
        } else {
            action::FINDINGS_EXPORT
        },
        Some(&q.bulk_id),
        None,
        Some(json!({"requested": body.ids.len(), "queued": q.queued, "skipped": q.skipped.len()})),
    )
    .await?;
    Ok((StatusCode::ACCEPTED, Json(q)))
}

/// The finding's notes and its ticket's Jira comments (masked).
pub async fn finding_notes(
    State(state): State<AppState>,
    AdminAuth(ctx): AdminAuth,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<crate::http::findings::NoteList>, ApiError> {
    Ok(Json(crate::http::findings::NoteList {
        notes: crate::sync::notes::list(&state, &ctx.tenant_id, &id).await?,
    }))
}

/// Adds a note as the signed-in admin (sent to the ticket as a `[Verdict]` comment), audited.
pub async fn add_finding_note(
    State(state): State<AppState>,
    AdminAuth(ctx): AdminAuth,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<crate::http::findings::NewNote>,
) -> Result<(StatusCode, Json<crate::http::findings::NoteAdded>), ApiError> {
    use crate::admin::Principal;
    use crate::sync::notes::Writer;
    let writer = match &ctx.principal {
        Principal::JiraAccount(a) => Writer::JiraAccount(a.clone()),
        Principal::Operator => Writer::Operator,
    };
    let (note, sent_to_jira) =
        crate::sync::notes::add(&state, &ctx.tenant_id, &id, &writer, &body.body).await?;
    audit::record(
        state.store().db(),
        &ctx,
        action::FINDING_NOTE,
        Some(&id),
        None,
        Some(json!({"sent_to_jira": sent_to_jira})),
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(crate::http::findings::NoteAdded { note, sent_to_jira }),
    ))
}

/// Re-pushes a finding's ticket (summary, description, priority sent again), audited.
pub async fn push_finding(
    State(state): State<AppState>,
    AdminAuth(ctx): AdminAuth,
    ApiPath(id): ApiPath<String>,
) -> Result<(StatusCode, Json<crate::http::sync::Queued>), ApiError> {
    let job_id = crate::sync::export::queue_push(&state, &ctx.tenant_id, &id).await?;
    audit::record(
        state.store().db(),
        &ctx,
        action::FINDING_PUSH,
        Some(&id),
        None,
        Some(json!({"job_id": job_id})),
    )
    .await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(crate::http::sync::Queued { job_id }),
    ))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// The `id` of the last entry of the previous page.
    pub before: Option<String>,
    /// 1–200, default 50.
    pub limit: Option<u64>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct AuditPage {
    pub entries: Vec<AuditEntry>,
}

pub async fn audit_log(
    State(state): State<AppState>,
    AdminAuth(ctx): AdminAuth,
    ApiQuery(q): ApiQuery<AuditQuery>,
) -> Result<Json<AuditPage>, ApiError> {
    let limit = q.limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        return Err(AdminError::invalid("limit", "must be between 1 and 200").into());
    }
    let mut entries = audit::list(
        state.store().db(),
        &ctx.tenant_id,
        q.before.as_deref(),
        limit,
    )
    .await?;
    let accounts: Vec<String> = entries
        .iter()
        .filter(|e| e.actor_kind == "jira_account")
        .map(|e| e.actor_id.clone())
        .collect();
    let names = state
        .people()
        .names(&state, &ctx.tenant_id, &accounts)
        .await;
    for e in &mut entries {
        e.actor_name = names.get(&e.actor_id).cloned();
    }
    Ok(Json(AuditPage { entries }))
}
