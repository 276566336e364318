//! Connecting a tenant with OAuth 2.0 (3LO) against the Jira double's authorization server:
//! consent, code exchange with PKCE, cloud id, rotation, single-flight refresh, and the
//! connection's health when Atlassian revokes the grant.

use jira_double::{JiraDouble, SiteSpec};
use sea_orm::{ActiveModelTrait, EntityTrait, Set};
use serde_json::{Value, json};
use verdict_e2e::{TestApp, read};
use verdict_server::store::entities::oauth_connections;

const CLIENT: &str = "verdict-oauth-client";

async fn setup(secret_known_to_verdict: &str) -> (JiraDouble, TestApp) {
    setup_sites(secret_known_to_verdict, &["acme"]).await
}

async fn setup_sites(secret_known_to_verdict: &str, sites: &[&str]) -> (JiraDouble, TestApp) {
    let double = JiraDouble::start().await;
    for site in sites {
        double.add_site(SiteSpec::standard(site));
    }
    let (auth, api) = (double.auth_url(), double.api_url());
    let app = TestApp::spawn_with(|c| {
        let redirect = format!(
            "{}/oauth/callback",
            c.base_url.as_str().trim_end_matches('/')
        );
        double.register_oauth_client(CLIENT, "the-real-secret", &redirect);
        c.oauth_client_id = Some(CLIENT.into());
        c.oauth_client_secret = Some(verdict_server::config::Secret::new(secret_known_to_verdict));
        c.atlassian_auth_url = auth.parse().unwrap();
        c.atlassian_api_url = api.parse().unwrap();
    })
    .await;
    (double, app)
}

/// Starts a connection and follows the consent redirect back to Verdict's callback.
async fn consent(app: &TestApp, key: &str) -> (u16, String) {
    consent_to(app, key, json!({})).await
}

/// [`consent`] with a start body (`{"site": …}` when the grant covers several sites).
async fn consent_to(app: &TestApp, key: &str, start: Value) -> (u16, String) {
    let (status, started) = app.post(key, "/api/v1/connections/oauth", &start).await;
    assert_eq!(status, 201, "{started}");
    let (authorize, cookie) = open_link(started["authorize_url"].as_str().unwrap()).await;
    let http = no_redirects();
    let r = http.get(authorize.as_str()).send().await.unwrap();
    assert_eq!(r.status(), 303, "{}", r.text().await.unwrap());
    let back = r.headers()["location"].to_str().unwrap().to_owned();
    let r = http
        .get(&back)
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Opens the link `start` handed out, as the initiator's browser: Atlassian's authorize URL
/// and the binder cookie (`name=value`) that browser now holds.
async fn open_link(link: &str) -> (url::Url, String) {
    let r = no_redirects().get(link).send().await.unwrap();
    assert_eq!(r.status(), 303, "{}", r.text().await.unwrap());
    let set_cookie = r.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(
        set_cookie.contains("HttpOnly") && set_cookie.contains("SameSite=Lax"),
        "{set_cookie}"
    );
    let cookie = set_cookie.split(';').next().unwrap().to_owned();
    let authorize = url::Url::parse(r.headers()["location"].to_str().unwrap()).unwrap();
    (authorize, cookie)
}

async fn expire_access_token(app: &TestApp, tenant: &str) {
    let db = app.app_state.store().db();
    let row = oauth_connections::Entity::find_by_id(tenant)
        .one(db)
        .await
        .unwrap()
        .unwrap();
    let mut a: oauth_connections::ActiveModel = row.into();
    a.access_expires_at = Set(chrono::Utc::now() - chrono::Duration::minutes(5));
    a.update(db).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_call_refresh_single_flight_and_revocation() {
    let (double, app) = setup("the-real-secret").await;
    let t = app.tenant("acme-oauth").await;
    let (status, started) = app
        .post(&t.key, "/api/v1/connections/oauth", &json!({}))
        .await;
    assert_eq!(status, 201);
    let link = started["authorize_url"].as_str().unwrap();
    assert!(link.starts_with(&app.url("/oauth/begin?flow=")), "{link}");
    let (url, _) = open_link(link).await;
    let q: std::collections::HashMap<String, String> = url.query_pairs().into_owned().collect();
    assert_eq!(q["audience"], "api.atlassian.com");
    assert_eq!(q["client_id"], CLIENT);
    assert_eq!(q["code_challenge_method"], "S256");
    assert_eq!(q["prompt"], "consent");
    assert!(q["scope"].split(' ').any(|s| s == "offline_access"));
    assert_eq!(q["redirect_uri"], app.url("/oauth/callback"));

    let (status, html) = consent(&app, &t.key).await;
    assert_eq!(status, 200, "{html}");
    let site = double.site("acme");
    assert!(html.contains(&site.base_url), "{html}");
    let (_, conn) = app.get(&t.key, "/api/v1/connection").await;
    assert_eq!(conn["kind"], "oauth2");
    assert_eq!(conn["site"], site.base_url);
    assert_eq!(conn["oauth_status"], "connected");
    let row = oauth_connections::Entity::find_by_id(&t.id)
        .one(app.app_state.store().db())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.cloud_id, site.cloud_id);
    assert!(
        row.access_token.starts_with("v1.")
            && row.refresh_token.as_deref().unwrap().starts_with("v1."),
        "tokens are encrypted"
    );

    let state = &app.app_state;
    let client = verdict_server::jira::JiraClient::default();
    let auth = state
        .oauth()
        .jira_auth(state.store().db(), state.secrets(), &t.id)
        .await
        .unwrap();
    assert_eq!(
        client.get(&auth, "/rest/api/3/myself").await.unwrap()["accountId"],
        site.users[0]
    );
    assert!(
        double
            .requests("acme")
            .iter()
            .any(|r| matches!(r.auth, jira_double::AuthKind::OAuthBearer { .. }))
    );

    // An hour later: the access token has expired on both sides; five concurrent callers share
    // one refresh, and the rotated refresh token is stored.
    let old_refresh = state
        .secrets()
        .open(
            &format!("oauth-refresh:{}", t.id),
            row.refresh_token.as_deref().unwrap(),
        )
        .unwrap();
    double
        .clock()
        .advance(std::time::Duration::from_secs(2 * 3600));
    expire_access_token(&app, &t.id).await;
    let before = double.oauth_token_requests().len();
    let calls = (0..5).map(|_| {
        let state = state.clone();
        let tenant = t.id.clone();
        tokio::spawn(async move {
            state
                .oauth()
                .jira_auth(state.store().db(), state.secrets(), &tenant)
                .await
                .map(|_| ())
        })
    });
    for c in calls {
        c.await.unwrap().unwrap();
    }
    let refreshes = double.oauth_token_requests()[before..]
        .iter()
        .filter(|g| *g == "refresh_token")
        .count();
    assert_eq!(refreshes, 1, "single-flight");
    let auth = state
        .oauth()
        .jira_auth(state.store().db(), state.secrets(), &t.id)
        .await
        .unwrap();
    assert_eq!(
        client.get(&auth, "/rest/api/3/myself").await.unwrap()["accountId"],
        site.users[0]
    );
    let row = oauth_connections::Entity::find_by_id(&t.id)
        .one(state.store().db())
        .await
        .unwrap()
        .unwrap();
    let new_refresh = state
        .secrets()
        .open(
            &format!("oauth-refresh:{}", t.id),
            row.refresh_token.as_deref().unwrap(),
        )
        .unwrap();
    assert_ne!(
        new_refresh, old_refresh,
        "the rotated refresh token was persisted"
    );

    // Someone replays the old refresh token after the leeway: Atlassian revokes the family.
    double
        .clock()
        .advance(std::time::Duration::from_secs(11 * 60));
    let r = reqwest::Client::new()
        .post(format!("{}/oauth/token", double.auth_url()))
        .json(&json!({"grant_type": "refresh_token", "client_id": CLIENT, "client_secret": "the-real-secret", "refresh_token": old_refresh}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    expire_access_token(&app, &t.id).await;
    let err = state
        .oauth()
        .jira_auth(state.store().db(), state.secrets(), &t.id)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("reconnect"), "{err}");
    let (_, conn) = app.get(&t.key, "/api/v1/connection").await;
    assert_eq!(conn["oauth_status"], "reconsent_needed", "{conn}");
    assert!(
        conn["oauth_error"]
            .as_str()
            .unwrap()
            .contains("consent again")
    );

    // Reconnecting (consent again) heals it.
    let (status, _) = consent(&app, &t.key).await;
    assert_eq!(status, 200);
    let (_, conn) = app.get(&t.key, "/api/v1/connection").await;
    assert_eq!(conn["oauth_status"], "connected");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn declined_consent_reused_state_and_a_wrong_client_secret_are_told_apart() {
    let (double, app) = setup("the-real-secret").await;
    let t = app.tenant("acme-oauth").await;
    double.set_deny_consent(true);
    let (status, html) = consent(&app, &t.key).await;
    assert_eq!(status, 400);
    assert!(html.contains("declined consent"), "{html}");
    double.set_deny_consent(false);

    let (_, started) = app
        .post(&t.key, "/api/v1/connections/oauth", &json!({}))
        .await;
    let (authorize, cookie) = open_link(started["authorize_url"].as_str().unwrap()).await;
    let state = authorize
        .query_pairs()
        .find(|(k, _)| k == "state")
        .unwrap()
        .1
        .into_owned();
    let r = app
        .client
        .get(app.url(&format!("/oauth/callback?state={state}&code=made-up")))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 409, "an invalid code is invalid_grant");
    let r = app
        .client
        .get(app.url(&format!("/oauth/callback?state={state}&code=made-up")))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400, "states are single use");
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("start the connection again")
    );
    app.stop().await;

    let (_double, app) = setup("a-wrong-secret").await;
    let t = app.tenant("acme-oauth").await;
    let (status, html) = consent(&app, &t.key).await;
    assert_eq!(status, 502);
    assert!(html.contains("client credentials"), "{html}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn starting_oauth_needs_an_admin_key_and_only_the_browser_that_opened_the_link_finishes_it() {
    let (double, app) = setup("the-real-secret").await;
    let t = app.tenant("acme-oauth").await;
    // A scanner's key cannot re-point its tenant at another site.
    let scanner = app.scanner_key(&t.id).await;
    let (status, err) = app
        .post(&scanner, "/api/v1/connections/oauth", &json!({}))
        .await;
    assert_eq!(status, 403, "{err}");
    assert_eq!(err["error"]["code"], "admin_scope_required");

    let (_, started) = app
        .post(&t.key, "/api/v1/connections/oauth", &json!({}))
        .await;
    let link = started["authorize_url"].as_str().unwrap().to_owned();
    let (authorize, cookie) = open_link(&link).await;
    // The link works once: an attacker who sees it later gets nowhere.
    let r = no_redirects().get(&link).send().await.unwrap();
    assert_eq!(r.status(), 409);
    assert!(r.text().await.unwrap().contains("already opened"));
    // Consent at Atlassian, then the callback lands in a browser without the binder (a
    // planted callback, or the link forwarded to a victim): refused, nothing connected, and
    // the flow is still the initiator's to finish.
    let r = no_redirects().get(authorize.as_str()).send().await.unwrap();
    assert_eq!(r.status(), 303);
    let back = r.headers()["location"].to_str().unwrap().to_owned();
    for forged in [None, Some("verdict_oauth_binder=guessed")] {
        let mut req = no_redirects().get(&back);
        if let Some(c) = forged {
            req = req.header("cookie", c);
        }
        let r = req.send().await.unwrap();
        assert_eq!(r.status(), 403);
        assert!(r.text().await.unwrap().contains("did not open"));
    }
    let (_, conn) = app.get(&t.key, "/api/v1/connection").await;
    assert_ne!(conn["kind"], "oauth2", "{conn}");
    let r = no_redirects()
        .get(&back)
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let (_, conn) = app.get(&t.key, "/api/v1/connection").await;
    assert_eq!(conn["site"], double.site("acme").base_url);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oauth_needs_configuration() {
    let app = TestApp::spawn().await;
    let t = app.tenant("x").await;
    let (status, body) = app
        .post(&t.key, "/api/v1/connections/oauth", &json!({}))
        .await;
    assert_eq!(status, 503);
    assert_eq!(body["error"]["code"], "oauth_not_configured");
    let (_, conn): (u16, Value) = app.get(&t.key, "/api/v1/connection").await;
    assert_eq!(conn["kind"], "standalone");
    assert_eq!(conn["oauth_status"], Value::Null);
    let _ = read;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamic_webhooks_are_registered_refreshed_and_re_registered_across_30_days() {
    let (double, app) = setup("the-real-secret").await;
    let t = app.tenant("acme-oauth").await;
    let (status, _) = consent(&app, &t.key).await;
    assert_eq!(status, 200);
    let hooks = double.dynamic_webhooks("acme");
    assert_eq!(hooks.len(), 2, "{hooks:?}");
    assert!(
        hooks
            .iter()
            .all(|h| h.owner == CLIENT && h.url == app.url("/oauth/webhooks/jira"))
    );
    assert_eq!(hooks[0].events, vec!["jira:issue_updated"]);
    assert_eq!(hooks[0].field_ids_filter, vec!["status", "resolution"]);
    assert_eq!(hooks[0].jql_filter, "project in (\"APP\", \"SEC\")");
    assert!(hooks[1].events.contains(&"comment_created".to_owned()));
    let (_, conn) = app.get(&t.key, "/api/v1/connection").await;
    assert_eq!(conn["webhooks"], 2);
    assert!(conn["webhooks_expire_at"].is_string());
    assert_eq!(conn["webhook_error"], Value::Null);

    // Reconnecting replaces them: no stale subscriptions pile up.
    consent(&app, &t.key).await;
    let again = double.dynamic_webhooks("acme");
    let live: Vec<_> = again
        .iter()
        .filter(|h| h.expires_at > double.clock().now())
        .collect();
    assert_eq!(live.len(), 2);
    assert!(live.iter().all(|h| !hooks.iter().any(|o| o.id == h.id)));

    // 15 days on nothing is due; at day 12 of 30 left (18 days on) they are refreshed.
    let state = &app.app_state;
    double
        .clock()
        .advance(std::time::Duration::from_secs(5 * 24 * 3600));
    assert_eq!(
        state
            .refresh_due_webhooks(double.clock().now())
            .await
            .unwrap(),
        0
    );
    double
        .clock()
        .advance(std::time::Duration::from_secs(13 * 24 * 3600));
    // The access token is long expired by now: the refresh path refreshes it first.
    expire(&app, &t.id).await;
    assert_eq!(
        state
            .refresh_due_webhooks(double.clock().now())
            .await
            .unwrap(),
        1
    );
    let expiry = double
        .dynamic_webhooks("acme")
        .iter()
        .map(|h| h.expires_at)
        .max()
        .unwrap();
    assert!(
        expiry > double.clock().now() + chrono::Duration::days(29),
        "refreshed to 30 days"
    );

    // A connection that missed its refresh (Jira dropped the webhooks) is re-registered.
    double
        .clock()
        .advance(std::time::Duration::from_secs(31 * 24 * 3600));
    expire(&app, &t.id).await;
    assert_eq!(
        state
            .refresh_due_webhooks(double.clock().now())
            .await
            .unwrap(),
        1
    );
    let live = double
        .dynamic_webhooks("acme")
        .into_iter()
        .filter(|h| h.expires_at > double.clock().now())
        .count();
    assert_eq!(live, 2);
    let (_, conn) = app.get(&t.key, "/api/v1/connection").await;
    assert_eq!(conn["webhook_error"], Value::Null, "{conn}");
    app.stop().await;
}

async fn expire(app: &TestApp, tenant: &str) {
    expire_access_token(app, tenant).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamic_webhook_deliveries_reach_the_inbox_and_forgeries_do_not() {
    use sea_orm::{ColumnTrait, QueryFilter};
    use verdict_server::store::entities::webhook_deliveries;
    let (double, app) = setup("the-real-secret").await;
    let t = app.tenant("acme-oauth").await;
    assert_eq!(consent(&app, &t.key).await.0, 200);
    let site = double.site("acme");
    let key = double
        .create_issue("acme", &site.users[1], json!({"project": {"key": "SEC"}, "issuetype": {"name": "Security"}, "summary": "leaked key"}))
        .unwrap();
    double
        .transition("acme", &key, "Close", Some("Done"), &site.users[1])
        .unwrap();
    double
        .comment("acme", &key, &site.users[1], "rotated")
        .unwrap();
    assert!(
        double
            .wait_for_deliveries(std::time::Duration::from_secs(10))
            .await
    );
    let rows = webhook_deliveries::Entity::find()
        .filter(webhook_deliveries::Column::TenantId.eq(t.id.as_str()))
        .all(app.app_state.store().db())
        .await
        .unwrap();
    let mut events: Vec<&str> = rows.iter().map(|r| r.event.as_str()).collect();
    events.sort();
    // Deliveries are concurrent, so arrival order is not guaranteed (nor is it by Jira).
    assert_eq!(
        events,
        vec!["comment_created", "jira:issue_updated"],
        "status change and comment; nothing else"
    );
    assert!(rows.iter().all(|r| r.source == "oauth"));

    let now = chrono::Utc::now().timestamp();
    let body = json!({"webhookEvent": "comment_created", "matchedWebhookIds": [1]}).to_string();
    let forged = jira_double::jwt::hs256(
        &json!({"aud": CLIENT, "iat": now, "exp": now + 60}),
        "guessed-secret",
    );
    let post = |token: String, body: String| {
        app.client
            .post(app.url("/oauth/webhooks/jira"))
            .bearer_auth(token)
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    assert_eq!(post(forged, body.clone()).await.unwrap().status(), 401);
    let genuine = jira_double::jwt::hs256(
        &json!({"aud": CLIENT, "iat": now, "exp": now + 60}),
        "the-real-secret",
    );
    let (status, answer) = read(post(genuine.clone(), body.clone()).await.unwrap()).await;
    assert_eq!(
        status, 400,
        "a delivery naming no site is not attributed: {answer}"
    );
    assert_eq!(answer["error"]["code"], "unattributable_delivery");
    let elsewhere = json!({"webhookEvent": "comment_created", "matchedWebhookIds": [1],
        "issue": {"id": "10001", "self": "https://elsewhere.atlassian.net/rest/api/2/issue/10001"}});
    assert_eq!(
        post(genuine.clone(), elsewhere.to_string())
            .await
            .unwrap()
            .status(),
        401,
        "no tenant is connected to that site"
    );
    let other_app = jira_double::jwt::hs256(
        &json!({"aud": "another-client", "iat": now, "exp": now + 60}),
        "the-real-secret",
    );
    assert_eq!(post(other_app, body).await.unwrap().status(), 401);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oauth_site_reports_its_account_ids_per_app_and_closed_ones_are_pseudonymised() {
    use verdict_server::store::entities::ticket_comments;
    use verdict_server::tenants::privacy;
    let (double, app) = setup("the-real-secret").await;
    let t = app.tenant("acme-oauth").await;
    let (status, html) = consent(&app, &t.key).await;
    assert_eq!(status, 200, "{html}");
    // An account Verdict keeps for this tenant: a comment's author.
    let db = app.app_state.store().db();
    let user = double.site("acme").users[2].clone();
    ticket_comments::ActiveModel {
        tenant_id: Set(t.id.clone()),
        issue_id: Set("10001".into()),
        comment_id: Set("10100".into()),
        author: Set(user.clone()),
        body: Set("Fixed in 4.2.".into()),
        created: Set(0),
        updated: Set(0),
        deleted: Set(false),
    }
    .insert(db)
    .await
    .unwrap();
    double.close_account("acme", &user);

    let now = chrono::Utc::now() + chrono::Duration::days(8);
    let done = privacy::sweep(&app.app_state, chrono::Duration::days(7), now)
        .await
        .unwrap();
    assert_eq!(done.len(), 1, "{done:?}");
    assert_eq!(done[0].1.closed, vec![user.clone()]);
    // To the gateway's app endpoint, with the access token that was granted the scope.
    assert_eq!(double.app_account_reports(), vec![vec![user.clone()]]);
    let kept = ticket_comments::Entity::find().all(db).await.unwrap();
    assert_eq!(kept[0].author, privacy::pseudonym(&t.id, &user));
}

/// Two customers' sites behind one OAuth app: their dynamic webhook ids and issue ids are
/// per-site counters and collide, and every delivery carries the same app token. Each closure
/// reaches only the tenant of the site that sent it; a second tenant cannot take a site over;
/// registering webhooks leaves the app's other webhooks on the site alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_oauth_sites_whose_webhook_and_issue_ids_collide_stay_apart() {
    use sea_orm::{ColumnTrait, QueryFilter};
    use verdict_server::store::entities::{rejected_deliveries, webhook_deliveries};
    let (double, app) = setup_sites("the-real-secret", &["acme", "globex"]).await;
    let (acme, globex) = (double.site("acme"), double.site("globex"));
    // Another user of the same app registered a webhook on globex before Verdict connected.
    let foreign = double.add_dynamic_webhook(
        "globex",
        CLIENT,
        &app.url("/oauth/webhooks/jira"),
        &["comment_created"],
    );
    let a = app.tenant("acme-oauth").await;
    let b = app.tenant("globex-oauth").await;
    for (t, site) in [(&a, &acme), (&b, &globex)] {
        let (status, html) = consent_to(&app, &t.key, json!({"site": site.base_url})).await;
        assert_eq!(status, 200, "{html}");
    }
    let ids = |site: &str| -> Vec<u64> {
        let mut v: Vec<u64> = double
            .dynamic_webhooks(site)
            .iter()
            .filter(|h| !(site == "globex" && h.id == foreign))
            .map(|h| h.id)
            .collect();
        v.sort();
        v
    };
    assert!(
        ids("acme").iter().any(|id| ids("globex").contains(id)),
        "the webhook ids collide: {:?} {:?}",
        ids("acme"),
        ids("globex")
    );
    assert!(
        double
            .dynamic_webhooks("globex")
            .iter()
            .any(|h| h.id == foreign),
        "registration deleted only the tenant's own webhooks"
    );

    // One finding per tenant, each linked to its site's first issue: the same issue id.
    let mut linked = Vec::new();
    for (t, site) in [(&a, "acme"), (&b, "globex")] {
        let user = double.site(site).users[1].clone();
        let key = double
            .create_issue(site, &user, json!({"project": {"key": "APP"}, "issuetype": {"name": "Bug"}, "summary": "SQL injection"}))
            .unwrap();
        let (status, f) = app
            .post(&t.key, "/api/v1/findings", &verdict_e2e::finding(1, 1))
            .await;
        assert_eq!(status, 201, "{f}");
        let id = f["finding"]["id"].as_str().unwrap().to_owned();
        let (status, l) = app
            .put(
                &t.key,
                &format!("/api/v1/findings/{id}/jira-link"),
                &json!({"issue": key}),
            )
            .await;
        assert_eq!(status, 200, "{l}");
        linked.push((id, key, l["jira"]["issue_id"].clone(), user));
    }
    assert_eq!(
        linked[0].2, linked[1].2,
        "the issue ids collide: {linked:?}"
    );

    // globex closes its ticket as Done: only globex's finding is resolved.
    let (b_finding, b_key, _, b_user) = &linked[1];
    double
        .transition("globex", b_key, "Done", None, b_user)
        .unwrap();
    assert!(
        double
            .wait_for_deliveries(std::time::Duration::from_secs(10))
            .await
    );
    app.wait_until(&b.key, &format!("/api/v1/findings/{b_finding}"), 20, |f| {
        f["status"] == "resolved"
    })
    .await;
    let db = app.app_state.store().db();
    let a_rows = webhook_deliveries::Entity::find()
        .filter(webhook_deliveries::Column::TenantId.eq(a.id.as_str()))
        .all(db)
        .await
        .unwrap();
    assert!(
        a_rows.is_empty(),
        "nothing from globex reached acme's tenant: {a_rows:?}"
    );
    let (_, f) = app
        .get(&a.key, &format!("/api/v1/findings/{}", linked[0].0))
        .await;
    assert_eq!(f["status"], "open", "{f}");

    // A second tenant consenting to globex is refused; globex's tenant keeps its webhooks.
    let before = ids("globex");
    let c = app.tenant("globex-again").await;
    let (status, html) = consent_to(&app, &c.key, json!({"site": globex.base_url})).await;
    assert_eq!(status, 409, "{html}");
    assert!(
        html.contains("already connected to another Verdict tenant"),
        "{html}"
    );
    assert_eq!(ids("globex"), before);
    let (_, conn) = app.get(&c.key, "/api/v1/connection").await;
    assert_eq!(conn["kind"], "standalone", "{conn}");
    let (_, conn) = app.get(&b.key, "/api/v1/connection").await;
    assert_eq!(conn["oauth_status"], "connected", "{conn}");

    // A genuine token on a body naming acme but webhook ids acme's tenant never registered:
    // refused, and kept for acme's admin among the failed deliveries.
    let now = chrono::Utc::now().timestamp();
    let token = jira_double::jwt::hs256(
        &json!({"aud": CLIENT, "iat": now, "exp": now + 60}),
        "the-real-secret",
    );
    let body = json!({"webhookEvent": "comment_created", "matchedWebhookIds": [foreign + 100],
        "issue": {"id": "10001", "self": format!("{}/rest/api/2/issue/10001", acme.base_url)},
        "comment": {"id": "1", "self": format!("{}/rest/api/2/issue/10001/comment/1", acme.base_url), "body": "fixed"}});
    let r = app
        .client
        .post(app.url("/oauth/webhooks/jira"))
        .bearer_auth(&token)
        .json(&body)
        .send()
        .await
        .unwrap();
    let (status, err) = read(r).await;
    assert_eq!(status, 403, "{err}");
    assert_eq!(err["error"]["code"], "webhook_not_owned");
    let kept = rejected_deliveries::Entity::find()
        .filter(rejected_deliveries::Column::TenantId.eq(a.id.as_str()))
        .all(db)
        .await
        .unwrap();
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert!(
        kept[0].reason.contains("registered none"),
        "{}",
        kept[0].reason
    );
    // Links that name two sites are refused outright.
    let mut two = body.clone();
    two["comment"]["self"] = json!(format!(
        "{}/rest/api/2/issue/10001/comment/1",
        globex.base_url
    ));
    let r = app
        .client
        .post(app.url("/oauth/webhooks/jira"))
        .bearer_auth(&token)
        .json(&two)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    app.stop().await;
}
