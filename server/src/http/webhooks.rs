//! Webhook routes. Each verifies its scheme, then stores the raw delivery and only then
//! answers 2xx. Bad signature or unknown tenant → 401; malformed JSON → 400 (kept for the
//! admin); over `webhook_body_limit_bytes` → 413. Nothing here calls Jira or runs a rule.

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use serde_json::Value;

use super::AppState;
use super::atlassian_auth::{ConnectJwt, HubSigned, OAuthWebhookJwt};
use super::error::ApiError;
use crate::atlassian::dynamic_webhooks::{AttributionError, attribute};
use crate::webhooks::{self, Delivery};

pub fn routes(limit: usize) -> Router<AppState> {
    Router::new()
        .route("/connect/webhooks/jira", post(connect_webhook))
        .route("/oauth/webhooks/jira", post(oauth_webhook))
        .route("/hooks/jira/{tenant}", post(hmac_webhook))
        .layer(axum::extract::DefaultBodyLimit::max(limit))
}

fn rejected(route: &str, e: ApiError) -> ApiError {
    // The reason is logged, never the token.
    tracing::warn!(route, code = e.code, reason = %e.message, "webhook delivery refused");
    e
}

fn read_body(
    route: &str,
    limit: usize,
    body: Result<Bytes, BytesRejection>,
) -> Result<Bytes, ApiError> {
    body.map_err(|e| {
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
        rejected(route, err)
    })
}

/// `POST /connect/webhooks/jira`: Connect webhooks.
async fn connect_webhook(
    State(state): State<AppState>,
    auth: ConnectJwt,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<StatusCode, ApiError> {
    const ROUTE: &str = "/connect/webhooks/jira";
    let body = read_body(ROUTE, state.config().webhook_body_limit_bytes, body)?;
    // A site that moved to the Forge app gets every change as a Forge event: what its Connect
    // app still sends is acknowledged and dropped, so no change is processed twice.
    if auth.tenant.kind == crate::tenants::ConnectionKind::Forge.as_str() {
        state.metrics().webhook_delivery("superseded");
        return Ok(StatusCode::NO_CONTENT);
    }
    intake(&state, ROUTE, &auth.tenant.id, "connect", &headers, &body).await
}

/// `POST /oauth/webhooks/jira`: dynamic webhooks of OAuth 2.0 connections. One URL and one
/// token serve every site, so the tenant is the one connected to the site the payload's own
/// links name, and only if it registered a webhook the payload's `matchedWebhookIds` names.
async fn oauth_webhook(
    State(state): State<AppState>,
    _auth: OAuthWebhookJwt,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<StatusCode, ApiError> {
    const ROUTE: &str = "/oauth/webhooks/jira";
    let body = read_body(ROUTE, state.config().webhook_body_limit_bytes, body)?;
    let payload: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let tenant = match attribute(state.store().db(), &payload).await {
        Ok(tenant) => tenant,
        Err(AttributionError::Db(e)) => return Err(e.into()),
        Err(e) => {
            // Kept for the site's tenant when there is one (its admin sees it among failed
            // deliveries); the reason is logged, never the token.
            let reason = e.to_string();
            webhooks::reject(state.store(), e.site_tenant(), ROUTE, &reason, &body).await?;
            state.metrics().webhook_delivery("rejected");
            return Err(rejected(ROUTE, e.into()));
        }
    };
    intake(&state, ROUTE, &tenant, "oauth", &headers, &body).await
}

impl From<AttributionError> for ApiError {
    fn from(e: AttributionError) -> Self {
        let (status, code) = match &e {
            AttributionError::NoSite(_) => (StatusCode::BAD_REQUEST, "unattributable_delivery"),
            AttributionError::UnknownSite(_) => (StatusCode::UNAUTHORIZED, "unknown_tenant"),
            AttributionError::NotItsWebhooks { .. } => (StatusCode::FORBIDDEN, "webhook_not_owned"),
            AttributionError::Db(_) => return ApiError::internal("webhooks", &e),
        };
        ApiError::new(status, code, e.to_string())
    }
}

/// `POST /hooks/jira/{tenant}`: admin webhooks (Jira Data Center, or Cloud admin webhooks)
/// signed with the tenant's webhook secret (`verdict tenant webhook-secret`).
async fn hmac_webhook(
    State(state): State<AppState>,
    headers: HeaderMap,
    signed: HubSigned,
) -> Result<StatusCode, ApiError> {
    intake(
        &state,
        "/hooks/jira/{tenant}",
        &signed.tenant.id,
        "hmac",
        &headers,
        &signed.body,
    )
    .await
}

/// Parses and stores a delivery that passed verification.
async fn intake(
    state: &AppState,
    route: &str,
    tenant_id: &str,
    source: &str,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<StatusCode, ApiError> {
    let parsed: Result<Value, _> = serde_json::from_slice(body);
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
        webhooks::reject(state.store(), Some(tenant_id), route, &reason, body).await?;
        state.metrics().webhook_delivery("rejected");
        return Err(rejected(
            route,
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
            format!("sha256:{}", hex::encode(sha2::Sha256::digest(body)))
        });
    let retry_count = headers
        .get("x-atlassian-webhook-retry")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<i32>().ok())
        .unwrap_or(0);
    store(
        state,
        &Delivery {
            tenant_id,
            identifier: &identifier,
            retry_count,
            event: &event,
            source,
            body: &String::from_utf8_lossy(body),
        },
    )
    .await
}

/// Writes a verified delivery to the inbox and answers 204 once it is committed; a delivery the
/// inbox already has (a retry) is answered the same and processed once.
pub(super) async fn store(state: &AppState, d: &Delivery<'_>) -> Result<StatusCode, ApiError> {
    let outcome = state.inbox().store(d).await.map_err(|e| match e {
        // Not acknowledged, so Jira delivers it again later (it retries 429 and 5xx).
        crate::webhooks::IntakeError::TenantFull { .. } => {
            tracing::warn!(tenant = %d.tenant_id, identifier = %d.identifier, "inbox quota reached; delivery refused for now");
            state.metrics().webhook_delivery("tenant_full");
            ApiError::new(
                axum::http::StatusCode::TOO_MANY_REQUESTS,
                "inbox_full",
                e.to_string(),
            )
            .with_retry_after(60)
        }
        crate::webhooks::IntakeError::Db(e) => {
            tracing::error!(tenant = %d.tenant_id, identifier = %d.identifier, error = %e, "cannot store a delivery");
            ApiError::new(
                axum::http::StatusCode::SERVICE_UNAVAILABLE,
                "inbox_unavailable",
                "the delivery could not be stored; deliver it again later",
            )
        }
    })?;
    state.metrics().webhook_delivery(outcome.as_str());
    tracing::debug!(tenant = %d.tenant_id, event = %d.event, identifier = %d.identifier, source = d.source, outcome = outcome.as_str(), "delivery");
    Ok(StatusCode::NO_CONTENT)
}
