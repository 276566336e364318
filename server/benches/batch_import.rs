//! Batch import throughput on SQLite through the real path: HTTP in, JSON parsing and
//! validation, the upsert transaction, audit events, JSON out.
//!
//! Run: `cargo bench -p verdict-server --bench batch_import` (release build). Prints the
//! median and best of several runs for 10,000 new, unchanged and changed findings.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use verdict_server::app::App;
use verdict_server::config::{Config, DatabaseUrl};
use verdict_server::tenants::{self, ConnectionKind};

const BATCH: usize = 10_000;
const RUNS: usize = 7;

fn finding(run: usize, i: usize, rev: u32) -> Value {
    let severities = ["info", "low", "medium", "high", "critical"];
    json!({
        "external_id": format!("bench-{run}-{i:06}"),
        "title": format!("SQL injection in handler {i}"),
        "description": format!("Revision {rev}: untrusted input from `request.args` reaches `cursor.execute` in module {i}. Use bound parameters."),
        "severity": severities[i % 5],
        "score": (i % 11) as f64,
        "cvss_vector": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:N",
        "cvss_score": 9.1,
        "cwe_ids": [89],
        "scan_type": "sast",
        "repository": "github.com/acme/shop",
        "file_path": format!("app/handlers/h{i}.py"),
        "line": i % 900 + 1,
        "code_snippet": "cursor.execute(\"SELECT * FROM t WHERE id = %s\" % request.args['id'])",
        "tags": ["owasp-a03", "python"],
    })
}

fn body(run: usize, rev: u32) -> Vec<u8> {
    let findings: Vec<Value> = (0..BATCH).map(|i| finding(run, i, rev)).collect();
    serde_json::to_vec(&json!({ "findings": findings })).unwrap()
}

struct Stats(Vec<Duration>);

impl Stats {
    fn report(mut self, name: &str) {
        self.0.sort();
        let median = self.0[self.0.len() / 2];
        let best = self.0[0];
        let rate = |d: Duration| BATCH as f64 / d.as_secs_f64();
        println!(
            "{name:<34} median {:>7.1} ms = {:>8.0} findings/s   (best {:>7.1} ms = {:>8.0}/s, {} runs)",
            median.as_secs_f64() * 1e3,
            rate(median),
            best.as_secs_f64() * 1e3,
            rate(best),
            self.0.len()
        );
    }
}

async fn post(
    client: &reqwest::Client,
    url: &str,
    key: &str,
    body: Vec<u8>,
    expect: &str,
) -> Duration {
    let start = Instant::now();
    let r = client
        .post(url)
        .bearer_auth(key)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let summary: Value = r.json().await.unwrap();
    let elapsed = start.elapsed();
    assert_eq!(summary[expect], BATCH, "{}", summary["errors"]);
    elapsed
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let config = Config {
            database_url: DatabaseUrl::new(format!(
                "sqlite://{}",
                dir.path().join("bench.db").display()
            )),
            log_level: "warn".into(),
            secret_key: Some(verdict_server::config::Secret::new(
                verdict_server::tenants::secrets::SecretBox::generate_key(),
            )),
            ..Config::default()
        };
        let app = App::start(config).await.unwrap();
        let db = app.state().store().db().clone();
        let tenant = tenants::create_tenant(&db, "bench", ConnectionKind::Standalone)
            .await
            .unwrap();
        let key = tenants::create_api_key(&db, &tenant, "bench", tenants::KeyScope::Scanner)
            .await
            .unwrap()
            .secret;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!(
            "http://{}/api/v1/findings:batch",
            listener.local_addr().unwrap()
        );
        tokio::spawn(app.serve(listener, std::future::pending()));
        let client = reqwest::Client::new();

        let (mut created, mut unchanged, mut updated) = (Vec::new(), Vec::new(), Vec::new());
        for run in 0..RUNS {
            created.push(post(&client, &url, &key, body(run, 1), "created").await);
            unchanged.push(post(&client, &url, &key, body(run, 1), "unchanged").await);
            updated.push(post(&client, &url, &key, body(run, 2), "updated").await);
        }
        println!(
            "batch import over HTTP, SQLite (WAL), {BATCH} findings per request, {} cores:",
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
        );
        Stats(created).report("10k new (created)");
        Stats(unchanged).report("10k re-import (unchanged)");
        Stats(updated).report("10k changed (updated)");
    });
}
