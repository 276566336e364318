//! The admin app's HTML: the page Jira frames (Connect configure/admin page, verified by its
//! page JWT with a real `qsh`), the standalone page for the operator (sign-in, session
//! cookie), the pages that explain a refusal, and the embedded static assets. Every page
//! carries a nonce-based CSP whose `frame-ancestors` is the tenant's own site.

use std::sync::LazyLock;

use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use base64::Engine as _;
use rand::RngCore;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::super::AppState;
use super::super::atlassian_auth::{ConnectFailure, note_refusal, verify_connect};
use crate::admin::AdminError;
use crate::admin::sessions;
use crate::atlassian::AuthError;
use crate::store::entities::tenants;

/// One embedded file of the admin app.
struct Asset {
    path: &'static str,
    mime: &'static str,
    bytes: &'static [u8],
}

macro_rules! asset {
    ($path:literal, $mime:literal) => {
        Asset {
            path: $path,
            mime: $mime,
            bytes: include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/assets/admin/", $path)),
        }
    };
}

static ASSETS: &[Asset] = &[
    asset!("app.js", "text/javascript; charset=utf-8"),
    asset!("dom.js", "text/javascript; charset=utf-8"),
    asset!("views.js", "text/javascript; charset=utf-8"),
    asset!("rules.js", "text/javascript; charset=utf-8"),
    asset!("settings.js", "text/javascript; charset=utf-8"),
    asset!("boot-connect.js", "text/javascript; charset=utf-8"),
    asset!("boot-standalone.js", "text/javascript; charset=utf-8"),
    asset!("message.js", "text/javascript; charset=utf-8"),
    asset!("admin.css", "text/css; charset=utf-8"),
    asset!("vendor/css-reset.css", "text/css; charset=utf-8"),
    asset!("vendor/tokens-light.css", "text/css; charset=utf-8"),
    asset!("vendor/tokens-dark.css", "text/css; charset=utf-8"),
];

/// A hash of every asset: part of their URLs, so they can be cached for a year and a new
/// release is fetched at once.
pub static ASSET_VERSION: LazyLock<String> = LazyLock::new(|| {
    let mut h = Sha256::new();
    for a in ASSETS {
        h.update(a.path.as_bytes());
        h.update(a.bytes);
    }
    hex::encode(&h.finalize()[..6])
});

fn base_path(state: &AppState) -> String {
    state
        .config()
        .base_url
        .path()
        .trim_end_matches('/')
        .to_owned()
}

fn assets_url(state: &AppState) -> String {
    format!("{}/admin/static/{}", base_path(state), *ASSET_VERSION)
}

/// `GET /admin/static/{version}/{*path}`.
pub async fn asset(Path((version, path)): Path<(String, String)>) -> Response {
    let Some(a) = ASSETS.iter().find(|a| a.path == path) else {
        return (StatusCode::NOT_FOUND, "no such file").into_response();
    };
    // An old page may ask for an old version: serve what we have, but let it be refetched.
    let cache = if version == *ASSET_VERSION {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    (
        [
            (header::CONTENT_TYPE, a.mime),
            (header::CACHE_CONTROL, cache),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        a.bytes,
    )
        .into_response()
}

fn nonce() -> String {
    let mut raw = [0u8; 16];
    rand::rng().fill_bytes(&mut raw);
    base64::engine::general_purpose::STANDARD.encode(raw)
}

/// Where a page may be framed from: the tenant's own site (Connect), or nowhere.
enum Framing {
    Sites(Vec<String>),
    Nowhere,
}

fn origin_of(url: &str) -> Option<String> {
    url::Url::parse(url)
        .ok()
        .map(|u| u.origin().ascii_serialization())
        .filter(|o| o != "null")
}

fn framing_for(tenant: Option<&tenants::Model>) -> Framing {
    let mut origins: Vec<String> = tenant
        .into_iter()
        .flat_map(|t| [t.site_url.as_deref(), t.display_url.as_deref()])
        .flatten()
        .filter_map(origin_of)
        .collect();
    origins.dedup();
    if origins.is_empty() {
        // Unknown site (a token we could not tie to a tenant): Atlassian Cloud may still show
        // why; nothing about any tenant is on such a page.
        origins = vec![
            "https://*.atlassian.net".into(),
            "https://*.jira.com".into(),
        ];
    }
    Framing::Sites(origins)
}

fn secure_page(
    state: &AppState,
    html: String,
    status: StatusCode,
    nonce: &str,
    framing: Framing,
    all_js: bool,
) -> Response {
    let script_extra = if all_js {
        origin_of(state.config().connect_all_js_url.as_str()).unwrap_or_default()
    } else {
        String::new()
    };
    let ancestors = match framing {
        Framing::Sites(o) => o.join(" "),
        Framing::Nowhere => "'none'".into(),
    };
    let csp = format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' {script_extra}; style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors {ancestors}"
    );
    let mut resp = (status, Html(html)).into_response();
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&csp) {
        h.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    super::private_headers(h);
    resp
}

#[derive(Template)]
#[template(path = "admin/app.html")]
struct AppPage<'a> {
    title: &'a str,
    assets: &'a str,
    all_js: Option<&'a str>,
    nonce: &'a str,
    boot: &'a str,
    base: &'a str,
    mode: &'a str,
    csrf: &'a str,
    site: &'a str,
    context_line: &'a str,
}

#[derive(Template)]
#[template(path = "admin/message.html")]
struct MessagePage<'a> {
    title: &'a str,
    assets: &'a str,
    all_js: Option<&'a str>,
    nonce: &'a str,
    heading: &'a str,
    paragraphs: Vec<String>,
    /// `warning`, `error` or `info`.
    tone: &'a str,
    refresh: bool,
    link: Option<&'a str>,
    link_text: &'a str,
}

#[derive(Template)]
#[template(path = "admin/login.html")]
struct LoginPage<'a> {
    title: &'a str,
    assets: &'a str,
    all_js: Option<&'a str>,
    nonce: &'a str,
    action: &'a str,
    error: Option<&'a str>,
}

fn render(t: &impl Template) -> String {
    t.render().unwrap_or_else(|e| {
        tracing::error!(error = %e, "an admin page failed to render");
        "<!doctype html><title>Verdict</title><p>This page failed to render; the server log says why.</p>".into()
    })
}

/// A page that explains why the admin app is not shown.
struct Refusal {
    status: StatusCode,
    heading: &'static str,
    paragraphs: Vec<String>,
    tone: &'static str,
    refresh: bool,
}

fn refusal_page(state: &AppState, r: Refusal, framing: Framing, connect: bool) -> Response {
    let nonce = nonce();
    let assets = assets_url(state);
    let all_js = connect.then(|| state.config().connect_all_js_url.to_string());
    let html = render(&MessagePage {
        title: r.heading,
        assets: &assets,
        all_js: all_js.as_deref(),
        nonce: &nonce,
        heading: r.heading,
        paragraphs: r.paragraphs,
        tone: r.tone,
        refresh: r.refresh,
        link: None,
        link_text: "",
    });
    secure_page(state, html, r.status, &nonce, framing, connect)
}

fn expired() -> Refusal {
    Refusal {
        status: StatusCode::UNAUTHORIZED,
        heading: "This page has expired",
        paragraphs: vec![
            "Jira's link to this page is only valid for a few minutes, and it has run out.".into(),
            "Refresh the page to continue.".into(),
        ],
        tone: "warning",
        refresh: true,
    }
}

fn not_admin(site: &str) -> Refusal {
    Refusal {
        status: StatusCode::FORBIDDEN,
        heading: "Verdict is administered by Jira administrators",
        paragraphs: vec![
            format!("Your Atlassian account is not a Jira administrator of {site}."),
            "Verdict's settings decide how security findings become tickets and what a closed security ticket means, so only Jira administrators can open them. Ask a Jira administrator for access, or to make the change for you.".into(),
        ],
        tone: "warning",
        refresh: false,
    }
}

#[derive(Deserialize)]
pub struct PageQuery {
    jwt: Option<String>,
}

/// `GET /connect/admin?jwt=…`: the configure/admin page Jira frames. Only a page JWT with the
/// real `qsh` of this URL opens it (a context token never does); then the account must be a
/// Jira administrator.
pub async fn connect_page(
    State(state): State<AppState>,
    uri: Uri,
    headers: HeaderMap,
    axum::extract::Query(q): axum::extract::Query<PageQuery>,
) -> Response {
    let mut parts = axum::http::Request::builder()
        .method("GET")
        .uri(uri.clone())
        .body(())
        .map(|r| r.into_parts().0)
        .expect("a GET request");
    parts.headers = headers;
    let token = q.jwt.unwrap_or_default();
    // Only to frame the refusal page for the right site and to count a refusal against it;
    // never trusted for anything else.
    let claimed = crate::atlassian::jwt::unverified_issuer(&token).ok();
    let claimed_tenant = match &claimed {
        Some(iss) => crate::tenants::connect::find_by_client_key(state.store().db(), iss)
            .await
            .ok()
            .flatten(),
        None => None,
    };
    let verified = if token.is_empty() {
        Err(ConnectFailure::Token(AuthError::Missing))
    } else {
        verify_connect(&state, &parts, &token, false).await
    };
    let (tenant, claims) = match verified {
        Ok(v) => v,
        Err(ConnectFailure::Token(AuthError::Expired)) => {
            // An open page outliving its token is routine: counted, not warned about.
            let tenant = claimed_tenant.as_ref().map(|t| t.id.as_str());
            state
                .metrics()
                .auth_refused("connect-page", "expired", tenant);
            return refusal_page(
                &state,
                expired(),
                framing_for(claimed_tenant.as_ref()),
                true,
            );
        }
        Err(ConnectFailure::Token(e)) => {
            let tenant = claimed_tenant.as_ref().map(|t| t.id.as_str());
            let message = format!("Connect admin page refused: {e}");
            note_refusal(
                &state,
                "connect-page",
                e.reason(),
                tenant,
                uri.path(),
                &message,
            );
            return refusal_page(
                &state,
                Refusal {
                    status: StatusCode::UNAUTHORIZED,
                    heading: "Verdict could not verify this page",
                    paragraphs: vec![
                        "This page only opens from Jira, with Jira's signed link.".into(),
                        format!("Reason: {e}."),
                    ],
                    tone: "error",
                    refresh: true,
                },
                framing_for(claimed_tenant.as_ref()),
                true,
            );
        }
        Err(ConnectFailure::Other(e)) => return e.into_response(),
    };
    let site = tenant
        .display_url
        .clone()
        .or_else(|| tenant.site_url.clone())
        .unwrap_or_default();
    let Some(account) = claims.sub.filter(|s| !s.is_empty()) else {
        return refusal_page(&state, not_admin(&site), framing_for(Some(&tenant)), true);
    };
    match state
        .admin_access()
        .require_jira_admin(&state, &tenant.id, &account)
        .await
    {
        Ok(()) => {}
        Err(AdminError::NotJiraAdmin(_)) => {
            tracing::info!(tenant = %tenant.id, "a non-admin opened the Verdict admin page");
            return refusal_page(&state, not_admin(&site), framing_for(Some(&tenant)), true);
        }
        Err(e) => {
            tracing::warn!(tenant = %tenant.id, error = %e, "cannot check Jira permissions for the admin page");
            return refusal_page(
                &state,
                Refusal {
                    status: StatusCode::SERVICE_UNAVAILABLE,
                    heading: "Verdict cannot check your Jira permissions right now",
                    paragraphs: vec![
                        "Verdict asks Jira whether you are a Jira administrator before showing its settings, and Jira did not answer.".into(),
                        "Try again in a minute.".into(),
                    ],
                    tone: "error",
                    refresh: true,
                },
                framing_for(Some(&tenant)),
                true,
            );
        }
    }
    let nonce = nonce();
    let assets = assets_url(&state);
    let all_js = state.config().connect_all_js_url.to_string();
    let context_line = format!("Jira site {site}");
    let html = render(&AppPage {
        title: "Verdict",
        assets: &assets,
        all_js: Some(&all_js),
        nonce: &nonce,
        boot: "boot-connect.js",
        base: &base_path(&state),
        mode: "connect",
        csrf: "",
        site: &site,
        context_line: &context_line,
    });
    secure_page(
        &state,
        html,
        StatusCode::OK,
        &nonce,
        framing_for(Some(&tenant)),
        true,
    )
}

fn disabled(state: &AppState) -> Response {
    refusal_page(
        state,
        Refusal {
            status: StatusCode::SERVICE_UNAVAILABLE,
            heading: "The standalone admin app is off",
            paragraphs: vec![
                "Set admin_token (VERDICT_ADMIN_TOKEN, at least 32 characters) on the server to sign in here.".into(),
                "Jira administrators use Verdict from inside Jira instead.".into(),
            ],
            tone: "info",
            refresh: false,
        },
        Framing::Nowhere,
        false,
    )
}

fn session_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == sessions::COOKIE)
        .map(|(_, v)| v.to_owned())
}

fn login_page(state: &AppState, status: StatusCode, error: Option<&str>) -> Response {
    let nonce = nonce();
    let assets = assets_url(state);
    let action = format!("{}/admin/login", base_path(state));
    let html = render(&LoginPage {
        title: "Sign in",
        assets: &assets,
        all_js: None,
        nonce: &nonce,
        action: &action,
        error,
    });
    secure_page(state, html, status, &nonce, Framing::Nowhere, false)
}

/// `GET /admin`: the operator's admin app, or its sign-in page.
pub async fn standalone_page(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if state.config().admin_token.is_none() {
        return disabled(&state);
    }
    let session = match session_cookie(&headers) {
        Some(token) => match sessions::find(state.store(), &token).await {
            Ok(s) => s,
            Err(e) => return super::super::error::ApiError::from(e).into_response(),
        },
        None => None,
    };
    let Some(session) = session else {
        return login_page(&state, StatusCode::OK, None);
    };
    let nonce = nonce();
    let assets = assets_url(&state);
    let html = render(&AppPage {
        title: "Verdict",
        assets: &assets,
        all_js: None,
        nonce: &nonce,
        boot: "boot-standalone.js",
        base: &base_path(&state),
        mode: "standalone",
        csrf: &session.csrf_token,
        site: "",
        context_line: "Operator",
    });
    secure_page(
        &state,
        html,
        StatusCode::OK,
        &nonce,
        Framing::Nowhere,
        false,
    )
}

#[derive(Deserialize)]
pub struct LoginForm {
    admin_token: String,
}

/// `POST /admin/login`: the admin token for a session cookie (HttpOnly, SameSite=Strict,
/// Secure on https).
pub async fn login(State(state): State<AppState>, Form(form): Form<LoginForm>) -> Response {
    let Some(expected) = state.config().admin_token.clone() else {
        return disabled(&state);
    };
    if !sessions::admin_token_matches(&expected, form.admin_token.trim()) {
        note_refusal(
            &state,
            "admin-login",
            "wrong_admin_token",
            None,
            "/admin/login",
            "standalone admin sign-in with a wrong admin token",
        );
        // Slows guessing; the token is long and random anyway.
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        return login_page(
            &state,
            StatusCode::UNAUTHORIZED,
            Some("That is not this server's admin token."),
        );
    }
    let hours = state.config().admin_session_hours;
    let session = match sessions::open(state.store(), hours).await {
        Ok(s) => s,
        Err(e) => return super::super::error::ApiError::from(e).into_response(),
    };
    tracing::info!("operator signed in to the standalone admin app");
    let secure = if state.config().base_url.scheme() == "https" {
        "; Secure"
    } else {
        ""
    };
    let cookie = format!(
        "{}={}; Path={}/; HttpOnly; SameSite=Strict; Max-Age={}{secure}",
        sessions::COOKIE,
        session.token,
        base_path(&state),
        hours * 3600
    );
    let mut resp = Redirect::to(&format!("{}/admin", base_path(&state))).into_response();
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        resp.headers_mut().insert(header::SET_COOKIE, v);
    }
    resp
}

#[derive(Deserialize)]
pub struct LogoutForm {
    csrf: String,
}

/// `POST /admin/logout`: ends the session everywhere.
pub async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<LogoutForm>,
) -> Response {
    if let Some(token) = session_cookie(&headers)
        && let Ok(Some(session)) = sessions::find(state.store(), &token).await
    {
        if !sessions::csrf_matches(&session, &form.csrf) {
            return super::super::error::ApiError::new(
                StatusCode::FORBIDDEN,
                "csrf_failed",
                "sign out did not come from Verdict's admin page",
            )
            .into_response();
        }
        if let Err(e) = sessions::close(state.store(), &token).await {
            return super::super::error::ApiError::from(e).into_response();
        }
        tracing::info!("operator signed out of the standalone admin app");
    }
    let mut resp = Redirect::to(&format!("{}/admin", base_path(&state))).into_response();
    let clear = format!(
        "{}=; Path={}/; HttpOnly; SameSite=Strict; Max-Age=0",
        sessions::COOKIE,
        base_path(&state)
    );
    if let Ok(v) = HeaderValue::from_str(&clear) {
        resp.headers_mut().insert(header::SET_COOKIE, v);
    }
    resp
}
