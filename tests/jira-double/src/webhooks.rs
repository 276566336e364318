//! Webhook delivery like Jira Cloud's: every matching registration (Connect descriptor
//! webhooks, dynamic webhooks, admin webhooks) gets the event, signed for its kind, with an
//! identifier that is stable across retries. At-least-once: retries on 408/409/425/429/5xx
//! and timeouts; knobs add duplicates, hold deliveries back (to reorder them) and delay them.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use crate::Shared;
use crate::jql;
use crate::ops::Emitted;
use crate::qsh;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Signing {
    /// Connect app webhook: `Authorization: JWT`, HS256 with the install's shared secret.
    Connect {
        client_key: String,
        shared_secret: String,
        app_base_url: String,
    },
    /// Dynamic webhook of an OAuth 2.0 app: `Authorization: Bearer`, HS256 with the client secret.
    OAuth {
        client_id: String,
        client_secret: String,
    },
    /// Admin webhook: `X-Hub-Signature: sha256=…` when it has a secret.
    Hmac { secret: Option<String> },
    /// A Forge Remote invocation (trigger, lifecycle, scheduled trigger): a Forge Invocation
    /// Token for the endpoint module and a fresh app system token; 5 s to answer, any non-2xx
    /// retried up to 4 times with `retryContext` in the payload.
    Forge {
        app_id: String,
        installation_id: String,
        cloud_id: String,
        endpoint: String,
    },
}

/// Forge's limits for remote invocations of events and scheduled triggers.
pub const FORGE_TIMEOUT: Duration = Duration::from_secs(5);
pub const FORGE_MAX_RETRIES: u32 = 4;

#[derive(Debug, Clone)]
pub struct Attempt {
    /// 0 for the first attempt, then the retry number (the `X-Atlassian-Webhook-Retry` value).
    pub retry: u32,
    pub status: Option<u16>,
    pub error: Option<String>,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryState {
    Pending,
    Held,
    Delivered,
    Failed,
}

#[derive(Debug, Clone)]
pub struct Delivery {
    /// `X-Atlassian-Webhook-Identifier`: the same on every retry and duplicate.
    pub identifier: String,
    pub site: String,
    pub event: String,
    pub url: String,
    pub body: Value,
    pub signing: Signing,
    pub attempts: Vec<Attempt>,
    pub state: DeliveryState,
}

/// Test knobs for delivery behaviour.
#[derive(Debug, Clone)]
pub struct DeliveryKnobs {
    /// Extra copies of every delivery, sent after it succeeds (same identifier).
    pub duplicates: u32,
    /// Keep new deliveries back until `release_held` (used to reorder).
    pub hold: bool,
    /// Wait this long before each first attempt.
    pub delay: Duration,
    /// Wait between retries (Jira waits minutes; tests want milliseconds).
    pub retry_backoff: Duration,
    pub max_retries: u32,
    pub timeout: Duration,
}

impl Default for DeliveryKnobs {
    fn default() -> Self {
        Self {
            duplicates: 0,
            hold: false,
            delay: Duration::ZERO,
            retry_backoff: Duration::from_millis(100),
            max_retries: 5,
            timeout: Duration::from_secs(10),
        }
    }
}

#[derive(Default)]
pub struct Deliveries {
    pub records: Vec<Delivery>,
    pub held: Vec<usize>,
    pub knobs: DeliveryKnobs,
}

#[derive(Default)]
pub struct InFlight {
    pub count: AtomicUsize,
    pub notify: tokio::sync::Notify,
}

/// Statuses after which Jira retries.
pub fn retryable(status: u16) -> bool {
    matches!(status, 408 | 409 | 425 | 429) || (500..600).contains(&status)
}

fn substitute(url: &str, e: &Emitted, project_id: &str) -> String {
    url.replace("${issue.key}", &e.issue.key)
        .replace("${issue.id}", &e.issue.id)
        .replace("${project.key}", &e.issue.project_key)
        .replace("${project.id}", project_id)
}

/// Matches one site's events against its registrations and queues the deliveries.
pub(crate) fn dispatch(shared: &Arc<Shared>, site_name: &str, events: Vec<Emitted>) {
    let now = shared.clock.now();
    let mut new = Vec::new();
    {
        let world = shared.world.lock().unwrap();
        let Some(site) = world.sites.iter().find(|s| s.name == site_name) else {
            return;
        };
        for e in &events {
            let project_id = site
                .projects
                .get(&e.issue.project_key)
                .map(|p| p.id.clone())
                .unwrap_or_default();
            // Connect descriptor webhooks.
            for inst in site
                .installations
                .iter()
                .filter(|i| i.installed && i.enabled)
            {
                let hooks = inst
                    .descriptor
                    .pointer("/modules/webhooks")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                for hook in hooks {
                    if hook.get("event").and_then(Value::as_str) != Some(e.event) {
                        continue;
                    }
                    if let Some(filter) = hook
                        .get("filter")
                        .and_then(Value::as_str)
                        .filter(|f| !f.trim().is_empty())
                    {
                        match jql::parse(filter).and_then(|q| q.matches(site, &e.issue, now)) {
                            Ok(true) => {}
                            _ => continue,
                        }
                    }
                    let path = hook.get("url").and_then(Value::as_str).unwrap_or("/");
                    let url = format!(
                        "{}{}",
                        inst.app_base_url.trim_end_matches('/'),
                        substitute(path, e, &project_id)
                    );
                    let exclude = hook
                        .get("excludeBody")
                        .and_then(Value::as_bool)
                        .unwrap_or(false);
                    new.push(Delivery {
                        identifier: uuid::Uuid::new_v4().to_string(),
                        site: site.name.clone(),
                        event: e.event.to_owned(),
                        url,
                        body: if exclude {
                            Value::Null
                        } else {
                            e.payload.clone()
                        },
                        signing: Signing::Connect {
                            client_key: inst.client_key.clone(),
                            shared_secret: inst.shared_secret.clone(),
                            app_base_url: inst.app_base_url.clone(),
                        },
                        attempts: vec![],
                        state: DeliveryState::Pending,
                    });
                }
            }
            // Dynamic webhooks: one delivery per owner (one URL per app), listing matched ids.
            let mut by_owner: Vec<(String, String, Vec<u64>)> = Vec::new();
            for w in site
                .dynamic_webhooks
                .iter()
                .filter(|w| w.expires_at > now && w.events.iter().any(|ev| ev == e.event))
            {
                if !w.field_ids_filter.is_empty()
                    && e.event == "jira:issue_updated"
                    && !e
                        .changed_fields
                        .iter()
                        .any(|f| w.field_ids_filter.contains(f))
                {
                    continue;
                }
                if !matches!(
                    jql::parse(&w.jql_filter).and_then(|q| q.matches(site, &e.issue, now)),
                    Ok(true)
                ) {
                    continue;
                }
                match by_owner.iter_mut().find(|(o, _, _)| *o == w.owner) {
                    Some((_, _, ids)) => ids.push(w.id),
                    None => by_owner.push((w.owner.clone(), w.url.clone(), vec![w.id])),
                }
            }
            for (owner, url, ids) in by_owner {
                let signing = match world.oauth.client(&owner) {
                    Some(c) => Signing::OAuth {
                        client_id: owner.clone(),
                        client_secret: c.secret.clone(),
                    },
                    None => match site.installation(&owner) {
                        Some(inst) => Signing::Connect {
                            client_key: inst.client_key.clone(),
                            shared_secret: inst.shared_secret.clone(),
                            app_base_url: inst.app_base_url.clone(),
                        },
                        None => continue,
                    },
                };
                let mut body = e.payload.clone();
                body["matchedWebhookIds"] = json!(ids);
                new.push(Delivery {
                    identifier: uuid::Uuid::new_v4().to_string(),
                    site: site.name.clone(),
                    event: e.event.to_owned(),
                    url,
                    body,
                    signing,
                    attempts: vec![],
                    state: DeliveryState::Pending,
                });
            }
            // Native Forge apps whose triggers subscribe to the event.
            if let Some(name) = crate::forge::event_name(e.event) {
                for app in site.forge_installs.iter().filter(|a| a.installed) {
                    for (_, events, endpoint) in &app.manifest.triggers {
                        if !events.iter().any(|ev| ev == name) {
                            continue;
                        }
                        let body = json!({"payload": crate::forge::payload(name, &e.payload, &app.account_id())});
                        new.extend(crate::forge::invocation(
                            app,
                            &site.name,
                            &site.cloud_id,
                            endpoint,
                            name,
                            body,
                        ));
                    }
                }
            }
            for w in site
                .admin_webhooks
                .iter()
                .filter(|w| w.events.iter().any(|ev| ev == e.event))
            {
                new.push(Delivery {
                    identifier: uuid::Uuid::new_v4().to_string(),
                    site: site.name.clone(),
                    event: e.event.to_owned(),
                    url: w.url.clone(),
                    body: e.payload.clone(),
                    signing: Signing::Hmac {
                        secret: w.secret.clone(),
                    },
                    attempts: vec![],
                    state: DeliveryState::Pending,
                });
            }
        }
    }
    queue(shared, new);
}

/// Queues deliveries: sent at once, or held back while the `hold` knob is on.
pub(crate) fn queue(shared: &Arc<Shared>, new: Vec<Delivery>) {
    let mut deliveries = shared.deliveries.lock().unwrap();
    for mut d in new {
        let idx = deliveries.records.len();
        if deliveries.knobs.hold {
            d.state = DeliveryState::Held;
            deliveries.records.push(d);
            deliveries.held.push(idx);
        } else {
            deliveries.records.push(d);
            spawn_send(shared.clone(), idx, true);
        }
    }
}

pub(crate) fn spawn_send(shared: Arc<Shared>, idx: usize, first: bool) {
    shared.in_flight.count.fetch_add(1, Ordering::SeqCst);
    tokio::spawn(async move {
        send(&shared, idx, first).await;
        if shared.in_flight.count.fetch_sub(1, Ordering::SeqCst) == 1 {
            shared.in_flight.notify.notify_waiters();
        }
    });
}

async fn send(shared: &Arc<Shared>, idx: usize, first: bool) {
    let knobs = shared.deliveries.lock().unwrap().knobs.clone();
    if first && !knobs.delay.is_zero() {
        tokio::time::sleep(knobs.delay).await;
    }
    let forge = matches!(
        shared.deliveries.lock().unwrap().records[idx].signing,
        Signing::Forge { .. }
    );
    let (timeout, max_retries) = if forge {
        (FORGE_TIMEOUT, knobs.max_retries.min(FORGE_MAX_RETRIES))
    } else {
        (knobs.timeout, knobs.max_retries)
    };
    let mut retry = 0u32;
    loop {
        let outcome = attempt(shared, idx, retry, timeout).await;
        let done = match outcome {
            Ok(status) if (200..300).contains(&status) => {
                set_state(shared, idx, DeliveryState::Delivered);
                for copy in 1..=knobs.duplicates {
                    let _ = attempt(shared, idx, retry + copy, knobs.timeout).await;
                }
                true
            }
            // Forge retries every failed invocation; Jira's webhooks only some.
            Ok(status) if !forge && !retryable(status) => {
                set_state(shared, idx, DeliveryState::Failed);
                true
            }
            _ => false,
        };
        if done {
            return;
        }
        if retry >= max_retries {
            set_state(shared, idx, DeliveryState::Failed);
            return;
        }
        retry += 1;
        tokio::time::sleep(knobs.retry_backoff).await;
    }
}

fn set_state(shared: &Shared, idx: usize, state: DeliveryState) {
    shared.deliveries.lock().unwrap().records[idx].state = state;
}

async fn attempt(
    shared: &Arc<Shared>,
    idx: usize,
    retry: u32,
    timeout: Duration,
) -> Result<u16, String> {
    let d = shared.deliveries.lock().unwrap().records[idx].clone();
    let mut body_value = d.body.clone();
    if let (Signing::Forge { .. }, true) = (&d.signing, retry > 0) {
        // Why the last attempt failed, as Forge tells a retried invocation.
        let reason = match d.attempts.last() {
            Some(a) if a.error.as_deref() == Some("timeout") => "TIMEOUT_ERROR",
            _ => "INVALID_REMOTE_INVOCATION_ERROR",
        };
        if let Some(p) = body_value.get_mut("payload").and_then(Value::as_object_mut) {
            p.insert(
                "retryContext".into(),
                json!({"retryCount": retry, "retryReason": reason, "retryData": null}),
            );
        }
    }
    let body = if body_value.is_null() {
        Vec::new()
    } else {
        serde_json::to_vec(&body_value).expect("json")
    };
    let mut req = shared
        .http
        .post(&d.url)
        .timeout(timeout)
        .header("Content-Type", "application/json");
    if !matches!(d.signing, Signing::Forge { .. }) {
        req = req
            .header("User-Agent", "Atlassian Webhook HTTP Client")
            .header("X-Atlassian-Webhook-Identifier", &d.identifier)
            .header("X-Atlassian-Webhook-Flow", "Primary");
        if retry > 0 {
            req = req.header("X-Atlassian-Webhook-Retry", retry.to_string());
        }
    }
    let now = shared.clock.now_secs();
    req = match &d.signing {
        Signing::Forge {
            app_id,
            installation_id,
            cloud_id,
            endpoint,
        } => {
            let api_base = format!("{}/api/ex/jira/{cloud_id}", shared.base);
            let fit = crate::forge::sign_fit(&crate::forge::fit_claims(
                app_id,
                installation_id,
                cloud_id,
                &api_base,
                endpoint,
                crate::forge::signing_time(),
            ));
            let token = crate::forge::mint_system_token(shared, app_id, &d.site);
            req.header("Authorization", format!("Bearer {fit}"))
                .header("x-b3-traceid", hex::encode(uuid::Uuid::new_v4().as_bytes()))
                .header(
                    "x-b3-spanid",
                    &hex::encode(uuid::Uuid::new_v4().as_bytes())[..16],
                )
                .header("x-forge-oauth-system", token)
        }
        Signing::Connect {
            client_key,
            shared_secret,
            app_base_url,
        } => {
            let token =
                connect_jwt_for_app(client_key, shared_secret, app_base_url, "POST", &d.url, now);
            req.header("Authorization", format!("JWT {token}"))
        }
        Signing::OAuth {
            client_id,
            client_secret,
        } => {
            let claims = json!({"iss": format!("{}/s/{}", shared.base, d.site), "aud": client_id, "iat": now, "exp": now + 180});
            let token = crate::jwt::hs256(&claims, client_secret);
            req.header("Authorization", format!("Bearer {token}"))
        }
        Signing::Hmac {
            secret: Some(secret),
        } => req.header("X-Hub-Signature", hub_signature(secret, &body)),
        Signing::Hmac { secret: None } => req,
    };
    let result = req.body(body).send().await;
    let (status, error) = match &result {
        Ok(r) => (Some(r.status().as_u16()), None),
        Err(e) => (
            None,
            Some(if e.is_timeout() {
                "timeout".to_owned()
            } else {
                e.to_string()
            }),
        ),
    };
    shared.deliveries.lock().unwrap().records[idx]
        .attempts
        .push(Attempt {
            retry,
            status,
            error: error.clone(),
            at: shared.clock.now(),
        });
    status.ok_or_else(|| error.unwrap_or_default())
}

/// A Connect JWT for a request to an app: iss = clientKey, qsh over the path relative to the
/// app's base URL path.
pub fn connect_jwt_for_app(
    client_key: &str,
    secret: &str,
    app_base_url: &str,
    method: &str,
    url: &str,
    now: i64,
) -> String {
    connect_jwt_as(
        client_key,
        secret,
        app_base_url,
        method,
        url,
        None,
        now,
        180,
    )
}

/// A Connect JWT for a request to the app, optionally acting as a user (`sub`), as Jira signs
/// the iframe URLs of an app's pages; `ttl` seconds (negative: already expired).
#[allow(clippy::too_many_arguments)]
pub fn connect_jwt_as(
    client_key: &str,
    secret: &str,
    app_base_url: &str,
    method: &str,
    url: &str,
    account: Option<&str>,
    now: i64,
    ttl: i64,
) -> String {
    let parsed = url::Url::parse(url).expect("absolute URL");
    let base_path = url::Url::parse(app_base_url)
        .map(|u| u.path().trim_end_matches('/').to_owned())
        .unwrap_or_default();
    let rel = parsed
        .path()
        .strip_prefix(&base_path)
        .unwrap_or(parsed.path());
    let mut claims = json!({
        "iss": client_key,
        "iat": now,
        "exp": now + ttl,
        "qsh": qsh::qsh(method, rel, parsed.query().unwrap_or("")),
    });
    if let Some(a) = account {
        claims["sub"] = json!(a);
        claims["context"] = json!({});
    }
    crate::jwt::hs256(&claims, secret)
}

/// What `AP.context.getToken()` hands an app's page: HS256 with the installation's shared
/// secret, `qsh: context-qsh`, the user in `sub`; `ttl` seconds (negative: already expired).
pub fn context_token(client_key: &str, secret: &str, account: &str, now: i64, ttl: i64) -> String {
    crate::jwt::hs256(
        &json!({"iss": client_key, "sub": account, "qsh": "context-qsh", "iat": now, "exp": now + ttl,
                "context": {"license": {"active": false}}}),
        secret,
    )
}

/// An admin webhook's `X-Hub-Signature` value for `body` (`sha256=<hex HMAC>`).
pub fn hub_signature(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}
