//! `verdict reconcile` against a site where 10 % of the tickets drifted from their findings
//! (lost webhooks, lost outbound moves): dry run, reconcile (newer side wins), push, import,
//! and a filter that matches nothing.

use jira_double::DeliveryKnobs;
use serde_json::json;
use verdict_e2e::JiraWorld;
use verdict_server::findings::{Actor, EventSource, StatusChange};
use verdict_server::sync::reconcile::{self, Action, Mode, Options, OutputFormat, ReconcileError};

fn opts(mode: Mode, dry_run: bool) -> Options {
    Options {
        mode,
        tenant: None,
        project: Some("APP".into()),
        since: None,
        only_open: false,
        dry_run,
    }
}

/// A change made in Verdict whose move to Jira was lost (recorded as if it came from Jira,
/// so no outbound job follows it).
async fn lost_outbound(w: &JiraWorld, id: &str, to: rules_sdk::FindingStatus) {
    w.app
        .app_state
        .findings()
        .change_status(
            &w.t.id,
            id,
            StatusChange {
                to,
                reason: Some("changed while the outbox was lost".into()),
                actor: Actor::System("test".into()),
                source: EventSource::JiraWebhook,
                rule: None,
                bulk_id: None,
            },
        )
        .await
        .unwrap();
}

/// A person's change in Jira whose webhook never arrived.
fn lost_webhook(w: &JiraWorld, key: &str, transition: &str) {
    w.double.set_delivery(DeliveryKnobs {
        hold: true,
        ..Default::default()
    });
    w.double
        .transition("acme", key, transition, None, &w.user)
        .unwrap();
    w.double.set_delivery(DeliveryKnobs::default());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconcile_push_import_and_dry_run_on_a_drifted_site() {
    let w = JiraWorld::start(|_| {}).await;
    let mut pairs = Vec::new();
    for i in 0..20 {
        let id = w.import(100 + i, json!({})).await;
        let (s, _) = w
            .app
            .post(
                &w.t.key,
                &format!("/api/v1/findings/{id}/export"),
                &json!({"project": "APP"}),
            )
            .await;
        assert_eq!(s, 202);
        pairs.push(id);
    }
    w.settled(30).await;
    let mut keys = Vec::new();
    for id in &pairs {
        keys.push(
            w.get_finding(id).await["jira"]["issue_key"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    let state = &w.app.app_state;

    // 10 % drift: one ticket closed in Jira without its webhook, one finding changed in
    // Verdict without its move.
    lost_webhook(&w, &keys[3], "Done");
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    lost_outbound(&w, &pairs[7], rules_sdk::FindingStatus::FalsePositive).await;

    let dry = reconcile::run(state, &opts(Mode::Reconcile, true))
        .await
        .unwrap();
    assert_eq!(
        (dry.summary.checked, dry.summary.in_sync),
        (20, 18),
        "{dry:?}"
    );
    let row = |r: &reconcile::Report, key: &str| {
        r.rows.iter().find(|x| x.issue_key == key).unwrap().clone()
    };
    assert_eq!(row(&dry, &keys[3]).action, Action::Import);
    assert_eq!(row(&dry, &keys[7]).action, Action::Push);
    assert_eq!(row(&dry, &keys[7]).result, "dry run");
    assert_eq!(
        w.double.status_of("acme", &keys[7]).unwrap().1,
        "new",
        "dry run changed nothing"
    );
    assert_eq!(w.get_finding(&pairs[3]).await["status"], "open");
    let table = reconcile::render(&dry, OutputFormat::Table);
    assert!(table.contains("20 checked: 18 in sync, 1 to push, 1 to import, 0 skipped, 0 failed (dry run: nothing changed)"), "{table}");

    // Reconcile: the newer side wins each time.
    let done = reconcile::run(state, &opts(Mode::Reconcile, false))
        .await
        .unwrap();
    assert_eq!(
        (
            done.summary.pushed,
            done.summary.imported,
            done.summary.failed
        ),
        (1, 1, 0),
        "{done:?}"
    );
    assert_eq!(
        w.get_finding(&pairs[3]).await["status"],
        "resolved",
        "Done in Jira, decided by the closure policy"
    );
    assert_eq!(w.double.status_of("acme", &keys[7]).unwrap().0, "Won't Do");
    w.settled(30).await;
    let again = reconcile::run(state, &opts(Mode::Reconcile, false))
        .await
        .unwrap();
    assert_eq!(again.summary.in_sync, 20, "converged: {again:?}");

    // Push: tickets follow findings, whichever side changed last.
    lost_webhook(&w, &keys[11], "Done");
    lost_outbound(&w, &pairs[12], rules_sdk::FindingStatus::AcceptedRisk).await;
    let pushed = reconcile::run(state, &opts(Mode::Push, false))
        .await
        .unwrap();
    assert_eq!(pushed.summary.pushed, 2, "{pushed:?}");
    assert_eq!(
        w.double.status_of("acme", &keys[11]).unwrap().1,
        "new",
        "the open finding reopens its ticket"
    );
    assert_eq!(w.double.status_of("acme", &keys[12]).unwrap().0, "Won't Do");
    assert_eq!(w.get_finding(&pairs[11]).await["status"], "open");
    w.settled(30).await;

    // Import: findings follow tickets.
    lost_webhook(&w, &keys[15], "Won't Do");
    lost_outbound(&w, &pairs[16], rules_sdk::FindingStatus::Resolved).await;
    let imported = reconcile::run(state, &opts(Mode::Import, false))
        .await
        .unwrap();
    assert_eq!(
        imported.summary.imported + imported.summary.skipped,
        2,
        "{imported:?}"
    );
    assert_eq!(
        w.get_finding(&pairs[16]).await["status"],
        "open",
        "its ticket is still To Do"
    );
    // Won't Do without any comment: the precision-first policy does not guess FP or AR.
    let r15 = row(&imported, &keys[15]);
    assert_eq!(r15.action, Action::Import);
    assert!(
        r15.result.starts_with("skipped:") || r15.result.starts_with("ok:"),
        "{r15:?}"
    );
    let csv = reconcile::render(&imported, OutputFormat::Csv);
    assert!(csv.starts_with("finding,issue,verdict_status,jira_status,action,result\n"));
    assert_eq!(csv.lines().count(), 21);

    // A filter that matches nothing says so.
    let mut none = opts(Mode::Push, false);
    none.project = Some("NOPE".into());
    match reconcile::run(state, &none).await {
        Err(ReconcileError::NothingMatched(what)) => {
            assert!(what.contains("--project NOPE"), "{what}")
        }
        other => panic!("expected NothingMatched, got {other:?}"),
    }
    w.app.stop().await;
}
