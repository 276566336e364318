//! HTTP edge: router assembly, middleware (limits, timeouts, tracing, metrics), health,
//! metrics and OpenAPI endpoints. Handlers stay thin and call domain services.

pub mod admin;
pub mod atlassian_auth;
pub mod auth;
pub mod connect;
pub mod connections;
pub mod error;
pub mod extract;
pub mod findings;
pub mod forge;
pub mod rules;
pub mod sync;
pub mod webhooks;

use std::time::Instant;

use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;
use utoipa::OpenApi;

pub use crate::state::{AppState, ConnectionError};
use crate::store;
use error::ApiError;

pub fn router(state: AppState) -> Router {
    let api = Router::new()
        .route(
            "/api/v1/findings",
            get(findings::list).post(findings::import_one),
        )
        .route(
            "/api/v1/findings:batch",
            axum::routing::post(findings::import_batch),
        )
        .route(
            "/api/v1/findings/{id}",
            get(findings::get).patch(findings::patch),
        )
        .route("/api/v1/findings/{id}/events", get(findings::events))
        .route(
            "/api/v1/findings/{id}/notes",
            get(findings::notes).post(findings::add_note),
        )
        .route("/api/v1/quality/resolved", get(findings::resolved_quality))
        .route(
            "/api/v1/findings/{id}/jira-link",
            axum::routing::put(findings::put_link).delete(findings::delete_link),
        );

    let main = Router::new()
        .merge(api)
        .merge(connect::routes())
        .merge(admin::routes())
        .merge(connections::routes())
        .merge(rules::routes())
        .merge(sync::routes())
        .merge(webhooks::routes(state.config().webhook_body_limit_bytes))
        .merge(forge::routes(state.config().webhook_body_limit_bytes))
        .route("/f/{id}", get(findings::finding_link_page))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/api/openapi.json", get(openapi));
    // With `metrics_listen` set, /metrics lives on that address only.
    let main = if state.config().metrics_listen.is_none() {
        main.route("/metrics", get(public_metrics))
    } else {
        main
    };
    main.fallback(route_not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(state.clone(), refuse_oversized_bodies))
        .layer(middleware::from_fn_with_state(state.clone(), track_request))
        .layer(DefaultBodyLimit::max(state.config().api_body_limit_bytes))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            state.config().request_timeout(),
        ))
        .layer(
            // Path only: query strings can carry tokens (Connect's `?jwt=`), headers carry keys.
            TraceLayer::new_for_http().make_span_with(|req: &Request| {
                tracing::info_span!("request", method = %req.method(), path = %req.uri().path())
            }),
        )
        .with_state(state)
}

/// Most a lingering close reads from an oversized body, and for how long.
const DRAIN_MAX_BYTES: usize = 64 * 1024 * 1024;
const DRAIN_MAX_TIME: std::time::Duration = std::time::Duration::from_secs(5);

/// A declared `Content-Length` over the limit gets 413 at once — after reading and discarding
/// what the client is still sending (bounded). Closing a socket with unread data makes the
/// kernel reset it, and the client can lose the 413 it was about to read.
async fn refuse_oversized_bodies(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    let mut limit = state.config().api_body_limit_bytes;
    if req.method() == axum::http::Method::POST && req.uri().path() == "/api/v1/rules" {
        // Rule uploads have their own bound (a Python rule is ~18 MB).
        limit = limit.max(crate::rules::limits::UPLOAD_BODY_BYTES);
    }
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    match declared {
        Some(len) if len > limit as u64 => {
            let mut body = req.into_body().into_data_stream();
            let drain = async {
                use futures_util::StreamExt as _;
                let mut read = 0usize;
                while let Some(Ok(chunk)) = body.next().await {
                    read += chunk.len();
                    if read > DRAIN_MAX_BYTES {
                        break;
                    }
                }
            };
            let _ = tokio::time::timeout(DRAIN_MAX_TIME, drain).await;
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                format!("request body of {len} bytes exceeds the limit of {limit} bytes (api_body_limit_bytes; rule uploads: the module_bytes ceiling)"),
            )
            .closing_connection()
            .into_response()
        }
        _ => next.run(req).await,
    }
}

/// Counts every answered request by route template (never the raw path, which would explode
/// the label set) and status.
async fn track_request(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = req.method().as_str().to_owned();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let response = next.run(req).await;
    state
        .metrics()
        .http_request(&method, &route, response.status().as_u16(), start.elapsed());
    response
}

async fn route_not_found(req: Request) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "route_not_found",
        format!("no route for {} {}", req.method(), req.uri().path()),
    )
}

async fn method_not_allowed(req: Request) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!("{} is not allowed on {}", req.method(), req.uri().path()),
    )
}

/// The process is up.
async fn healthz() -> Json<serde_json::Value> {
    Json(serde_json::json!({"status": "ok"}))
}

/// The database answers; load balancers should only route here when this is 200.
async fn readyz(State(state): State<AppState>) -> Response {
    match store::ping(state.store().db()).await {
        Ok(()) => Json(serde_json::json!({"status": "ready"})).into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "database_unavailable",
                "the database is not reachable",
            )
            .into_response()
        }
    }
}

/// The router `metrics_listen` serves: `/metrics` and nothing else.
pub fn metrics_router(state: AppState) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .fallback(route_not_found)
        .with_state(state)
}

/// `/metrics` on the public listener: closed unless a token is configured (and sent) or the
/// operator made it public, since its labels name tenants and routes.
async fn public_metrics(State(state): State<AppState>, headers: axum::http::HeaderMap) -> Response {
    let config = state.config();
    if config.metrics_token.is_none() && !config.metrics_public {
        atlassian_auth::note_refusal(
            &state,
            "metrics-token",
            "not_public",
            None,
            "/metrics",
            "refused a /metrics scrape: metrics are not public",
        );
        return ApiError::new(
            StatusCode::FORBIDDEN,
            "metrics_not_public",
            "/metrics is closed: set metrics_token (scrape with `Authorization: Bearer <metrics_token>`), serve it on a private address with metrics_listen, or set metrics_public = true",
        )
        .into_response();
    }
    metrics(State(state), headers).await
}

async fn metrics(State(state): State<AppState>, headers: axum::http::HeaderMap) -> Response {
    if let Some(token) = &state.config().metrics_token {
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or_default();
        // Comparing digests keeps the comparison's time independent of where they differ.
        use sha2::Digest as _;
        if sha2::Sha256::digest(given.as_bytes()) != sha2::Sha256::digest(token.expose().as_bytes())
        {
            let reason = if given.is_empty() {
                "missing"
            } else {
                "wrong_token"
            };
            atlassian_auth::note_refusal(
                &state,
                "metrics-token",
                reason,
                None,
                "/metrics",
                "refused a /metrics scrape without the metrics token",
            );
            return ApiError::new(
                StatusCode::UNAUTHORIZED,
                "metrics_token_required",
                "/metrics needs `Authorization: Bearer <metrics_token>`",
            )
            .into_response();
        }
    }
    state
        .metrics()
        .set_rules_loaded(state.rules().loaded_count());
    state
        .metrics()
        .set_jira_budget(&state.jira().budget().view(chrono::Utc::now()));
    match state.outbox_queue().depth().await {
        Ok(depth) => state.metrics().set_outbox_depth(depth.waiting),
        Err(e) => tracing::warn!(error = %e, "cannot count the outbox"),
    }
    match state.inbox_queue().depth().await {
        Ok(depth) => state.metrics().set_inbox_depth(depth.waiting),
        Err(e) => tracing::warn!(error = %e, "cannot count the webhook inbox"),
    }
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics().render(),
    )
        .into_response()
}

async fn openapi() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}

struct SecurityAddon;

impl utoipa::Modify for SecurityAddon {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("A tenant API key from `verdict api-key create`"))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "admin_token",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("The operator's admin_token (VERDICT_ADMIN_TOKEN)"))
                    .build(),
            ),
        );
    }
}

/// The OpenAPI document, generated from the handlers and types above.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Verdict API",
        description = "Findings, their Jira links and their audit trail. Every `/api/v1` call takes a tenant API key as a bearer token."
    ),
    paths(
        findings::import_one,
        findings::import_batch,
        findings::list,
        findings::get,
        findings::patch,
        findings::events,
        findings::add_note,
        findings::notes,
        findings::put_link,
        findings::delete_link,
        findings::resolved_quality,
        connections::start_oauth,
        connections::connection,
        connections::all_connections,
        rules::upload,
        rules::list_rules,
        rules::versions,
        rules::get_version,
        rules::module,
        rules::activate,
        rules::deactivate,
        rules::rollback,
        rules::delete_version,
        rules::evaluate,
        rules::replay_version,
        rules::get_settings,
        rules::put_settings,
        sync::export_one,
        sync::push_one,
        sync::export_bulk,
        sync::status_bulk,
        sync::list_jobs,
        sync::retry_job,
        sync::bulk_summary,
    ),
    modifiers(&SecurityAddon),
    tags(
        (name = "findings", description = "Scanner findings and their status"),
        (name = "connections", description = "The tenant's connection to Jira"),
        (name = "rules", description = "The tenant's WebAssembly rules and the settings they read"),
        (name = "jira", description = "Findings to Jira: export, bulk status changes, outbound jobs")
    )
)]
pub struct ApiDoc;
