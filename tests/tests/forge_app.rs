//! Verdict as a native Forge app, against the double running the real `forge/manifest.yml`:
//! install → export → a Won't Do closure with a comment → verdict, all through Forge events and
//! the gateway with the stored app system token; retries processed once; forged tokens refused;
//! the token surviving a restart and reaching another replica; reinstall, uninstall, and a
//! Connect tenant becoming the Forge tenant of its site.

use std::time::Duration;

use jira_double::{DeliveryKnobs, JiraDouble, SiteSpec};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};
use verdict_e2e::{TestApp, TestTenant, finding};
use verdict_server::store::entities::{forge_installations, tenants, webhook_deliveries};

const APP_ID: &str = "ari:cloud:ecosystem::app/7f0a1e2b-0000-4000-8000-00000000f0f0";

fn manifest() -> String {
    std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../forge/manifest.yml"),
    )
    .expect("forge/manifest.yml")
}

async fn setup(sites: &[&str]) -> (JiraDouble, TestApp) {
    let double = JiraDouble::start().await;
    for s in sites {
        double.add_site(SiteSpec::standard(s));
    }
    let (keys, jwks) = (double.install_keys_url(), double.forge_jwks_url());
    let app = TestApp::spawn_with(|c| {
        c.install_keys_url = keys.parse().unwrap();
        c.forge_jwks_url = jwks.parse().unwrap();
        c.forge_app_id = Some(APP_ID.into());
    })
    .await;
    (double, app)
}

async fn install(double: &JiraDouble, app: &TestApp, site: &str) -> String {
    double
        .install_forge_app(site, APP_ID, &manifest(), &app.url(""))
        .await
        .unwrap()
}

/// The tenant of a Forge installation, and an API key for it.
async fn tenant_of(app: &TestApp, installation_id: &str) -> TestTenant {
    let db = app.app_state.store().db();
    let row = forge_installations::Entity::find_by_id(installation_id)
        .one(db)
        .await
        .unwrap()
        .expect("Verdict recorded the installation");
    app.key_for_tenant(&row.tenant_id).await
}

/// Imports finding `i`, exports it to `APP` and waits for its ticket: (finding id, issue key).
async fn exported(app: &TestApp, t: &TestTenant, i: usize) -> (String, String) {
    let (status, f) = app.post(&t.key, "/api/v1/findings", &finding(i, 1)).await;
    assert_eq!(status, 201, "{f}");
    let id = f["finding"]["id"].as_str().unwrap().to_owned();
    let (status, body) = app
        .post(
            &t.key,
            &format!("/api/v1/findings/{id}/export"),
            &json!({"project": "APP"}),
        )
        .await;
    assert_eq!(status, 202, "{body}");
    let done = app
        .wait_until(&t.key, &format!("/api/v1/findings/{id}"), 30, |f| {
            f["jira"]["issue_key"].is_string()
        })
        .await;
    let key = done["jira"]["issue_key"].as_str().unwrap().to_owned();
    (id, key)
}

async fn inbox(app: &TestApp, tenant: &str) -> Vec<webhook_deliveries::Model> {
    webhook_deliveries::Entity::find()
        .filter(webhook_deliveries::Column::TenantId.eq(tenant))
        .all(app.app_state.store().db())
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forge_site_goes_from_install_to_a_closure_verdict() {
    let (double, app) = setup(&["acme"]).await;
    let site = double.site("acme");
    let installation = install(&double, &app, "acme").await;
    let t = tenant_of(&app, &installation).await;
    let db = app.app_state.store().db();
    let row = tenants::Entity::find_by_id(&t.id)
        .one(db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.kind, "forge");
    assert_eq!(row.site_url.as_deref(), Some(site.base_url.as_str()));
    assert_eq!(row.installation_id.as_deref(), Some(installation.as_str()));
    let inst = forge_installations::Entity::find_by_id(&installation)
        .one(db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(inst.cloud_id, site.cloud_id);
    let sealed = inst.system_token.expect("the system token is stored");
    assert!(
        sealed.starts_with("v1.") && !sealed.contains("forge-sys-"),
        "encrypted"
    );
    let (_, conn) = app.get(&t.key, "/api/v1/connection").await;
    assert_eq!(conn["kind"], "forge", "{conn}");

    // Export: the outbox calls the gateway with the stored system token.
    let (id, key) = exported(&app, &t, 1).await;
    assert!(
        double.requests("acme").iter().any(|r| matches!(
            r.auth,
            jira_double::AuthKind::ForgeSystemToken { .. }
        ) && r.method == "POST"),
        "created through the gateway with the app's system token"
    );

    // A triager explains and closes it Won't Do; every Forge event is delivered twice (the
    // second time as a retry, with retryContext): each is stored and processed once.
    double.set_delivery(DeliveryKnobs {
        duplicates: 1,
        ..Default::default()
    });
    let user = site.users[1].clone();
    double
        .comment(
            "acme",
            &key,
            &user,
            "False positive: this code only runs in the test suite, it is never deployed.",
        )
        .unwrap();
    double
        .transition("acme", &key, "Won't Do", None, &user)
        .unwrap();
    assert!(double.wait_for_deliveries(Duration::from_secs(20)).await);
    let decided = app
        .wait_until(&t.key, &format!("/api/v1/findings/{id}"), 30, |f| {
            f["status"] != "open"
        })
        .await;
    assert_eq!(decided["status"], "false_positive", "{decided}");
    let forge_events: Vec<_> = double
        .deliveries()
        .into_iter()
        .filter(|d| d.event.starts_with("avi:jira:"))
        .collect();
    let triage: Vec<_> = forge_events
        .iter()
        .filter(|d| {
            d.event == "avi:jira:commented:issue"
                || d.body.to_string().contains("\"fieldId\":\"status\"")
        })
        .collect();
    assert!(
        triage.len() >= 2 && triage.iter().all(|d| d.attempts.len() == 2),
        "the comment's and the transition's events went out twice"
    );
    let rows = inbox(&app, &t.id).await;
    assert!(rows.iter().all(|r| r.source == "forge"));
    assert_eq!(
        rows.len(),
        forge_events.len(),
        "one inbox row per event, whatever the retries"
    );
    let events = app
        .get(&t.key, &format!("/api/v1/findings/{id}/events"))
        .await
        .1;
    let closures = events["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["to_status"] == "false_positive")
        .count();
    assert_eq!(closures, 1, "{events}");

    // A forged invocation token, and none at all, are refused.
    let claims = jira_double::forge::fit_claims(
        APP_ID,
        &installation,
        &site.cloud_id,
        &site.gateway_url,
        "verdict-events",
        now(),
    );
    let forged = jira_double::jwt::rs256(
        &claims,
        jira_double::install::ATTACKER_PRIVATE_PEM,
        jira_double::forge::FORGE_KID,
    );
    let body = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures/forge-events/issue-updated-closed.json"),
    )
    .unwrap();
    for token in [Some(forged), None] {
        let mut r = app
            .client
            .post(app.url("/forge/events"))
            .header("content-type", "application/json")
            .body(body.clone());
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        assert_eq!(r.send().await.unwrap().status(), 401);
    }
    assert_eq!(inbox(&app, &t.id).await.len(), rows.len());
    app.stop().await;
}

/// A status changed in Verdict moves the ticket (with the app system token); the Forge event of
/// that move comes back and is recognised as Verdict's own, not read as a person's closure.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verdicts_own_transition_comes_back_as_an_event_and_is_not_a_decision() {
    let (double, app) = setup(&["acme"]).await;
    let installation = install(&double, &app, "acme").await;
    let t = tenant_of(&app, &installation).await;
    let (id, key) = exported(&app, &t, 6).await;
    let (status, body) = app
        .patch(
            &t.key,
            &format!("/api/v1/findings/{id}"),
            &json!({"status": "resolved"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    app.wait_until(&t.key, "/api/v1/jobs", 30, |_| {
        double
            .status_of("acme", &key)
            .is_some_and(|(_, category, _)| category == "done")
    })
    .await;
    assert!(double.wait_for_deliveries(Duration::from_secs(10)).await);
    let moved = double
        .deliveries()
        .into_iter()
        .filter(|d| d.event == "avi:jira:updated:issue")
        .find(|d| d.body.to_string().contains("\"changelog\""))
        .expect("the move was sent as a Forge event");
    assert_eq!(
        moved.body["payload"]["selfGenerated"], true,
        "{}",
        moved.body
    );
    let db = app.app_state.store().db();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let done = loop {
        let rows = inbox(&app, &t.id).await;
        // The event of the move (a status change), once processed.
        if let Some(r) = rows.iter().find(|r| {
            r.event == "avi:jira:updated:issue"
                && r.body.contains("\"fieldId\":\"status\"")
                && r.state != "pending"
                && r.state != "processing"
        }) {
            break r.clone();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the move's event was not processed"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let (_, row) = app.get(&t.key, &format!("/api/v1/findings/{id}")).await;
    assert_eq!(row["status"], "resolved");
    assert!(
        done.outcome
            .as_deref()
            .unwrap_or("")
            .contains("Verdict's own transition"),
        "{:?}",
        done.outcome
    );
    let closures = verdict_server::store::entities::decisions::Entity::find()
        .filter(verdict_server::store::entities::decisions::Column::Kind.eq("closure"))
        .all(db)
        .await
        .unwrap();
    assert!(closures.is_empty(), "no closure was decided: {closures:?}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_system_token_is_shared_durable_and_jobs_wait_for_a_new_one() {
    let (double, app) = setup(&["acme"]).await;
    let installation = install(&double, &app, "acme").await;
    let t = tenant_of(&app, &installation).await;
    let client = verdict_server::jira::JiraClient::default();

    // A restarted Verdict, and another replica on the same database, call Jira with it.
    let app = app.restart().await;
    let auth = app.app_state.jira_auth(&t.id).await.unwrap();
    assert_eq!(auth.kind(), "forge");
    let me = client.get(&auth, "/rest/api/3/myself").await.unwrap();
    assert!(
        me["accountId"].as_str().unwrap().starts_with("app:"),
        "{me}"
    );
    if app.on_postgres() {
        let replica = app.replica().await;
        let auth = replica.state.jira_auth(&t.id).await.unwrap();
        client.get(&auth, "/rest/api/3/myself").await.unwrap();
        replica.kill();
    }

    // An hour later the token is gone (on both sides): an export waits — it is not
    // dead-lettered — and the connection says why; the scheduled trigger brings a new token
    // and the export goes through.
    double.clock().advance(Duration::from_secs(56 * 60));
    let db = app.app_state.store().db();
    let mut row: forge_installations::ActiveModel =
        forge_installations::Entity::find_by_id(&installation)
            .one(db)
            .await
            .unwrap()
            .unwrap()
            .into();
    row.token_expires_at = sea_orm::Set(Some(chrono::Utc::now() - chrono::Duration::minutes(1)));
    sea_orm::ActiveModelTrait::update(row, db).await.unwrap();
    let app = app.restart().await; // nothing held in memory either
    let (_, conn) = app.get(&t.key, "/api/v1/connection").await;
    assert_eq!(conn["forge"]["token_valid_until"], Value::Null, "{conn}");
    let (_, f) = app.post(&t.key, "/api/v1/findings", &finding(2, 1)).await;
    let id = f["finding"]["id"].as_str().unwrap().to_owned();
    let (status, _) = app
        .post(
            &t.key,
            &format!("/api/v1/findings/{id}/export"),
            &json!({"project": "APP"}),
        )
        .await;
    assert_eq!(status, 202);
    let jobs = app
        .wait_until(&t.key, "/api/v1/jobs", 20, |b| {
            b["jobs"].as_array().is_some_and(|j| {
                j.iter().any(|j| {
                    j["last_error"]
                        .as_str()
                        .is_some_and(|e| e.contains("waiting for Jira credentials"))
                })
            })
        })
        .await;
    let job = &jobs["jobs"].as_array().unwrap()[0];
    assert_eq!(job["state"], "pending", "waiting, not failed: {job}");
    assert_eq!(job["attempts"], 0, "waiting uses up no attempt: {job}");

    double.run_scheduled_triggers("acme", APP_ID).await;
    let (_, conn) = app.get(&t.key, "/api/v1/connection").await;
    assert!(conn["forge"]["token_valid_until"].is_string(), "{conn}");
    // The token's arrival makes the waiting job due at once.
    app.wait_until(&t.key, &format!("/api/v1/findings/{id}"), 30, |f| {
        f["jira"]["issue_key"].is_string()
    })
    .await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_scheduled_trigger_catches_up_closures_whose_events_were_lost() {
    let (double, app) = setup(&["acme"]).await;
    let installation = install(&double, &app, "acme").await;
    let t = tenant_of(&app, &installation).await;
    let (id, key) = exported(&app, &t, 5).await;
    assert!(double.wait_for_deliveries(Duration::from_secs(10)).await);

    // The closure's events never reach Verdict (held by Forge, never sent).
    double.set_delivery(DeliveryKnobs {
        hold: true,
        ..Default::default()
    });
    let user = double.site("acme").users[1].clone();
    double
        .transition("acme", &key, "Done", None, &user)
        .unwrap();
    double.set_delivery(DeliveryKnobs::default());
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (_, still) = app.get(&t.key, &format!("/api/v1/findings/{id}")).await;
    assert_eq!(still["status"], "open");

    // The next scheduled run reconciles the tenant's tickets: the closure is decided.
    double.run_scheduled_triggers("acme", APP_ID).await;
    let caught_up = app
        .wait_until(&t.key, &format!("/api/v1/findings/{id}"), 30, |f| {
            f["status"] != "open"
        })
        .await;
    assert_eq!(caught_up["status"], "resolved", "{caught_up}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reinstall_keeps_the_tenant_and_an_uninstall_stops_it() {
    let (double, app) = setup(&["acme"]).await;
    let first = install(&double, &app, "acme").await;
    let t = tenant_of(&app, &first).await;
    let (_, f) = app.post(&t.key, "/api/v1/findings", &finding(3, 1)).await;
    let finding_id = f["finding"]["id"].as_str().unwrap().to_owned();

    double.uninstall_forge_app("acme", APP_ID).await;
    let db = app.app_state.store().db();
    let row = tenants::Entity::find_by_id(&t.id)
        .one(db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.status, "uninstalled");
    assert!(row.uninstalled_at.is_some());
    let err = app.app_state.jira_auth(&t.id).await.unwrap_err();
    assert!(err.to_string().contains("uninstalled"), "{err}");
    // A late event of the old installation is refused as gone, and counted.
    let site = double.site("acme");
    let claims = jira_double::forge::fit_claims(
        APP_ID,
        &first,
        &site.cloud_id,
        &site.gateway_url,
        "verdict-events",
        now(),
    );
    let r = app
        .client
        .post(app.url("/forge/events"))
        .bearer_auth(jira_double::forge::sign_fit(&claims))
        .header("x-forge-oauth-system", "forge-sys-stale")
        .json(&json!({"payload": {"eventType": "avi:jira:updated:issue", "issue": {"id": "1"}}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 410);
    assert!(
        app.metrics_text()
            .await
            .contains("scheme=\"forge-event\",reason=\"uninstalled\"")
    );
    // The remote (a UI resolver of the old installation) is gone too, and the tenant's API
    // keys stop working until the app is installed again.
    let claims = jira_double::forge::fit_claims(
        APP_ID,
        &first,
        &site.cloud_id,
        &site.gateway_url,
        "verdict-ui",
        now(),
    );
    let r = app
        .client
        .post(app.url("/forge/remote"))
        .bearer_auth(jira_double::forge::sign_fit(&claims))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 410);
    let (status, err) = app.get(&t.key, "/api/v1/findings").await;
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (403, Some("tenant_uninstalled")),
        "{err}"
    );

    // Installed again: Forge gives a new installation id; the same tenant comes back, with
    // its findings.
    let second = install(&double, &app, "acme").await;
    assert_ne!(first, second);
    let again = tenant_of(&app, &second).await;
    assert_eq!(again.id, t.id);
    let row = tenants::Entity::find_by_id(&t.id)
        .one(db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.status, "active");
    assert_eq!(row.installation_id.as_deref(), Some(second.as_str()));
    let (status, _) = app
        .get(&t.key, &format!("/api/v1/findings/{finding_id}"))
        .await;
    assert_eq!(status, 200);
    app.app_state
        .jira_auth(&t.id)
        .await
        .expect("callable again");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connect_tenant_becomes_the_forge_tenant_of_its_site() {
    let (double, app) = setup(&["acme", "lonely"]).await;
    let connect = double
        .install_app("acme", &app.url("/atlassian-connect.json"))
        .await
        .unwrap();
    let t = app.key_for_client(&connect.client_key).await;
    let (id, key) = exported(&app, &t, 4).await;
    assert!(double.wait_for_deliveries(Duration::from_secs(10)).await);

    // The site installs the Forge app: the Connect tenant becomes its Forge tenant, with its
    // findings, keys and links.
    let installation = install(&double, &app, "acme").await;
    let migrated = tenant_of(&app, &installation).await;
    assert_eq!(migrated.id, t.id);
    let (_, conn) = app.get(&t.key, "/api/v1/connection").await;
    assert_eq!(conn["kind"], "forge", "{conn}");
    // A site without a Connect tenant gets a new one.
    let lonely = install(&double, &app, "lonely").await;
    assert_ne!(tenant_of(&app, &lonely).await.id, t.id);

    // The ticket closes: the Forge event decides it; the Connect app's webhook for the same
    // change (still installed) is acknowledged and dropped.
    let user = double.site("acme").users[1].clone();
    double
        .transition("acme", &key, "Done", None, &user)
        .unwrap();
    assert!(double.wait_for_deliveries(Duration::from_secs(20)).await);
    let decided = app
        .wait_until(&t.key, &format!("/api/v1/findings/{id}"), 30, |f| {
            f["status"] != "open"
        })
        .await;
    assert_eq!(decided["status"], "resolved", "{decided}");
    let rows = inbox(&app, &t.id).await;
    let after: Vec<_> = rows
        .iter()
        .filter(|r| r.event.starts_with("avi:") || r.event == "jira:issue_updated")
        .filter(|r| r.body.contains(&key))
        .map(|r| r.source.as_str())
        .collect();
    assert!(after.contains(&"forge"), "{after:?}");
    assert!(
        double
            .deliveries()
            .iter()
            .any(|d| d.event == "jira:issue_updated"
                && d.state == jira_double::DeliveryState::Delivered),
        "the Connect webhook was answered"
    );
    assert!(app.metrics_text().await.contains("superseded"));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_remote_refuses_other_apps_forged_and_missing_tokens() {
    let (double, app) = setup(&["acme"]).await;
    let remote = app.url("/forge/remote");
    // A Forge invocation on a site Verdict has not seen attaches it (a new tenant) and says so.
    let (status, body) = double
        .invoke_forge_remote("acme", APP_ID, &remote, &json!({}))
        .await
        .unwrap();
    assert_eq!(status, 200, "{body}");
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["status"], "active");
    assert_eq!(body["site"], double.site("acme").base_url);
    let (status, _) = double
        .invoke_forge_remote(
            "acme",
            "ari:cloud:ecosystem::app/someone-else",
            &remote,
            &json!({}),
        )
        .await
        .unwrap();
    assert_eq!(status, 401, "a token for another app");
    let site = double.site("acme");
    let claims = jira_double::forge::fit_claims(
        APP_ID,
        "ari:cloud:ecosystem::installation/x",
        &site.cloud_id,
        &site.gateway_url,
        "verdict-ui",
        now(),
    );
    let forged = jira_double::jwt::rs256(
        &claims,
        jira_double::install::ATTACKER_PRIVATE_PEM,
        jira_double::forge::FORGE_KID,
    );
    let r = app
        .client
        .post(&remote)
        .bearer_auth(forged)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401, "signed with another key");
    let r = app
        .client
        .post(&remote)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401, "no token");
    // A valid token whose apiBaseUrl is not a gateway URL is refused, not guessed at.
    let mut odd = claims.clone();
    odd["app"]["apiBaseUrl"] = json!("https://acme.atlassian.net");
    let r = app
        .client
        .post(&remote)
        .bearer_auth(jira_double::forge::sign_fit(&odd))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    app.stop().await;
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}
