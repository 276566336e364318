//! The built-in fixture every upload is run on once, per decision it exports: a rule that
//! cannot get through an ordinary ticket is refused before it can be activated.

use rules_sdk::*;

const NOW: i64 = 1_795_341_600_000;

fn finding() -> Finding {
    Finding {
        id: "smoke-finding".into(),
        title: "SQL injection in login handler".into(),
        severity: Severity::High,
        score: Some(8.1),
        cvss: Some("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:N".into()),
        cwes: vec![89],
        scan_type: "sast".into(),
        repository: Some("acme/shop".into()),
        file: Some("src/login.rs".into()),
        tags: vec!["backend".into()],
        age_days: 3,
        status: FindingStatus::Open,
        rule_id: Some("rust.sqlx.format-query".into()),
        package: None,
        vulnerability_ids: Vec::new(),
    }
}

fn ticket(category: StatusCategory) -> Ticket {
    Ticket {
        id: "10000".into(),
        key: "SMOKE-1".into(),
        project: "SMOKE".into(),
        issue_type: "Bug".into(),
        status: Status {
            id: "10002".into(),
            name: "Done".into(),
            category,
        },
        resolution: (category == StatusCategory::Done).then(|| "Done".into()),
        labels: vec!["security".into()],
        priority: Some("High".into()),
        reporter: Some("smoke-reporter".into()),
        assignee: Some("smoke-assignee".into()),
        closer: Some("smoke-assignee".into()),
        created: NOW - 86_400_000,
        resolved: Some(NOW),
        closing_change: None,
        comments: vec![Comment {
            id: "1".into(),
            author: "smoke-assignee".into(),
            body: "Fixed in the release, the query is parameterised now.".into(),
            created: NOW - 3_600_000,
            updated: NOW - 3_600_000,
        }],
    }
}

pub fn input(kind: DecisionKind) -> RuleInput {
    match kind {
        DecisionKind::Closure => RuleInput::Closure(ClosureInput {
            ticket: ticket(StatusCategory::Done),
            finding: Some(finding()),
            pages: Vec::new(),
            config: Vec::new(),
            now: NOW,
        }),
        DecisionKind::Transition => RuleInput::Transition(TransitionInput {
            ticket: ticket(StatusCategory::InProgress),
            finding: finding(),
            target: FindingStatus::Resolved,
            transitions: vec![OfferedTransition {
                id: "31".into(),
                name: "Done".into(),
                to: Some(Status {
                    id: "10002".into(),
                    name: "Done".into(),
                    category: StatusCategory::Done,
                }),
                required_fields: Vec::new(),
            }],
            resolutions: vec!["Done".into(), "Won't Do".into()],
            config: Vec::new(),
        }),
        DecisionKind::Ticketing => RuleInput::Ticketing(TicketInput {
            finding: finding(),
            config: vec![ConfigEntry {
                key: "ticket.project".into(),
                value: "SMOKE".into(),
            }],
            now: NOW,
        }),
    }
}
