//! Inbox drain rate with a backlog: 20,000 signed-and-stored `issue_updated` deliveries for
//! issues no finding is linked to (the pipeline ignores each in its own transaction) are
//! stored first, then the workers start and the bench times until the inbox is empty.
//!
//! Run: `cargo bench -p verdict-server --bench queue_drain`. Prints the SQLite figure, and —
//! when PostgreSQL answers at `VERDICT_BENCH_DATABASE_URL` (default
//! `postgres://postgres@127.0.0.1:5432/test`) — the figure for two replicas sharing a fresh
//! database created there (and dropped after).

use std::time::{Duration, Instant};

use sqlx::Connection as _;
use verdict_server::app::App;
use verdict_server::config::{Config, DatabaseUrl, Secret};
use verdict_server::state::AppState;
use verdict_server::tenants::connect::{ConnectInstall, upsert_install};
use verdict_server::tenants::secrets::SecretBox;
use verdict_server::webhooks::Delivery;

const BACKLOG: usize = 20_000;

fn body(i: usize) -> String {
    serde_json::json!({
        "timestamp": 1_700_000_000_000u64 + i as u64,
        "webhookEvent": "jira:issue_updated",
        "issue": {"id": (900_000 + i).to_string(), "key": format!("OPS-{i}"),
            "fields": {"summary": "unrelated", "description": "x".repeat(2000)}},
        "changelog": {"id": i.to_string(), "items": [
            {"field": "status", "fieldtype": "jira", "from": "1", "fromString": "Open", "to": "3", "toString": "In Progress"}]}
    })
    .to_string()
}

fn config(url: String) -> Config {
    Config {
        database_url: DatabaseUrl::new(url),
        log_level: "warn".into(),
        secret_key: Some(Secret::new(SecretBox::generate_key())),
        inbox_workers: 8,
        database_max_connections: 16,
        ..Config::default()
    }
}

async fn fill(state: &AppState) {
    let tenant = upsert_install(
        state.store().db(),
        state.secrets(),
        &ConnectInstall {
            client_key: "jira:drain".into(),
            shared_secret: "drain-shared-secret".into(),
            site_url: "https://drain.atlassian.net".into(),
            display_url: None,
            installation_id: None,
            oauth_client_id: None,
        },
    )
    .await
    .unwrap()
    .0
    .id;
    let bodies: Vec<String> = (0..BACKLOG).map(body).collect();
    let mut tasks = Vec::new();
    for w in 0..16 {
        let (inbox, bodies, tenant) = (state.inbox().clone(), bodies.clone(), tenant.clone());
        tasks.push(tokio::spawn(async move {
            for i in (w..BACKLOG).step_by(16) {
                let id = format!("drain-{i}");
                inbox
                    .store(&Delivery {
                        tenant_id: &tenant,
                        identifier: &id,
                        retry_count: 0,
                        event: "jira:issue_updated",
                        source: "connect",
                        body: &bodies[i],
                    })
                    .await
                    .unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
}

async fn serve(app: App) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    tokio::spawn(app.serve(listener, std::future::pending()));
}

async fn drain(state: &AppState) -> Duration {
    let started = Instant::now();
    loop {
        if state.inbox_queue().depth().await.unwrap().waiting == 0 {
            return started.elapsed();
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("drain.db").display());
        let app = App::start(config(url)).await.unwrap();
        let state = app.state().clone();
        fill(&state).await;
        let waiting = state.inbox_queue().depth().await.unwrap().waiting;
        serve(app).await;
        let took = drain(&state).await;
        println!(
            "inbox drain, SQLite, 1 replica, {waiting} waiting: {:.0} deliveries/s ({:.2} s)",
            waiting as f64 / took.as_secs_f64(),
            took.as_secs_f64()
        );

        let admin = std::env::var("VERDICT_BENCH_DATABASE_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
        let Ok(mut conn) = sqlx::PgConnection::connect(&admin).await else {
            println!("inbox drain, PostgreSQL: skipped (nothing answers at {admin})");
            return;
        };
        let name = format!("verdict_bench_{}", uuid::Uuid::new_v4().simple());
        sqlx::raw_sql(&format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .await
            .unwrap();
        let base = admin.rsplit_once('/').map(|(b, _)| b).unwrap_or(&admin);
        let url = format!("{base}/{name}");
        let a = App::start(config(url.clone())).await.unwrap();
        let b = App::start(config(url)).await.unwrap();
        let state = a.state().clone();
        fill(&state).await;
        let waiting = state.inbox_queue().depth().await.unwrap().waiting;
        serve(a).await;
        serve(b).await;
        let took = drain(&state).await;
        println!(
            "inbox drain, PostgreSQL, 2 replicas, {waiting} waiting: {:.0} deliveries/s ({:.2} s)",
            waiting as f64 / took.as_secs_f64(),
            took.as_secs_f64()
        );
        sqlx::raw_sql(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .execute(&mut conn)
            .await
            .unwrap();
    });
}
