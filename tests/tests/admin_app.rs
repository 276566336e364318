//! The admin app's server side over HTTP: who gets in through which door (Connect context
//! tokens, page JWTs, Forge invocation tokens, the operator's session), what they may change
//! and how each change is validated and audited. The browser tests (tests/browser) drive the
//! same app through a real Chromium.

use reqwest::Method;
use sea_orm::{ActiveModelTrait, EntityTrait, Set};
use serde_json::{Value, json};
use verdict_e2e::{JiraWorld, context_token, read, rule_wasm};
use verdict_server::store::entities::{decisions, outbox_jobs, webhook_deliveries};

const APP_KEY: &str = "io.verdict.jira";
const FORGE_APP: &str = "ari:cloud:ecosystem::app/0c0f7a4e-5a7b-4f0e-a3b5-1f1e7c9d2b44";

async fn world() -> JiraWorld {
    JiraWorld::start(|c| {
        // Answers are not cached, so a permission change shows at once.
        c.admin_permission_cache_secs = 0;
        c.admin_token = Some(verdict_server::config::Secret::new(
            "operator-token-0123456789abcdef0123456789",
        ));
    })
    .await
}

fn jwt(token: &str) -> String {
    format!("JWT {token}")
}

/// The audit log's actions, newest first.
async fn audit_actions(w: &JiraWorld, auth: Option<&str>) -> (Vec<String>, Value) {
    let (status, audit) = w.app.admin(Method::GET, "/audit", auth, None).await;
    assert_eq!(status, 200, "{audit}");
    let actions = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap().to_owned())
        .collect();
    (actions, audit)
}

/// Saves one settings form; returns the status and the answer.
async fn save(w: &JiraWorld, auth: Option<&str>, group: &str, values: Value) -> (u16, Value) {
    w.app
        .admin(
            Method::PUT,
            &format!("/settings/{group}"),
            auth,
            Some(&json!({ "values": values })),
        )
        .await
}

#[tokio::test(flavor = "multi_thread")]
async fn context_tokens_open_the_admin_api_for_jira_admins_only() {
    let w = world().await;
    let inst = w.double.installation("acme", APP_KEY).unwrap();
    let site = w.double.site("acme");
    let (admin, developer) = (site.users[0].clone(), site.users[2].clone());

    let (status, me) = w
        .app
        .admin(
            Method::GET,
            "/me",
            Some(&jwt(&context_token(&inst, &admin, 60))),
            None,
        )
        .await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(
        me["principal"],
        json!({"kind": "jira_account", "id": admin})
    );
    assert_eq!(me["via"], "connect");
    assert_eq!(me["tenant"]["id"], w.t.id);

    // Someone who is not a Jira admin: 403 with the reason, from every route.
    let dev = jwt(&context_token(&inst, &developer, 60));
    for path in [
        "/me",
        "/overview",
        "/settings",
        "/rules",
        "/decisions",
        "/api-keys",
    ] {
        let (status, err) = w.app.admin(Method::GET, path, Some(&dev), None).await;
        assert_eq!(status, 403, "{path}: {err}");
        assert_eq!(err["error"]["code"], "not_jira_admin");
        assert!(
            err["error"]["message"]
                .as_str()
                .unwrap()
                .contains("not a Jira administrator")
        );
    }
    // Made an admin in Jira: in at once (caching is off here).
    w.double.set_site_admin("acme", &developer, true);
    assert_eq!(
        w.app.admin(Method::GET, "/me", Some(&dev), None).await.0,
        200
    );
    w.double.set_site_admin("acme", &developer, false);

    // Expired: a distinct code, so the page can say "refresh".
    let (status, err) = w
        .app
        .admin(
            Method::GET,
            "/me",
            Some(&jwt(&context_token(&inst, &admin, -120))),
            None,
        )
        .await;
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (401, Some("token_expired"))
    );
    // No user, wrong secret, not a JWT, another scheme: 401.
    let now = chrono::Utc::now().timestamp();
    let no_sub = jira_double::jwt::hs256(
        &json!({"iss": inst.client_key, "qsh": "context-qsh", "iat": now, "exp": now + 60}),
        &inst.shared_secret,
    );
    let wrong_secret = jira_double::jwt::hs256(
        &json!({"iss": inst.client_key, "sub": admin, "qsh": "context-qsh", "iat": now, "exp": now + 60}),
        "not-the-secret",
    );
    for (name, auth) in [
        ("no sub", jwt(&no_sub)),
        ("wrong secret", jwt(&wrong_secret)),
        ("garbage", "JWT not.a.token".into()),
        ("basic", "Basic dXNlcjpwYXNz".into()),
    ] {
        let (status, err) = w.app.admin(Method::GET, "/me", Some(&auth), None).await;
        assert_eq!(status, 401, "{name}: {err}");
    }
    // A page JWT (a real qsh, for the page URL) does not open the API.
    let page_token = w
        .double
        .connect_jwt_to_app("acme", APP_KEY, "GET", &w.app.url("/connect/admin"))
        .unwrap();
    assert_eq!(
        w.app
            .admin(Method::GET, "/me", Some(&jwt(&page_token)), None)
            .await
            .0,
        401
    );
    // Jira cannot say whether someone is an admin: 503, never a guess.
    w.double.set_faults(
        "acme",
        jira_double::Faults {
            fail_next: vec![400],
            path_filter: "permissions/check".into(),
            ..Default::default()
        },
    );
    let (status, err) = w
        .app
        .admin(
            Method::GET,
            "/me",
            Some(&jwt(&context_token(&inst, &admin, 60))),
            None,
        )
        .await;
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (503, Some("permission_check_failed"))
    );
    w.app.stop().await;
}

async fn page(w: &JiraWorld, account: &str, ttl_from_now: i64) -> reqwest::Response {
    let url = w
        .app
        .url("/connect/admin?xdm_e=http%3A%2F%2Fexample&cp=&lic=none");
    let token = w
        .double
        .page_jwt("acme", APP_KEY, account, &url, ttl_from_now)
        .unwrap();
    w.app
        .client
        .get(format!("{url}&jwt={token}"))
        .send()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_page_jira_frames_verifies_its_page_jwt_and_is_locked_down() {
    let w = world().await;
    let site = w.double.site("acme");
    let r = page(&w, &site.users[0], 120).await;
    assert_eq!(r.status(), 200);
    let csp = r.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    let origin = url::Url::parse(&site.base_url)
        .unwrap()
        .origin()
        .ascii_serialization();
    assert!(csp.contains(&format!("frame-ancestors {origin}")), "{csp}");
    assert!(csp.contains("script-src 'self' 'nonce-"), "{csp}");
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    assert_eq!(r.headers()["x-content-type-options"], "nosniff");
    assert_eq!(r.headers()["referrer-policy"], "no-referrer");
    let html = r.text().await.unwrap();
    let nonce = csp
        .split("'nonce-")
        .nth(1)
        .unwrap()
        .split('\'')
        .next()
        .unwrap();
    // Every script is external and carries the nonce; Connect's all.js comes from the config.
    assert!(
        html.contains(&format!(
            "<script src=\"https://connect-cdn.atl-paas.net/all.js\" nonce=\"{nonce}\""
        )),
        "{html}"
    );
    assert_eq!(
        html.matches("<script").count(),
        html.matches(&format!("nonce=\"{nonce}\"")).count()
    );
    assert!(html.contains("boot-connect.js"));

    // Not a Jira admin: 403, with a page that says why.
    let r = page(&w, &site.users[2], 120).await;
    assert_eq!(r.status(), 403);
    let html = r.text().await.unwrap();
    assert!(html.contains("not a Jira administrator"), "{html}");
    // Expired: "refresh the page".
    let r = page(&w, &site.users[0], -120).await;
    assert_eq!(r.status(), 401);
    let html = r.text().await.unwrap();
    assert!(
        html.contains("This page has expired") && html.contains("Refresh the page"),
        "{html}"
    );
    // A context token is not a page token.
    let inst = w.double.installation("acme", APP_KEY).unwrap();
    let r = w
        .app
        .client
        .get(w.app.url(&format!(
            "/connect/admin?jwt={}",
            context_token(&inst, &site.users[0], 60)
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);

    // Assets: immutable under their version, anything else 404.
    let asset = html_asset_url(&w).await;
    let r = w.app.client.get(w.app.url(&asset)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/css")
    );
    let r = w
        .app
        .client
        .get(w.app.url("/admin/static/x/../../etc/passwd"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    w.app.stop().await;
}

async fn html_asset_url(w: &JiraWorld) -> String {
    let html = w
        .app
        .client
        .get(w.app.url("/admin"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    html.split("href=\"")
        .filter_map(|s| s.split('"').next())
        .find(|h| h.ends_with("admin.css"))
        .expect("the login page links the stylesheet")
        .to_owned()
}

fn fit(w: &JiraWorld, app_id: &str, installation: &str, principal: Option<&str>) -> String {
    let site = w.double.site("acme");
    let mut claims = jira_double::forge::fit_claims(
        app_id,
        installation,
        &site.cloud_id,
        &site.gateway_url,
        "verdict-admin-page",
        chrono::Utc::now().timestamp(),
    );
    if let Some(p) = principal {
        claims["principal"] = json!(p);
    }
    format!("Bearer {}", jira_double::forge::sign_fit(&claims))
}

#[tokio::test(flavor = "multi_thread")]
async fn forge_invocation_tokens_open_the_admin_api_and_the_backend_decides() {
    let w = JiraWorld::start(|c| {
        c.forge_app_id = Some(FORGE_APP.into());
        c.admin_permission_cache_secs = 0;
    })
    .await;
    let inst = w.double.installation("acme", APP_KEY).unwrap();
    let site = w.double.site("acme");
    let (status, me) = w
        .app
        .admin(
            Method::GET,
            "/me",
            Some(&fit(
                &w,
                FORGE_APP,
                &inst.installation_id,
                Some(&site.users[0]),
            )),
            None,
        )
        .await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["via"], "forge");
    assert_eq!(me["tenant"]["id"], w.t.id);
    // A change through Forge is audited as coming through Forge.
    let (status, created) = w
        .app
        .admin(
            Method::POST,
            "/api-keys",
            Some(&fit(
                &w,
                FORGE_APP,
                &inst.installation_id,
                Some(&site.users[0]),
            )),
            Some(&json!({"name": "trivy"})),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let (_, audit) = w
        .app
        .admin(
            Method::GET,
            "/audit",
            Some(&fit(
                &w,
                FORGE_APP,
                &inst.installation_id,
                Some(&site.users[0]),
            )),
            None,
        )
        .await;
    assert_eq!(audit["entries"][0]["action"], "api_key.create");
    assert_eq!(audit["entries"][0]["via"], "forge");
    assert_eq!(audit["entries"][0]["actor_id"], site.users[0].as_str());
    // The admin app makes scanner keys unless asked otherwise; a scanner key imports and
    // reads findings and is refused everything an admin key does.
    assert_eq!(created["scope"], "scanner");
    let scanner = created["key"].as_str().unwrap().to_owned();
    let (status, _) = w
        .app
        .post(
            &scanner,
            "/api/v1/findings",
            &json!({"external_id": "trivy:1", "title": "t", "severity": "low"}),
        )
        .await;
    assert_eq!(status, 201);
    assert_eq!(w.app.get(&scanner, "/api/v1/findings").await.0, 200);
    for (method, path) in [
        (Method::GET, "/api/v1/settings"),
        (Method::GET, "/api/v1/rules"),
        (Method::POST, "/api/v1/connections/oauth"),
        (Method::GET, "/api/v1/jobs"),
        (Method::POST, "/api/v1/findings:export"),
    ] {
        let r = w
            .app
            .client
            .request(method.clone(), w.app.url(path))
            .bearer_auth(&scanner)
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403, "{method} {path}");
        let body: serde_json::Value = r.json().await.unwrap();
        assert_eq!(body["error"]["code"], "admin_scope_required", "{body}");
    }
    // An admin key (asked for), then narrowed from the app: refused from its next request.
    let forge_admin = || fit(&w, FORGE_APP, &inst.installation_id, Some(&site.users[0]));
    let (status, wide) = w
        .app
        .admin(
            Method::POST,
            "/api-keys",
            Some(&forge_admin()),
            Some(&json!({"name": "automation", "scope": "admin"})),
        )
        .await;
    assert_eq!((status, wide["scope"].as_str()), (201, Some("admin")));
    let wide_key = wide["key"].as_str().unwrap().to_owned();
    assert_eq!(w.app.get(&wide_key, "/api/v1/settings").await.0, 200);
    let (status, narrowed) = w
        .app
        .admin(
            Method::PATCH,
            &format!("/api-keys/{}", wide["id"].as_str().unwrap()),
            Some(&forge_admin()),
            Some(&json!({"scope": "scanner"})),
        )
        .await;
    assert_eq!((status, narrowed["scope"].as_str()), (200, Some("scanner")));
    assert_eq!(w.app.get(&wide_key, "/api/v1/settings").await.0, 403);
    let (_, audit) = w
        .app
        .admin(Method::GET, "/audit", Some(&forge_admin()), None)
        .await;
    assert_eq!(audit["entries"][0]["action"], "api_key.scope");
    assert_eq!(audit["entries"][0]["old_value"]["scope"], "admin");
    let (status, err) = w
        .app
        .admin(
            Method::POST,
            "/api-keys",
            Some(&forge_admin()),
            Some(&json!({"name": "x", "scope": "root"})),
        )
        .await;
    assert_eq!(
        (status, err["error"]["field"].as_str()),
        (400, Some("scope")),
        "{err}"
    );

    for (name, auth, expected, code) in [
        (
            "not an admin",
            fit(&w, FORGE_APP, &inst.installation_id, Some(&site.users[2])),
            403,
            "not_jira_admin",
        ),
        (
            "no principal",
            fit(&w, FORGE_APP, &inst.installation_id, None),
            401,
            "invalid_jwt",
        ),
        (
            "another app",
            fit(
                &w,
                "ari:cloud:ecosystem::app/other",
                &inst.installation_id,
                Some(&site.users[0]),
            ),
            401,
            "invalid_jwt",
        ),
        (
            "unknown installation",
            fit(
                &w,
                FORGE_APP,
                "ari:cloud:ecosystem::installation/nope",
                Some(&site.users[0]),
            ),
            403,
            "not_installed",
        ),
    ] {
        let (status, err) = w
            .app
            .admin(Method::GET, "/overview", Some(&auth), None)
            .await;
        assert_eq!(
            (status, err["error"]["code"].as_str()),
            (expected, Some(code)),
            "{name}: {err}"
        );
    }
    w.app.stop().await;
}

/// Signs in as the operator; returns the session cookie and the page's CSRF token.
async fn sign_in(w: &JiraWorld) -> (String, String) {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = client
        .post(w.app.url("/admin/login"))
        .form(&[("admin_token", "operator-token-0123456789abcdef0123456789")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let cookie = r.headers()["set-cookie"].to_str().unwrap().to_owned();
    for attr in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=43200"] {
        assert!(cookie.contains(attr), "{cookie}");
    }
    let session = cookie.split(';').next().unwrap().to_owned();
    let html = client
        .get(w.app.url("/admin"))
        .header("Cookie", &session)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = html
        .split("data-csrf=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("the app page carries the CSRF token")
        .to_owned();
    assert!(csrf.len() >= 40);
    (session, csrf)
}

async fn operator(
    w: &JiraWorld,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = w
        .app
        .client
        .request(method, w.app.url(&format!("/api/admin/v1{path}")));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    read(req.send().await.unwrap()).await
}

#[tokio::test(flavor = "multi_thread")]
async fn the_operator_signs_in_picks_a_tenant_and_changes_are_csrf_safe() {
    let w = world().await;
    let r = w
        .app
        .client
        .post(w.app.url("/admin/login"))
        .form(&[("admin_token", "wrong-wrong-wrong-wrong-wrong-wrong-wrong")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert!(r.text().await.unwrap().contains("admin token."));
    let (session, csrf) = sign_in(&w).await;
    let cookie = ("Cookie", session.as_str());

    let (status, list) = operator(&w, Method::GET, "/tenants", &[cookie], None).await;
    assert_eq!(status, 200);
    assert!(
        list["tenants"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["id"] == w.t.id)
    );
    let (status, err) = operator(&w, Method::GET, "/overview", &[cookie], None).await;
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (400, Some("tenant_required"))
    );
    let (status, _) = operator(
        &w,
        Method::GET,
        "/overview",
        &[cookie, ("X-Verdict-Tenant", "nope")],
        None,
    )
    .await;
    assert_eq!(status, 404);
    let tenant = ("X-Verdict-Tenant", w.t.id.as_str());
    let (status, me) = operator(&w, Method::GET, "/me", &[cookie, tenant], None).await;
    assert_eq!(status, 200);
    assert_eq!(me["principal"]["kind"], "operator");

    let body = json!({"name": "nessus"});
    let (status, err) = operator(
        &w,
        Method::POST,
        "/api-keys",
        &[cookie, tenant],
        Some(body.clone()),
    )
    .await;
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (403, Some("csrf_failed"))
    );
    let (status, _) = operator(
        &w,
        Method::POST,
        "/api-keys",
        &[
            cookie,
            tenant,
            ("X-CSRF-Token", &csrf),
            ("Origin", "https://evil.example"),
        ],
        Some(body.clone()),
    )
    .await;
    assert_eq!(status, 403);
    let (status, created) = operator(
        &w,
        Method::POST,
        "/api-keys",
        &[cookie, tenant, ("X-CSRF-Token", &csrf)],
        Some(body),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    // The key works, once, as a scanner's key.
    let (status, _) = w
        .app
        .post(
            created["key"].as_str().unwrap(),
            "/api/v1/findings",
            &verdict_e2e::finding(1, 1),
        )
        .await;
    assert_eq!(status, 201);
    let id = created["id"].as_str().unwrap();
    let (status, _) = operator(
        &w,
        Method::DELETE,
        &format!("/api-keys/{id}"),
        &[cookie, tenant, ("X-CSRF-Token", &csrf)],
        None,
    )
    .await;
    assert_eq!(status, 204);
    let (status, _) = w
        .app
        .post(
            created["key"].as_str().unwrap(),
            "/api/v1/findings",
            &verdict_e2e::finding(2, 1),
        )
        .await;
    assert_eq!(status, 401);
    // A made-up key as well. Every refusal is counted; the revoked key against its tenant.
    let (status, _) = w
        .app
        .post(
            "vdk_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            "/api/v1/findings",
            &verdict_e2e::finding(3, 1),
        )
        .await;
    assert_eq!(status, 401);
    let series = |scheme: &str, reason: &str, tenant: &str| {
        format!(
            r#"verdict_auth_refused_total{{scheme="{scheme}",reason="{reason}",tenant="{tenant}"}}"#
        )
    };
    let revoked = series("api-key", "revoked_key", &w.t.id);
    assert_eq!(w.app.metric(&revoked).await, 1.0, "{revoked}");
    let made_up = series("api-key", "invalid_key", "unknown");
    assert_eq!(w.app.metric(&made_up).await, 1.0, "{made_up}");
    let no_csrf = series("admin-session", "csrf_token", "unknown");
    assert!(w.app.metric(&no_csrf).await >= 1.0, "{no_csrf}");
    let (status, err) = operator(&w, Method::GET, "/audit?limit=0", &[cookie, tenant], None).await;
    assert_eq!(
        (status, err["error"]["field"].as_str()),
        (422, Some("limit"))
    );
    let (_, audit) = operator(&w, Method::GET, "/audit", &[cookie, tenant], None).await;
    let actions: Vec<&str> = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["api_key.revoke", "api_key.create"]);
    assert_eq!(audit["entries"][0]["actor_kind"], "operator");
    assert_eq!(audit["entries"][0]["via"], "standalone");

    // Signing out ends the session at once.
    let r = w
        .app
        .client
        .post(w.app.url("/admin/logout"))
        .header("Cookie", session.as_str())
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert!(
        r.status().is_success() || r.status().is_redirection(),
        "{}",
        r.status()
    );
    let (status, err) = operator(&w, Method::GET, "/tenants", &[cookie], None).await;
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (401, Some("session_expired"))
    );
    w.app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn without_an_admin_token_the_standalone_app_is_off() {
    let app = verdict_e2e::TestApp::spawn().await;
    let r = app.client.get(app.url("/admin")).send().await.unwrap();
    assert_eq!(r.status(), 503);
    assert!(r.text().await.unwrap().contains("admin_token"));
    let (status, err) = app.admin(Method::GET, "/tenants", None, None).await;
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (503, Some("admin_api_disabled"))
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn settings_are_validated_per_field_against_jira_and_audited() {
    let w = world().await;
    let inst = w.double.installation("acme", APP_KEY).unwrap();
    let admin = jwt(&context_token(&inst, &w.double.site("acme").users[0], 300));
    let auth = Some(admin.as_str());

    let (status, view) = w.app.admin(Method::GET, "/settings", auth, None).await;
    assert_eq!(status, 200);
    let groups: Vec<&str> = view["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        groups,
        [
            "ticketing",
            "priorities",
            "sla",
            "resolutions",
            "transitions",
            "confluence",
            "risk",
            "closure",
            "limits"
        ]
    );

    // Several problems at once, each named.
    let (status, err) = save(&w, auth, "ticketing", json!({"ticket.project": "NOPE", "ticket.min_score": "12", "ticket.labels": "has space", "sla_days.high": "3"})).await;
    assert_eq!(status, 422, "{err}");
    let fields: Vec<(&str, &str)> = err["error"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["field"].as_str().unwrap(), f["message"].as_str().unwrap()))
        .collect();
    assert_eq!(
        fields,
        [
            ("sla_days.high", "not a setting of the Ticketing form"),
            ("ticket.project", "Jira has no project `NOPE`"),
            ("ticket.min_score", "must be a number between 0 and 10"),
            (
                "ticket.labels",
                "`has space` is not valid here: use labels without spaces"
            ),
        ]
    );
    // Auto-ticketing needs a project (or a ticketing rule).
    let (status, err) = save(&w, auth, "ticketing", json!({"ticket.auto": "true"})).await;
    assert_eq!(status, 422);
    assert_eq!(err["error"]["fields"][0]["field"], "ticket.project");

    // Valid: saved, normalised, readable by rules through the same store, audited.
    let (status, _) = save(&w, auth, "ticketing", json!({"ticket.project": "app", "ticket.issue_type": "bug", "ticket.auto": "true", "ticket.scan_types": " sast , secrets "})).await;
    assert_eq!(status, 200);
    let (_, api) = w.app.get(&w.t.key, "/api/v1/settings").await;
    assert_eq!(api["settings"]["ticket.project"], "APP");
    assert_eq!(api["settings"]["ticket.issue_type"], "Bug");
    assert_eq!(api["settings"]["ticket.scan_types"], "sast,secrets");
    let (_, audit) = w.app.admin(Method::GET, "/audit", auth, None).await;
    let entry = &audit["entries"][0];
    assert_eq!(entry["action"], "settings.update");
    assert_eq!(entry["target"], "ticketing");
    assert_eq!(entry["old_value"]["ticket.project"], Value::Null);
    assert_eq!(entry["new_value"]["ticket.project"], "APP");

    // Resolutions must be ones Jira has.
    let (status, err) = save(
        &w,
        auth,
        "resolutions",
        json!({"resolutions.accepted_risk": "Known Risk, Made Up"}),
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(
        err["error"]["fields"][0]["message"],
        "Jira has no resolution `Made Up`"
    );

    // `ticket.auto = false` keeps the project for exports but files nothing by itself.
    let (status, _) = save(&w, auth, "ticketing", json!({"ticket.auto": "false"})).await;
    assert_eq!(status, 200);
    let id = w
        .import(7, json!({"severity": "critical", "scan_type": "sast"}))
        .await;
    w.app.outbox_idle(10).await;
    assert!(w.get_finding(&id).await["jira"].is_null());
    let (status, _) = save(&w, auth, "ticketing", json!({"ticket.auto": "true"})).await;
    assert_eq!(status, 200);
    let id = w
        .import(8, json!({"severity": "critical", "scan_type": "sast"}))
        .await;
    w.app.outbox_idle(20).await;
    assert_eq!(w.get_finding(&id).await["jira"]["project_key"], "APP");

    // Pickers come from Jira.
    let (_, projects) = w.app.admin(Method::GET, "/jira/projects", auth, None).await;
    let keys: Vec<&str> = projects["choices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["value"].as_str().unwrap())
        .collect();
    assert_eq!(keys, ["APP", "SEC"]);
    let (_, types) = w
        .app
        .admin(Method::GET, "/jira/issue-types?project=APP", auth, None)
        .await;
    assert!(
        types["choices"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["value"] == "Bug")
    );
    assert!(
        !types["choices"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["value"] == "Sub-task")
    );
    let (_, statuses) = w.app.admin(Method::GET, "/jira/statuses", auth, None).await;
    assert!(
        statuses["choices"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["detail"] == "done")
    );

    // Settings no form covers are edited as key/values; a form's own keys are refused there.
    let (status, err) = save(
        &w,
        auth,
        "other",
        json!({"threshold.sast": "7", "ticket.project": "SEC"}),
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(err["error"]["fields"][0]["field"], "ticket.project");
    let (status, view) = save(&w, auth, "other", json!({"threshold.sast": "7"})).await;
    assert_eq!(status, 200);
    assert_eq!(view["other"]["threshold.sast"], "7");
    w.app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn rules_are_uploaded_explained_evaluated_and_activated_from_the_admin_api() {
    use base64::Engine as _;
    let w = world().await;
    let inst = w.double.installation("acme", APP_KEY).unwrap();
    let admin = jwt(&context_token(&inst, &w.double.site("acme").users[0], 300));
    let auth = Some(admin.as_str());
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);

    let (status, err) = w
        .app
        .admin(
            Method::POST,
            "/rules",
            auth,
            Some(&json!({"name": "broken", "module_base64": b64(b"not wasm")})),
        )
        .await;
    assert_eq!(status, 422);
    assert_eq!(err["error"]["code"], "invalid_module");
    assert!(
        err["error"]["explanation"]
            .as_str()
            .unwrap()
            .contains("Rebuild it with rules-sdk")
    );
    let (status, err) = w
        .app
        .admin(
            Method::POST,
            "/rules",
            auth,
            Some(&json!({"name": "x", "module_base64": "%%%"})),
        )
        .await;
    assert_eq!(
        (status, err["error"]["field"].as_str()),
        (422, Some("module"))
    );

    let (status, v) = w
        .app
        .admin(
            Method::POST,
            "/rules",
            auth,
            Some(&json!({"name": "classifier", "module_base64": b64(&rule_wasm("comment-classifier"))})),
        )
        .await;
    assert_eq!(status, 201, "{v}");
    assert_eq!(v["state"], "inactive");

    // A closure decided by the default policy: evaluate the rule on it, by its id.
    let id = w.import(1, json!({})).await;
    let key = w
        .double
        .create_issue(
            "acme",
            &w.user,
            json!({"project": {"key": "APP"}, "issuetype": {"name": "Bug"}, "summary": "XSS in search"}),
        )
        .unwrap();
    let (status, _) = w
        .app
        .put(
            &w.t.key,
            &format!("/api/v1/findings/{id}/jira-link"),
            &json!({"issue": key}),
        )
        .await;
    assert_eq!(status, 200);
    w.double
        .comment(
            "acme",
            &key,
            &w.user,
            "This is a false positive: the input is never rendered.",
        )
        .unwrap();
    w.double
        .transition("acme", &key, "Won't Do", None, &w.user)
        .unwrap();
    w.settled(20).await;
    let (_, log) = w.app.admin(Method::GET, "/decisions", auth, None).await;
    let decision = log["decisions"][0].clone();
    assert_eq!(decision["issue_key"], key.as_str());
    assert_eq!(decision["source"], "default");
    assert_eq!(decision["closed_by"], w.user.as_str());
    assert_eq!(decision["closed_by_name"], "Tri Ager");
    assert!(
        decision["issue_url"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/browse/{key}"))
    );
    let (status, eval) = w
        .app
        .admin(
            Method::POST,
            "/rules/classifier/versions/1/evaluate",
            auth,
            Some(&json!({"decision_id": decision["id"]})),
        )
        .await;
    assert_eq!(status, 200, "{eval}");
    assert_eq!(
        eval["output"]["closure"]["apply"]["status"],
        "false_positive"
    );
    assert!(eval["usage"]["fuel_used"].as_u64().unwrap() > 0);
    assert_eq!(eval["usage"]["fuel_limit"], 10_000_000);
    let (status, err) = w
        .app
        .admin(
            Method::POST,
            "/rules/classifier/versions/1/evaluate",
            auth,
            Some(&json!({"input": {"nonsense": 1}})),
        )
        .await;
    assert_eq!(
        (status, err["error"]["field"].as_str()),
        (422, Some("input"))
    );

    let (status, replay) = w
        .app
        .admin(
            Method::POST,
            "/rules/classifier/versions/1/replay?limit=10",
            auth,
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(replay["total"], 1);

    let (status, _) = w
        .app
        .admin(
            Method::POST,
            "/rules/classifier/versions/1/activate",
            auth,
            None,
        )
        .await;
    assert_eq!(status, 200);
    let (_, rules) = w.app.admin(Method::GET, "/rules", auth, None).await;
    assert_eq!(rules["rules"][0]["active_version"], 1);
    // Version 2 activated, then rolled back to 1, then nothing active.
    let (status, _) = w
        .app
        .admin(
            Method::POST,
            "/rules",
            auth,
            Some(&json!({"name": "classifier", "module_base64": b64(&rule_wasm("comment-classifier"))})),
        )
        .await;
    assert_eq!(status, 201);
    let (status, _) = w
        .app
        .admin(
            Method::POST,
            "/rules/classifier/versions/2/activate",
            auth,
            None,
        )
        .await;
    assert_eq!(status, 200);
    let (status, v) = w
        .app
        .admin(Method::POST, "/rules/classifier/rollback", auth, None)
        .await;
    assert_eq!((status, v["version"].as_i64()), (200, Some(1)));
    let (status, _) = w
        .app
        .admin(Method::POST, "/rules/classifier/deactivate", auth, None)
        .await;
    assert_eq!(status, 204);
    let (status, err) = w
        .app
        .admin(Method::POST, "/rules/classifier/rollback", auth, None)
        .await;
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (409, Some("rule_conflict"))
    );
    let (actions, audit) = audit_actions(&w, auth).await;
    assert_eq!(
        actions,
        [
            "rule.deactivate",
            "rule.rollback",
            "rule.activate",
            "rule.upload",
            "rule.activate",
            "rule.upload"
        ]
    );
    assert_eq!(audit["entries"][1]["old_value"]["active_version"], 2);
    assert_eq!(audit["entries"][1]["new_value"]["active_version"], 1);
    assert_eq!(
        audit["entries"][4]["old_value"]["active_version"],
        Value::Null
    );
    assert_eq!(audit["entries"][4]["new_value"]["active_version"], 1);
    w.app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_decision_log_filters_and_pages_newest_first() {
    let w = world().await;
    let inst = w.double.installation("acme", APP_KEY).unwrap();
    let admin = jwt(&context_token(&inst, &w.double.site("acme").users[0], 300));
    let auth = Some(admin.as_str());
    let db = w.app.app_state.store().db();
    let start = chrono::Utc::now() - chrono::Duration::hours(2);
    for i in 0..130i64 {
        let verdict = ["resolved", "false_positive", "accepted_risk"][(i % 3) as usize];
        decisions::ActiveModel {
            id: Set(uuid::Uuid::now_v7().to_string()),
            tenant_id: Set(w.t.id.clone()),
            kind: Set("closure".into()),
            finding_id: Set(None),
            issue_id: Set(Some(format!("{}", 20_000 + i))),
            issue_key: Set(Some(format!("SEC-{i}"))),
            input: Set("{}".into()),
            output: Set(json!({"closure": {"apply": {"status": verdict, "reason": format!("reason {i}"), "confidence": 0.9}}}).to_string()),
            source: Set(if i % 2 == 0 { "rule" } else { "default" }.into()),
            rule_id: Set(None),
            rule_name: Set((i % 2 == 0).then(|| "classifier".into())),
            rule_version: Set((i % 2 == 0).then_some(1)),
            error_code: Set(None),
            error_message: Set(None),
            // Several decisions share a timestamp: the cursor must still not skip or repeat.
            created_at: Set(start + chrono::Duration::seconds(i / 3)),
            delivery_id: Set(None),
            outcome: Set(Some("apply".into())),
            verdict: Set(Some(verdict.into())),
            reason: Set(Some(format!("reason {i}"))),
            confidence: Set(Some(0.9)),
            actor: Set(Some("712020:someone".into())),
resolution: Set(None),
contradicted_at: Set(None),
contradicted_by: Set(None),
notes: Set(None),
        }
        .insert(db)
        .await
        .unwrap();
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/decisions?verdict=false_positive&limit=7&cursor={c}"),
            None => "/decisions?verdict=false_positive&limit=7".into(),
        };
        let (status, page) = w.app.admin(Method::GET, &path, auth, None).await;
        assert_eq!(status, 200, "{page}");
        for d in page["decisions"].as_array().unwrap() {
            assert_eq!(d["verdict"], "false_positive");
            seen.push(d["issue_key"].as_str().unwrap().to_owned());
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    let expected: Vec<String> = (0..130)
        .rev()
        .filter(|i| i % 3 == 1)
        .map(|i| format!("SEC-{i}"))
        .collect();
    assert_eq!(seen, expected);
    let (_, page) = w
        .app
        .admin(
            Method::GET,
            "/decisions?source=rule&issue=sec-4",
            auth,
            None,
        )
        .await;
    assert_eq!(page["decisions"].as_array().unwrap().len(), 1);
    assert_eq!(page["decisions"][0]["rule_name"], "classifier");
    let (status, err) = w
        .app
        .admin(Method::GET, "/decisions?verdict=maybe", auth, None)
        .await;
    assert_eq!(
        (status, err["error"]["field"].as_str()),
        (422, Some("verdict"))
    );
    let (status, _) = w
        .app
        .admin(Method::GET, "/decisions?cursor=bogus", auth, None)
        .await;
    assert_eq!(status, 422);
    let (status, _) = w
        .app
        .admin(Method::GET, "/decisions/nope", auth, None)
        .await;
    assert_eq!(status, 404);
    w.app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn failed_deliveries_and_jobs_are_retried_from_the_overview() {
    let w = world().await;
    let inst = w.double.installation("acme", APP_KEY).unwrap();
    let admin = jwt(&context_token(&inst, &w.double.site("acme").users[0], 300));
    let auth = Some(admin.as_str());
    let db = w.app.app_state.store().db();
    let now = chrono::Utc::now();
    // A delivery about an issue nobody links, already dead-lettered.
    webhook_deliveries::ActiveModel {
        id: Set(uuid::Uuid::now_v7().to_string()),
        tenant_id: Set(w.t.id.clone()),
        identifier: Set("failed-1".into()),
        retry_count: Set(0),
        event: Set("jira:issue_updated".into()),
        source: Set("connect".into()),
        received_at: Set(now),
        body: Set(json!({"webhookEvent": "jira:issue_updated", "issue": {"id": "99999", "key": "APP-999", "fields": {}}}).to_string()),
        state: Set("failed".into()),
        attempts: Set(10),
        lease_until: Set(None),
        processed_at: Set(None),
        outcome: Set(Some("error: Jira could not be reached".into())),
        lease_owner: Set(None),
        due_at: Set(None),
    }
    .insert(db)
    .await
    .unwrap();
    let (_, overview) = w.app.admin(Method::GET, "/overview", auth, None).await;
    assert_eq!(overview["failed_deliveries_total"], 1);
    let delivery = overview["failed_deliveries"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        overview["failed_deliveries"][0]["error"],
        "error: Jira could not be reached"
    );
    let (status, _) = w
        .app
        .admin(
            Method::POST,
            &format!("/deliveries/{delivery}/retry"),
            auth,
            None,
        )
        .await;
    assert_eq!(status, 202);
    // It is processed again (and, being about nobody's issue, ignored).
    w.settled(20).await;
    let row = webhook_deliveries::Entity::find_by_id(&delivery)
        .one(db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.state, "ignored");
    let (status, _) = w
        .app
        .admin(
            Method::POST,
            &format!("/deliveries/{delivery}/retry"),
            auth,
            None,
        )
        .await;
    assert_eq!(status, 409);

    // An export Jira refused (dead-lettered at once): retried, it files the ticket.
    w.double.set_faults(
        "acme",
        jira_double::Faults {
            fail_next: vec![400],
            path_filter: "/rest/api/3/issue".into(),
            ..Default::default()
        },
    );
    let id = w.import(3, json!({})).await;
    let (status, queued) = w
        .app
        .post(
            &w.t.key,
            &format!("/api/v1/findings/{id}/export"),
            &json!({"project": "APP"}),
        )
        .await;
    assert_eq!(status, 202, "{queued}");
    w.app.outbox_idle(20).await;
    let (_, overview) = w.app.admin(Method::GET, "/overview", auth, None).await;
    assert_eq!(overview["failed_jobs_total"], 1, "{overview}");
    let job = overview["failed_jobs"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(overview["failed_jobs"][0]["kind"], "create_issue");
    let (status, _) = w
        .app
        .admin(Method::POST, &format!("/jobs/{job}/retry"), auth, None)
        .await;
    assert_eq!(status, 202);
    w.app.outbox_idle(20).await;
    assert_eq!(w.get_finding(&id).await["jira"]["project_key"], "APP");
    let row = outbox_jobs::Entity::find_by_id(&job)
        .one(db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.state, "done");
    let (actions, _) = audit_actions(&w, auth).await;
    assert_eq!(actions, ["job.retry", "delivery.retry"]);
    // Another tenant's delivery id is unknown here.
    let (status, _) = w
        .app
        .admin(Method::POST, "/deliveries/not-yours/retry", auth, None)
        .await;
    assert_eq!(status, 404);
    w.app.stop().await;
}
