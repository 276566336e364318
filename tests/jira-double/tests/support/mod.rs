//! A stand-in Connect app for the double's tests: serves its descriptor under a context
//! path (`/app`), answers lifecycle callbacks and records every request it receives, with
//! scripted response statuses.

#![allow(dead_code)]

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

#[derive(Debug, Clone)]
pub struct Received {
    pub method: String,
    pub path: String,
    pub query: String,
    pub headers: Vec<(String, String)>,
    pub body: Value,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Default)]
pub struct AppState {
    pub received: Mutex<Vec<Received>>,
    pub script: Mutex<VecDeque<u16>>,
    pub base: Mutex<String>,
}

pub struct FakeApp {
    pub state: Arc<AppState>,
    pub base: String,
}

impl FakeApp {
    pub async fn start() -> FakeApp {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}/app", listener.local_addr().unwrap());
        let state = Arc::new(AppState::default());
        *state.base.lock().unwrap() = base.clone();
        let app = Router::new().fallback(handle).with_state(state.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        FakeApp { state, base }
    }

    pub fn descriptor_url(&self) -> String {
        format!("{}/atlassian-connect.json", self.base)
    }

    /// The next responses to webhook deliveries, in order (then 204).
    pub fn script(&self, statuses: &[u16]) {
        self.state
            .script
            .lock()
            .unwrap()
            .extend(statuses.iter().copied());
    }

    pub fn received(&self) -> Vec<Received> {
        self.state.received.lock().unwrap().clone()
    }

    pub fn webhooks(&self, event: &str) -> Vec<Received> {
        self.received()
            .into_iter()
            .filter(|r| r.body.get("webhookEvent").and_then(Value::as_str) == Some(event))
            .collect()
    }
}

pub fn descriptor(base: &str) -> Value {
    let hook = |event: &str| json!({"event": event, "url": "/hooks/jira?issue=${issue.key}&project=${project.key}", "excludeBody": false});
    json!({
        "key": "verdict-test-app",
        "name": "Test app",
        "baseUrl": base,
        "authentication": {"type": "jwt"},
        "apiMigrations": {"signed-install": true, "context-qsh": true, "gdpr": true},
        "scopes": ["READ", "WRITE"],
        "lifecycle": {"installed": "/installed", "uninstalled": "/uninstalled", "enabled": "/enabled", "disabled": "/disabled"},
        "modules": {"webhooks": [
            hook("jira:issue_created"), hook("jira:issue_updated"), hook("jira:issue_deleted"),
            hook("comment_created"), hook("comment_updated"), hook("comment_deleted"),
        ]},
    })
}

async fn handle(State(state): State<Arc<AppState>>, req: Request) -> Response {
    let method = req.method().to_string();
    let path = req.uri().path().to_owned();
    let query = req.uri().query().unwrap_or("").to_owned();
    let headers = req
        .headers()
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_owned()))
        .collect();
    if method == "GET" && path == "/app/atlassian-connect.json" {
        let base = state.base.lock().unwrap().clone();
        return axum::Json(descriptor(&base)).into_response();
    }
    let bytes: Bytes = axum::body::to_bytes(req.into_body(), 64 * 1024 * 1024)
        .await
        .unwrap_or_default();
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    state.received.lock().unwrap().push(Received {
        method,
        path: path.clone(),
        query,
        headers,
        body,
    });
    let status = if path.starts_with("/app/hooks") {
        state.script.lock().unwrap().pop_front().unwrap_or(204)
    } else {
        204
    };
    StatusCode::from_u16(status).unwrap().into_response()
}
