//! Verdict's REST client for Jira and Confluence: every call authorized by the tenant's
//! `JiraAuth`, paced per site, retried when that is safe, with typed errors that keep Jira's
//! own error messages.

pub mod api;
pub mod budget;
pub mod limits;
pub mod outbound;
pub mod shared;

use std::sync::Arc;
use std::time::Duration;

use rand::Rng as _;
use serde_json::Value;
use url::Url;

use crate::atlassian::JiraAuth;
pub use limits::{Governor, RateLimitSignal};

#[derive(Debug, thiserror::Error)]
pub enum JiraError {
    #[error("Jira answered {status}: {message}")]
    Status { status: u16, message: String },
    #[error("Jira could not be reached: {0}")]
    Transport(String),
    /// No connection could be made: the request was never sent.
    #[error("cannot connect to Jira: {0}")]
    Unreachable(String),
    #[error("Jira answered with invalid JSON: {0}")]
    Body(String),
    #[error("invalid request URL: {0}")]
    Url(String),
    /// Refused by Verdict's outbound policy (address, scheme, redirect, answer size).
    #[error("refused by Verdict's outbound policy: {0}")]
    Refused(String),
    /// Rate limited for longer than a call may wait; retry after `wait`.
    #[error("rate limited by Jira for {wait:?}: {reason}")]
    RateLimited { wait: Duration, reason: String },
}

impl JiraError {
    /// Whether a later attempt may succeed (the request was not refused for what it is).
    pub fn is_transient(&self) -> bool {
        match self {
            JiraError::Status { status, .. } => {
                matches!(status, 408 | 409 | 425 | 429) || *status >= 500
            }
            JiraError::Transport(_) | JiraError::Unreachable(_) | JiraError::RateLimited { .. } => {
                true
            }
            JiraError::Body(_) | JiraError::Url(_) | JiraError::Refused(_) => false,
        }
    }

    /// The outcome of the request is unknown: it may have been applied.
    pub fn is_ambiguous(&self) -> bool {
        match self {
            JiraError::Status { status, .. } => *status >= 500 || *status == 408,
            JiraError::Transport(_) | JiraError::Body(_) => true,
            _ => false,
        }
    }

    pub fn status(&self) -> Option<u16> {
        match self {
            JiraError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// Default time a single Jira call may take.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// Rate-limited answers retried inside one call (each waits as Jira says).
const RATE_LIMIT_RETRIES: u32 = 12;
/// 5xx/transport failures retried inside one call, for requests safe to repeat.
const TRANSIENT_RETRIES: u32 = 3;

#[derive(Clone)]
pub struct JiraClient {
    http: reqwest::Client,
    governor: Arc<Governor>,
    policy: Arc<outbound::OutboundPolicy>,
    budget: Arc<budget::Budget>,
    /// When each issue may next be written (per site and issue).
    issue_writes: Arc<std::sync::Mutex<std::collections::HashMap<String, tokio::time::Instant>>>,
    /// Create screens read recently (site, project, issue type): every ticket needs one.
    create_screens: Arc<crate::cache::TtlCache<Arc<api::CreateScreen>>>,
}

/// How long a project's create screen is trusted before it is read again.
pub const CREATE_SCREEN_TTL: Duration = Duration::from_secs(600);

/// Least time between two writes to one issue: Jira allows 20 per 2 s and 100 per 30 s.
pub const ISSUE_WRITE_SPACING: Duration = Duration::from_millis(300);

/// Longest a connection to a site may take to open.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

impl Default for JiraClient {
    fn default() -> Self {
        Self::new(DEFAULT_TIMEOUT)
    }
}

impl JiraClient {
    pub fn new(timeout: Duration) -> Self {
        Self::with_governor(timeout, Arc::new(Governor::new(8, 200)))
    }

    pub fn with_governor(timeout: Duration, governor: Arc<Governor>) -> Self {
        Self::with_policy(timeout, governor, outbound::OutboundPolicy::default())
    }

    /// The client the configuration describes: its pacing and its outbound policy.
    pub fn for_config(config: &crate::config::Config) -> Self {
        let mut client = Self::with_policy(
            DEFAULT_TIMEOUT,
            Arc::new(Governor::new(
                config.jira_max_concurrent,
                config.jira_rate_per_second,
            )),
            outbound::OutboundPolicy::from_config(config),
        );
        client.budget = Arc::new(budget::Budget::new(budget::BudgetConfig::from_config(
            config,
        )));
        client
    }

    /// The hour's points budget (see [`budget`]).
    pub fn budget(&self) -> &budget::Budget {
        &self.budget
    }

    /// A client whose every call obeys `policy` (see [`outbound`]).
    pub fn with_policy(
        timeout: Duration,
        governor: Arc<Governor>,
        policy: outbound::OutboundPolicy,
    ) -> Self {
        let policy = Arc::new(policy);
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(CONNECT_TIMEOUT.min(timeout))
            .redirect(policy.redirect_policy())
            .dns_resolver(Arc::new(outbound::PolicyResolver(policy.clone())))
            .user_agent(concat!("verdict/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("HTTP client");
        Self {
            http,
            governor,
            policy,
            budget: Arc::new(budget::Budget::new(budget::BudgetConfig::default())),
            issue_writes: Default::default(),
            create_screens: Arc::new(crate::cache::TtlCache::new(CREATE_SCREEN_TTL, 1024)),
        }
    }

    /// Waits until `path` (a write to one issue) may be sent: writes to one issue are spaced.
    async fn pace_issue_write(&self, site: &str, method: &reqwest::Method, path: &str) {
        if *method == reqwest::Method::GET {
            return;
        }
        let Some(issue) = issue_in_path(path) else {
            return;
        };
        let start = {
            let mut writes = self.issue_writes.lock().unwrap_or_else(|e| e.into_inner());
            let now = tokio::time::Instant::now();
            if writes.len() > 10_000 {
                writes.retain(|_, t| *t > now);
            }
            let slot = writes.entry(format!("{site} {issue}")).or_insert(now);
            let start = (*slot).max(now);
            *slot = start + ISSUE_WRITE_SPACING;
            start
        };
        tokio::time::sleep_until(start).await;
    }

    pub fn governor(&self) -> &Arc<Governor> {
        &self.governor
    }

    /// Sends one request (`path_and_query` starts with `/`) and parses a JSON answer
    /// (`Value::Null` for 204). 429s are waited out as Jira asks (every method: a limited
    /// request was not applied); 5xx and broken connections are retried only for methods
    /// that are safe to repeat — a POST's caller must first check whether it landed.
    pub async fn send(
        &self,
        auth: &JiraAuth,
        method: reqwest::Method,
        path_and_query: &str,
        body: Option<&Value>,
    ) -> Result<Value, JiraError> {
        let url =
            Url::parse(&auth.url(path_and_query)).map_err(|e| JiraError::Url(e.to_string()))?;
        self.send_to(auth, method, url, body).await
    }

    /// [`JiraClient::send`] to an absolute URL outside the site's REST base (Atlassian's
    /// app-level APIs), paced and retried the same way.
    pub async fn send_to(
        &self,
        auth: &JiraAuth,
        method: reqwest::Method,
        url: Url,
        body: Option<&Value>,
    ) -> Result<Value, JiraError> {
        let site = format!("{}", auth.base_url());
        let repeatable = method != reqwest::Method::POST;
        let priority = budget::current_priority();
        let endpoint = limits::endpoint_key(method.as_str(), url.path());
        let mut limited = 0;
        let mut transient = 0;
        loop {
            self.budget
                .admit(&site, auth.in_app_pool(), priority, chrono::Utc::now())
                .map_err(|d| {
                    tracing::debug!(site, path = url.path(), priority = priority.as_str(), wait = ?d.wait, reason = %d.reason, "Jira call held back by the hour's budget");
                    JiraError::RateLimited {
                        wait: d.wait,
                        reason: d.reason,
                    }
                })?;
            self.pace_issue_write(&site, &method, url.path()).await;
            let slot = self.governor.acquire(&site, &endpoint).await.map_err(|p| {
                // Not sent: the point it was charged is not spent.
                self.budget
                    .refund(&site, auth.in_app_pool(), chrono::Utc::now());
                JiraError::RateLimited {
                    wait: p.wait,
                    reason: p.reason,
                }
            })?;
            let result = self.once(auth, &method, &url, body).await;
            drop(slot);
            match result {
                Ok((headers, value)) => {
                    self.governor.succeeded(&site, &endpoint, &headers);
                    self.budget.learn(&site, &headers, chrono::Utc::now());
                    return Ok(value);
                }
                Err(Failure::Limited(signal, err)) => {
                    limited += 1;
                    if signal.is_quota() {
                        self.budget
                            .spent(&site, signal.is_global(), chrono::Utc::now());
                    }
                    let wait = self.governor.limited(&site, &endpoint, &signal);
                    tracing::debug!(site, path = url.path(), ?wait, reason = ?signal.reason, "Jira rate limited the call");
                    if limited > RATE_LIMIT_RETRIES || wait > limits::MAX_INLINE_WAIT {
                        return Err(JiraError::RateLimited {
                            wait,
                            reason: signal.reason.clone().unwrap_or_else(|| err.to_string()),
                        });
                    }
                    tokio::time::sleep(wait).await;
                }
                Err(Failure::Other(err)) => {
                    let retry = repeatable
                        && err.is_transient()
                        && err.is_ambiguous()
                        && transient < TRANSIENT_RETRIES;
                    if !retry {
                        return Err(err);
                    }
                    transient += 1;
                    let backoff = Duration::from_millis(250 * 2u64.pow(transient))
                        .mul_f64(rand::rng().random_range(0.7..1.3));
                    tracing::debug!(site, path = url.path(), error = %err, ?backoff, "retrying a Jira call");
                    tokio::time::sleep(backoff).await;
                }
            }
        }
    }

    async fn once(
        &self,
        auth: &JiraAuth,
        method: &reqwest::Method,
        url: &Url,
        body: Option<&Value>,
    ) -> Result<(reqwest::header::HeaderMap, Value), Failure> {
        self.policy
            .check_url(url)
            .map_err(|r| Failure::Other(JiraError::Refused(r.0)))?;
        let now = chrono::Utc::now().timestamp();
        let mut req = self
            .http
            .request(method.clone(), url.clone())
            .header(
                "Authorization",
                auth.authorization(method.as_str(), url, now),
            )
            .header("Accept", "application/json");
        if let Some(b) = body {
            req = req.json(b);
        }
        let resp = req.send().await.map_err(|e| {
            if let Some(refusal) = outbound::refusal_in(&e) {
                return Failure::Other(JiraError::Refused(refusal));
            }
            // A refused connection is not retried inside the call: the host is down, and the
            // caller's own retry (inbox, outbox) waits longer than we should here.
            Failure::Other(if e.is_connect() {
                JiraError::Unreachable(e.to_string())
            } else {
                JiraError::Transport(e.to_string())
            })
        })?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        if resp.status().is_redirection() {
            let to = headers
                .get(reqwest::header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("nowhere");
            return Err(Failure::Other(JiraError::Refused(format!(
                "{} answered {status}, redirecting to {to}: Verdict follows redirects only within the same host (at most {}); set the site URL to where Jira really is",
                resp.url().origin().ascii_serialization(),
                outbound::MAX_REDIRECTS
            ))));
        }
        let raw = outbound::read_bounded(resp, self.policy.max_body())
            .await
            .map_err(|e| {
                Failure::Other(match e {
                    outbound::BodyError::TooLarge(max) => JiraError::Refused(format!(
                        "the answer is larger than {max} bytes (jira_max_response_bytes); it was not read"
                    )),
                    outbound::BodyError::Transport(t) => JiraError::Transport(t),
                })
            })?;
        let text = String::from_utf8_lossy(&raw);
        if !(200..300).contains(&status) {
            let err = JiraError::Status {
                status,
                message: error_message(&text),
            };
            // A 503 with Retry-After is Jira shedding load: wait like a 429.
            if status == 429 || (status == 503 && headers.contains_key("retry-after")) {
                return Err(Failure::Limited(
                    RateLimitSignal::from_headers(&headers, chrono::Utc::now()),
                    err,
                ));
            }
            return Err(Failure::Other(err));
        }
        if text.trim().is_empty() {
            return Ok((headers, Value::Null));
        }
        serde_json::from_str(&text)
            .map(|v| (headers, v))
            .map_err(|e| Failure::Other(JiraError::Body(e.to_string())))
    }

    pub async fn get(&self, auth: &JiraAuth, path_and_query: &str) -> Result<Value, JiraError> {
        self.send(auth, reqwest::Method::GET, path_and_query, None)
            .await
    }
}

/// The issue id or key a REST path writes to (`…/issue/{issue}/…`), if any.
fn issue_in_path(path: &str) -> Option<&str> {
    let mut parts = path.split('/');
    while let Some(p) = parts.next() {
        if p == "issue" {
            return parts
                .next()
                .filter(|k| !k.is_empty() && !matches!(*k, "bulk" | "createmeta" | "picker"));
        }
    }
    None
}

enum Failure {
    Limited(RateLimitSignal, JiraError),
    Other(JiraError),
}

/// Jira's `errorMessages` and `errors`, flattened into one line.
fn error_message(body: &str) -> String {
    let Ok(v) = serde_json::from_str::<Value>(body) else {
        return body.chars().take(300).collect();
    };
    let mut parts: Vec<String> = v
        .get("errorMessages")
        .and_then(Value::as_array)
        .map(|m| {
            m.iter()
                .filter_map(|x| x.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    if let Some(errors) = v.get("errors").and_then(Value::as_object) {
        parts.extend(
            errors
                .iter()
                .map(|(k, v)| format!("{k}: {}", v.as_str().unwrap_or_default())),
        );
    }
    if parts.is_empty() {
        body.chars().take(300).collect()
    } else {
        parts.join("; ")
    }
}

/// Jira's timestamps (`2026-11-20T10:00:00.000+0000`) as epoch milliseconds.
pub fn jira_millis(s: &str) -> Option<i64> {
    chrono::DateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.3f%z")
        .or_else(|_| chrono::DateTime::parse_from_rfc3339(s))
        .ok()
        .map(|d| d.timestamp_millis())
}
