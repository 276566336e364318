//! Webhook acknowledgement on SQLite through the real path: HTTP in, Connect JWT (HS256 +
//! qsh) verified, the raw delivery stored in the inbox, 204 out.
//!
//! Run: `cargo bench -p verdict-server --bench webhook_ack`. Prints (1) saturated throughput
//! with 32 deliveries in flight and (2) ack latency p50/p99 at a paced 1,000 deliveries/s.
//! The load generator (including signing every request) shares the machine's cores.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use verdict_server::app::App;
use verdict_server::config::{Config, DatabaseUrl, Secret};
use verdict_server::tenants::connect::{ConnectInstall, upsert_install};
use verdict_server::tenants::secrets::SecretBox;

const SECRET: &str = "bench-shared-secret";
const CLIENT_KEY: &str = "jira:bench";

fn payload(i: usize) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "timestamp": 1_700_000_000_000u64 + i as u64,
        "webhookEvent": "jira:issue_updated",
        "issue_event_type_name": "issue_generic",
        "user": {"accountId": "712020:bench-user", "displayName": "Bench User", "active": true},
        "issue": {"id": (10_000 + i % 500).to_string(), "key": format!("SEC-{}", i % 500), "fields": {
            "summary": "SQL injection in search endpoint", "labels": ["security", "verdict"],
            "status": {"id": "6", "name": "Closed", "statusCategory": {"id": 3, "key": "done", "name": "Done"}},
            "resolution": {"id": "10000", "name": "Done"}, "priority": {"id": "2", "name": "High"},
            "project": {"id": "10000", "key": "SEC", "name": "Security"},
            "description": "x".repeat(3000)}},
        "changelog": {"id": (20_000 + i).to_string(), "items": [
            {"field": "resolution", "fieldtype": "jira", "fieldId": "resolution", "from": null, "fromString": null, "to": "10000", "toString": "Done"},
            {"field": "status", "fieldtype": "jira", "fieldId": "status", "from": "1", "fromString": "Open", "to": "6", "toString": "Closed"}]}
    }))
    .unwrap()
}

fn token() -> String {
    let now = chrono::Utc::now().timestamp();
    let claims = json!({"iss": CLIENT_KEY, "iat": now, "exp": now + 180,
        "qsh": verdict_server::atlassian::qsh::qsh("POST", "/connect/webhooks/jira", "")});
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .unwrap()
}

async fn deliver(client: &reqwest::Client, url: &str, i: usize, body: Vec<u8>) -> Duration {
    let start = Instant::now();
    let r = client
        .post(url)
        .header("Authorization", format!("JWT {}", token()))
        .header("Content-Type", "application/json")
        .header("X-Atlassian-Webhook-Identifier", format!("bench-{i}"))
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    start.elapsed()
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let config = Config {
            database_url: DatabaseUrl::new(format!("sqlite://{}", dir.path().join("bench.db").display())),
            base_url: format!("http://{addr}").parse().unwrap(),
            log_level: "warn".into(),
            secret_key: Some(Secret::new(SecretBox::generate_key())),
            ..Config::default()
        };
        let app = App::start(config).await.unwrap();
        let state = app.state().clone();
        upsert_install(
            state.store().db(),
            state.secrets(),
            &ConnectInstall {
                client_key: CLIENT_KEY.into(),
                shared_secret: SECRET.into(),
                site_url: "https://bench.atlassian.net".into(),
                display_url: None,
                installation_id: None,
                oauth_client_id: None,
            },
        )
        .await
        .unwrap();
        tokio::spawn(app.serve(listener, std::future::pending()));
        let url = Arc::new(format!("http://{addr}/connect/webhooks/jira"));
        let client = reqwest::Client::builder().pool_max_idle_per_host(64).build().unwrap();
        let bodies: Arc<Vec<Vec<u8>>> = Arc::new((0..64).map(payload).collect());

        // Warm up.
        for i in 0..200 {
            deliver(&client, &url, 1_000_000 + i, bodies[i % 64].clone()).await;
        }

        // 1. Saturated: 32 in flight.
        const N: usize = 20_000;
        const IN_FLIGHT: usize = 32;
        let start = Instant::now();
        let mut tasks = Vec::new();
        for w in 0..IN_FLIGHT {
            let (client, url, bodies) = (client.clone(), url.clone(), bodies.clone());
            tasks.push(tokio::spawn(async move {
                let mut i = w;
                while i < N {
                    deliver(&client, &url, i, bodies[i % 64].clone()).await;
                    i += IN_FLIGHT;
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        let elapsed = start.elapsed();
        println!(
            "webhook ack, saturated ({IN_FLIGHT} in flight, {N} deliveries of ~{} B): {:.0} acks/s ({:.2} s)",
            bodies[0].len(),
            N as f64 / elapsed.as_secs_f64(),
            elapsed.as_secs_f64()
        );

        // 2. Paced at 1,000/s for 5 s: latency.
        const RATE: u64 = 1_000;
        const SECS: u64 = 5;
        let mut tick = tokio::time::interval(Duration::from_micros(1_000_000 / RATE));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
        let mut tasks = Vec::new();
        for i in 0..(RATE * SECS) as usize {
            tick.tick().await;
            let (client, url, body) = (client.clone(), url.clone(), bodies[i % 64].clone());
            tasks.push(tokio::spawn(async move { deliver(&client, &url, 2_000_000 + i, body).await }));
        }
        let mut lat: Vec<Duration> = Vec::new();
        for t in tasks {
            lat.push(t.await.unwrap());
        }
        lat.sort();
        let pct = |p: f64| lat[((lat.len() as f64 * p) as usize).min(lat.len() - 1)];
        println!(
            "webhook ack latency at {RATE}/s for {SECS} s: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
            pct(0.50).as_secs_f64() * 1e3,
            pct(0.99).as_secs_f64() * 1e3,
            lat.last().unwrap().as_secs_f64() * 1e3
        );
    });
}
