//! Forge Remote routes of the native Forge app (`forge/manifest.yml`): product events, app
//! lifecycle events and the scheduled trigger, each proven by its Forge Invocation Token.
//! Events are stored in the inbox before the answer (Forge allows 5 s, then retries).

use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use serde_json::Value;
use verdict_wire::forge_event::{self, ForgeEventType};

use super::AppState;
use super::atlassian_auth::{ForgeInvocationAuth, note_refusal};
use super::error::ApiError;
use crate::atlassian::JiraAuth;
use crate::config::Secret;
use crate::tenants::forge::{self as forge_tenants, Attachment, ForgeSite, ForgeTenantError};
use crate::webhooks::{self, Delivery};

/// How long finding a new installation's site may take: Forge gives the whole call 5 s.
const SITE_LOOKUP_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3);

pub fn routes(limit: usize) -> Router<AppState> {
    Router::new()
        .route("/forge/events", post(product_event))
        .route("/forge/lifecycle", post(lifecycle_event))
        .route("/forge/scheduled", post(scheduled))
        .route("/forge/remote", post(remote_status))
        .route("/forge/issue-panel", post(issue_panel))
        .layer(axum::extract::DefaultBodyLimit::max(limit))
}

impl From<ForgeTenantError> for ApiError {
    fn from(e: ForgeTenantError) -> Self {
        match &e {
            // Gone for good: Forge may retry, nothing will change.
            ForgeTenantError::Uninstalled(_) => {
                ApiError::new(StatusCode::GONE, "installation_uninstalled", e.to_string())
            }
            ForgeTenantError::BadApiBaseUrl(_) | ForgeTenantError::BadInstallationId => {
                ApiError::new(StatusCode::UNAUTHORIZED, "invalid_jwt", e.to_string())
            }
            ForgeTenantError::Tenant(_) | ForgeTenantError::Db(_) => {
                ApiError::internal("forge", &e)
            }
        }
    }
}

/// A refusal of a verified invocation, counted (`scheme="forge-event"`) and logged.
fn refuse(
    state: &AppState,
    reason: &'static str,
    tenant: Option<&str>,
    path: &str,
    e: ApiError,
) -> ApiError {
    note_refusal(state, "forge-event", reason, tenant, path, &e.message);
    e
}

/// The tenant a verified invocation belongs to, attaching an installation Verdict has not seen
/// (its site found with Jira's `serverInfo`, called with the invocation's system token), and
/// keeping the system token it carries.
async fn tenant_of(
    state: &AppState,
    auth: &ForgeInvocationAuth,
    path: &str,
    app_version: Option<&str>,
) -> Result<(String, Attachment), ApiError> {
    let app = &auth.invocation.app;
    let site = ForgeSite::from_token(&app.installation_id, &app.api_base_url)?;
    let db = state.store().db();
    let known = forge_tenants::known(db, &site.installation_id)
        .await
        .map_err(|e| {
            let reason = match e {
                ForgeTenantError::Uninstalled(_) => "uninstalled",
                _ => "error",
            };
            refuse(state, reason, None, path, e.into())
        })?;
    let (tenant, how) = match known {
        Some(t) => (t, Attachment::Known),
        None => {
            let Some(token) = &auth.system_token else {
                return Err(refuse(
                    state,
                    "no_system_token",
                    None,
                    path,
                    ApiError::new(
                        StatusCode::UNAUTHORIZED,
                        "no_system_token",
                        "a new Forge installation must bring an app system token \
                         (x-forge-oauth-system): enable appSystemToken on the endpoint",
                    ),
                ));
            };
            let site_url = site_url(state, &site, token).await.map_err(|m| {
                // Forge retries: the site may answer next time.
                refuse(
                    state,
                    "site_unreachable",
                    None,
                    path,
                    ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "site_unreachable", m),
                )
            })?;
            let (t, how) =
                forge_tenants::attach(state.store(), &site, &site_url, app_version).await?;
            if how == Attachment::MigratedFromConnect {
                // Its Connect webhooks are dropped from now on (by kind); this replica stops
                // reading the tenant as a Connect one from its cache at once, others within a
                // minute (the cache's lifetime) — and a change that still comes both ways in
                // that minute is applied once (the pipeline knows its changelog id).
                if let Some(key) = crate::tenants::find_tenant(db, &t).await?.client_key {
                    state.connect_cache().forget(&key);
                }
            }
            tracing::info!(tenant = %t, installation = %site.installation_id, cloud_id = %site.cloud_id, site = %site_url, attachment = how.as_str(), "Forge installation attached");
            (t, how)
        }
    };
    if let Some(token) = &auth.system_token {
        let after_a_gap = state
            .forge_tokens()
            .remember(
                state.store(),
                state.secrets(),
                &tenant,
                &site,
                token,
                chrono::Utc::now(),
            )
            .await?;
        if after_a_gap {
            // Jobs and deliveries that waited for a token go now.
            let jobs = state.outbox_queue().resume_tenant(&tenant).await?;
            let deliveries = state.inbox_queue().resume_tenant(&tenant).await?;
            if jobs + deliveries > 0 {
                tracing::info!(%tenant, jobs, deliveries, "a Forge system token arrived: waiting work resumes");
            }
        }
    }
    Ok((tenant, how))
}

/// The site's own URL (Jira's `serverInfo.baseUrl`): how a Connect tenant of the same site is
/// recognised, and the tenant's name.
async fn site_url(state: &AppState, site: &ForgeSite, token: &str) -> Result<String, String> {
    let auth = JiraAuth::ForgeSystemToken {
        token: Secret::new(token),
        api_base_url: site.api_base_url.clone(),
    };
    let info = tokio::time::timeout(SITE_LOOKUP_TIMEOUT, state.jira().server_info(&auth))
        .await
        .map_err(|_| format!("Jira's serverInfo did not answer within {SITE_LOOKUP_TIMEOUT:?}"))?
        .map_err(|e| format!("Jira's serverInfo failed: {e}"))?;
    info.get("baseUrl")
        .and_then(Value::as_str)
        .filter(|u| u.starts_with("https://") || u.starts_with("http://"))
        .map(|u| u.trim_end_matches('/').to_owned())
        .ok_or_else(|| "Jira's serverInfo names no baseUrl".to_owned())
}

fn read_body(limit: usize, body: Result<Bytes, BytesRejection>) -> Result<Bytes, ApiError> {
    body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                format!("event body exceeds the limit of {limit} bytes (webhook_body_limit_bytes)"),
            )
        } else {
            ApiError::bad_request("unreadable_body", e.to_string())
        }
    })
}

/// `POST /forge/events`: a Jira product event (`avi:jira:…`) for the installation the token
/// names, stored in the inbox (a retry — same payload, another `retryContext` — is the same
/// delivery) and processed by the inbox worker like a webhook.
async fn product_event(
    State(state): State<AppState>,
    auth: ForgeInvocationAuth,
    body: Result<Bytes, BytesRejection>,
) -> Result<StatusCode, ApiError> {
    const ROUTE: &str = "/forge/events";
    let body = read_body(state.config().webhook_body_limit_bytes, body)?;
    let (tenant, _) = tenant_of(&state, &auth, ROUTE, None).await?;
    let parsed: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let event = match forge_event::event_type(&parsed) {
        Ok(e) => e,
        Err(e) => {
            let reason = format!("not a Forge event body: {e}");
            webhooks::reject(state.store(), Some(&tenant), ROUTE, &reason, &body).await?;
            state.metrics().webhook_delivery("rejected");
            return Err(ApiError::bad_request("malformed_event", reason));
        }
    };
    let identifier = forge_event::delivery_identity(&parsed);
    super::webhooks::store(
        &state,
        &Delivery {
            tenant_id: &tenant,
            identifier: &identifier,
            retry_count: forge_event::retry_count(&parsed) as i32,
            event: &event,
            source: "forge",
            body: &String::from_utf8_lossy(&body),
        },
    )
    .await
}

/// `POST /forge/lifecycle`: `avi:forge:installed:app` and `upgraded` attach the installation
/// (a reinstall keeps the site's tenant; a Connect tenant of the site becomes the Forge tenant);
/// `uninstalled` marks it and its tenant uninstalled (data kept until the retention purge).
async fn lifecycle_event(
    State(state): State<AppState>,
    auth: ForgeInvocationAuth,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    const ROUTE: &str = "/forge/lifecycle";
    let body = read_body(state.config().webhook_body_limit_bytes, body)?;
    let parsed: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let Some(event) = forge_event::lifecycle(&parsed) else {
        return Err(ApiError::bad_request(
            "malformed_event",
            "not a Forge lifecycle event (avi:forge:installed|upgraded|uninstalled:app)",
        ));
    };
    let installation = auth.invocation.app.installation_id.clone();
    if event.kind == ForgeEventType::AppUninstalled {
        let tenant = forge_tenants::uninstalled(state.store(), &installation).await?;
        if let Some(t) = &tenant {
            state.forge_tokens().forget(t);
            tracing::info!(tenant = %t, %installation, by = event.account.as_deref().unwrap_or("?"), "Forge app uninstalled");
        }
        return Ok(Json(
            serde_json::json!({"tenant": tenant, "status": "uninstalled"}),
        ));
    }
    let version = event.app_version.as_deref();
    let (tenant, how) = tenant_of(&state, &auth, ROUTE, version).await?;
    if event.kind == ForgeEventType::AppUpgraded || how == Attachment::Known {
        forge_tenants::upgraded(state.store(), &installation, version).await?;
    }
    tracing::info!(%tenant, %installation, event = ?event.kind, attachment = how.as_str(), "Forge lifecycle");
    Ok(Json(serde_json::json!({
        "tenant": tenant,
        "status": "active",
        "attachment": how.as_str(),
    })))
}

/// `POST /forge/scheduled`: the scheduled trigger (every five minutes). Its system token keeps
/// a quiet site callable; once an hour it also starts a reconciliation of the tenant's linked
/// tickets (findings follow their tickets), which catches closures whose events were lost.
async fn scheduled(
    State(state): State<AppState>,
    auth: ForgeInvocationAuth,
) -> Result<StatusCode, ApiError> {
    let (tenant, _) = tenant_of(&state, &auth, "/forge/scheduled", None).await?;
    if forge_tenants::claim_reconciliation(state.store(), &tenant, chrono::Utc::now()).await? {
        let state = state.clone();
        tokio::spawn(async move { crate::sync::reconcile::catch_up(&state, &tenant).await });
    }
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /forge/remote`: the installation's tenant and its status (the admin page's first
/// call, and a health check for the remote).
async fn remote_status(
    State(state): State<AppState>,
    auth: ForgeInvocationAuth,
) -> Result<Json<Value>, ApiError> {
    let (tenant, _) = tenant_of(&state, &auth, "/forge/remote", None).await?;
    let row = crate::tenants::find_tenant(state.store().db(), &tenant).await?;
    Ok(Json(serde_json::json!({
        "tenant": row.id,
        "site": row.site_url,
        "status": row.status.as_str(),
    })))
}

/// `POST /forge/issue-panel`: what the issue panel (`jira:issuePanel`, any Jira user who can
/// see the issue) shows — the findings linked to the issue the invocation token's context
/// names, and each one's last decision. Nothing is taken from the request body: a user sees the
/// issue Forge rendered the panel on, and no other.
async fn issue_panel(
    State(state): State<AppState>,
    auth: ForgeInvocationAuth,
) -> Result<Json<crate::findings::ticket_view::TicketView>, ApiError> {
    const ROUTE: &str = "/forge/issue-panel";
    let inv = &auth.invocation;
    let issue_id = inv
        .context
        .pointer("/extension/issue/id")
        .and_then(|v| match v {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        })
        .filter(|id| !id.is_empty() && id.len() <= 32)
        .ok_or_else(|| {
            ApiError::bad_request(
                "no_issue_context",
                "the invocation names no issue (context.extension.issue.id): open the panel on an issue",
            )
        })?;
    let tenant = forge_tenants::known(state.store().db(), &inv.app.installation_id)
        .await
        .map_err(|e| refuse(&state, "uninstalled", None, ROUTE, e.into()))?
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::FORBIDDEN,
                "not_installed",
                "Verdict has not received this site's installation yet; try again in a minute",
            )
        })?;
    let view = crate::findings::ticket_view::for_issue(
        state.store().db(),
        state.findings(),
        &tenant,
        &issue_id,
    )
    .await?;
    Ok(Json(view))
}

#[cfg(test)]
mod tests {
    use verdict_wire::forge_event::ForgeEventType;

    /// `forge/manifest.yml` is a native Forge app (no Connect modules) whose endpoints are the
    /// routes above and whose triggers subscribe to the events Verdict reads. (tests/browser
    /// validates it with Atlassian's `@forge/manifest`; the e2e tests run it in the double.)
    #[test]
    fn the_forge_manifest_is_native_and_matches_the_routes() {
        let manifest = include_str!("../../../forge/manifest.yml");
        assert!(!manifest.contains("connectModules") && !manifest.contains("\n  connect:"));
        for path in ["/forge/events", "/forge/lifecycle", "/forge/scheduled"] {
            assert!(manifest.contains(&format!("path: {path}")), "{path}");
        }
        for event in [
            "avi:jira:updated:issue",
            "avi:jira:commented:issue",
            "avi:jira:deleted:comment",
            "avi:jira:deleted:issue",
            "avi:forge:installed:app",
            "avi:forge:upgraded:app",
            "avi:forge:uninstalled:app",
        ] {
            assert!(manifest.contains(&format!("- {event}")), "{event}");
            assert!(!matches!(
                ForgeEventType::parse(event),
                ForgeEventType::Other(_)
            ));
        }
        assert!(manifest.contains("interval: fiveMinute"));
        assert!(manifest.contains("jira:adminPage:") && manifest.contains("useAsConfig: true"));
        assert!(manifest.contains("jira:issuePanel:"));
        assert!(manifest.contains("inScopeEUD: true"));
    }
}
