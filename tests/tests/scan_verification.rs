//! Scan verification against the Jira double: a Resolved verdict is checked by the next scan.
//! A resolved finding the scanner reports again reopens (finding, ticket, event, the decision
//! marked contradicted, the metric and the quality view); false positives and accepted risks
//! in force stay; a full-scan import resolves what it no longer reports.

use chrono::{Duration as ChronoDuration, Utc};
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};
use verdict_e2e::{JiraWorld, finding};
use verdict_server::store::entities::{decisions, risk_expiries};

async fn import(w: &JiraWorld, body: Value) -> (u16, Value) {
    w.app.post(&w.t.key, "/api/v1/findings:batch", &body).await
}

async fn status(w: &JiraWorld, id: &str) -> String {
    let (_, f) = w.app.get(&w.t.key, &format!("/api/v1/findings/{id}")).await;
    f["status"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resolved_finding_reported_again_reopens_with_its_ticket() {
    let w = JiraWorld::start(|_| {}).await;
    let pairs = w.linked(1).await;
    let (id, key) = &pairs[0];

    // Closed as Done with a fix comment: the default policy resolves it.
    w.double
        .comment("acme", key, &w.user, "Fixed in 2.4.1, deployed.")
        .unwrap();
    w.double
        .transition("acme", key, "Done", None, &w.user)
        .unwrap();
    w.app
        .wait_until(&w.t.key, &format!("/api/v1/findings/{id}"), 15, |b| {
            b["status"] == "resolved"
        })
        .await;

    // The next scan still reports it.
    let (s, body) = import(&w, json!({"findings": [finding(0, 1)]})).await;
    assert_eq!(s, 200, "{body}");
    let import_id = body["import_id"].as_str().unwrap().to_owned();
    assert_eq!(body["reopened"], json!([id]), "{body}");
    assert_eq!(status(&w, id).await, "open");
    let events = w.events(id).await;
    let reopened = events.last().unwrap();
    assert_eq!(reopened["kind"], "reopened", "{events:?}");
    assert_eq!(reopened["source"], "scan");
    assert_eq!(reopened["from_status"], "resolved", "{reopened}");
    assert!(
        reopened["reason"].as_str().unwrap().contains(&import_id),
        "{reopened}"
    );

    // The ticket is reopened through the outbox, with the transition decision.
    w.app.outbox_idle(15).await;
    let (_, category, _) = w.double.status_of("acme", key).unwrap();
    assert_ne!(category, "done", "the ticket is open again");

    // The decision that resolved it is marked contradicted by this import.
    let rows = decisions::Entity::find()
        .filter(decisions::Column::TenantId.eq(&w.t.id))
        .filter(decisions::Column::Kind.eq("closure"))
        .all(w.app.app_state.store().db())
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].contradicted_by.as_deref(), Some(import_id.as_str()));
    assert!(rows[0].contradicted_at.is_some());

    // The quality view and the metric count it, per rule and resolution.
    let (s, q) = w.app.get(&w.t.key, "/api/v1/quality/resolved").await;
    assert_eq!(s, 200, "{q}");
    assert_eq!(
        q["records"],
        json!([{"rule": "default", "resolution": "Done", "resolved": 1, "contradicted": 1,
                "contradicted_rate": 1.0}])
    );
    let metrics = w.app.metrics_text().await;
    assert!(
        metrics
            .contains(r#"verdict_resolved_contradicted_total{rule="default",resolution="Done"} 1"#),
        "{metrics}"
    );

    // Reported once more, it is already open: nothing more happens.
    let (_, body) = import(&w, json!({"findings": [finding(0, 1)]})).await;
    assert_eq!(body["reopened"], json!([]));
    let (_, q) = w.app.get(&w.t.key, "/api/v1/quality/resolved").await;
    assert_eq!(q["records"][0]["contradicted"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn false_positives_and_accepted_risks_stay_unless_the_risk_expired() {
    let w = JiraWorld::start(|_| {}).await;
    let mut ids = Vec::new();
    let (s, body) = import(
        &w,
        json!({"findings": [finding(1, 1), finding(2, 1), finding(3, 1)]}),
    )
    .await;
    assert_eq!(s, 200, "{body}");
    for item in body["items"].as_array().unwrap() {
        ids.push(item["id"].as_str().unwrap().to_owned());
    }
    let mark = |id: String, to: &'static str| {
        let w = &w;
        async move {
            let (s, b) = w
                .app
                .patch(
                    &w.t.key,
                    &format!("/api/v1/findings/{id}"),
                    &json!({"status": to, "reason": "triaged"}),
                )
                .await;
            assert_eq!(s, 200, "{b}");
        }
    };
    mark(ids[0].clone(), "false_positive").await;
    mark(ids[1].clone(), "accepted_risk").await;
    mark(ids[2].clone(), "accepted_risk").await;
    // The third's acceptance ran out yesterday (the expiry sweep has not run yet).
    let db = w.app.app_state.store().db();
    risk_expiries::Entity::delete_many()
        .filter(risk_expiries::Column::FindingId.eq(&ids[2]))
        .exec(db)
        .await
        .unwrap();
    risk_expiries::Entity::insert(risk_expiries::ActiveModel {
        finding_id: Set(ids[2].clone()),
        tenant_id: Set(w.t.id.clone()),
        expires_at: Set(Utc::now() - ChronoDuration::days(1)),
    })
    .exec(db)
    .await
    .unwrap();

    let (s, body) = import(
        &w,
        json!({"findings": [finding(1, 1), finding(2, 2), finding(3, 1)]}),
    )
    .await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["reopened"], json!([ids[2]]), "{body}");
    assert_eq!(status(&w, &ids[0]).await, "false_positive");
    assert_eq!(status(&w, &ids[1]).await, "accepted_risk");
    assert_eq!(status(&w, &ids[2]).await, "open");
    let ev = w.events(&ids[2]).await;
    assert!(
        ev.last().unwrap()["reason"]
            .as_str()
            .unwrap()
            .contains("accepted risk expired"),
        "{ev:?}"
    );
    let left = risk_expiries::Entity::find()
        .filter(risk_expiries::Column::FindingId.eq(&ids[2]))
        .all(db)
        .await
        .unwrap();
    assert!(left.is_empty(), "the expiry went with the acceptance");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_scan_import_resolves_what_it_no_longer_reports() {
    let w = JiraWorld::start(|_| {}).await;
    // finding(i) for i ≡ 0 (mod 15) is repository repo-0, scan type sast.
    let pairs = w.linked(31).await;
    let in_scope = |i: usize| pairs[i].0.clone();
    let (a, b, c, d) = (in_scope(0), in_scope(15), in_scope(30), in_scope(1));
    // A false positive in the scope stays one.
    let (s, body) = w
        .app
        .patch(
            &w.t.key,
            &format!("/api/v1/findings/{c}"),
            &json!({"status": "false_positive", "reason": "vendored test data"}),
        )
        .await;
    assert_eq!(s, 200, "{body}");
    w.app.outbox_idle(15).await;
    w.settled(30).await;

    let scope = json!({"repository": "github.com/acme/repo-0", "scan_type": "SAST"});
    // Refused before anything is written: no scope, an item outside it, an invalid item.
    let (s, body) = import(
        &w,
        json!({"findings": [finding(0, 1)], "close_missing": true}),
    )
    .await;
    assert_eq!(s, 422, "{body}");
    assert_eq!(body["error"]["field"], "scope", "{body}");
    let (s, body) = import(
        &w,
        json!({"findings": [finding(0, 1), finding(1, 1)], "scope": scope, "close_missing": true}),
    )
    .await;
    assert_eq!(s, 422, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("index 1"),
        "{body}"
    );
    let mut broken = finding(45, 1);
    broken["severity"] = json!("dreadful");
    let (s, body) = import(
        &w,
        json!({"findings": [finding(0, 1), broken], "scope": scope, "close_missing": true}),
    )
    .await;
    assert_eq!(s, 422, "{body}");
    assert_eq!(status(&w, &b).await, "open", "nothing was closed");

    // The whole scan of repo-0/sast reports only finding 0.
    let (s, body) = import(
        &w,
        json!({"findings": [finding(0, 1)], "scope": scope, "close_missing": true}),
    )
    .await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["closed"], json!([b]), "{body}");
    assert_eq!(status(&w, &a).await, "open", "still reported");
    assert_eq!(status(&w, &b).await, "resolved");
    assert_eq!(status(&w, &c).await, "false_positive", "left alone");
    assert_eq!(status(&w, &d).await, "open", "another scope");
    let ev = w.events(&b).await;
    let closed = ev.last().unwrap();
    assert_eq!(closed["source"], "scan", "{closed}");
    assert!(
        closed["reason"]
            .as_str()
            .unwrap()
            .contains("not reported by the full scan of github.com/acme/repo-0 (sast)"),
        "{closed}"
    );
    // Its ticket is closed the same way a Verdict-side change is.
    w.app.outbox_idle(15).await;
    let (_, category, _) = w.double.status_of("acme", &pairs[15].1).unwrap();
    assert_eq!(category, "done");
    let (_, category, _) = w.double.status_of("acme", &pairs[0].1).unwrap();
    assert_ne!(category, "done");
}
