//! The world the browser tests drive: the Jira double with two sites, Verdict (real app, temp
//! SQLite) installed into both from its descriptor URL, the Forge admin page registered with
//! the double, and a Jira API token for a triager on each site; and a third site with the
//! native Forge app installed from `forge/manifest.yml`, where a finding's ticket was closed
//! Won't Do, for the issue panel. Prints one JSON line with every URL and account the tests
//! need, then runs until stdin closes or it is signalled.
//!
//!   verdict-world [FORGE_RESOURCE_DIR]   (the admin page's; the issue panel's is beside it)

use std::io::Read as _;

use jira_double::host::ForgeApp;
use jira_double::{JiraDouble, SiteSpec};
use serde_json::json;
use verdict_e2e::TestApp;

const APP_KEY: &str = "io.verdict.jira";
const FORGE_APP_ID: &str = "ari:cloud:ecosystem::app/6f3b9a52-4d1e-4c5a-9b8e-2f7c1d0e9a11";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let forge_dir = std::env::args().nth(1).map(std::path::PathBuf::from);
    let double = JiraDouble::start().await;
    let sites = ["acme", "globex"];
    for s in sites {
        double.add_site(SiteSpec::standard(s));
    }
    let admin_token = format!("operator-{}", uuid::Uuid::new_v4().simple());
    let (keys, jwks, all_js) = (
        double.install_keys_url(),
        double.forge_jwks_url(),
        double.connect_all_js_url(),
    );
    let token = admin_token.clone();
    let app = TestApp::spawn_with(move |c| {
        c.install_keys_url = keys.parse().expect("URL");
        c.forge_jwks_url = jwks.parse().expect("URL");
        c.forge_app_id = Some(FORGE_APP_ID.into());
        c.connect_all_js_url = all_js.parse().expect("URL");
        c.admin_token = Some(verdict_server::config::Secret::new(token));
    })
    .await;
    let mut site_info = Vec::new();
    for s in sites {
        let inst = double
            .install_app(s, &app.url("/atlassian-connect.json"))
            .await
            .map_err(|e| anyhow::anyhow!("install into {s}: {e:?}"))?;
        let info = double.site(s);
        let triager_email = "triager@example.com".to_owned();
        let api_token = double.add_api_token(s, &triager_email);
        let (admin, triager, developer) = (
            info.users[0].clone(),
            info.users[1].clone(),
            info.users[2].clone(),
        );
        site_info.push(json!({
            "name": s,
            "base_url": info.base_url,
            "client_key": inst.client_key,
            "admin": admin,
            "triager": triager,
            "developer": developer,
            "triager_email": triager_email,
            "triager_api_token": api_token,
            "connect_page": double.connect_page_url(s, APP_KEY, "verdict-configure", &admin),
            "connect_page_as_developer": double.connect_page_url(s, APP_KEY, "verdict-configure", &developer),
            "forge_page": double.forge_admin_page_url(s, &admin),
            "forge_page_as_developer": double.forge_admin_page_url(s, &developer),
        }));
    }
    let mut forge_site = serde_json::Value::Null;
    if let Some(dir) = &forge_dir {
        double.register_forge_app(ForgeApp {
            app_id: FORGE_APP_ID.into(),
            remote_key: "verdict".into(),
            remote_base_url: app.url(""),
            resource_dir: dir.clone(),
            module_key: "verdict-admin-page".into(),
            issue_panel_dir: dir.parent().map(|p| p.join("issue-panel")),
        });
        forge_site = native_forge_site(&double, &app).await?;
    }
    println!(
        "{}",
        json!({
            "verdict": app.url(""),
            "double": double.base_url(),
            "admin_token": admin_token,
            "forge": forge_dir.is_some(),
            "sites": site_info,
            "forge_site": forge_site,
        })
    );
    // Until the test runner closes our stdin (or kills us).
    let stdin_closed = tokio::task::spawn_blocking(|| {
        let mut buf = [0u8; 64];
        while let Ok(n) = std::io::stdin().read(&mut buf) {
            if n == 0 {
                break;
            }
        }
    });
    tokio::select! {
        _ = stdin_closed => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    app.stop().await;
    Ok(())
}

/// `initech`: the native Forge app installed from the real manifest; a finding exported to
/// `APP`, its ticket closed Won't Do after a triager's comment (decided by the default policy);
/// and a second ticket with no finding.
async fn native_forge_site(
    double: &JiraDouble,
    app: &TestApp,
) -> anyhow::Result<serde_json::Value> {
    const SITE: &str = "initech";
    double.add_site(SiteSpec::standard(SITE));
    let manifest = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../forge/manifest.yml"),
    )?;
    let installation = double
        .install_forge_app(SITE, FORGE_APP_ID, &manifest, &app.url(""))
        .await
        .map_err(|e| anyhow::anyhow!("Forge install: {e:?}"))?;
    let db = app.app_state.store().db();
    let tenant = <verdict_server::store::entities::forge_installations::Entity as sea_orm::EntityTrait>::find_by_id(installation)
        .one(db)
        .await?
        .ok_or_else(|| anyhow::anyhow!("Verdict did not record the Forge installation"))?
        .tenant_id;
    let t = app.key_for_tenant(&tenant).await;
    let mut f = verdict_e2e::finding(7, 1);
    f["title"] = json!("SQL injection in OrderRepository.find");
    f["severity"] = json!("high");
    f["scan_type"] = json!("sast");
    f["is_secret"] = json!(false);
    let (_, created) = app.post(&t.key, "/api/v1/findings", &f).await;
    let id = created["finding"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    app.post(
        &t.key,
        &format!("/api/v1/findings/{id}/export"),
        &json!({"project": "APP"}),
    )
    .await;
    let exported = app
        .wait_until(&t.key, &format!("/api/v1/findings/{id}"), 30, |f| {
            f["jira"]["issue_key"].is_string()
        })
        .await;
    let key = exported["jira"]["issue_key"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let info = double.site(SITE);
    let (triager, developer) = (info.users[1].clone(), info.users[2].clone());
    double
        .comment(SITE, &key, &triager, "False positive: the query is built by the ORM with bound parameters; this code path never concatenates input.")
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    double
        .transition(SITE, &key, "Won't Do", None, &triager)
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    app.wait_until(&t.key, &format!("/api/v1/findings/{id}"), 30, |f| {
        f["status"] == "false_positive"
    })
    .await;
    let empty = double
        .create_issue(SITE, &triager, json!({"project": {"key": "APP"}, "issuetype": {"name": "Bug"}, "summary": "Not a security issue"}))
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    Ok(json!({
        "name": SITE,
        "issue_key": key,
        "issue_page": double.issue_view_url(SITE, &key, &developer),
        "empty_issue_page": double.issue_view_url(SITE, &empty, &developer),
        "admin_page": double.forge_admin_page_url(SITE, &info.users[0]),
    }))
}
