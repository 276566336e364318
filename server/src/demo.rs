//! `verdict demo`: Verdict and a simulated Jira site in one process, playing the whole story —
//! install (as the native Forge app by default, or Connect), import, auto-ticketing, four triage
//! outcomes — through the real paths (HTTP, database, rules, the outbox, signed Forge events or
//! webhooks), then a table of what happened.

use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use jira_double::{JiraDouble, SiteSpec};
use serde_json::{Value, json};

use crate::app::App;
use crate::config::{Config, DatabaseUrl, Secret};
use crate::tenants;
use crate::tenants::secrets::SecretBox;

/// How the demo site installs Verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum InstallAs {
    /// The native Forge app (`forge/manifest.yml`), as the Marketplace installs it today.
    Forge,
    /// The Connect app (`atlassian-connect.json`), for sites that still have it.
    Connect,
}

/// The demo's Forge app id (any app id works against the simulated site).
const DEMO_FORGE_APP_ID: &str = "ari:cloud:ecosystem::app/0d3e0000-0000-4000-8000-00000000d3e0";
/// The manifest the simulated site runs: the one Verdict ships.
const FORGE_MANIFEST: &str = include_str!("../../forge/manifest.yml");

struct Api {
    http: reqwest::Client,
    base: String,
    key: String,
}

impl Api {
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<Value> {
        let mut req = self
            .http
            .request(method.clone(), format!("{}{path}", self.base))
            .bearer_auth(&self.key);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req
            .send()
            .await
            .with_context(|| format!("{method} {path}"))?;
        let status = resp.status();
        let v: Value = resp.json().await.unwrap_or(Value::Null);
        if !status.is_success() {
            bail!("{method} {path} answered {status}: {v}");
        }
        Ok(v)
    }

    async fn get(&self, path: &str) -> anyhow::Result<Value> {
        self.call(reqwest::Method::GET, path, None).await
    }
}

/// A person's action in the simulated Jira.
fn act<T>(r: Result<T, jira_double::ops::OpError>) -> anyhow::Result<T> {
    r.map_err(|e| anyhow::anyhow!("Jira refused: {e:?}"))
}

/// Polls until `done` holds, failing with `what` after 30 s.
async fn until<F, Fut>(what: &str, mut done: F) -> anyhow::Result<()>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<bool>>,
{
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done().await? {
        if Instant::now() > deadline {
            bail!("timed out waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}

struct Story {
    title: &'static str,
    severity: &'static str,
    scan_type: &'static str,
    expect: &'static str,
}

const STORIES: [Story; 4] = [
    Story {
        title: "SQL injection in OrderRepository.find",
        severity: "critical",
        scan_type: "sast",
        expect: "resolved",
    },
    Story {
        title: "Reflected XSS in /search",
        severity: "high",
        scan_type: "dast",
        expect: "false_positive",
    },
    Story {
        title: "libxml2 2.9.10 (CVE-2022-40303)",
        severity: "high",
        scan_type: "sca",
        expect: "accepted_risk",
    },
    Story {
        title: "Path traversal in upload handler",
        severity: "medium",
        scan_type: "sast",
        expect: "open",
    },
];

/// Runs the demo and prints its table; an error when the story did not end as it should.
pub async fn run(install_as: InstallAs) -> anyhow::Result<()> {
    let dir = tempfile::tempdir().context("temp dir")?;
    let double = JiraDouble::start().await;
    let site = double.add_site(SiteSpec::standard("acme"));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let config = Config {
        listen: addr,
        base_url: format!("http://{addr}").parse()?,
        database_url: DatabaseUrl::new(format!(
            "sqlite://{}",
            dir.path().join("demo.db").display()
        )),
        install_keys_url: double.install_keys_url().parse()?,
        forge_jwks_url: double.forge_jwks_url().parse()?,
        forge_app_id: Some(DEMO_FORGE_APP_ID.into()),
        secret_key: Some(Secret::new(SecretBox::generate_key())),
        secret_key_file: dir.path().join("unused.key"),
        log_level: "warn".into(),
        ..Config::default()
    };
    println!(
        "Verdict on http://{addr} (SQLite in {}), simulated Jira site at {}",
        dir.path().display(),
        site.base_url
    );
    let app = App::start(config).await?;
    let state = app.state().clone();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.serve(listener, async move {
        let _ = stopped.await;
    }));

    // 1. A Jira admin installs Verdict: the Forge app from the Marketplace, or the Connect app.
    let tenant = match install_as {
        InstallAs::Forge => {
            let installation = double
                .install_forge_app(
                    "acme",
                    DEMO_FORGE_APP_ID,
                    FORGE_MANIFEST,
                    &format!("http://{addr}"),
                )
                .await
                .map_err(|e| anyhow::anyhow!("install failed: {e:?}"))?;
            let row = <crate::store::entities::forge_installations::Entity as sea_orm::EntityTrait>::find_by_id(installation)
                .one(state.store().db())
                .await?
                .context("the Forge install created no tenant")?;
            tenants::find_tenant(state.store().db(), &row.tenant_id).await?
        }
        InstallAs::Connect => {
            let inst = double
                .install_app("acme", &format!("http://{addr}/atlassian-connect.json"))
                .await
                .map_err(|e| anyhow::anyhow!("install failed: {e:?}"))?;
            tenants::list_tenants(state.store().db())
                .await?
                .into_iter()
                .find(|t| t.client_key.as_deref() == Some(inst.client_key.as_str()))
                .context("the install created no tenant")?
        }
    };
    let key = tenants::create_api_key(
        state.store().db(),
        &tenant,
        "demo",
        tenants::KeyScope::Admin,
    )
    .await?;
    println!(
        "1. installed into `acme` as {}; tenant {}",
        match install_as {
            InstallAs::Forge => "the Forge app (events through Forge Remote)",
            InstallAs::Connect => "a Connect app (signed webhooks)",
        },
        tenant.id
    );
    let api = Api {
        http: reqwest::Client::new(),
        base: format!("http://{addr}"),
        key: key.secret,
    };

    // 2. Auto-ticketing on, decisions commented back on the tickets.
    api.call(
        reqwest::Method::PUT,
        "/api/v1/settings",
        Some(json!({"settings": {"ticket.project": "APP", "ticket.min_severity": "medium", "closure.comment": "true"}})),
    )
    .await?;

    // 3. A scanner imports findings; each one gets a ticket through the outbox.
    let findings: Vec<Value> = STORIES
        .iter()
        .enumerate()
        .map(|(i, s)| {
            json!({"external_id": format!("demo-{i}"), "title": s.title, "severity": s.severity,
                   "scan_type": s.scan_type, "repository": "github.com/acme/shop",
                   "description": "Found by the nightly scan."})
        })
        .collect();
    let imported = api
        .call(
            reqwest::Method::POST,
            "/api/v1/findings:batch",
            Some(json!({"findings": findings})),
        )
        .await?;
    let ids: Vec<String> = imported["items"]
        .as_array()
        .context("import answer")?
        .iter()
        .filter_map(|i| i["id"].as_str().map(str::to_owned))
        .collect();
    let mut keys = Vec::new();
    for id in &ids {
        let path = format!("/api/v1/findings/{id}");
        until("auto-ticketing", || async {
            Ok(api.get(&path).await?["jira"]["issue_key"].is_string())
        })
        .await?;
        keys.push(
            api.get(&path).await?["jira"]["issue_key"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        );
    }
    println!(
        "2. imported {} findings; auto-ticketing filed {}",
        ids.len(),
        keys.join(", ")
    );

    // 4. Triage in Jira, as people do it.
    let triager = site.users[1].clone();
    act(double.transition("acme", &keys[0], "Done", None, &triager))?;
    act(double.comment(
        "acme",
        &keys[1],
        &triager,
        "False positive: this is test code, the handler is never deployed.",
    ))?;
    act(double.transition("acme", &keys[1], "Won't Do", None, &triager))?;
    double.add_space("acme", "SEC", "Security");
    let page = double.add_page(
        "acme",
        "SEC",
        "Risk acceptance: libxml2 in the legacy importer",
        &["risk-acceptance", "approved"],
        "Accepted by the CISO until the importer is retired. Compensating control: input is signed.",
    );
    act(double.comment(
        "acme",
        &keys[2],
        &triager,
        &format!(
            "We accept the risk until the importer is retired, approved by the CISO: {}",
            double.page_url("acme", &page)
        ),
    ))?;
    act(double.transition("acme", &keys[2], "Won't Do", None, &triager))?;
    act(double.transition("acme", &keys[3], "Done", None, &triager))?;
    let reopen_path = format!("/api/v1/findings/{}", ids[3]);
    until("the fourth closure", || async {
        Ok(api.get(&reopen_path).await?["status"] != "open")
    })
    .await?;
    act(double.transition("acme", &keys[3], "Reopen", None, &triager))?;
    println!(
        "3. triage: {} Done, {} Won't Do with a false-positive comment, {} Won't Do with a risk-acceptance page, {} closed and reopened",
        keys[0], keys[1], keys[2], keys[3]
    );

    // 5. Let every webhook and outbound job finish.
    for (id, story) in ids.iter().zip(STORIES.iter()) {
        let path = format!("/api/v1/findings/{id}");
        let _ = until(story.title, || async {
            Ok(api.get(&path).await?["status"] == story.expect)
        })
        .await;
    }
    until("the outbox", || async {
        Ok(crate::sync::depth(&state).await? == 0)
    })
    .await?;
    double.wait_for_deliveries(Duration::from_secs(10)).await;

    // 6. What happened.
    println!();
    println!(
        "{:<9} {:<40} {:<22} {:<15} {:<15} why",
        "ISSUE", "FINDING", "JIRA STATUS", "VERDICT", "EXPECTED"
    );
    let mut wrong = 0;
    for ((id, story), key) in ids.iter().zip(STORIES.iter()).zip(&keys) {
        let f = api.get(&format!("/api/v1/findings/{id}")).await?;
        let events = api.get(&format!("/api/v1/findings/{id}/events")).await?;
        let why = events["events"]
            .as_array()
            .and_then(|e| {
                e.iter()
                    .rev()
                    .find(|e| e["kind"] == "status_changed" || e["kind"] == "skipped")
            })
            .and_then(|e| e["reason"].as_str())
            .unwrap_or("")
            .chars()
            .take(90)
            .collect::<String>();
        let (status, _, resolution) = double.status_of("acme", key).unwrap_or_default();
        let jira = match resolution {
            Some(r) => format!("{status} ({r})"),
            None => status,
        };
        let got = f["status"].as_str().unwrap_or("?");
        if got != story.expect {
            wrong += 1;
        }
        println!(
            "{key:<9} {:<40} {jira:<22} {got:<15} {:<15} {why}",
            story.title, story.expect
        );
    }
    let said: usize = keys
        .iter()
        .map(|k| {
            double
                .comments("acme", k)
                .iter()
                .filter(|(_, t)| t.starts_with("[Verdict]"))
                .count()
        })
        .sum();
    println!(
        "\nVerdict commented {said} times on the tickets (tagged [Verdict], never read as evidence)."
    );
    let _ = stop.send(());
    server.await??;
    if wrong > 0 {
        bail!("{wrong} findings did not end as the story expects");
    }
    println!("demo finished: every finding ended as expected");
    Ok(())
}
