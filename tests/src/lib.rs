//! Test support shared by the end-to-end tests: start the real Verdict app on an ephemeral
//! port with a throw-away database, create tenants and keys, and talk to it over HTTP.
//!
//! The database is a temp SQLite file, or — when `VERDICT_TEST_DATABASE_URL` points at a
//! PostgreSQL server — a fresh database created for the test and dropped afterwards.

use std::net::SocketAddr;
use std::path::PathBuf;

use serde_json::{Value, json};
use sqlx::Connection as _;
use tokio::sync::oneshot;
use verdict_server::app::App;
use verdict_server::config::{Config, DatabaseUrl, Secret};
use verdict_server::tenants::secrets::SecretBox;
use verdict_server::tenants::{self, ConnectionKind};

pub const PG_ENV: &str = "VERDICT_TEST_DATABASE_URL";

pub struct TestApp {
    pub addr: SocketAddr,
    pub client: reqwest::Client,
    pub app_state: verdict_server::http::AppState,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    _dir: tempfile::TempDir,
    pg: Option<PgScratch>,
    config: Config,
}

/// A tenant with one API key.
pub struct TestTenant {
    pub id: String,
    pub key: String,
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_with(|_| {}).await
    }

    /// Starts the app with the test database, after letting `adjust` change the config. The
    /// port is bound first, so `base_url` (what Atlassian signs for) is the app's real URL.
    pub async fn spawn_with(adjust: impl FnOnce(&mut Config)) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut config = Config {
            listen: addr,
            log_level: "warn".into(),
            base_url: format!("http://{addr}").parse().unwrap(),
            secret_key: Some(Secret::new(SecretBox::generate_key())),
            secret_key_file: dir.path().join("unused-secret.key"),
            // Every test process shares compiled functions: CPython and QuickJS compile once
            // per test run, not once per test.
            rules_compile_cache_dir: Some(
                std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("../target/test-compile-cache"),
            ),
            // Tests read their own metrics; `queues` checks the closed default.
            metrics_public: true,
            ..Config::default()
        };
        let pg = match std::env::var(PG_ENV) {
            Ok(url) if !url.is_empty() => Some(PgScratch::create(&url).await),
            _ => None,
        };
        config.database_url = match &pg {
            Some(pg) => DatabaseUrl::new(pg.url.clone()),
            None => DatabaseUrl::new(format!(
                "sqlite://{}",
                dir.path().join("verdict.db").display()
            )),
        };
        adjust(&mut config);
        verdict_server::telemetry::init(config.log_format, &config.log_level);
        let kept = config.clone();
        let app = App::start(config).await.expect("app starts");
        let app_state = app.state().clone();
        let (tx, rx) = oneshot::channel::<()>();
        let server = tokio::spawn(app.serve(listener, async move {
            let _ = rx.await;
        }));
        TestApp {
            addr,
            client: reqwest::Client::new(),
            app_state,
            shutdown: Some(tx),
            server: Some(server),
            _dir: dir,
            pg,
            config: kept,
        }
    }

    /// Stops the server (as SIGTERM does) and starts a new one on the same address and
    /// database, as a restart in production would.
    pub async fn restart(mut self) -> Self {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(server) = self.server.take() {
            server.await.expect("server task").expect("server");
        }
        let listener = tokio::net::TcpListener::bind(self.addr)
            .await
            .expect("rebind the same port");
        let app = App::start(self.config.clone()).await.expect("app restarts");
        self.app_state = app.state().clone();
        let (tx, rx) = oneshot::channel::<()>();
        self.server = Some(tokio::spawn(app.serve(listener, async move {
            let _ = rx.await;
        })));
        self.shutdown = Some(tx);
        self
    }

    /// Waits until no outbound Jira job is pending or running.
    pub async fn outbox_idle(&self, secs: u64) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
        loop {
            let depth = verdict_server::sync::depth(&self.app_state).await.unwrap();
            if depth == 0 {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{depth} outbound jobs still pending after {secs} s"
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }

    /// The `/metrics` text (no token).
    pub async fn metrics_text(&self) -> String {
        self.client
            .get(self.url("/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    /// One series' value from `/metrics`, e.g. `verdict_auth_refused_total{scheme="api-key",…}`;
    /// 0 when the series is absent.
    pub async fn metric(&self, series: &str) -> f64 {
        let text = self.metrics_text().await;
        text.lines()
            .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
            .map_or(0.0, |v| v.trim().parse().unwrap())
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Creates a tenant and a key through the same functions the CLI uses.
    pub async fn tenant(&self, name: &str) -> TestTenant {
        let db = self.app_state.store().db();
        let tenant = tenants::create_tenant(db, name, ConnectionKind::Standalone)
            .await
            .expect("tenant");
        let key = tenants::create_api_key(db, &tenant, "tests", tenants::KeyScope::Admin)
            .await
            .expect("key");
        TestTenant {
            id: tenant.id,
            key: key.secret,
        }
    }

    pub async fn get(&self, key: &str, path: &str) -> (u16, Value) {
        let r = self
            .client
            .get(self.url(path))
            .bearer_auth(key)
            .send()
            .await
            .unwrap();
        read(r).await
    }

    pub async fn post(&self, key: &str, path: &str, body: &Value) -> (u16, Value) {
        let r = self
            .client
            .post(self.url(path))
            .bearer_auth(key)
            .json(body)
            .send()
            .await
            .unwrap();
        read(r).await
    }

    pub async fn patch(&self, key: &str, path: &str, body: &Value) -> (u16, Value) {
        let r = self
            .client
            .patch(self.url(path))
            .bearer_auth(key)
            .json(body)
            .send()
            .await
            .unwrap();
        read(r).await
    }

    pub async fn put(&self, key: &str, path: &str, body: &Value) -> (u16, Value) {
        let r = self
            .client
            .put(self.url(path))
            .bearer_auth(key)
            .json(body)
            .send()
            .await
            .unwrap();
        read(r).await
    }

    pub async fn delete(&self, key: &str, path: &str) -> (u16, Value) {
        let r = self
            .client
            .delete(self.url(path))
            .bearer_auth(key)
            .send()
            .await
            .unwrap();
        read(r).await
    }

    /// An API key for the tenant a Connect install created (found by its client key).
    pub async fn key_for_client(&self, client_key: &str) -> TestTenant {
        let db = self.app_state.store().db();
        let tenant = tenants::list_tenants(db)
            .await
            .unwrap()
            .into_iter()
            .find(|t| t.client_key.as_deref() == Some(client_key))
            .expect("the install created a tenant");
        self.key_for_tenant(&tenant.id).await
    }

    /// A new API key for the tenant `id` (one a Forge install created, say).
    pub async fn key_for_tenant(&self, id: &str) -> TestTenant {
        let db = self.app_state.store().db();
        let tenant = tenants::find_tenant(db, id).await.expect("tenant exists");
        let key = tenants::create_api_key(db, &tenant, "tests", tenants::KeyScope::Admin)
            .await
            .expect("key");
        TestTenant {
            id: tenant.id,
            key: key.secret,
        }
    }

    /// A scanner key (imports and reads findings only) for the tenant `id`.
    pub async fn scanner_key(&self, id: &str) -> String {
        let db = self.app_state.store().db();
        let tenant = tenants::find_tenant(db, id).await.expect("tenant exists");
        tenants::create_api_key(db, &tenant, "scanner", tenants::KeyScope::Scanner)
            .await
            .expect("key")
            .secret
    }

    /// Polls `GET path` until `done(body)` holds; panics with the last body after `secs`.
    pub async fn wait_until(
        &self,
        key: &str,
        path: &str,
        secs: u64,
        done: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
        loop {
            let (_, body) = self.get(key, path).await;
            if done(&body) {
                return body;
            }
            if std::time::Instant::now() > deadline {
                panic!("timed out waiting on {path}; last answer: {body}");
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }

    /// Uploads a rule module as a raw `application/wasm` body.
    pub async fn upload_rule(&self, key: &str, query: &str, bytes: Vec<u8>) -> (u16, Value) {
        let r = self
            .client
            .post(self.url(&format!("/api/v1/rules?{query}")))
            .bearer_auth(key)
            .header("content-type", "application/wasm")
            .body(bytes)
            .send()
            .await
            .unwrap();
        read(r).await
    }

    /// Uploads a rule as `name` (version 1, with the upload's `query`) and activates it; returns
    /// the upload's answer.
    pub async fn activate_new_rule(
        &self,
        key: &str,
        name: &str,
        query: &str,
        bytes: Vec<u8>,
    ) -> Value {
        let (status, body) = self.upload_rule(key, query, bytes).await;
        assert_eq!(status, 201, "{body}");
        let path = format!("/api/v1/rules/{name}/versions/1/activate");
        let (status, active) = self.post(key, &path, &serde_json::json!({})).await;
        assert_eq!(status, 200, "{active}");
        body
    }

    /// Stops the server the way SIGTERM does and waits for it.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(server) = self.server.take() {
            server.await.expect("server task").expect("server");
        }
        if let Some(pg) = self.pg.take() {
            pg.drop_database().await;
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        // A test that panicked before `stop` still must not leave its database behind.
        if let Some(pg) = self.pg.take() {
            std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                rt.block_on(pg.drop_database());
            })
            .join()
            .ok();
        }
    }
}

impl TestApp {
    /// Calls the admin API (`/api/admin/v1…`) with an `Authorization` header value (a
    /// Connect `JWT …` or Forge `Bearer …`), or none.
    pub async fn admin(
        &self,
        method: reqwest::Method,
        path: &str,
        authorization: Option<&str>,
        body: Option<&Value>,
    ) -> (u16, Value) {
        let mut req = self
            .client
            .request(method, self.url(&format!("/api/admin/v1{path}")));
        if let Some(a) = authorization {
            req = req.header("Authorization", a);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        read(req.send().await.unwrap()).await
    }
}

/// A person closes `key` as Won't Do after commenting `words` and a link to Confluence page
/// `page` (as triagers cite risk-acceptance records).
pub fn wont_do_citing(
    double: &jira_double::JiraDouble,
    user: &str,
    key: &str,
    words: &str,
    page: &str,
) {
    let text = format!("{words} {}", double.page_url("acme", page));
    double.comment("acme", key, user, &text).unwrap();
    double
        .transition("acme", key, "Won't Do", None, user)
        .unwrap();
}

/// Waits until one of the tenant's inbox deliveries has an outcome containing `text` (a
/// delivery that waits keeps its reason there); returns that outcome.
pub async fn wait_for_delivery_outcome(
    app: &TestApp,
    tenant: &str,
    text: &str,
    secs: u64,
) -> String {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    use verdict_server::store::entities::webhook_deliveries as wd;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    loop {
        let rows = wd::Entity::find()
            .filter(wd::Column::TenantId.eq(tenant))
            .all(app.app_state.store().db())
            .await
            .unwrap();
        if let Some(o) = rows
            .iter()
            .filter_map(|r| r.outcome.clone())
            .find(|o| o.contains(text))
        {
            return o;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no delivery's outcome says {text:?}: {:?}",
            rows.iter().map(|r| r.outcome.clone()).collect::<Vec<_>>()
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// A Connect context token for `account`, as `AP.context.getToken()` hands it to the admin
/// page: HS256 with the installation's shared secret, `qsh: context-qsh`, `ttl` seconds.
pub fn context_token(inst: &jira_double::Installed, account: &str, ttl: i64) -> String {
    jira_double::webhooks::context_token(
        &inst.client_key,
        &inst.shared_secret,
        account,
        chrono::Utc::now().timestamp(),
        ttl,
    )
}

/// Status and JSON body (or `null` when the body is empty / not JSON).
pub async fn read(r: reqwest::Response) -> (u16, Value) {
    let status = r.status().as_u16();
    let text = r.text().await.unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// A scanner finding with deterministic content; `rev` changes the description.
pub fn finding(i: usize, rev: u32) -> Value {
    let severities = ["info", "low", "medium", "high", "critical"];
    let scan_types = ["sast", "sca", "secrets", "dast", "container"];
    json!({
        "external_id": format!("scanner-{i:06}"),
        "title": format!("Finding number {i}"),
        "description": format!("Revision {rev} of finding {i}: user input reaches a sink."),
        "severity": severities[i % 5],
        "score": (i % 11) as f64,
        "cvss_vector": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
        "cvss_score": 9.8,
        "cwe_ids": [89, 79],
        "scan_type": scan_types[i % 5],
        "repository": format!("github.com/acme/repo-{}", i % 3),
        "file_path": format!("src/module_{i}.rs"),
        "line": (i % 500) + 1,
        "code_snippet": "let q = format!(\"SELECT * FROM t WHERE id = {}\", id);",
        "is_secret": i % 5 == 2,
        "tags": ["team-a", format!("batch-{}", i / 100)],
    })
}

/// A rule built to wasm by scripts/build-rules (`default-policy`, `comment-classifier`, …,
/// or the test-only `test-panicking`).
pub fn rule_wasm(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../target/wasm/wasm32-unknown-unknown/release")
        .join(format!("{}.wasm", name.replace('-', "_")));
    std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; build the rules first with scripts/build-rules (scripts/test does)",
            path.display()
        )
    })
}

/// A TypeScript/JavaScript rule built by scripts/build-js-rules (`risk-acceptance`,
/// `comment-classifier`, or the test-only `js_hostile`).
pub fn js_rule_wasm(name: &str) -> Vec<u8> {
    built_rule("js-rules", name, "scripts/build-js-rules")
}

/// A Python rule built by scripts/build-py-rules (`auto-ticket`, or the test-only
/// `py_hostile`).
pub fn py_rule_wasm(name: &str) -> Vec<u8> {
    built_rule("py-rules", name, "scripts/build-py-rules")
}

fn built_rule(dir: &str, name: &str, script: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../target")
        .join(dir)
        .join(format!("{name}.wasm"));
    std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; build the rules first with {script} (scripts/test does)",
            path.display()
        )
    })
}

pub fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(name)
}

pub fn load_fixture(name: &str) -> Value {
    let text = std::fs::read_to_string(fixture(name)).expect("fixture exists");
    serde_json::from_str(&text).expect("fixture is JSON")
}

/// Another replica of a [`TestApp`]: the same configuration and database (so the same public
/// URL), its own port, on a runtime of its own so a test can kill it the way SIGKILL does —
/// nothing graceful, its leases left held.
pub struct Replica {
    pub addr: SocketAddr,
    pub state: verdict_server::http::AppState,
    runtime: Option<tokio::runtime::Runtime>,
}

impl TestApp {
    /// True when the test database is PostgreSQL (several replicas need it).
    pub fn on_postgres(&self) -> bool {
        self.pg.is_some()
    }

    /// Starts another replica on this app's database.
    pub async fn replica(&self) -> Replica {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let mut config = self.config.clone();
        config.listen = addr;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let (tx, rx) = oneshot::channel();
        runtime.spawn(async move {
            let app = App::start(config).await.expect("replica starts");
            let _ = tx.send(app.state().clone());
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            let _ = app.serve(listener, std::future::pending()).await;
        });
        let state = rx.await.expect("replica started");
        Replica {
            addr,
            state,
            runtime: Some(runtime),
        }
    }
}

impl Replica {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Stops every task of the replica at once, as SIGKILL would.
    pub fn kill(mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

/// A database of its own on the PostgreSQL server named by `VERDICT_TEST_DATABASE_URL`.
struct PgScratch {
    admin_url: String,
    name: String,
    url: String,
}

impl PgScratch {
    async fn create(admin_url: &str) -> Self {
        let name = format!("verdict_t_{}", uuid::Uuid::new_v4().simple());
        let mut conn = sqlx::PgConnection::connect(admin_url)
            .await
            .unwrap_or_else(|e| panic!("{PG_ENV} is set but PostgreSQL is not reachable: {e}"));
        sqlx::raw_sql(&format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .await
            .expect("create test database");
        let _ = conn.close().await;
        let mut url = url_with_database(admin_url, &name);
        if url.is_empty() {
            url = admin_url.to_owned();
        }
        PgScratch {
            admin_url: admin_url.to_owned(),
            name,
            url,
        }
    }

    async fn drop_database(self) {
        if let Ok(mut conn) = sqlx::PgConnection::connect(&self.admin_url).await {
            let _ = sqlx::raw_sql(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ))
            .execute(&mut conn)
            .await;
            let _ = conn.close().await;
        }
    }
}

fn url_with_database(url: &str, db: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    let base = match base[scheme_end..].find('/') {
        Some(slash) => &base[..scheme_end + slash],
        None => base,
    };
    match query {
        Some(q) => format!("{base}/{db}?{q}"),
        None => format!("{base}/{db}"),
    }
}

/// Verdict installed (Connect) into the double's `acme` site, with the tenant's API key: the
/// set-up of every Findings → Jira test.
pub struct JiraWorld {
    pub double: jira_double::JiraDouble,
    pub app: TestApp,
    pub t: TestTenant,
    /// A site user (the triager), for acting in Jira as a person.
    pub user: String,
}

impl JiraWorld {
    /// Restarts the app on the same database, keeping the double, the tenant and the user.
    pub async fn restart(self) -> Self {
        let JiraWorld {
            double,
            app,
            t,
            user,
        } = self;
        let app = app.restart().await;
        JiraWorld {
            double,
            app,
            t,
            user,
        }
    }

    /// Posts findings to `POST /api/v1/findings:batch` as the tenant and returns the answer
    /// (asserting a 200).
    pub async fn import_batch(&self, findings: &[Value]) -> Value {
        let (status, body) = self
            .app
            .post(
                &self.t.key,
                "/api/v1/findings:batch",
                &json!({"findings": findings}),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        body
    }

    pub async fn start(adjust: impl FnOnce(&mut Config)) -> Self {
        let double = jira_double::JiraDouble::start().await;
        double.add_site(jira_double::SiteSpec::standard("acme"));
        let (keys, jwks) = (double.install_keys_url(), double.forge_jwks_url());
        let app = TestApp::spawn_with(|c| {
            c.install_keys_url = keys.parse().unwrap();
            // Trusted only where a test also sets forge_app_id.
            c.forge_jwks_url = jwks.parse().unwrap();
            adjust(c);
        })
        .await;
        let inst = double
            .install_app("acme", &app.url("/atlassian-connect.json"))
            .await
            .unwrap();
        let t = app.key_for_client(&inst.client_key).await;
        let user = double.site("acme").users[1].clone();
        JiraWorld {
            double,
            app,
            t,
            user,
        }
    }

    /// Imports finding `i` (see [`finding`]) with `extra` fields merged in; returns its id.
    pub async fn import(&self, i: usize, extra: Value) -> String {
        let mut f = finding(i, 1);
        if let (Some(o), Some(e)) = (f.as_object_mut(), extra.as_object()) {
            for (k, v) in e {
                o.insert(k.clone(), v.clone());
            }
        }
        let (status, body) = self.app.post(&self.t.key, "/api/v1/findings", &f).await;
        assert!(status == 201 || status == 200, "{body}");
        body["finding"]["id"].as_str().unwrap().to_owned()
    }

    pub async fn get_finding(&self, id: &str) -> Value {
        self.app
            .get(&self.t.key, &format!("/api/v1/findings/{id}"))
            .await
            .1
    }

    /// Waits until the outbox is idle, every webhook the double sent has been answered and
    /// every stored delivery processed — twice, since each side causes work for the other.
    pub async fn settled(&self, secs: u64) {
        use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
        use verdict_server::store::entities::webhook_deliveries as wd;
        for _ in 0..3 {
            self.app.outbox_idle(secs).await;
            assert!(
                self.double
                    .wait_for_deliveries(std::time::Duration::from_secs(secs))
                    .await
            );
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
            loop {
                let pending = wd::Entity::find()
                    .filter(wd::Column::State.is_in(["pending", "processing"]))
                    .count(self.app.app_state.store().db())
                    .await
                    .unwrap();
                if pending == 0 {
                    break;
                }
                assert!(
                    std::time::Instant::now() < deadline,
                    "{pending} deliveries pending"
                );
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        }
    }

    /// Imports `n` findings, files a ticket for each directly in the double, and links them;
    /// returns (finding id, issue key) pairs.
    pub async fn linked(&self, n: usize) -> Vec<(String, String)> {
        use verdict_server::findings::{Actor, LinkTarget};
        let mut out = Vec::with_capacity(n);
        for chunk in (0..n).collect::<Vec<_>>().chunks(1000) {
            let batch: Vec<Value> = chunk.iter().map(|i| finding(*i, 1)).collect();
            let body = self.import_batch(&batch).await;
            for item in body["items"].as_array().unwrap() {
                out.push(item["id"].as_str().unwrap().to_owned());
            }
        }
        let site = self.double.site("acme").base_url;
        let mut pairs = Vec::with_capacity(n);
        for (i, id) in out.into_iter().enumerate() {
            let key = self
                .double
                .create_issue(
                    "acme",
                    &self.user,
                    json!({"project": {"key": "APP"}, "issuetype": {"name": "Bug"}, "summary": format!("Finding {i}")}),
                )
                .unwrap();
            let issue_id = self.double.issue("acme", &key).unwrap()["id"]
                .as_str()
                .unwrap()
                .to_owned();
            self.app
                .app_state
                .findings()
                .link(
                    &self.t.id,
                    &id,
                    LinkTarget {
                        site: site.clone(),
                        issue_id,
                        issue_key: key.clone(),
                        project_key: "APP".into(),
                        group_key: None,
                    },
                    &Actor::System("test".into()),
                )
                .await
                .unwrap();
            pairs.push((id, key));
        }
        self.settled(120).await;
        pairs
    }

    /// The finding's audit trail.
    pub async fn events(&self, id: &str) -> Vec<Value> {
        let (_, body) = self
            .app
            .get(&self.t.key, &format!("/api/v1/findings/{id}/events"))
            .await;
        body["events"].as_array().cloned().unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::url_with_database;

    #[test]
    fn swaps_the_database_name() {
        assert_eq!(
            url_with_database("postgres://postgres@127.0.0.1:5432/test", "x"),
            "postgres://postgres@127.0.0.1:5432/x"
        );
        assert_eq!(
            url_with_database("postgres://u:p@h/test?sslmode=disable", "x"),
            "postgres://u:p@h/x?sslmode=disable"
        );
        assert_eq!(
            url_with_database("postgres://h:5432", "x"),
            "postgres://h:5432/x"
        );
    }
}
