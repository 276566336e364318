//! An OAuth 2.0 (3LO) authorization server like auth.atlassian.com: authorize with
//! auto-consent, code exchange, rotating refresh tokens (an old token reused after the
//! leeway revokes the whole family), and `accessible-resources` on the API host.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Duration, Utc};
use rand::RngCore;
use serde_json::{Value, json};

use crate::Shared;

pub const ACCESS_TOKEN_SECS: i64 = 3600;
/// How long a rotated-out refresh token still works (Atlassian: 10 minutes).
pub const REUSE_LEEWAY_SECS: i64 = 600;

#[derive(Debug, Clone)]
pub struct Client {
    pub id: String,
    pub secret: String,
    pub redirect_uris: Vec<String>,
}

#[derive(Debug, Clone)]
struct Grant {
    client_id: String,
    account_id: String,
    cloud_ids: Vec<String>,
    scope: String,
}

#[derive(Debug, Clone)]
struct RefreshToken {
    family: u64,
    rotated_at: Option<DateTime<Utc>>,
}

#[derive(Default)]
pub struct AuthServer {
    clients: HashMap<String, Client>,
    codes: HashMap<String, (Grant, String, Option<String>)>,
    families: HashMap<u64, (Grant, bool)>,
    refresh: HashMap<String, RefreshToken>,
    access: HashMap<String, (u64, DateTime<Utc>)>,
    next_family: u64,
    /// Sites (by cloud id) a consenting user grants; all sites when empty.
    pub consent_sites: Vec<String>,
    /// The user declines consent.
    pub deny_consent: bool,
    pub token_requests: Vec<String>,
}

pub fn random_token(prefix: &str) -> String {
    let mut b = [0u8; 24];
    rand::rng().fill_bytes(&mut b);
    format!("{prefix}{}", hex::encode(b))
}

impl AuthServer {
    pub fn register(&mut self, c: Client) {
        self.clients.insert(c.id.clone(), c);
    }

    pub fn client(&self, id: &str) -> Option<&Client> {
        self.clients.get(id)
    }

    /// The client and account an access token acts for, if it is valid for this cloud id.
    pub fn access(
        &self,
        token: &str,
        cloud_id: &str,
        now: DateTime<Utc>,
    ) -> Option<(String, String)> {
        let (family, expires) = self.access.get(token)?;
        if *expires <= now {
            return None;
        }
        let (grant, revoked) = self.families.get(family)?;
        if *revoked || !grant.cloud_ids.iter().any(|c| c == cloud_id) {
            return None;
        }
        Some((grant.client_id.clone(), grant.account_id.clone()))
    }

    /// The scope of a live access token (any site).
    pub fn live_scope(&self, token: &str, now: DateTime<Utc>) -> Option<String> {
        let (family, expires) = self.access.get(token)?;
        let (grant, revoked) = self.families.get(family)?;
        (*expires > now && !*revoked).then(|| grant.scope.clone())
    }

    /// Whether the family of this refresh token was revoked (re-consent needed).
    pub fn family_revoked(&self, refresh_token: &str) -> Option<bool> {
        let rt = self.refresh.get(refresh_token)?;
        self.families.get(&rt.family).map(|(_, revoked)| *revoked)
    }

    fn issue(&mut self, family: u64, now: DateTime<Utc>) -> Value {
        let access = random_token("at-");
        let refresh = random_token("rt-");
        self.access.insert(
            access.clone(),
            (family, now + Duration::seconds(ACCESS_TOKEN_SECS)),
        );
        self.refresh.insert(
            refresh.clone(),
            RefreshToken {
                family,
                rotated_at: None,
            },
        );
        let scope = self.families[&family].0.scope.clone();
        json!({"access_token": access, "refresh_token": refresh, "expires_in": ACCESS_TOKEN_SECS, "scope": scope, "token_type": "Bearer"})
    }
}

pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/auth/authorize", get(authorize))
        .route("/auth/oauth/token", post(token))
        .route(
            "/api/oauth/token/accessible-resources",
            get(accessible_resources),
        )
        .route("/api/app/report-accounts/", post(report_accounts))
}

/// The personal data reporting API for OAuth 2.0 (3LO) apps: per app, not per site, and only
/// with an access token granted `report:personal-data`. Accounts are Atlassian's, so a closed
/// one is closed whichever site closed it here.
async fn report_accounts(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let token = bearer(&headers);
    let now = shared.clock.now();
    let listed = match crate::api::report_request(&body) {
        Ok(l) => l,
        Err(r) => return r,
    };
    let mut world = shared.world.lock().unwrap();
    let Some(scope) = world.oauth.live_scope(token, now) else {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"code": 401, "message": "Unauthorized"})),
        )
            .into_response();
    };
    if !scope.split(' ').any(|s| s == "report:personal-data") {
        return (
            StatusCode::FORBIDDEN,
            Json(json!({"code": 403, "message": "scope does not match"})),
        )
            .into_response();
    }
    world
        .app_account_reports
        .push(listed.iter().map(|(id, _)| id.clone()).collect());
    let closed = world
        .sites
        .iter()
        .flat_map(|s| s.closed_accounts.iter().cloned())
        .collect();
    let changes = world
        .sites
        .iter()
        .flat_map(|s| s.profile_changes.iter().map(|(k, v)| (k.clone(), *v)))
        .collect();
    crate::api::report_answer(&listed, &closed, &changes)
}

/// The access token of an `Authorization: Bearer …` header ("" without one).
fn bearer(headers: &HeaderMap) -> &str {
    headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default()
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    (
        status,
        Json(json!({"error": error, "error_description": description})),
    )
        .into_response()
}

async fn authorize(
    State(shared): State<Arc<Shared>>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let mut world = shared.world.lock().unwrap();
    let client_id = q.get("client_id").cloned().unwrap_or_default();
    let Some(client) = world.oauth.clients.get(&client_id).cloned() else {
        return (StatusCode::BAD_REQUEST, "unknown client_id").into_response();
    };
    let redirect = q.get("redirect_uri").cloned().unwrap_or_default();
    if !client.redirect_uris.contains(&redirect) {
        return (
            StatusCode::BAD_REQUEST,
            "redirect_uri is not registered for this app",
        )
            .into_response();
    }
    if q.get("response_type").map(String::as_str) != Some("code")
        || q.get("audience").map(String::as_str) != Some("api.atlassian.com")
    {
        return (
            StatusCode::BAD_REQUEST,
            "response_type=code and audience=api.atlassian.com are required",
        )
            .into_response();
    }
    let state = q.get("state").cloned().unwrap_or_default();
    let sep = if redirect.contains('?') { '&' } else { '?' };
    if world.oauth.deny_consent {
        return Redirect::to(&format!("{redirect}{sep}error=access_denied&state={state}"))
            .into_response();
    }
    let cloud_ids: Vec<String> = if world.oauth.consent_sites.is_empty() {
        world.sites.iter().map(|s| s.cloud_id.clone()).collect()
    } else {
        world.oauth.consent_sites.clone()
    };
    let account_id = world
        .sites
        .first()
        .and_then(|s| s.users.first())
        .map(|u| u.account_id.clone())
        .unwrap_or_default();
    let grant = Grant {
        client_id,
        account_id,
        cloud_ids,
        scope: q.get("scope").cloned().unwrap_or_default(),
    };
    let code = random_token("code-");
    let challenge = q.get("code_challenge").cloned();
    world
        .oauth
        .codes
        .insert(code.clone(), (grant, redirect.clone(), challenge));
    let state = url::form_urlencoded::byte_serialize(state.as_bytes()).collect::<String>();
    Redirect::to(&format!("{redirect}{sep}code={code}&state={state}")).into_response()
}

async fn token(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let form = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"));
    let params: HashMap<String, String> = if form {
        url::form_urlencoded::parse(&body).into_owned().collect()
    } else {
        match serde_json::from_slice::<HashMap<String, Value>>(&body) {
            Ok(m) => m
                .into_iter()
                .filter_map(|(k, v)| v.as_str().map(|s| (k, s.to_owned())))
                .collect(),
            Err(_) => {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "body must be JSON or form-encoded",
                );
            }
        }
    };
    let now = shared.clock.now();
    let mut world = shared.world.lock().unwrap();
    let grant_type = params.get("grant_type").cloned().unwrap_or_default();
    world.oauth.token_requests.push(grant_type.clone());
    let client_id = params.get("client_id").cloned().unwrap_or_default();
    let secret_ok = world
        .oauth
        .clients
        .get(&client_id)
        .is_some_and(|c| Some(&c.secret) == params.get("client_secret"));
    if !secret_ok {
        // Atlassian answers a bad client secret with the same code as a declined consent.
        return oauth_error(StatusCode::UNAUTHORIZED, "access_denied", "Unauthorized");
    }
    let oauth = &mut world.oauth;
    match grant_type.as_str() {
        "authorization_code" => {
            let code = params.get("code").cloned().unwrap_or_default();
            let Some((grant, redirect, challenge)) = oauth.codes.remove(&code) else {
                return oauth_error(
                    StatusCode::FORBIDDEN,
                    "invalid_grant",
                    "Invalid authorization code",
                );
            };
            if grant.client_id != client_id || params.get("redirect_uri") != Some(&redirect) {
                return oauth_error(
                    StatusCode::FORBIDDEN,
                    "invalid_grant",
                    "redirect_uri or client does not match the authorization",
                );
            }
            if let Some(challenge) = challenge {
                use base64::Engine as _;
                use sha2::Digest;
                let verifier = params.get("code_verifier").cloned().unwrap_or_default();
                let computed = base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .encode(sha2::Sha256::digest(verifier.as_bytes()));
                if computed != challenge {
                    return oauth_error(
                        StatusCode::FORBIDDEN,
                        "invalid_grant",
                        "PKCE verification failed",
                    );
                }
            }
            let family = oauth.next_family;
            oauth.next_family += 1;
            oauth.families.insert(family, (grant, false));
            Json(oauth.issue(family, now)).into_response()
        }
        "refresh_token" => {
            let presented = params.get("refresh_token").cloned().unwrap_or_default();
            let Some(rt) = oauth.refresh.get(&presented).cloned() else {
                return oauth_error(
                    StatusCode::FORBIDDEN,
                    "unauthorized_client",
                    "refresh_token is invalid",
                );
            };
            let (grant, revoked) = oauth.families[&rt.family].clone();
            if revoked || grant.client_id != client_id {
                return oauth_error(
                    StatusCode::FORBIDDEN,
                    "invalid_grant",
                    "Unknown or invalid refresh token.",
                );
            }
            if let Some(rotated) = rt.rotated_at
                && now - rotated > Duration::seconds(REUSE_LEEWAY_SECS)
            {
                // Reuse outside the leeway: the token may be stolen; kill the whole family.
                oauth.families.insert(rt.family, (grant, true));
                return oauth_error(
                    StatusCode::FORBIDDEN,
                    "unauthorized_client",
                    "refresh_token is invalid",
                );
            }
            if let Some(r) = oauth.refresh.get_mut(&presented)
                && r.rotated_at.is_none()
            {
                r.rotated_at = Some(now);
            }
            Json(oauth.issue(rt.family, now)).into_response()
        }
        other => oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            &format!("grant_type `{other}` is not supported"),
        ),
    }
}

async fn accessible_resources(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    let token = bearer(&headers);
    let now = shared.clock.now();
    let world = shared.world.lock().unwrap();
    let sites: Vec<Value> = world
        .sites
        .iter()
        .filter(|s| world.oauth.access(token, &s.cloud_id, now).is_some())
        .map(|s| {
            let scope = world.oauth.access.get(token).and_then(|(f, _)| world.oauth.families.get(f)).map(|(g, _)| g.scope.clone()).unwrap_or_default();
            json!({"id": s.cloud_id, "url": format!("{}/s/{}", shared.base, s.name), "name": s.name,
                   "scopes": scope.split(' ').filter(|x| !x.is_empty()).collect::<Vec<_>>(), "avatarUrl": format!("{}/avatar/site", shared.base)})
        })
        .collect();
    if sites.is_empty() {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"code": 401, "message": "Unauthorized"})),
        )
            .into_response();
    }
    Json(sites).into_response()
}
