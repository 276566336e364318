//! Rules written in TypeScript and Python go through the same path as Rust ones: upload,
//! activation, a closure or an import against the Jira double, replay, typed errors and the
//! metrics, labelled by language.

use serde_json::{Value, json};
use verdict_e2e::{JiraWorld, js_rule_wasm, py_rule_wasm, wont_do_citing};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_typescript_rule_decides_closures_and_a_hostile_one_makes_them_wait_visibly() {
    let w = JiraWorld::start(|_| {}).await;
    let u = w.user.clone();
    let uploaded = w
        .app
        .activate_new_rule(
            &w.t.key,
            "risk-ts",
            "name=risk-ts&project=APP",
            js_rule_wasm("risk-acceptance"),
        )
        .await;
    assert_eq!(uploaded["language"], "javascript", "{uploaded}");
    assert!(
        uploaded["toolchain"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t == "componentize-qjs 0.4.5"),
        "{uploaded}"
    );
    assert!(
        uploaded["footprint"]["core_instances"].as_u64().unwrap() > 2,
        "{uploaded}"
    );
    // Two findings with tickets in APP (the rule's project): one closed as accepted risk, one
    // for the hostile rule below.
    let linked = w.linked(2).await;
    let (fid, key) = linked[0].clone();
    w.double.add_space("acme", "SECOPS", "Security operations");
    let approved = w.double.add_page(
        "acme",
        "SECOPS",
        &format!("Risk acceptance {key}: legacy XML parser"),
        &["risk-approved"],
        "<p>Accepted by the CISO until 2027-06-30.</p>",
    );
    wont_do_citing(&w.double, &u, &key, "Risk accepted, see", &approved);
    let finding = w
        .app
        .wait_until(&w.t.key, &format!("/api/v1/findings/{fid}"), 20, |b| {
            b["status"] == "accepted_risk"
        })
        .await;
    assert_eq!(finding["status"], "accepted_risk");
    let ev = w.events(&fid).await;
    let change = ev.iter().find(|e| e["kind"] == "status_changed").unwrap();
    assert_eq!(change["rule"]["id"], "risk-ts", "{change}");
    assert!(
        change["reason"]
            .as_str()
            .unwrap()
            .contains(&format!("Risk acceptance {key}: legacy XML parser")),
        "{change}"
    );

    // Replay runs the JavaScript rule over the tenant's closures again: the same answer.
    w.settled(20).await;
    let (status, report) = w
        .app
        .post(
            &w.t.key,
            "/api/v1/rules/risk-ts/versions/1/replay?limit=10",
            &json!({}),
        )
        .await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["different"], 0, "{report}");

    // A JavaScript rule that loops: contained, typed, and the closure waits for it — nothing
    // else decides it — until the rule is taken away.
    let (status, _) = w
        .app
        .post(&w.t.key, "/api/v1/rules/risk-ts/deactivate", &json!({}))
        .await;
    assert_eq!(status, 204);
    w.app
        .activate_new_rule(
            &w.t.key,
            "hostile-js",
            "name=hostile-js",
            js_rule_wasm("js_hostile"),
        )
        .await;
    let (fid2, key2) = linked[1].clone();
    w.double.comment("acme", &key2, &u, "loop").unwrap();
    w.double
        .transition("acme", &key2, "Done", None, &u)
        .unwrap();
    let waiting = verdict_e2e::wait_for_delivery_outcome(
        &w.app,
        &w.t.id,
        "waiting for the tenant's rule",
        30,
    )
    .await;
    assert!(
        waiting.contains("out_of_fuel") || waiting.contains("deadline_exceeded"),
        "{waiting}"
    );
    let (_, f2) = w
        .app
        .get(&w.t.key, &format!("/api/v1/findings/{fid2}"))
        .await;
    assert_eq!(f2["status"], "open", "not decided by anything else: {f2}");
    let metrics = w.app.metrics_text().await;
    assert!(
        metrics.contains(r#"verdict_rule_decisions_total{decision="closure",source="rule",language="javascript"} 1"#),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"source="waiting",language="javascript"}"#),
        "{metrics}"
    );
    // Deactivated: the waiting closure is decided at its next attempt (the default policy,
    // as for any tenant without a rule).
    let (status, _) = w
        .app
        .post(&w.t.key, "/api/v1/rules/hostile-js/deactivate", &json!({}))
        .await;
    assert_eq!(status, 204);
    w.app
        .wait_until(&w.t.key, &format!("/api/v1/findings/{fid2}"), 30, |f| {
            f["status"] == "resolved"
        })
        .await;
    let ev = w.events(&fid2).await;
    assert!(ev.iter().any(|e| e["kind"] == "status_changed"), "{ev:?}");
    assert!(
        metrics.contains(r#"verdict_rule_evaluation_seconds_count{language="javascript"}"#),
        "{metrics}"
    );
    w.app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_python_rule_plans_the_tickets_an_import_files() {
    let w = JiraWorld::start(|_| {}).await;
    let (status, body) = w
        .app
        .put(
            &w.t.key,
            "/api/v1/settings",
            &json!({"settings": {"ticket.project": "APP", "ticket.auto": "true"}}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let uploaded = w
        .app
        .activate_new_rule(
            &w.t.key,
            "auto-ticket-py",
            "name=auto-ticket-py",
            py_rule_wasm("auto-ticket"),
        )
        .await;
    assert_eq!(uploaded["language"], "python", "{uploaded}");
    // CPython's 18 MB were compiled by the baseline compiler: the upload did not wait for
    // Cranelift, which compiles them again in the background.
    assert_eq!(uploaded["code_tier"], "baseline", "{uploaded}");
    assert!(
        uploaded["toolchain"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t.as_str().unwrap().starts_with("componentize-py ")),
        "{uploaded}"
    );
    // 5: sast scored 5 (under 7), 6: sca scored 6 (under 7), 8: dast scored 8 (over 6),
    // 10: sast scored 10 (over 7).
    let batch: Vec<Value> = [5usize, 6, 8, 10]
        .iter()
        .map(|i| verdict_e2e::finding(*i, 1))
        .collect();
    let body = w.import_batch(&batch).await;
    w.settled(30).await;
    let mut filed = Vec::new();
    for item in body["items"].as_array().unwrap() {
        let f = w.get_finding(item["id"].as_str().unwrap()).await;
        if let Some(key) = f["jira"]["issue_key"].as_str() {
            let issue = w.double.issue("acme", key).unwrap();
            filed.push((
                f["external_id"].as_str().unwrap().to_owned(),
                issue["fields"]["priority"]["name"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
                issue["fields"]["labels"].to_string(),
            ));
        }
    }
    filed.sort();
    assert_eq!(filed.len(), 2, "{filed:?}");
    assert_eq!(filed[0].0, "scanner-000008");
    assert_eq!(filed[0].1, "High");
    assert!(filed[0].2.contains("scan-dast"), "{filed:?}");
    assert_eq!(filed[1].0, "scanner-000010");
    assert_eq!(filed[1].1, "Lowest");
    let metrics = w.app.metrics_text().await;
    assert!(
        metrics.contains(r#"verdict_rule_decisions_total{decision="ticketing",source="rule",language="python"} 4"#),
        "{metrics}"
    );

    // The tier-up stores Cranelift's code in place of the baseline code.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(180);
    loop {
        let (status, listed) = w.app.get(&w.t.key, "/api/v1/rules/auto-ticket-py").await;
        assert_eq!(status, 200, "{listed}");
        if listed.to_string().contains(r#""code_tier":"optimized""#) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "not optimized after 180 s: {listed}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }

    // After a restart the rule comes from the database (its stored footprint, toolchain and
    // optimized artifact) and still plans: 13 is dast scored 2 (under 6), 18 is dast scored
    // 7 (over 6).
    let w = w.restart().await;
    let (status, listed) = w.app.get(&w.t.key, "/api/v1/rules/auto-ticket-py").await;
    assert_eq!(status, 200, "{listed}");
    assert!(
        listed.to_string().contains(r#""language":"python""#)
            && listed.to_string().contains(r#""code_tier":"optimized""#),
        "{listed}"
    );
    let batch: Vec<Value> = [13usize, 18]
        .iter()
        .map(|i| verdict_e2e::finding(*i, 1))
        .collect();
    let body = w.import_batch(&batch).await;
    w.settled(30).await;
    let items = body["items"].as_array().unwrap();
    let low = w.get_finding(items[0]["id"].as_str().unwrap()).await;
    let high = w.get_finding(items[1]["id"].as_str().unwrap()).await;
    assert!(low["jira"].is_null(), "{low}");
    assert!(high["jira"]["issue_key"].is_string(), "{high}");
    let metrics = w.app.metrics_text().await;
    assert!(
        metrics.contains(r#"verdict_rule_decisions_total{decision="ticketing",source="rule",language="python"} 2"#),
        "{metrics}"
    );
    w.app.stop().await;
}
