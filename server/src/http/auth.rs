//! The API-key extractor: `Authorization: Bearer vdk_…` → the tenant the key belongs to.

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;

use super::AppState;
use super::atlassian_auth::refused;
use super::error::ApiError;
use crate::tenants::{self, ApiPrincipal, TenantError};

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
        let db = state.store().db();
        match tenants::authenticate(db, secret.trim()).await {
            Ok(principal) => Ok(ApiKeyAuth(principal)),
            Err(e @ (TenantError::InvalidKey | TenantError::TenantDisabled)) => {
                // Which tenant the refused key was issued to (a revoked key, a disabled
                // tenant), so a leaked key being tried shows up against its tenant.
                let owner = tenants::key_owner(db, secret.trim()).await;
                let reason = match (&e, &owner) {
                    (TenantError::TenantDisabled, _) => "tenant_disabled",
                    (_, Some(_)) => "revoked_key",
                    _ => "invalid_key",
                };
                Err(refuse(reason, owner.as_deref(), e.into()))
            }
            Err(e) => Err(e.into()),
        }
    }
}
