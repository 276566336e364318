//! A tenant's Jira connection as its admin manages it: start an OAuth 2.0 (3LO) connection,
//! the browser callback from Atlassian, and the connection's status.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::AppState;
use super::auth::AdminKeyAuth;
use super::error::ApiError;
use super::extract::parse_json;
use crate::atlassian::oauth::OAuthError;
use crate::tenants;
use crate::tenants::health::ConnectionHealth;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/connections/oauth", post(start_oauth))
        .route("/api/v1/connection", get(connection))
        .route("/api/v1/connections", get(all_connections))
        .route("/oauth/begin", get(begin))
        .route("/oauth/callback", get(callback))
}

impl From<OAuthError> for ApiError {
    fn from(e: OAuthError) -> Self {
        let (status, code) = match &e {
            OAuthError::NotConfigured => (StatusCode::SERVICE_UNAVAILABLE, "oauth_not_configured"),
            OAuthError::UnknownState | OAuthError::StateExpired => {
                (StatusCode::BAD_REQUEST, "invalid_state")
            }
            OAuthError::LinkUsed => (StatusCode::CONFLICT, "oauth_link_used"),
            OAuthError::OtherBrowser => (StatusCode::FORBIDDEN, "oauth_other_browser"),
            OAuthError::ConsentDeclined => (StatusCode::BAD_REQUEST, "consent_declined"),
            OAuthError::ClientRejected => (StatusCode::BAD_GATEWAY, "oauth_client_rejected"),
            OAuthError::ReconsentNeeded(_) => (StatusCode::CONFLICT, "reconsent_needed"),
            OAuthError::NoSite | OAuthError::SeveralSites(_) => {
                (StatusCode::UNPROCESSABLE_ENTITY, "site_choice")
            }
            OAuthError::SiteTaken(_) => (StatusCode::CONFLICT, "site_already_connected"),
            OAuthError::NotConnected => (StatusCode::NOT_FOUND, "not_connected"),
            OAuthError::Transport(_) => (StatusCode::BAD_GATEWAY, "atlassian_unreachable"),
            OAuthError::Corrupt(_) | OAuthError::Db(_) => return ApiError::internal("oauth", &e),
        };
        ApiError::new(status, code, e.to_string())
    }
}

#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct StartOAuth {
    /// The site URL to connect when the admin's grant covers several sites.
    #[serde(default)]
    pub site: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct StartedOAuth {
    /// Open this once, in your browser, signed in to Atlassian as a Jira admin of the site:
    /// Verdict's `/oauth/begin` binds the connection to that browser and sends it on to
    /// Atlassian's consent page, which redirects back to `/oauth/callback`. The link works
    /// once; a callback in any other browser is refused.
    pub authorize_url: String,
    /// Minutes the admin has to consent.
    pub expires_in_minutes: i64,
}

/// Starts connecting the key's tenant to Jira with OAuth 2.0 (3LO). Needs an admin key.
#[utoipa::path(
    post, path = "/api/v1/connections/oauth", tag = "connections",
    request_body = StartOAuth,
    responses(
        (status = 201, description = "Authorization URL", body = StartedOAuth),
        (status = 403, description = "A scanner key", body = super::error::ErrorEnvelope),
        (status = 503, description = "OAuth is not configured", body = super::error::ErrorEnvelope),
    ),
    security(("api_key" = []))
)]
pub async fn start_oauth(
    State(state): State<AppState>,
    AdminKeyAuth(principal): AdminKeyAuth,
    body: axum::body::Bytes,
) -> Result<(StatusCode, Json<StartedOAuth>), ApiError> {
    // The body is optional: empty means "no site preference".
    let site = if body.iter().all(u8::is_ascii_whitespace) {
        None
    } else {
        parse_json::<StartOAuth>(&body)?.site
    };
    let url = state
        .oauth()
        .start(
            state.store().db(),
            state.secrets(),
            &principal.tenant_id,
            &principal.key_id,
            site,
        )
        .await?;
    tracing::info!(tenant = %principal.tenant_id, started_by = %principal.key_id, "OAuth 2.0 connection started");
    Ok((
        StatusCode::CREATED,
        Json(StartedOAuth {
            authorize_url: url.to_string(),
            expires_in_minutes: crate::atlassian::oauth::STATE_TTL_MINUTES,
        }),
    ))
}

#[derive(Deserialize)]
pub struct CallbackQuery {
    state: Option<String>,
    code: Option<String>,
    error: Option<String>,
}

fn page(status: StatusCode, title: &str, text: &str) -> Response {
    let esc = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
    };
    (
        status,
        Html(format!(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Verdict: {t}</title></head>\
             <body style=\"font-family:sans-serif;margin:24px\"><h1>{t}</h1><p>{x}</p></body></html>",
            t = esc(title),
            x = esc(text)
        )),
    )
        .into_response()
}

#[derive(Deserialize)]
pub struct BeginQuery {
    flow: Option<String>,
}

/// The link `start_oauth` hands out: the first browser to open it gets the flow's binder cookie
/// and goes on to Atlassian's consent page; any later opening is refused.
async fn begin(State(state): State<AppState>, Query(q): Query<BeginQuery>) -> Response {
    let Some(flow) = q.flow.as_deref() else {
        return page(
            StatusCode::BAD_REQUEST,
            "Connection failed",
            "The link has no flow parameter.",
        );
    };
    match state
        .oauth()
        .begin(state.store().db(), state.secrets(), flow)
        .await
    {
        Ok((authorize, binder)) => {
            let secure = if state.config().base_url.scheme() == "https" {
                "; Secure"
            } else {
                ""
            };
            let cookie = format!(
                "{}={binder}; Path=/oauth; HttpOnly; SameSite=Lax; Max-Age={}{secure}",
                crate::atlassian::oauth::BINDER_COOKIE,
                crate::atlassian::oauth::STATE_TTL_MINUTES * 60
            );
            (
                StatusCode::SEE_OTHER,
                [
                    (axum::http::header::LOCATION, authorize.to_string()),
                    (axum::http::header::SET_COOKIE, cookie),
                    (axum::http::header::CACHE_CONTROL, "no-store".to_owned()),
                ],
            )
                .into_response()
        }
        Err(e) => {
            let err = ApiError::from(e);
            tracing::warn!(code = err.code, reason = %err.message, "OAuth link refused");
            page(err.status, "Connection failed", &err.message)
        }
    }
}

/// The binder cookie's value, if the browser sent one.
fn binder_cookie(headers: &axum::http::HeaderMap) -> Option<String> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == crate::atlassian::oauth::BINDER_COOKIE)
        .map(|(_, v)| v.to_owned())
}

/// Where Atlassian sends the admin back after consent (a browser page, not an API).
async fn callback(
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
    Query(q): Query<CallbackQuery>,
) -> Response {
    let Some(st) = q.state.as_deref() else {
        return page(
            StatusCode::BAD_REQUEST,
            "Connection failed",
            "The callback has no state parameter.",
        );
    };
    match state
        .oauth()
        .callback(
            state.store().db(),
            state.secrets(),
            st,
            q.code.as_deref(),
            q.error.as_deref(),
            binder_cookie(&headers).as_deref(),
        )
        .await
    {
        Ok(connected) => {
            let (tenant, site) = (connected.tenant_id, connected.site_url);
            tracing::info!(%tenant, %site, started_by = connected.started_by.as_deref().unwrap_or("-"), "OAuth 2.0 connection established");
            // A registration failure is kept on the connection (see GET /api/v1/connection);
            // the connection itself stands.
            if let Err(e) = state.sync_webhooks(&tenant).await {
                tracing::error!(%tenant, error = %e, "could not record webhook registration");
            }
            page(
                StatusCode::OK,
                "Verdict is connected",
                &format!("Verdict is now connected to {site}."),
            )
        }
        Err(e) => {
            let err = ApiError::from(e);
            tracing::warn!(code = err.code, reason = %err.message, "OAuth callback failed");
            page(err.status, "Connection failed", &err.message)
        }
    }
}

/// A tenant's connection and its health (see [`ConnectionHealth`]).
pub type ConnectionView = crate::tenants::health::ConnectionHealth;

/// The key's tenant: how it is connected to Jira and whether that connection is healthy.
#[utoipa::path(
    get, path = "/api/v1/connection", tag = "connections",
    responses((status = 200, description = "The tenant's connection", body = ConnectionHealth)),
    security(("api_key" = []))
)]
pub async fn connection(
    State(state): State<AppState>,
    AdminKeyAuth(principal): AdminKeyAuth,
) -> Result<Json<ConnectionView>, ApiError> {
    Ok(Json(
        crate::tenants::health::health(state.store().db(), &principal.tenant_id).await?,
    ))
}

#[derive(Serialize, ToSchema)]
pub struct ConnectionList {
    pub connections: Vec<ConnectionHealth>,
}

/// Every tenant's connection: kind, site, status, webhook health and last delivery. For the
/// operator: takes the configured `admin_token`, not a tenant key.
#[utoipa::path(
    get, path = "/api/v1/connections", tag = "connections",
    responses(
        (status = 200, description = "All connections", body = ConnectionList),
        (status = 401, description = "Not the admin token", body = super::error::ErrorEnvelope),
        (status = 503, description = "No admin_token configured", body = super::error::ErrorEnvelope),
    ),
    security(("admin_token" = []))
)]
pub async fn all_connections(
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
) -> Result<Json<ConnectionList>, ApiError> {
    let Some(expected) = &state.config().admin_token else {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "admin_api_disabled",
            "the admin API is disabled (set admin_token / VERDICT_ADMIN_TOKEN)",
        ));
    };
    let presented = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    if !crate::admin::sessions::admin_token_matches(expected, presented) {
        return Err(ApiError::unauthorized(
            "the admin API takes `Authorization: Bearer <admin_token>`",
        ));
    }
    let db = state.store().db();
    let mut out = Vec::new();
    for t in tenants::list_tenants(db).await? {
        out.push(crate::tenants::health::health(db, &t.id).await?);
    }
    Ok(Json(ConnectionList { connections: out }))
}
