//! The admin app at the HTTP edge: its pages (`/connect/admin`, `/admin`), static assets and
//! the JSON API (`/api/admin/v1`), with the security headers every admin response carries.

pub mod api;
pub mod auth;
pub mod pages;

use std::time::Instant;

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{delete, get, post, put};

use super::AppState;

pub fn routes() -> Router<AppState> {
    let api = Router::new()
        .route("/api/admin/v1/me", get(api::me))
        .route("/api/admin/v1/tenants", get(api::tenants))
        .route("/api/admin/v1/overview", get(api::overview))
        .route(
            "/api/admin/v1/deliveries/{id}/retry",
            post(api::retry_delivery),
        )
        .route("/api/admin/v1/jobs/{id}/retry", post(api::retry_job))
        .route(
            "/api/admin/v1/api-keys",
            get(api::api_keys).post(api::create_api_key),
        )
        .route(
            "/api/admin/v1/api-keys/{id}",
            delete(api::revoke_api_key).patch(api::change_api_key),
        )
        .route("/api/admin/v1/settings", get(api::get_settings))
        .route("/api/admin/v1/settings/{group}", put(api::put_settings))
        .route(
            "/api/admin/v1/jira/create-screen",
            get(api::jira_create_screen),
        )
        .route("/api/admin/v1/jira/{source}", get(api::jira_choices))
        .route(
            "/api/admin/v1/rules",
            get(api::rules).post(api::upload_rule),
        )
        .route(
            "/api/admin/v1/rules/{name}/deactivate",
            post(api::deactivate_rule),
        )
        .route(
            "/api/admin/v1/rules/{name}/rollback",
            post(api::rollback_rule),
        )
        .route(
            "/api/admin/v1/rules/{name}/versions/{version}",
            delete(api::delete_rule_version),
        )
        .route(
            "/api/admin/v1/rules/{name}/versions/{version}/activate",
            post(api::activate_rule),
        )
        .route(
            "/api/admin/v1/rules/{name}/versions/{version}/evaluate",
            post(api::evaluate_rule),
        )
        .route(
            "/api/admin/v1/rules/{name}/versions/{version}/replay",
            post(api::replay_rule),
        )
        .route("/api/admin/v1/decisions", get(api::decision_log))
        .route("/api/admin/v1/decisions/{id}", get(api::decision))
        .route("/api/admin/v1/findings", get(api::findings))
        .route("/api/admin/v1/findings:export", post(api::export_findings))
        .route("/api/admin/v1/findings/{id}/push", post(api::push_finding))
        .route(
            "/api/admin/v1/findings/{id}/notes",
            get(api::finding_notes).post(api::add_finding_note),
        )
        .route("/api/admin/v1/audit", get(api::audit_log))
        .layer(middleware::from_fn(api_headers));
    Router::new()
        .merge(api)
        .route("/connect/admin", get(pages::connect_page))
        .route("/admin", get(pages::standalone_page))
        .route("/admin/login", post(pages::login))
        .route("/admin/logout", post(pages::logout))
        .route("/admin/static/{version}/{*path}", get(pages::asset))
}

/// Admin API answers are never cached, never sniffed, never framed, and say how long the
/// server took (`Server-Timing`), which the admin benchmark reads.
async fn api_headers(req: Request, next: Next) -> Response {
    let start = Instant::now();
    let mut resp = next.run(req).await;
    let took = start.elapsed().as_secs_f64() * 1000.0;
    let h = resp.headers_mut();
    private_headers(h);
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'"),
    );
    if let Ok(v) = HeaderValue::from_str(&format!("app;dur={took:.2}")) {
        h.insert("server-timing", v);
    }
    resp
}

/// What every admin answer carries: never cached, never sniffed, no referrer leaves it.
pub(crate) fn private_headers(h: &mut axum::http::HeaderMap) {
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
}
