//! The API-key extractor: `Authorization: Bearer vdk_…` → the tenant the key belongs to.

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;

use super::AppState;
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
        let header = parts
            .headers
            .get(AUTHORIZATION)
            .ok_or(TenantError::MissingKey)?
            .to_str()
            .map_err(|_| TenantError::InvalidKey)?;
        let (scheme, secret) = header.split_once(' ').ok_or(TenantError::InvalidKey)?;
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Err(ApiError::unauthorized(
                "expected `Authorization: Bearer <API key>`",
            ));
        }
        let principal = tenants::authenticate(state.store().db(), secret.trim()).await?;
        Ok(ApiKeyAuth(principal))
    }
}
