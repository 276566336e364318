//! The real `verdict` binary as an operator runs it: in an empty folder, with env config,
//! managing tenants and keys, stopping on SIGTERM without dropping in-flight requests.

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_verdict");

/// A `verdict` command in `dir` with no inherited VERDICT_* settings.
fn verdict(dir: &Path) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.current_dir(dir).stdin(Stdio::null());
    for (key, _) in std::env::vars() {
        if key.starts_with("VERDICT_") {
            cmd.env_remove(key);
        }
    }
    cmd
}

fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("verdict runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Server {
    child: Child,
    base: String,
}

impl Server {
    fn start(dir: &Path) -> Server {
        let port = free_port();
        let child = verdict(dir)
            .arg("serve")
            .env("VERDICT_LISTEN", format!("127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Owned by `Server` from here on, so its Drop reaps the process on every path.
        let server = Server {
            child,
            base: format!("http://127.0.0.1:{port}"),
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return server;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("verdict serve did not start listening");
    }

    fn terminate(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    fn wait(mut self) -> (std::process::ExitStatus, String) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                let mut stderr = String::new();
                use std::io::Read;
                self.child
                    .stderr
                    .take()
                    .unwrap()
                    .read_to_string(&mut stderr)
                    .unwrap();
                return (status, stderr);
            }
            assert!(
                Instant::now() < deadline,
                "verdict did not stop after SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_in_an_empty_folder_then_stop_gracefully_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let client = reqwest::Client::new();
    let health = client
        .get(format!("{}/healthz", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    let ready = client
        .get(format!("{}/readyz", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 200);
    assert!(
        dir.path().join("verdict.db").exists(),
        "default SQLite file in the working dir"
    );

    // Operators manage tenants and keys with the CLI while the server runs.
    let out = run(verdict(dir.path()).args(["tenant", "add", "acme.atlassian.net"]));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("created tenant acme.atlassian.net"));
    let out = run(verdict(dir.path()).args([
        "api-key",
        "create",
        "--tenant",
        "acme.atlassian.net",
        "--name",
        "semgrep",
    ]));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let key = text(&out.stdout).trim().to_owned();
    assert!(key.starts_with("vdk_") && key.len() > 40, "{key}");
    assert!(text(&out.stderr).contains("not shown again"));

    let listing =
        run(verdict(dir.path()).args(["api-key", "list", "--tenant", "acme.atlassian.net"]));
    assert!(
        !text(&listing.stdout).contains(&key),
        "secrets are never listed"
    );
    assert!(text(&listing.stdout).contains("semgrep"));
    let tenants = run(verdict(dir.path()).args(["tenant", "list", "--json"]));
    let tenants: serde_json::Value = serde_json::from_slice(&tenants.stdout).unwrap();
    assert_eq!(tenants[0]["name"], "acme.atlassian.net");
    assert_eq!(tenants[0]["kind"], "standalone");

    let r = client
        .get(format!("{}/api/v1/findings", server.base))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    // A second key is revoked and stops working at once; the first keeps working.
    let out = run(verdict(dir.path()).args([
        "api-key",
        "create",
        "--tenant",
        "acme.atlassian.net",
        "--name",
        "old",
    ]));
    let old_key = text(&out.stdout).trim().to_owned();
    let prefix: String = old_key.chars().take(12).collect();
    let out = run(verdict(dir.path()).args([
        "api-key",
        "revoke",
        "--tenant",
        "acme.atlassian.net",
        &prefix,
    ]));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = run(verdict(dir.path()).args([
        "api-key",
        "revoke",
        "--tenant",
        "acme.atlassian.net",
        &prefix,
    ]));
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("already revoked"));
    let r = client
        .get(format!("{}/api/v1/findings", server.base))
        .bearer_auth(&old_key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);

    // SIGTERM while an import is in flight: the request is half sent when the signal arrives
    // (raw HTTP, so the timing is certain), and it still completes.
    let findings: Vec<serde_json::Value> = (0..2_000)
        .map(|i| serde_json::json!({"external_id": format!("f{i}"), "title": format!("finding {i}"), "severity": "medium"}))
        .collect();
    let body = serde_json::to_vec(&serde_json::json!({"findings": findings})).unwrap();
    let addr = server.base.trim_start_matches("http://").to_owned();
    let mut stream = std::net::TcpStream::connect(&addr).unwrap();
    use std::io::{Read, Write};
    write!(
        stream,
        "POST /api/v1/findings:batch HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {key}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .unwrap();
    let half = body.len() / 2;
    stream.write_all(&body[..half]).unwrap();
    stream.flush().unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    server.terminate();
    tokio::time::sleep(Duration::from_millis(300)).await;
    stream.write_all(&body[half..]).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.contains("\"created\":2000"), "{response}");
    let (status, stderr) = tokio::task::spawn_blocking(move || server.wait())
        .await
        .unwrap();
    assert!(status.success(), "exit {status:?}: {stderr}");
    assert!(stderr.contains("shutdown requested"), "{stderr}");
    assert!(stderr.contains("verdict stopped"), "{stderr}");
    assert!(!stderr.contains(&key), "API keys never reach the log");
}

#[test]
fn configuration_errors_exit_2_and_name_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(verdict(dir.path())
        .arg("serve")
        .env("VERDICT_LISTEN", "everywhere"));
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains("VERDICT_LISTEN") && err.contains("listen"),
        "{err}"
    );

    std::fs::write(dir.path().join("verdict.toml"), "log_formatt = \"json\"\n").unwrap();
    let out = run(verdict(dir.path()).arg("migrate"));
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains("log_formatt") && err.contains("verdict.toml"),
        "{err}"
    );

    let out = run(verdict(dir.path()).args(["--config", "missing.toml", "migrate"]));
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("missing.toml"));
}

#[test]
fn database_passwords_stay_out_of_errors_and_logs() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(verdict(dir.path()).arg("migrate").env(
        "VERDICT_DATABASE_URL",
        "postgres://verdict:hunter2-secret@127.0.0.1:1/verdict",
    ));
    assert_eq!(out.status.code(), Some(1));
    let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert!(!all.contains("hunter2-secret"), "{all}");
    assert!(all.contains("REDACTED"), "{all}");
}

#[test]
fn migrate_is_idempotent_and_logs_can_be_json() {
    let dir = tempfile::tempdir().unwrap();
    let first = run(verdict(dir.path())
        .arg("migrate")
        .env("VERDICT_LOG_FORMAT", "json"));
    assert!(first.status.success(), "{}", text(&first.stderr));
    assert!(text(&first.stdout).contains("applied m20261122_000001_initial"));
    for line in text(&first.stderr).lines().filter(|l| !l.trim().is_empty()) {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        assert!(v["level"].is_string(), "{line}");
    }
    let second = run(verdict(dir.path()).arg("migrate"));
    assert!(text(&second.stdout).contains("up to date"));

    let version = run(verdict(dir.path()).arg("version"));
    assert_eq!(
        text(&version.stdout).trim(),
        format!("verdict {}", env!("CARGO_PKG_VERSION"))
    );

    let unknown = run(verdict(dir.path()).args(["api-key", "create", "--tenant", "nobody"]));
    assert_eq!(unknown.status.code(), Some(1));
    assert!(text(&unknown.stderr).contains("tenant `nobody` not found"));
}

#[test]
fn admin_commands_print_only_what_was_asked_for() {
    // A fresh folder: the first command creates and migrates the database, quietly.
    let dir = tempfile::tempdir().unwrap();
    let out = run(verdict(dir.path()).args(["tenant", "add", "acme"]));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stderr), "", "no migrator lines");
    assert_eq!(
        text(&out.stdout).lines().count(),
        1,
        "{}",
        text(&out.stdout)
    );
    let out = run(verdict(dir.path()).args([
        "api-key", "create", "--tenant", "acme", "--scope", "scanner",
    ]));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert_eq!(stdout.lines().count(), 1, "only the key: {stdout}");
    assert!(stdout.starts_with("vdk_"), "{stdout}");
    let stderr = text(&out.stderr);
    assert!(stderr.contains("created scanner API key"), "{stderr}");
    assert!(
        !stderr.contains('\u{1b}'),
        "no colour codes in a pipe: {stderr:?}"
    );
    // Asked for more, it says more — still without colour in a pipe.
    let out = run(verdict(dir.path())
        .env("VERDICT_LOG_LEVEL", "info")
        .args(["tenant", "list"]));
    assert!(out.status.success());
    assert!(!text(&out.stderr).contains('\u{1b}'));
}

#[test]
fn openapi_command_prints_the_document() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(verdict(dir.path()).arg("openapi"));
    assert!(out.status.success());
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(doc["paths"]["/api/v1/findings:batch"]["post"].is_object());
}

#[test]
fn tenant_connect_needs_a_token_and_webhook_secrets_are_shown_once() {
    let dir = tempfile::tempdir().unwrap();
    run(verdict(dir.path()).args(["tenant", "add", "dc"]));
    let out = run(verdict(dir.path()).args([
        "tenant",
        "connect",
        "dc",
        "--site",
        "https://jira.example.com",
    ]));
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("VERDICT_JIRA_TOKEN"),
        "{}",
        text(&out.stderr)
    );

    let out = run(verdict(dir.path()).args(["tenant", "webhook-secret", "dc"]));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let secret = text(&out.stdout).trim().to_owned();
    assert!(secret.len() >= 40, "{secret}");
    assert!(text(&out.stderr).contains("/hooks/jira/"));
    let again = run(verdict(dir.path()).args(["tenant", "webhook-secret", "dc"]));
    assert_ne!(
        text(&again.stdout).trim(),
        secret,
        "rotating gives a new secret"
    );
}

#[test]
fn quality_prints_the_resolved_record_of_a_tenant_and_refuses_an_unknown_one() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(verdict(dir.path()).args(["tenant", "add", "acme"]));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = run(verdict(dir.path()).args(["quality", "--tenant", "acme"]));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let table = text(&out.stdout);
    assert!(table.starts_with("rule "), "{table}");
    assert!(table.contains("contradicted"), "{table}");
    assert!(table.contains("(no Resolved verdicts yet)"), "{table}");
    let out = run(verdict(dir.path()).args(["quality", "--tenant", "nobody"]));
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("nobody"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn a_tenant_exports_as_json_without_credentials_and_purges_only_when_confirmed() {
    let dir = tempfile::tempdir().unwrap();
    assert!(
        run(verdict(dir.path()).args(["tenant", "add", "acme"]))
            .status
            .success()
    );
    assert!(
        run(verdict(dir.path()).args(["tenant", "add", "other"]))
            .status
            .success()
    );
    let key = run(verdict(dir.path()).args(["api-key", "create", "--tenant", "acme"]));
    assert!(key.status.success());
    let secret = text(&key.stdout).trim().to_owned();
    run(verdict(dir.path()).args(["api-key", "create", "--tenant", "other"]));

    let file = dir.path().join("acme.json");
    let out = run(verdict(dir.path())
        .args(["tenant", "export", "acme", "--output"])
        .arg(&file));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let exported = std::fs::read_to_string(&file).unwrap();
    assert!(
        !exported.contains(&secret),
        "the key's secret is never kept, so never exported"
    );
    let doc: serde_json::Value = serde_json::from_str(&exported).unwrap();
    assert_eq!(doc["format"], "verdict-tenant-export/1");
    assert_eq!(doc["tenant"]["name"], "acme");
    let keys = doc["tables"]["api_keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1, "only this tenant's key: {keys:?}");
    assert_eq!(keys[0]["key_hash"], "[omitted]");
    assert!(doc["tables"]["findings"].as_array().unwrap().is_empty());
    assert!(
        doc["omitted"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c == "tenants.shared_secret")
    );

    let refused = run(verdict(dir.path()).args(["tenant", "purge", "acme"]));
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        text(&refused.stderr).contains("--yes"),
        "{}",
        text(&refused.stderr)
    );
    let purged = run(verdict(dir.path()).args(["tenant", "purge", "acme", "--yes"]));
    assert!(purged.status.success(), "{}", text(&purged.stderr));
    assert!(
        text(&purged.stdout).contains("api_keys: 1"),
        "{}",
        text(&purged.stdout)
    );
    let list = text(&run(verdict(dir.path()).args(["tenant", "list"])).stdout);
    assert!(!list.contains("acme") && list.contains("other"), "{list}");
    let gone = run(verdict(dir.path()).args(["tenant", "export", "acme"]));
    assert_eq!(gone.status.code(), Some(1));
    assert!(text(&gone.stderr).contains("tenant `acme` not found"));
    let other = run(verdict(dir.path()).args(["api-key", "list", "--tenant", "other"]));
    assert_eq!(
        text(&other.stdout).lines().count(),
        2,
        "the other tenant keeps its key"
    );
}
