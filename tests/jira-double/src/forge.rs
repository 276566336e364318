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

/// When Forge signs an invocation token: the wall clock, as the remote checks it against its
/// own. (The double's [`crate::Clock`] moves Jira's data and token lifetimes, which the remote
/// only sees through Jira's answers.)
pub fn signing_time() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
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

/// How long an app system token works on the gateway (Forge: "at least 55 minutes").
pub const SYSTEM_TOKEN_LIFETIME_MINUTES: i64 = 55;

/// A new app system token for `app_id` on `site`, valid on the gateway for
/// [`SYSTEM_TOKEN_LIFETIME_MINUTES`] of the double's clock.
pub(crate) fn mint_system_token(shared: &Shared, app_id: &str, site: &str) -> String {
    let token = crate::oauth::random_token("forge-sys-");
    shared.world.lock().unwrap().forge_tokens.insert(
        token.clone(),
        (
            app_id.to_owned(),
            site.to_owned(),
            shared.clock.now() + chrono::Duration::minutes(SYSTEM_TOKEN_LIFETIME_MINUTES),
        ),
    );
    token
}

/// What the double reads from a Forge app's `manifest.yml` to run it as Forge would: which
/// events and schedules reach which remote endpoint (path), and the scopes the app holds.
#[derive(Debug, Clone, Default)]
pub struct Manifest {
    /// (trigger key, events, endpoint key).
    pub triggers: Vec<(String, Vec<String>, String)>,
    /// (scheduled trigger key, endpoint key, interval).
    pub scheduled: Vec<(String, String, String)>,
    /// Endpoint key → route path on the remote (`/` when the endpoint has no route).
    pub endpoints: Vec<(String, String)>,
    pub scopes: Vec<String>,
}

impl Manifest {
    /// Reads the parts of a manifest the double runs. The manifest itself is validated by
    /// Atlassian's `@forge/manifest` in the browser tests.
    pub fn parse(yaml: &str) -> Result<Manifest, String> {
        let v: Value = serde_yaml_ng::from_str(yaml).map_err(|e| format!("manifest: {e}"))?;
        let list = |path: &str| -> Vec<Value> {
            v.pointer(path)
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default()
        };
        let s = |m: &Value, k: &str| m.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
        let mut m = Manifest::default();
        for t in list("/modules/trigger") {
            let events = t
                .get("events")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|e| e.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default();
            m.triggers.push((s(&t, "key"), events, s(&t, "endpoint")));
        }
        for t in list("/modules/scheduledTrigger") {
            m.scheduled
                .push((s(&t, "key"), s(&t, "endpoint"), s(&t, "interval")));
        }
        for e in list("/modules/endpoint") {
            let path = e
                .pointer("/route/path")
                .and_then(Value::as_str)
                .unwrap_or("/")
                .to_owned();
            m.endpoints.push((s(&e, "key"), path));
        }
        m.scopes = list("/permissions/scopes")
            .iter()
            .filter_map(|x| x.as_str().map(str::to_owned))
            .collect();
        Ok(m)
    }

    pub fn path_of(&self, endpoint: &str) -> Option<&str> {
        self.endpoints
            .iter()
            .find(|(k, _)| k == endpoint)
            .map(|(_, p)| p.as_str())
    }
}

/// The Forge event a Jira webhook event is (Forge has one event for a comment created or
/// edited).
pub fn event_name(webhook_event: &str) -> Option<&'static str> {
    Some(match webhook_event {
        "jira:issue_created" => "avi:jira:created:issue",
        "jira:issue_updated" => "avi:jira:updated:issue",
        "jira:issue_deleted" => "avi:jira:deleted:issue",
        "comment_created" | "comment_updated" => "avi:jira:commented:issue",
        "comment_deleted" => "avi:jira:deleted:comment",
        _ => return None,
    })
}

/// The Forge payload of an event, built from the webhook payload of the same change: a light
/// issue (no resolution, no labels), the changelog, the acting account as `atlassianId`, the
/// comment body as ADF, and `selfGenerated` when the app itself made the change.
pub fn payload(name: &str, hook: &Value, app_account: &str) -> Value {
    let mut issue = json!({
        "id": hook.pointer("/issue/id").cloned().unwrap_or(Value::Null),
        "key": hook.pointer("/issue/key").cloned().unwrap_or(Value::Null),
    });
    let mut fields = serde_json::Map::new();
    for f in [
        "summary",
        "issuetype",
        "project",
        "status",
        "creator",
        "reporter",
        "assignee",
        "created",
        "updated",
    ] {
        if let Some(x) = hook.pointer(&format!("/issue/fields/{f}")) {
            fields.insert(f.to_owned(), x.clone());
        }
    }
    issue["fields"] = Value::Object(fields);
    let actor = hook
        .pointer("/user/accountId")
        .or_else(|| hook.pointer("/comment/author/accountId"))
        .cloned()
        .unwrap_or(Value::Null);
    let mut p = json!({
        "eventType": name,
        "atlassianId": actor,
        "selfGenerated": actor.as_str() == Some(app_account),
        "issue": issue,
        "associatedUsers": [{"accountId": actor}],
    });
    if let Some(c) = hook.get("changelog") {
        p["changelog"] = c.clone();
        if let Some(s) = c
            .get("items")
            .and_then(Value::as_array)
            .and_then(|items| items.iter().find(|i| i["fieldId"] == "status"))
        {
            p["associatedStatuses"] = json!([
                {"id": s["from"], "name": s["fromString"]},
                {"id": s["to"], "name": s["toString"]},
            ]);
        }
        p["jiraEventTypeName"] = hook
            .get("issue_event_type_name")
            .cloned()
            .unwrap_or(Value::Null);
    }
    if let Some(c) = hook.get("comment") {
        let text = c.get("body").and_then(Value::as_str).unwrap_or("");
        p["comment"] = json!({
            "id": c["id"],
            "author": {"accountId": c.pointer("/author/accountId")},
            "updateAuthor": {"accountId": c.pointer("/updateAuthor/accountId").or(c.pointer("/author/accountId"))},
            "body": crate::adf::from_text(text),
            "created": c["created"],
            "updated": c["updated"],
        });
    }
    p
}

/// A remote invocation of `app`'s `endpoint` (its route on the app's remote) with `body`, as
/// Forge sends triggers, lifecycle events and scheduled triggers; `None` when the manifest has
/// no such endpoint.
pub(crate) fn invocation(
    app: &crate::model::ForgeInstall,
    site: &str,
    cloud_id: &str,
    endpoint: &str,
    event: &str,
    body: Value,
) -> Option<crate::webhooks::Delivery> {
    let path = app.manifest.path_of(endpoint)?;
    Some(crate::webhooks::Delivery {
        identifier: uuid::Uuid::new_v4().to_string(),
        site: site.to_owned(),
        event: event.to_owned(),
        url: format!("{}{path}", app.remote_base_url.trim_end_matches('/')),
        body,
        signing: crate::webhooks::Signing::Forge {
            app_id: app.app_id.clone(),
            installation_id: app.installation_id.clone(),
            cloud_id: cloud_id.to_owned(),
            endpoint: endpoint.to_owned(),
        },
        attempts: vec![],
        state: crate::webhooks::DeliveryState::Pending,
    })
}
