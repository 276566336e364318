//! The findings API end to end: real HTTP on an ephemeral port, a real database (temp SQLite,
//! or PostgreSQL when VERDICT_TEST_DATABASE_URL is set).

use serde_json::{Value, json};
use verdict_e2e::{TestApp, finding, load_fixture, read};

fn batch(range: std::ops::Range<usize>, rev: impl Fn(usize) -> u32) -> Value {
    json!({"findings": range.map(|i| finding(i, rev(i))).collect::<Vec<_>>()})
}

async fn list_all(app: &TestApp, key: &str, query: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut path = format!("/api/v1/findings?limit=300{query}");
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let (status, body) = app.get(key, &path).await;
        assert_eq!(status, 200, "{body}");
        out.extend(body["findings"].as_array().unwrap().iter().cloned());
        match body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => return out,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batch_import_upserts_on_external_id() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;

    let (status, body) = app
        .post(&t.key, "/api/v1/findings:batch", &batch(0..1000, |_| 1))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (
            body["created"].as_u64(),
            body["updated"].as_u64(),
            body["unchanged"].as_u64()
        ),
        (Some(1000), Some(0), Some(0))
    );
    assert_eq!(body["failed"], 0);
    assert_eq!(body["items"].as_array().unwrap().len(), 1000);
    assert_eq!(body["items"][999]["external_id"], "scanner-000999");

    // The same batch again changes nothing.
    let (status, body) = app
        .post(&t.key, "/api/v1/findings:batch", &batch(0..1000, |_| 1))
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        (
            body["created"].as_u64(),
            body["updated"].as_u64(),
            body["unchanged"].as_u64()
        ),
        (Some(0), Some(0), Some(1000))
    );

    // Ten changed findings are updated, in place (same ids).
    let first_ids: Vec<Value> = body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].clone())
        .collect();
    let (status, body) = app
        .post(
            &t.key,
            "/api/v1/findings:batch",
            &batch(0..1000, |i| if i % 100 == 7 { 2 } else { 1 }),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        (
            body["created"].as_u64(),
            body["updated"].as_u64(),
            body["unchanged"].as_u64()
        ),
        (Some(0), Some(10), Some(990))
    );
    let updated: Vec<&Value> = body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["outcome"] == "updated")
        .collect();
    assert_eq!(updated[0]["external_id"], "scanner-000007");
    let ids: Vec<Value> = body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].clone())
        .collect();
    assert_eq!(ids, first_ids);

    let (_, one) = app
        .get(
            &t.key,
            &format!("/api/v1/findings/{}", updated[0]["id"].as_str().unwrap()),
        )
        .await;
    assert!(
        one["description"]
            .as_str()
            .unwrap()
            .starts_with("Revision 2"),
        "{one}"
    );
    assert_eq!(one["status"], "open", "re-import never changes status");

    // Cursor paging walks all 1000 exactly once.
    let all = list_all(&app, &t.key, "").await;
    assert_eq!(all.len(), 1000);
    let mut seen: Vec<&str> = all
        .iter()
        .map(|f| f["external_id"].as_str().unwrap())
        .collect();
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 1000);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batch_reports_bad_items_without_failing_the_rest() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let mut items = load_fixture("findings/scanner-batch.json")["findings"]
        .as_array()
        .unwrap()
        .clone();
    items.push(json!({"external_id": "bad-1", "title": "t", "severity": "huge"}));
    items.push(json!({"external_id": "bad-2", "title": "t", "severity": "low", "score": 99}));
    items.push(items[0].clone()); // same external id twice in one batch
    let (status, body) = app
        .post(
            &t.key,
            "/api/v1/findings:batch",
            &json!({"findings": items}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["created"], 5);
    assert_eq!(body["failed"], 3);
    let errors = body["errors"].as_array().unwrap();
    assert_eq!(errors[0]["index"], 5);
    assert_eq!(errors[0]["code"], "invalid_field");
    assert_eq!(errors[0]["field"], "severity");
    assert_eq!(errors[0]["external_id"], "bad-1");
    assert_eq!(errors[1]["code"], "validation_failed");
    assert_eq!(errors[1]["field"], "score");
    assert_eq!(errors[2]["code"], "duplicate_in_batch");
    assert!(
        errors[2]["message"].as_str().unwrap().contains("index 0"),
        "{}",
        errors[2]
    );

    // The secret finding kept its flag; the scan type was normalised.
    let (_, page) = app.get(&t.key, "/api/v1/findings?scan_type=SECRETS").await;
    assert_eq!(page["findings"].as_array().unwrap().len(), 1);
    assert_eq!(page["findings"][0]["is_secret"], true);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_single_imports_get_their_status_and_name_the_problem() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let cases = load_fixture("findings/bad-inputs.json");
    for case in cases["cases"].as_array().unwrap() {
        let r = app
            .client
            .post(app.url("/api/v1/findings"))
            .bearer_auth(&t.key)
            .header("content-type", "application/json")
            .body(case["raw"].as_str().unwrap().to_owned())
            .send()
            .await
            .unwrap();
        let (status, body) = read(r).await;
        let name = &case["name"];
        assert_eq!(
            status as u64,
            case["status"].as_u64().unwrap(),
            "{name}: {body}"
        );
        assert_eq!(body["error"]["code"], case["code"], "{name}: {body}");
        if let Some(field) = case.get("field") {
            assert_eq!(&body["error"]["field"], field, "{name}: {body}");
        }
        let message = body["error"]["message"].as_str().unwrap();
        assert!(
            message.contains(case["mentions"].as_str().unwrap()),
            "{name}: {message}"
        );
    }
    // Nothing was stored by any of them.
    let (_, page) = app.get(&t.key, "/api/v1/findings").await;
    assert_eq!(page["findings"].as_array().unwrap().len(), 0);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn protocol_errors_use_the_envelope_and_the_right_status() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let (_, created) = app.post(&t.key, "/api/v1/findings", &finding(1, 1)).await;
    let id = created["finding"]["id"].as_str().unwrap().to_owned();

    // 401: no key, a malformed key, an unknown key, the wrong scheme.
    let r = app
        .client
        .get(app.url("/api/v1/findings"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["www-authenticate"], "Bearer realm=\"verdict\"");
    let (status, body) = read(r).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (401, Some("unauthorized"))
    );
    for key in [
        "nonsense",
        "vdk_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    ] {
        let (status, _) = app.get(key, "/api/v1/findings").await;
        assert_eq!(status, 401, "{key}");
    }
    let r = app
        .client
        .get(app.url("/api/v1/findings"))
        .basic_auth("u", Some("p"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);

    // 415 without a JSON content type.
    let r = app
        .client
        .post(app.url("/api/v1/findings"))
        .bearer_auth(&t.key)
        .body("{}")
        .send()
        .await
        .unwrap();
    let (status, body) = read(r).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (415, Some("unsupported_media_type"))
    );

    // 404: unknown finding, unknown route; 405: wrong method.
    let (status, body) = app
        .get(&t.key, "/api/v1/findings/01a2000000007000800000000000dead")
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("not_found"))
    );
    let (status, body) = app.get(&t.key, "/api/v1/nope").await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("route_not_found"))
    );
    let r = app
        .client
        .delete(app.url(&format!("/api/v1/findings/{id}")))
        .bearer_auth(&t.key)
        .send()
        .await
        .unwrap();
    let (status, body) = read(r).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (405, Some("method_not_allowed"))
    );

    // 409: already in that status.
    let (status, body) = app
        .patch(
            &t.key,
            &format!("/api/v1/findings/{id}"),
            &json!({"status": "open"}),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("status_unchanged"))
    );
    // 422: hiding a finding without saying why.
    for to in ["false_positive", "accepted_risk"] {
        let (status, body) = app
            .patch(
                &t.key,
                &format!("/api/v1/findings/{id}"),
                &json!({"status": to, "reason": "  "}),
            )
            .await;
        assert_eq!(status, 422, "{body}");
        assert_eq!(body["error"]["field"], "reason");
    }
    // 400: unknown status value, unknown field.
    let (status, body) = app
        .patch(
            &t.key,
            &format!("/api/v1/findings/{id}"),
            &json!({"status": "closed"}),
        )
        .await;
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (400, Some("status"))
    );
    let (status, body) = app
        .patch(
            &t.key,
            &format!("/api/v1/findings/{id}"),
            &json!({"status": "resolved", "why": "x"}),
        )
        .await;
    assert_eq!(status, 400);
    assert!(
        body["error"]["message"].as_str().unwrap().contains("why"),
        "{body}"
    );

    // 400 for bad list parameters, naming them.
    for (query, field) in [
        ("limit=0", "limit"),
        ("limit=1001", "limit"),
        ("status=open,bogus", "status"),
        ("severity=urgent", "severity"),
        ("min_score=11", "min_score"),
        ("updated_since=yesterday", "updated_since"),
        ("cursor=%%%", "cursor"),
    ] {
        let (status, body) = app.get(&t.key, &format!("/api/v1/findings?{query}")).await;
        assert_eq!(status, 400, "{query}: {body}");
        assert_eq!(body["error"]["field"], field, "{query}: {body}");
    }
    let (status, body) = app.get(&t.key, "/api/v1/findings?limit=abc").await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("invalid_query"))
    );
    let (status, body) = app.get(&t.key, "/api/v1/findings?colour=red").await;
    assert_eq!(status, 400);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("colour"),
        "{body}"
    );

    // 422: a batch over 10,000.
    let many: Vec<Value> = (0..10_001)
        .map(|i| json!({"external_id": format!("x{i}"), "title": "t", "severity": "low"}))
        .collect();
    let (status, body) = app
        .post(&t.key, "/api/v1/findings:batch", &json!({"findings": many}))
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (422, Some("batch_too_large"))
    );
    assert!(
        body["error"]["message"].as_str().unwrap().contains("10000"),
        "{body}"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_20_mib_body_gets_413() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let big = format!("{{\"findings\": [\"{}\"]}}", "x".repeat(20 * 1024 * 1024));
    let r = app
        .client
        .post(app.url("/api/v1/findings:batch"))
        .bearer_auth(&t.key)
        .header("content-type", "application/json")
        .body(big)
        .send()
        .await
        .expect("the server answers before the client finishes sending");
    assert_eq!(
        r.headers()["connection"],
        "close",
        "an unread body must not be followed on this connection"
    );
    let (status, body) = read(r).await;
    assert_eq!(status, 413, "{body}");
    assert_eq!(body["error"]["code"], "payload_too_large");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("16777216"),
        "{body}"
    );
    // The server is still fine afterwards.
    let (status, _) = app.get(&t.key, "/api/v1/findings").await;
    assert_eq!(status, 200);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenants_never_see_each_others_findings() {
    let app = TestApp::spawn().await;
    let a = app.tenant("tenant-a").await;
    let b = app.tenant("tenant-b").await;
    let (_, created) = app.post(&a.key, "/api/v1/findings", &finding(1, 1)).await;
    let id = created["finding"]["id"].as_str().unwrap().to_owned();

    let (status, body) = app.get(&b.key, &format!("/api/v1/findings/{id}")).await;
    assert_eq!(status, 404);
    assert_eq!(body["error"]["code"], "not_found");
    let (status, _) = app
        .get(&b.key, &format!("/api/v1/findings/{id}/events"))
        .await;
    assert_eq!(status, 404);
    let (status, _) = app
        .patch(
            &b.key,
            &format!("/api/v1/findings/{id}"),
            &json!({"status": "resolved"}),
        )
        .await;
    assert_eq!(status, 404);
    let (_, page) = app.get(&b.key, "/api/v1/findings").await;
    assert_eq!(page["findings"].as_array().unwrap().len(), 0);

    // B importing the same external id gets its own finding; A's is untouched.
    let (status, mine) = app.post(&b.key, "/api/v1/findings", &finding(1, 2)).await;
    assert_eq!(status, 201);
    assert_ne!(mine["finding"]["id"], created["finding"]["id"]);
    let (_, a_view) = app.get(&a.key, &format!("/api/v1/findings/{id}")).await;
    assert!(
        a_view["description"]
            .as_str()
            .unwrap()
            .starts_with("Revision 1")
    );
    assert_eq!(a_view["status"], "open");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_status_change_leaves_an_event() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let (_, created) = app.post(&t.key, "/api/v1/findings", &finding(3, 1)).await;
    let id = created["finding"]["id"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/findings/{id}");

    let steps = [
        ("resolved", None),
        ("open", Some("regressed in build 412")),
        ("false_positive", Some("only reachable from test fixtures")),
        (
            "accepted_risk",
            Some("risk accepted until 2027-01 by the CISO"),
        ),
    ];
    for (to, reason) in steps {
        let mut body = json!({"status": to});
        if let Some(r) = reason {
            body["reason"] = json!(r);
        }
        let (status, changed) = app.patch(&t.key, &path, &body).await;
        assert_eq!(status, 200, "{changed}");
        assert_eq!(changed["finding"]["status"], to);
        assert_eq!(changed["event"]["to_status"], to);
    }
    let (status, body) = app.get(&t.key, &format!("{path}/events")).await;
    assert_eq!(status, 200);
    let events = body["events"].as_array().unwrap();
    assert_eq!(events.len(), 5, "{body}");
    assert_eq!(events[0]["kind"], "created");
    assert_eq!(events[0]["from_status"], Value::Null);
    assert_eq!(events[0]["to_status"], "open");
    let transitions: Vec<(Value, Value)> = events[1..]
        .iter()
        .map(|e| (e["from_status"].clone(), e["to_status"].clone()))
        .collect();
    assert_eq!(
        transitions,
        vec![
            (json!("open"), json!("resolved")),
            (json!("resolved"), json!("open")),
            (json!("open"), json!("false_positive")),
            (json!("false_positive"), json!("accepted_risk")),
        ]
    );
    for e in &events[1..] {
        assert_eq!(e["kind"], "status_changed");
        assert_eq!(e["source"], "api");
        assert_eq!(e["actor"]["kind"], "api_key");
        assert!(e["actor"]["id"].as_str().unwrap().len() == 36);
    }
    assert_eq!(events[3]["reason"], "only reachable from test fixtures");
    assert_eq!(events[1]["reason"], Value::Null);

    // Filters see the final state.
    let (_, page) = app
        .get(&t.key, "/api/v1/findings?status=accepted_risk")
        .await;
    assert_eq!(page["findings"].as_array().unwrap().len(), 1);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filters_narrow_the_list() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let (status, _) = app
        .post(&t.key, "/api/v1/findings:batch", &batch(0..50, |_| 1))
        .await;
    assert_eq!(status, 200);
    let count = |q: &'static str| {
        let app = &app;
        let key = t.key.clone();
        async move { list_all(app, &key, q).await.len() }
    };
    assert_eq!(count("&severity=critical").await, 10);
    assert_eq!(count("&severity=high,critical").await, 20);
    assert_eq!(count("&scan_type=sca").await, 10);
    assert_eq!(count("&repository=github.com/acme/repo-0").await, 17);
    assert_eq!(count("&min_score=9").await, 8); // i % 11 in {9, 10}: 9,10,20,21,31,32,42,43
    assert_eq!(count("&min_score=2&max_score=3").await, 10);
    assert_eq!(count("&status=open").await, 50);
    assert_eq!(count("&has_jira_link=true").await, 0);
    assert_eq!(count("&has_jira_link=false").await, 50);

    // Link one finding to a Jira issue (the link API arrives with the export work; the row is
    // what it will write) and see it in filters and in the finding itself.
    let linked = list_all(&app, &t.key, "&severity=critical").await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    link_to_jira(&app, &t.id, &linked, "10042", "SEC-7").await;
    assert_eq!(count("&has_jira_link=true").await, 1);
    assert_eq!(count("&has_jira_link=false").await, 49);
    assert_eq!(count("&has_jira_link=true&severity=low").await, 0);
    let (_, one) = app.get(&t.key, &format!("/api/v1/findings/{linked}")).await;
    assert_eq!(one["jira"]["issue_id"], "10042");
    assert_eq!(one["jira"]["issue_key"], "SEC-7");
    assert_eq!(one["jira"]["project_key"], "SEC");
    let (_, page) = app.get(&t.key, "/api/v1/findings?has_jira_link=true").await;
    assert_eq!(
        page["findings"][0]["jira"]["site"],
        "https://acme.atlassian.net"
    );

    // updated_since sees only what changed after the mark.
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let mark = chrono_now();
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    app.post(
        &t.key,
        "/api/v1/findings:batch",
        &batch(0..50, |i| if i < 3 { 9 } else { 1 }),
    )
    .await;
    let q = format!("&updated_since={}", mark.replace('+', "%2B"));
    let changed = list_all(&app, &t.key, Box::leak(q.into_boxed_str())).await;
    assert_eq!(changed.len(), 3, "{changed:?}");
    app.stop().await;
}

async fn link_to_jira(app: &TestApp, tenant_id: &str, finding_id: &str, issue_id: &str, key: &str) {
    use sea_orm::ConnectionTrait as _;
    let db = app.app_state.store().db();
    let project = key.split('-').next().unwrap();
    let stmt = sea_orm::Statement::from_sql_and_values(
        db.get_database_backend(),
        match db.get_database_backend() {
            sea_orm::DatabaseBackend::Postgres => {
                "INSERT INTO jira_links (id, tenant_id, finding_id, site, issue_id, issue_key, project_key, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, now(), now())"
            }
            _ => {
                "INSERT INTO jira_links (id, tenant_id, finding_id, site, issue_id, issue_key, project_key, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, datetime('now'), datetime('now'))"
            }
        },
        [
            uuid::Uuid::now_v7().to_string().into(),
            tenant_id.into(),
            finding_id.into(),
            "https://acme.atlassian.net".into(),
            issue_id.into(),
            key.into(),
            project.into(),
        ],
    );
    db.execute(stmt).await.expect("insert link");
}

fn chrono_now() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    // RFC 3339 in UTC without a dependency on chrono in this crate.
    let secs = now.as_secs() as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60,
        now.subsec_millis()
    )
}

/// Days since 1970-01-01 to a civil date (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_metrics_and_openapi() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let (status, body) = read(app.client.get(app.url("/healthz")).send().await.unwrap()).await;
    assert_eq!((status, body["status"].as_str()), (200, Some("ok")));
    let (status, body) = read(app.client.get(app.url("/readyz")).send().await.unwrap()).await;
    assert_eq!((status, body["status"].as_str()), (200, Some("ready")));

    app.post(&t.key, "/api/v1/findings:batch", &batch(0..5, |_| 1))
        .await;
    app.post(
        &t.key,
        "/api/v1/findings:batch",
        &json!({"findings": [{"external_id": "z", "title": "t", "severity": "nope"}]}),
    )
    .await;
    app.get("bad", "/api/v1/findings").await;
    let metrics = app.metrics_text().await;
    for needle in [
        r#"verdict_http_requests_total{method="POST",route="/api/v1/findings:batch",status="200"} 2"#,
        r#"verdict_http_requests_total{method="GET",route="/api/v1/findings",status="401"} 1"#,
        r#"verdict_findings_imported_total{outcome="created"} 5"#,
        r#"verdict_findings_imported_total{outcome="failed"} 1"#,
        "verdict_http_request_duration_seconds_bucket",
    ] {
        assert!(metrics.contains(needle), "missing {needle} in\n{metrics}");
    }

    let (status, doc) = read(
        app.client
            .get(app.url("/api/openapi.json"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    for (path, method) in [
        ("/api/v1/findings", "get"),
        ("/api/v1/findings", "post"),
        ("/api/v1/findings:batch", "post"),
        ("/api/v1/findings/{id}", "get"),
        ("/api/v1/findings/{id}", "patch"),
        ("/api/v1/findings/{id}/events", "get"),
    ] {
        assert!(
            doc["paths"][path][method].is_object(),
            "{method} {path} undocumented"
        );
    }
    // Every $ref points at a schema that exists.
    let mut refs = Vec::new();
    collect_refs(&doc, &mut refs);
    assert!(!refs.is_empty());
    for r in refs {
        let name = r
            .strip_prefix("#/components/schemas/")
            .expect("local schema ref");
        assert!(
            doc["components"]["schemas"][name].is_object(),
            "dangling $ref {r}"
        );
    }
    assert_eq!(
        doc["components"]["securitySchemes"]["api_key"]["scheme"],
        "bearer"
    );
    app.stop().await;
}

fn collect_refs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(map) => {
            for (k, v) in map {
                if k == "$ref" {
                    out.push(v.as_str().unwrap().to_owned());
                } else {
                    collect_refs(v, out);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| collect_refs(v, out)),
        _ => {}
    }
}
