//! The double's HTTP side: routing for site URLs (`/s/{site}/…`), the api.atlassian.com
//! gateway (`/api/ex/{jira|confluence}/{cloudId}/…`), and the gate every site request passes:
//! faults, authentication (verified with the double's own code), rate limits, request log.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{OriginalUri, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use serde_json::{Value, json};

use crate::model::AuthKind;
use crate::{Shared, api, forge, install, jwt, oauth, qsh};

/// What the gate learnt about a request; handlers read it from the extensions.
#[derive(Clone, Debug)]
pub struct Ctx {
    pub site: String,
    pub auth: AuthKind,
    /// The account the request acts as (for changelogs and comment authors).
    pub actor: String,
    pub gateway: bool,
}

pub fn router(shared: Arc<Shared>) -> Router {
    let site_routes =
        || api::routes().route_layer(middleware::from_fn_with_state(shared.clone(), gate));
    Router::new()
        .nest("/s/{site}", site_routes())
        .nest("/api/ex/jira/{cloud}", site_routes())
        .nest("/api/ex/confluence/{cloud}", site_routes())
        .merge(oauth::routes())
        .merge(install::routes())
        .merge(forge::routes())
        .merge(crate::host::routes())
        .with_state(shared)
}

pub fn jira_error(status: StatusCode, message: &str) -> Response {
    (
        status,
        axum::Json(json!({"errorMessages": [message], "errors": {}})),
    )
        .into_response()
}

fn locate(path: &str) -> Option<(bool, &str, &str)> {
    // (gateway, site-or-cloud, rest)
    if let Some(rest) = path.strip_prefix("/s/") {
        let (site, rest) = rest.split_once('/').unwrap_or((rest, ""));
        return Some((false, site, rest));
    }
    for prefix in ["/api/ex/jira/", "/api/ex/confluence/"] {
        if let Some(rest) = path.strip_prefix(prefix) {
            let (cloud, rest) = rest.split_once('/').unwrap_or((rest, ""));
            return Some((true, cloud, rest));
        }
    }
    None
}

async fn gate(
    State(shared): State<Arc<Shared>>,
    OriginalUri(original): OriginalUri,
    req: Request,
    next: Next,
) -> Response {
    let Some((gateway, site_ref, _)) = locate(original.path()) else {
        return jira_error(StatusCode::NOT_FOUND, "Not found");
    };
    let site = {
        let world = shared.world.lock().unwrap();
        world
            .sites
            .iter()
            .find(|s| {
                if gateway {
                    s.cloud_id == site_ref
                } else {
                    s.name == site_ref
                }
            })
            .map(|s| s.name.clone())
    };
    let Some(site) = site else {
        return jira_error(StatusCode::NOT_FOUND, "Site not found");
    };
    let method = req.method().as_str().to_owned();
    let path = req.uri().path().to_owned();
    let query = req.uri().query().unwrap_or("").to_owned();

    let data_center = shared.world.lock().unwrap().data_center.contains(&site);
    if data_center && path.starts_with("/rest/api/3/") {
        // Jira Data Center has REST v2 only; its REST servlet answers an unknown resource so.
        record(&shared, &site, &method, &path, &query, AuthKind::None, 404);
        return (
            StatusCode::NOT_FOUND,
            axum::Json(json!({"message": format!("null for uri: {path}"), "status-code": 404})),
        )
            .into_response();
    }

    if let Some(resp) = apply_faults(&shared, &site, &path).await {
        record(
            &shared,
            &site,
            &method,
            &path,
            &query,
            AuthKind::None,
            resp.status().as_u16(),
        );
        return resp;
    }
    let (auth, actor) = match authenticate(
        &shared,
        &site,
        gateway,
        &method,
        &path,
        &query,
        req.headers(),
    ) {
        Ok(a) => a,
        Err(msg) => {
            tracing::debug!(%site, %path, %msg, "double refused a request");
            record(&shared, &site, &method, &path, &query, AuthKind::None, 401);
            return jira_error(StatusCode::UNAUTHORIZED, &msg);
        }
    };
    let quota = match rate_limit(&shared, &site, &auth, &method, &path) {
        Ok(q) => q,
        Err(resp) => {
            record(&shared, &site, &method, &path, &query, auth, 429);
            return *resp;
        }
    };
    let mut req = req;
    req.extensions_mut().insert(Ctx {
        site: site.clone(),
        auth: auth.clone(),
        actor,
        gateway,
    });
    let mut resp = next.run(req).await;
    if let Some(q) = &quota {
        add_quota_headers(&mut resp, q);
    }
    record(
        &shared,
        &site,
        &method,
        &path,
        &query,
        auth,
        resp.status().as_u16(),
    );
    resp
}

fn record(
    shared: &Shared,
    site: &str,
    method: &str,
    path: &str,
    query: &str,
    auth: AuthKind,
    status: u16,
) {
    let now = shared.clock.now();
    let mut world = shared.world.lock().unwrap();
    if let Some(s) = world.sites.iter_mut().find(|s| s.name == site) {
        s.requests.push(crate::model::RequestRecord {
            method: method.into(),
            path: path.into(),
            query: query.into(),
            auth,
            status,
            at: now,
        });
    }
}

async fn apply_faults(shared: &Shared, site: &str, path: &str) -> Option<Response> {
    let (latency, fail, drop, redirect, oversized) = {
        let mut world = shared.world.lock().unwrap();
        let f = world.faults.entry(site.to_owned()).or_default();
        if !f.path_filter.is_empty() && !path.contains(&f.path_filter) {
            return None;
        }
        f.seen += 1;
        let tick = f.seen;
        let latency = f.latency;
        let fail = if !f.fail_next.is_empty() {
            Some(f.fail_next.remove(0))
        } else if f.fail_every > 0 && tick.is_multiple_of(f.fail_every as u64) {
            Some(503)
        } else {
            None
        };
        let drop = f.drop_next > 0;
        if drop {
            f.drop_next -= 1;
        }
        let redirect = (!f.redirect_next.is_empty()).then(|| f.redirect_next.remove(0));
        let oversized = (f.oversized_next > 0).then(|| {
            f.oversized_next -= 1;
            f.oversized_bytes
        });
        (latency, fail, drop, redirect, oversized)
    };
    if let Some(to) = redirect {
        return Some(
            Response::builder()
                .status(302)
                .header("location", to)
                .body(Body::empty())
                .expect("static response"),
        );
    }
    if let Some(bytes) = oversized {
        return Some(
            Response::builder()
                .status(200)
                .header("content-type", "application/json")
                .body(Body::from_stream(Spaces(bytes.div_ceil(8192))))
                .expect("static response"),
        );
    }
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    if drop {
        // Headers go out, then the body stream fails: the client sees a broken connection.
        return Some(
            Response::builder()
                .status(200)
                .header("content-length", "1000")
                .body(broken_body())
                .expect("static response"),
        );
    }
    fail.map(|status| {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        jira_error(status, "Injected fault")
    })
}

/// A response body that fails at once: the client sees the connection break mid-response.
fn broken_body() -> Body {
    Body::from_stream(FailOnce(true))
}

/// `n` chunks of 8 KiB of spaces (valid JSON whitespace), with no length announced.
struct Spaces(usize);

impl futures_core::Stream for Spaces {
    type Item = Result<axum::body::Bytes, std::io::Error>;
    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        if self.0 == 0 {
            return std::task::Poll::Ready(None);
        }
        self.0 -= 1;
        std::task::Poll::Ready(Some(Ok(axum::body::Bytes::from_static(&[b' '; 8192]))))
    }
}

struct FailOnce(bool);

impl futures_core::Stream for FailOnce {
    type Item = Result<axum::body::Bytes, std::io::Error>;
    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        if std::mem::take(&mut self.0) {
            std::task::Poll::Ready(Some(Err(std::io::Error::other(
                "connection dropped by the double",
            ))))
        } else {
            std::task::Poll::Ready(None)
        }
    }
}

fn issue_in_path(path: &str) -> Option<&str> {
    let mut parts = path.split('/');
    while let Some(p) = parts.next() {
        if p == "issue" {
            return parts.next().filter(|k| !k.is_empty() && *k != "createmeta");
        }
    }
    None
}

fn rate_limit(
    shared: &Shared,
    site: &str,
    auth: &AuthKind,
    method: &str,
    path: &str,
) -> Result<Option<crate::ratelimit::Quota>, Box<Response>> {
    let app = match auth {
        AuthKind::ConnectJwt { app_key } => app_key.clone(),
        AuthKind::OAuthBearer { client_id } => client_id.clone(),
        AuthKind::ForgeSystemToken { app_id } => app_id.clone(),
        AuthKind::ApiToken { email } => email.clone(),
        AuthKind::Pat { account_id } => account_id.clone(),
        AuthKind::None => String::new(),
    };
    let write_issue = (method != "GET").then(|| issue_in_path(path)).flatten();
    // Points quotas cover Forge, Connect and OAuth 2.0 apps, not API tokens or PATs.
    let app_pool = matches!(
        auth,
        AuthKind::ConnectJwt { .. }
            | AuthKind::OAuthBearer { .. }
            | AuthKind::ForgeSystemToken { .. }
    );
    let now = shared.clock.now();
    let mut world = shared.world.lock().unwrap();
    let limits = world.limits.get(site).cloned().unwrap_or_default();
    match world.limiter.check(
        &limits,
        site,
        &app,
        app_pool,
        &crate::ratelimit::endpoint(method, path),
        write_issue,
        now,
    ) {
        Ok(quota) => Ok(quota),
        Err(l) => {
            let mut headers = HeaderMap::new();
            let h = |v: String| HeaderValue::from_str(&v).expect("ascii header");
            headers.insert("Retry-After", h(l.retry_after_secs.to_string()));
            headers.insert("RateLimit-Reason", h(l.reason.to_owned()));
            headers.insert("X-RateLimit-Limit", h(l.limit.to_string()));
            headers.insert("X-RateLimit-Remaining", h("0".into()));
            headers.insert(
                "X-RateLimit-Reset",
                h(l.reset.format("%Y-%m-%dT%H:%MZ").to_string()),
            );
            headers.insert("X-RateLimit-NearLimit", h("true".into()));
            let body = json!({"errorMessages": ["Rate limit exceeded."], "errors": {}});
            Err(Box::new(
                (StatusCode::TOO_MANY_REQUESTS, headers, axum::Json(body)).into_response(),
            ))
        }
    }
}

/// What Jira tells an app about its points pool on every answer: the policy, what is left,
/// and a near-limit flag below 20 %.
fn add_quota_headers(resp: &mut Response, q: &crate::ratelimit::Quota) {
    let h = |v: String| HeaderValue::from_str(&v).expect("ascii header");
    let headers = resp.headers_mut();
    headers.insert(
        "RateLimit-Policy",
        h(format!("\"{}\";q={};w=3600", q.name, q.quota)),
    );
    headers.insert(
        "RateLimit",
        h(format!(
            "\"{}\";r={};t={}",
            q.name, q.remaining, q.reset_in_secs
        )),
    );
    if u64::from(q.remaining) * 5 < u64::from(q.quota) {
        headers.insert("X-RateLimit-NearLimit", h("true".into()));
    }
}

/// Verifies the caller with the double's own JWT/qsh code. Returns the auth kind and the
/// account the request acts as.
fn authenticate(
    shared: &Shared,
    site: &str,
    gateway: bool,
    method: &str,
    path: &str,
    query: &str,
    headers: &HeaderMap,
) -> Result<(AuthKind, String), String> {
    let header = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .ok_or("Client must be authenticated to access this resource.")?;
    let (scheme, cred) = header
        .split_once(' ')
        .ok_or("Malformed Authorization header")?;
    let now = shared.clock.now_secs();
    let world = shared.world.lock().unwrap();
    let s = world
        .sites
        .iter()
        .find(|s| s.name == site)
        .expect("site exists");
    match scheme.to_ascii_lowercase().as_str() {
        "jwt" => {
            if gateway {
                return Err("Connect JWTs are not accepted on api.atlassian.com".into());
            }
            let claims = jwt::unverified_claims(cred).ok_or("Malformed JWT")?;
            let iss = claims
                .get("iss")
                .and_then(Value::as_str)
                .ok_or("JWT has no iss")?;
            let inst = s
                .installation(iss)
                .ok_or_else(|| format!("No installed app with key `{iss}`"))?;
            let claims = jwt::verify_hs256(cred, &inst.shared_secret, 30, now)?;
            let presented = claims
                .get("qsh")
                .and_then(Value::as_str)
                .ok_or("JWT has no qsh")?;
            // Confluence's installed base URL includes /wiki: its context path is stripped too.
            let rel = path
                .strip_prefix("/wiki")
                .filter(|r| r.starts_with('/'))
                .unwrap_or(path);
            let expected = qsh::qsh(method, rel, query);
            if presented != expected {
                return Err(format!(
                    "JWT qsh mismatch (expected hash of `{}`)",
                    qsh::canonical_request(method, rel, query)
                ));
            }
            Ok((
                AuthKind::ConnectJwt {
                    app_key: iss.to_owned(),
                },
                inst.app_account_id.clone(),
            ))
        }
        "bearer" if gateway => {
            if let Some((client_id, account)) =
                world.oauth.access(cred, &s.cloud_id, shared.clock.now())
            {
                return Ok((AuthKind::OAuthBearer { client_id }, account));
            }
            if let Some((app_id, tok_site, expires)) = world.forge_tokens.get(cred)
                && *tok_site == s.name
                && *expires > shared.clock.now()
            {
                return Ok((
                    AuthKind::ForgeSystemToken {
                        app_id: app_id.clone(),
                    },
                    format!("app:{app_id}"),
                ));
            }
            Err("Unauthorized; scope does not match".into())
        }
        "bearer" => {
            if let Some(account) = s.pats.get(cred) {
                return Ok((
                    AuthKind::Pat {
                        account_id: account.clone(),
                    },
                    account.clone(),
                ));
            }
            Err(
                "Bearer tokens issued for api.atlassian.com are not accepted on the site URL"
                    .into(),
            )
        }
        "basic" => {
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(cred)
                .map_err(|_| "Malformed basic credentials")?;
            let decoded = String::from_utf8(decoded).map_err(|_| "Malformed basic credentials")?;
            let (email, token) = decoded
                .split_once(':')
                .ok_or("Malformed basic credentials")?;
            if s.api_tokens.iter().any(|(e, t)| e == email && t == token) {
                let account = s
                    .users
                    .iter()
                    .find(|u| u.email == email)
                    .map(|u| u.account_id.clone())
                    .unwrap_or_default();
                return Ok((
                    AuthKind::ApiToken {
                        email: email.to_owned(),
                    },
                    account,
                ));
            }
            Err(
                "Basic authentication with passwords is deprecated; the API token is not valid"
                    .into(),
            )
        }
        other => Err(format!("Unsupported authorization scheme `{other}`")),
    }
}
