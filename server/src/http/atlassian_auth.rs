//! One extractor per way Atlassian proves a request, each pinned to its algorithm. A route's
//! signature says which scheme it accepts; a failure is a 401 with a JSON reason and a log
//! line that never contains the token. (Signed installs bind the token to the body's
//! `clientKey`, so they are verified by the lifecycle handlers themselves.)

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use sea_orm::EntityTrait;

use super::AppState;
use super::error::ApiError;
use crate::atlassian::AuthError;
use crate::atlassian::forge::ForgeInvocation;
use crate::atlassian::jwt::{self, ConnectClaims, Request as QshRequest};
use crate::store::entities::tenants;
use crate::tenants::ConnectionStatus;
use crate::tenants::connect as connect_tenants;

/// Counts a refused credential per scheme, reason and tenant, and logs it at a bounded rate
/// (see [`crate::metrics::Metrics::auth_refused`]). The line never holds the credential.
pub(super) fn note_refusal(
    state: &AppState,
    scheme: &'static str,
    reason: &'static str,
    tenant: Option<&str>,
    path: &str,
    message: &str,
) {
    if let Some(left_out) = state.metrics().auth_refused(scheme, reason, tenant) {
        tracing::warn!(
            scheme,
            reason,
            tenant = tenant.unwrap_or("unknown"),
            path,
            message,
            left_out,
            "credential refused (one line per scheme, reason and tenant a minute; all are counted in verdict_auth_refused_total)"
        );
    }
}

/// [`note_refusal`] for an API error, which it hands back.
pub(super) fn refused(
    state: &AppState,
    scheme: &'static str,
    reason: &'static str,
    tenant: Option<&str>,
    path: &str,
    e: ApiError,
) -> ApiError {
    note_refusal(state, scheme, reason, tenant, path, &e.message);
    e
}

/// The installed tenant a Connect token names in its (unverified) `iss`, to count a refusal
/// against; `None` for a site Verdict does not know, so a forger cannot mint label values.
pub(super) async fn named_tenant(state: &AppState, token: &str) -> Option<String> {
    let issuer = jwt::unverified_issuer(token).ok()?;
    if let Some((tenant, _)) = state.connect_cache().get(&issuer) {
        return Some(tenant.id);
    }
    connect_tenants::find_by_client_key(state.store().db(), &issuer)
        .await
        .ok()
        .flatten()
        .map(|t| t.id)
}

/// The request path as Atlassian hashed it: relative to Verdict's base URL path.
pub(super) fn relative_path<'a>(state: &AppState, path: &'a str) -> &'a str {
    let base_path = state.config().base_url.path().trim_end_matches('/');
    path.strip_prefix(base_path)
        .filter(|p| p.starts_with('/'))
        .unwrap_or(path)
}

async fn load_connect(
    state: &AppState,
    issuer: &str,
) -> Result<(tenants::Model, String), ConnectFailure> {
    let tenant = connect_tenants::find_by_client_key(state.store().db(), issuer)
        .await
        .map_err(|e| ConnectFailure::Other(e.into()))?
        .filter(|r| r.status != ConnectionStatus::Uninstalled.as_str())
        .ok_or(AuthError::UnknownTenant)?;
    let secret = connect_tenants::shared_secret(state.secrets(), &tenant)
        .map_err(|e| ConnectFailure::Other(e.into()))?;
    state
        .connect_cache()
        .put(issuer, tenant.clone(), secret.clone());
    Ok((tenant, secret))
}

/// Why a Connect token was refused: the token itself, or something else (storage).
pub(super) enum ConnectFailure {
    Token(AuthError),
    Other(ApiError),
}

impl From<AuthError> for ConnectFailure {
    fn from(e: AuthError) -> Self {
        ConnectFailure::Token(e)
    }
}

impl From<ApiError> for ConnectFailure {
    fn from(e: ApiError) -> Self {
        ConnectFailure::Other(e)
    }
}

impl From<ConnectFailure> for ApiError {
    fn from(f: ConnectFailure) -> Self {
        match f {
            ConnectFailure::Token(e) => e.into(),
            ConnectFailure::Other(e) => e,
        }
    }
}

pub(super) async fn verify_connect(
    state: &AppState,
    parts: &Parts,
    token: &str,
    allow_context: bool,
) -> Result<(tenants::Model, ConnectClaims), ConnectFailure> {
    let issuer = jwt::unverified_issuer(token)?;
    let request = QshRequest {
        method: parts.method.as_str(),
        path: relative_path(state, parts.uri.path()),
        query: parts.uri.query().unwrap_or(""),
    };
    if let Some((tenant, secret)) = state.connect_cache().get(&issuer)
        && let Ok(claims) = jwt::verify_hs256(token, &secret, &request, allow_context)
    {
        return Ok((tenant, claims));
    }
    // Not cached, or the cached secret is stale (a reinstall elsewhere): read it again.
    let (tenant, secret) = load_connect(state, &issuer).await?;
    let claims = jwt::verify_hs256(token, &secret, &request, allow_context)?;
    Ok((tenant, claims))
}

/// `Authorization: JWT …`, HS256 with the issuing site's shared secret, exact `qsh`
/// (`context-qsh` refused). For webhooks and other server-to-server calls from Connect.
pub struct ConnectJwt {
    pub tenant: tenants::Model,
    pub claims: ConnectClaims,
}

impl FromRequestParts<AppState> for ConnectJwt {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        const SCHEME: &str = "connect-jwt";
        let header = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        let path = parts.uri.path();
        let token = jwt::token_from_header(header)
            .map_err(|e| refused(state, SCHEME, e.reason(), None, path, e.into()))?;
        match verify_connect(state, parts, token, false).await {
            Ok((tenant, claims)) => Ok(ConnectJwt { tenant, claims }),
            Err(ConnectFailure::Token(e)) => {
                let tenant = named_tenant(state, token).await;
                Err(refused(
                    state,
                    SCHEME,
                    e.reason(),
                    tenant.as_deref(),
                    path,
                    e.into(),
                ))
            }
            Err(ConnectFailure::Other(e)) => Err(e),
        }
    }
}

pub(super) fn bearer(parts: &Parts) -> Result<&str, AuthError> {
    parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|h| h.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, t)| t.trim())
        .filter(|t| !t.is_empty())
        .ok_or(AuthError::Missing)
}

/// A Forge Invocation Token (`Authorization: Bearer`): RS256 against the Forge JWKS,
/// `aud` = `forge_app_id`, `iss` = `forge/invocation-token`. Also carries the opaque app
/// system token Forge sent in `x-forge-oauth-system`, if any.
pub struct ForgeInvocationAuth {
    pub invocation: ForgeInvocation,
    pub system_token: Option<String>,
}

impl FromRequestParts<AppState> for ForgeInvocationAuth {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let Some(app_id) = state.config().forge_app_id.clone() else {
            return Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "forge_not_configured",
                "Forge Remote is not configured (set forge_app_id / VERDICT_FORGE_APP_ID)",
            ));
        };
        let result = async {
            let token = bearer(parts)?;
            state.forge_keys().verify(token, &app_id).await
        }
        .await;
        let invocation = result.map_err(|e| {
            refused(
                state,
                "forge-fit",
                e.reason(),
                None,
                parts.uri.path(),
                e.into(),
            )
        })?;
        let system_token = parts
            .headers
            .get("x-forge-oauth-system")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        Ok(ForgeInvocationAuth {
            invocation,
            system_token,
        })
    }
}

/// An OAuth 2.0 dynamic-webhook delivery (`Authorization: Bearer`): HS256 with Verdict's
/// OAuth client secret. The tenant comes from the payload's `matchedWebhookIds`.
pub struct OAuthWebhookJwt;

impl FromRequestParts<AppState> for OAuthWebhookJwt {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let (Some(client_id), Some(secret)) = (
            &state.config().oauth_client_id,
            &state.config().oauth_client_secret,
        ) else {
            return Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "oauth_not_configured",
                "OAuth 2.0 is not configured",
            ));
        };
        bearer(parts)
            .and_then(|token| jwt::verify_oauth_webhook(token, secret.expose(), client_id))
            .map_err(|e| {
                let path = parts.uri.path();
                refused(state, "oauth-webhook-jwt", e.reason(), None, path, e.into())
            })?;
        Ok(OAuthWebhookJwt)
    }
}

/// An admin webhook signed with `X-Hub-Signature: sha256=<HMAC-SHA256 of the body>` using
/// the tenant's webhook secret; the tenant id is the last path segment. Reads the body
/// (bounded by the route's body limit), since the signature covers it.
pub struct HubSigned {
    pub tenant: tenants::Model,
    pub body: Bytes,
}

impl FromRequest<AppState> for HubSigned {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        use hmac::Mac as _;
        let path = req.uri().path().to_owned();
        let tenant_id = path.rsplit('/').next().unwrap_or_default().to_owned();
        let presented = req
            .headers()
            .get("x-hub-signature")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("sha256="))
            .and_then(decode_hex);
        let limit = state.config().webhook_body_limit_bytes;
        let body = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "payload_too_large",
                    format!(
                        "webhook body exceeds the limit of {limit} bytes (webhook_body_limit_bytes)"
                    ),
                )
                .closing_connection()
            } else {
                ApiError::bad_request("unreadable_body", e.to_string())
            }
        })?;
        let tenant = tenants::Entity::find_by_id(&tenant_id)
            .one(state.store().db())
            .await?;
        let secret = tenant
            .as_ref()
            .map(|t| crate::tenants::credentials::webhook_secret(state.secrets(), t))
            .transpose()?
            .flatten();
        const SCHEME: &str = "hub-signature";
        let (Some(tenant), Some(secret)) = (tenant, secret) else {
            let e = AuthError::UnknownTenant;
            return Err(refused(state, SCHEME, e.reason(), None, &path, e.into()));
        };
        let presented = presented.ok_or_else(|| {
            refused(
                state,
                SCHEME,
                "missing_signature",
                Some(&tenant.id),
                &path,
                ApiError::unauthorized(
                    "missing or malformed X-Hub-Signature (expected sha256=<hex>)",
                ),
            )
        })?;
        let mut mac =
            hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
        mac.update(&body);
        // verify_slice compares in constant time.
        mac.verify_slice(&presented).map_err(|_| {
            refused(
                state,
                SCHEME,
                "bad_signature",
                Some(&tenant.id),
                &path,
                ApiError::unauthorized("X-Hub-Signature does not match the body"),
            )
        })?;
        Ok(HubSigned { tenant, body })
    }
}

fn decode_hex(hex: &str) -> Option<Vec<u8>> {
    if !hex.len().is_multiple_of(2) {
        return None;
    }
    (0..hex.len())
        .step_by(2)
        .map(|i| {
            hex.get(i..i + 2)
                .and_then(|b| u8::from_str_radix(b, 16).ok())
        })
        .collect()
}
