//! The API-key extractor: `Authorization: Bearer vdk_…` → the tenant the key belongs to.

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;

use super::AppState;
use super::atlassian_auth::refused;
use super::error::ApiError;
use crate::tenants::{self, ApiPrincipal, KeyScope, TenantError};

/// An authenticated API caller. Every `/api/v1` handler takes one, and every query it makes
/// is scoped to `tenant_id`, which is how tenants never see each other's data.
pub struct ApiKeyAuth(pub ApiPrincipal);

impl FromRequestParts<AppState> for ApiKeyAuth {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        const SCHEME: &str = "api-key";
        let path = parts.uri.path();
        let refuse = |reason, tenant: Option<&str>, e: ApiError| {
            refused(state, SCHEME, reason, tenant, path, e)
        };
        let header = parts
            .headers
            .get(AUTHORIZATION)
            .ok_or_else(|| refuse("missing", None, TenantError::MissingKey.into()))?
            .to_str()
            .map_err(|_| refuse("malformed", None, TenantError::InvalidKey.into()))?;
        let (scheme, secret) = header
            .split_once(' ')
            .ok_or_else(|| refuse("malformed", None, TenantError::InvalidKey.into()))?;
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Err(refuse(
                "malformed",
                None,
                ApiError::unauthorized("expected `Authorization: Bearer <API key>`"),
            ));
        }
        match tenants::authenticate(state.store().db(), secret.trim()).await {
            Ok(principal) => Ok(ApiKeyAuth(principal)),
            Err(e) => {
                // A revoked key or a disabled tenant is counted against its tenant, so a
                // leaked key being tried shows up there; storage errors are not refusals.
                let (reason, tenant) = match &e {
                    TenantError::InvalidKey => ("invalid_key", None),
                    TenantError::RevokedKey { tenant } => ("revoked_key", Some(tenant.clone())),
                    TenantError::TenantDisabled { tenant } => {
                        ("tenant_disabled", Some(tenant.clone()))
                    }
                    TenantError::TenantUninstalled { tenant } => {
                        ("tenant_uninstalled", Some(tenant.clone()))
                    }
                    _ => return Err(e.into()),
                };
                Err(refuse(reason, tenant.as_deref(), e.into()))
            }
        }
    }
}

/// An API caller whose key has admin scope: settings, rules, connections, exports and jobs.
/// A scanner key is refused with 403 `admin_scope_required` (and counted as a refusal).
pub struct AdminKeyAuth(pub ApiPrincipal);

impl FromRequestParts<AppState> for AdminKeyAuth {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let ApiKeyAuth(principal) = ApiKeyAuth::from_request_parts(parts, state).await?;
        if principal.scope == KeyScope::Admin {
            return Ok(AdminKeyAuth(principal));
        }
        let path = parts.uri.path();
        Err(refused(
            state,
            "api-key",
            "scanner_scope",
            Some(&principal.tenant_id),
            path,
            ApiError::new(
                axum::http::StatusCode::FORBIDDEN,
                "admin_scope_required",
                format!(
                    "this is a scanner key (it imports and reads findings); {} {path} needs an admin key",
                    parts.method
                ),
            ),
        ))
    }
}
