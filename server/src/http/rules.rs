//! `/api/v1/rules` and `/api/v1/settings`: upload, list, activate, roll back, delete, evaluate
//! and replay a tenant's rules; the settings rules read and the limits they run under.

use std::collections::BTreeMap;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, FromRequest, Multipart, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use rules_sdk::RuleInput;
use serde::{Deserialize, Serialize};

use super::AppState;
use super::auth::AdminKeyAuth;
use super::error::ApiError;
use super::extract::{ApiJson, ApiPath, ApiQuery};
use crate::rules::limits::UPLOAD_BODY_BYTES;
use crate::rules::replay::{self, ReplayReport};
use crate::rules::{LogLine, RuleError, RuleVersion, RulesError, Usage};

pub fn routes() -> axum::Router<AppState> {
    axum::Router::new()
        .route(
            "/api/v1/rules",
            get(list_rules)
                .post(upload)
                .layer(DefaultBodyLimit::max(UPLOAD_BODY_BYTES)),
        )
        .route("/api/v1/rules/{name}", get(versions))
        .route("/api/v1/rules/{name}/deactivate", post(deactivate))
        .route("/api/v1/rules/{name}/rollback", post(rollback))
        .route(
            "/api/v1/rules/{name}/versions/{version}",
            get(get_version).delete(delete_version),
        )
        .route(
            "/api/v1/rules/{name}/versions/{version}/module",
            get(module),
        )
        .route(
            "/api/v1/rules/{name}/versions/{version}/activate",
            post(activate),
        )
        .route(
            "/api/v1/rules/{name}/versions/{version}/evaluate",
            post(evaluate),
        )
        .route(
            "/api/v1/rules/{name}/versions/{version}/replay",
            post(replay_version),
        )
        .route("/api/v1/settings", get(get_settings).put(put_settings))
}

impl From<RuleError> for ApiError {
    fn from(e: RuleError) -> Self {
        let status = match e {
            RuleError::ModuleTooLarge { .. } | RuleError::InputTooLarge { .. } => {
                StatusCode::PAYLOAD_TOO_LARGE
            }
            RuleError::Busy(_) => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::UNPROCESSABLE_ENTITY,
        };
        ApiError::new(status, e.code(), e.to_string())
    }
}

impl From<crate::sync::fields::FieldsError> for ApiError {
    fn from(e: crate::sync::fields::FieldsError) -> Self {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "field_map_invalid",
            e.to_string(),
        )
    }
}

impl From<RulesError> for ApiError {
    fn from(e: RulesError) -> Self {
        match e {
            RulesError::NotFound(_) => ApiError::not_found(e.to_string()),
            RulesError::Invalid(m) => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed", m)
            }
            RulesError::Rule(r) => r.into(),
            RulesError::Conflict(m) => ApiError::new(StatusCode::CONFLICT, "rule_conflict", m),
            RulesError::Quota(m) => ApiError::new(StatusCode::CONFLICT, "rule_quota_exceeded", m),
            RulesError::CompileBusy {
                retry_after_secs, ..
            } => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "compile_busy",
                e.to_string(),
            )
            .with_retry_after(retry_after_secs),
            RulesError::CompileTimeout { .. } => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "compile_timeout",
                e.to_string(),
            ),
            RulesError::Crashed(_) | RulesError::Db(_) => ApiError::internal("rules", &e),
        }
    }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct UploadQuery {
    /// The rule's name (letters, digits, `-`, `_`, `.`); a new upload of the same name is
    /// its next version. Required unless given as a multipart field.
    pub name: Option<String>,
    /// Scope the rule to one Jira project key; tenant-wide when absent.
    pub project: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RuleList {
    pub rules: Vec<RuleVersion>,
}

#[derive(Debug, Deserialize)]
pub struct NamePath {
    name: String,
}

#[derive(Debug, Deserialize)]
pub struct VersionPath {
    name: String,
    version: i32,
}

/// Reads a module from a raw `application/wasm` body or a multipart form (`module` file,
/// optional `name` and `project` fields).
async fn read_upload(
    state: &AppState,
    req: Request,
    mut name: Option<String>,
    mut project: Option<String>,
) -> Result<(String, Option<String>, Vec<u8>), ApiError> {
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let bytes = if content_type.starts_with("multipart/form-data") {
        let mut form = Multipart::from_request(req, state)
            .await
            .map_err(|e| ApiError::bad_request("invalid_multipart", e.body_text()))?;
        let mut module = None;
        while let Some(field) = form
            .next_field()
            .await
            .map_err(|e| ApiError::bad_request("invalid_multipart", e.body_text()))?
        {
            let field_name = field.name().unwrap_or("").to_owned();
            let data = field
                .bytes()
                .await
                .map_err(|e| ApiError::bad_request("invalid_multipart", e.body_text()))?;
            let text = || String::from_utf8_lossy(&data).trim().to_owned();
            match field_name.as_str() {
                "module" => module = Some(data.to_vec()),
                "name" => name = Some(text()),
                "project" => project = Some(text()).filter(|p| !p.is_empty()),
                other => {
                    return Err(ApiError::bad_request(
                        "invalid_multipart",
                        format!("unknown form field `{other}`; expected module, name, project"),
                    )
                    .with_field(other));
                }
            }
        }
        module.ok_or_else(|| {
            ApiError::bad_request("invalid_multipart", "the form has no `module` file")
                .with_field("module")
        })?
    } else if content_type.is_empty()
        || content_type.starts_with("application/wasm")
        || content_type.starts_with("application/octet-stream")
    {
        Bytes::from_request(req, state)
            .await
            .map_err(|e| ApiError::new(e.status(), "invalid_body", e.body_text()))?
            .to_vec()
    } else {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            format!(
                "upload the module as application/wasm or multipart/form-data, not `{content_type}`"
            ),
        ));
    };
    let name = name.filter(|n| !n.is_empty()).ok_or_else(|| {
        ApiError::bad_request(
            "missing_field",
            "the rule needs a name (?name=… or a `name` field)",
        )
        .with_field("name")
    })?;
    Ok((name, project, bytes))
}

#[utoipa::path(
    post, path = "/api/v1/rules", tag = "rules",
    params(UploadQuery),
    request_body(content = Vec<u8>, content_type = "application/wasm",
        description = "The rule: a wasm component, or a core module built with rules-sdk. Multipart (`module`, `name`, `project`) also works."),
    responses(
        (status = 201, description = "Validated, precompiled and stored (inactive)", body = RuleVersion),
        (status = 413, description = "Module over the size limit", body = super::error::ErrorEnvelope),
        (status = 422, description = "The module failed validation; `code` names the rule error", body = super::error::ErrorEnvelope),
        (status = "4XX", description = "Bad input or credentials", body = super::error::ErrorEnvelope),
    ),
    security(("api_key" = []))
)]
pub async fn upload(
    State(state): State<AppState>,
    AdminKeyAuth(principal): AdminKeyAuth,
    ApiQuery(q): ApiQuery<UploadQuery>,
    req: Request,
) -> Result<(StatusCode, Json<RuleVersion>), ApiError> {
    let (name, project, bytes) = read_upload(&state, req, q.name, q.project).await?;
    let version = state
        .rules()
        .upload(&principal.tenant_id, &name, project.as_deref(), bytes)
        .await
        .inspect_err(|e| tracing::info!(tenant = %principal.tenant_id, rule = %name, error = %e, "rule upload refused"))?;
    tracing::info!(tenant = %principal.tenant_id, rule = %name, version = version.version, sha256 = %version.sha256, "rule uploaded");
    Ok((StatusCode::CREATED, Json(version)))
}

#[utoipa::path(
    get, path = "/api/v1/rules", tag = "rules",
    responses((status = 200, description = "Every version of every rule (metadata only)", body = RuleList)),
    security(("api_key" = []))
)]
pub async fn list_rules(
    State(state): State<AppState>,
    AdminKeyAuth(principal): AdminKeyAuth,
) -> Result<Json<RuleList>, ApiError> {
    Ok(Json(RuleList {
        rules: state.rules().list(&principal.tenant_id).await?,
    }))
}

#[utoipa::path(
    get, path = "/api/v1/rules/{name}", tag = "rules",
    params(("name" = String, Path, description = "Rule name")),
    responses((status = 200, description = "The rule's versions", body = RuleList),
              (status = 404, description = "No such rule", body = super::error::ErrorEnvelope)),
    security(("api_key" = []))
)]
pub async fn versions(
    State(state): State<AppState>,
    AdminKeyAuth(principal): AdminKeyAuth,
    ApiPath(p): ApiPath<NamePath>,
) -> Result<Json<RuleList>, ApiError> {
    let rules: Vec<RuleVersion> = state
        .rules()
        .list(&principal.tenant_id)
        .await?
        .into_iter()
        .filter(|r| r.name == p.name)
        .collect();
    if rules.is_empty() {
        return Err(RulesError::NotFound(p.name).into());
    }
    Ok(Json(RuleList { rules }))
}

#[utoipa::path(
    get, path = "/api/v1/rules/{name}/versions/{version}", tag = "rules",
    params(("name" = String, Path), ("version" = i32, Path)),
    responses((status = 200, description = "Metadata", body = RuleVersion),
              (status = 404, description = "No such version", body = super::error::ErrorEnvelope)),
    security(("api_key" = []))
)]
pub async fn get_version(
    State(state): State<AppState>,
    AdminKeyAuth(principal): AdminKeyAuth,
    ApiPath(p): ApiPath<VersionPath>,
) -> Result<Json<RuleVersion>, ApiError> {
    Ok(Json(
        state
            .rules()
            .get(&principal.tenant_id, &p.name, p.version)
            .await?,
    ))
}

#[utoipa::path(
    get, path = "/api/v1/rules/{name}/versions/{version}/module", tag = "rules",
    params(("name" = String, Path), ("version" = i32, Path)),
    responses((status = 200, description = "The stored component", content_type = "application/wasm", body = Vec<u8>)),
    security(("api_key" = []))
)]
pub async fn module(
    State(state): State<AppState>,
    AdminKeyAuth(principal): AdminKeyAuth,
    ApiPath(p): ApiPath<VersionPath>,
) -> Result<Response, ApiError> {
    let bytes = state
        .rules()
        .module(&principal.tenant_id, &p.name, p.version)
        .await?;
    Ok(([(header::CONTENT_TYPE, "application/wasm")], bytes).into_response())
}

#[utoipa::path(
    post, path = "/api/v1/rules/{name}/versions/{version}/activate", tag = "rules",
    params(("name" = String, Path), ("version" = i32, Path)),
    responses((status = 200, description = "Now active; the rule's other versions are not", body = RuleVersion),
              (status = 409, description = "Another active rule decides the same for the same scope", body = super::error::ErrorEnvelope)),
    security(("api_key" = []))
)]
pub async fn activate(
    State(state): State<AppState>,
    AdminKeyAuth(principal): AdminKeyAuth,
    ApiPath(p): ApiPath<VersionPath>,
) -> Result<Json<RuleVersion>, ApiError> {
    let v = state
        .rules()
        .activate(&principal.tenant_id, &p.name, p.version)
        .await?;
    tracing::info!(tenant = %principal.tenant_id, rule = %p.name, version = p.version, "rule activated");
    Ok(Json(v))
}

#[utoipa::path(
    post, path = "/api/v1/rules/{name}/deactivate", tag = "rules",
    params(("name" = String, Path)),
    responses((status = 204, description = "No version of the rule is active now")),
    security(("api_key" = []))
)]
pub async fn deactivate(
    State(state): State<AppState>,
    AdminKeyAuth(principal): AdminKeyAuth,
    ApiPath(p): ApiPath<NamePath>,
) -> Result<StatusCode, ApiError> {
    state
        .rules()
        .deactivate(&principal.tenant_id, &p.name)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    post, path = "/api/v1/rules/{name}/rollback", tag = "rules",
    params(("name" = String, Path)),
    responses((status = 200, description = "The previously active version is active again", body = RuleVersion),
              (status = 409, description = "Nothing to roll back to", body = super::error::ErrorEnvelope)),
    security(("api_key" = []))
)]
pub async fn rollback(
    State(state): State<AppState>,
    AdminKeyAuth(principal): AdminKeyAuth,
    ApiPath(p): ApiPath<NamePath>,
) -> Result<Json<RuleVersion>, ApiError> {
    let v = state
        .rules()
        .rollback(&principal.tenant_id, &p.name)
        .await?;
    tracing::info!(tenant = %principal.tenant_id, rule = %p.name, version = v.version, "rule rolled back");
    Ok(Json(v))
}

#[utoipa::path(
    delete, path = "/api/v1/rules/{name}/versions/{version}", tag = "rules",
    params(("name" = String, Path), ("version" = i32, Path)),
    responses((status = 204, description = "Deleted"),
              (status = 409, description = "The version is active", body = super::error::ErrorEnvelope)),
    security(("api_key" = []))
)]
pub async fn delete_version(
    State(state): State<AppState>,
    AdminKeyAuth(principal): AdminKeyAuth,
    ApiPath(p): ApiPath<VersionPath>,
) -> Result<StatusCode, ApiError> {
    state
        .rules()
        .delete(&principal.tenant_id, &p.name, p.version)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A rule error in a response body.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RuleErrorBody {
    pub code: String,
    pub message: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct EvaluateResponse {
    /// The rule's decision (`{"closure": {"apply": {...}}}` etc.), absent when it failed.
    #[schema(value_type = Option<Object>)]
    pub output: Option<rules_sdk::RuleOutput>,
    pub error: Option<RuleErrorBody>,
    pub usage: Usage,
    pub logs: Vec<LogLine>,
}

#[utoipa::path(
    post, path = "/api/v1/rules/{name}/versions/{version}/evaluate", tag = "rules",
    params(("name" = String, Path), ("version" = i32, Path)),
    request_body(content = Object, description = "A rule input: `{\"closure\": {...}}`, `{\"transition\": {...}}` or `{\"ticketing\": {...}}`"),
    responses((status = 200, description = "The decision or the rule's error, with resource usage and logs", body = EvaluateResponse)),
    security(("api_key" = []))
)]
pub async fn evaluate(
    State(state): State<AppState>,
    AdminKeyAuth(principal): AdminKeyAuth,
    ApiPath(p): ApiPath<VersionPath>,
    ApiJson(input): ApiJson<RuleInput>,
) -> Result<Json<EvaluateResponse>, ApiError> {
    let eval = state
        .rules()
        .evaluate_version(&principal.tenant_id, &p.name, p.version, input)
        .await?;
    let (output, error) = match eval.result {
        Ok(o) => (Some(o), None),
        Err(e) => (
            None,
            Some(RuleErrorBody {
                code: e.code().to_owned(),
                message: e.to_string(),
            }),
        ),
    };
    Ok(Json(EvaluateResponse {
        output,
        error,
        usage: eval.usage,
        logs: eval.logs,
    }))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ReplayQuery {
    /// How many of the latest closed tickets (1–500, default 50).
    pub limit: Option<u64>,
}

#[utoipa::path(
    post, path = "/api/v1/rules/{name}/versions/{version}/replay", tag = "rules",
    params(("name" = String, Path), ("version" = i32, Path), ReplayQuery),
    responses((status = 200, description = "Where this version would have decided differently", body = ReplayReport)),
    security(("api_key" = []))
)]
pub async fn replay_version(
    State(state): State<AppState>,
    AdminKeyAuth(principal): AdminKeyAuth,
    ApiPath(p): ApiPath<VersionPath>,
    ApiQuery(q): ApiQuery<ReplayQuery>,
) -> Result<Json<ReplayReport>, ApiError> {
    let limit = q.limit.unwrap_or(50);
    if !(1..=replay::MAX_REPLAY).contains(&limit) {
        return Err(ApiError::bad_request(
            "invalid_query",
            format!("limit must be between 1 and {}", replay::MAX_REPLAY),
        )
        .with_field("limit"));
    }
    Ok(Json(
        replay::replay(
            state.rules(),
            state.store(),
            &principal.tenant_id,
            &p.name,
            p.version,
            limit,
        )
        .await?,
    ))
}

#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Key → value. On PUT, a value may be a string, a number or a boolean (stored as its
    /// text: `100000000`, `true`), a field map (`ticket.fields*`) a JSON object and
    /// `ticket.owners` a JSON list; an empty string or `null` removes the key; keys not
    /// mentioned are kept.
    #[serde(deserialize_with = "setting_values")]
    pub settings: BTreeMap<String, String>,
}

/// Settings are text to rules; a number or a boolean written bare is taken as its text.
fn setting_values<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<BTreeMap<String, String>, D::Error> {
    let raw = BTreeMap::<String, serde_json::Value>::deserialize(d)?;
    raw.into_iter()
        .map(|(k, v)| {
            let text = match v {
                serde_json::Value::String(s) => s,
                serde_json::Value::Null => String::new(),
                serde_json::Value::Bool(b) => b.to_string(),
                serde_json::Value::Number(n) => n.to_string(),
                // A field map may be written as the JSON object it is.
                map @ serde_json::Value::Object(_)
                    if verdict_wire::field_map::scope_of(&k).is_some() =>
                {
                    map.to_string()
                }
                list @ serde_json::Value::Array(_) if k == verdict_wire::field_map::KEY_OWNERS => {
                    list.to_string()
                }
                other => {
                    return Err(serde::de::Error::custom(format!(
                        "setting `{k}`: expected a string, a number or a boolean, not {other}"
                    )));
                }
            };
            Ok((k, text))
        })
        .collect()
}

#[utoipa::path(
    get, path = "/api/v1/settings", tag = "rules",
    responses((status = 200, description = "The tenant's settings (rules read them; rules.limits.* tune limits)", body = Settings)),
    security(("api_key" = []))
)]
pub async fn get_settings(
    State(state): State<AppState>,
    AdminKeyAuth(principal): AdminKeyAuth,
) -> Result<Json<Settings>, ApiError> {
    let settings = state
        .rules()
        .settings(&principal.tenant_id)
        .await?
        .into_iter()
        .map(|s| (s.key, s.value))
        .collect();
    Ok(Json(Settings { settings }))
}

#[utoipa::path(
    put, path = "/api/v1/settings", tag = "rules",
    request_body = Settings,
    responses((status = 200, description = "All settings after the change", body = Settings),
              (status = 422, description = "A key or limit out of range", body = super::error::ErrorEnvelope)),
    security(("api_key" = []))
)]
pub async fn put_settings(
    State(state): State<AppState>,
    AdminKeyAuth(principal): AdminKeyAuth,
    ApiJson(body): ApiJson<Settings>,
) -> Result<Json<Settings>, ApiError> {
    let pairs: Vec<(String, String)> = body.settings.into_iter().collect();
    crate::sync::fields::check_with_jira(&state, &principal.tenant_id, &pairs).await?;
    state
        .rules()
        .put_settings(&principal.tenant_id, &pairs)
        .await?;
    get_settings(State(state), AdminKeyAuth(principal)).await
}
