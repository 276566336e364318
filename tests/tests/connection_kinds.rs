//! Every connection kind resolves to working credentials through one function, and API-token,
//! PAT and admin-webhook (HMAC) set-ups are checked against the Jira double.

use jira_double::{JiraDouble, SiteSpec};
use serde_json::json;
use verdict_e2e::TestApp;
use verdict_server::jira::JiraClient;
use verdict_server::tenants::{self, ConnectionKind, credentials};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_token_and_pat_tenants_are_verified_stored_encrypted_and_usable() {
    let double = JiraDouble::start().await;
    let site = double.add_site(SiteSpec::standard("acme"));
    let app = TestApp::spawn().await;
    let state = &app.app_state;
    let db = state.store().db();
    let client = JiraClient::default();

    let cloud = tenants::create_tenant(db, "cloud-token", ConnectionKind::Standalone)
        .await
        .unwrap();
    let err = credentials::connect(
        db,
        state.secrets(),
        &client,
        &cloud,
        &site.base_url,
        Some("admin@example.com"),
        "wrong-token",
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("refused"), "{err}");
    assert!(
        state.jira_auth(&cloud.id).await.is_err(),
        "nothing stored for refused credentials"
    );
    let token = double.add_api_token("acme", "admin@example.com");
    let t = credentials::connect(
        db,
        state.secrets(),
        &client,
        &cloud,
        &site.base_url,
        Some("admin@example.com"),
        &token,
    )
    .await
    .unwrap();
    assert_eq!(t.kind, ConnectionKind::ApiToken);
    let row =
        <verdict_server::store::entities::tenants::Entity as sea_orm::EntityTrait>::find_by_id(
            cloud.id.clone(),
        )
        .one(db)
        .await
        .unwrap()
        .unwrap();
    let sealed = row.credentials.unwrap();
    assert!(
        sealed.starts_with("v1.") && !sealed.contains(&token),
        "stored encrypted"
    );
    let auth = state.jira_auth(&cloud.id).await.unwrap();
    assert_eq!(
        client.get(&auth, "/rest/api/3/myself").await.unwrap()["accountId"],
        site.users[0]
    );

    let dc = tenants::create_tenant(db, "data-center", ConnectionKind::Standalone)
        .await
        .unwrap();
    let pat = double.add_pat("acme", &site.users[2]);
    credentials::connect(
        db,
        state.secrets(),
        &client,
        &dc,
        &site.base_url,
        None,
        &pat,
    )
    .await
    .unwrap();
    let auth = state.jira_auth(&dc.id).await.unwrap();
    assert_eq!(
        auth.flavor(),
        verdict_server::atlassian::ApiFlavor::DataCenterV2
    );
    assert_eq!(
        client.get(&auth, "/rest/api/2/myself").await.unwrap()["accountId"],
        site.users[2]
    );

    let lonely = tenants::create_tenant(db, "standalone", ConnectionKind::Standalone)
        .await
        .unwrap();
    let err = state.jira_auth(&lonely.id).await.unwrap_err();
    assert!(err.to_string().contains("not connected"), "{err}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_webhooks_signed_with_hmac_reach_the_inbox() {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    use verdict_server::store::entities::webhook_deliveries;
    let double = JiraDouble::start().await;
    let site = double.add_site(SiteSpec::standard("acme"));
    let app = TestApp::spawn().await;
    let state = &app.app_state;
    let db = state.store().db();
    let t = tenants::create_tenant(db, "dc-site", ConnectionKind::Standalone)
        .await
        .unwrap();
    let hook = app.url(&format!("/hooks/jira/{}", t.id));
    // Before a secret exists nothing is accepted.
    let r = app
        .client
        .post(&hook)
        .header("X-Hub-Signature", "sha256=00")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);

    let secret = credentials::rotate_webhook_secret(db, state.secrets(), &t)
        .await
        .unwrap();
    double.add_admin_webhook(
        "acme",
        &hook,
        &["jira:issue_updated", "comment_created"],
        Some(&secret),
    );
    let key = double
        .create_issue(
            "acme",
            &site.users[0],
            json!({"project": {"key": "APP"}, "issuetype": {"name": "Bug"}, "summary": "x"}),
        )
        .unwrap();
    double
        .transition("acme", &key, "Done", None, &site.users[0])
        .unwrap();
    assert!(
        double
            .wait_for_deliveries(std::time::Duration::from_secs(10))
            .await
    );
    let rows = webhook_deliveries::Entity::find()
        .filter(webhook_deliveries::Column::TenantId.eq(t.id.as_str()))
        .all(db)
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].source, "hmac");
    assert_eq!(rows[0].event, "jira:issue_updated");

    // A wrong signature, a malformed header, another tenant's URL.
    let r = app
        .client
        .post(&hook)
        .header("X-Hub-Signature", format!("sha256={}", "ab".repeat(32)))
        .body("{\"webhookEvent\":\"x\"}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = app
        .client
        .post(&hook)
        .header("X-Hub-Signature", "md5=abc")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = app
        .client
        .post(app.url("/hooks/jira/nope"))
        .header("X-Hub-Signature", "sha256=00")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_operator_sees_every_connection_and_its_last_delivery() {
    use verdict_e2e::read;
    const ADMIN: &str = "an-admin-token-that-is-long-enough-0123456789";
    let double = JiraDouble::start().await;
    let site = double.add_site(SiteSpec::standard("acme"));
    let keys = double.install_keys_url();
    let app = TestApp::spawn_with(|c| {
        c.install_keys_url = keys.parse().unwrap();
        c.admin_token = Some(verdict_server::config::Secret::new(ADMIN));
    })
    .await;
    let scanner = app.tenant("scanner-only").await;
    let installed = double
        .install_app("acme", &app.url("/atlassian-connect.json"))
        .await
        .unwrap();
    let key = double
        .create_issue(
            "acme",
            &site.users[0],
            json!({"project": {"key": "APP"}, "issuetype": {"name": "Bug"}, "summary": "x"}),
        )
        .unwrap();
    double
        .comment("acme", &key, &site.users[0], "hello")
        .unwrap();
    assert!(
        double
            .wait_for_deliveries(std::time::Duration::from_secs(10))
            .await
    );

    let get = |auth: Option<&str>| {
        let mut r = app.client.get(app.url("/api/v1/connections"));
        if let Some(a) = auth {
            r = r.bearer_auth(a);
        }
        r.send()
    };
    let (status, body) = read(get(Some(ADMIN)).await.unwrap()).await;
    assert_eq!(status, 200, "{body}");
    let list = body["connections"].as_array().unwrap();
    assert_eq!(list.len(), 2);
    let connect = list.iter().find(|c| c["kind"] == "connect").unwrap();
    assert_eq!(connect["site"], site.base_url);
    assert_eq!(connect["status"], "active");
    assert!(connect["last_delivery_at"].is_string(), "{connect}");
    let standalone = list.iter().find(|c| c["kind"] == "standalone").unwrap();
    assert_eq!(standalone["last_delivery_at"], serde_json::Value::Null);
    let _ = installed;

    assert_eq!(
        get(Some(&scanner.key)).await.unwrap().status(),
        401,
        "tenant keys are not admin tokens"
    );
    assert_eq!(get(None).await.unwrap().status(), 401);
    app.stop().await;

    let plain = TestApp::spawn().await;
    let r = plain
        .client
        .get(plain.url("/api/v1/connections"))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503);
    plain.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_with_its_webhook_secret_cannot_fill_the_inbox() {
    let app = TestApp::spawn_with(|c| c.inbox_max_pending_per_tenant = 3).await;
    let state = &app.app_state;
    let db = state.store().db();
    let mut hooks = Vec::new();
    for name in ["noisy", "quiet"] {
        let t = tenants::create_tenant(db, name, ConnectionKind::Standalone)
            .await
            .unwrap();
        let secret = credentials::rotate_webhook_secret(db, state.secrets(), &t)
            .await
            .unwrap();
        hooks.push((app.url(&format!("/hooks/jira/{}", t.id)), secret));
    }
    let deliver = |hook: &(String, String), n: u32| {
        let body = json!({
            "webhookEvent": "jira:issue_updated",
            "timestamp": 1_700_000_000_000u64 + n as u64,
            "issue": {"id": format!("{}", 10_000 + n), "key": format!("APP-{n}"),
                      "self": "https://dc.example.com/rest/api/2/issue/1",
                      "fields": {"status": {"name": "Done"}}},
        })
        .to_string();
        let req = app
            .client
            .post(&hook.0)
            .header(
                "X-Hub-Signature",
                jira_double::webhooks::hub_signature(&hook.1, body.as_bytes()),
            )
            .header("X-Atlassian-Webhook-Identifier", format!("quota-{n}"))
            .header("Content-Type", "application/json")
            .body(body);
        async move { req.send().await.unwrap() }
    };
    // A burst: three are taken, the rest refused with 429 and a Retry-After (Jira retries).
    let mut statuses = Vec::new();
    for n in 0..6 {
        let r = deliver(&hooks[0], n).await;
        let status = r.status().as_u16();
        if status == 429 {
            assert_eq!(r.headers()["retry-after"], "60");
            let body: serde_json::Value = r.json().await.unwrap();
            assert_eq!(body["error"]["code"], "inbox_full", "{body}");
            assert!(
                body["error"]["message"]
                    .as_str()
                    .unwrap()
                    .contains("inbox_max_pending_per_tenant")
            );
        }
        statuses.push(status);
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 204).count(),
        3,
        "{statuses:?}"
    );
    assert_eq!(statuses[3..], [429, 429, 429], "{statuses:?}");
    // Another tenant is not affected.
    assert_eq!(deliver(&hooks[1], 100).await.status(), 204);
    assert!(app.metrics_text().await.contains("outcome=\"tenant_full\""));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_data_center_ticket_is_linked_closed_and_reconciled_over_rest_v2() {
    // A Data Center site: REST v2 only, admin webhooks that send no comment events.
    let double = JiraDouble::start().await;
    let site = double.add_site(SiteSpec::standard("dc"));
    double.make_data_center("dc");
    let app = TestApp::spawn().await;
    let state = &app.app_state;
    let db = state.store().db();
    let t = app.tenant("dc-site").await;
    let tenant = tenants::find_tenant(db, &t.id).await.unwrap();
    let user = site.users[1].clone();
    let pat = double.add_pat("dc", &user);
    credentials::connect(
        db,
        state.secrets(),
        state.jira(),
        &tenant,
        &site.base_url,
        None,
        &pat,
    )
    .await
    .unwrap();
    let tenant = tenants::find_tenant(db, &t.id).await.unwrap();
    let secret = credentials::rotate_webhook_secret(db, state.secrets(), &tenant)
        .await
        .unwrap();
    double.add_admin_webhook(
        "dc",
        &app.url(&format!("/hooks/jira/{}", t.id)),
        &["jira:issue_updated"],
        Some(&secret),
    );
    let key = double
        .create_issue(
            "dc",
            &user,
            json!({"project": {"key": "APP"}, "issuetype": {"name": "Bug"}, "summary": "SQL injection"}),
        )
        .unwrap();
    // Linking an existing ticket verifies it over REST v2.
    let (status, body) = app
        .post(&t.key, "/api/v1/findings", &verdict_e2e::finding(1, 1))
        .await;
    assert_eq!(status, 201, "{body}");
    let id = body["finding"]["id"].as_str().unwrap().to_owned();
    let (status, linked) = app
        .put(
            &t.key,
            &format!("/api/v1/findings/{id}/jira-link"),
            &json!({"issue": key}),
        )
        .await;
    assert_eq!(status, 200, "{linked}");
    // The triager explains in a comment (no webhook carries it), then closes the ticket.
    double
        .comment(
            "dc",
            &key,
            &user,
            "False positive: this code only runs in the test fixtures.",
        )
        .unwrap();
    double.transition("dc", &key, "Done", None, &user).unwrap();
    let f = app
        .wait_until(&t.key, &format!("/api/v1/findings/{id}"), 20, |b| {
            b["status"] != "open"
        })
        .await;
    assert_eq!(f["status"], "false_positive", "{f}");
    let requests = double.requests("dc");
    assert!(
        !requests.iter().any(|r| r.path.starts_with("/rest/api/3/")),
        "nothing asked of REST v3: {:?}",
        requests
            .iter()
            .filter(|r| r.path.starts_with("/rest/api/3/"))
            .map(|r| &r.path)
            .collect::<Vec<_>>()
    );
    assert!(
        requests
            .iter()
            .any(|r| r.method == "GET" && r.path.ends_with("/comment") && r.status == 200),
        "the comments were read over REST v2"
    );
    // The ticket is reopened while its webhook is lost: reconciliation reads it over REST v2
    // and reopens the finding.
    double.set_delivery(jira_double::DeliveryKnobs {
        hold: true,
        ..Default::default()
    });
    double
        .transition("dc", &key, "Reopen", None, &user)
        .unwrap();
    use verdict_server::sync::reconcile;
    let report = reconcile::run(
        state,
        &reconcile::Options {
            mode: reconcile::Mode::Import,
            tenant: Some(t.id.clone()),
            project: None,
            since: None,
            only_open: false,
            dry_run: false,
        },
    )
    .await
    .unwrap();
    assert_eq!(
        (report.summary.imported, report.summary.failed),
        (1, 0),
        "{:?}",
        report.summary
    );
    let (_, f) = app.get(&t.key, &format!("/api/v1/findings/{id}")).await;
    assert_eq!(f["status"], "open", "{f}");
    assert!(
        !double
            .requests("dc")
            .iter()
            .any(|r| r.path.starts_with("/rest/api/3/")),
        "reconciliation asked nothing of REST v3"
    );
    // An export under an epic: Data Center sets it by the Epic Link field, not `parent`.
    let epic = double
        .create_issue(
            "dc",
            &user,
            // customfield_10101: the Epic Name a Data Center epic needs.
            json!({"project": {"key": "APP"}, "issuetype": {"name": "Epic"}, "summary": "Security debt", "customfield_10101": "Security debt"}),
        )
        .unwrap();
    let (_, body) = app
        .post(&t.key, "/api/v1/findings", &verdict_e2e::finding(2, 1))
        .await;
    let second = body["finding"]["id"].as_str().unwrap().to_owned();
    let (status, body) = app
        .post(
            &t.key,
            &format!("/api/v1/findings/{second}/export"),
            &json!({"project": "APP", "parent": epic}),
        )
        .await;
    assert_eq!(status, 202, "{body}");
    let jobs = app
        .wait_until(
            &t.key,
            &format!("/api/v1/jobs?finding_id={second}&kind=create_issue"),
            20,
            |b| b["jobs"][0]["state"] == "done" || b["jobs"][0]["state"] == "failed",
        )
        .await;
    assert_eq!(jobs["jobs"][0]["state"], "done", "{jobs}");
    let (_, f) = app.get(&t.key, &format!("/api/v1/findings/{second}")).await;
    let issue = double
        .issue("dc", f["jira"]["issue_key"].as_str().unwrap())
        .unwrap();
    assert_eq!(
        issue["fields"]["customfield_10100"],
        epic.as_str(),
        "Epic Link: {issue}"
    );
    assert!(issue["fields"]["parent"].is_null(), "{issue}");
    // An epic per repository: Verdict creates it with its Epic Name, and links by Epic Link.
    let (status, body) = app
        .put(
            &t.key,
            "/api/v1/settings",
            &json!({"settings": {"ticket.epic_by": "repository"}}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (_, body) = app
        .post(&t.key, "/api/v1/findings", &verdict_e2e::finding(3, 1))
        .await;
    let third = body["finding"]["id"].as_str().unwrap().to_owned();
    let (status, body) = app
        .post(
            &t.key,
            &format!("/api/v1/findings/{third}/export"),
            &json!({"project": "APP"}),
        )
        .await;
    assert_eq!(status, 202, "{body}");
    let jobs = app
        .wait_until(
            &t.key,
            &format!("/api/v1/jobs?finding_id={third}&kind=create_issue"),
            20,
            |b| b["jobs"][0]["state"] == "done" || b["jobs"][0]["state"] == "failed",
        )
        .await;
    assert_eq!(jobs["jobs"][0]["state"], "done", "{jobs}");
    let (_, f) = app.get(&t.key, &format!("/api/v1/findings/{third}")).await;
    let issue = double
        .issue("dc", f["jira"]["issue_key"].as_str().unwrap())
        .unwrap();
    let repo_epic = issue["fields"]["customfield_10100"].as_str().unwrap();
    assert_ne!(repo_epic, epic.as_str());
    let repo_epic = double.issue("dc", repo_epic).unwrap();
    assert_eq!(
        repo_epic["fields"]["customfield_10101"],
        "Security findings in github.com/acme/repo-0"
    );
    assert!(
        !double
            .requests("dc")
            .iter()
            .any(|r| r.path.starts_with("/rest/api/3/")),
        "the create screens, the search and the creates went over REST v2"
    );
    app.stop().await;
}
