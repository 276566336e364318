//! The rules API end to end: upload (raw and multipart) → list → evaluate → activate →
//! rollback → delete, per-tenant limits, failing rules and tenant isolation.

use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use verdict_e2e::{TestApp, py_rule_wasm, read, rule_wasm};

fn closure_input(comments: &[&str], resolution: &str) -> Value {
    json!({"closure": {
        "ticket": {
            "id": "10001", "key": "SEC-1", "project": "SEC", "issue_type": "Bug",
            "status": {"id": "10002", "name": "Closed", "category": "done"},
            "resolution": resolution,
            "comments": comments.iter().enumerate().map(|(i, b)| json!({
                "id": i.to_string(), "author": "acc-1", "body": b, "created": 0, "updated": 0
            })).collect::<Vec<_>>()
        },
        "now": 1_795_341_600_000i64
    }})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upload_evaluate_activate_rollback_delete() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let classifier = rule_wasm("comment-classifier");

    // Raw upload.
    let (status, v1) = app
        .upload_rule(&t.key, "name=triage&project=SEC", classifier.clone())
        .await;
    assert_eq!(status, 201, "{v1}");
    assert_eq!(v1["version"], 1);
    assert_eq!(v1["project"], "SEC");
    assert_eq!(v1["state"], "inactive");
    assert_eq!(v1["contract_version"], "1.3.0");
    // A Rust rule is compiled by Cranelift at upload: no tier-up.
    assert_eq!(v1["code_tier"], "optimized");
    assert_eq!(
        v1["decisions"],
        json!(["closure", "transition", "ticketing"])
    );
    // A module built before contract 1.1.0 is still accepted, and says which contract it speaks.
    let other = app.tenant("legacy-co").await;
    let (status, old) = app
        .upload_rule(&other.key, "name=legacy", rule_wasm("test-contract-1-0"))
        .await;
    assert_eq!(status, 201, "{old}");
    assert_eq!(old["contract_version"], "1.0.0");
    assert_eq!(old["decisions"], json!(["closure"]));
    assert_eq!(v1["sha256"], hex::encode(Sha256::digest(&classifier)));
    assert_eq!(v1["size_bytes"], classifier.len());

    // Multipart upload of the same name: version 2.
    let form = reqwest::multipart::Form::new()
        .text("name", "triage")
        .text("project", "SEC")
        .part(
            "module",
            reqwest::multipart::Part::bytes(classifier.clone()).file_name("classifier.wasm"),
        );
    let r = app
        .client
        .post(app.url("/api/v1/rules"))
        .bearer_auth(&t.key)
        .multipart(form)
        .send()
        .await
        .unwrap();
    let (status, v2) = read(r).await;
    assert_eq!(status, 201, "{v2}");
    assert_eq!(v2["version"], 2);

    // Listing carries metadata, never bytes.
    let (status, list) = app.get(&t.key, "/api/v1/rules").await;
    assert_eq!(status, 200);
    let rules = list["rules"].as_array().unwrap();
    assert_eq!(rules.len(), 2);
    assert!(rules.iter().all(|r| r.get("module").is_none()));
    // The module itself only when asked.
    let r = app
        .client
        .get(app.url("/api/v1/rules/triage/versions/1/module"))
        .bearer_auth(&t.key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["content-type"], "application/wasm");
    assert!(r.bytes().await.unwrap().starts_with(b"\0asm"));

    // Evaluate with usage.
    let (status, out) = app
        .post(
            &t.key,
            "/api/v1/rules/triage/versions/1/evaluate",
            &closure_input(&["Falso positivo: solo en pruebas."], "Done"),
        )
        .await;
    assert_eq!(status, 200, "{out}");
    assert_eq!(
        out["output"]["closure"]["apply"]["status"],
        "false_positive"
    );
    assert!(out["usage"]["fuel_used"].as_u64().unwrap() > 0);
    assert_eq!(out["usage"]["fuel_limit"], 10_000_000);
    assert_eq!(out["usage"]["deadline_ms"], 50);
    assert_eq!(out["logs"][0]["message"], "classified the thread");

    // Activate v1, then v2 (v1 drops), then roll back to v1.
    let (status, a) = app
        .post(
            &t.key,
            "/api/v1/rules/triage/versions/1/activate",
            &json!({}),
        )
        .await;
    assert_eq!((status, a["state"].as_str()), (200, Some("active")));
    let (status, _) = app
        .post(
            &t.key,
            "/api/v1/rules/triage/versions/2/activate",
            &json!({}),
        )
        .await;
    assert_eq!(status, 200);
    let (_, v1_now) = app.get(&t.key, "/api/v1/rules/triage/versions/1").await;
    assert_eq!(v1_now["state"], "inactive");
    let (status, rolled) = app
        .post(&t.key, "/api/v1/rules/triage/rollback", &json!({}))
        .await;
    assert_eq!(status, 200, "{rolled}");
    assert_eq!(rolled["version"], 1);
    assert_eq!(rolled["state"], "active");
    let (_, v2_now) = app.get(&t.key, "/api/v1/rules/triage/versions/2").await;
    assert_eq!(v2_now["state"], "inactive");

    // An active version cannot be deleted; an inactive one can.
    let (status, body) = app.delete(&t.key, "/api/v1/rules/triage/versions/1").await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("rule_conflict"))
    );
    let (status, _) = app.delete(&t.key, "/api/v1/rules/triage/versions/2").await;
    assert_eq!(status, 204);
    let (status, _) = app.get(&t.key, "/api/v1/rules/triage/versions/2").await;
    assert_eq!(status, 404);

    // A second tenant-wide closure rule is fine next to a project-scoped one, but two
    // tenant-wide ones that both decide closures conflict.
    let (status, _) = app
        .upload_rule(&t.key, "name=house-policy", rule_wasm("default-policy"))
        .await;
    assert_eq!(status, 201);
    let (status, _) = app
        .post(
            &t.key,
            "/api/v1/rules/house-policy/versions/1/activate",
            &json!({}),
        )
        .await;
    assert_eq!(status, 200);
    let (status, _) = app
        .upload_rule(&t.key, "name=other", rule_wasm("resolution-mapper"))
        .await;
    assert_eq!(status, 201);
    let (status, body) = app
        .post(
            &t.key,
            "/api/v1/rules/other/versions/1/activate",
            &json!({}),
        )
        .await;
    assert_eq!(status, 409, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("house-policy")
    );

    // Deactivate, then nothing left to roll back to.
    let r = app
        .client
        .post(app.url("/api/v1/rules/house-policy/deactivate"))
        .bearer_auth(&t.key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let (status, _) = app
        .post(&t.key, "/api/v1/rules/house-policy/rollback", &json!({}))
        .await;
    assert_eq!(status, 409);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_modules_get_their_typed_error() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;

    let (status, body) = app
        .upload_rule(&t.key, "name=junk", b"MZ\x90\x00 not wasm".to_vec())
        .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["code"], "invalid_module");

    // Over the tenant's own module limit (the default, 32 MiB, fits a Python rule).
    let (status, body) = app
        .put(
            &t.key,
            "/api/v1/settings",
            &serde_json::json!({"settings": {"rules.limits.module_bytes": "2097152"}}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let mut big = rule_wasm("default-policy");
    big.resize(3 << 20, 0);
    let (status, body) = app.upload_rule(&t.key, "name=big", big).await;
    assert_eq!(status, 413, "{body}");
    assert_eq!(body["error"]["code"], "module_too_large");
    let (status, body) = app
        .put(
            &t.key,
            "/api/v1/settings",
            &serde_json::json!({"settings": {"rules.limits.module_bytes": ""}}),
        )
        .await;
    assert_eq!(status, 200, "{body}");

    let (status, body) = app
        .upload_rule(&t.key, "name=has%20space", rule_wasm("default-policy"))
        .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["code"], "validation_failed");

    let (status, body) = app
        .upload_rule(&t.key, "", rule_wasm("default-policy"))
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["field"], "name");

    // A rule that passes the smoke run but fails on some tickets: evaluation answers 200
    // with the rule's typed error and its usage.
    let (status, _) = app
        .upload_rule(&t.key, "name=flaky", rule_wasm("test-panicking"))
        .await;
    assert_eq!(status, 201);
    let (status, out) = app
        .post(
            &t.key,
            "/api/v1/rules/flaky/versions/1/evaluate",
            &closure_input(&["panic please"], "Done"),
        )
        .await;
    assert_eq!(status, 200, "{out}");
    assert_eq!(out["error"]["code"], "trap");
    assert!(
        out["error"]["message"]
            .as_str()
            .unwrap()
            .contains("asked to panic by comment 0"),
        "{out}"
    );
    assert!(out["output"].is_null());
    let (_, out) = app
        .post(
            &t.key,
            "/api/v1/rules/flaky/versions/1/evaluate",
            &closure_input(&["spin please"], "Done"),
        )
        .await;
    assert_eq!(out["error"]["code"], "out_of_fuel", "{out}");
    assert_eq!(out["usage"]["fuel_used"], 10_000_000);

    // Input that is not a rule input: 400 naming the problem.
    let (status, body) = app
        .post(
            &t.key,
            "/api/v1/rules/flaky/versions/1/evaluate",
            &json!({"verdict": {}}),
        )
        .await;
    assert_eq!(status, 400, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenant_limits_apply_and_are_bounded() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let (status, _) = app
        .upload_rule(&t.key, "name=triage", rule_wasm("comment-classifier"))
        .await;
    assert_eq!(status, 201);

    let (status, body) = app
        .put(
            &t.key,
            "/api/v1/settings",
            &json!({"settings": {"rules.limits.fuel": 5000, "ticket.project": "SEC", "ticket.auto": false}}),
        )
        .await;
    // Bare numbers and booleans are taken as their text.
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["settings"]["ticket.project"], "SEC");
    assert_eq!(body["settings"]["rules.limits.fuel"], "5000");
    assert_eq!(body["settings"]["ticket.auto"], "false");
    let (status, body) = app
        .put(
            &t.key,
            "/api/v1/settings",
            &json!({"settings": {"ticket.auto": null, "ticket.labels": ["a"]}}),
        )
        .await;
    assert_eq!(status, 400, "an array is not a setting: {body}");
    let (status, body) = app
        .put(
            &t.key,
            "/api/v1/settings",
            &json!({"settings": {"ticket.auto": null}}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body["settings"].get("ticket.auto").is_none(),
        "null removes: {body}"
    );
    let (_, out) = app
        .post(
            &t.key,
            "/api/v1/rules/triage/versions/1/evaluate",
            &closure_input(&["False positive: test code only."], "Done"),
        )
        .await;
    assert_eq!(out["error"]["code"], "out_of_fuel", "{out}");
    assert_eq!(out["usage"]["fuel_limit"], 5_000);

    for (value, why) in [
        ("0", "between 1 and"),
        ("99999999999", "between 1 and"),
        ("lots", "whole number"),
    ] {
        let (status, body) = app
            .put(
                &t.key,
                "/api/v1/settings",
                &json!({"settings": {"rules.limits.fuel": value}}),
            )
            .await;
        assert_eq!(status, 422, "{body}");
        assert!(
            body["error"]["message"].as_str().unwrap().contains(why),
            "{body}"
        );
    }
    let (status, body) = app
        .put(
            &t.key,
            "/api/v1/settings",
            &json!({"settings": {"rules.limits.stack": "1"}}),
        )
        .await;
    assert_eq!(status, 422, "{body}");

    // Removing the override restores the default.
    let (status, body) = app
        .put(
            &t.key,
            "/api/v1/settings",
            &json!({"settings": {"rules.limits.fuel": ""}}),
        )
        .await;
    assert_eq!(status, 200);
    assert!(body["settings"].get("rules.limits.fuel").is_none());
    let (_, out) = app
        .post(
            &t.key,
            "/api/v1/rules/triage/versions/1/evaluate",
            &closure_input(&["False positive: test code only."], "Done"),
        )
        .await;
    assert_eq!(
        out["output"]["closure"]["apply"]["status"], "false_positive",
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenants_never_see_each_others_rules() {
    let app = TestApp::spawn().await;
    let a = app.tenant("acme").await;
    let b = app.tenant("globex").await;
    let (status, _) = app
        .upload_rule(&a.key, "name=secret-sauce", rule_wasm("default-policy"))
        .await;
    assert_eq!(status, 201);
    let (_, list) = app.get(&b.key, "/api/v1/rules").await;
    assert_eq!(list["rules"], json!([]));
    for path in [
        "/api/v1/rules/secret-sauce",
        "/api/v1/rules/secret-sauce/versions/1",
        "/api/v1/rules/secret-sauce/versions/1/module",
    ] {
        let (status, _) = app.get(&b.key, path).await;
        assert_eq!(status, 404, "{path}");
    }
    let (status, _) = app
        .post(
            &b.key,
            "/api/v1/rules/secret-sauce/versions/1/activate",
            &json!({}),
        )
        .await;
    assert_eq!(status, 404);
    let (status, _) = app
        .post(
            &b.key,
            "/api/v1/rules/secret-sauce/versions/1/evaluate",
            &closure_input(&[], "Done"),
        )
        .await;
    assert_eq!(status, 404);
    // Same name in the other tenant starts at version 1.
    let (status, v) = app
        .upload_rule(&b.key, "name=secret-sauce", rule_wasm("default-policy"))
        .await;
    assert_eq!((status, v["version"].as_i64()), (201, Some(1)));
}

/// Each tenant evaluates on its own share of the instance pool: a tenant keeping its share busy
/// (a replay over slow tickets) gets `busy` itself, while another tenant's evaluations go on;
/// and a replay whose request ends stops before its next ticket, giving the share back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_busy_tenant_keeps_to_its_share_and_a_replay_stops_with_its_request() {
    use sea_orm::{ActiveModelTrait, Set};
    use verdict_server::store::entities::decisions;
    let app = TestApp::spawn_with(|c| {
        c.rules_max_concurrent = 2;
        c.rules_tenant_share_percent = 50;
    })
    .await;
    let (noisy, quiet) = (app.tenant("noisy").await, app.tenant("quiet").await);
    for t in [&noisy, &quiet] {
        let (status, body) = app
            .upload_rule(&t.key, "name=slow", rule_wasm("test-panicking"))
            .await;
        assert_eq!(status, 201, "{body}");
    }
    let (status, _) = app
        .put(
            &noisy.key,
            "/api/v1/settings",
            &json!({"settings": {"rules.limits.deadline_ms": "1000", "rules.limits.fuel": "1000000000"}}),
        )
        .await;
    assert_eq!(status, 200);
    // Past closures whose comments make this rule spin until its fuel (10^9 instructions) or
    // deadline runs out — a tenth of a second or more each: a replay of them all takes seconds.
    let db = app.app_state.store().db();
    const SLOW: usize = 80;
    for i in 0..SLOW {
        decisions::ActiveModel {
            id: Set(format!("0190f1c2-7b3a-7d4e-9f00-{i:012}")),
            tenant_id: Set(noisy.id.clone()),
            kind: Set("closure".into()),
            input: Set(closure_input(&["spin please"], "Done").to_string()),
            output: Set(json!({"closure": "defer"}).to_string()),
            source: Set("default".into()),
            created_at: Set(chrono::Utc::now()),
            ..Default::default()
        }
        .insert(db)
        .await
        .unwrap();
    }
    let replay_url = app.url(&format!(
        "/api/v1/rules/slow/versions/1/replay?limit={SLOW}"
    ));
    let evaluate = |key: String| {
        let app_url = app.url("/api/v1/rules/slow/versions/1/evaluate");
        let client = app.client.clone();
        async move {
            read(
                client
                    .post(app_url)
                    .bearer_auth(key)
                    .json(&closure_input(&["fixed in 4.2"], "Done"))
                    .send()
                    .await
                    .unwrap(),
            )
            .await
        }
    };

    // The noisy tenant's replay holds its one instance for seconds.
    let replay = {
        let (client, key, url) = (app.client.clone(), noisy.key.clone(), replay_url.clone());
        tokio::spawn(async move {
            read(
                client
                    .post(url)
                    .bearer_auth(key)
                    .json(&json!({}))
                    .send()
                    .await
                    .unwrap(),
            )
            .await
        })
    };
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(!replay.is_finished(), "{:?}", replay.await);
    let (status, body) = evaluate(noisy.key.clone()).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"]["code"], "busy", "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("this tenant may use at once"),
        "{body}"
    );
    let (status, body) = evaluate(quiet.key.clone()).await;
    assert_eq!(status, 200, "the other tenant's evaluation went on: {body}");
    assert!(body["output"].is_object(), "{body}");
    let (status, report) = replay.await.unwrap();
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["total"], SLOW);
    assert!(
        report["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["candidate"]["outcome"] == "wait"
                && ["out_of_fuel", "deadline_exceeded"]
                    .iter()
                    .any(|code| i["error"].as_str().unwrap().starts_with(code))),
        "a closure this rule cannot decide would wait: {}",
        report["items"][0]
    );

    // A replay whose client gives up stops after the ticket it is on: the share comes back
    // at once, not after the whole replay.
    let gave_up = app
        .client
        .post(&replay_url)
        .bearer_auth(&noisy.key)
        .json(&json!({}))
        .timeout(std::time::Duration::from_millis(400))
        .send()
        .await;
    assert!(gave_up.is_err());
    let (status, body) = evaluate(noisy.key.clone()).await;
    assert_eq!(status, 200, "the share came back: {body}");
    app.stop().await;
}

/// The value of an unlabelled gauge in the `/metrics` text.
fn gauge(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
        .unwrap_or_else(|| panic!("{name} in\n{text}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenants_keep_to_their_rule_quotas_and_unused_versions_leave_memory() {
    let app = TestApp::spawn_with(|c| {
        c.rules_max_versions_per_tenant = 2;
        c.rules_max_stored_bytes_per_tenant = 8 * 1024 * 1024;
        c.rules_loaded_idle_secs = 1;
    })
    .await;
    let t = app.tenant("acme").await;
    let classifier = rule_wasm("comment-classifier");
    for v in 1..=2 {
        let (status, body) = app
            .upload_rule(&t.key, "name=triage", classifier.clone())
            .await;
        assert_eq!((status, body["version"].as_i64()), (201, Some(v)), "{body}");
    }
    let (status, err) = app
        .upload_rule(&t.key, "name=triage", classifier.clone())
        .await;
    assert_eq!(status, 409, "{err}");
    assert_eq!(err["error"]["code"], "rule_quota_exceeded");
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("rules_max_versions_per_tenant = 2"),
        "{err}"
    );
    // Another tenant has its own quota; a component past the stored-bytes quota is refused
    // before it is compiled.
    let other = app.tenant("globex").await;
    let (status, _) = app
        .upload_rule(&other.key, "name=triage", classifier.clone())
        .await;
    assert_eq!(status, 201);
    let (status, err) = app
        .upload_rule(&other.key, "name=py", py_rule_wasm("comment-classifier"))
        .await;
    assert_eq!(status, 409, "{err}");
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("rules_max_stored_bytes_per_tenant"),
        "{err}"
    );
    // Deleting a version makes room.
    let (status, _) = app.delete(&t.key, "/api/v1/rules/triage/versions/1").await;
    assert_eq!(status, 204);
    let (status, v3) = app
        .upload_rule(&t.key, "name=triage", classifier.clone())
        .await;
    assert_eq!((status, v3["version"].as_i64()), (201, Some(3)), "{v3}");

    // Every upload left its version loaded; unused ones are dropped within about a second.
    let loaded = || async { gauge(&app.metrics_text().await, "verdict_rules_loaded_versions") };
    assert!(loaded().await >= 1.0);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    while loaded().await > 0.0 {
        assert!(std::time::Instant::now() < deadline, "never dropped");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    // A dropped version is loaded again from its stored code when asked, and still decides.
    let (status, out) = app
        .post(
            &t.key,
            "/api/v1/rules/triage/versions/2/evaluate",
            &closure_input(&["Falso positivo: solo en pruebas."], "Done"),
        )
        .await;
    assert_eq!(status, 200, "{out}");
    assert_eq!(
        out["output"]["closure"]["apply"]["status"], "false_positive",
        "{out}"
    );
    assert!(loaded().await >= 1.0);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_compile_is_refused_in_time_and_holds_its_slot_until_it_ends() {
    // Cranelift for every upload (no baseline tier) and no shared compiled functions: the
    // Python component takes far longer than the one second allowed.
    let app = TestApp::spawn_with(|c| {
        c.rules_compile_timeout_secs = 1;
        c.rules_compile_concurrency = 1;
        c.rules_baseline_compile_bytes = 0;
        c.rules_compile_cache_dir = None;
        c.rules_compile_cache_bytes = 0;
    })
    .await;
    let t = app.tenant("acme").await;
    let started = std::time::Instant::now();
    let (status, err) = app
        .upload_rule(&t.key, "name=slow", py_rule_wasm("comment-classifier"))
        .await;
    assert_eq!(status, 422, "{err}");
    assert_eq!(err["error"]["code"], "compile_timeout");
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("rules_compile_timeout_secs"),
        "{err}"
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    // The compile goes on (wasmtime cannot stop it) and keeps the one slot: the next upload
    // is told so, with when to try again…
    let r = app
        .client
        .post(app.url("/api/v1/rules?name=fast"))
        .bearer_auth(&t.key)
        .header("content-type", "application/wasm")
        .body(rule_wasm("comment-classifier"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503);
    assert_eq!(r.headers()["retry-after"], "10");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "compile_busy", "{body}");
    // …and is taken once the slot is free; nothing of the refused upload was stored.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(90);
    loop {
        let (status, body) = app
            .upload_rule(&t.key, "name=fast", rule_wasm("comment-classifier"))
            .await;
        if status == 201 {
            break;
        }
        assert_eq!(status, 503, "{body}");
        assert!(
            std::time::Instant::now() < deadline,
            "the slot never came back"
        );
    }
    let (_, list) = app.get(&t.key, "/api/v1/rules").await;
    let names: Vec<&str> = list["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["fast"]);
    app.stop().await;
}
