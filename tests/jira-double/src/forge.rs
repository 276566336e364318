//! Forge: Forge Invocation Tokens (RS256, published as a JWKS) and invoking a remote the way
//! Forge does, with an app system token the remote can call back with.

use std::sync::Arc;

use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

use crate::{Shared, jwt};

pub const FORGE_PRIVATE_PEM: &str = include_str!("keys/forge.key.pem");
const FORGE_JWK: &str = include_str!("keys/forge.jwk.txt");
pub const FORGE_KID: &str = "forge/invocation-token/wf-verdict-double";

pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new().route("/forge/.well-known/jwks.json", get(jwks))
}

async fn jwks() -> Response {
    let mut lines = FORGE_JWK.lines();
    let (n, e) = (
        lines.next().unwrap_or_default(),
        lines.next().unwrap_or_default(),
    );
    Json(json!({"keys": [{"kty": "RSA", "kid": FORGE_KID, "use": "sig", "alg": "RS256", "n": n, "e": e}]})).into_response()
}

/// The claims of a Forge Invocation Token for a backend invocation of `module_key`.
pub fn fit_claims(
    app_id: &str,
    installation_id: &str,
    cloud_id: &str,
    api_base_url: &str,
    module_key: &str,
    now: i64,
) -> Value {
    json!({
        "app": {
            "id": app_id,
            "appVersion": "1.0.0",
            "installationId": installation_id,
            "apiBaseUrl": api_base_url,
            "environment": {"type": "PRODUCTION", "id": uuid::Uuid::new_v4().to_string()},
            "module": {"type": "core:endpoint", "key": module_key},
        },
        "context": {"cloudId": cloud_id, "moduleKey": module_key},
        "aud": app_id,
        "iss": "forge/invocation-token",
        "iat": now,
        "nbf": now,
        "exp": now + 25,
        "jti": uuid::Uuid::new_v4().to_string(),
    })
}

pub fn sign_fit(claims: &Value) -> String {
    jwt::rs256(claims, FORGE_PRIVATE_PEM, FORGE_KID)
}
