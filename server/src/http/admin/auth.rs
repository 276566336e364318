//! Who is calling the admin API, and for which tenant. Three doors, one result (`AdminCtx`):
//! a Connect context JWT (`Authorization: JWT …`, `context-qsh` accepted here and only here),
//! a Forge Invocation Token (`Authorization: Bearer …`), or the operator's session cookie
//! (with a CSRF header on changes and a chosen tenant). Jira principals must be Jira admins.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{Method, StatusCode, header};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use super::super::AppState;
use super::super::atlassian_auth::{ConnectFailure, bearer, named_tenant, refused, verify_connect};
use super::super::error::ApiError;
use crate::admin::sessions::{self, Session};
use crate::admin::{AdminCtx, AdminError, Principal, Via};
use crate::atlassian::AuthError;
use crate::store::entities::tenants;
use crate::tenants::ConnectionStatus;

/// The header an operator names the tenant in (the standalone app's tenant picker).
pub const TENANT_HEADER: &str = "x-verdict-tenant";
/// The header every change from the standalone app echoes the session's CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// An authorised admin request.
pub struct AdminAuth(pub AdminCtx);

/// The operator's signed-in session (routes that are not about one tenant).
pub struct OperatorSession(pub Session);

/// A refused admin token: its answer (an expired one says "refresh"), counted and logged at a
/// bounded rate.
fn token_error(
    state: &AppState,
    scheme: &'static str,
    tenant: Option<&str>,
    path: &str,
    e: AuthError,
) -> ApiError {
    let reason = e.reason();
    let err = match e {
        AuthError::Expired => ApiError::new(
            StatusCode::UNAUTHORIZED,
            "token_expired",
            "your session with Jira has expired; refresh the page",
        ),
        AuthError::KeyUnavailable(_) => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "keys_unavailable",
            e.to_string(),
        ),
        other => ApiError::new(StatusCode::UNAUTHORIZED, "invalid_jwt", other.to_string()),
    };
    refused(state, scheme, reason, tenant, path, err)
}

fn cookie<'a>(parts: &'a Parts, name: &str) -> Option<&'a str> {
    parts
        .headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

async fn require_admin(
    state: &AppState,
    tenant: &str,
    account: &str,
    door: &str,
) -> Result<(), ApiError> {
    state
        .admin_access()
        .require_jira_admin(state, tenant, account)
        .await
        .map_err(|e| {
            tracing::warn!(door, tenant, error = %e, "admin request refused");
            ApiError::from(e)
        })
}

async fn connect(state: &AppState, parts: &Parts, token: &str) -> Result<AdminCtx, ApiError> {
    let path = parts.uri.path();
    let (tenant, claims) = match verify_connect(state, parts, token, true).await {
        Ok(v) => v,
        Err(ConnectFailure::Token(e)) => {
            let tenant = named_tenant(state, token).await;
            return Err(token_error(
                state,
                "admin-connect",
                tenant.as_deref(),
                path,
                e,
            ));
        }
        Err(ConnectFailure::Other(e)) => return Err(e),
    };
    let account = claims.sub.filter(|s| !s.is_empty()).ok_or_else(|| {
        token_error(
            state,
            "admin-connect",
            Some(&tenant.id),
            path,
            AuthError::Invalid("the token names no user (`sub`)".into()),
        )
    })?;
    require_admin(state, &tenant.id, &account, "connect").await?;
    Ok(AdminCtx {
        tenant_id: tenant.id,
        principal: Principal::JiraAccount(account),
        via: Via::Connect,
    })
}

async fn forge(state: &AppState, parts: &Parts) -> Result<AdminCtx, ApiError> {
    let path = parts.uri.path();
    let Some(app_id) = state.config().forge_app_id.clone() else {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "forge_not_configured",
            "Forge is not configured on this Verdict (set forge_app_id / VERDICT_FORGE_APP_ID)",
        ));
    };
    let token = bearer(parts).map_err(|e| token_error(state, "admin-forge", None, path, e))?;
    let invocation = state
        .forge_keys()
        .verify(token, &app_id)
        .await
        .map_err(|e| token_error(state, "admin-forge", None, path, e))?;
    let tenant = tenants::Entity::find()
        .filter(tenants::Column::InstallationId.eq(invocation.app.installation_id.as_str()))
        .filter(tenants::Column::Status.ne(ConnectionStatus::Uninstalled.as_str()))
        .one(state.store().db())
        .await?
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::FORBIDDEN,
                "not_installed",
                "this Forge installation is not connected to a Verdict tenant (install the app first)",
            )
        })?;
    let account = invocation
        .principal
        .filter(|p| !p.is_empty())
        .ok_or_else(|| {
            token_error(
                state,
                "admin-forge",
                Some(&tenant.id),
                path,
                AuthError::Invalid("the invocation names no user (`principal`)".into()),
            )
        })?;
    require_admin(state, &tenant.id, &account, "forge").await?;
    Ok(AdminCtx {
        tenant_id: tenant.id,
        principal: Principal::JiraAccount(account),
        via: Via::Forge,
    })
}

/// The operator's session from the cookie; changes must carry the CSRF header and, when the
/// browser says where they come from, come from Verdict's own origin.
async fn operator(state: &AppState, parts: &Parts) -> Result<Session, ApiError> {
    if state.config().admin_token.is_none() {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "admin_api_disabled",
            "the standalone admin app is disabled (set admin_token / VERDICT_ADMIN_TOKEN)",
        ));
    }
    let token = cookie(parts, sessions::COOKIE).unwrap_or_default();
    let path = parts.uri.path();
    let session = sessions::find(state.store(), token).await?.ok_or_else(|| {
        let reason = if token.is_empty() {
            "missing"
        } else {
            "no_session"
        };
        refused(
            state,
            "admin-session",
            reason,
            None,
            path,
            ApiError::new(
                StatusCode::UNAUTHORIZED,
                "session_expired",
                "sign in again: your admin session has ended",
            ),
        )
    })?;
    let safe = matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS);
    if !safe {
        let presented = parts
            .headers
            .get(CSRF_HEADER)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if !sessions::csrf_matches(&session, presented) {
            return Err(refused(
                state,
                "admin-session",
                "csrf_token",
                None,
                path,
                ApiError::new(
                    StatusCode::FORBIDDEN,
                    "csrf_failed",
                    "this change did not come from Verdict's admin page (missing or wrong CSRF token)",
                ),
            ));
        }
        if let Some(origin) = parts
            .headers
            .get(header::ORIGIN)
            .and_then(|v| v.to_str().ok())
        {
            let ours = state.config().base_url.origin().ascii_serialization();
            if origin != ours {
                return Err(refused(
                    state,
                    "admin-session",
                    "foreign_origin",
                    None,
                    path,
                    ApiError::new(
                        StatusCode::FORBIDDEN,
                        "csrf_failed",
                        "this change came from another site",
                    ),
                ));
            }
        }
    }
    Ok(session)
}

impl FromRequestParts<AppState> for OperatorSession {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        operator(state, parts).await.map(OperatorSession)
    }
}

impl FromRequestParts<AppState> for AdminAuth {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let scheme = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|h| h.split_once(' '))
            .map(|(s, t)| (s.to_ascii_lowercase(), t.trim().to_owned()));
        let ctx = match scheme {
            Some((s, token)) if s == "jwt" && !token.is_empty() => {
                connect(state, parts, &token).await?
            }
            Some((s, _)) if s == "bearer" => forge(state, parts).await?,
            Some(_) => {
                return Err(ApiError::unauthorized(
                    "the admin API takes `Authorization: JWT <context token>` (Connect), `Authorization: Bearer <Forge invocation token>` (Forge) or the admin session cookie",
                ));
            }
            None => {
                operator(state, parts).await?;
                let tenant = parts
                    .headers
                    .get(TENANT_HEADER)
                    .and_then(|v| v.to_str().ok())
                    .map(str::trim)
                    .filter(|t| !t.is_empty())
                    .ok_or_else(|| {
                        ApiError::bad_request(
                            "tenant_required",
                            format!("choose a tenant (the {TENANT_HEADER} header)"),
                        )
                    })?;
                let found = tenants::Entity::find_by_id(tenant)
                    .one(state.store().db())
                    .await?
                    .ok_or_else(|| ApiError::not_found(format!("tenant `{tenant}` not found")))?;
                AdminCtx {
                    tenant_id: found.id,
                    principal: Principal::Operator,
                    via: Via::Standalone,
                }
            }
        };
        Ok(AdminAuth(ctx))
    }
}

impl From<AdminError> for ApiError {
    fn from(e: AdminError) -> Self {
        match e {
            AdminError::NotJiraAdmin(_) => {
                ApiError::new(StatusCode::FORBIDDEN, "not_jira_admin", e.to_string())
            }
            AdminError::PermissionCheckFailed(_) => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "permission_check_failed",
                e.to_string(),
            ),
            AdminError::NotFound(m) => ApiError::not_found(m),
            AdminError::Invalid(ref problems) => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation_failed",
                e.to_string(),
            )
            .with_fields(problems.clone()),
            AdminError::Conflict(m) => ApiError::new(StatusCode::CONFLICT, "conflict", m),
            AdminError::Jira(j) => {
                ApiError::new(StatusCode::BAD_GATEWAY, "jira_error", format!("Jira: {j}"))
            }
            AdminError::NotConnected(m) => ApiError::new(
                StatusCode::CONFLICT,
                "not_connected",
                format!("the tenant is not connected to Jira: {m}"),
            ),
            AdminError::Tenant(t) => t.into(),
            AdminError::Rules(r) => r.into(),
            AdminError::Findings(f) => f.into(),
            AdminError::Db(d) => d.into(),
        }
    }
}
