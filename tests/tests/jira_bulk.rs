//! Bulk status changes under Jira's rate limits: 2,000 findings, 20 requests/s, bursts of
//! 429s and injected 5xx — every ticket ends right, nothing twice, nothing lost, close to the
//! time the limit allows; and a restart in the middle of a bulk run resumes it.

use std::time::{Duration, Instant};

use jira_double::{Faults, Limits};
use serde_json::{Value, json};
use verdict_e2e::{JiraWorld, TestApp};

async fn bulk_status(
    app: &TestApp,
    key: &str,
    ids: &[String],
    status: &str,
    reason: Option<&str>,
) -> String {
    let (s, body) = app
        .post(
            key,
            "/api/v1/findings:status",
            &json!({"ids": ids, "status": status, "reason": reason}),
        )
        .await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["changed"], ids.len(), "{body}");
    body["bulk_id"].as_str().unwrap().to_owned()
}

async fn finished(app: &TestApp, key: &str, bulk: &str, secs: u64) -> Value {
    app.wait_until(key, &format!("/api/v1/bulk/{bulk}"), secs, |b| {
        b["finished"] == true
    })
    .await
}

fn check_tickets(w: &JiraWorld, pairs: &[(String, String)], want: impl Fn(usize) -> &'static str) {
    let taken = w.double.transitions_taken("acme");
    let mut per_key = std::collections::HashMap::<&str, usize>::new();
    for t in &taken {
        *per_key.entry(t.issue_key.as_str()).or_default() += 1;
    }
    for (i, (_, key)) in pairs.iter().enumerate() {
        let (status, _, _) = w.double.status_of("acme", key).unwrap();
        assert_eq!(status, want(i), "{key}");
        assert_eq!(
            per_key.get(key.as_str()),
            Some(&1),
            "{key} moved exactly once"
        );
        let own: Vec<_> = w
            .double
            .comments("acme", key)
            .into_iter()
            .filter(|(_, t)| t.starts_with("[Verdict]"))
            .collect();
        assert_eq!(own.len(), 1, "{key}: one comment, not {own:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_thousand_status_changes_under_twenty_requests_per_second() {
    const N: usize = 2000;
    const LIMIT: u32 = 20;
    let w = JiraWorld::start(|c| c.log_level = "error".into()).await;
    let pairs = w.linked(N).await;
    let ids = |parity: usize| -> Vec<String> {
        pairs
            .iter()
            .enumerate()
            .filter(|(i, _)| i % 2 == parity)
            .map(|(_, (id, _))| id.clone())
            .collect()
    };
    w.double.set_limits(
        "acme",
        Limits {
            burst_per_second: Some(LIMIT),
            ..Default::default()
        },
    );
    // A burst of 429s without headers at the start, then every 97th request fails with 503.
    w.double.set_faults(
        "acme",
        Faults {
            fail_next: vec![429; 15],
            fail_every: 97,
            ..Default::default()
        },
    );
    let seen_before = w.double.requests("acme").len();

    let started = Instant::now();
    let a = bulk_status(&w.app, &w.t.key, &ids(0), "resolved", None).await;
    let b = bulk_status(
        &w.app,
        &w.t.key,
        &ids(1),
        "false_positive",
        Some("scanner rule retired"),
    )
    .await;
    let sa = finished(&w.app, &w.t.key, &a, 900).await;
    let sb = finished(&w.app, &w.t.key, &b, 900).await;
    let elapsed = started.elapsed();
    for s in [&sa, &sb] {
        assert_eq!(s["done"], N / 2, "{s}");
        assert!(s["failed"].as_array().unwrap().is_empty(), "{s}");
    }
    w.double.set_faults("acme", Faults::default());
    w.settled(120).await;
    check_tickets(&w, &pairs, |i| if i % 2 == 0 { "Done" } else { "Won't Do" });
    // Verdict's own transitions were never read back as decisions.
    for (id, _) in pairs.iter().step_by(97) {
        let f = w.get_finding(id).await;
        let changes = w
            .events(id)
            .await
            .into_iter()
            .filter(|e| e["kind"] == "status_changed")
            .count();
        assert_eq!(changes, 1, "{f}");
    }

    let requests: Vec<_> = w
        .double
        .requests("acme")
        .into_iter()
        .skip(seen_before)
        .collect();
    let ok = requests
        .iter()
        .filter(|r| (200..300).contains(&r.status))
        .count();
    let limited = requests.iter().filter(|r| r.status == 429).count();
    let failed = requests.iter().filter(|r| r.status >= 500).count();
    // The least time the limit allows for the calls that did the work (one read and one
    // transition per finding).
    let floor = Duration::from_secs_f64((2 * N) as f64 / f64::from(LIMIT));
    let ratio = elapsed.as_secs_f64() / floor.as_secs_f64();
    println!(
        "bulk status sync: {N} findings, {} requests ({ok} ok, {limited} × 429, {failed} × 5xx), {:.1} s; floor at {LIMIT}/s {:.1} s; ratio {ratio:.3}",
        requests.len(),
        elapsed.as_secs_f64(),
        floor.as_secs_f64()
    );
    // Two successful calls per finding; a transition refused with a 5xx costs one more read.
    assert!(ok >= 2 * N && ok <= 2 * N + failed, "{ok} successful calls");
    assert!(ratio <= 1.25, "took {ratio:.3} × the rate-limit floor");
    w.app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_mid_bulk_resumes_and_completes() {
    const N: usize = 200;
    let w = JiraWorld::start(|c| c.log_level = "error".into()).await;
    let pairs = w.linked(N).await;
    let ids: Vec<String> = pairs.iter().map(|(id, _)| id.clone()).collect();
    w.double.set_limits(
        "acme",
        Limits {
            burst_per_second: Some(20),
            ..Default::default()
        },
    );
    let bulk = bulk_status(
        &w.app,
        &w.t.key,
        &ids,
        "accepted_risk",
        Some("approved in RISK-7"),
    )
    .await;
    let deadline = Instant::now() + Duration::from_secs(60);
    while w.double.transitions_taken("acme").len() < N / 3 {
        assert!(Instant::now() < deadline, "no progress");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let w = w.restart().await;
    let moved_at_restart = w.double.transitions_taken("acme").len();
    assert!(
        moved_at_restart < N,
        "the restart happened mid-bulk ({moved_at_restart} of {N})"
    );
    let s = finished(&w.app, &w.t.key, &bulk, 120).await;
    assert_eq!(s["done"], N, "{s}");
    w.settled(60).await;
    check_tickets(&w, &pairs, |_| "Won't Do");
    println!("restart mid-bulk: {moved_at_restart} of {N} moved before the restart; all {N} after");
    w.app.stop().await;
}
