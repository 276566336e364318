//! The inbox and outbox at scale: a storm claimed through the partial index, one tenant's storm
//! not holding up another tenant's closures, replicas on one
//! PostgreSQL database splitting a storm (the same retried deliveries at two replicas at once,
//! one replica killed mid-drain), replicas sharing Jira's rate budget, retention, and the
//! metrics endpoint's protection.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use jira_double::{Limits, jwt, qsh};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{Value, json};
use verdict_e2e::{JiraWorld, TestApp};
use verdict_server::store::entities::{decisions, webhook_deliveries as wd};
use verdict_server::tenants::connect::{ConnectInstall, upsert_install};

const CLIENT_KEY: &str = "jira:storm";
const SECRET: &str = "storm-shared-secret-0123456789";

async fn connect_tenant(app: &TestApp) {
    let state = &app.app_state;
    upsert_install(
        state.store().db(),
        state.secrets(),
        &ConnectInstall {
            client_key: CLIENT_KEY.into(),
            shared_secret: SECRET.into(),
            site_url: "https://storm.atlassian.net".into(),
            display_url: None,
            installation_id: None,
            oauth_client_id: None,
        },
    )
    .await
    .unwrap();
}

fn signed(client_key: &str, secret: &str) -> String {
    let now = chrono::Utc::now().timestamp();
    let claims = json!({"iss": client_key, "iat": now, "exp": now + 300,
        "qsh": qsh::qsh("POST", "/connect/webhooks/jira", "")});
    format!("JWT {}", jwt::hs256(&claims, secret))
}

/// An `issue_updated` for an issue no finding is linked to (ignored by the pipeline).
fn unlinked_update(i: usize) -> Value {
    json!({
        "timestamp": 1_700_000_000_000u64 + i as u64,
        "webhookEvent": "jira:issue_updated",
        "issue_event_type_name": "issue_generic",
        "issue": {"id": (900_000 + i).to_string(), "key": format!("STORM-{i}"),
            "fields": {"summary": "unrelated", "status": {"name": "In Progress"}}},
        "changelog": {"id": (500_000 + i).to_string(), "items": [
            {"field": "status", "fieldtype": "jira", "from": "1", "fromString": "Open", "to": "3", "toString": "In Progress"}]}
    })
}

async fn deliver(client: &reqwest::Client, url: &str, auth: &str, id: &str, body: &Value) -> u16 {
    client
        .post(url)
        .header("Authorization", auth)
        .header("X-Atlassian-Webhook-Identifier", id)
        .json(body)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// Stores unlinked updates `range` for `tenant` (identifiers `{prefix}-{i}`) through the same
/// group-commit writer the webhook route stores with, eight writers at once, as fast as it
/// takes them: the backlog builds up while the workers drain.
async fn store_storm(app: &TestApp, tenant: &str, prefix: &str, range: std::ops::Range<usize>) {
    let items: Vec<(String, String)> = range
        .map(|i| (format!("{prefix}-{i}"), unlinked_update(i).to_string()))
        .collect();
    let items = std::sync::Arc::new(items);
    let mut stores = Vec::new();
    for chunk in 0..8 {
        let inbox = app.app_state.inbox().clone();
        let (items, tenant) = (items.clone(), tenant.to_owned());
        stores.push(tokio::spawn(async move {
            for (id, body) in items.iter().skip(chunk).step_by(8) {
                let d = verdict_server::webhooks::Delivery {
                    tenant_id: &tenant,
                    identifier: id,
                    retry_count: 0,
                    event: "jira:issue_updated",
                    source: "connect",
                    body,
                };
                assert_eq!(
                    inbox.store(&d).await.unwrap(),
                    verdict_server::webhooks::Intake::Stored
                );
            }
        }));
    }
    for s in stores {
        s.await.unwrap();
    }
}

async fn waiting(app: &TestApp) -> u64 {
    wd::Entity::find()
        .filter(wd::Column::State.is_in(["pending", "processing"]))
        .count(app.app_state.store().db())
        .await
        .unwrap()
}

async fn drained(app: &TestApp, secs: u64) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let left = waiting(app).await;
        if left == 0 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{left} deliveries still waiting after {secs} s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn plan_uses_index(plan: &str, index: &str) {
    assert!(
        plan.contains(index),
        "the claim does not use {index}:\n{plan}"
    );
    // Every index access of the claim's queries is through the claim index.
    for line in plan.lines() {
        let lower = line.to_lowercase();
        if lower.contains(" using ") && lower.contains("index") {
            assert!(line.contains(index), "{line}\nin\n{plan}");
        }
    }
    let upper = plan.to_uppercase();
    assert!(
        !upper.contains("TEMP B-TREE") && !upper.contains("SORT"),
        "the claim sorts the backlog:\n{plan}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_storm_of_twenty_thousand_deliveries_drains_through_the_claim_index() {
    const HTTP: usize = 600;
    const DIRECT: usize = 20_000;
    let app = TestApp::spawn_with(|c| c.inbox_workers = 8).await;
    connect_tenant(&app).await;
    let tenant = verdict_server::tenants::connect::find_by_client_key(
        app.app_state.store().db(),
        CLIENT_KEY,
    )
    .await
    .unwrap()
    .unwrap()
    .id;
    // Some through the signed HTTP route, 16 at a time …
    let url = app.url("/connect/webhooks/jira");
    let mut tasks = Vec::new();
    for w in 0..16 {
        let (client, url) = (app.client.clone(), url.clone());
        tasks.push(tokio::spawn(async move {
            let auth = signed(CLIENT_KEY, SECRET);
            let mut statuses = Vec::new();
            for i in (w..HTTP).step_by(16) {
                let s = deliver(
                    &client,
                    &url,
                    &auth,
                    &format!("http-{i}"),
                    &unlinked_update(i),
                )
                .await;
                statuses.push(s);
            }
            statuses
        }));
    }
    for t in tasks {
        assert!(t.await.unwrap().iter().all(|s| *s == 204));
    }
    // … and the bulk straight into the inbox writer.
    store_storm(&app, &tenant, "direct", HTTP..HTTP + DIRECT).await;
    let backlog = waiting(&app).await;
    if app.on_postgres() {
        use sea_orm::ConnectionTrait as _;
        app.app_state
            .store()
            .db()
            .execute_unprepared("ANALYZE webhook_deliveries")
            .await
            .unwrap();
    }
    let plan = app.app_state.inbox_queue().explain_claim().await.unwrap();
    println!("inbox claim with {backlog} waiting:\n{plan}");
    plan_uses_index(&plan, "ix_webhook_deliveries_tenant_due");
    plan_uses_index(
        &app.app_state.outbox_queue().explain_claim().await.unwrap(),
        "ix_outbox_jobs_tenant_due",
    );
    let started = Instant::now();
    drained(&app, 600).await;
    println!(
        "drained a backlog of {backlog} in {:.1} s (debug build)",
        started.elapsed().as_secs_f64()
    );
    let db = app.app_state.store().db();
    let total = wd::Entity::find().count(db).await.unwrap();
    assert_eq!(total as usize, HTTP + DIRECT);
    let ignored = wd::Entity::find()
        .filter(wd::Column::State.eq("ignored"))
        .filter(wd::Column::Attempts.eq(1))
        .count(db)
        .await
        .unwrap();
    assert_eq!(
        ignored, total,
        "every delivery processed once, on its first claim"
    );
    let metrics = app.metrics_text().await;
    assert!(
        metrics.contains(r#"verdict_queue_depth{queue="inbox"} 0"#),
        "{metrics}"
    );
    assert!(
        metrics.contains("verdict_queue_claim_seconds_count{queue=\"inbox\"}"),
        "{metrics}"
    );
    assert!(
        metrics.contains(&format!(
            "verdict_queue_claimed_total{{queue=\"inbox\"}} {total}"
        )),
        "{metrics}"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_tenants_storm_does_not_hold_up_another_tenants_closures() {
    const STORM: usize = 20_000;
    const CLOSURES: usize = 50;
    // The default workers and batch: the storm is still there at the last closure.
    let w = JiraWorld::start(|c| c.log_level = "error".into()).await;
    let pairs = w.linked(CLOSURES).await;
    w.settled(120).await;
    let noisy = w.app.tenant("noisy").await;
    store_storm(&w.app, &noisy.id, "storm", 0..STORM).await;
    let storm_left = || async {
        wd::Entity::find()
            .filter(wd::Column::TenantId.eq(&noisy.id))
            .filter(wd::Column::State.is_in(["pending", "processing"]))
            .count(w.app.app_state.store().db())
            .await
            .unwrap()
    };
    let before = storm_left().await;
    let depth_series = format!(
        r#"verdict_queue_tenant_depth{{queue="inbox",tenant="{}"}}"#,
        noisy.id
    );
    assert!(w.app.metric(&depth_series).await > 0.0, "{depth_series}");

    // Closures in the other tenant, one at a time, each timed from the close in Jira to the
    // finding's new status.
    let mut took = Vec::with_capacity(CLOSURES);
    for (id, key) in &pairs {
        let started = Instant::now();
        w.double
            .transition("acme", key, "Done", None, &w.user)
            .unwrap();
        loop {
            if w.get_finding(id).await["status"] == "resolved" {
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "{key} not decided"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        took.push(started.elapsed());
    }
    let after = storm_left().await;
    took.sort();
    let p50 = took[CLOSURES / 2];
    let p99 = took[(CLOSURES * 99).div_ceil(100) - 1];
    println!(
        "{CLOSURES} closures behind a storm of {before} deliveries ({after} still waiting at the end): \
         p50 {:.0} ms, p99 {:.0} ms",
        p50.as_secs_f64() * 1000.0,
        p99.as_secs_f64() * 1000.0
    );
    assert!(
        after > 0,
        "the storm drained before the last closure: nothing was measured"
    );
    assert!(
        p99 <= Duration::from_secs(1),
        "p99 {p99:?} behind another tenant's storm"
    );

    drained(&w.app, 600).await;
    assert_eq!(w.app.metric(&depth_series).await, 0.0, "{depth_series}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_replicas_share_a_storm_store_retries_once_and_lose_nothing_to_a_kill() {
    let w = JiraWorld::start(|c| {
        c.inbox_lease_secs = 5;
        c.inbox_workers = 4;
    })
    .await;
    if !w.app.on_postgres() {
        eprintln!(
            "skipped: several replicas share a PostgreSQL database (set VERDICT_TEST_DATABASE_URL)"
        );
        return;
    }
    const STORM: usize = 3_000;
    const SHARED: usize = 300;
    let pairs = w.linked(30).await;
    let inst = w.double.installation("acme", "io.verdict.jira").unwrap();
    let b = w.app.replica().await;
    let c = w.app.replica().await;
    let urls = [
        w.app.url("/connect/webhooks/jira"),
        b.url("/connect/webhooks/jira"),
        c.url("/connect/webhooks/jira"),
    ];
    let auth = signed(&inst.client_key, &inst.shared_secret);
    // A storm of distinct deliveries split over the three replicas …
    let mut tasks = Vec::new();
    for t in 0..12 {
        let (client, urls, auth) = (w.app.client.clone(), urls.clone(), auth.clone());
        tasks.push(tokio::spawn(async move {
            let mut bad = Vec::new();
            for i in (t..STORM).step_by(12) {
                let s = deliver(
                    &client,
                    &urls[i % 3],
                    &auth,
                    &format!("storm-{i}"),
                    &unlinked_update(i),
                )
                .await;
                if s != 204 {
                    bad.push((i, s));
                }
            }
            bad
        }));
    }
    // … and the same deliveries reaching two replicas at once, as Jira's retries do.
    for t in 0..4 {
        let (client, urls, auth) = (w.app.client.clone(), urls.clone(), auth.clone());
        tasks.push(tokio::spawn(async move {
            let mut bad = Vec::new();
            for i in (t..SHARED).step_by(4) {
                let id = format!("retried-{i}");
                let body = unlinked_update(STORM + i);
                let (x, y) = tokio::join!(
                    deliver(&client, &urls[0], &auth, &id, &body),
                    deliver(&client, &urls[1], &auth, &id, &body)
                );
                for s in [x, y] {
                    if s != 204 {
                        bad.push((i, s));
                    }
                }
            }
            bad
        }));
    }
    for t in tasks {
        let bad = t.await.unwrap();
        assert!(bad.is_empty(), "not acknowledged: {bad:?}");
    }
    // Replica C dies mid-drain with whatever it holds.
    let db = w.app.app_state.store().db();
    let held_by_c = wd::Entity::find()
        .filter(wd::Column::State.eq("processing"))
        .count(db)
        .await
        .unwrap();
    c.kill();
    // Closures arrive (at A, where Jira sends them) while B and A drain the rest.
    for (_, key) in &pairs {
        w.double
            .transition("acme", key, "Done", None, &w.user)
            .unwrap();
    }
    w.settled(180).await;
    let all = wd::Entity::find().all(db).await.unwrap();
    let by_id: HashMap<&str, &wd::Model> = all.iter().map(|d| (d.identifier.as_str(), d)).collect();
    for i in 0..STORM {
        let d = by_id.get(format!("storm-{i}").as_str()).expect("stored");
        assert_eq!(d.state, "ignored", "{d:?}");
    }
    for i in 0..SHARED {
        let d = by_id
            .get(format!("retried-{i}").as_str())
            .expect("stored once");
        assert_eq!(d.state, "ignored", "{d:?}");
    }
    assert_eq!(
        all.iter()
            .filter(|d| d.identifier.starts_with("retried-"))
            .count(),
        SHARED
    );
    assert!(
        all.iter()
            .all(|d| d.state == "ignored" || d.state == "done"),
        "nothing failed or left behind"
    );
    let retried = all.iter().filter(|d| d.attempts > 1).count();
    println!("{held_by_c} leased when C was killed; {retried} deliveries needed a second claim");
    for (id, _) in &pairs {
        let f = w.get_finding(id).await;
        assert_eq!(f["status"], "resolved", "{f}");
        let changes = w
            .events(id)
            .await
            .into_iter()
            .filter(|e| e["kind"] == "status_changed")
            .count();
        assert_eq!(changes, 1, "changed once: {f}");
    }
    let mut moves = HashMap::<String, usize>::new();
    for t in w.double.transitions_taken("acme") {
        *moves.entry(t.issue_key).or_default() += 1;
    }
    for (_, key) in &pairs {
        assert_eq!(moves.get(key), Some(&1), "{key} transitioned once");
    }
    drop(b);
    w.app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_pace_one_site_at_its_limit_together() {
    const LIMIT: u32 = 20;
    const N: usize = 240;
    let w = JiraWorld::start(|c| c.replica_heartbeat_secs = 1).await;
    if !w.app.on_postgres() {
        eprintln!(
            "skipped: several replicas share a PostgreSQL database (set VERDICT_TEST_DATABASE_URL)"
        );
        return;
    }
    const LEARN: usize = 30;
    let pairs = w.linked(N + 8 * LEARN).await;
    w.double.set_limits(
        "acme",
        Limits {
            burst_per_second: Some(LIMIT),
            ..Default::default()
        },
    );
    let ids: Vec<String> = pairs.iter().map(|(id, _)| id.clone()).collect();
    // One replica alone first, until Jira's 429 has taught it the limit.
    let before = w.double.requests("acme").len();
    let mut used = 0;
    while w.app.app_state.jira().governor().learned().is_empty() {
        assert!(used < 8 * LEARN, "eight batches never reached the limit");
        let (s, body) = w
            .app
            .post(
                &w.t.key,
                "/api/v1/findings:status",
                &json!({"ids": ids[used..used + LEARN], "status": "false_positive", "reason": "test code only"}),
            )
            .await;
        assert_eq!(s, 200, "{body}");
        used += LEARN;
        w.settled(120).await;
    }
    let alone: Vec<_> = w.double.requests("acme").into_iter().skip(before).collect();
    let alone_429 = alone.iter().filter(|r| r.status == 429).count();
    let learned = w.app.app_state.jira().governor().learned();
    assert!(
        learned.iter().all(|(_, r)| (*r - 19.0).abs() < 1e-6),
        "{learned:?}"
    );
    let ids = &ids[used..used + N];
    // Then two replicas share the work and the budget.
    let b = w.app.replica().await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(w.app.app_state.jira().governor().share(), 2);
    // What A learned reached B before B sent Jira anything.
    assert_eq!(b.state.jira().governor().learned(), learned);
    assert_eq!(b.state.jira().governor().share(), 2);
    let before = w.double.requests("acme").len();
    let phase_two = chrono::Utc::now();
    let started = Instant::now();
    let (s, body) = w
        .app
        .post(
            &w.t.key,
            "/api/v1/findings:status",
            &json!({"ids": ids, "status": "accepted_risk", "reason": "compensating control"}),
        )
        .await;
    assert_eq!(s, 200, "{body}");
    w.settled(300).await;
    let elapsed = started.elapsed();
    let together: Vec<_> = w.double.requests("acme").into_iter().skip(before).collect();
    let together_429 = together.iter().filter(|r| r.status == 429).count();
    // Every second of the run on each endpoint whose limit was learned (Jira's burst limit is
    // per endpoint and method; the others are not paced until Jira says so), as the double
    // saw it.
    let learned_endpoints: Vec<String> = learned
        .iter()
        .filter_map(|(key, _)| key.split_once(' ').map(|(_, e)| e.to_owned()))
        .collect();
    let mut per_second = HashMap::<(i64, String), usize>::new();
    for r in &together {
        let endpoint = jira_double::ratelimit::endpoint(&r.method, &r.path);
        let (method, path) = endpoint.split_once(' ').unwrap();
        let paced = learned_endpoints.iter().any(|e| {
            e.split_once(' ')
                .is_some_and(|(m, p)| m == method && p.ends_with(path))
        });
        if paced {
            *per_second
                .entry((r.at.timestamp(), endpoint.clone()))
                .or_default() += 1;
        }
    }
    assert!(!per_second.is_empty(), "no request on a learned endpoint");
    let busiest = per_second.values().copied().max().unwrap_or(0);
    // Which process ran each job of the shared run (a claim's owner starts with its process).
    let owners: std::collections::HashSet<String> =
        verdict_server::store::entities::outbox_jobs::Entity::find()
            .filter(verdict_server::store::entities::outbox_jobs::Column::CreatedAt.gte(phase_two))
            .all(w.app.app_state.store().db())
            .await
            .unwrap()
            .into_iter()
            .filter_map(|j| j.lease_owner)
            .filter_map(|o| o.split('-').next().map(str::to_owned))
            .collect();
    println!(
        "two replicas: {} requests in {:.1} s, busiest second {busiest} (limit {LIMIT}), {together_429} × 429 (one replica alone while learning: {alone_429}); jobs run by {} replicas",
        together.len(),
        elapsed.as_secs_f64(),
        owners.len()
    );
    assert_eq!(owners.len(), 2, "both replicas ran jobs");
    assert!(
        busiest as f64 <= f64::from(LIMIT) * 1.1,
        "the double saw {busiest} requests in one second"
    );
    assert!(
        together_429 <= alone_429,
        "{together_429} × 429 with two replicas, {alone_429} with one"
    );
    for id in ids {
        assert_eq!(w.get_finding(id).await["status"], "accepted_risk");
    }
    drop(b);
    w.app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_prunes_what_is_old_and_replay_still_works_within_the_window() {
    let w = JiraWorld::start(|_| {}).await;
    let pairs = w.linked(3).await;
    for (_, key) in &pairs {
        w.double
            .transition("acme", key, "Done", None, &w.user)
            .unwrap();
    }
    w.settled(60).await;
    let store = w.app.app_state.store().clone();
    let db = store.db();
    let deliveries = wd::Entity::find().count(db).await.unwrap();
    let decided = decisions::Entity::find().count(db).await.unwrap();
    assert!(
        deliveries >= 3 && decided >= 3,
        "{deliveries} deliveries, {decided} decisions"
    );
    let retention = w.app.app_state.config().retention();
    let prune = |days: i64| {
        let store = store.clone();
        async move {
            verdict_server::queue::retention::prune(
                &store,
                &retention,
                chrono::Utc::now() + chrono::Duration::days(days),
            )
            .await
            .unwrap()
        }
    };
    // Nothing is old yet.
    assert_eq!(prune(0).await.total(), 0);
    // Past the delivery and outbox periods, inside the decisions' window.
    let pruned = prune(31).await;
    assert_eq!(pruned.deliveries, deliveries, "{pruned:?}");
    let finished_jobs = verdict_server::store::entities::outbox_jobs::Entity::find()
        .filter(
            verdict_server::store::entities::outbox_jobs::Column::State.is_in(["done", "skipped"]),
        )
        .count(db)
        .await
        .unwrap();
    assert_eq!(finished_jobs, 0, "{pruned:?}");
    assert_eq!(pruned.decisions, 0);
    assert_eq!(wd::Entity::find().count(db).await.unwrap(), 0);
    let wasm = verdict_e2e::rule_wasm("default-policy");
    let (s, body) = w.app.upload_rule(&w.t.key, "name=policy", wasm).await;
    assert_eq!(s, 201, "{body}");
    let no_filter = json!({});
    let replay = || {
        w.app.post(
            &w.t.key,
            "/api/v1/rules/policy/versions/1/replay",
            &no_filter,
        )
    };
    let (s, report) = replay().await;
    assert_eq!(s, 200, "{report}");
    assert_eq!(report["total"], 3, "{report}");
    // Past the decisions' window: they go too, and replay has nothing left to run on.
    let pruned = prune(91).await;
    assert_eq!(pruned.decisions, decided, "{pruned:?}");
    let (s, report) = replay().await;
    assert_eq!(s, 200, "{report}");
    assert_eq!(report["total"], 0, "{report}");
    w.app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_need_the_token_or_live_on_their_own_address() {
    let token = "metrics-token-0123456789abcdef";
    let app = TestApp::spawn_with(|c| {
        c.metrics_token = Some(verdict_server::config::Secret::new(token.to_owned()))
    })
    .await;
    let scrape = |bearer: Option<&'static str>| {
        let mut req = app.client.get(app.url("/metrics"));
        if let Some(t) = bearer {
            req = req.bearer_auth(t);
        }
        async move {
            let r = req.send().await.unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        }
    };
    let (status, body) = scrape(None).await;
    assert_eq!(status, 401);
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["error"]["code"], "metrics_token_required", "{body}");
    assert_eq!(scrape(Some("wrong-token-wrong-token")).await.0, 401);
    let (status, text) = scrape(Some(token)).await;
    assert_eq!(status, 200);
    assert!(text.contains("verdict_queue_depth"));
    for reason in ["missing", "wrong_token"] {
        let series = format!(
            r#"verdict_auth_refused_total{{scheme="metrics-token",reason="{reason}",tenant="unknown"}} 1"#
        );
        assert!(text.contains(&series), "{series} in\n{text}");
    }
    app.stop().await;

    // The default: closed on the main listener.
    let app = TestApp::spawn_with(|c| c.metrics_public = false).await;
    let r = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(r.status(), 403);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "metrics_not_public", "{body}");
    app.stop().await;

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let app = TestApp::spawn_with(|c| {
        c.metrics_listen = Some(port);
        c.metrics_public = false;
    })
    .await;
    let r = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(r.status(), 404, "not on the main listener");
    let r = app
        .client
        .get(format!("http://{port}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("verdict_queue_depth"));
    app.stop().await;
}
