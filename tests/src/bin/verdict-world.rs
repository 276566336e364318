//! The world the browser tests drive: the Jira double with two sites, Verdict (real app, temp
//! SQLite) installed into both from its descriptor URL, the Forge admin page registered with
//! the double, and a Jira API token for a triager on each site. Prints one JSON line with
//! every URL and account the tests need, then runs until stdin closes or it is signalled.
//!
//!   verdict-world [FORGE_RESOURCE_DIR]

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
    if let Some(dir) = &forge_dir {
        double.register_forge_app(ForgeApp {
            app_id: FORGE_APP_ID.into(),
            remote_key: "verdict".into(),
            remote_base_url: app.url(""),
            resource_dir: dir.clone(),
            module_key: "verdict-admin-page".into(),
        });
    }
    println!(
        "{}",
        json!({
            "verdict": app.url(""),
            "double": double.base_url(),
            "admin_token": admin_token,
            "forge": forge_dir.is_some(),
            "sites": site_info,
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
