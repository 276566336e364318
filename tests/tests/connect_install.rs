//! Connect install end to end: the Jira double installs Verdict from its descriptor URL like a
//! site admin would; forged lifecycle calls are refused and leave the tenant unchanged.

use jira_double::{JiraDouble, SiteSpec, install, jwt};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};
use verdict_e2e::{TestApp, read};
use verdict_server::atlassian::descriptor;
use verdict_server::config::Mode;
use verdict_server::store::entities::tenants;
use verdict_server::tenants::connect as connect_tenants;

async fn setup() -> (JiraDouble, TestApp) {
    let double = JiraDouble::start().await;
    double.add_site(SiteSpec::standard("acme"));
    let keys = double.install_keys_url();
    let app = TestApp::spawn_with(|c| c.install_keys_url = keys.parse().unwrap()).await;
    (double, app)
}

async fn tenant_row(app: &TestApp, client_key: &str) -> Option<tenants::Model> {
    tenants::Entity::find()
        .filter(tenants::Column::ClientKey.eq(client_key))
        .one(app.app_state.store().db())
        .await
        .unwrap()
}

async fn stored_secret(app: &TestApp, client_key: &str) -> String {
    let row = tenant_row(app, client_key).await.expect("tenant exists");
    connect_tenants::shared_secret(app.app_state.secrets(), &row).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_served_descriptor_follows_atlassians_rules() {
    let (_double, app) = setup().await;
    let (status, d) = read(
        app.client
            .get(app.url("/atlassian-connect.json"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(d["baseUrl"], app.url(""));
    assert_eq!(d["key"], "io.verdict.jira");
    assert_eq!(
        descriptor::problems(&d, Mode::Development),
        Vec::<String>::new()
    );
    let events: Vec<&str> = d["modules"]["webhooks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["event"].as_str().unwrap())
        .collect();
    for e in [
        "jira:issue_updated",
        "comment_created",
        "comment_updated",
        "comment_deleted",
        "jira:issue_deleted",
    ] {
        assert!(events.contains(&e), "{e}");
    }
    assert!(d["modules"]["configurePage"]["url"].is_string());
    // The same descriptor on an http base URL is not acceptable in production.
    let problems = descriptor::problems(&d, Mode::Production);
    assert!(
        problems.iter().any(|p| p.contains("must be https")),
        "{problems:?}"
    );
    let mut bad = d.clone();
    bad["key"] = json!("has spaces!");
    bad["scopes"] = json!(["WRITE"]);
    bad.as_object_mut().unwrap().remove("authentication");
    let problems = descriptor::problems(&bad, Mode::Development);
    assert_eq!(problems.len(), 3, "{problems:?}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn install_reinstall_enable_disable_uninstall() {
    let (double, app) = setup().await;
    let first = double
        .install_app("acme", &app.url("/atlassian-connect.json"))
        .await
        .expect("install accepted");
    let row = tenant_row(&app, &first.client_key)
        .await
        .expect("tenant created");
    assert_eq!(row.kind, "connect");
    assert_eq!(row.status, "active");
    assert_eq!(
        row.site_url.as_deref(),
        Some(double.site("acme").base_url.as_str())
    );
    assert_eq!(
        row.installation_id.as_deref(),
        Some(first.installation_id.as_str())
    );
    let sealed = row.shared_secret.clone().unwrap();
    assert!(
        sealed.starts_with("v1.") && !sealed.contains(&first.shared_secret),
        "encrypted at rest"
    );
    assert_eq!(
        stored_secret(&app, &first.client_key).await,
        first.shared_secret
    );

    let second = double
        .install_app("acme", &app.url("/atlassian-connect.json"))
        .await
        .unwrap();
    assert_eq!(second.client_key, first.client_key);
    assert_eq!(
        stored_secret(&app, &first.client_key).await,
        second.shared_secret,
        "a reinstall replaces the secret"
    );
    let count = tenants::Entity::find()
        .all(app.app_state.store().db())
        .await
        .unwrap()
        .len();
    assert_eq!(count, 1);

    assert_eq!(
        double
            .send_enabled("acme", "io.verdict.jira", false, true)
            .await
            .unwrap(),
        204
    );
    assert_eq!(
        tenant_row(&app, &first.client_key).await.unwrap().status,
        "disabled"
    );
    assert_eq!(
        double
            .send_enabled("acme", "io.verdict.jira", true, true)
            .await
            .unwrap(),
        204
    );
    assert_eq!(
        tenant_row(&app, &first.client_key).await.unwrap().status,
        "active"
    );
    assert_eq!(
        double
            .send_enabled("acme", "io.verdict.jira", false, false)
            .await
            .unwrap(),
        401,
        "an unsigned disable of a live install is refused"
    );

    assert_eq!(
        double
            .uninstall_app("acme", "io.verdict.jira")
            .await
            .unwrap(),
        204
    );
    let row = tenant_row(&app, &first.client_key).await.unwrap();
    assert_eq!(row.status, "uninstalled");
    assert!(
        row.uninstalled_at.is_some() && row.shared_secret.is_some(),
        "data stays for retention_uninstalled_days, in case the site comes back"
    );
    // A late disabled, with or without a token, never resurrects it.
    assert_eq!(
        double
            .send_enabled("acme", "io.verdict.jira", false, false)
            .await
            .unwrap(),
        204
    );
    assert_eq!(
        tenant_row(&app, &first.client_key).await.unwrap().status,
        "uninstalled"
    );

    // Marketplace duty: an uninstalled site's data goes once `retention_uninstalled_days`
    // (30) have passed without a reinstall — the retention sweep's own call.
    let purge = |days: i64| {
        verdict_server::tenants::data::purge_uninstalled(
            app.app_state.store(),
            chrono::Utc::now() + chrono::Duration::days(days),
        )
    };
    assert!(purge(-30).await.unwrap().is_empty(), "not yet");
    assert_eq!(purge(1).await.unwrap(), vec![row.id.clone()]);
    assert!(tenant_row(&app, &first.client_key).await.is_none());
    // Installing again starts afresh, and an installed site is kept.
    double
        .install_app("acme", &app.url("/atlassian-connect.json"))
        .await
        .unwrap();
    let again = tenant_row(&app, &first.client_key).await.unwrap();
    assert_eq!(again.status, "active");
    assert!(purge(1).await.unwrap().is_empty());
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_installs_are_refused_and_change_nothing() {
    let (double, app) = setup().await;
    let real = double
        .install_app("acme", &app.url("/atlassian-connect.json"))
        .await
        .unwrap();
    let site = double.site("acme");
    let url = app.url("/connect/installed");
    let now = chrono_now();
    let body = |client_key: &str| {
        json!({"key": "io.verdict.jira", "clientKey": client_key, "sharedSecret": "attacker-chosen-secret",
               "baseUrl": site.base_url, "productType": "jira", "eventType": "installed"})
    };
    let good_claims =
        |iss: &str| install::lifecycle_claims(iss, &app.url(""), "/connect/installed", now);
    let with = |mut claims: Value, f: &dyn Fn(&mut Value)| {
        f(&mut claims);
        claims
    };
    let hs_with_public_key = {
        let claims = good_claims(&real.client_key);
        jsonwebtoken::encode(
            &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
            &claims,
            &jsonwebtoken::EncodingKey::from_secret(install::INSTALL_PUBLIC_PEM.as_bytes()),
        )
        .unwrap()
    };
    let alg_none = {
        use base64::Engine as _;
        let b = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        format!(
            "{}.{}.",
            b.encode(br#"{"alg":"none","typ":"JWT","kid":"verdict-double-install-1"}"#),
            b.encode(good_claims(&real.client_key).to_string())
        )
    };
    let cases: Vec<(&str, String, Value, &str)> = vec![
        (
            "signed with another key",
            jwt::rs256(
                &good_claims(&real.client_key),
                install::ATTACKER_PRIVATE_PEM,
                install::INSTALL_KID,
            ),
            body(&real.client_key),
            "invalid_jwt",
        ),
        (
            "unknown kid",
            jwt::rs256(
                &good_claims(&real.client_key),
                install::ATTACKER_PRIVATE_PEM,
                "attacker-kid",
            ),
            body(&real.client_key),
            "invalid_jwt",
        ),
        (
            "kid that escapes the URL",
            jwt::rs256(
                &good_claims(&real.client_key),
                install::INSTALL_PRIVATE_PEM,
                "../../etc/passwd",
            ),
            body(&real.client_key),
            "invalid_jwt",
        ),
        (
            "wrong aud",
            install::rs256_lifecycle_token(&with(good_claims(&real.client_key), &|c| {
                c["aud"] = json!(["https://evil.example.com"])
            })),
            body(&real.client_key),
            "invalid_jwt",
        ),
        (
            "iss is not the body's clientKey",
            install::rs256_lifecycle_token(&good_claims("jira:someone-else")),
            body(&real.client_key),
            "invalid_jwt",
        ),
        (
            "expired",
            install::rs256_lifecycle_token(&with(good_claims(&real.client_key), &|c| {
                c["exp"] = json!(now - 3600)
            })),
            body(&real.client_key),
            "invalid_jwt",
        ),
        ("alg none", alg_none, body(&real.client_key), "invalid_jwt"),
        (
            "HS256 signed with the public key",
            hs_with_public_key,
            body(&real.client_key),
            "invalid_jwt",
        ),
        (
            "missing qsh",
            install::rs256_lifecycle_token(&with(good_claims(&real.client_key), &|c| {
                c.as_object_mut().unwrap().remove("qsh");
            })),
            body(&real.client_key),
            "invalid_jwt",
        ),
        (
            "qsh of another request",
            install::rs256_lifecycle_token(&with(good_claims(&real.client_key), &|c| {
                c["qsh"] = json!(verdict_server::atlassian::qsh::qsh(
                    "POST",
                    "/connect/uninstalled",
                    ""
                ))
            })),
            body(&real.client_key),
            "invalid_jwt",
        ),
        (
            "context qsh on a lifecycle route",
            install::rs256_lifecycle_token(&with(good_claims(&real.client_key), &|c| {
                c["qsh"] = json!("context-qsh")
            })),
            body(&real.client_key),
            "invalid_jwt",
        ),
        (
            "body tampered: another tenant's clientKey",
            install::rs256_lifecycle_token(&good_claims(&real.client_key)),
            body("jira:victim"),
            "invalid_jwt",
        ),
        (
            "another app's install",
            install::rs256_lifecycle_token(&good_claims(&real.client_key)),
            with(body(&real.client_key), &|b| b["key"] = json!("other.app")),
            "wrong_app",
        ),
    ];
    for (name, token, payload, code) in cases {
        let r = app
            .client
            .post(&url)
            .header("Authorization", format!("JWT {token}"))
            .json(&payload)
            .send()
            .await
            .unwrap();
        let (status, err) = read(r).await;
        assert!(
            status == 401 || (code == "wrong_app" && status == 400),
            "{name}: {status} {err}"
        );
        assert_eq!(err["error"]["code"], code, "{name}: {err}");
    }
    let r = app
        .client
        .post(&url)
        .json(&body(&real.client_key))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401, "no token at all");
    // Nothing changed: one tenant, still the real secret.
    assert_eq!(
        stored_secret(&app, &real.client_key).await,
        real.shared_secret
    );
    assert!(tenant_row(&app, "jira:victim").await.is_none());
    assert_eq!(
        tenants::Entity::find()
            .all(app.app_state.store().db())
            .await
            .unwrap()
            .len(),
        1
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_key_server_fails_the_install_with_503() {
    let double = JiraDouble::start().await;
    double.add_site(SiteSpec::standard("acme"));
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let app = TestApp::spawn_with(|c| {
        c.install_keys_url = format!("http://{closed}").parse().unwrap();
        c.install_keys_timeout_ms = 500;
    })
    .await;
    let err = double
        .install_app("acme", &app.url("/atlassian-connect.json"))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("503"), "{err}");
    assert!(
        tenants::Entity::find()
            .all(app.app_state.store().db())
            .await
            .unwrap()
            .is_empty()
    );
    app.stop().await;
}

fn chrono_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verdicts_outgoing_calls_of_every_kind_pass_the_doubles_verifier() {
    use verdict_server::atlassian::JiraAuth;
    use verdict_server::config::Secret;
    use verdict_server::jira::{JiraClient, JiraError};
    let (double, app) = setup().await;
    let site = double.site("acme");
    let installed = double
        .install_app("acme", &app.url("/atlassian-connect.json"))
        .await
        .unwrap();
    let row = tenant_row(&app, &installed.client_key).await.unwrap();
    let connect = connect_tenants::jira_auth(
        app.app_state.secrets(),
        &row,
        &app.app_state.config().app_key,
    )
    .unwrap();
    let client = JiraClient::default();

    let me = client.get(&connect, "/rest/api/3/myself").await.unwrap();
    assert_eq!(
        me["accountId"], installed.app_account_id,
        "Connect calls act as the app user"
    );
    // The qsh covers the query string, with Jira's encoding rules.
    let hits = client.get(&connect, "/rest/api/3/search/jql?jql=project%20%3D%20SEC%20ORDER%20BY%20key&maxResults=5&fields=summary,status").await.unwrap();
    assert_eq!(hits["isLast"], true);
    let created = client
        .send(&connect, reqwest::Method::POST, "/rest/api/3/issue", Some(&json!({"fields": {
            "project": {"key": "SEC"}, "issuetype": {"name": "Security"}, "summary": "created by Verdict",
            "description": {"type": "doc", "version": 1, "content": []}}})))
        .await
        .unwrap();
    assert_eq!(created["key"], "SEC-1");

    let token = double.add_api_token("acme", "admin@example.com");
    let api_token = JiraAuth::ApiToken {
        email: "admin@example.com".into(),
        token: Secret::new(token),
        site_url: site.base_url.parse().unwrap(),
    };
    assert_eq!(
        client.get(&api_token, "/rest/api/3/myself").await.unwrap()["accountId"],
        site.users[0]
    );
    let pat = JiraAuth::DataCenterPat {
        token: Secret::new(double.add_pat("acme", &site.users[1])),
        base_url: site.base_url.parse().unwrap(),
    };
    assert_eq!(
        client.get(&pat, "/rest/api/2/myself").await.unwrap()["accountId"],
        site.users[1]
    );

    // A wrong secret is refused by the double, and the error carries Jira's message.
    let forged = JiraAuth::Connect {
        app_key: "io.verdict.jira".into(),
        shared_secret: Secret::new("nope"),
        site_url: site.base_url.parse().unwrap(),
    };
    match client.get(&forged, "/rest/api/3/myself").await {
        Err(JiraError::Status {
            status: 401,
            message,
        }) => assert!(message.contains("signature"), "{message}"),
        other => panic!("expected 401, got {other:?}"),
    }
    let kinds: Vec<String> = double
        .requests("acme")
        .iter()
        .filter(|r| r.status < 400)
        .map(|r| format!("{:?}", r.auth))
        .collect();
    for k in ["ConnectJwt", "ApiToken", "Pat"] {
        assert!(
            kinds.iter().any(|x| x.starts_with(k)),
            "{k} missing in {kinds:?}"
        );
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_page_accepts_page_tokens_only() {
    let (double, app) = setup().await;
    let installed = double
        .install_app("acme", &app.url("/atlassian-connect.json"))
        .await
        .unwrap();
    let admin = double.site("acme").users[0].clone();
    // Jira's page token: the real qsh of the page URL, and the user in `sub`.
    let page = app.url("/connect/admin?lic=none&cp=%2Fjira&xdm_e=http%3A%2F%2Fsite");
    let now = chrono_now();
    let token = double
        .page_jwt("acme", "io.verdict.jira", &admin, &page, 120)
        .unwrap();
    let r = app
        .client
        .get(format!("{page}&jwt={token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    assert!(html.contains("boot-connect.js"), "{html}");
    assert!(html.contains(&double.site("acme").base_url), "{html}");

    // A context token (qsh `context-qsh`) is refused on the page route (any user's token
    // from any module of the app would otherwise open it)…
    let context = double
        .context_token("acme", "io.verdict.jira", &admin, 60)
        .unwrap();
    let r = app
        .client
        .get(format!("{}?jwt={context}", app.url("/connect/admin")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    // …but never on a lifecycle route.
    let r = app.client.post(app.url("/connect/enabled")).header("Authorization", format!("JWT {context}"))
        .json(&json!({"key": "io.verdict.jira", "clientKey": installed.client_key, "baseUrl": double.site("acme").base_url}))
        .send().await.unwrap();
    let (status, err) = read(r).await;
    assert_eq!(status, 401);
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("context"),
        "{err}"
    );
    // Wrong secret, missing token, tampered query.
    let wrong = jwt::hs256(
        &json!({"iss": installed.client_key, "iat": now, "exp": now + 60, "qsh": "context-qsh"}),
        "not-the-secret",
    );
    assert_eq!(
        app.client
            .get(format!("{}?jwt={wrong}", app.url("/connect/admin")))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    assert_eq!(
        app.client
            .get(app.url("/connect/admin"))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    let tampered = page.replace("lic=none", "lic=active");
    assert_eq!(
        app.client
            .get(format!("{tampered}&jwt={token}"))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    app.stop().await;
}
