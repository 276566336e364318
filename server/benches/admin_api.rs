//! Admin app speed on SQLite for a tenant with 100,000 findings and 10,000 closure decisions:
//! every admin page and API call over real HTTP, timed by the server (`Server-Timing`) and
//! end to end. The tenant is a Connect installation in the Jira double, so the page and the
//! context-token path are the production ones (the permission check is cached after the first).
//!
//! Run: `cargo bench -p verdict-server --bench admin_api`. Target: ≤ 50 ms server time each.

use std::time::{Duration, Instant};

use jira_double::{JiraDouble, SiteSpec};
use sea_orm::{ActiveModelTrait, Set, TransactionTrait};
use serde_json::{Value, json};
use verdict_server::app::App;
use verdict_server::config::{Config, DatabaseUrl, Secret};
use verdict_server::store::entities::decisions;

const FINDINGS: usize = 100_000;
const DECISIONS: usize = 10_000;
const SAMPLES: usize = 40;

fn finding(i: usize) -> Value {
    let severities = ["info", "low", "medium", "high", "critical"];
    let scan = ["sast", "sca", "secrets", "dast", "container"];
    json!({
        "external_id": format!("bench-{i:07}"),
        "title": format!("Finding {i} in handler"),
        "description": "Untrusted input reaches a sink. Use bound parameters.",
        "severity": severities[i % 5],
        "score": (i % 11) as f64,
        "scan_type": scan[(i / 5) % 5],
        "repository": format!("github.com/acme/repo-{}", i % 20),
        "file_path": format!("app/h{i}.py"),
        "line": i % 900 + 1,
        "tags": ["bench"],
    })
}

struct Sample {
    server_ms: f64,
    total_ms: f64,
}

fn percentile(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

async fn time(
    client: &reqwest::Client,
    req: impl Fn(&reqwest::Client) -> reqwest::RequestBuilder,
) -> Sample {
    let start = Instant::now();
    let r = req(client).send().await.unwrap();
    let status = r.status();
    let server = r
        .headers()
        .get("server-timing")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split("dur=").nth(1))
        .and_then(|v| v.parse::<f64>().ok());
    let _ = r.bytes().await.unwrap();
    let total_ms = start.elapsed().as_secs_f64() * 1e3;
    assert!(status.is_success(), "{status}");
    Sample {
        // Pages carry no Server-Timing: their end-to-end time on loopback bounds the server's.
        server_ms: server.unwrap_or(total_ms),
        total_ms,
    }
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let double = JiraDouble::start().await;
        double.add_site(SiteSpec::standard("acme"));
        let dir = tempfile::tempdir().unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let config = Config {
            database_url: DatabaseUrl::new(format!("sqlite://{}", dir.path().join("bench.db").display())),
            base_url: base.parse().unwrap(),
            log_level: "warn".into(),
            secret_key: Some(Secret::new(verdict_server::tenants::secrets::SecretBox::generate_key())),
            install_keys_url: double.install_keys_url().parse().unwrap(),
            admin_token: Some(Secret::new("bench-operator-token-0123456789abcdef")),
            ..Config::default()
        };
        let app = App::start(config).await.unwrap();
        let state = app.state().clone();
        tokio::spawn(app.serve(listener, std::future::pending()));
        double
            .install_app("acme", &format!("{base}/atlassian-connect.json"))
            .await
            .unwrap();
        let db = state.store().db().clone();
        let tenant = verdict_server::tenants::list_tenants(&db)
            .await
            .unwrap()
            .into_iter()
            .next()
            .unwrap();
        let key = verdict_server::tenants::create_api_key(&db, &tenant, "bench", verdict_server::tenants::KeyScope::Admin)
            .await
            .unwrap()
            .secret;
        let client = reqwest::Client::new();

        let seed = Instant::now();
        for chunk in (0..FINDINGS).collect::<Vec<_>>().chunks(10_000) {
            let body = json!({"findings": chunk.iter().map(|i| finding(*i)).collect::<Vec<_>>()});
            let r = client
                .post(format!("{base}/api/v1/findings:batch"))
                .bearer_auth(&key)
                .json(&body)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
        }
        let start = chrono::Utc::now() - chrono::Duration::days(30);
        let txn = db.begin().await.unwrap();
        for i in 0..DECISIONS {
            let verdict = ["resolved", "false_positive", "accepted_risk"][i % 3];
            let input = json!({"closure": {"ticket": {"id": format!("{}", 10_000 + i), "key": format!("SEC-{i}"), "project": "SEC",
                "status": {"id": "3", "name": "Closed", "category": "done"}, "comments": [{"id": "1", "author": "712020:x", "body": "Fixed in the last release, verified by a rescan of the service.", "created": 0, "updated": 0}]}}});
            decisions::ActiveModel {
                id: Set(uuid::Uuid::now_v7().to_string()),
                tenant_id: Set(tenant.id.clone()),
                kind: Set("closure".into()),
                finding_id: Set(None),
                issue_id: Set(Some(format!("{}", 10_000 + i))),
                issue_key: Set(Some(format!("SEC-{i}"))),
                input: Set(input.to_string()),
                output: Set(json!({"closure": {"apply": {"status": verdict, "reason": "a comment says it is fixed", "confidence": 0.9}}}).to_string()),
                source: Set(if i % 4 == 0 { "rule" } else { "default" }.into()),
                rule_id: Set(None),
                rule_name: Set((i % 4 == 0).then(|| "classifier".into())),
                rule_version: Set((i % 4 == 0).then_some(1)),
                error_code: Set(None),
                error_message: Set(None),
                created_at: Set(start + chrono::Duration::seconds(i as i64 * 60)),
                delivery_id: Set(None),
                outcome: Set(Some("apply".into())),
                verdict: Set(Some(verdict.into())),
                reason: Set(Some("a comment says it is fixed".into())),
                confidence: Set(Some(0.9)),
                actor: Set(Some("712020:triager".into())),
                resolution: Set(None),
                contradicted_at: Set(None),
                contradicted_by: Set(None),
                notes: Set(None),
            }
            .insert(&txn)
            .await
            .unwrap();
        }
        txn.commit().await.unwrap();
        println!(
            "seeded {FINDINGS} findings and {DECISIONS} decisions in {:.1} s",
            seed.elapsed().as_secs_f64()
        );

        // The operator's session, for /admin.
        let no_redirects = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        let login = no_redirects
            .post(format!("{base}/admin/login"))
            .form(&[("admin_token", "bench-operator-token-0123456789abcdef")])
            .send()
            .await
            .unwrap();
        let cookie = login.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_owned();
        let admin = double.site("acme").users[0].clone();
        let context = || {
            format!(
                "JWT {}",
                double.context_token("acme", "io.verdict.jira", &admin, 600).unwrap()
            )
        };
        let page_url = || {
            let url = format!("{base}/connect/admin?xdm_e=http%3A%2F%2Fexample&cp=&lic=none");
            let token = double
                .page_jwt("acme", "io.verdict.jira", &admin, &url, 120)
                .unwrap();
            format!("{url}&jwt={token}")
        };
        let get_json = |url: String| {
            let request = client.get(url).header("Authorization", context());
            async move { request.send().await.unwrap().json::<Value>().await.unwrap() }
        };
        // Deep in the log: the cursor after 5,000 decisions.
        let mut cursor = String::new();
        for _ in 0..25 {
            let r = get_json(format!("{base}/api/admin/v1/decisions?limit=200{cursor}")).await;
            cursor = format!("&cursor={}", r["next_cursor"].as_str().unwrap());
        }
        let some_decision = get_json(format!("{base}/api/admin/v1/decisions?limit=1")).await;
        let decision_id = some_decision["decisions"][0]["id"].as_str().unwrap().to_owned();

        type Call<'a> = Box<dyn Fn(&reqwest::Client) -> reqwest::RequestBuilder + 'a>;
        let api = |path: &str| -> Call<'_> {
            let url = format!("{base}/api/admin/v1{path}");
            let ctx = context();
            Box::new(move |c: &reqwest::Client| c.get(&url).header("Authorization", &ctx))
        };
        let calls: Vec<(&str, Call<'_>)> = vec![
            ("page /connect/admin (page JWT)", Box::new(|c: &reqwest::Client| c.get(page_url()))),
            ("page /admin (operator session)", Box::new({
                let (url, cookie) = (format!("{base}/admin"), cookie.clone());
                move |c: &reqwest::Client| c.get(&url).header("Cookie", &cookie)
            })),
            ("GET /me", api("/me")),
            ("GET /overview", api("/overview")),
            ("GET /api-keys", api("/api-keys")),
            ("GET /settings", api("/settings")),
            ("GET /rules", api("/rules")),
            ("GET /decisions (first page)", api("/decisions?limit=50")),
            ("GET /decisions?verdict=accepted_risk", api("/decisions?limit=50&verdict=accepted_risk")),
            ("GET /decisions (5,000 deep)", api(&format!("/decisions?limit=50{cursor}"))),
            ("GET /decisions?issue=SEC-4711", api("/decisions?issue=SEC-4711")),
            ("GET /decisions/{id} (full input)", api(&format!("/decisions/{decision_id}"))),
            ("GET /findings (first page)", api("/findings?limit=50")),
            ("GET /findings?severity=critical&status=open", api("/findings?limit=50&severity=critical&status=open")),
            ("GET /findings?scan_type=secrets&min_score=9", api("/findings?limit=50&scan_type=secrets&min_score=9")),
            ("GET /findings?has_jira_link=false", api("/findings?limit=50&has_jira_link=false")),
            ("GET /audit", api("/audit")),
            ("PUT /settings/closure (a change, audited)", Box::new({
                let (url, ctx) = (format!("{base}/api/admin/v1/settings/closure"), context());
                let flip = std::sync::atomic::AtomicBool::new(false);
                move |c: &reqwest::Client| {
                    let on = !flip.fetch_xor(true, std::sync::atomic::Ordering::SeqCst);
                    c.put(&url).header("Authorization", &ctx).json(&json!({"values": {"closure.comment": on.to_string()}}))
                }
            })),
        ];
        println!(
            "admin app over HTTP, SQLite, {FINDINGS} findings + {DECISIONS} decisions, {SAMPLES} samples each, {} cores",
            std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
        );
        println!("{:<46} {:>10} {:>10} {:>10} {:>12}", "call", "server p50", "server p95", "server max", "round trip p50");
        let mut worst: f64 = 0.0;
        for (name, call) in &calls {
            // One warm-up (the permission answer is then cached, as in production).
            let _ = time(&client, call).await;
            let mut server = Vec::new();
            let mut total = Vec::new();
            for _ in 0..SAMPLES {
                let s = time(&client, call).await;
                server.push(s.server_ms);
                total.push(s.total_ms);
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            let p95 = percentile(&mut server, 0.95);
            worst = worst.max(p95);
            println!(
                "{name:<46} {:>8.2}ms {:>8.2}ms {:>8.2}ms {:>10.2}ms",
                percentile(&mut server, 0.5),
                p95,
                percentile(&mut server, 1.0),
                percentile(&mut total, 0.5)
            );
        }
        println!("worst server p95: {worst:.2} ms (target ≤ 50 ms)");
    });
}
