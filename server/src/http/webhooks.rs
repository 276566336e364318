//! Webhook routes. Each verifies its scheme, then stores the raw delivery and only then
//! answers 2xx. Bad signature or unknown tenant → 401; malformed JSON → 400 (kept for the
//! admin); over `webhook_body_limit_bytes` → 413. Nothing here calls Jira or runs a rule.

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::routing::post;
use serde_json::Value;

use super::AppState;
use super::error::ApiError;
use crate::atlassian::AuthError;
use crate::atlassian::jwt::{self, Request};
use crate::tenants::ConnectionStatus;
use crate::tenants::connect as connect_tenants;
use crate::webhooks::{self, Delivery};

pub fn routes(limit: usize) -> Router<AppState> {
    Router::new()
        .route("/connect/webhooks/jira", post(connect_webhook))
        .layer(axum::extract::DefaultBodyLimit::max(limit))
}

fn rejected(route: &str, e: ApiError) -> ApiError {
    tracing::warn!(route, code = e.code, reason = %e.message, "webhook delivery refused");
    e
}

/// `POST /connect/webhooks/jira`: Connect webhooks, HS256 with the site's shared secret.
async fn connect_webhook(
    State(state): State<AppState>,
    uri: Uri,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<StatusCode, ApiError> {
    const ROUTE: &str = "/connect/webhooks/jira";
    let limit = state.config().webhook_body_limit_bytes;
    let body = body.map_err(|e| {
        let err = if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
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
        };
        rejected(ROUTE, err)
    })?;
    let auth_header = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let token = jwt::token_from_header(auth_header).map_err(|e| rejected(ROUTE, e.into()))?;
    let issuer = jwt::unverified_issuer(token).map_err(|e| rejected(ROUTE, e.into()))?;
    let row = connect_tenants::find_by_client_key(state.store().db(), &issuer)
        .await?
        .filter(|r| r.status != ConnectionStatus::Uninstalled.as_str())
        .ok_or_else(|| rejected(ROUTE, AuthError::UnknownTenant.into()))?;
    let secret = connect_tenants::shared_secret(state.secrets(), &row)?;
    let base_path = state.config().base_url.path().trim_end_matches('/');
    let path = uri
        .path()
        .strip_prefix(base_path)
        .filter(|p| p.starts_with('/'))
        .unwrap_or(uri.path());
    let request = Request {
        method: "POST",
        path,
        query: uri.query().unwrap_or(""),
    };
    jwt::verify_hs256(token, &secret, &request, false).map_err(|e| rejected(ROUTE, e.into()))?;

    let parsed: Result<Value, _> = serde_json::from_slice(&body);
    let event = match &parsed {
        Ok(v) => v
            .get("webhookEvent")
            .and_then(Value::as_str)
            .map(str::to_owned),
        Err(_) => None,
    };
    let Some(event) = event else {
        let reason = match parsed {
            Err(e) => format!("body is not valid JSON: {e}"),
            Ok(_) => "body has no webhookEvent".to_owned(),
        };
        webhooks::reject(state.store(), Some(&row.id), ROUTE, &reason, &body).await?;
        state.metrics().webhook_delivery("rejected");
        return Err(rejected(
            ROUTE,
            ApiError::bad_request("malformed_webhook", reason),
        ));
    };
    // Jira always sends an identifier; without one, identical bodies count as one delivery.
    let identifier = headers
        .get("x-atlassian-webhook-identifier")
        .and_then(|v| v.to_str().ok())
        .map(|s| s.chars().take(128).collect::<String>())
        .unwrap_or_else(|| {
            use sha2::Digest as _;
            format!("sha256:{}", hex_encode(&sha2::Sha256::digest(&body)))
        });
    let retry_count = headers
        .get("x-atlassian-webhook-retry")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<i32>().ok())
        .unwrap_or(0);
    let body_text = String::from_utf8_lossy(&body);
    let intake = webhooks::store(
        state.store(),
        &Delivery {
            tenant_id: &row.id,
            identifier: &identifier,
            retry_count,
            event: &event,
            source: "connect",
            body: &body_text,
        },
    )
    .await?;
    state.metrics().webhook_delivery(intake.as_str());
    tracing::debug!(tenant = %row.id, %event, %identifier, outcome = intake.as_str(), "webhook delivery");
    Ok(StatusCode::NO_CONTENT)
}

fn hex_encode(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
