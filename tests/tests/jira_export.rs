//! Findings → Jira against the double: export with templates (ADF and wiki text), epic and
//! due-date retry paths, secrets that never leave, bulk export with its summary, dead letters
//! and retry, auto-ticketing on import, and outbound status sync that is not read back.

use std::time::{Duration, Instant};

use jira_double::Faults;
use serde_json::{Value, json};
use verdict_e2e::JiraWorld;
use verdict_server::triage::adf;

async fn export(w: &JiraWorld, id: &str, options: Value) -> Value {
    let (status, body) = w
        .app
        .post(&w.t.key, &format!("/api/v1/findings/{id}/export"), &options)
        .await;
    assert_eq!(status, 202, "{body}");
    body
}

/// Imports finding `i` as the key's tenant and exports it to `APP`; returns its id.
async fn import_and_export(app: &verdict_e2e::TestApp, key: &str, i: usize) -> String {
    let (_, body) = app
        .post(key, "/api/v1/findings", &verdict_e2e::finding(i, 1))
        .await;
    let id = body["finding"]["id"].as_str().unwrap().to_owned();
    let (status, body) = app
        .post(
            key,
            &format!("/api/v1/findings/{id}/export"),
            &json!({"project": "APP"}),
        )
        .await;
    assert_eq!(status, 202, "{body}");
    id
}

/// `PUT /api/v1/settings` as the tenant.
async fn put_settings(w: &JiraWorld, settings: Value) -> (u16, Value) {
    w.app
        .put(
            &w.t.key,
            "/api/v1/settings",
            &json!({ "settings": settings }),
        )
        .await
}

async fn job_state(w: &JiraWorld, id: &str) -> Value {
    w.app
        .wait_until(
            &w.t.key,
            &format!("/api/v1/jobs?finding_id={id}&kind=create_issue"),
            20,
            |b| {
                b["jobs"][0]["state"]
                    .as_str()
                    .is_some_and(|s| s == "done" || s == "failed" || s == "skipped")
            },
        )
        .await["jobs"][0]
        .clone()
}

fn description_text(issue: &Value) -> String {
    adf::to_text(&issue["fields"]["description"])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_renders_the_template_and_retries_without_epic_or_due_date() {
    let w = JiraWorld::start(|_| {}).await;
    let epic = w
        .double
        .create_issue(
            "acme",
            &w.user,
            json!({"project": {"key": "APP"}, "issuetype": {"name": "Epic"}, "summary": "Security debt"}),
        )
        .unwrap();

    // APP accepts epics and due dates: both land.
    let a = w
        .import(3, json!({"severity": "high", "is_secret": false}))
        .await;
    export(
        &w,
        &a,
        json!({"project": "APP", "parent": epic, "labels": ["appsec"], "assignee": w.user}),
    )
    .await;
    let job = job_state(&w, &a).await;
    assert_eq!(job["state"], "done", "{job}");
    let f = w.get_finding(&a).await;
    let key = f["jira"]["issue_key"].as_str().unwrap().to_owned();
    let issue = w.double.issue("acme", &key).unwrap();
    let fields = &issue["fields"];
    assert_eq!(fields["summary"], "Finding number 3");
    assert_eq!(fields["priority"]["name"], "High");
    assert_eq!(fields["parent"]["key"], epic.as_str());
    assert_eq!(fields["assignee"]["accountId"], w.user.as_str());
    let want_due = (chrono::Utc::now() + chrono::Duration::days(30))
        .format("%Y-%m-%d")
        .to_string();
    assert_eq!(fields["duedate"], want_due.as_str(), "high = 30 days");
    let labels: Vec<&str> = fields["labels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap())
        .collect();
    assert!(
        labels.contains(&"appsec") && labels.contains(&"verdict"),
        "{labels:?}"
    );
    assert!(
        labels.contains(&format!("verdict-finding-{a}").as_str()),
        "{labels:?}"
    );
    // The full template: ADF with a heading, the facts as bullets, the code block, the link.
    let doc = &fields["description"];
    assert_eq!(doc["type"], "doc");
    let kinds: Vec<&str> = doc["content"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["type"].as_str().unwrap())
        .collect();
    assert_eq!(kinds[..3], ["heading", "bulletList", "paragraph"], "{doc}");
    assert!(kinds.contains(&"codeBlock"), "{doc}");
    let text = description_text(&issue);
    for want in [
        "Severity: high",
        "Score: 3.0",
        "CVSS: 9.8 (CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H)",
        "Weakness: CWE-79, CWE-89",
        "Scanner: dast",
        "Repository: github.com/acme/repo-0",
        "Location: src/module_3.rs:4",
        "SELECT * FROM t WHERE id",
        "Revision 1 of finding 3",
        &format!("/f/{a}"),
    ] {
        assert!(text.contains(want), "missing {want:?} in {text}");
    }
    // The issue links back to the finding (a separate outbox job).
    w.settled(20).await;
    let ev = w.events(&a).await;
    assert!(
        ev.iter().any(|e| e["kind"] == "linked"
            && e["reason"]
                .as_str()
                .unwrap()
                .starts_with(&format!("exported to Jira issue {key}"))),
        "{ev:?}"
    );

    // Bugs in APP cannot have a parent, and due dates are off the screen: both retried without.
    w.double.reject_parent_for("acme", "APP", "Bug");
    w.double.set_duedate_on_screen("acme", "APP", false);
    let b = w.import(4, json!({})).await;
    export(&w, &b, json!({"project": "APP", "parent": epic})).await;
    let job = job_state(&w, &b).await;
    assert_eq!(job["state"], "done", "{job}");
    let outcome = job["outcome"].as_str().unwrap();
    assert!(
        outcome.contains("refused") && outcome.contains("parent") && outcome.contains("due date"),
        "{outcome}"
    );
    let f = w.get_finding(&b).await;
    let issue = w
        .double
        .issue("acme", f["jira"]["issue_key"].as_str().unwrap())
        .unwrap();
    assert!(
        issue["fields"]["parent"].is_null() && issue["fields"]["duedate"].is_null(),
        "{issue}"
    );
    let ev = w.events(&b).await;
    let linked = ev.iter().find(|e| e["kind"] == "linked").unwrap();
    let reason = linked["reason"].as_str().unwrap();
    assert!(
        reason.contains("parent") && reason.contains("due date"),
        "noted on the finding: {reason}"
    );

    // Exporting again is refused: one finding, one issue.
    let (status, body) = w
        .app
        .post(
            &w.t.key,
            &format!("/api/v1/findings/{b}/export"),
            &json!({}),
        )
        .await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["code"], "already_exported");
    // A template of the tenant's own, per project, with a bad variable refused at export time.
    w.app
        .put(
            &w.t.key,
            "/api/v1/settings",
            &json!({"settings": {"ticket.template.SEC": "{{severity}} in {{file}}: {{nope}}"}}),
        )
        .await;
    let c = w.import(5, json!({})).await;
    export(&w, &c, json!({"project": "SEC", "issue_type": "Security"})).await;
    let job = job_state(&w, &c).await;
    assert_eq!(job["state"], "failed", "{job}");
    assert!(
        job["last_error"]
            .as_str()
            .unwrap()
            .contains("unknown template variable `nope`"),
        "{job}"
    );
    w.app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_never_reach_jira() {
    let w = JiraWorld::start(|_| {}).await;
    let aws_id = "AKIAIOSFODNN7EXAMPLE";
    let aws_secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
    let gh = "ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789";
    let random = "Zx9fQ2LmP7vR4tW8yB3nK6hJ1sD5gA0c";
    let id = w
        .import(
            7,
            json!({
                "title": format!("AWS key {aws_id} committed"),
                "description": format!("Found {gh} and the value {random} in config."),
                "scan_type": "secrets",
                "is_secret": true,
                "code_snippet": format!("AWS_SECRET_ACCESS_KEY={aws_secret}"),
                "file_path": "config/prod.env",
            }),
        )
        .await;
    export(&w, &id, json!({"project": "APP"})).await;
    assert_eq!(job_state(&w, &id).await["state"], "done");
    // A status change's comment carries the reason; secrets in it are masked too.
    let (s, _) = w
        .app
        .patch(
            &w.t.key,
            &format!("/api/v1/findings/{id}"),
            &json!({"status": "resolved", "reason": format!("rotated {aws_id}")}),
        )
        .await;
    assert_eq!(s, 200);
    w.settled(20).await;
    let key = w.get_finding(&id).await["jira"]["issue_key"]
        .as_str()
        .unwrap()
        .to_owned();
    let stored = w.double.issue("acme", &key).unwrap().to_string();
    let comments = format!("{:?}", w.double.comments("acme", &key));
    for secret in [aws_id, aws_secret, gh, random] {
        assert!(
            !stored.contains(secret),
            "{secret} reached the issue: {stored}"
        );
        assert!(
            !comments.contains(secret),
            "{secret} reached a comment: {comments}"
        );
    }
    assert!(stored.contains("REDACTED"), "{stored}");
    assert!(
        comments.contains("[Verdict] Verdict marked this finding resolved"),
        "{comments}"
    );
    w.app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_export_skips_exported_and_dead_letters_can_be_retried() {
    let w = JiraWorld::start(|c| c.outbox_max_attempts = 2).await;
    let mut ids = Vec::new();
    for i in 0..6 {
        ids.push(w.import(10 + i, json!({})).await);
    }
    export(&w, &ids[0], json!({"project": "APP"})).await;
    assert_eq!(job_state(&w, &ids[0]).await["state"], "done");
    let mut selection = ids[..4].to_vec();
    selection.push("0192b5a4-7c1e-7d2e-9b3a-123456789abc".into());
    let (status, body) = w
        .app
        .post(
            &w.t.key,
            "/api/v1/findings:export",
            &json!({"ids": selection, "options": {"project": "APP", "labels": ["bulk"]}}),
        )
        .await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["queued"], 3);
    let skipped = body["skipped"].as_array().unwrap();
    assert_eq!(skipped.len(), 2, "{body}");
    assert!(skipped.iter().any(|s| {
        s["reason"]
            .as_str()
            .unwrap()
            .starts_with("already exported as APP-")
    }));
    assert!(skipped.iter().any(|s| s["reason"] == "no such finding"));
    let bulk = body["bulk_id"].as_str().unwrap().to_owned();
    let summary = w
        .app
        .wait_until(&w.t.key, &format!("/api/v1/bulk/{bulk}"), 20, |b| {
            b["finished"] == true
        })
        .await;
    // Three issues plus their three remote links.
    assert_eq!(summary["done"], 6, "{summary}");
    assert_eq!(summary["failed"].as_array().unwrap().len(), 0);
    // An empty filter says so instead of exporting everything.
    let (status, body) = w
        .app
        .post(
            &w.t.key,
            "/api/v1/findings:export",
            &json!({"filter": {"repository": "nowhere"}, "options": {"project": "APP"}}),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (422, Some("nothing_selected")),
        "{body}"
    );
    // No project in the request and none configured: refused at once, nothing queued.
    let (_, before) = w.app.get(&w.t.key, "/api/v1/jobs?kind=create_issue").await;
    let (status, body) = w
        .app
        .post(
            &w.t.key,
            &format!("/api/v1/findings/{}/export", ids[5]),
            &json!({}),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("ticket.project"),
        "{body}"
    );
    let (status, body) = w
        .app
        .post(
            &w.t.key,
            "/api/v1/findings:export",
            &json!({"ids": [ids[4], ids[5]], "options": {}}),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    let (_, after) = w.app.get(&w.t.key, "/api/v1/jobs?kind=create_issue").await;
    assert_eq!(before["jobs"], after["jobs"], "nothing queued");

    // Jira fails every issue write: the job uses its two attempts and is dead-lettered.
    w.double.set_faults(
        "acme",
        Faults {
            fail_every: 1,
            path_filter: "/rest/api/3/issue".into(),
            ..Default::default()
        },
    );
    export(&w, &ids[4], json!({"project": "APP"})).await;
    let job = job_state(&w, &ids[4]).await;
    assert_eq!(job["state"], "failed", "{job}");
    assert_eq!(job["attempts"], 2);
    let (_, failed) = w.app.get(&w.t.key, "/api/v1/jobs?state=failed").await;
    let listed = &failed["jobs"].as_array().unwrap()[0];
    assert_eq!(listed["id"], job["id"]);
    assert!(
        listed["last_error"].as_str().unwrap().contains("503"),
        "{listed}"
    );
    // Jira is back; the admin retries the dead letter and it completes, once.
    w.double.set_faults("acme", Faults::default());
    let (status, _) = w
        .app
        .post(
            &w.t.key,
            &format!("/api/v1/jobs/{}/retry", job["id"].as_str().unwrap()),
            &json!({}),
        )
        .await;
    assert_eq!(status, 202);
    let job = job_state(&w, &ids[4]).await;
    assert_eq!(job["state"], "done", "{job}");
    let (status, _) = w
        .app
        .post(
            &w.t.key,
            &format!("/api/v1/jobs/{}/retry", job["id"].as_str().unwrap()),
            &json!({}),
        )
        .await;
    assert_eq!(status, 409, "only failed jobs are retried");
    let label = format!("verdict-finding-{}", ids[4]);
    let tickets = w
        .double
        .issue_keys("acme")
        .into_iter()
        .filter(|k| {
            w.double.issue("acme", k).unwrap()["fields"]["labels"]
                .to_string()
                .contains(&label)
        })
        .count();
    assert_eq!(tickets, 1, "no duplicate issue after failures and retry");
    let (status, _) = w.app.get(&w.t.key, "/api/v1/jobs?state=bogus").await;
    assert_eq!(status, 400);
    w.app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_center_gets_wiki_text() {
    use verdict_server::tenants::{self, credentials};
    let w = JiraWorld::start(|_| {}).await;
    let state = &w.app.app_state;
    let dc = w.app.tenant("data-center").await;
    let tenant = tenants::find_tenant(state.store().db(), &dc.id)
        .await
        .unwrap();
    let pat = w.double.add_pat("acme", &w.user);
    credentials::connect(
        state.store().db(),
        state.secrets(),
        state.jira(),
        &tenant,
        &w.double.site("acme").base_url,
        None,
        &pat,
    )
    .await
    .unwrap();
    let id = import_and_export(&w.app, &dc.key, 8).await;
    let f = w
        .app
        .wait_until(&dc.key, &format!("/api/v1/findings/{id}"), 20, |b| {
            b["jira"]["issue_key"].is_string()
        })
        .await;
    let key = f["jira"]["issue_key"].as_str().unwrap();
    let reqs = w.double.requests("acme");
    assert!(
        reqs.iter()
            .any(|r| r.method == "POST" && r.path.ends_with("/rest/api/2/issue")),
        "created over REST v2"
    );
    // v2 stores the wiki text as written.
    let text = adf::to_text(&w.double.issue("acme", key).unwrap()["fields"]["description"]);
    assert!(text.starts_with("h2. Finding number 8"), "{text}");
    assert!(
        text.contains("* Severity: high") && text.contains("{code}"),
        "{text}"
    );
    w.app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_ticketing_files_what_the_policy_selects() {
    let w = JiraWorld::start(|_| {}).await;
    w.app
        .put(
            &w.t.key,
            "/api/v1/settings",
            &json!({"settings": {"ticket.project": "APP", "ticket.min_severity": "high", "ticket.labels": "security,auto"}}),
        )
        .await;
    let batch: Vec<Value> = [4usize, 3, 1]
        .iter()
        .map(|i| {
            let mut f = verdict_e2e::finding(*i, 1);
            f["is_secret"] = json!(false);
            f
        })
        .collect();
    let body = w.import_batch(&batch).await;
    w.settled(20).await;
    let mut priorities = Vec::new();
    for item in body["items"].as_array().unwrap() {
        let f = w.get_finding(item["id"].as_str().unwrap()).await;
        match f["severity"].as_str().unwrap() {
            "low" => assert!(f["jira"].is_null(), "below the threshold: {f}"),
            _ => {
                let issue = w
                    .double
                    .issue("acme", f["jira"]["issue_key"].as_str().unwrap())
                    .unwrap();
                priorities.push(
                    issue["fields"]["priority"]["name"]
                        .as_str()
                        .unwrap()
                        .to_owned(),
                );
                let labels = issue["fields"]["labels"].to_string();
                assert!(
                    labels.contains("auto") && labels.contains("severity-"),
                    "{labels}"
                );
                let ev = w.events(item["id"].as_str().unwrap()).await;
                assert!(
                    ev.iter().any(|e| e["reason"]
                        .as_str()
                        .unwrap_or("")
                        .contains("auto-ticketing")),
                    "{ev:?}"
                );
            }
        }
    }
    priorities.sort();
    assert_eq!(priorities, ["High", "Highest"]);
    // Re-importing the same findings files nothing new.
    let before = w.double.issue_keys("acme").len();
    let batch: Vec<Value> = [4usize, 3]
        .iter()
        .map(|i| verdict_e2e::finding(*i, 2))
        .collect();
    w.app
        .post(
            &w.t.key,
            "/api/v1/findings:batch",
            &json!({"findings": batch}),
        )
        .await;
    w.settled(20).await;
    assert_eq!(w.double.issue_keys("acme").len(), before);
    w.app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_changes_move_the_ticket_and_are_not_read_back() {
    let w = JiraWorld::start(|_| {}).await;
    let id = w.import(20, json!({"severity": "high"})).await;
    export(&w, &id, json!({"project": "APP"})).await;
    assert_eq!(job_state(&w, &id).await["state"], "done");
    w.settled(20).await;
    let key = w.get_finding(&id).await["jira"]["issue_key"]
        .as_str()
        .unwrap()
        .to_owned();

    // False positive in Verdict: the cancellation-style done transition, with the reason.
    let (s, body) = w
        .app
        .patch(
            &w.t.key,
            &format!("/api/v1/findings/{id}"),
            &json!({"status": "false_positive", "reason": "test fixture, never deployed"}),
        )
        .await;
    assert_eq!(s, 200, "{body}");
    w.settled(20).await;
    assert_eq!(w.double.status_of("acme", &key).unwrap().0, "Won't Do");
    let said = w.double.comments("acme", &key);
    assert!(
        said.iter().any(|(_, t)| t == "[Verdict] Verdict marked this finding false_positive: test fixture, never deployed"),
        "{said:?}"
    );
    // The webhook of that transition came back and was recognised as Verdict's own: the
    // finding keeps its status, and only the one status change is in its trail.
    let f = w.get_finding(&id).await;
    assert_eq!(f["status"], "false_positive");
    let changes = |ev: &[Value]| ev.iter().filter(|e| e["kind"] == "status_changed").count();
    assert_eq!(changes(&w.events(&id).await), 1);
    let own = verdict_e2e_deliveries(&w).await;
    assert!(
        own.iter().any(|o| o.contains("Verdict's own transition")),
        "{own:?}"
    );

    // Resolved after reopening: the completion-style transition.
    w.app
        .patch(
            &w.t.key,
            &format!("/api/v1/findings/{id}"),
            &json!({"status": "open"}),
        )
        .await;
    w.settled(20).await;
    assert_eq!(w.double.status_of("acme", &key).unwrap().1, "new");
    w.app
        .patch(
            &w.t.key,
            &format!("/api/v1/findings/{id}"),
            &json!({"status": "resolved"}),
        )
        .await;
    w.settled(20).await;
    assert_eq!(w.double.status_of("acme", &key).unwrap().0, "Done");
    assert_eq!(w.get_finding(&id).await["status"], "resolved");
    assert_eq!(changes(&w.events(&id).await), 3);
    // Every move was Verdict's, each exactly once.
    let taken: Vec<_> = w
        .double
        .transitions_taken("acme")
        .into_iter()
        .filter(|t| t.issue_key == key)
        .collect();
    assert_eq!(taken.len(), 3, "{taken:?}");

    // A person closing it later is a decision again (the own-transition record was used up).
    w.app
        .patch(
            &w.t.key,
            &format!("/api/v1/findings/{id}"),
            &json!({"status": "open"}),
        )
        .await;
    w.settled(20).await;
    w.double
        .transition("acme", &key, "Done", None, &w.user)
        .unwrap();
    w.settled(20).await;
    assert_eq!(w.get_finding(&id).await["status"], "resolved");
    let last = w
        .events(&id)
        .await
        .into_iter()
        .rev()
        .find(|e| e["kind"] == "status_changed")
        .unwrap();
    assert_eq!(last["actor"]["id"], w.user.as_str(), "{last}");
    w.app.stop().await;
}

async fn verdict_e2e_deliveries(w: &JiraWorld) -> Vec<String> {
    use sea_orm::EntityTrait;
    verdict_server::store::entities::webhook_deliveries::Entity::find()
        .all(w.app.app_state.store().db())
        .await
        .unwrap()
        .into_iter()
        .filter_map(|d| d.outcome)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_customer_run_jira_is_called_only_where_the_outbound_policy_allows() {
    use verdict_server::tenants::{self, credentials};
    // Local addresses refused, with the double's one address allowed by the operator; answers
    // bounded at 64 KiB.
    let w = JiraWorld::start(|c| {
        c.outbound_refuse_local = true;
        c.outbound_allowed_ranges =
            verdict_server::config::CidrList(vec!["127.0.0.1/32".parse().unwrap()]);
        c.jira_max_response_bytes = 64 * 1024;
    })
    .await;
    let state = &w.app.app_state;
    let db = state.store().db();
    let site = w.double.site("acme");
    let port = url::Url::parse(&site.base_url).unwrap().port().unwrap();
    let pat = w.double.add_pat("acme", &w.user);
    let dc = w.app.tenant("data-center").await;
    let tenant = tenants::find_tenant(db, &dc.id).await.unwrap();
    let connect = |base: String| {
        let tenant = tenant.clone();
        let pat = pat.clone();
        async move {
            credentials::connect(
                db,
                state.secrets(),
                state.jira(),
                &tenant,
                &base,
                None,
                &pat,
            )
            .await
        }
    };

    // Another loopback address (and the cloud metadata address) is never called.
    for base in [
        format!("http://127.0.0.2:{port}"),
        "http://169.254.169.254".to_owned(),
    ] {
        let err = connect(base.clone()).await.unwrap_err().to_string();
        assert!(
            err.contains("outbound policy")
                && (err.contains("loopback") || err.contains("link-local")),
            "{base}: {err}"
        );
    }
    // A redirect to another host is not followed; one within the site is.
    let other_host = format!("http://localhost:{port}/rest/api/2/myself");
    w.double.set_faults(
        "acme",
        Faults {
            redirect_next: vec![other_host.clone()],
            ..Faults::default()
        },
    );
    let err = connect(site.base_url.clone())
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("redirect") && err.contains(&other_host),
        "{err}"
    );
    w.double.set_faults(
        "acme",
        Faults {
            redirect_next: vec![format!("{}/rest/api/2/myself", site.base_url)],
            ..Faults::default()
        },
    );
    connect(site.base_url.clone())
        .await
        .expect("same-host redirect");
    // An answer past the bound is not read.
    w.double.set_faults(
        "acme",
        Faults {
            oversized_next: 1,
            oversized_bytes: 200 * 1024,
            path_filter: "/rest/api/2/search".into(),
            ..Faults::default()
        },
    );
    let auth = state.jira_auth(&dc.id).await.unwrap();
    let err = state
        .jira()
        .get(&auth, "/rest/api/2/search?jql=project%3DAPP")
        .await
        .unwrap_err();
    assert!(err.to_string().contains("larger than 65536 bytes"), "{err}");

    // Through the real path: an export to the allowed site lands.
    w.double.set_faults("acme", Faults::default());
    let id = import_and_export(&w.app, &dc.key, 8).await;
    w.app
        .wait_until(&dc.key, &format!("/api/v1/findings/{id}"), 20, |b| {
            b["jira"]["issue_key"].is_string()
        })
        .await;
    // And one whose site starts redirecting elsewhere fails with the reason, unsent.
    let (_, body) = w
        .app
        .post(&dc.key, "/api/v1/findings", &verdict_e2e::finding(9, 1))
        .await;
    let id = body["finding"]["id"].as_str().unwrap().to_owned();
    w.double.set_faults(
        "acme",
        Faults {
            redirect_next: vec![format!("http://localhost:{port}/rest/api/2/issue"); 20],
            path_filter: "/rest/api/2/issue".into(),
            ..Faults::default()
        },
    );
    let (status, _) = w
        .app
        .post(
            &dc.key,
            &format!("/api/v1/findings/{id}/export"),
            &json!({"project": "APP"}),
        )
        .await;
    assert_eq!(status, 202);
    let jobs = w
        .app
        .wait_until(
            &dc.key,
            &format!("/api/v1/jobs?finding_id={id}&kind=create_issue"),
            20,
            |b| {
                b["jobs"][0]["last_error"]
                    .as_str()
                    .is_some_and(|e| e.contains("redirect"))
            },
        )
        .await;
    assert!(
        jobs["jobs"][0]["last_error"]
            .as_str()
            .unwrap()
            .contains("outbound policy"),
        "{jobs}"
    );
    let created = w
        .double
        .requests("acme")
        .iter()
        .filter(|r| r.method == "POST" && r.path.ends_with("/rest/api/2/issue") && r.status == 201)
        .count();
    assert_eq!(
        created, 1,
        "only the first export; nothing through the redirect"
    );
    w.app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_tenants_bulk_export_never_holds_back_another_tenants_closure_write_back() {
    use jira_double::{Limits, SiteSpec};
    // An app pool of 160 points an hour (Jira states it in its headers), a quarter kept for
    // closure write-backs, and at most half of the rest for one tenant's bulk work.
    const POINTS: u32 = 160;
    let w = JiraWorld::start(|c| {
        c.jira_closure_reserve_percent = 25;
        c.jira_tenant_share_percent = 50;
    })
    .await;
    w.double.add_site(SiteSpec::standard("globex"));
    let inst = w
        .double
        .install_app("globex", &w.app.url("/atlassian-connect.json"))
        .await
        .unwrap();
    let globex = w.app.key_for_client(&inst.client_key).await;
    // acme: a finding whose ticket a triager will close, and Verdict saying so on the ticket.
    let (status, _) = w
        .app
        .put(
            &w.t.key,
            "/api/v1/settings",
            &json!({"settings": {"closure.comment": "true"}}),
        )
        .await;
    assert_eq!(status, 200);
    let (finding, key) = w.linked(1).await.remove(0);
    for site in ["acme", "globex"] {
        w.double.set_limits(
            site,
            Limits {
                hourly_points: Some(POINTS),
                burst_per_second: Some(50),
                per_issue_writes: Some(20),
                ..Default::default()
            },
        );
    }
    // globex exports 150 findings at once: far more than its share of the hour.
    let batch: Vec<Value> = (0..150).map(|i| verdict_e2e::finding(i, 1)).collect();
    let (status, body) = w
        .app
        .post(
            &globex.key,
            "/api/v1/findings:batch",
            &json!({"findings": batch}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let ids: Vec<&str> = body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap())
        .collect();
    let (status, body) = w
        .app
        .post(
            &globex.key,
            "/api/v1/findings:export",
            &json!({"ids": ids, "options": {"project": "APP"}}),
        )
        .await;
    assert_eq!(status, 202, "{body}");
    // Its bulk work runs until its share is spent, then waits for the next hour.
    let held = r#"verdict_jira_calls_held_back{priority="bulk"}"#;
    let deadline = Instant::now() + Duration::from_secs(60);
    while w.app.metric(held).await < 1.0 {
        if Instant::now() > deadline {
            let text = w.app.metrics_text().await;
            let jira: Vec<&str> = text
                .lines()
                .filter(|l| l.contains("jira") || l.contains("outbox"))
                .collect();
            let (_, jobs) = w.app.get(&globex.key, "/api/v1/jobs?limit=5").await;
            panic!(
                "the bulk export never reached its share: globex {} requests, acme {}\n{}\n{jobs}",
                w.double.requests("globex").len(),
                w.double.requests("acme").len(),
                jira.join("\n")
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // acme's triager closes a ticket now: the verdict reaches the finding and the ticket
    // within the bound, whatever globex has queued.
    const BOUND: Duration = Duration::from_secs(10);
    let started = Instant::now();
    w.double
        .comment(
            "acme",
            &key,
            &w.user,
            "False positive: this code only runs in the test fixtures.",
        )
        .unwrap();
    w.double
        .transition("acme", &key, "Done", None, &w.user)
        .unwrap();
    loop {
        let said = w.double.comments("acme", &key);
        if said.iter().any(|(_, t)| t.starts_with("[Verdict]")) {
            break;
        }
        assert!(
            started.elapsed() < BOUND,
            "no write-back within {BOUND:?}: {said:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let took = started.elapsed();
    println!("closure write-back behind another tenant's bulk export: {took:?} (bound {BOUND:?})");
    assert_ne!(w.get_finding(&finding).await["status"], "open");

    // Verdict kept within the app's pool: Jira never had to refuse a call for the quota, the
    // held-back exports wait (not failed), and the hour's use is visible.
    for site in ["acme", "globex"] {
        let refused = w
            .double
            .requests(site)
            .iter()
            .filter(|r| r.status == 429)
            .count();
        assert_eq!(refused, 0, "{site}");
    }
    let (_, jobs) = w.app.get(&globex.key, "/api/v1/jobs?state=failed").await;
    assert_eq!(jobs["jobs"].as_array().unwrap().len(), 0, "{jobs}");
    let (_, jobs) = w.app.get(&globex.key, "/api/v1/jobs?state=pending").await;
    let waiting = jobs["jobs"].as_array().unwrap();
    assert!(!waiting.is_empty());
    assert!(
        waiting.iter().all(|j| j["last_error"]
            .as_str()
            .is_none_or(|e| e.contains("held back by the hour's Jira points"))),
        "{jobs}"
    );
    let text = w.app.metrics_text().await;
    let used = w
        .app
        .metric(r#"verdict_jira_app_points{measure="used"}"#)
        .await;
    assert!(used > 0.0 && used <= f64::from(POINTS), "{text}");
    assert_eq!(
        w.app
            .metric(r#"verdict_jira_app_points{measure="quota"}"#)
            .await,
        f64::from(POINTS),
        "Jira's RateLimit-Policy header was learned"
    );
    w.app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tickets_fit_projects_with_required_fields_components_and_security_levels() {
    use jira_double::model::CustomKind;
    let w = JiraWorld::start(|_| {}).await;
    let d = &w.double;
    let team = d.add_custom_field(
        "acme",
        "Team",
        CustomKind::Select(vec!["AppSec".into(), "Platform".into()]),
    );
    let cvss = d.add_custom_field("acme", "CVSS", CustomKind::Number);
    let remediation = d.add_custom_field("acme", "Remediation", CustomKind::Textarea);
    d.put_on_screen("acme", "SEC", &team, true);
    d.put_on_screen("acme", "SEC", &cvss, false);
    d.put_on_screen("acme", "SEC", &remediation, false);
    d.set_components(
        "acme",
        "SEC",
        &[
            "github.com/acme/repo-1",
            "github.com/acme/repo-2",
            "payments",
        ],
    );
    d.put_on_screen("acme", "SEC", "components", true);
    d.set_security_levels("acme", "SEC", &["Internal", "Restricted"]);

    // No field map yet: the export fails naming every required field it lacks.
    let a = w.import(1, json!({})).await;
    export(&w, &a, json!({"project": "SEC", "issue_type": "Bug"})).await;
    let job = job_state(&w, &a).await;
    assert_eq!(job["state"], "failed", "{job}");
    let error = job["last_error"].as_str().unwrap();
    assert!(
        error.contains(&format!("Team ({team})")) && error.contains("Components (components)"),
        "{error}"
    );

    // Saving a map is checked against SEC's create screen, read from Jira.
    let (status, body) = put_settings(
        &w,
        json!({"ticket.project": "SEC", "ticket.fields.SEC": {"Bogus": "x"}}),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (422, Some("field_map_invalid")),
        "{body}"
    );
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("`Bogus` is not on the create screen of SEC / Bug"),
        "{body}"
    );
    let (status, body) = put_settings(
        &w,
        json!({"ticket.fields.SEC": {"Team": "Nope", "components": "{{repository}}"}}),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains(&format!(
                "Team ({team}) does not allow `Nope` (allowed: AppSec, Platform)"
            )),
        "{body}"
    );
    let (status, body) = put_settings(&w, json!({"ticket.fields.SEC": {"Team": "appsec"}})).await;
    assert_eq!(status, 422, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("requires Components (components)"),
        "{body}"
    );
    let (status, body) = put_settings(&w, json!({"ticket.fields.SEC": {"Summary": "x"}})).await;
    assert_eq!(status, 422, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("set ticket.summary instead"),
        "{body}"
    );
    let (status, body) = put_settings(
        &w,
        json!({
            "ticket.summary.SEC": "[{{severity}}] {{title}} in {{repository}}",
            "ticket.fields.SEC": {
                "Team": "appsec",
                "components": "{{repository}}",
                "Security Level": "internal",
                "CVSS": "{{cvss_score}}",
                "Remediation": "Fix the code at {{location}}"
            }
        }),
    )
    .await;
    assert_eq!(status, 200, "{body}");

    // The next ticket carries every field in the shape Jira takes.
    let b = w.import(4, json!({})).await;
    export(&w, &b, json!({"project": "SEC", "issue_type": "Bug"})).await;
    let job = job_state(&w, &b).await;
    assert_eq!(job["state"], "done", "{job}");
    let f = w.get_finding(&b).await;
    let issue = w
        .double
        .issue("acme", f["jira"]["issue_key"].as_str().unwrap())
        .unwrap();
    let fields = &issue["fields"];
    assert_eq!(fields[&team]["value"], "AppSec", "{fields}");
    assert_eq!(fields["components"][0]["name"], "github.com/acme/repo-1");
    assert_eq!(fields["security"]["name"], "Internal");
    assert_eq!(fields[&cvss], 9.8);
    assert!(
        adf::to_text(&fields[&remediation]).contains("Fix the code at src/module_4.rs:5"),
        "{}",
        fields[&remediation]
    );
    let summary = fields["summary"].as_str().unwrap();
    assert!(
        summary.starts_with('[')
            && summary.ends_with("] Finding number 4 in github.com/acme/repo-1"),
        "{summary}"
    );

    // A templated value outside the allowed values fails that ticket, naming it.
    let c = w.import(3, json!({})).await;
    export(&w, &c, json!({"project": "SEC", "issue_type": "Bug"})).await;
    let job = job_state(&w, &c).await;
    assert_eq!(job["state"], "failed", "{job}");
    assert!(
        job["last_error"]
            .as_str()
            .unwrap()
            .contains("Components (components) does not allow `github.com/acme/repo-0`"),
        "{job}"
    );

    // A team-managed project has no priority field: the ticket is filed without one (Jira
    // refuses a field off the screen), and that is noted.
    d.make_team_managed("acme", "APP");
    let e = w.import(5, json!({})).await;
    export(&w, &e, json!({"project": "APP"})).await;
    let job = job_state(&w, &e).await;
    assert_eq!(job["state"], "done", "{job}");
    assert!(
        job["outcome"]
            .as_str()
            .unwrap()
            .contains("APP / Bug has no priority field"),
        "{job}"
    );
    // (The double, like Jira, refuses a create that sets a field off the screen.)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notes_travel_to_the_ticket_and_jira_comments_come_back_but_never_decide() {
    let w = JiraWorld::start(|_| {}).await;
    let token = "ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789";
    let a = w.import(7, json!({})).await;
    let note = |body: String| {
        let w = &w;
        let a = a.clone();
        async move {
            w.app
                .post(
                    &w.t.key,
                    &format!("/api/v1/findings/{a}/notes"),
                    &json!({ "body": body }),
                )
                .await
        }
    };
    // Bad notes are refused; a note before the ticket exists waits for it.
    let (status, body) = note("   ".into()).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (422, Some("invalid_note")),
        "{body}"
    );
    let (status, body) = note(format!(
        "Seen in the prod logs; the token {token} was rotated."
    ))
    .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["sent_to_jira"], false);
    assert!(
        !body["note"]["body"].as_str().unwrap().contains(token),
        "{body}"
    );
    // A scanner key reads notes but cannot write them.
    let scanner = w.app.scanner_key(&w.t.id).await;
    let (status, _) = w
        .app
        .post(
            &scanner,
            &format!("/api/v1/findings/{a}/notes"),
            &json!({"body": "x"}),
        )
        .await;
    assert_eq!(status, 403);

    export(&w, &a, json!({"project": "APP"})).await;
    assert_eq!(job_state(&w, &a).await["state"], "done");
    let key = w.get_finding(&a).await["jira"]["issue_key"]
        .as_str()
        .unwrap()
        .to_owned();
    // The second note is sent at once; it says "false positive", which must never decide.
    let (status, body) = note("This is a false positive: the input is a constant.".into()).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["sent_to_jira"], true);
    w.settled(20).await;
    let said: Vec<String> = w
        .double
        .comments("acme", &key)
        .into_iter()
        .map(|(_, text)| text)
        .collect();
    assert_eq!(said.len(), 2, "{said:?}");
    assert!(
        said[0].starts_with("[Verdict] Note from ") && said[0].contains("Seen in the prod logs"),
        "{said:?}"
    );
    assert!(said[1].contains("the input is a constant"), "{said:?}");
    assert!(!said.iter().any(|s| s.contains(token)), "{said:?}");

    // A triager's comment comes back as a Jira note beside Verdict's own.
    w.double
        .comment(
            "acme",
            &key,
            &w.user,
            "Patched in commit 4f2a1c9 and deployed to production.",
        )
        .unwrap();
    let listed = w
        .app
        .wait_until(&w.t.key, &format!("/api/v1/findings/{a}/notes"), 20, |b| {
            b["notes"]
                .as_array()
                .is_some_and(|n| n.iter().any(|x| x["source"] == "jira"))
        })
        .await;
    let notes = listed["notes"].as_array().unwrap();
    let sources: Vec<&str> = notes
        .iter()
        .map(|n| n["source"].as_str().unwrap())
        .collect();
    assert_eq!(sources, ["verdict", "verdict", "jira"], "{listed}");
    assert_eq!(notes[2]["author"], w.user.as_str());
    assert!(notes[2]["jira_comment_id"].is_string());

    // Closed as Done: Resolved — the note's "false positive" was not read as evidence.
    w.double
        .transition("acme", &key, "Done", None, &w.user)
        .unwrap();
    let f = w
        .app
        .wait_until(&w.t.key, &format!("/api/v1/findings/{a}"), 20, |b| {
            b["status"] != "open"
        })
        .await;
    assert_eq!(f["status"], "resolved", "{f}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ticket_past_its_due_date_with_its_finding_open_gets_one_comment() {
    use verdict_server::sync::sla;
    let w = JiraWorld::start(|_| {}).await;
    let (late, fixed) = (w.import(3, json!({})).await, w.import(4, json!({})).await);
    for id in [&late, &fixed] {
        export(&w, id, json!({"project": "APP", "due_date": "2026-01-15"})).await;
        assert_eq!(job_state(&w, id).await["state"], "done");
    }
    let (status, body) = w
        .app
        .patch(
            &w.t.key,
            &format!("/api/v1/findings/{fixed}"),
            &json!({"status": "resolved", "reason": "patched"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    w.settled(20).await;
    let state = &w.app.app_state;
    let today = chrono::NaiveDate::from_ymd_opt(2026, 1, 16).unwrap();
    assert_eq!(sla::note_overdue(state, today).await.unwrap(), 1);
    // Once per ticket, however often the sweep runs.
    assert_eq!(sla::note_overdue(state, today).await.unwrap(), 0);
    w.settled(20).await;
    let key_of = |f: Value| f["jira"]["issue_key"].as_str().unwrap().to_owned();
    let late_key = key_of(w.get_finding(&late).await);
    let said: Vec<String> = w
        .double
        .comments("acme", &late_key)
        .into_iter()
        .map(|(_, t)| t)
        .filter(|t| t.contains("due date"))
        .collect();
    assert_eq!(
        said,
        [
            "[Verdict] This ticket passed its due date (2026-01-15) while its high finding is still open."
        ],
    );
    let fixed_key = key_of(w.get_finding(&fixed).await);
    assert!(
        !w.double
            .comments("acme", &fixed_key)
            .iter()
            .any(|(_, t)| t.contains("due date")),
        "a resolved finding's ticket is not chased"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tickets_follow_their_findings_leaving_jira_owned_fields_alone() {
    let w = JiraWorld::start(|_| {}).await;
    let id = w.import(8, json!({"severity": "medium"})).await;
    export(&w, &id, json!({"project": "APP"})).await;
    assert_eq!(job_state(&w, &id).await["state"], "done");
    let key = w.get_finding(&id).await["jira"]["issue_key"]
        .as_str()
        .unwrap()
        .to_owned();
    let updates_path = format!("/api/v1/jobs?finding_id={id}&kind=update_issue");
    let settled_updates = |n: usize| {
        let path = format!("/api/v1/jobs?finding_id={id}&kind=update_issue");
        let w = &w;
        async move {
            w.app
                .wait_until(&w.t.key, &path, 20, |b| {
                    b["jobs"].as_array().is_some_and(|j| {
                        j.len() == n
                            && j.iter()
                                .all(|x| x["state"] == "done" || x["state"] == "skipped")
                    })
                })
                .await["jobs"]
                .as_array()
                .unwrap()
                .clone()
        }
    };
    // The same scan again: nothing changed, nothing sent.
    w.import(8, json!({"severity": "medium"})).await;
    w.settled(20).await;
    assert_eq!(
        w.app.get(&w.t.key, &updates_path).await.1["jobs"],
        json!([]),
        "nothing to update"
    );

    // The scanner now rates it critical under a new title: the ticket follows.
    w.import(
        8,
        json!({"severity": "critical", "title": "SQL injection in the login form"}),
    )
    .await;
    let jobs = settled_updates(1).await;
    assert_eq!(jobs[0]["state"], "done", "{jobs:?}");
    let issue = w.double.issue("acme", &key).unwrap();
    assert_eq!(
        issue["fields"]["summary"],
        "SQL injection in the login form"
    );
    assert_eq!(issue["fields"]["priority"]["name"], "Highest");
    assert!(description_text(&issue).contains("Severity: critical"));

    // Priority is Jira-owned now: a person lowers it, and the next update leaves it.
    let (status, body) = w
        .app
        .put(
            &w.t.key,
            "/api/v1/settings",
            &json!({"settings": {"ticket.jira_owned": "priority"}}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    w.double
        .edit(
            "acme",
            &key,
            &w.user,
            json!({"fields": {"priority": {"name": "Low"}}}),
        )
        .unwrap();
    w.import(
        8,
        json!({"severity": "critical", "title": "SQL injection in the login form", "description": "Reachable without a session."}),
    )
    .await;
    let jobs = settled_updates(2).await;
    let newest = jobs
        .iter()
        .max_by_key(|j| j["id"].as_str().unwrap().to_owned())
        .unwrap();
    assert_eq!(newest["state"], "done", "{jobs:?}");
    assert_eq!(
        newest["outcome"],
        format!("updated {key}: description, summary").as_str()
    );
    let issue = w.double.issue("acme", &key).unwrap();
    assert_eq!(issue["fields"]["priority"]["name"], "Low", "Jira-owned");
    assert!(description_text(&issue).contains("Reachable without a session."));

    // A re-push sends the fields again even when nothing changed; a finding without a ticket
    // has nothing to push.
    let (status, body) = w
        .app
        .post(&w.t.key, &format!("/api/v1/findings/{id}/push"), &json!({}))
        .await;
    assert_eq!(status, 202, "{body}");
    let jobs = settled_updates(3).await;
    assert!(jobs.iter().all(|j| j["state"] == "done"), "{jobs:?}");
    let lone = w.import(9, json!({})).await;
    let (status, body) = w
        .app
        .post(
            &w.t.key,
            &format!("/api/v1/findings/{lone}/push"),
            &json!({}),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("not_exported")),
        "{body}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn epics_per_repository_and_owners_place_new_tickets() {
    let w = JiraWorld::start(|_| {}).await;
    let people = w.double.site("acme").users;
    let (payments_owner, everyone) = (people[2].clone(), people[1].clone());
    // Owners and epics are checked with Jira when saved.
    let (status, body) = put_settings(
        &w,
        json!({"ticket.owners": [{"assignee": "712020:nobody"}]}),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("712020:nobody"),
        "{body}"
    );
    let (status, body) = put_settings(&w, json!({"ticket.epic": "APP-999"})).await;
    assert_eq!(status, 422, "{body}");
    let (status, body) = put_settings(&w, json!({"ticket.epic": "not a key"})).await;
    assert_eq!(status, 422, "{body}");
    let (status, body) = put_settings(&w, json!({
        "ticket.epic_by": "repository",
        "ticket.owners": [
            {"repository": "github.com/acme/repo-1", "path": "src/", "assignee": payments_owner},
            {"assignee": everyone}
        ]
    }))
    .await;
    assert_eq!(status, 200, "{body}");

    // Findings 1 and 4 come from repo-1, 2 from repo-2: two epics, made once each.
    let mut keys = Vec::new();
    for i in [1, 4, 2] {
        let id = w.import(i, json!({})).await;
        export(&w, &id, json!({"project": "APP"})).await;
        assert_eq!(job_state(&w, &id).await["state"], "done");
        let key = w.get_finding(&id).await["jira"]["issue_key"]
            .as_str()
            .unwrap()
            .to_owned();
        keys.push(w.double.issue("acme", &key).unwrap());
    }
    let parent = |i: &Value| i["fields"]["parent"]["key"].as_str().unwrap().to_owned();
    assert_eq!(
        parent(&keys[0]),
        parent(&keys[1]),
        "one epic per repository"
    );
    assert_ne!(parent(&keys[0]), parent(&keys[2]));
    let epic = w.double.issue("acme", &parent(&keys[0])).unwrap();
    assert_eq!(epic["fields"]["issuetype"]["name"], "Epic");
    assert_eq!(
        epic["fields"]["summary"],
        "Security findings in github.com/acme/repo-1"
    );
    assert_eq!(
        keys[0]["fields"]["assignee"]["accountId"],
        payments_owner.as_str()
    );
    assert_eq!(
        keys[2]["fields"]["assignee"]["accountId"],
        everyone.as_str()
    );
    let epics = w
        .double
        .issue_keys("acme")
        .into_iter()
        .filter(|k| w.double.issue("acme", k).unwrap()["fields"]["issuetype"]["name"] == "Epic")
        .count();
    assert_eq!(epics, 2);

    // Someone deletes repo-1's epic: the next ticket gets a new one, and says so.
    let gone = parent(&keys[0]);
    w.double.delete_issue("acme", &gone, &w.user).unwrap();
    let id = w.import(7, json!({})).await;
    export(&w, &id, json!({"project": "APP"})).await;
    let job = job_state(&w, &id).await;
    assert_eq!(job["state"], "done", "{job}");
    assert!(
        job["outcome"]
            .as_str()
            .unwrap()
            .contains(&format!("Jira refused the epic {gone}")),
        "{job}"
    );
    let key = w.get_finding(&id).await["jira"]["issue_key"]
        .as_str()
        .unwrap()
        .to_owned();
    let issue = w.double.issue("acme", &key).unwrap();
    let new_epic = parent(&issue);
    assert_ne!(new_epic, gone);
    assert_eq!(
        w.double.issue("acme", &new_epic).unwrap()["fields"]["summary"],
        "Security findings in github.com/acme/repo-1"
    );

    // Auto-tickets go under their repository's epic too.
    let (status, body) = put_settings(
        &w,
        json!({"ticket.project": "APP", "ticket.min_severity": "high"}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let auto = w.import(10, json!({"severity": "critical"})).await;
    let jobs = w
        .app
        .wait_until(
            &w.t.key,
            &format!("/api/v1/jobs?finding_id={auto}&kind=auto_ticket"),
            20,
            |b| b["jobs"][0]["state"] == "done" || b["jobs"][0]["state"] == "failed",
        )
        .await;
    assert_eq!(jobs["jobs"][0]["state"], "done", "{jobs}");
    let key = w.get_finding(&auto).await["jira"]["issue_key"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(parent(&w.double.issue("acme", &key).unwrap()), new_epic);
}

/// The status category of the issue `key` in the double (`new`, `indeterminate`, `done`).
fn category(w: &JiraWorld, key: &str) -> String {
    w.double.status_of("acme", key).unwrap().1
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn findings_of_one_vulnerability_share_a_ticket_that_closes_when_all_do() {
    let w = JiraWorld::start(|_| {}).await;
    let (status, body) = put_settings(&w, json!({"ticket.group_by": "cve"})).await;
    assert_eq!(status, 422, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("none, vulnerability, rule or package"),
        "{body}"
    );
    let (status, body) = put_settings(&w, json!({"ticket.group_by": "vulnerability"})).await;
    assert_eq!(status, 200, "{body}");

    // Three findings of Log4Shell (one spelled in lower case), one of another CVE, one with
    // none: exported at once, they make three tickets.
    let log4j = |i: usize, id: &str| {
        json!({"vulnerability_ids": [id, "CVE-2021-45046"], "package": "maven:log4j-core", "rule_id": "log4shell"})
            .as_object()
            .map(|o| {
                let mut o = o.clone();
                o.insert("title".into(), json!(format!("Log4Shell in service {i}")));
                Value::Object(o)
            })
            .unwrap()
    };
    let mut grouped = Vec::new();
    for (i, id) in [
        (30, "CVE-2021-44228"),
        (31, "cve-2021-44228"),
        (32, "CVE-2021-44228"),
    ] {
        grouped.push(w.import(i, log4j(i, id)).await);
    }
    let other = w
        .import(33, json!({"vulnerability_ids": ["CVE-2022-22965"]}))
        .await;
    let alone = w.import(34, json!({})).await;
    let f = w.get_finding(&grouped[1]).await;
    assert_eq!(
        f["vulnerability_ids"],
        json!(["CVE-2021-44228", "CVE-2021-45046"])
    );
    assert_eq!(f["package"], "maven:log4j-core");
    for id in grouped.iter().chain([&other, &alone]) {
        export(&w, id, json!({"project": "APP"})).await;
    }
    w.settled(30).await;
    let key_of = |f: &Value| f["jira"]["issue_key"].as_str().unwrap().to_owned();
    let mut keys = Vec::new();
    for id in &grouped {
        let f = w.get_finding(id).await;
        assert_eq!(f["jira"]["group"], "vulnerability:CVE-2021-44228", "{f}");
        keys.push(key_of(&f));
    }
    assert!(keys.iter().all(|k| *k == keys[0]), "{keys:?}");
    let group_key = keys[0].clone();
    let other_key = key_of(&w.get_finding(&other).await);
    let alone_key = key_of(&w.get_finding(&alone).await);
    assert!(other_key != group_key && alone_key != group_key && other_key != alone_key);
    assert!(w.get_finding(&alone).await["jira"]["group"].is_null());
    assert_eq!(w.double.issue_keys("acme").len(), 3);
    // The group's ticket lists its findings (kept up to date as they joined).
    let ticket = w.double.issue("acme", &group_key).unwrap();
    assert_eq!(ticket["fields"]["summary"], "CVE-2021-44228: 3 findings");
    let text = description_text(&ticket);
    for i in [30, 31, 32] {
        assert!(
            text.contains(&format!("Log4Shell in service {i}")),
            "{text}"
        );
    }
    assert!(
        ticket["fields"]["labels"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l.as_str().unwrap().starts_with("verdict-group-")),
        "{ticket}"
    );

    // A finding found later joins the open ticket.
    let late = w.import(35, log4j(35, "CVE-2021-44228")).await;
    export(&w, &late, json!({"project": "APP"})).await;
    w.settled(30).await;
    assert_eq!(key_of(&w.get_finding(&late).await), group_key);
    let job = job_state(&w, &late).await;
    assert!(
        job["outcome"]
            .as_str()
            .unwrap()
            .contains(&format!("added to {group_key}")),
        "{job}"
    );
    let ticket = w.double.issue("acme", &group_key).unwrap();
    assert_eq!(ticket["fields"]["summary"], "CVE-2021-44228: 4 findings");
    assert!(description_text(&ticket).contains("Log4Shell in service 35"));
    grouped.push(late);

    // Three of four resolved in Verdict: the ticket stays open, and reconciliation agrees.
    for id in &grouped[..3] {
        let (s, body) = w
            .app
            .patch(
                &w.t.key,
                &format!("/api/v1/findings/{id}"),
                &json!({"status": "resolved", "reason": "upgraded log4j"}),
            )
            .await;
        assert_eq!(s, 200, "{body}");
    }
    w.settled(30).await;
    assert_eq!(category(&w, &group_key), "new");
    let report = verdict_server::sync::reconcile::run(
        &w.app.app_state,
        &verdict_server::sync::reconcile::Options {
            mode: verdict_server::sync::reconcile::Mode::Reconcile,
            tenant: Some(w.t.id.clone()),
            project: None,
            since: None,
            only_open: false,
            dry_run: true,
        },
    )
    .await
    .unwrap();
    assert_eq!(
        report.summary.in_sync, report.summary.checked,
        "{:?}",
        report.rows
    );
    // The last one resolved: the ticket is done.
    w.app
        .patch(
            &w.t.key,
            &format!("/api/v1/findings/{}", grouped[3]),
            &json!({"status": "resolved", "reason": "upgraded log4j"}),
        )
        .await;
    w.settled(30).await;
    assert_eq!(category(&w, &group_key), "done");

    // A new finding of a group whose ticket is done starts a new ticket.
    let again = w.import(36, log4j(36, "CVE-2021-44228")).await;
    export(&w, &again, json!({"project": "APP"})).await;
    w.settled(30).await;
    let new_key = key_of(&w.get_finding(&again).await);
    assert_ne!(new_key, group_key);
    assert_eq!(
        w.double.issue("acme", &new_key).unwrap()["fields"]["summary"],
        "CVE-2021-44228: 1 finding"
    );

    // People reopen the old ticket: its four findings are open again; they close it, and the
    // closure is decided for each finding, each with its own audit event.
    w.double
        .transition("acme", &group_key, "Reopen", None, &w.user)
        .unwrap();
    w.settled(30).await;
    for id in &grouped {
        assert_eq!(w.get_finding(id).await["status"], "open", "{id}");
    }
    w.double
        .transition("acme", &group_key, "Done", None, &w.user)
        .unwrap();
    w.settled(30).await;
    for id in &grouped {
        assert_eq!(w.get_finding(id).await["status"], "resolved", "{id}");
        let events = w.events(id).await;
        let last = events
            .iter()
            .rev()
            .find(|e| e["kind"] == "status_changed")
            .unwrap();
        assert_eq!(last["actor"]["id"], w.user.as_str(), "{last}");
        assert_eq!(last["source"], "jira_webhook", "{last}");
    }
    // The finding in the newer ticket was not touched.
    assert_eq!(w.get_finding(&again).await["status"], "open");
    w.app.stop().await;
}

/// The auto-ticket example (contract 1.3.0) sets a "Team" select from `team.<repository>` and
/// groups every finding of a package, across repositories, into one ticket.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ticketing_rule_adds_fields_and_chooses_the_group() {
    let w = JiraWorld::start(|_| {}).await;
    let team = w.double.add_custom_field(
        "acme",
        "Team",
        jira_double::model::CustomKind::Select(vec!["Payments".into(), "Platform".into()]),
    );
    w.double.put_on_screen("acme", "APP", &team, true);
    let uploaded = w
        .app
        .activate_new_rule(
            &w.t.key,
            "auto-ticket",
            "name=auto-ticket",
            verdict_e2e::rule_wasm("auto-ticket"),
        )
        .await;
    assert_eq!(uploaded["contract_version"], "1.3.0", "{uploaded}");
    let (status, body) = put_settings(
        &w,
        json!({
            "ticket.project": "APP",
            "ticket.auto": "true",
            "auto.team_field": "Team",
            "auto.group": "package",
            "auto.epic_by": "team",
            // Team is required of every issue type in APP, epics included.
            "ticket.fields.APP.Epic": {"Team": "Platform"},
            "team.github.com/acme/repo-1": "Payments",
            "team.github.com/acme/repo-2": "Platform",
        }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    // Two critical lodash findings in two repositories (repo-1's first), one critical finding
    // without a package.
    let mut ids = Vec::new();
    for (i, extra) in [
        (
            1,
            json!({"severity": "critical", "score": 9.8, "package": "npm:lodash"}),
        ),
        (
            2,
            json!({"severity": "critical", "score": 9.8, "package": "npm:lodash"}),
        ),
        (4, json!({"severity": "critical", "score": 9.8})),
    ] {
        ids.push(w.import(i, extra).await);
        w.settled(30).await;
    }
    let mut keys = Vec::new();
    for id in &ids {
        let f = w.get_finding(id).await;
        keys.push(
            f["jira"]["issue_key"]
                .as_str()
                .unwrap_or_else(|| panic!("{f}"))
                .to_owned(),
        );
    }
    assert_eq!(keys[0], keys[1], "one ticket for the package");
    assert_ne!(keys[0], keys[2]);
    assert_eq!(
        w.get_finding(&ids[0]).await["jira"]["group"],
        "custom:package npm:lodash"
    );
    let grouped = w.double.issue("acme", &keys[0]).unwrap();
    assert_eq!(
        grouped["fields"]["summary"],
        "package npm:lodash: 2 findings"
    );
    // The Team of the finding that started the ticket (repo-1), as a select value.
    assert_eq!(grouped["fields"][&team]["value"], "Payments", "{grouped}");
    let alone = w.double.issue("acme", &keys[2]).unwrap();
    assert_eq!(alone["fields"][&team]["value"], "Payments", "{alone}");
    // Both under the Payments epic the rule named, made once.
    let epic = grouped["fields"]["parent"]["key"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(alone["fields"]["parent"]["key"], epic.as_str());
    assert_eq!(
        w.double.issue("acme", &epic).unwrap()["fields"]["summary"],
        "Security findings in Payments"
    );
    w.app.stop().await;
}

/// A group's first export that fails gives the group up: the group's other exports do
/// not wait for it. An export may bring its own fields, group and epic key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_group_export_does_not_hold_up_the_group() {
    let w = JiraWorld::start(|_| {}).await;
    let team = w
        .double
        .add_custom_field("acme", "Team", jira_double::model::CustomKind::Text);
    w.double.put_on_screen("acme", "APP", &team, true);
    let (status, body) = put_settings(&w, json!({"ticket.group_by": "rule"})).await;
    assert_eq!(status, 200, "{body}");
    let ids = [
        w.import(40, json!({"rule_id": "java.spring.csrf-disabled"}))
            .await,
        w.import(41, json!({"rule_id": "java.spring.csrf-disabled"}))
            .await,
    ];
    for id in &ids {
        export(&w, id, json!({"project": "APP"})).await;
    }
    for id in &ids {
        let job = job_state(&w, id).await;
        assert_eq!(job["state"], "failed", "{job}");
        assert!(
            job["last_error"]
                .as_str()
                .unwrap()
                .contains("requires Team"),
            "{job}"
        );
    }
    // The export itself may bring the fields, a group of its own and an epic key; what the
    // API can check is checked before anything is queued.
    for (bad, why) in [
        (
            json!({"project": "APP", "fields": {"Summary": "x"}}),
            "filled by Verdict",
        ),
        (json!({"project": "APP", "fields": {"Team": null}}), "null"),
        (json!({"project": "APP", "group": " "}), "group"),
        (
            json!({"project": "APP", "epic_key": "x".repeat(201)}),
            "epic_key",
        ),
    ] {
        let (status, body) = w
            .app
            .post(
                &w.t.key,
                &format!("/api/v1/findings/{}/export", ids[0]),
                &bad,
            )
            .await;
        assert_eq!(status, 422, "{bad} → {body}");
        assert!(
            body["error"]["message"].as_str().unwrap().contains(why),
            "{body}"
        );
    }
    let (status, body) =
        put_settings(&w, json!({"ticket.fields.APP.Epic": {"Team": "AppSec"}})).await;
    assert_eq!(status, 200, "{body}");
    let fixed = json!({"project": "APP", "fields": {"Team": "AppSec"}, "group": "csrf-fixes", "epic_key": "Web"});
    for id in &ids {
        let (status, body) = w
            .app
            .post(&w.t.key, &format!("/api/v1/findings/{id}/export"), &fixed)
            .await;
        assert_eq!(status, 202, "{body}");
    }
    w.settled(30).await;
    let a = w.get_finding(&ids[0]).await;
    let b = w.get_finding(&ids[1]).await;
    assert_eq!(a["jira"]["issue_key"], b["jira"]["issue_key"], "{a} {b}");
    assert_eq!(a["jira"]["group"], "custom:csrf-fixes");
    let ticket = w
        .double
        .issue("acme", a["jira"]["issue_key"].as_str().unwrap())
        .unwrap();
    assert_eq!(ticket["fields"][&team], "AppSec", "{ticket}");
    assert_eq!(ticket["fields"]["summary"], "csrf-fixes: 2 findings");
    let epic = ticket["fields"]["parent"]["key"].as_str().unwrap();
    assert_eq!(
        w.double.issue("acme", epic).unwrap()["fields"]["summary"],
        "Security findings in Web"
    );
    w.app.stop().await;
}
