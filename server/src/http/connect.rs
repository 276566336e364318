//! Atlassian Connect routes: the descriptor and the lifecycle callbacks (`installed`,
//! `uninstalled`, `enabled`, `disabled`). Each proves the caller before anything is stored.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;

use super::AppState;
use super::error::ApiError;
use crate::atlassian::jwt::{self, Request};
use crate::atlassian::{AuthError, descriptor};
use crate::tenants::ConnectionStatus;
use crate::tenants::connect::{self as connect_tenants, ConnectInstall};

/// Lifecycle payloads are small; anything larger is not from Atlassian.
const MAX_LIFECYCLE_BODY: usize = 64 * 1024;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/atlassian-connect.json", get(serve_descriptor))
        .route("/connect/installed", post(installed))
        .route("/connect/uninstalled", post(uninstalled))
        .route("/connect/enabled", post(enabled))
        .route("/connect/disabled", post(disabled))
}

/// `GET /atlassian-connect.json`: the descriptor with this deployment's base URL and key.
async fn serve_descriptor(State(state): State<AppState>) -> Response {
    Json(descriptor::render(state.config())).into_response()
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::KeyUnavailable(_) => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "install_keys_unavailable",
                e.to_string(),
            ),

            _ => ApiError::new(StatusCode::UNAUTHORIZED, "invalid_jwt", e.to_string()),
        }
    }
}

/// The install payload fields Verdict uses (Atlassian sends more).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct LifecycleBody {
    key: String,
    client_key: String,
    #[serde(default)]
    shared_secret: Option<String>,
    base_url: String,
    #[serde(default)]
    display_url: Option<String>,
    #[serde(default)]
    installation_id: Option<String>,
    #[serde(default)]
    oauth_client_id: Option<String>,
}

fn parse_body(state: &AppState, body: &Bytes) -> Result<LifecycleBody, ApiError> {
    if body.len() > MAX_LIFECYCLE_BODY {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("lifecycle payloads are at most {MAX_LIFECYCLE_BODY} bytes"),
        ));
    }
    let parsed: LifecycleBody = super::extract::parse_json(body)?;
    if parsed.key != state.config().app_key {
        return Err(ApiError::bad_request(
            "wrong_app",
            format!(
                "this lifecycle call is for app `{}`, this server is `{}`",
                parsed.key,
                state.config().app_key
            ),
        )
        .with_field("key"));
    }
    if !(parsed.base_url.starts_with("https://") || parsed.base_url.starts_with("http://")) {
        return Err(
            ApiError::bad_request("invalid_field", "baseUrl must be an http(s) URL")
                .with_field("baseUrl"),
        );
    }
    Ok(parsed)
}

fn authorization(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
}

fn rejected(hook: &str, e: ApiError) -> ApiError {
    // The reason is logged, never the token.
    tracing::warn!(hook, code = e.code, reason = %e.message, "lifecycle callback rejected");
    e
}

/// Parses a signed-install lifecycle call and verifies its RS256 token, bound to the body's
/// `clientKey` (the body itself is not signed).
async fn verified_lifecycle(
    state: &AppState,
    hook: &str,
    uri: &Uri,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<LifecycleBody, ApiError> {
    let body = parse_body(state, body).map_err(|e| rejected(hook, e))?;
    let token =
        jwt::token_from_header(authorization(headers)).map_err(|e| rejected(hook, e.into()))?;
    let request = Request {
        method: "POST",
        path: super::atlassian_auth::relative_path(state, uri.path()),
        query: uri.query().unwrap_or(""),
    };
    jwt::verify_install(
        state.install_keys(),
        token,
        &state.config().accepted_base_urls(),
        &request,
        &body.client_key,
    )
    .await
    .map_err(|e| rejected(hook, e.into()))?;
    Ok(body)
}

/// `installed`: RS256 signed-install, `aud` = our base URL, qsh, exp, iss = body clientKey;
/// then upsert the tenant, always replacing the shared secret.
async fn installed(
    State(state): State<AppState>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    let body = verified_lifecycle(&state, "installed", &uri, &headers, &body).await?;
    let Some(shared_secret) = body.shared_secret.filter(|s| !s.is_empty()) else {
        return Err(rejected(
            "installed",
            ApiError::bad_request("invalid_field", "sharedSecret is required on install")
                .with_field("sharedSecret"),
        ));
    };
    let install = ConnectInstall {
        client_key: body.client_key,
        shared_secret,
        site_url: body.base_url,
        display_url: body.display_url,
        installation_id: body.installation_id,
        oauth_client_id: body.oauth_client_id,
    };
    let (tenant, created) =
        connect_tenants::upsert_install(state.store().db(), state.secrets(), &install).await?;
    state.connect_cache().forget(&install.client_key);
    tracing::info!(tenant = %tenant.id, site = ?tenant.site_url, created, "Connect app installed");
    Ok(StatusCode::NO_CONTENT)
}

/// `uninstalled`: signed like `installed`; the tenant is kept (data stays) but marked uninstalled.
async fn uninstalled(
    State(state): State<AppState>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    let body = verified_lifecycle(&state, "uninstalled", &uri, &headers, &body).await?;
    state.connect_cache().forget(&body.client_key);
    match connect_tenants::find_by_client_key(state.store().db(), &body.client_key).await? {
        Some(row) => {
            let t =
                connect_tenants::set_status(state.store().db(), row, ConnectionStatus::Uninstalled)
                    .await?;
            tracing::info!(tenant = %t.id, "Connect app uninstalled; tenant data kept");
        }
        None => tracing::info!("uninstall for a site Verdict does not know; nothing to do"),
    }
    Ok(StatusCode::NO_CONTENT)
}

async fn enabled(
    State(state): State<AppState>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    toggle(state, uri, headers, body, ConnectionStatus::Active).await
}

async fn disabled(
    State(state): State<AppState>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    toggle(state, uri, headers, body, ConnectionStatus::Disabled).await
}

/// `enabled`/`disabled` are HS256 with the shared secret. A `disabled` may arrive after the
/// uninstall, even without a token: for an uninstalled or unknown site that is a no-op.
async fn toggle(
    state: AppState,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
    to: ConnectionStatus,
) -> Result<StatusCode, ApiError> {
    let hook = if to == ConnectionStatus::Active {
        "enabled"
    } else {
        "disabled"
    };
    let body = parse_body(&state, &body).map_err(|e| rejected(hook, e))?;
    let db = state.store().db();
    let row = connect_tenants::find_by_client_key(db, &body.client_key).await?;
    let gone = row
        .as_ref()
        .is_none_or(|r| r.status == ConnectionStatus::Uninstalled.as_str());
    let token = match jwt::token_from_header(authorization(&headers)) {
        Ok(t) => t,
        Err(_) if gone && to == ConnectionStatus::Disabled => {
            tracing::info!("late unsigned `disabled` for an uninstalled site; ignored");
            return Ok(StatusCode::NO_CONTENT);
        }
        Err(e) => return Err(rejected(hook, e.into())),
    };
    let Some(row) = row else {
        return Err(rejected(hook, AuthError::UnknownTenant.into()));
    };
    let secret = connect_tenants::shared_secret(state.secrets(), &row)?;
    let request = Request {
        method: "POST",
        path: super::atlassian_auth::relative_path(&state, uri.path()),
        query: uri.query().unwrap_or(""),
    };
    let claims =
        jwt::verify_hs256(token, &secret, &request, false).map_err(|e| rejected(hook, e.into()))?;
    if claims.iss != body.client_key {
        return Err(rejected(hook, AuthError::IssuerMismatch.into()));
    }
    let t = connect_tenants::set_status(db, row, to).await?;
    state.connect_cache().forget(&body.client_key);
    tracing::info!(tenant = %t.id, status = t.status.as_str(), "Connect lifecycle");
    Ok(StatusCode::NO_CONTENT)
}
