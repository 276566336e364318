//! The wasm side of the contract: bindings generated from `wit/rules.wit` and the glue that
//! turns them into this crate's plain types, so a rule is an ordinary [`Rule`](crate::Rule) impl.

// The generated code is not ours to lint.
#[allow(clippy::all, unsafe_code, missing_docs, rust_2018_idioms)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "wit",
        world: "rule",
        pub_export_macro: true,
        export_macro_name: "__verdict_export_rule",
        default_bindings_module: "rules_sdk::guest::bindings",
    });
}

use bindings::exports::verdict::rules::{closure as wc, ticketing as wk, transition as wt};
use bindings::verdict::rules::types as w;

use crate::contract::*;
use crate::{FindingStatus, Rule, Severity};

fn severity(s: w::Severity) -> Severity {
    match s {
        w::Severity::Info => Severity::Info,
        w::Severity::Low => Severity::Low,
        w::Severity::Medium => Severity::Medium,
        w::Severity::High => Severity::High,
        w::Severity::Critical => Severity::Critical,
    }
}

fn status_from(s: w::FindingStatus) -> FindingStatus {
    match s {
        w::FindingStatus::Open => FindingStatus::Open,
        w::FindingStatus::Resolved => FindingStatus::Resolved,
        w::FindingStatus::FalsePositive => FindingStatus::FalsePositive,
        w::FindingStatus::AcceptedRisk => FindingStatus::AcceptedRisk,
    }
}

fn status_to(s: FindingStatus) -> w::FindingStatus {
    match s {
        FindingStatus::Open => w::FindingStatus::Open,
        FindingStatus::Resolved => w::FindingStatus::Resolved,
        FindingStatus::FalsePositive => w::FindingStatus::FalsePositive,
        FindingStatus::AcceptedRisk => w::FindingStatus::AcceptedRisk,
    }
}

fn jira_status(s: w::Status) -> Status {
    Status {
        id: s.id,
        name: s.name,
        category: match s.category {
            w::StatusCategory::ToDo => StatusCategory::ToDo,
            w::StatusCategory::InProgress => StatusCategory::InProgress,
            w::StatusCategory::Done => StatusCategory::Done,
        },
    }
}

fn ticket(t: w::Ticket) -> Ticket {
    Ticket {
        id: t.id,
        key: t.key,
        project: t.project,
        issue_type: t.issue_type,
        status: jira_status(t.status),
        resolution: t.resolution,
        labels: t.labels,
        priority: t.priority,
        reporter: t.reporter,
        assignee: t.assignee,
        closer: t.closer,
        created: t.created,
        resolved: t.resolved,
        closing_change: t.closing_change.map(|c| Change {
            id: c.id,
            author: c.author,
            at: c.at,
            items: c
                .items
                .into_iter()
                .map(|i| ChangeItem {
                    field_id: i.field_id,
                    from_id: i.from_id,
                    from_name: i.from_name,
                    to_id: i.to_id,
                    to_name: i.to_name,
                })
                .collect(),
        }),
        comments: t
            .comments
            .into_iter()
            .map(|c| Comment {
                id: c.id,
                author: c.author,
                body: c.body,
                created: c.created,
                updated: c.updated,
            })
            .collect(),
    }
}

fn finding(f: w::Finding) -> Finding {
    Finding {
        id: f.id,
        title: f.title,
        severity: severity(f.severity),
        score: f.score,
        cvss: f.cvss,
        cwes: f.cwes,
        scan_type: f.scan_type,
        repository: f.repository,
        file: f.file,
        tags: f.tags,
        age_days: f.age_days,
        status: status_from(f.status),
        rule_id: f.rule_id,
        package: f.package,
        vulnerability_ids: f.vulnerability_ids,
    }
}

fn config(c: Vec<w::ConfigEntry>) -> Vec<ConfigEntry> {
    c.into_iter()
        .map(|e| ConfigEntry {
            key: e.key,
            value: e.value,
        })
        .collect()
}

/// Sends a panic's message to the host log before the trap, so the host can report it.
fn panic_hook() {
    static SET: std::sync::Once = std::sync::Once::new();
    SET.call_once(|| {
        std::panic::set_hook(Box::new(|info| {
            log(crate::log::Level::Error, &info.to_string());
        }));
    });
}

#[doc(hidden)]
pub fn closure<R: Rule>(input: wc::ClosureInput) -> wc::ClosureDecision {
    panic_hook();
    let input = ClosureInput {
        ticket: ticket(input.ticket),
        finding: input.finding.map(finding),
        pages: input
            .pages
            .into_iter()
            .map(|p| Page {
                id: p.id,
                title: p.title,
                labels: p.labels,
                space: p.space,
                last_modified: p.last_modified,
                excerpt: p.excerpt,
                url: p.url,
                references_ticket: p.references_ticket,
            })
            .collect(),
        config: config(input.config),
        now: input.now,
    };
    match R::closure(&input) {
        ClosureDecision::Apply(v) => wc::ClosureDecision::Apply(w::Verdict {
            status: status_to(v.status),
            reason: v.reason,
            confidence: v.confidence,
        }),
        ClosureDecision::Skip(r) => wc::ClosureDecision::Skip(r),
        ClosureDecision::Defer => wc::ClosureDecision::Defer,
    }
}

#[doc(hidden)]
pub fn transition<R: Rule>(input: wt::TransitionInput) -> wt::TransitionDecision {
    panic_hook();
    let input = TransitionInput {
        ticket: ticket(input.ticket),
        finding: finding(input.finding),
        target: status_from(input.target),
        transitions: input
            .transitions
            .into_iter()
            .map(|t| OfferedTransition {
                id: t.id,
                name: t.name,
                to: t.to.map(jira_status),
                required_fields: t.required_fields,
            })
            .collect(),
        resolutions: input.resolutions,
        config: config(input.config),
    };
    match R::transition(&input) {
        TransitionDecision::Take(c) => wt::TransitionDecision::Take(wt::TransitionChoice {
            id: c.id,
            resolution: c.resolution,
            reason: c.reason,
        }),
        TransitionDecision::None(r) => wt::TransitionDecision::None(r),
        TransitionDecision::Defer => wt::TransitionDecision::Defer,
    }
}

#[doc(hidden)]
pub fn ticketing<R: Rule>(input: wk::TicketInput) -> wk::TicketDecision {
    panic_hook();
    let input = TicketInput {
        finding: finding(input.finding),
        config: config(input.config),
        now: input.now,
    };
    match R::ticketing(&input) {
        TicketDecision::Create(p) => wk::TicketDecision::Create(wk::TicketPlan {
            project: p.project,
            issue_type: p.issue_type,
            priority: p.priority,
            labels: p.labels,
            due_date: p.due_date,
            reason: p.reason,
            fields: p
                .fields
                .into_iter()
                .map(|f| wk::TicketField {
                    field: f.field,
                    value: f.value,
                })
                .collect(),
            group: p.group,
            assignee: p.assignee,
            epic: p.epic,
        }),
        TicketDecision::Skip(r) => wk::TicketDecision::Skip(r),
        TicketDecision::Defer => wk::TicketDecision::Defer,
    }
}

#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
pub(crate) fn log(level: crate::log::Level, message: &str) {
    use bindings::verdict::rules::host;
    let level = match level {
        crate::log::Level::Debug => host::Level::Debug,
        crate::log::Level::Info => host::Level::Info,
        crate::log::Level::Warn => host::Level::Warn,
        crate::log::Level::Error => host::Level::Error,
    };
    host::log(level, message);
}

#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
pub(crate) fn find_phrases(texts: &[String], phrases: &[String]) -> Vec<crate::PhraseMatch> {
    bindings::verdict::rules::host::find_phrases(texts, phrases)
        .into_iter()
        .map(|m| crate::PhraseMatch {
            text: m.text,
            offset: m.offset,
            phrase: m.phrase,
            word: m.word,
        })
        .collect()
}

/// Exports a [`Rule`](crate::Rule) implementation as the rule's wasm entry points.
///
/// ```ignore
/// struct MyRule;
/// impl rules_sdk::Rule for MyRule { /* … */ }
/// rules_sdk::export_rule!(MyRule);
/// ```
#[macro_export]
macro_rules! export_rule {
    ($rule:ty) => {
        // Native builds (a rule's unit tests) have no use for the entry points, and native
        // linkers reject their `verdict:rules/…` symbol names.
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            struct __VerdictGuest;
            impl $crate::guest::bindings::exports::verdict::rules::closure::Guest for __VerdictGuest {
                fn decide(
                    input: $crate::guest::bindings::exports::verdict::rules::closure::ClosureInput,
                ) -> $crate::guest::bindings::exports::verdict::rules::closure::ClosureDecision {
                    $crate::guest::closure::<$rule>(input)
                }
            }
            impl $crate::guest::bindings::exports::verdict::rules::transition::Guest
                for __VerdictGuest
            {
                fn choose(
                    input: $crate::guest::bindings::exports::verdict::rules::transition::TransitionInput,
                ) -> $crate::guest::bindings::exports::verdict::rules::transition::TransitionDecision
                {
                    $crate::guest::transition::<$rule>(input)
                }
            }
            impl $crate::guest::bindings::exports::verdict::rules::ticketing::Guest
                for __VerdictGuest
            {
                fn plan(
                    input: $crate::guest::bindings::exports::verdict::rules::ticketing::TicketInput,
                ) -> $crate::guest::bindings::exports::verdict::rules::ticketing::TicketDecision {
                    $crate::guest::ticketing::<$rule>(input)
                }
            }
            $crate::guest::bindings::__verdict_export_rule!(__VerdictGuest with_types_in $crate::guest::bindings);
        };
    };
}
