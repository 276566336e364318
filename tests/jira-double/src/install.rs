//! Installing a Connect app like Jira does: fetch the descriptor, POST `installed` with an
//! RS256 JWT whose key is published at the install-keys URL (by `kid`), later `uninstalled`
//! (RS256) and `enabled`/`disabled` (HS256 with the shared secret).

use std::sync::Arc;

use axum::Router;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};

use crate::model::Installation;
use crate::{Shared, jwt, qsh};

pub const INSTALL_KID: &str = "verdict-double-install-1";
pub const INSTALL_PRIVATE_PEM: &str = include_str!("keys/install.key.pem");
pub const INSTALL_PUBLIC_PEM: &str = include_str!("keys/install.pub.pem");
/// A key nobody publishes: for forged-install tests.
pub const ATTACKER_PRIVATE_PEM: &str = include_str!("keys/attacker.key.pem");
pub const ATTACKER_PUBLIC_PEM: &str = include_str!("keys/attacker.pub.pem");

pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new().route("/install-keys/{kid}", get(install_key))
}

async fn install_key(Path(kid): Path<String>) -> Response {
    if kid == INSTALL_KID {
        (
            [("content-type", "application/x-pem-file")],
            INSTALL_PUBLIC_PEM,
        )
            .into_response()
    } else {
        (StatusCode::NOT_FOUND, "no such key").into_response()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    #[error("cannot fetch the descriptor: {0}")]
    Descriptor(String),
    #[error("the descriptor is invalid: {0}")]
    InvalidDescriptor(String),
    #[error("the app answered the {hook} lifecycle callback with {status}: {body}")]
    Refused {
        hook: String,
        status: u16,
        body: String,
    },
    #[error("lifecycle callback failed: {0}")]
    Transport(String),
    #[error("the app is not installed on this site")]
    NotInstalled,
}

/// The lifecycle claims Jira signs: iss = clientKey, aud = the app's base URL, qsh of the call.
pub fn lifecycle_claims(client_key: &str, app_base_url: &str, path: &str, now: i64) -> Value {
    let base_path = url::Url::parse(app_base_url)
        .map(|u| u.path().trim_end_matches('/').to_owned())
        .unwrap_or_default();
    let rel = path.strip_prefix(&base_path).unwrap_or(path);
    json!({
        "iss": client_key,
        "aud": [app_base_url.trim_end_matches('/')],
        "iat": now,
        "exp": now + 180,
        "qsh": qsh::qsh("POST", rel, ""),
    })
}

pub(crate) struct Prepared {
    pub installation: Installation,
    pub installed_url: String,
    pub body: Value,
}

pub(crate) async fn prepare(
    shared: &Shared,
    site: &str,
    descriptor_url: &str,
) -> Result<Prepared, InstallError> {
    let descriptor: Value = shared
        .http
        .get(descriptor_url)
        .send()
        .await
        .map_err(|e| InstallError::Descriptor(e.to_string()))?
        .error_for_status()
        .map_err(|e| InstallError::Descriptor(e.to_string()))?
        .json()
        .await
        .map_err(|e| InstallError::Descriptor(e.to_string()))?;
    let key = descriptor
        .get("key")
        .and_then(Value::as_str)
        .ok_or_else(|| InstallError::InvalidDescriptor("no key".into()))?
        .to_owned();
    let base = descriptor
        .get("baseUrl")
        .and_then(Value::as_str)
        .ok_or_else(|| InstallError::InvalidDescriptor("no baseUrl".into()))?
        .to_owned();
    let installed = descriptor
        .pointer("/lifecycle/installed")
        .and_then(Value::as_str)
        .ok_or_else(|| InstallError::InvalidDescriptor("no lifecycle.installed".into()))?;
    let installed_url = format!("{}{}", base.trim_end_matches('/'), installed);
    let (client_key, app_account_id, installation_id) = {
        let world = shared.world.lock().unwrap();
        let s = world.sites.iter().find(|s| s.name == site).expect("site");
        match s.installations.iter().find(|i| i.app_key == key) {
            // A reinstall keeps the client key and gets a new shared secret.
            Some(i) => (
                i.client_key.clone(),
                i.app_account_id.clone(),
                i.installation_id.clone(),
            ),
            None => (
                format!("jira:{}", uuid::Uuid::new_v4()),
                format!("557058:{}", uuid::Uuid::new_v4()),
                format!("ari:cloud:ecosystem::installation/{}", uuid::Uuid::new_v4()),
            ),
        }
    };
    let shared_secret = crate::oauth::random_token("");
    let site_url = format!("{}/s/{}", shared.base, site);
    let body = json!({
        "key": key,
        "clientKey": client_key,
        "sharedSecret": shared_secret,
        "baseUrl": site_url,
        "displayUrl": site_url,
        "productType": "jira",
        "description": format!("Atlassian Jira at {site_url}"),
        "eventType": "installed",
        "installationId": installation_id,
        "oauthClientId": format!("oauth-{}", uuid::Uuid::new_v4().simple()),
    });
    Ok(Prepared {
        installation: Installation {
            app_key: key,
            client_key,
            shared_secret,
            app_base_url: base,
            installation_id,
            app_account_id,
            descriptor,
            enabled: true,
            installed: true,
        },
        installed_url,
        body,
    })
}

/// POSTs a lifecycle body with an `Authorization` header, returning status and body.
pub async fn post_lifecycle(
    http: &reqwest::Client,
    url: &str,
    authorization: Option<String>,
    body: &Value,
) -> Result<(u16, String), InstallError> {
    let mut req = http.post(url).json(body);
    if let Some(a) = authorization {
        req = req.header("Authorization", a);
    }
    let resp = req
        .send()
        .await
        .map_err(|e| InstallError::Transport(e.to_string()))?;
    let status = resp.status().as_u16();
    Ok((status, resp.text().await.unwrap_or_default()))
}

pub fn rs256_lifecycle_token(claims: &Value) -> String {
    jwt::rs256(claims, INSTALL_PRIVATE_PEM, INSTALL_KID)
}
