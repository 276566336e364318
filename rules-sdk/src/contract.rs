//! The records of `wit/rules.wit` as plain Rust types: what the host hands a rule and what a
//! rule answers. Rules, the server's native default policy and the test helpers share them.

use serde::{Deserialize, Serialize};

use crate::{FindingStatus, Severity};

/// The contract version this crate speaks; it is the WIT package version.
pub const CONTRACT_VERSION: &str = "1.3.0";
/// The WIT package, for hosts and for authors of rules in other languages.
pub const WIT: &str = include_str!("../wit/rules.wit");
/// Every contract version a host built with this crate runs, oldest first. A module built
/// against an older minor version keeps working: the host hands it that version's records.
pub const SUPPORTED_CONTRACT_VERSIONS: &[&str] = &["1.0.0", "1.1.0", "1.2.0", "1.3.0"];
/// The frozen 1.0.0 contract (what modules built before 1.1.0 were built against).
pub const WIT_1_0_0: &str = include_str!("../wit-frozen/1.0.0/rules.wit");
/// The frozen 1.1.0 contract (what modules built before 1.2.0 were built against).
pub const WIT_1_1_0: &str = include_str!("../wit-frozen/1.1.0/rules.wit");
/// The frozen 1.2.0 contract (what modules built before 1.3.0 were built against).
pub const WIT_1_2_0: &str = include_str!("../wit-frozen/1.2.0/rules.wit");

/// Jira's status categories, by their keys (`new`, `indeterminate`, `done`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum StatusCategory {
    #[serde(rename = "new")]
    ToDo,
    #[serde(rename = "indeterminate")]
    InProgress,
    #[serde(rename = "done")]
    Done,
}

impl StatusCategory {
    pub fn key(self) -> &'static str {
        match self {
            StatusCategory::ToDo => "new",
            StatusCategory::InProgress => "indeterminate",
            StatusCategory::Done => "done",
        }
    }

    /// Jira's keys; anything unknown (`undefined`) is treated as not done.
    pub fn from_key(key: &str) -> Self {
        match key {
            "done" => StatusCategory::Done,
            "indeterminate" => StatusCategory::InProgress,
            _ => StatusCategory::ToDo,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    pub id: String,
    pub name: String,
    pub category: StatusCategory,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Comment {
    pub id: String,
    /// Jira account id of the author.
    pub author: String,
    pub body: String,
    /// Unix epoch milliseconds.
    pub created: i64,
    pub updated: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ChangeItem {
    pub field_id: String,
    pub from_id: Option<String>,
    pub from_name: Option<String>,
    pub to_id: Option<String>,
    pub to_name: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Change {
    pub id: String,
    pub author: Option<String>,
    pub at: i64,
    pub items: Vec<ChangeItem>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ticket {
    pub id: String,
    pub key: String,
    pub project: String,
    #[serde(default)]
    pub issue_type: String,
    pub status: Status,
    #[serde(default)]
    pub resolution: Option<String>,
    #[serde(default)]
    pub labels: Vec<String>,
    #[serde(default)]
    pub priority: Option<String>,
    #[serde(default)]
    pub reporter: Option<String>,
    #[serde(default)]
    pub assignee: Option<String>,
    #[serde(default)]
    pub closer: Option<String>,
    #[serde(default)]
    pub created: i64,
    #[serde(default)]
    pub resolved: Option<i64>,
    #[serde(default)]
    pub closing_change: Option<Change>,
    #[serde(default)]
    pub comments: Vec<Comment>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    pub id: String,
    pub title: String,
    pub severity: Severity,
    #[serde(default)]
    pub score: Option<f64>,
    #[serde(default)]
    pub cvss: Option<String>,
    #[serde(default)]
    pub cwes: Vec<u32>,
    #[serde(default)]
    pub scan_type: String,
    #[serde(default)]
    pub repository: Option<String>,
    #[serde(default)]
    pub file: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub age_days: u32,
    #[serde(default = "open")]
    pub status: FindingStatus,
    /// The scanner's rule (check) id (contract 1.3.0).
    #[serde(default)]
    pub rule_id: Option<String>,
    /// The affected package, e.g. `npm:lodash` (contract 1.3.0).
    #[serde(default)]
    pub package: Option<String>,
    /// Vulnerability ids, upper-cased and sorted (contract 1.3.0).
    #[serde(default)]
    pub vulnerability_ids: Vec<String>,
}

fn open() -> FindingStatus {
    FindingStatus::Open
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Page {
    pub id: String,
    pub title: String,
    pub labels: Vec<String>,
    pub space: String,
    /// Unix epoch milliseconds.
    pub last_modified: i64,
    pub excerpt: String,
    pub url: String,
    /// Set by the host (contract 1.1.0): whether the page names this ticket — its key as a
    /// word, or a link to it — in its title, body or labels. Fixture pages without it get it
    /// from their own title, labels and excerpt (see [`Page::references`]).
    pub references_ticket: bool,
}

impl ClosureInput {
    /// Sets `references_ticket` on each page whose title, labels or excerpt name the ticket
    /// ([`Page::references`]); never clears it, since the host read the whole body and may know
    /// more than the excerpt shows. For inputs from outside the host (fixtures, files, stored
    /// decisions from before contract 1.1.0), so they behave as the host would hand them over.
    pub fn mark_page_references(&mut self) {
        for page in &mut self.pages {
            page.references_ticket = page.references_ticket || page.references(&self.ticket);
        }
    }
}

impl Page {
    /// Whether the page is about `ticket`: its key (as a word, any case) in the title, a label
    /// or the excerpt, or a link to the ticket. Evidence is only evidence for the ticket it
    /// names — anyone who can comment can link an unrelated approved page.
    pub fn references(&self, ticket: &Ticket) -> bool {
        let key = ticket.key.as_str();
        names_ticket(&self.title, key)
            || self.labels.iter().any(|l| names_ticket(l, key))
            || names_ticket(&self.excerpt, key)
    }
}

/// Whether `text` names the issue `key` as a word, in any case. A key inside a longer word is
/// another key: `SEC-1` is not in `SEC-12` or `APPSEC-1`; slugs and links count
/// (`risk-sec-1`, `SEC-1-notes`, `…/browse/SEC-1`).
pub fn names_ticket(text: &str, key: &str) -> bool {
    let wanted = key.trim().to_ascii_uppercase();
    if wanted.is_empty() {
        return false;
    }
    let upper = text.to_ascii_uppercase();
    let bytes = upper.as_bytes();
    let outside =
        |c: Option<u8>| c.is_none_or(|c| c == b'-' || !(c.is_ascii_alphanumeric() || c == b'_'));
    upper.match_indices(&wanted).any(|(i, _)| {
        outside(i.checked_sub(1).map(|b| bytes[b])) && outside(bytes.get(i + wanted.len()).copied())
    })
}

/// Tenant configuration values, as strings; [`Config`] reads them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigEntry {
    pub key: String,
    pub value: String,
}

/// Read access to the tenant's configuration entries.
#[derive(Debug, Clone, Copy)]
pub struct Config<'a>(pub &'a [ConfigEntry]);

impl<'a> Config<'a> {
    pub fn get(&self, key: &str) -> Option<&'a str> {
        self.0
            .iter()
            .rev()
            .find(|e| e.key == key)
            .map(|e| e.value.as_str())
    }

    /// A comma-separated list, trimmed, empty items dropped.
    pub fn list(&self, key: &str) -> Option<Vec<&'a str>> {
        self.get(key).map(|v| {
            v.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .collect()
        })
    }

    pub fn number(&self, key: &str) -> Option<f64> {
        self.get(key).and_then(|v| v.trim().parse().ok())
    }
}

/// Builds config entries from pairs, for tests and fixtures.
pub fn config<const N: usize>(pairs: [(&str, &str); N]) -> Vec<ConfigEntry> {
    pairs
        .into_iter()
        .map(|(k, v)| ConfigEntry {
            key: k.to_owned(),
            value: v.to_owned(),
        })
        .collect()
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    pub status: FindingStatus,
    pub reason: String,
    pub confidence: f32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClosureInput {
    pub ticket: Ticket,
    #[serde(default)]
    pub finding: Option<Finding>,
    #[serde(default)]
    pub pages: Vec<Page>,
    #[serde(default)]
    pub config: Vec<ConfigEntry>,
    #[serde(default)]
    pub now: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClosureDecision {
    Apply(Verdict),
    Skip(String),
    Defer,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OfferedTransition {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub to: Option<Status>,
    #[serde(default)]
    pub required_fields: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TransitionInput {
    pub ticket: Ticket,
    pub finding: Finding,
    pub target: FindingStatus,
    pub transitions: Vec<OfferedTransition>,
    #[serde(default)]
    pub resolutions: Vec<String>,
    #[serde(default)]
    pub config: Vec<ConfigEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransitionChoice {
    pub id: String,
    #[serde(default)]
    pub resolution: Option<String>,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TransitionDecision {
    Take(TransitionChoice),
    None(String),
    Defer,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TicketInput {
    pub finding: Finding,
    #[serde(default)]
    pub config: Vec<ConfigEntry>,
    #[serde(default)]
    pub now: i64,
}

/// A Jira field a ticket gets (contract 1.3.0): `value` is JSON — a string (templated and
/// shaped like a field-map value), a number, or Jira's own shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TicketField {
    pub field: String,
    pub value: String,
}

impl TicketField {
    /// The field set to `text`, JSON-quoted here (the host still expands `{{variables}}` in it
    /// and shapes it by the field's type: a select gets `{"value": …}`).
    pub fn text(field: impl Into<String>, text: &str) -> Self {
        let mut value = String::with_capacity(text.len() + 2);
        value.push('"');
        for c in text.chars() {
            match c {
                '"' => value.push_str("\\\""),
                '\\' => value.push_str("\\\\"),
                c if (c as u32) < 0x20 => value.push_str(&format!("\\u{:04x}", c as u32)),
                c => value.push(c),
            }
        }
        value.push('"');
        Self {
            field: field.into(),
            value,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TicketPlan {
    pub project: String,
    pub issue_type: String,
    #[serde(default)]
    pub priority: Option<String>,
    #[serde(default)]
    pub labels: Vec<String>,
    #[serde(default)]
    pub due_date: Option<String>,
    pub reason: String,
    /// Fields over the tenant's field map (contract 1.3.0).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<TicketField>,
    /// Findings with the same group share one ticket, instead of `ticket.group_by`
    /// (contract 1.3.0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// The assignee, instead of `ticket.owners` (contract 1.3.0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assignee: Option<String>,
    /// Verdict's epic for this key (created on demand, reused), instead of `ticket.epic_by`
    /// and `ticket.epic` (contract 1.3.0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epic: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
// Mirrors the WIT variant; a rule answers one per evaluation, so its size never matters.
#[allow(clippy::large_enum_variant)]
pub enum TicketDecision {
    Create(TicketPlan),
    Skip(String),
    Defer,
}

/// Which of the three decisions; also the shape of a fixture file
/// (`{"closure": {...}}`, `{"transition": {...}}` or `{"ticketing": {...}}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleInput {
    Closure(ClosureInput),
    Transition(TransitionInput),
    Ticketing(TicketInput),
}

impl RuleInput {
    /// An input from outside the host (a fixture, a file, a request, a stored decision from
    /// before contract 1.1.0) made what the host would hand over: see
    /// [`ClosureInput::mark_page_references`].
    pub fn with_page_references(mut self) -> Self {
        if let RuleInput::Closure(c) = &mut self {
            c.mark_page_references();
        }
        self
    }

    pub fn kind(&self) -> DecisionKind {
        match self {
            RuleInput::Closure(_) => DecisionKind::Closure,
            RuleInput::Transition(_) => DecisionKind::Transition,
            RuleInput::Ticketing(_) => DecisionKind::Ticketing,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleOutput {
    Closure(ClosureDecision),
    Transition(TransitionDecision),
    Ticketing(TicketDecision),
}

impl RuleOutput {
    /// Whether the rule handed the decision back to the default policy.
    pub fn is_defer(&self) -> bool {
        matches!(
            self,
            RuleOutput::Closure(ClosureDecision::Defer)
                | RuleOutput::Transition(TransitionDecision::Defer)
                | RuleOutput::Ticketing(TicketDecision::Defer)
        )
    }
}

/// The three decisions a rule can make; the WIT interface names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DecisionKind {
    Closure,
    Transition,
    Ticketing,
}

impl DecisionKind {
    pub const ALL: [DecisionKind; 3] = [
        DecisionKind::Closure,
        DecisionKind::Transition,
        DecisionKind::Ticketing,
    ];

    /// The WIT interface that carries this decision.
    pub fn interface(self) -> &'static str {
        match self {
            DecisionKind::Closure => "closure",
            DecisionKind::Transition => "transition",
            DecisionKind::Ticketing => "ticketing",
        }
    }

    pub fn as_str(self) -> &'static str {
        self.interface()
    }
}

/// A fixture's expectation. Only the fields present are compared, so a fixture can pin the
/// outcome alone or also the status, transition, plan fields and a reason fragment.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Expected {
    /// `apply`, `skip`, `defer`, `take`, `none` or `create`.
    pub outcome: String,
    pub status: Option<FindingStatus>,
    pub transition: Option<String>,
    pub resolution: Option<String>,
    pub project: Option<String>,
    pub issue_type: Option<String>,
    pub priority: Option<String>,
    pub due_date: Option<String>,
    pub labels: Option<Vec<String>>,
    /// The plan's group (contract 1.3.0).
    pub group: Option<String>,
    /// The plan's assignee (contract 1.3.0).
    pub assignee: Option<String>,
    /// The plan's epic key (contract 1.3.0).
    pub epic: Option<String>,
    pub reason_contains: Option<String>,
}

impl Expected {
    /// `Ok(())` when `output` matches; otherwise every mismatch, one per line.
    pub fn check(&self, output: &RuleOutput) -> Result<(), String> {
        let mut errors = Vec::new();
        let mut cmp = |what: &str, want: Option<String>, got: Option<String>| {
            if let Some(want) = want
                && got.as_deref() != Some(want.as_str())
            {
                errors.push(format!(
                    "{what}: expected `{want}`, got `{}`",
                    got.unwrap_or_else(|| "none".into())
                ));
            }
        };
        let (outcome, reason) = match output {
            RuleOutput::Closure(d) => match d {
                ClosureDecision::Apply(v) => {
                    cmp(
                        "status",
                        self.status.map(|s| s.as_str().into()),
                        Some(v.status.as_str().into()),
                    );
                    ("apply", Some(v.reason.clone()))
                }
                ClosureDecision::Skip(r) => ("skip", Some(r.clone())),
                ClosureDecision::Defer => ("defer", None),
            },
            RuleOutput::Transition(d) => match d {
                TransitionDecision::Take(c) => {
                    cmp("transition", self.transition.clone(), Some(c.id.clone()));
                    cmp("resolution", self.resolution.clone(), c.resolution.clone());
                    ("take", Some(c.reason.clone()))
                }
                TransitionDecision::None(r) => ("none", Some(r.clone())),
                TransitionDecision::Defer => ("defer", None),
            },
            RuleOutput::Ticketing(d) => match d {
                TicketDecision::Create(p) => {
                    cmp("project", self.project.clone(), Some(p.project.clone()));
                    cmp(
                        "issue_type",
                        self.issue_type.clone(),
                        Some(p.issue_type.clone()),
                    );
                    cmp("priority", self.priority.clone(), p.priority.clone());
                    cmp("due_date", self.due_date.clone(), p.due_date.clone());
                    cmp("group", self.group.clone(), p.group.clone());
                    cmp("assignee", self.assignee.clone(), p.assignee.clone());
                    cmp("epic", self.epic.clone(), p.epic.clone());
                    cmp(
                        "labels",
                        self.labels.as_ref().map(|l| l.join(",")),
                        Some(p.labels.join(",")),
                    );
                    ("create", Some(p.reason.clone()))
                }
                TicketDecision::Skip(r) => ("skip", Some(r.clone())),
                TicketDecision::Defer => ("defer", None),
            },
        };
        if outcome != self.outcome {
            errors.insert(
                0,
                format!("outcome: expected `{}`, got `{outcome}`", self.outcome),
            );
        }
        if let Some(fragment) = &self.reason_contains {
            let r = reason.unwrap_or_default();
            if !r.to_lowercase().contains(&fragment.to_lowercase()) {
                errors.push(format!(
                    "reason: expected to contain `{fragment}`, got `{r}`"
                ));
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors.join("\n"))
        }
    }
}

#[cfg(test)]
mod page_tests {
    use super::{ClosureInput, Page, Ticket};

    #[test]
    fn a_page_references_a_ticket_by_its_key_as_a_word() {
        let ticket: Ticket = serde_json::from_value(serde_json::json!({
            "id": "10001", "key": "SEC-1", "project": "SEC",
            "status": {"id": "1", "name": "Done", "category": "done"}
        }))
        .unwrap();
        let page = |title: &str, labels: &[&str], excerpt: &str| Page {
            title: title.into(),
            labels: labels.iter().map(|l| (*l).to_owned()).collect(),
            excerpt: excerpt.into(),
            ..Default::default()
        };
        for yes in [
            page("Risk acceptance SEC-1: legacy parser", &[], ""),
            page("Risk acceptance", &["risk-approved", "sec-1"], ""),
            page("Risk acceptance", &["risk-sec-1"], ""),
            page(
                "Risk",
                &[],
                "Covers https://acme.atlassian.net/browse/SEC-1.",
            ),
            page("Risk", &[], "Covers (sec-1) and SEC-7"),
        ] {
            assert!(yes.references(&ticket), "{yes:?}");
        }
        for no in [
            page(
                "Risk acceptance: legacy parser",
                &["risk-approved"],
                "Accepted by the CISO",
            ),
            page("Risk acceptance SEC-12", &[], "APPSEC-1 and SEC-10"),
            page("Risk", &["sec-1a"], "MYSEC-1"),
        ] {
            assert!(!no.references(&ticket), "{no:?}");
        }
        // What the host set stays; what the page shows is added.
        let mut input = ClosureInput {
            ticket: ticket.clone(),
            finding: None,
            pages: vec![
                page("Risk", &[], "covers sec-1"),
                page("Risk", &[], "covers SEC-10"),
                Page {
                    references_ticket: true,
                    ..page("Risk", &[], "")
                },
            ],
            config: Vec::new(),
            now: 0,
        };
        input.mark_page_references();
        let marked: Vec<bool> = input.pages.iter().map(|p| p.references_ticket).collect();
        assert_eq!(marked, [true, false, true]);
    }
}
