//! Crash safety of the webhook path with the real binary: 2,000 signed closures are fired at
//! `verdict serve`, which is SIGKILLed mid-stream and restarted. Every delivery that got a
//! 2xx is processed exactly once: none lost, none applied twice (checked on the audit trail
//! and the decision log).

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use sea_orm::{ColumnTrait, Database, EntityTrait, QueryFilter};
use serde_json::json;
use verdict_server::app::App;
use verdict_server::config::{Config, DatabaseUrl, Secret};
use verdict_server::findings::LinkTarget;
use verdict_server::findings::model::{Actor, FindingInput};
use verdict_server::store::entities::{decisions, finding_events, webhook_deliveries};
use verdict_server::tenants::connect::{ConnectInstall, upsert_install};
use verdict_server::tenants::secrets::SecretBox;

const BIN: &str = env!("CARGO_BIN_EXE_verdict");
const CLIENT_KEY: &str = "jira:crash-test";
const SHARED: &str = "crash-test-shared-secret";
const N: usize = 2_000;

fn spawn(dir: &Path, db: &str, key: &str, port: u16) -> Child {
    let mut cmd = Command::new(BIN);
    for (k, _) in std::env::vars() {
        if k.starts_with("VERDICT_") {
            cmd.env_remove(k);
        }
    }
    let child = cmd
        .current_dir(dir)
        .arg("serve")
        .env("VERDICT_LISTEN", format!("127.0.0.1:{port}"))
        .env("VERDICT_BASE_URL", format!("http://127.0.0.1:{port}"))
        .env("VERDICT_DATABASE_URL", db)
        .env("VERDICT_SECRET_KEY", key)
        .env("VERDICT_LOG_LEVEL", "error")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "verdict did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    child
}

fn token() -> String {
    let now = chrono::Utc::now().timestamp();
    let claims = json!({"iss": CLIENT_KEY, "iat": now, "exp": now + 180,
        "qsh": verdict_server::atlassian::qsh::qsh("POST", "/connect/webhooks/jira", "")});
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(SHARED.as_bytes()),
    )
    .unwrap()
}

fn closure(i: usize) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "timestamp": 1_795_000_000_000i64 + i as i64,
        "webhookEvent": "jira:issue_updated",
        "issue_event_type_name": "issue_generic",
        "user": {"accountId": "712020:closer"},
        "issue": {"id": (100_000 + i).to_string(), "key": format!("SEC-{i}"), "fields": {
            "status": {"id": "6", "name": "Closed", "statusCategory": {"key": "done"}},
            "resolution": {"id": "10000", "name": "Done"},
            "labels": [], "project": {"key": "SEC"}}},
        "changelog": {"id": (500_000 + i).to_string(), "items": [
            {"field": "resolution", "fieldId": "resolution", "from": null, "to": "10000", "toString": "Done"},
            {"field": "status", "fieldId": "status", "from": "3", "fromString": "In Progress", "to": "6", "toString": "Closed"}]}
    }))
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_stream_loses_nothing_and_applies_nothing_twice() {
    let dir = tempfile::tempdir().unwrap();
    let db_url = format!("sqlite://{}", dir.path().join("verdict.db").display());
    let key = SecretBox::generate_key();

    // Set up in-process: a Connect tenant whose Jira is unreachable (the payloads carry what
    // the decision needs), 2,000 findings each linked to its own ticket.
    {
        let config = Config {
            database_url: DatabaseUrl::new(db_url.clone()),
            secret_key: Some(Secret::new(key.clone())),
            log_level: "error".into(),
            ..Config::default()
        };
        let app = App::start(config).await.unwrap();
        let state = app.state().clone();
        let (tenant, _) = upsert_install(
            state.store().db(),
            state.secrets(),
            &ConnectInstall {
                client_key: CLIENT_KEY.into(),
                shared_secret: SHARED.into(),
                site_url: "http://127.0.0.1:9".into(),
                display_url: None,
                installation_id: None,
                oauth_client_id: None,
            },
        )
        .await
        .unwrap();
        let actor = Actor::System("test".into());
        let items = (0..N)
            .map(|i| {
                let input: FindingInput = serde_json::from_value(json!({
                    "external_id": format!("crash-{i}"), "title": format!("Finding {i}"),
                    "severity": "high", "scan_type": "sast"}))
                .unwrap();
                (i, input.validate().unwrap())
            })
            .collect();
        let imported = state
            .findings()
            .import(&tenant.id, &actor, items)
            .await
            .unwrap();
        for item in &imported {
            state
                .findings()
                .link(
                    &tenant.id,
                    &item.id,
                    LinkTarget {
                        site: "http://127.0.0.1:9".into(),
                        issue_id: (100_000 + item.index).to_string(),
                        issue_key: format!("SEC-{}", item.index),
                        project_key: "SEC".into(),
                        group_key: None,
                    },
                    &actor,
                )
                .await
                .unwrap();
        }
        state.store().clone().close().await.unwrap();
    }

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = spawn(dir.path(), &db_url, &key, port);
    let url = format!("http://127.0.0.1:{port}/connect/webhooks/jira");
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let acked = Arc::new(std::sync::Mutex::new(HashSet::new()));
    let sent = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for w in 0..16 {
        let (client, url, acked, sent) = (client.clone(), url.clone(), acked.clone(), sent.clone());
        tasks.push(tokio::spawn(async move {
            let mut i = w;
            while i < N {
                sent.fetch_add(1, Ordering::Relaxed);
                let r = client
                    .post(&url)
                    .header("Authorization", format!("JWT {}", token()))
                    .header("Content-Type", "application/json")
                    .header("X-Atlassian-Webhook-Identifier", format!("crash-{i}"))
                    .body(closure(i))
                    .send()
                    .await;
                if let Ok(r) = r
                    && r.status().is_success()
                {
                    acked.lock().unwrap().insert(format!("crash-{i}"));
                }
                i += 16;
            }
        }));
    }
    // Kill it mid-stream.
    while sent.load(Ordering::Relaxed) < N / 3 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    for t in tasks {
        t.await.unwrap();
    }
    let acked: HashSet<String> = acked.lock().unwrap().clone();
    assert!(
        acked.len() >= N / 10,
        "only {} acknowledged before the kill",
        acked.len()
    );
    assert!(acked.len() < N, "the kill came too late to test anything");

    // Restart and let it finish what it stored.
    let mut child = spawn(dir.path(), &db_url, &key, port);
    let db = Database::connect(&db_url).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let open = webhook_deliveries::Entity::find()
            .filter(webhook_deliveries::Column::State.is_in(["pending", "processing"]))
            .all(&db)
            .await
            .unwrap();
        if open.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{} deliveries still open",
            open.len()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    child.kill().unwrap();
    child.wait().unwrap();

    let stored = webhook_deliveries::Entity::find().all(&db).await.unwrap();
    let by_identifier: HashMap<&str, &webhook_deliveries::Model> =
        stored.iter().map(|d| (d.identifier.as_str(), d)).collect();
    for id in &acked {
        let d = by_identifier
            .get(id.as_str())
            .unwrap_or_else(|| panic!("acknowledged delivery {id} was lost"));
        assert_eq!(d.state, "done", "{id}: {:?}", d.outcome);
    }
    // Exactly one decision per processed delivery, one status change per closed finding.
    let decisions = decisions::Entity::find().all(&db).await.unwrap();
    let mut per_delivery: HashMap<String, usize> = HashMap::new();
    for d in &decisions {
        *per_delivery
            .entry(d.delivery_id.clone().unwrap())
            .or_default() += 1;
    }
    assert!(
        per_delivery.values().all(|n| *n == 1),
        "a delivery was decided twice"
    );
    assert_eq!(
        decisions.len(),
        stored.len(),
        "every stored delivery was decided once"
    );
    let changes = finding_events::Entity::find()
        .filter(finding_events::Column::Kind.eq("status_changed"))
        .all(&db)
        .await
        .unwrap();
    let mut per_finding: HashMap<String, usize> = HashMap::new();
    for e in &changes {
        assert_eq!(e.to_status.as_deref(), Some("resolved"));
        *per_finding.entry(e.finding_id.clone()).or_default() += 1;
    }
    assert!(
        per_finding.values().all(|n| *n == 1),
        "a closure was applied twice"
    );
    assert_eq!(per_finding.len(), stored.len());
    println!(
        "sent {N}, acknowledged {} before SIGKILL, stored {}, all processed exactly once",
        acked.len(),
        stored.len()
    );
}
