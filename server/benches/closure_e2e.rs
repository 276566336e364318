//! End-to-end closure latency: a person closes a ticket in the Jira double → the double sends
//! the signed webhook → Verdict acknowledges, a worker re-reads the issue and its comments,
//! the comment-classifier rule runs in wasm, the finding is updated. Measured from the close
//! to the finding's new status being visible through the findings service.
//!
//! Run: `scripts/build-rules && cargo bench -p verdict-server --bench closure_e2e`.

use std::time::{Duration, Instant};

use jira_double::{JiraDouble, SiteSpec};
use serde_json::json;
use verdict_server::app::App;
use verdict_server::config::{Config, DatabaseUrl, Secret};
use verdict_server::findings::model::{Actor, FindingInput};
use verdict_server::tenants::secrets::SecretBox;

const N: usize = 200;

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let wasm = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../target/wasm/wasm32-unknown-unknown/release/comment_classifier.wasm"
        ))
        .expect("run scripts/build-rules first");
        let double = JiraDouble::start().await;
        double.add_site(SiteSpec::standard("acme"));
        let dir = tempfile::tempdir().unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let config = Config {
            database_url: DatabaseUrl::new(format!(
                "sqlite://{}",
                dir.path().join("bench.db").display()
            )),
            base_url: format!("http://{addr}").parse().unwrap(),
            log_level: "error".into(),
            secret_key: Some(Secret::new(SecretBox::generate_key())),
            install_keys_url: double.install_keys_url().parse().unwrap(),
            ..Config::default()
        };
        verdict_server::telemetry::init(config.log_format, &config.log_level);
        let app = App::start(config).await.unwrap();
        let state = app.state().clone();
        tokio::spawn(app.serve(listener, std::future::pending()));
        let inst = double
            .install_app("acme", &format!("http://{addr}/atlassian-connect.json"))
            .await
            .unwrap();
        let tenant = verdict_server::tenants::list_tenants(state.store().db())
            .await
            .unwrap()
            .into_iter()
            .find(|t| t.client_key.as_deref() == Some(inst.client_key.as_str()))
            .unwrap();
        let rule = state
            .rules()
            .upload(&tenant.id, "classifier", None, wasm)
            .await
            .unwrap();
        state
            .rules()
            .activate(&tenant.id, "classifier", rule.version)
            .await
            .unwrap();
        let user = double.site("acme").users[1].clone();
        let actor = Actor::System("bench".into());
        let items = (0..N)
            .map(|i| {
                let input: FindingInput = serde_json::from_value(json!({
                    "external_id": format!("bench-{i}"), "title": format!("Finding {i}"),
                    "severity": "high", "scan_type": "sast"}))
                .unwrap();
                (i, input.validate().unwrap())
            })
            .collect();
        let imported = state.findings().import(&tenant.id, &actor, items).await.unwrap();
        let mut tickets = Vec::new();
        for item in &imported {
            let key = double
                .create_issue(
                    "acme",
                    &user,
                    json!({"project": {"key": "APP"}, "issuetype": {"name": "Bug"},
                           "summary": "finding", "description": "from the scanner"}),
                )
                .unwrap();
            for c in 0..5 {
                let text = if c == 4 {
                    "False positive: the handler only runs in test fixtures.".to_owned()
                } else {
                    format!("Looked at it again ({c}); discussed with the owning team, notes are in the wiki.")
                };
                double.comment("acme", &key, &user, &text).unwrap();
            }
            let issue = double.issue("acme", &key).unwrap();
            state
                .findings()
                .link(
                    &tenant.id,
                    &item.id,
                    verdict_server::findings::LinkTarget {
                        site: "acme".into(),
                        issue_id: issue["id"].as_str().unwrap().to_owned(),
                        issue_key: key.clone(),
                        project_key: "APP".into(),
                        group_key: None,
                    },
                    &actor,
                )
                .await
                .unwrap();
            tickets.push((item.id.clone(), key));
        }
        eprintln!("set up {N} linked tickets with 5 comments each");
        // Let the comment deliveries drain before timing closures.
        double.wait_for_deliveries(Duration::from_secs(60)).await;
        tokio::time::sleep(Duration::from_secs(2)).await;
        eprintln!("comment deliveries drained; closing");

        let mut lat = Vec::with_capacity(N);
        for (id, key) in &tickets {
            let start = Instant::now();
            double.transition("acme", key, "Done", None, &user).unwrap();
            loop {
                assert!(start.elapsed() < Duration::from_secs(10), "{key} was not decided");
                let f = state.findings().get(&tenant.id, id).await.unwrap();
                if f.status != rules_sdk::FindingStatus::Open {
                    assert_eq!(f.status, rules_sdk::FindingStatus::FalsePositive);
                    break;
                }
                tokio::time::sleep(Duration::from_micros(200)).await;
            }
            lat.push(start.elapsed());
            if lat.len() % 50 == 0 {
                eprintln!("{} closed, last {:?}", lat.len(), start.elapsed());
            }
        }
        lat.sort();
        let p = |q: f64| lat[((lat.len() - 1) as f64 * q).round() as usize];
        println!(
            "close → finding updated (webhook, ack, Jira re-read + comments, wasm rule, apply), {N} closures: p50 {:.1?}  p90 {:.1?}  p99 {:.1?}",
            p(0.5),
            p(0.9),
            p(0.99)
        );
    });
}
