//! Jira's side of an app's pages, for browser tests: the Jira page that frames a Connect
//! module (with a page JWT carrying the real `qsh` of the module URL) and answers the frame's
//! `AP` calls (context tokens signed with the installation's shared secret, theme, reload);
//! a stand-in for Connect's `all.js` that talks to it; and the Forge equivalent — the admin
//! page framing a Custom UI resource with a bridge whose `requestRemote` the host carries out
//! with a real Forge Invocation Token, as Forge does.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::{Shared, forge};

/// A Forge app whose admin page the double can host.
#[derive(Debug, Clone)]
pub struct ForgeApp {
    /// `ari:cloud:ecosystem::app/<uuid>`.
    pub app_id: String,
    /// The manifest's remote key (what `requestRemote` names).
    pub remote_key: String,
    /// The remote's `baseUrl`.
    pub remote_base_url: String,
    /// The Custom UI resource directory (holds `index.html`).
    pub resource_dir: PathBuf,
    /// The `jira:adminPage` module key.
    pub module_key: String,
    /// The `jira:issuePanel` Custom UI resource directory, when the app has one.
    pub issue_panel_dir: Option<PathBuf>,
}

/// The issue panel's module key in Verdict's manifest.
pub const ISSUE_PANEL_MODULE: &str = "verdict-findings-panel";

pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/ui/connect/all.js", get(all_js))
        .route("/ui/forge/bridge.js", get(bridge_js))
        .route("/ui/forge/cdn/{*path}", get(forge_resource))
        .route("/ui/forge/panel-cdn/{*path}", get(panel_resource))
        .route("/ui/{site}/browse/{key}", get(issue_view))
        .route(
            "/ui/{site}/plugins/servlet/ac/{app}/{module}",
            get(connect_host),
        )
        .route("/ui/{site}/_host/context-token", post(context_token))
        .route("/ui/{site}/jira/settings/apps/configure", get(forge_host))
        .route("/ui/{site}/_host/forge/fetch-remote", post(fetch_remote))
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[derive(Deserialize)]
struct HostQuery {
    /// The account the page is opened as (Jira's logged-in user).
    #[serde(rename = "as")]
    account: String,
    /// `light` (default) or `dark`.
    #[serde(default)]
    color: Option<String>,
    /// Lifetime of the page JWT in seconds (negative: already expired).
    #[serde(default)]
    page_ttl: Option<i64>,
    /// Lifetime of context tokens in seconds (negative: already expired).
    #[serde(default)]
    token_ttl: Option<i64>,
}

/// The module URL with Jira's context parameters and a page JWT, as Jira builds the iframe.
fn module_url(
    inst: &crate::model::Installation,
    module_key: &str,
    site_origin: &str,
    account: &str,
    now: i64,
    ttl: i64,
) -> Option<String> {
    let modules = inst.descriptor.get("modules")?;
    let url = std::iter::once(modules.get("configurePage"))
        .chain(
            modules
                .get("adminPages")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .map(Some),
        )
        .flatten()
        .find(|m| m.get("key").and_then(Value::as_str) == Some(module_key))?
        .get("url")?
        .as_str()?
        .to_owned();
    let query = format!(
        "xdm_e={}&xdm_c=channel-{module_key}&cp=&lic=none&cv=1001.0.0-SNAPSHOT",
        url::form_urlencoded::byte_serialize(site_origin.as_bytes()).collect::<String>()
    );
    let full = format!("{}{url}?{query}", inst.app_base_url.trim_end_matches('/'));
    let token = crate::webhooks::connect_jwt_as(
        &inst.client_key,
        &inst.shared_secret,
        &inst.app_base_url,
        "GET",
        &full,
        Some(account),
        now,
        ttl,
    );
    Some(format!("{full}&jwt={token}"))
}

/// What the Jira page around a frame knows, for its message handler.
struct HostPage<'a> {
    title: &'a str,
    header: String,
    src: &'a str,
    /// Passed to the page's script: `site`, `app`, `account`, `tokenTtl`, `color`, `context`.
    config: Value,
}

/// The Jira page framing an app's page and answering its calls: context tokens (Connect),
/// `fetchRemote` (Forge), theme, context, reload and resize.
fn host_page(p: HostPage<'_>) -> Response {
    Html(format!(
        r#"<!doctype html><html lang="en"><head><meta charset="utf-8"><link rel="icon" href="data:,"><title>Jira (double): {title}</title>
<style>body{{margin:0;font-family:sans-serif}} header{{padding:8px 16px;background:#0c66e4;color:#fff}} iframe{{border:0;width:100%;height:calc(100vh - 40px);display:block}}</style></head>
<body><header>Jira (double) · {header}</header>
<iframe id="app-frame" title="{title}" src="{src}"></iframe>
<script>
const config = {config};
const frame = document.getElementById('app-frame');
const post = async (path, body) => (await fetch(path, {{ method: 'POST', headers: {{ 'Content-Type': 'application/json' }}, body: JSON.stringify(body) }})).json();
window.addEventListener('message', async (e) => {{
  if (e.source !== frame.contentWindow) return;
  const d = e.data || {{}};
  const reply = (result, error) => frame.contentWindow.postMessage({{ id: d.id, result, error }}, '*');
  try {{
    switch (d.call) {{
      case 'getToken':
        reply((await post(`/ui/${{config.site}}/_host/context-token`, {{ app: config.app, account: config.account, ttl: config.tokenTtl }})).token);
        break;
      case 'fetchRemote':
        reply(await post(`/ui/${{config.site}}/_host/forge/fetch-remote`, {{ account: config.account, request: d.payload, context: config.context }}));
        break;
      case 'theme': reply(config.color); break;
      case 'getContext': reply(config.context); break;
      case 'reload': window.location.reload(); break;
      case 'resize':
        frame.style.height = Math.max(200, Number(d.payload) || 0) + 'px';
        reply(null);
        break;
      default: reply(null, 'not supported by the double: ' + d.call);
    }}
  }} catch (err) {{ reply(null, String(err)); }}
}});
</script></body></html>"#,
        title = esc(p.title),
        header = esc(&p.header),
        src = esc(p.src),
        // JSON inside a script element: `<` escaped so no value can close the element.
        config = p.config.to_string().replace('<', "\\u003c"),
    ))
    .into_response()
}

fn color(q: &HostQuery) -> &'static str {
    if q.color.as_deref() == Some("dark") {
        "dark"
    } else {
        "light"
    }
}

async fn connect_host(
    State(shared): State<Arc<Shared>>,
    Path((site, app, module)): Path<(String, String, String)>,
    Query(q): Query<HostQuery>,
) -> Response {
    let now = shared.clock.now_secs();
    let origin = url::Url::parse(&shared.base)
        .map(|u| u.origin().ascii_serialization())
        .unwrap_or_default();
    let found = {
        let world = shared.world.lock().unwrap();
        world.sites.iter().find(|s| s.name == site).map(|s| {
            (
                s.installations
                    .iter()
                    .find(|i| i.app_key == app && i.installed)
                    .cloned(),
                s.user(&q.account).map(|u| u.display_name.clone()),
            )
        })
    };
    let Some((Some(inst), user)) = found else {
        return (StatusCode::NOT_FOUND, "no such site or app").into_response();
    };
    let Some(src) = module_url(
        &inst,
        &module,
        &origin,
        &q.account,
        now,
        q.page_ttl.unwrap_or(180),
    ) else {
        return (StatusCode::NOT_FOUND, "the app has no such page module").into_response();
    };
    host_page(HostPage {
        title: &app,
        header: format!("{site} · {}", user.as_deref().unwrap_or(&q.account)),
        src: &src,
        config: json!({"site": site, "app": app, "account": q.account,
                       "tokenTtl": q.token_ttl.unwrap_or(900), "color": color(&q)}),
    })
}

#[derive(Deserialize)]
struct TokenRequest {
    app: String,
    account: String,
    ttl: i64,
}

/// What `AP.context.getToken()` returns: HS256 with the shared secret, `qsh: context-qsh`.
async fn context_token(
    State(shared): State<Arc<Shared>>,
    Path(site): Path<String>,
    Json(req): Json<TokenRequest>,
) -> Response {
    let now = shared.clock.now_secs();
    let inst = {
        let world = shared.world.lock().unwrap();
        world.sites.iter().find(|s| s.name == site).and_then(|s| {
            s.installations
                .iter()
                .find(|i| i.app_key == req.app && i.installed)
                .cloned()
        })
    };
    let Some(inst) = inst else {
        return (StatusCode::NOT_FOUND, "no such installation").into_response();
    };
    let token = crate::webhooks::context_token(
        &inst.client_key,
        &inst.shared_secret,
        &req.account,
        now,
        req.ttl,
    );
    Json(json!({ "token": token })).into_response()
}

/// The frame's side of the conversation with the Jira page around it: `call(name, payload)`
/// posts a message and resolves with the page's reply; the frame follows its content's height
/// (measured from the content, not the frame, or it would only ever grow). Shared by the
/// stand-ins for Connect's `all.js` and Forge's bridge.
const FRAME_CLIENT_JS: &str = r#"
  var seq = 0;
  var pending = {};
  window.addEventListener('message', function (e) {
    if (e.source !== window.parent) return;
    var d = e.data || {};
    var p = pending[d.id];
    if (!p) return;
    delete pending[d.id];
    if (d.error) p.reject(new Error(d.error)); else p.resolve(d.result);
  });
  function call(name, payload) {
    return new Promise(function (resolve, reject) {
      seq += 1;
      pending[seq] = { resolve: resolve, reject: reject };
      window.parent.postMessage({ id: seq, call: name, payload: payload }, '*');
    });
  }
  function applyTheme() {
    return call('theme').then(function (mode) {
      document.documentElement.setAttribute('data-color-mode', mode);
      document.documentElement.setAttribute('data-theme', 'dark:dark light:light spacing:spacing typography:typography');
    });
  }
  var last = 0;
  function fit() {
    var el = document.querySelector('.ac-content') || document.body;
    var h = Math.ceil(el.getBoundingClientRect().bottom + window.scrollY) + 24;
    if (h !== last) { last = h; call('resize', h); }
  }
  setInterval(fit, 250);
"#;

fn script(api: &str) -> Response {
    (
        [("content-type", "text/javascript; charset=utf-8")],
        format!("(function () {{{FRAME_CLIENT_JS}{api}}})();\n"),
    )
        .into_response()
}

/// Connect's `all.js`, as far as an admin page uses it: context tokens, theming, reload,
/// resize — each a message to the Jira page around the frame.
async fn all_js() -> Response {
    script(
        r#"
  window.AP = {
    context: {
      getToken: function (cb) { var p = call('getToken'); if (cb) p.then(cb); return p; },
    },
    theming: { initializeTheming: function () { applyTheme(); } },
    navigator: { reload: function () { call('reload'); } },
    resize: function () { fit(); },
    sizeToParent: function () {},
  };
"#,
    )
}

/// The bridge Forge puts in front of a Custom UI resource: `window.__bridge.callBridge`,
/// answered by the Jira page around the frame.
async fn bridge_js() -> Response {
    script(
        r#"
  window.__bridge = {
    callBridge: function (cmd, payload) {
      return cmd === 'enableTheming' ? applyTheme() : call(cmd, payload);
    },
  };
"#,
    )
}

fn forge_app(shared: &Shared) -> Option<ForgeApp> {
    shared.world.lock().unwrap().forge_apps.first().cloned()
}

/// The admin page's Custom UI resource, as Forge's CDN serves it (bridge put in first).
async fn forge_resource(State(shared): State<Arc<Shared>>, Path(path): Path<String>) -> Response {
    let Some(app) = forge_app(&shared) else {
        return (StatusCode::NOT_FOUND, "no Forge app registered").into_response();
    };
    serve_resource(&app.resource_dir, &path)
}

/// The issue panel's Custom UI resource.
async fn panel_resource(State(shared): State<Arc<Shared>>, Path(path): Path<String>) -> Response {
    let Some(dir) = forge_app(&shared).and_then(|a| a.issue_panel_dir) else {
        return (StatusCode::NOT_FOUND, "no Forge issue panel registered").into_response();
    };
    serve_resource(&dir, &path)
}

fn serve_resource(dir: &std::path::Path, path: &str) -> Response {
    if path.split('/').any(|p| p == ".." || p.is_empty()) {
        return (StatusCode::BAD_REQUEST, "bad path").into_response();
    }
    let Ok(bytes) = std::fs::read(dir.join(path)) else {
        return (StatusCode::NOT_FOUND, "no such file").into_response();
    };
    let mime = match path.rsplit('.').next() {
        Some("html") => "text/html; charset=utf-8",
        Some("js") | Some("mjs") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("json") => "application/json",
        Some("svg") => "image/svg+xml",
        _ => "application/octet-stream",
    };
    if path.ends_with(".html") {
        let html = String::from_utf8_lossy(&bytes).replacen(
            "<head>",
            "<head><script src=\"/ui/forge/bridge.js\"></script>",
            1,
        );
        return ([("content-type", mime)], html).into_response();
    }
    ([("content-type", mime)], bytes).into_response()
}

async fn forge_host(
    State(shared): State<Arc<Shared>>,
    Path(site): Path<String>,
    Query(q): Query<HostQuery>,
) -> Response {
    let Some(app) = forge_app(&shared) else {
        return (StatusCode::NOT_FOUND, "no Forge app registered").into_response();
    };
    let (cloud_id, user) = {
        let world = shared.world.lock().unwrap();
        let Some(s) = world.sites.iter().find(|s| s.name == site) else {
            return (StatusCode::NOT_FOUND, "no such site").into_response();
        };
        (
            s.cloud_id.clone(),
            s.user(&q.account).map(|u| u.display_name.clone()),
        )
    };
    let context = json!({
        "accountId": q.account,
        "cloudId": cloud_id,
        "moduleKey": app.module_key,
        "siteUrl": format!("{}/s/{}", shared.base, site),
        "extension": {"type": "jira:adminPage"},
    });
    host_page(HostPage {
        title: "Verdict",
        header: format!("{site} · {} · Forge", user.as_deref().unwrap_or(&q.account)),
        src: "/ui/forge/cdn/index.html",
        config: json!({"site": site, "account": q.account, "color": color(&q), "context": context}),
    })
}

#[derive(Deserialize)]
struct RemoteFetch {
    account: String,
    /// What `@forge/bridge`'s `requestRemote` sends over the bridge.
    request: Value,
    /// The module the page renders (what Forge puts in the token's `context`).
    #[serde(default)]
    context: Option<Value>,
}

/// Jira's issue view (as `account`) with the app's issue panel: the panel frame gets the
/// issue in its context, as Forge gives a `jira:issuePanel` its extension context.
async fn issue_view(
    State(shared): State<Arc<Shared>>,
    Path((site, key)): Path<(String, String)>,
    Query(q): Query<HostQuery>,
) -> Response {
    let found = {
        let world = shared.world.lock().unwrap();
        let Some(s) = world.sites.iter().find(|s| s.name == site) else {
            return (StatusCode::NOT_FOUND, "no such site").into_response();
        };
        s.issue_by_ref(&key).map(|i| {
            (
                s.cloud_id.clone(),
                i.id.clone(),
                i.key.clone(),
                i.project_key.clone(),
                i.summary.clone(),
                s.user(&q.account).map(|u| u.display_name.clone()),
            )
        })
    };
    let Some((cloud_id, id, key, project, summary, user)) = found else {
        return (StatusCode::NOT_FOUND, "no such issue").into_response();
    };
    let context = json!({
        "accountId": q.account,
        "cloudId": cloud_id,
        "moduleKey": ISSUE_PANEL_MODULE,
        "siteUrl": format!("{}/s/{}", shared.base, site),
        "extension": {"type": "jira:issuePanel", "issue": {"id": id, "key": key, "type": "Bug"}, "project": {"key": project}},
    });
    host_page(HostPage {
        title: &format!("{key}: {summary}"),
        header: format!("{site} · {key} · {}", user.as_deref().unwrap_or(&q.account)),
        src: "/ui/forge/panel-cdn/index.html",
        config: json!({"site": site, "account": q.account, "color": color(&q), "context": context}),
    })
}

/// Carries out `requestRemote` as Forge does: a FIT naming the installation and the user
/// who opened the page, sent with the request to the remote's base URL.
async fn fetch_remote(
    State(shared): State<Arc<Shared>>,
    Path(site): Path<String>,
    body: Bytes,
) -> Response {
    let Ok(req) = serde_json::from_slice::<RemoteFetch>(&body) else {
        return (StatusCode::BAD_REQUEST, "bad bridge call").into_response();
    };
    let Some(app) = forge_app(&shared) else {
        return (StatusCode::NOT_FOUND, "no Forge app registered").into_response();
    };
    let remote = req
        .request
        .get("remoteKey")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if remote != app.remote_key {
        return Json(json!({"status": 400, "statusText": "Bad Request", "headers": {}, "body": format!("unknown remote `{remote}`")})).into_response();
    }
    let init = req
        .request
        .get("fetchRequestInit")
        .cloned()
        .unwrap_or_default();
    let path = init
        .get("path")
        .and_then(Value::as_str)
        .unwrap_or("/")
        .to_owned();
    let method = init
        .get("method")
        .and_then(Value::as_str)
        .unwrap_or("GET")
        .to_ascii_uppercase();
    let (cloud_id, installation_id) = {
        let world = shared.world.lock().unwrap();
        let Some(s) = world.sites.iter().find(|s| s.name == site) else {
            return (StatusCode::NOT_FOUND, "no such site").into_response();
        };
        // The app's native installation, else a Connect-on-Forge one.
        let native = s
            .forge_installs
            .iter()
            .rev()
            .find(|a| a.app_id == app.app_id && a.installed)
            .map(|a| a.installation_id.clone());
        (
            s.cloud_id.clone(),
            native
                .or_else(|| {
                    s.installations
                        .iter()
                        .find(|i| i.installed)
                        .map(|i| i.installation_id.clone())
                })
                .unwrap_or_default(),
        )
    };
    let mut claims = forge::fit_claims(
        &app.app_id,
        &installation_id,
        &cloud_id,
        &format!("{}/api/ex/jira/{}", shared.base, cloud_id),
        &app.module_key,
        forge::signing_time(),
    );
    claims["principal"] = json!(req.account);
    // The module the page renders: the admin page unless the host page said otherwise.
    let extension = req
        .context
        .as_ref()
        .and_then(|c| c.get("extension"))
        .cloned()
        .unwrap_or_else(|| json!({"type": "jira:adminPage"}));
    let module_key = req
        .context
        .as_ref()
        .and_then(|c| c.get("moduleKey"))
        .and_then(Value::as_str)
        .unwrap_or(&app.module_key)
        .to_owned();
    claims["app"]["module"] = json!({"type": extension["type"], "key": module_key});
    claims["context"]["moduleKey"] = json!(module_key);
    claims["context"]["extension"] = extension;
    let fit = forge::sign_fit(&claims);
    let url = format!("{}{}", app.remote_base_url.trim_end_matches('/'), path);
    let Ok(method) = reqwest::Method::from_bytes(method.as_bytes()) else {
        return (StatusCode::BAD_REQUEST, "bad method").into_response();
    };
    let mut out = shared
        .http
        .request(method, &url)
        .timeout(Duration::from_secs(25))
        .header("Authorization", format!("Bearer {fit}"))
        .header("x-b3-traceid", hex::encode(uuid::Uuid::new_v4().as_bytes()));
    // Headers arrive as [name, value] pairs.
    for pair in init
        .get("headers")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let (Some(k), Some(v)) = (
            pair.get(0).and_then(Value::as_str),
            pair.get(1).and_then(Value::as_str),
        ) && !k.eq_ignore_ascii_case("authorization")
        {
            out = out.header(k, v);
        }
    }
    if let Some(b) = init.get("body").and_then(Value::as_str) {
        out = out.body(b.to_owned());
    }
    match out.send().await {
        Ok(resp) => {
            let status = resp.status();
            let headers: serde_json::Map<String, Value> = resp
                .headers()
                .iter()
                .filter_map(|(k, v)| Some((k.as_str().to_owned(), json!(v.to_str().ok()?))))
                .collect();
            let text = resp.text().await.unwrap_or_default();
            Json(json!({
                "status": status.as_u16(),
                "statusText": status.canonical_reason().unwrap_or(""),
                "headers": headers,
                "body": text,
            }))
            .into_response()
        }
        Err(e) => Json(json!({"status": 502, "statusText": "Bad Gateway", "headers": {}, "body": format!("the remote could not be reached: {e}")})).into_response(),
    }
}
