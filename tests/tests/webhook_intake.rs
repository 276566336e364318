//! Webhook intake end to end: the Jira double delivers signed webhooks to Verdict, which
//! stores each delivery once before acknowledging it; forged ones get 401.

use std::time::Duration;

use jira_double::{DeliveryKnobs, JiraDouble, SiteSpec, jwt, qsh};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::json;
use verdict_e2e::{TestApp, read};
use verdict_server::store::entities::{rejected_deliveries, webhook_deliveries};

async fn installed() -> (JiraDouble, TestApp, jira_double::Installed) {
    let double = JiraDouble::start().await;
    double.add_site(SiteSpec::standard("acme"));
    let keys = double.install_keys_url();
    let app = TestApp::spawn_with(|c| c.install_keys_url = keys.parse().unwrap()).await;
    let inst = double
        .install_app("acme", &app.url("/atlassian-connect.json"))
        .await
        .unwrap();
    (double, app, inst)
}

async fn inbox(app: &TestApp) -> Vec<webhook_deliveries::Model> {
    webhook_deliveries::Entity::find()
        .all(app.app_state.store().db())
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_deliveries_are_stored_once_before_the_ack() {
    let (double, app, _) = installed().await;
    let site = double.site("acme");
    double.set_delivery(DeliveryKnobs {
        duplicates: 2,
        retry_backoff: Duration::from_millis(20),
        ..Default::default()
    });
    let key = double.create_issue("acme", &site.users[1], json!({"project": {"key": "APP"}, "issuetype": {"name": "Bug"}, "summary": "XSS", "description": "details"})).unwrap();
    double
        .transition("acme", &key, "Done", None, &site.users[1])
        .unwrap();
    double
        .comment(
            "acme",
            &key,
            &site.users[1],
            "false positive: only in test fixtures",
        )
        .unwrap();
    assert!(double.wait_for_deliveries(Duration::from_secs(10)).await);

    let sent = double.deliveries();
    assert!(
        sent.iter()
            .all(|d| d.attempts.iter().all(|a| a.status == Some(204))),
        "every attempt was acknowledged"
    );
    let to_verdict: Vec<_> = sent
        .iter()
        .filter(|d| d.url.ends_with("/connect/webhooks/jira"))
        .collect();
    // The descriptor subscribes to issue_updated, issue_deleted and the comment events.
    let events: Vec<&str> = to_verdict.iter().map(|d| d.event.as_str()).collect();
    assert_eq!(
        events,
        vec![
            "jira:issue_updated",
            "jira:issue_updated",
            "comment_created"
        ]
    );
    assert!(
        to_verdict.iter().all(|d| d.attempts.len() == 3),
        "each arrived three times"
    );

    let stored = inbox(&app).await;
    assert_eq!(stored.len(), 3, "duplicates are stored once");
    for d in &to_verdict {
        let row = stored
            .iter()
            .find(|r| r.identifier == d.identifier)
            .expect("stored under Jira's identifier");
        assert_eq!(row.event, d.event);
        // Workers may have processed it already: the issue is linked to no finding.
        assert!(
            ["pending", "processing", "ignored"].contains(&row.state.as_str()),
            "{}",
            row.state
        );
        let body: serde_json::Value = serde_json::from_str(&row.body).unwrap();
        assert_eq!(body, d.body, "the raw delivery is kept");
    }
    let metrics = app.metrics_text().await;
    assert!(
        metrics.contains(r#"verdict_webhook_deliveries_total{outcome="stored"} 3"#),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"verdict_webhook_deliveries_total{outcome="duplicate"} 6"#),
        "{metrics}"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_and_malformed_deliveries_are_refused() {
    let (double, app, inst) = installed().await;
    let url = app.url("/connect/webhooks/jira");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let good_qsh = qsh::qsh("POST", "/connect/webhooks/jira", "");
    let token = |claims: serde_json::Value, secret: &str| jwt::hs256(&claims, secret);
    let claims =
        |iss: &str, qsh: &str, exp: i64| json!({"iss": iss, "iat": now, "exp": exp, "qsh": qsh});
    let body = json!({"timestamp": 1, "webhookEvent": "jira:issue_updated", "issue": {"id": "1", "key": "APP-1"}});
    let post = |auth: String, body: String, id: &str| {
        app.client
            .post(&url)
            .header("Authorization", auth)
            .header("X-Atlassian-Webhook-Identifier", id)
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    let cases = [
        (
            "wrong secret",
            token(
                claims(&inst.client_key, &good_qsh, now + 60),
                "not-the-secret",
            ),
        ),
        (
            "wrong qsh",
            token(
                claims(
                    &inst.client_key,
                    &qsh::qsh("POST", "/connect/installed", ""),
                    now + 60,
                ),
                &inst.shared_secret,
            ),
        ),
        (
            "expired",
            token(
                claims(&inst.client_key, &good_qsh, now - 600),
                &inst.shared_secret,
            ),
        ),
        (
            "context qsh on a webhook route",
            token(
                claims(&inst.client_key, "context-qsh", now + 60),
                &inst.shared_secret,
            ),
        ),
        (
            "unknown tenant",
            token(
                claims("jira:nobody", &good_qsh, now + 60),
                &inst.shared_secret,
            ),
        ),
        (
            "no qsh",
            token(
                json!({"iss": inst.client_key, "iat": now, "exp": now + 60}),
                &inst.shared_secret,
            ),
        ),
    ];
    let reasons = [
        "bad_signature",
        "qsh_mismatch",
        "expired",
        "context_qsh",
        "unknown_tenant",
        "missing_qsh",
    ];
    for (name, t) in cases {
        let (status, err) = read(
            post(format!("JWT {t}"), body.to_string(), name)
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(status, 401, "{name}: {err}");
        assert_eq!(err["error"]["code"], "invalid_jwt", "{name}");
    }
    assert_eq!(
        post("Bearer x".into(), body.to_string(), "none")
            .await
            .unwrap()
            .status(),
        401
    );
    assert!(inbox(&app).await.is_empty(), "nothing forged was stored");

    // Each refusal is counted against the tenant the token named (an unknown site is
    // `unknown`, so a forger cannot mint label values) with a fixed reason.
    let tenant = verdict_server::tenants::connect::find_by_client_key(
        app.app_state.store().db(),
        &inst.client_key,
    )
    .await
    .unwrap()
    .unwrap()
    .id;
    let metrics = app.metrics_text().await;
    for reason in reasons {
        let who = if reason == "unknown_tenant" {
            "unknown"
        } else {
            tenant.as_str()
        };
        let line = format!(
            r#"verdict_auth_refused_total{{scheme="connect-jwt",reason="{reason}",tenant="{who}"}} 1"#
        );
        assert!(metrics.contains(&line), "{line} in\n{metrics}");
    }
    assert!(
        metrics.contains(
            r#"verdict_auth_refused_total{scheme="connect-jwt",reason="missing",tenant="unknown"} 1"#
        ),
        "{metrics}"
    );
    assert!(
        !metrics.contains("jira:nobody"),
        "label values are never taken from a token"
    );

    // Valid: accepted. The same identifier again: accepted, not stored twice.
    let valid = format!(
        "JWT {}",
        token(
            claims(&inst.client_key, &good_qsh, now + 60),
            &inst.shared_secret
        )
    );
    assert_eq!(
        post(valid.clone(), body.to_string(), "id-1")
            .await
            .unwrap()
            .status(),
        204
    );
    assert_eq!(
        post(valid.clone(), body.to_string(), "id-1")
            .await
            .unwrap()
            .status(),
        204
    );
    assert_eq!(inbox(&app).await.len(), 1);

    // Malformed JSON from a genuine sender: 400 with the reason, kept for the admin.
    let (status, err) = read(
        post(valid.clone(), "{\"webhookEvent\": ".into(), "id-2")
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(err["error"]["code"], "malformed_webhook");
    let (status, _) = read(
        post(valid.clone(), "{\"no\": \"event\"}".into(), "id-3")
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 400);
    let rejected = rejected_deliveries::Entity::find()
        .all(app.app_state.store().db())
        .await
        .unwrap();
    assert_eq!(rejected.len(), 2);
    assert!(
        rejected[0].reason.contains("not valid JSON"),
        "{}",
        rejected[0].reason
    );
    assert_eq!(rejected[0].body_excerpt, "{\"webhookEvent\": ");

    // Over the limit: 413.
    let big = format!(
        "{{\"webhookEvent\": \"x\", \"pad\": \"{}\"}}",
        "a".repeat(6 * 1024 * 1024)
    );
    let r = post(valid.clone(), big, "id-4").await.unwrap();
    assert_eq!(r.status(), 413);

    // After uninstall the site's deliveries are refused.
    double
        .uninstall_app("acme", "io.verdict.jira")
        .await
        .unwrap();
    assert_eq!(
        post(valid, body.to_string(), "id-5")
            .await
            .unwrap()
            .status(),
        401
    );
    let stored: Vec<_> = webhook_deliveries::Entity::find()
        .filter(webhook_deliveries::Column::Identifier.eq("id-5"))
        .all(app.app_state.store().db())
        .await
        .unwrap();
    assert!(stored.is_empty());
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_cached_secret_never_refuses_a_genuine_delivery() {
    let (_double, app, inst) = installed().await;
    let db = app.app_state.store().db();
    let row = verdict_server::tenants::connect::find_by_client_key(db, &inst.client_key)
        .await
        .unwrap()
        .unwrap();
    // As if another replica handled a reinstall: this one still caches an old secret.
    app.app_state
        .connect_cache()
        .put(&inst.client_key, row, "an-old-secret".into());
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let claims = json!({"iss": inst.client_key, "iat": now, "exp": now + 60, "qsh": qsh::qsh("POST", "/connect/webhooks/jira", "")});
    let r = app
        .client
        .post(app.url("/connect/webhooks/jira"))
        .header(
            "Authorization",
            format!("JWT {}", jwt::hs256(&claims, &inst.shared_secret)),
        )
        .header("X-Atlassian-Webhook-Identifier", "after-reinstall")
        .json(&json!({"webhookEvent": "comment_created", "issue": {"id": "1"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204, "re-checked against the database");
    assert_eq!(inbox(&app).await.len(), 1);
    // And a token signed with the stale secret is refused.
    let r = app
        .client
        .post(app.url("/connect/webhooks/jira"))
        .header(
            "Authorization",
            format!("JWT {}", jwt::hs256(&claims, "an-old-secret")),
        )
        .header("X-Atlassian-Webhook-Identifier", "stale")
        .json(&json!({"webhookEvent": "comment_created", "issue": {"id": "1"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    app.stop().await;
}
