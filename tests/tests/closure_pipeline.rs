//! The closure pipeline against the Jira double: people act in Jira, the double sends real
//! signed webhooks, Verdict stores, processes (re-reading Jira and Confluence, asking the
//! rule) and the finding follows, with its audit trail.

use std::time::Duration;

use jira_double::{DeliveryKnobs, JiraDouble};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};
use verdict_e2e::{JiraWorld, TestApp, TestTenant, finding, rule_wasm, wont_do_citing};
use verdict_server::store::entities::{decisions, ticket_comments, webhook_deliveries};

struct World {
    double: JiraDouble,
    app: TestApp,
    t: TestTenant,
    user: String,
}

async fn world() -> World {
    let JiraWorld {
        double,
        app,
        t,
        user,
    } = JiraWorld::start(|_| {}).await;
    World {
        double,
        app,
        t,
        user,
    }
}

impl World {
    /// Imports finding `i`, files a ticket for it in `project` as a person would, and links them.
    async fn linked(&self, i: usize, project: &str) -> (String, String) {
        let (status, body) = self
            .app
            .post(&self.t.key, "/api/v1/findings", &finding(i, 1))
            .await;
        assert!(status == 201 || status == 200, "{body}");
        let id = body["finding"]["id"].as_str().unwrap().to_owned();
        let key = self
            .double
            .create_issue(
                "acme",
                &self.user,
                json!({"project": {"key": project}, "issuetype": {"name": "Bug"},
                       "summary": format!("Finding {i}"), "description": "from the scanner"}),
            )
            .unwrap();
        let r = self
            .app
            .client
            .put(self.app.url(&format!("/api/v1/findings/{id}/jira-link")))
            .bearer_auth(&self.t.key)
            .json(&json!({"issue": key}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
        (id, key)
    }

    async fn status_becomes(&self, id: &str, want: &str) -> Value {
        self.app
            .wait_until(&self.t.key, &format!("/api/v1/findings/{id}"), 15, |b| {
                b["status"] == want
            })
            .await
    }

    async fn events(&self, id: &str) -> Vec<Value> {
        let (_, body) = self
            .app
            .get(&self.t.key, &format!("/api/v1/findings/{id}/events"))
            .await;
        body["events"].as_array().cloned().unwrap_or_default()
    }

    /// Waits until every delivery Verdict stored is finished (done/ignored).
    async fn settled(&self) {
        // Outbound jobs cause webhooks and webhooks cause jobs: settle both, twice.
        for _ in 0..2 {
            self.settled_once().await;
            self.app.outbox_idle(15).await;
        }
        self.settled_once().await;
    }

    async fn settled_once(&self) {
        assert!(
            self.double
                .wait_for_deliveries(Duration::from_secs(15))
                .await
        );
        let deadline = std::time::Instant::now() + Duration::from_secs(15);
        loop {
            let pending = webhook_deliveries::Entity::find()
                .filter(webhook_deliveries::Column::State.is_in(["pending", "processing"]))
                .all(self.app.app_state.store().db())
                .await
                .unwrap();
            if pending.is_empty() {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "deliveries still pending: {:?}",
                pending
                    .iter()
                    .map(|p| (&p.event, &p.outcome))
                    .collect::<Vec<_>>()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_triage_stories() {
    let w = world().await;
    let u = w.user.clone();

    // Done → Resolved, with the closer as actor.
    let (done_id, done_key) = w.linked(1, "APP").await;
    w.double
        .transition("acme", &done_key, "Done", None, &u)
        .unwrap();
    w.status_becomes(&done_id, "resolved").await;
    let ev = w.events(&done_id).await;
    let change = ev.iter().find(|e| e["kind"] == "status_changed").unwrap();
    assert_eq!(change["source"], "jira_webhook");
    assert_eq!(change["actor"]["id"], u.as_str(), "{change}");
    assert!(
        change["reason"]
            .as_str()
            .unwrap()
            .contains("default policy"),
        "{change}"
    );

    // A false-positive comment, then Done → False Positive.
    let (fp_id, fp_key) = w.linked(2, "APP").await;
    w.double
        .comment(
            "acme",
            &fp_key,
            &u,
            "False positive — only in test fixtures.",
        )
        .unwrap();
    w.double
        .transition("acme", &fp_key, "Done", None, &u)
        .unwrap();
    w.status_becomes(&fp_id, "false_positive").await;

    // Conflicting comments → skipped, with the reason on the finding's trail.
    let (conflict_id, conflict_key) = w.linked(3, "APP").await;
    w.double
        .comment(
            "acme",
            &conflict_key,
            &u,
            "False positive, the input is sanitised.",
        )
        .unwrap();
    w.double
        .comment(
            "acme",
            &conflict_key,
            &w.double.site("acme").users[2],
            "No, it is exploitable from the admin form.",
        )
        .unwrap();
    w.double
        .transition("acme", &conflict_key, "Done", None, &u)
        .unwrap();
    w.settled().await;
    let ev = w.events(&conflict_id).await;
    let skipped = ev
        .iter()
        .find(|e| e["kind"] == "skipped")
        .expect("a skipped event");
    assert!(
        skipped["reason"].as_str().unwrap().contains("conflict"),
        "{skipped}"
    );
    let (_, f) = w
        .app
        .get(&w.t.key, &format!("/api/v1/findings/{conflict_id}"))
        .await;
    assert_eq!(f["status"], "open");

    // A comment edited before the close: the edited meaning counts.
    let (edit_id, edit_key) = w.linked(4, "APP").await;
    let c = w
        .double
        .comment("acme", &edit_key, &u, "False positive, only test code.")
        .unwrap();
    w.double
        .edit_comment(
            "acme",
            &edit_key,
            &c,
            &u,
            "Correction: not a false positive. Fixed in 2.4.1.",
        )
        .unwrap();
    w.double
        .transition("acme", &edit_key, "Done", None, &u)
        .unwrap();
    w.status_becomes(&edit_id, "resolved").await;

    // A label edit on a closed ticket changes nothing.
    let before = w.events(&fp_id).await.len();
    w.double
        .edit(
            "acme",
            &fp_key,
            &u,
            json!({"update": {"labels": [{"add": "triaged"}]}}),
        )
        .unwrap();
    w.settled().await;
    assert_eq!(w.events(&fp_id).await.len(), before);
    let (_, f) = w
        .app
        .get(&w.t.key, &format!("/api/v1/findings/{fp_id}"))
        .await;
    assert_eq!(f["status"], "false_positive");

    // Work starting on a ticket (To Do → In Progress) is not a reopen: a finding marked a
    // false positive through the API stays so.
    let (api_id, api_key) = w.linked(5, "APP").await;
    let (status, body) = w
        .app
        .patch(
            &w.t.key,
            &format!("/api/v1/findings/{api_id}"),
            &json!({"status": "false_positive", "reason": "vendored test data"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    w.double
        .transition("acme", &api_key, "In Progress", None, &u)
        .unwrap();
    w.settled().await;
    let (_, f) = w
        .app
        .get(&w.t.key, &format!("/api/v1/findings/{api_id}"))
        .await;
    assert_eq!(f["status"], "false_positive");

    // Reopen in Jira reopens the finding.
    w.double
        .transition("acme", &done_key, "Reopen", None, &u)
        .unwrap();
    w.status_becomes(&done_id, "open").await;

    // Issue deleted: the finding stays, unlinked, with an event.
    w.double.delete_issue("acme", &conflict_key, &u).unwrap();
    w.settled().await;
    let ev = w.events(&conflict_id).await;
    assert!(ev.iter().any(|e| e["kind"] == "unlinked"), "{ev:?}");
    let (_, f) = w
        .app
        .get(&w.t.key, &format!("/api/v1/findings/{conflict_id}"))
        .await;
    assert!(f["jira"].is_null(), "{f}");

    // Every closure left a decision with its full rule input (what replay runs on).
    let rows = decisions::Entity::find()
        .filter(decisions::Column::TenantId.eq(&w.t.id))
        .all(w.app.app_state.store().db())
        .await
        .unwrap();
    assert_eq!(rows.len(), 4, "four closures");
    assert!(rows.iter().all(|r| r.source == "default"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wont_do_with_an_approved_confluence_page_is_accepted_risk() {
    let w = world().await;
    let u = w.user.clone();
    // The example risk-acceptance rule, for the APP project.
    w.app
        .activate_new_rule(
            &w.t.key,
            "risk",
            "name=risk&project=APP",
            rule_wasm("risk-acceptance"),
        )
        .await;
    let (ok_id, ok_key) = w.linked(10, "APP").await;
    let (no_id, no_key) = w.linked(11, "APP").await;
    let (other_id, other_key) = w.linked(12, "APP").await;
    let (far_id, far_key) = w.linked(13, "APP").await;
    // Each page is about one ticket: its key is one of the page's labels.
    w.double.add_space("acme", "SECOPS", "Security operations");
    let approved = w.double.add_page(
        "acme",
        "SECOPS",
        "Risk acceptance: legacy XML parser",
        &["risk-approved", &ok_key.to_lowercase()],
        "<p>Accepted by the CISO until 2027-06-30.</p>",
    );
    let far_page = w.double.add_page(
        "acme",
        "SECOPS",
        "Risk acceptance: reporting service",
        &["risk-approved", &far_key.to_lowercase()],
        "<p>Accepted by the CISO until 2027-06-30.</p>",
    );
    let draft = w.double.add_page(
        "acme",
        "SECOPS",
        "Risk acceptance draft",
        &["risk-draft", &no_key.to_lowercase()],
        "<p>Not signed yet.</p>",
    );

    let (status, _) = w
        .app
        .put(
            &w.t.key,
            "/api/v1/settings",
            &json!({"settings": {"closure.comment": "true", "risk.expiry_days": "30"}}),
        )
        .await;
    assert_eq!(status, 200);
    wont_do_citing(&w.double, &u, &ok_key, "Risk accepted, see", &approved);
    let f = w.status_becomes(&ok_id, "accepted_risk").await;
    let ev = w.events(&ok_id).await;
    let change = ev.iter().find(|e| e["kind"] == "status_changed").unwrap();
    assert!(
        change["reason"]
            .as_str()
            .unwrap()
            .contains("Risk acceptance: legacy XML parser"),
        "{change}"
    );
    assert_eq!(change["rule"]["id"], "risk", "{change}");
    assert_eq!(f["status"], "accepted_risk");
    // Verdict said on the ticket what it decided (tagged, so it is never read as evidence).
    w.settled().await;
    let said = w.double.comments("acme", &ok_key);
    assert!(
        said.iter().any(|(_, text)| text.starts_with("[Verdict] Verdict marked the finding accepted_risk")),
        "{said:?}"
    );
    // The acceptance runs out after risk.expiry_days: the finding reopens and the ticket hears.
    let reopened = verdict_server::triage::expire_risks(
        &w.app.app_state,
        chrono::Utc::now() + chrono::Duration::days(29),
    )
    .await
    .unwrap();
    assert_eq!(reopened, 0, "not yet");
    let reopened = verdict_server::triage::expire_risks(
        &w.app.app_state,
        chrono::Utc::now() + chrono::Duration::days(31),
    )
    .await
    .unwrap();
    assert_eq!(reopened, 1);
    let (_, f) = w
        .app
        .get(&w.t.key, &format!("/api/v1/findings/{ok_id}"))
        .await;
    assert_eq!(f["status"], "open");
    // The ticket reopens with the reason as its comment, and that transition (Verdict's own)
    // is not read back as a person's decision.
    w.settled().await;
    let said = w.double.comments("acme", &ok_key);
    assert!(
        said.iter().any(|(_, text)| text.contains("expired")),
        "{said:?}"
    );
    assert_eq!(w.double.status_of("acme", &ok_key).unwrap().1, "new");
    let (_, f) = w
        .app
        .get(&w.t.key, &format!("/api/v1/findings/{ok_id}"))
        .await;
    assert_eq!(f["status"], "open");

    // Only a draft page: not accepted, the rule says why.
    wont_do_citing(&w.double, &u, &no_key, "We accept the risk:", &draft);
    w.settled().await;
    let ev = w.events(&no_id).await;
    let skipped = ev.iter().find(|e| e["kind"] == "skipped").expect("skipped");
    assert!(
        skipped["reason"].as_str().unwrap().contains("not labelled"),
        "{skipped}"
    );

    // The attack: anyone who can comment cites an approved page about another ticket. It is
    // not evidence for this one.
    wont_do_citing(&w.double, &u, &other_key, "Risk accepted, see", &approved);
    w.settled().await;
    let ev = w.events(&other_id).await;
    let skipped = ev.iter().find(|e| e["kind"] == "skipped").expect("skipped");
    assert!(
        skipped["reason"]
            .as_str()
            .unwrap()
            .contains(&format!("is not about {other_key}")),
        "{skipped}"
    );
    let (_, f) = w
        .app
        .get(&w.t.key, &format!("/api/v1/findings/{other_id}"))
        .await;
    assert_eq!(f["status"], "open", "the live finding stays open");

    // A link to another site is not followed — Verdict would read that page id from this
    // site's Confluence, a different page — and the decision says so.
    let evil = format!("https://evil.example/wiki/spaces/SECOPS/pages/{far_page}");
    w.double
        .comment("acme", &far_key, &u, &format!("Risk accepted, see {evil}"))
        .unwrap();
    w.double
        .transition("acme", &far_key, "Won't Do", None, &u)
        .unwrap();
    w.settled().await;
    let ev = w.events(&far_id).await;
    assert!(ev.iter().any(|e| e["kind"] == "skipped"), "{ev:?}");
    let decision = decisions::Entity::find()
        .filter(decisions::Column::IssueKey.eq(&far_key))
        .one(w.app.app_state.store().db())
        .await
        .unwrap()
        .unwrap();
    let notes: Vec<String> = serde_json::from_str(decision.notes.as_deref().unwrap()).unwrap();
    assert_eq!(
        notes,
        vec![format!(
            "ignored a link to {evil}: not this site's Confluence"
        )]
    );

    // Genuine, with the ticket named only deep in the page's body (past the 300-character
    // excerpt rules get): the host read the whole body and says the page is about it.
    let (deep_id, deep_key) = w.linked(14, "APP").await;
    let filler = "The parser runs behind the gateway and only reads signed files. ".repeat(8);
    let deep_page = w.double.add_page(
        "acme",
        "SECOPS",
        "Risk acceptance: import service",
        &["risk-approved"],
        &format!("<p>{filler}</p><p>This acceptance covers {deep_key}.</p>"),
    );
    wont_do_citing(&w.double, &u, &deep_key, "Risk accepted, see", &deep_page);
    w.status_becomes(&deep_id, "accepted_risk").await;
    let decision = decisions::Entity::find()
        .filter(decisions::Column::IssueKey.eq(&deep_key))
        .one(w.app.app_state.store().db())
        .await
        .unwrap()
        .unwrap();
    let input: Value = serde_json::from_str(&decision.input).unwrap();
    let page = &input["closure"]["pages"][0];
    assert_eq!(page["references_ticket"], true, "{page}");
    assert!(
        !page["excerpt"].as_str().unwrap().contains(&deep_key),
        "{page}"
    );
    // The attack's decision says what the host saw: a page not about that ticket.
    let decision = decisions::Entity::find()
        .filter(decisions::Column::IssueKey.eq(&other_key))
        .one(w.app.app_state.store().db())
        .await
        .unwrap()
        .unwrap();
    let input: Value = serde_json::from_str(&decision.input).unwrap();
    assert_eq!(input["closure"]["pages"][0]["references_ticket"], false);

    // Replay the rule over the tenant's closures.
    let (status, report) = w
        .app
        .post(
            &w.t.key,
            "/api/v1/rules/risk/versions/1/replay?limit=10",
            &json!({}),
        )
        .await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["total"], 5);
    assert_eq!(report["different"], 0, "{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_pasted_in_comments_are_masked_wherever_verdict_keeps_them() {
    let w = world().await;
    let u = w.user.clone();
    w.app
        .activate_new_rule(&w.t.key, "risk", "name=risk", rule_wasm("risk-acceptance"))
        .await;
    let (id, key) = w.linked(20, "APP").await;
    w.double.add_space("acme", "SECOPS", "Security operations");
    let page = w.double.add_page(
        "acme",
        "SECOPS",
        &format!("Risk acceptance {key}: legacy XML parser"),
        &["risk-approved"],
        "<p>Accepted by the CISO. Deploy token ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789.</p>",
    );
    let secrets = [
        "AKIAIOSFODNN7EXAMPLE",
        "hunter2hunter2",
        "ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789",
    ];
    w.double
        .comment(
            "acme",
            &key,
            &u,
            &format!(
                "Risk accepted, see {}. The test account's key was AKIAIOSFODNN7EXAMPLE \
                 (password=hunter2hunter2); both rotated.",
                w.double.page_url("acme", &page)
            ),
        )
        .unwrap();
    w.double
        .transition("acme", &key, "Won't Do", None, &u)
        .unwrap();
    // The page link survived masking: the rule found the page and accepted the risk.
    w.status_becomes(&id, "accepted_risk").await;
    w.settled().await;

    let db = w.app.app_state.store().db();
    let mut kept: Vec<(&str, String)> = Vec::new();
    for c in ticket_comments::Entity::find()
        .filter(ticket_comments::Column::TenantId.eq(&w.t.id))
        .all(db)
        .await
        .unwrap()
    {
        kept.push(("ticket_comments.body", c.body));
    }
    let decided = decisions::Entity::find()
        .filter(decisions::Column::TenantId.eq(&w.t.id))
        .all(db)
        .await
        .unwrap();
    assert_eq!(decided.len(), 1);
    for d in &decided {
        kept.push(("decisions.input", d.input.clone()));
        kept.push(("decisions.output", d.output.clone()));
    }
    for d in webhook_deliveries::Entity::find()
        .filter(webhook_deliveries::Column::TenantId.eq(&w.t.id))
        .all(db)
        .await
        .unwrap()
    {
        kept.push(("webhook_deliveries.body", d.body));
    }
    assert!(
        kept.iter().any(|(_, text)| text.contains("[REDACTED")),
        "{kept:?}"
    );
    for (place, text) in &kept {
        for secret in secrets {
            assert!(!text.contains(secret), "{secret} kept in {place}: {text}");
        }
    }
    let input: Value = serde_json::from_str(&decided[0].input).unwrap();
    let comment = input["closure"]["ticket"]["comments"][0]["body"]
        .as_str()
        .unwrap();
    assert!(comment.contains("[REDACTED:aws-access-key]"), "{comment}");
    assert!(
        comment.contains(&format!("/pages/{page}")),
        "links stay: {comment}"
    );
    assert!(
        input["closure"]["pages"][0]["excerpt"]
            .as_str()
            .unwrap()
            .contains("[REDACTED:github-token]"),
        "{input}"
    );

    // Replay runs on what was kept and decides the same.
    let (status, report) = w
        .app
        .post(&w.t.key, "/api/v1/rules/risk/versions/1/replay", &json!({}))
        .await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(
        (report["total"].as_u64(), report["different"].as_u64()),
        (Some(1), Some(0)),
        "{report}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_rule_makes_the_closure_wait_and_nothing_else_decides_it() {
    let w = world().await;
    let u = w.user.clone();
    w.app
        .activate_new_rule(&w.t.key, "flaky", "name=flaky", rule_wasm("test-panicking"))
        .await;
    let (id, key) = w.linked(20, "APP").await;
    w.double.comment("acme", &key, &u, "panic please").unwrap();
    w.double.transition("acme", &key, "Done", None, &u).unwrap();
    let waiting = verdict_e2e::wait_for_delivery_outcome(
        &w.app,
        &w.t.id,
        "waiting for the tenant's rule",
        20,
    )
    .await;
    assert!(
        waiting.contains("rule flaky@1 could not decide (trap)")
            && waiting.contains("asked to panic"),
        "{waiting}"
    );
    // Not decided, by the rule or by anything else; no decision recorded.
    let (_, f) = w.app.get(&w.t.key, &format!("/api/v1/findings/{id}")).await;
    assert_eq!(f["status"], "open", "{f}");
    let db = w.app.app_state.store().db();
    let rows = decisions::Entity::find()
        .filter(decisions::Column::TenantId.eq(&w.t.id))
        .all(db)
        .await
        .unwrap();
    assert!(rows.is_empty(), "{rows:?}");
    let metrics = w.app.metrics_text().await;
    assert!(
        metrics.contains("verdict_rule_errors_total{code=\"trap\",language=\"rust\"}"),
        "{metrics}"
    );
    assert!(
        metrics.contains("source=\"waiting\",language=\"rust\"}"),
        "{metrics}"
    );
    // The admin sees it waiting, and why.
    let inst = w.double.installation("acme", "io.verdict.jira").unwrap();
    let admin = w.double.site("acme").users[0].clone();
    let token = verdict_e2e::context_token(&inst, &admin, 300);
    let (status, overview) = w
        .app
        .admin(
            reqwest::Method::GET,
            "/overview",
            Some(&format!("JWT {token}")),
            None,
        )
        .await;
    assert_eq!(status, 200, "{overview}");
    assert_eq!(overview["waiting_deliveries_total"], 1, "{overview}");
    assert!(
        overview["waiting_deliveries"][0]["error"]
            .as_str()
            .unwrap()
            .contains("rule flaky@1 could not decide"),
        "{overview}"
    );

    // The tenant fixes its rule (here: takes it away); the waiting closure is decided at its
    // next attempt, by what the tenant now has.
    let (status, _) = w
        .app
        .post(&w.t.key, "/api/v1/rules/flaky/deactivate", &json!({}))
        .await;
    assert_eq!(status, 204);
    let f = w.status_becomes(&id, "resolved").await;
    assert_eq!(f["status"], "resolved");
    let row = decisions::Entity::find()
        .filter(decisions::Column::TenantId.eq(&w.t.id))
        .one(db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.source, "default");
    assert_eq!(row.error_code, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicated_reordered_and_delayed_deliveries_end_the_same() {
    let w = world().await;
    let u = w.user.clone();
    let (a, a_key) = w.linked(30, "APP").await;
    let (b, b_key) = w.linked(31, "APP").await;
    // Held deliveries are released in reverse order, each three times, late.
    w.double.set_delivery(DeliveryKnobs {
        duplicates: 2,
        hold: true,
        delay: Duration::from_millis(30),
        retry_backoff: Duration::from_millis(20),
        ..Default::default()
    });
    // a: closed, reopened, closed again as a false positive. b: closed, then reopened.
    w.double
        .transition("acme", &a_key, "Done", None, &u)
        .unwrap();
    w.double
        .transition("acme", &a_key, "Reopen", None, &u)
        .unwrap();
    w.double
        .comment("acme", &a_key, &u, "False positive: dead code.")
        .unwrap();
    w.double
        .transition("acme", &a_key, "Won't Do", None, &u)
        .unwrap();
    w.double
        .transition("acme", &b_key, "Done", None, &u)
        .unwrap();
    w.double
        .transition("acme", &b_key, "Reopen", None, &u)
        .unwrap();
    w.double.release_held(true);
    w.settled().await;
    let (_, fa) = w.app.get(&w.t.key, &format!("/api/v1/findings/{a}")).await;
    let (_, fb) = w.app.get(&w.t.key, &format!("/api/v1/findings/{b}")).await;
    assert_eq!(fa["status"], "false_positive", "{fa}");
    assert_eq!(fb["status"], "open", "{fb}");
    // Each stored once.
    let stored = webhook_deliveries::Entity::find()
        .all(w.app.app_state.store().db())
        .await
        .unwrap();
    let mut ids: Vec<_> = stored.iter().map(|d| d.identifier.clone()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), stored.len());
}

/// The same change arriving a second way — another identifier, another event time, the same
/// changelog id (as a Connect webhook and a Forge event of one change do while a site moves to
/// the Forge app) — is not decided again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_change_by_another_route_is_applied_once() {
    let w = world().await;
    let (id, key) = w.linked(40, "APP").await;
    w.double
        .transition("acme", &key, "Done", None, &w.user)
        .unwrap();
    w.status_becomes(&id, "resolved").await;
    w.settled().await;
    let closes = w
        .double
        .deliveries()
        .into_iter()
        .find(|d| d.event == "jira:issue_updated" && d.body.to_string().contains(&key))
        .expect("the close was delivered");
    let mut again = closes.body.clone();
    again["timestamp"] = json!(again["timestamp"].as_i64().unwrap() + 5_000);
    let inst = w.double.installation("acme", "io.verdict.jira").unwrap();
    let url = w.app.url("/connect/webhooks/jira");
    let token = jira_double::webhooks::connect_jwt_for_app(
        &inst.client_key,
        &inst.shared_secret,
        &w.app.url(""),
        "POST",
        &url,
        chrono::Utc::now().timestamp(),
    );
    let r = w
        .app
        .client
        .post(&url)
        .header("Authorization", format!("JWT {token}"))
        .header("X-Atlassian-Webhook-Identifier", "another-route-1")
        .json(&again)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    w.settled().await;
    let db = w.app.app_state.store().db();
    let stored = webhook_deliveries::Entity::find()
        .filter(webhook_deliveries::Column::Identifier.eq("another-route-1"))
        .one(db)
        .await
        .unwrap()
        .unwrap();
    assert!(
        stored
            .outcome
            .as_deref()
            .unwrap_or("")
            .contains("already applied")
            || stored.outcome.as_deref().unwrap_or("").contains("stale"),
        "{:?}",
        stored.outcome
    );
    let closures = decisions::Entity::find()
        .filter(decisions::Column::FindingId.eq(id.as_str()))
        .filter(decisions::Column::Kind.eq("closure"))
        .all(db)
        .await
        .unwrap();
    assert_eq!(closures.len(), 1, "decided once");
}

/// Closures that fixed nothing — a duplicate, a move, a clean-up, "cannot reproduce" — leave
/// the finding open with the reason on its trail, even as Done;
/// `closure.not_fixed = ignore` restores reading them as saying nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closures_that_fixed_nothing_leave_the_finding_open() {
    let w = world().await;
    let u = w.user.clone();
    let cases: [(&str, &str); 6] = [
        ("Duplicate of SEC-1442, closing this one.", "Done"),
        ("Moved to the platform team's backlog (PLAT-220).", "Done"),
        ("Backlog cleanup: closing old tickets.", "Done"),
        ("Cannot reproduce on the current build.", "Done"),
        ("Ticket verschoben nach INFRA-22.", "Done"),
        ("Duplicado de SEC-77.", "Won't Do"),
    ];
    let mut ids = Vec::new();
    for (i, (comment, transition)) in cases.iter().enumerate() {
        let (id, key) = w.linked(10 + i, "APP").await;
        w.double.comment("acme", &key, &u, comment).unwrap();
        w.double
            .transition("acme", &key, transition, None, &u)
            .unwrap();
        ids.push((id, *comment));
    }
    w.settled().await;
    for (id, comment) in &ids {
        let (_, f) = w.app.get(&w.t.key, &format!("/api/v1/findings/{id}")).await;
        assert_eq!(f["status"], "open", "{comment}: {f}");
        let ev = w.events(id).await;
        let skipped = ev
            .iter()
            .find(|e| e["kind"] == "skipped")
            .unwrap_or_else(|| panic!("{comment}: no skipped event in {ev:?}"));
        assert!(
            skipped["reason"].as_str().unwrap().contains("not fixed"),
            "{comment}: {skipped}"
        );
    }
    let rows = decisions::Entity::find()
        .filter(decisions::Column::TenantId.eq(&w.t.id))
        .all(w.app.app_state.store().db())
        .await
        .unwrap();
    assert_eq!(rows.len(), cases.len());
    assert!(
        rows.iter().all(|r| r.outcome.as_deref() == Some("skip")),
        "{rows:?}"
    );

    // A value the policy cannot read is refused, not stored and ignored.
    let (status, body) = w
        .app
        .put(
            &w.t.key,
            "/api/v1/settings",
            &json!({"settings": {"closure.not_fixed": "resolve"}}),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("`skip` or `ignore`"),
        "{body}"
    );
    // The tenant chooses the old reading: a duplicate closed as Done is Resolved.
    let (status, body) = w
        .app
        .put(
            &w.t.key,
            "/api/v1/settings",
            &json!({"settings": {"closure.not_fixed": "ignore"}}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (id, key) = w.linked(20, "APP").await;
    w.double
        .comment("acme", &key, &u, "Duplicate of SEC-1442.")
        .unwrap();
    w.double.transition("acme", &key, "Done", None, &u).unwrap();
    w.status_becomes(&id, "resolved").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closed_accounts_are_reported_to_atlassian_and_pseudonymised_everywhere() {
    use verdict_server::tenants::privacy;
    let w = world().await;
    let u = w.user.clone();
    let (id, key) = w.linked(22, "APP").await;
    w.double
        .comment(
            "acme",
            &key,
            &u,
            "Fixed in release 4.2: input is now escaped.",
        )
        .unwrap();
    w.double.transition("acme", &key, "Done", None, &u).unwrap();
    w.status_becomes(&id, "resolved").await;
    w.settled().await;

    // Older comments by 95 other people: more than one report request (90 accounts at most).
    let db = w.app.app_state.store().db();
    let then = chrono::Utc::now() - chrono::Duration::days(30);
    for i in 0..95 {
        ticket_comments::ActiveModel {
            tenant_id: Set(w.t.id.clone()),
            issue_id: Set("10001".into()),
            comment_id: Set(format!("9{i:04}")),
            author: Set(format!("5b10ac8d82e05b22cc7d{i:04}")),
            body: Set("seen".into()),
            created: Set(then.timestamp_millis()),
            updated: Set(then.timestamp_millis()),
            deleted: Set(false),
        }
        .insert(db)
        .await
        .unwrap();
    }
    let moved = "5b10ac8d82e05b22cc7d0003";
    w.double.close_account("acme", &u);
    w.double.change_profile("acme", moved, chrono::Utc::now());

    // The triager's id, name and e-mail are kept (the deliveries carry Jira's user objects).
    let before = verdict_server::tenants::data::export(db, &w.t.id)
        .await
        .unwrap()
        .to_string();
    assert!(before.contains(&u) && before.contains("Tri Ager"));

    // A week on (the app's own sweep may have reported the new site at start-up, empty).
    let now = chrono::Utc::now() + chrono::Duration::days(8);
    let week = chrono::Duration::days(7);
    let done = privacy::sweep(&w.app.app_state, week, now).await.unwrap();
    assert_eq!(done.len(), 1, "{done:?}");
    let (tenant, report) = &done[0];
    assert_eq!(tenant, &w.t.id);
    assert_eq!((report.accounts, report.requests), (96, 2), "{report:?}");
    assert_eq!(report.closed, vec![u.clone()]);
    assert_eq!(report.updated, vec![moved.to_owned()]);
    let sent = w.double.account_reports("acme");
    assert_eq!(sent.iter().map(Vec::len).collect::<Vec<_>>(), vec![90, 6]);
    assert!(sent.concat().contains(&u));

    // The closed account is gone from everything kept for the tenant, name and e-mail too.
    let alias = privacy::pseudonym(&w.t.id, &u);
    let kept = verdict_server::tenants::data::export(db, &w.t.id)
        .await
        .unwrap()
        .to_string();
    assert!(!kept.contains(&u), "the closed account id is still stored");
    assert!(!kept.contains("Tri Ager") && !kept.contains("triager@example.com"));
    assert!(kept.contains(&alias));
    let (_, events) = w
        .app
        .get(&w.t.key, &format!("/api/v1/findings/{id}/events"))
        .await;
    assert!(events.to_string().contains(&alias), "{events}");

    // Reported this cycle: nothing until the next; then only the accounts still stored.
    assert!(
        privacy::sweep(&w.app.app_state, week, now)
            .await
            .unwrap()
            .is_empty()
    );
    let later = privacy::sweep(&w.app.app_state, week, now + chrono::Duration::days(8))
        .await
        .unwrap();
    assert_eq!(later[0].1.accounts, 95);
    assert!(
        !w.double
            .account_reports("acme")
            .last()
            .unwrap()
            .contains(&u)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_acceptance_date_in_the_thread_ends_the_accepted_risk() {
    use verdict_server::store::entities::risk_expiries;
    let w = world().await;
    let u = w.user.clone();
    let (id, key) = w.linked(1, "SEC").await;
    let until = (chrono::Utc::now() + chrono::Duration::days(200)).date_naive();
    w.double
        .comment(
            "acme",
            &key,
            &u,
            &format!(
                "We accept the risk until {until}: the WAF rule blocks the payload while the \
                 vendor ships a fix."
            ),
        )
        .unwrap();
    w.double
        .transition("acme", &key, "Accept risk", Some("Known Risk"), &u)
        .unwrap();
    w.status_becomes(&id, "accepted_risk").await;
    let ev = w.events(&id).await;
    let change = ev.iter().find(|e| e["kind"] == "status_changed").unwrap();
    assert!(
        change["reason"]
            .as_str()
            .unwrap()
            .contains(&format!("accepted until {until}, as the thread says")),
        "{change}"
    );
    let expiry = risk_expiries::Entity::find_by_id(id.clone())
        .one(w.app.app_state.store().db())
        .await
        .unwrap()
        .expect("an expiry");
    assert_eq!(
        expiry.expires_at.date_naive(),
        until,
        "not the 90-day default"
    );
}
