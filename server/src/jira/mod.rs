//! Verdict's REST client for Jira and Confluence: every call authorized by the tenant's
//! `JiraAuth`, with typed errors that keep Jira's own error messages.

use std::time::Duration;

use serde_json::Value;
use url::Url;

use crate::atlassian::JiraAuth;

#[derive(Debug, thiserror::Error)]
pub enum JiraError {
    #[error("Jira answered {status}: {message}")]
    Status { status: u16, message: String },
    #[error("Jira could not be reached: {0}")]
    Transport(String),
    #[error("Jira answered with invalid JSON: {0}")]
    Body(String),
    #[error("invalid request URL: {0}")]
    Url(String),
}

/// Default time a single Jira call may take.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Clone)]
pub struct JiraClient {
    http: reqwest::Client,
}

impl Default for JiraClient {
    fn default() -> Self {
        Self::new(DEFAULT_TIMEOUT)
    }
}

impl JiraClient {
    pub fn new(timeout: Duration) -> Self {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .user_agent(concat!("verdict/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("HTTP client");
        Self { http }
    }

    /// Sends one request (`path_and_query` starts with `/`) and parses a JSON answer
    /// (`Value::Null` for 204).
    pub async fn send(
        &self,
        auth: &JiraAuth,
        method: reqwest::Method,
        path_and_query: &str,
        body: Option<&Value>,
    ) -> Result<Value, JiraError> {
        let url =
            Url::parse(&auth.url(path_and_query)).map_err(|e| JiraError::Url(e.to_string()))?;
        let now = chrono::Utc::now().timestamp();
        let mut req = self
            .http
            .request(method.clone(), url.clone())
            .header(
                "Authorization",
                auth.authorization(method.as_str(), &url, now),
            )
            .header("Accept", "application/json");
        if let Some(b) = body {
            req = req.json(b);
        }
        let resp = req
            .send()
            .await
            .map_err(|e| JiraError::Transport(e.to_string()))?;
        let status = resp.status().as_u16();
        let text = resp
            .text()
            .await
            .map_err(|e| JiraError::Transport(e.to_string()))?;
        if !(200..300).contains(&status) {
            return Err(JiraError::Status {
                status,
                message: error_message(&text),
            });
        }
        if text.trim().is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_str(&text).map_err(|e| JiraError::Body(e.to_string()))
    }

    pub async fn get(&self, auth: &JiraAuth, path_and_query: &str) -> Result<Value, JiraError> {
        self.send(auth, reqwest::Method::GET, path_and_query, None)
            .await
    }
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
