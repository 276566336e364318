//! Between `rules_sdk`'s plain types and the records wasmtime generates from the WIT, for each
//! contract version the host runs (the versions differ in what a page and a finding carry and
//! what a ticket plan may say).

/// The conversions for one version's generated bindings; `$page` and `$finding` turn SDK
/// records into that version's, `$plan` turns its ticket plan into the SDK's.
macro_rules! conversions {
    ($bindings:ident, $page:expr, $finding:expr, $plan:expr) => {
        use rules_sdk as sdk;

        use crate::rules::$bindings::exports::verdict::rules::{
            closure as wc, ticketing as wk, transition as wt,
        };
        use crate::rules::$bindings::verdict::rules::types as w;

        fn severity(s: sdk::Severity) -> w::Severity {
            match s {
                sdk::Severity::Info => w::Severity::Info,
                sdk::Severity::Low => w::Severity::Low,
                sdk::Severity::Medium => w::Severity::Medium,
                sdk::Severity::High => w::Severity::High,
                sdk::Severity::Critical => w::Severity::Critical,
            }
        }

        fn status_to(s: sdk::FindingStatus) -> w::FindingStatus {
            match s {
                sdk::FindingStatus::Open => w::FindingStatus::Open,
                sdk::FindingStatus::Resolved => w::FindingStatus::Resolved,
                sdk::FindingStatus::FalsePositive => w::FindingStatus::FalsePositive,
                sdk::FindingStatus::AcceptedRisk => w::FindingStatus::AcceptedRisk,
            }
        }

        fn status_from(s: w::FindingStatus) -> sdk::FindingStatus {
            match s {
                w::FindingStatus::Open => sdk::FindingStatus::Open,
                w::FindingStatus::Resolved => sdk::FindingStatus::Resolved,
                w::FindingStatus::FalsePositive => sdk::FindingStatus::FalsePositive,
                w::FindingStatus::AcceptedRisk => sdk::FindingStatus::AcceptedRisk,
            }
        }

        fn jira_status(s: &sdk::Status) -> w::Status {
            w::Status {
                id: s.id.clone(),
                name: s.name.clone(),
                category: match s.category {
                    sdk::StatusCategory::ToDo => w::StatusCategory::ToDo,
                    sdk::StatusCategory::InProgress => w::StatusCategory::InProgress,
                    sdk::StatusCategory::Done => w::StatusCategory::Done,
                },
            }
        }

        fn ticket(t: &sdk::Ticket) -> w::Ticket {
            w::Ticket {
                id: t.id.clone(),
                key: t.key.clone(),
                project: t.project.clone(),
                issue_type: t.issue_type.clone(),
                status: jira_status(&t.status),
                resolution: t.resolution.clone(),
                labels: t.labels.clone(),
                priority: t.priority.clone(),
                reporter: t.reporter.clone(),
                assignee: t.assignee.clone(),
                closer: t.closer.clone(),
                created: t.created,
                resolved: t.resolved,
                closing_change: t.closing_change.as_ref().map(|c| w::Change {
                    id: c.id.clone(),
                    author: c.author.clone(),
                    at: c.at,
                    items: c
                        .items
                        .iter()
                        .map(|i| w::ChangeItem {
                            field_id: i.field_id.clone(),
                            from_id: i.from_id.clone(),
                            from_name: i.from_name.clone(),
                            to_id: i.to_id.clone(),
                            to_name: i.to_name.clone(),
                        })
                        .collect(),
                }),
                comments: t
                    .comments
                    .iter()
                    .map(|c| w::Comment {
                        id: c.id.clone(),
                        author: c.author.clone(),
                        body: c.body.clone(),
                        created: c.created,
                        updated: c.updated,
                    })
                    .collect(),
            }
        }

        fn finding(f: &sdk::Finding) -> w::Finding {
            ($finding)(f)
        }

        fn config(c: &[sdk::ConfigEntry]) -> Vec<w::ConfigEntry> {
            c.iter()
                .map(|e| w::ConfigEntry {
                    key: e.key.clone(),
                    value: e.value.clone(),
                })
                .collect()
        }

        pub fn closure_input(i: &sdk::ClosureInput) -> wc::ClosureInput {
            wc::ClosureInput {
                ticket: ticket(&i.ticket),
                finding: i.finding.as_ref().map(finding),
                pages: i.pages.iter().map($page).collect(),
                config: config(&i.config),
                now: i.now,
            }
        }

        pub fn closure_decision(d: wc::ClosureDecision) -> sdk::ClosureDecision {
            match d {
                wc::ClosureDecision::Apply(v) => sdk::ClosureDecision::Apply(sdk::Verdict {
                    status: status_from(v.status),
                    reason: v.reason,
                    confidence: v.confidence,
                }),
                wc::ClosureDecision::Skip(r) => sdk::ClosureDecision::Skip(r),
                wc::ClosureDecision::Defer => sdk::ClosureDecision::Defer,
            }
        }

        pub fn transition_input(i: &sdk::TransitionInput) -> wt::TransitionInput {
            wt::TransitionInput {
                ticket: ticket(&i.ticket),
                finding: finding(&i.finding),
                target: status_to(i.target),
                transitions: i
                    .transitions
                    .iter()
                    .map(|t| wt::OfferedTransition {
                        id: t.id.clone(),
                        name: t.name.clone(),
                        to: t.to.as_ref().map(jira_status),
                        required_fields: t.required_fields.clone(),
                    })
                    .collect(),
                resolutions: i.resolutions.clone(),
                config: config(&i.config),
            }
        }

        pub fn transition_decision(d: wt::TransitionDecision) -> sdk::TransitionDecision {
            match d {
                wt::TransitionDecision::Take(c) => {
                    sdk::TransitionDecision::Take(sdk::TransitionChoice {
                        id: c.id,
                        resolution: c.resolution,
                        reason: c.reason,
                    })
                }
                wt::TransitionDecision::None(r) => sdk::TransitionDecision::None(r),
                wt::TransitionDecision::Defer => sdk::TransitionDecision::Defer,
            }
        }

        pub fn ticket_input(i: &sdk::TicketInput) -> wk::TicketInput {
            wk::TicketInput {
                finding: finding(&i.finding),
                config: config(&i.config),
                now: i.now,
            }
        }

        pub fn ticket_decision(d: wk::TicketDecision) -> sdk::TicketDecision {
            match d {
                wk::TicketDecision::Create(p) => sdk::TicketDecision::Create(($plan)(p)),
                wk::TicketDecision::Skip(r) => sdk::TicketDecision::Skip(r),
                wk::TicketDecision::Defer => sdk::TicketDecision::Defer,
            }
        }
    };
}

/// A page as 1.0.0 carries it, with the fields later versions add given as `$extra`.
macro_rules! page_record {
    ($p:ident => $($extra:tt)*) => {
        |$p: &sdk::Page| w::Page {
            id: $p.id.clone(),
            title: $p.title.clone(),
            labels: $p.labels.clone(),
            space: $p.space.clone(),
            last_modified: $p.last_modified,
            excerpt: $p.excerpt.clone(),
            url: $p.url.clone(),
            $($extra)*
        }
    };
}

/// A page as 1.1.0 and later carry it.
macro_rules! page_1_1 {
    () => {
        page_record!(p => references_ticket: p.references_ticket,)
    };
}

/// A finding as 1.0.0 to 1.2.0 carry it, with the fields 1.3.0 adds given as `$extra`.
macro_rules! finding_record {
    ($f:ident => $($extra:tt)*) => {
        |$f: &sdk::Finding| w::Finding {
            id: $f.id.clone(),
            title: $f.title.clone(),
            severity: severity($f.severity),
            score: $f.score,
            cvss: $f.cvss.clone(),
            cwes: $f.cwes.clone(),
            scan_type: $f.scan_type.clone(),
            repository: $f.repository.clone(),
            file: $f.file.clone(),
            tags: $f.tags.clone(),
            age_days: $f.age_days,
            status: status_to($f.status),
            $($extra)*
        }
    };
}

/// A ticket plan as 1.0.0 carries it, with the fields 1.3.0 adds given as `$extra` (the
/// SDK's defaults for the rest).
macro_rules! plan_record {
    ($p:ident => $($extra:tt)*) => {
        |$p: wk::TicketPlan| sdk::TicketPlan {
            project: $p.project,
            issue_type: $p.issue_type,
            priority: $p.priority,
            labels: $p.labels,
            due_date: $p.due_date,
            reason: $p.reason,
            $($extra)*
        }
    };
}

/// A ticket plan as 1.0.0 to 1.2.0 carry it (no fields, group, assignee or epic).
macro_rules! plan_before_1_3 {
    () => {
        plan_record!(p => ..sdk::TicketPlan::default())
    };
}

/// The current contract (1.3.0: findings carry their grouping facts; plans add fields, a
/// group, an assignee and an epic).
pub mod v1_3 {
    conversions!(
        bindings,
        page_1_1!(),
        finding_record!(f =>
            rule_id: f.rule_id.clone(),
            package: f.package.clone(),
            vulnerability_ids: f.vulnerability_ids.clone(),
        ),
        plan_record!(p =>
            fields: p
                .fields
                .into_iter()
                .map(|f| sdk::TicketField {
                    field: f.field,
                    value: f.value,
                })
                .collect(),
            group: p.group,
            assignee: p.assignee,
            epic: p.epic,
        )
    );
}

/// The frozen 1.2.0 contract (its records are 1.1.0's).
pub mod v1_2 {
    conversions!(
        bindings_1_2,
        page_1_1!(),
        finding_record!(f =>),
        plan_before_1_3!()
    );
}

/// The frozen 1.1.0 contract.
pub mod v1_1 {
    conversions!(
        bindings_1_1,
        page_1_1!(),
        finding_record!(f =>),
        plan_before_1_3!()
    );
}

/// The frozen 1.0.0 contract: a page without `references-ticket`.
pub mod v1_0 {
    conversions!(
        bindings_1_0,
        page_record!(p =>),
        finding_record!(f =>),
        plan_before_1_3!()
    );
}
