//! Every documented tenant setting as a form: groups of typed fields with labels, defaults,
//! help and the Jira list a picker fills from, and the validation behind each field's inline
//! error. Values are stored as the same `tenant_settings` rows rules read.

use std::collections::{BTreeMap, BTreeSet};

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, TransactionTrait};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::audit::{self, action};
use super::{AdminCtx, AdminError, FieldProblem};
use crate::jira::api::{Named, ProjectRef, StatusOption};
use crate::rules::limits::{CEILING, Limits};
use crate::rules::registry::LIMITS_PREFIX;
use crate::state::AppState;
use crate::store::entities::tenant_settings;

pub use crate::sync::export::KEY_TICKET_AUTO;

const SEVERITIES: [(&str, &str); 5] = [
    ("critical", "Critical"),
    ("high", "High"),
    ("medium", "Medium"),
    ("low", "Low"),
    ("info", "Info"),
];

/// Where a picker's choices come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    Projects,
    IssueTypes,
    Priorities,
    Resolutions,
    Statuses,
}

/// What a field holds, which decides both its control and its validation.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum FieldKind {
    /// `true` / `false`.
    Bool,
    /// A whole number in `min..=max`.
    Integer { min: i64, max: i64 },
    /// A decimal number in `min..=max`.
    Number { min: f64, max: f64 },
    /// One of fixed values.
    Choice { options: Vec<ChoiceOption> },
    /// Free text up to `max` characters.
    Text { max: usize },
    /// A label: letters, digits, `-`, `_`, `.`, no spaces.
    Label,
    /// Comma-separated items matching `item` (`token`, `label`, `space_key` or `text`).
    List { item: String },
    /// Chosen from a Jira list; `multiple` stores a comma-separated list.
    Jira { source: Source, multiple: bool },
    /// `full`, `limited` or a custom template (checked for unknown variables).
    Template,
    /// One line with {{variables}} (the summary template).
    SummaryTemplate,
    /// A JSON object: Jira field (id or name) → value or template, checked against the
    /// project's create screen when Jira answers.
    FieldMap,
    /// JSON checked by the setting's own parser (owners).
    Json,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ChoiceOption {
    pub value: String,
    pub label: String,
}

/// One field of a settings form.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Field {
    pub key: String,
    pub label: String,
    pub help: String,
    pub kind: FieldKind,
    /// What applies when the setting is unset (shown as the placeholder).
    pub default: Option<String>,
    /// The stored value, if any.
    pub value: Option<String>,
}

/// A settings form.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Group {
    pub id: String,
    pub title: String,
    pub description: String,
    pub fields: Vec<Field>,
}

/// Every form, plus the settings no form covers (read by the tenant's own rules).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SettingsView {
    pub groups: Vec<Group>,
    pub other: BTreeMap<String, String>,
}

/// A form's new values: key → value; an empty value removes the setting (the default applies).
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GroupUpdate {
    pub values: BTreeMap<String, String>,
}

/// The id of the free-form group for settings no form covers.
pub const OTHER: &str = "other";

fn field(key: &str, label: &str, help: &str, kind: FieldKind, default: Option<&str>) -> Field {
    Field {
        key: key.to_owned(),
        label: label.to_owned(),
        help: help.to_owned(),
        kind,
        default: default.map(str::to_owned),
        value: None,
    }
}

fn jira(source: Source, multiple: bool) -> FieldKind {
    FieldKind::Jira { source, multiple }
}

fn list(item: &str) -> FieldKind {
    FieldKind::List {
        item: item.to_owned(),
    }
}

fn choice(options: &[(&str, &str)]) -> FieldKind {
    FieldKind::Choice {
        options: options
            .iter()
            .map(|(v, l)| ChoiceOption {
                value: (*v).to_owned(),
                label: (*l).to_owned(),
            })
            .collect(),
    }
}

/// The forms, without values.
pub fn catalogue() -> Vec<Group> {
    let policy = rules_sdk::policy::PolicyConfig::default();
    let sev_default_priority = |s: &str| match s {
        "critical" => "Highest",
        "high" => "High",
        "medium" => "Medium",
        "low" => "Low",
        _ => "Lowest",
    };
    let sev_default_sla = |s: &str| match s {
        "critical" => Some("7"),
        "high" => Some("30"),
        "medium" => Some("90"),
        "low" => Some("180"),
        _ => None,
    };
    vec![
        Group {
            id: "ticketing".into(),
            title: "Ticketing".into(),
            description: "Where findings become Jira issues, and which new findings get one automatically.".into(),
            fields: vec![
                field(KEY_TICKET_AUTO, "Auto-ticketing", "File an issue for every new finding that reaches the threshold below (needs a project, or an active ticketing rule).", FieldKind::Bool, Some("on when a project is set")),
                field("ticket.project", "Project", "The Jira project issues are filed in (also the default for exports).", jira(Source::Projects, false), None),
                field("ticket.issue_type", "Issue type", "The issue type of new issues.", jira(Source::IssueTypes, false), Some("Bug")),
                field("ticket.min_severity", "Minimum severity", "New findings at this severity or above get an issue.", choice(&[("critical", "Critical"), ("high", "High"), ("medium", "Medium"), ("low", "Low"), ("info", "Info")]), Some("high")),
                field("ticket.min_score", "Minimum score", "Also file findings whose score (0–10) reaches this, whatever their severity.", FieldKind::Number { min: 0.0, max: 10.0 }, None),
                field("ticket.scan_types", "Scan types", "Only these scan types (comma-separated, e.g. sast, secrets); empty for all.", list("token"), None),
                field("ticket.repositories", "Repositories", "Only findings from these repositories (comma-separated); empty for all.", list("text"), None),
                field("ticket.labels", "Labels", "Labels every new issue gets (comma-separated, no spaces).", list("label"), Some("security")),
                field(verdict_wire::field_map::KEY_SUMMARY, "Summary template", "One line with {{variables}}, e.g. [{{severity}}] {{title}} in {{repository}}; `ticket.summary.<PROJECT>` overrides it for one project.", FieldKind::SummaryTemplate, Some("{{title}}")),
                field(verdict_wire::field_map::KEY_FIELDS, "Field map", "JSON: Jira field (id or name) → value or {{template}}, e.g. {\"Team\": \"AppSec\", \"components\": \"{{repository}}\"}. Checked against the project's create screen; `ticket.fields.<PROJECT>` and `ticket.fields.<PROJECT>.<Issue_Type>` narrow it.", FieldKind::FieldMap, None),
                field(verdict_wire::field_map::KEY_GROUP_BY, "Group findings", "Findings that share this get one ticket that lists them; it is resolved when all are, and its closure applies to each. Findings without it get their own ticket.", choice(&[("none", "One ticket per finding"), ("vulnerability", "Same vulnerability (CVE, GHSA)"), ("rule", "Same scanner rule"), ("package", "Same package in a repository")]), Some("none")),
                field(verdict_wire::field_map::KEY_EPIC_BY, "Epic per repository", "File each repository's tickets under one epic, created in the project when first needed and reused.", choice(&[("repository", "One epic per repository"), ("none", "No automatic epic")]), Some("none")),
                field(verdict_wire::field_map::KEY_EPIC, "Epic", "An epic's key (SEC-12) every new ticket goes under, when no epic per repository applies; `ticket.epic.<PROJECT>` for one project. Jira is asked on save.", FieldKind::Text { max: 80 }, None),
                field(verdict_wire::field_map::KEY_OWNERS, "Owners", "JSON list: who new tickets are assigned to, first match wins, e.g. [{\"repository\": \"github.com/acme/pay\", \"path\": \"src/billing/\", \"assignee\": \"<account id>\"}, {\"assignee\": \"<account id>\"}]. Jira is asked about the accounts on save.", FieldKind::Json, None),
                field("ticket.template", "Description template", "`full`, `limited` (no description or code leaves Verdict) or your own template with {{variables}}.", FieldKind::Template, Some("full")),
            ],
        },
        Group {
            id: "priorities".into(),
            title: "Severity → priority".into(),
            description: "The Jira priority an issue gets for each finding severity.".into(),
            fields: SEVERITIES
                .iter()
                .map(|(s, label)| field(&format!("priority.{s}"), label, &format!("Priority of issues for {} findings.", s), jira(Source::Priorities, false), Some(sev_default_priority(s))))
                .collect(),
        },
        Group {
            id: "sla".into(),
            title: "SLA".into(),
            description: "Days to fix, by severity: an issue's due date. 0 means no due date.".into(),
            fields: SEVERITIES
                .iter()
                .map(|(s, label)| field(&format!("sla_days.{s}"), label, &format!("Days to fix {} findings (0–3650).", s), FieldKind::Integer { min: 0, max: 3650 }, sev_default_sla(s).or(Some("0"))))
                .collect(),
        },
        Group {
            id: "resolutions".into(),
            title: "Resolutions".into(),
            description: "What a Jira resolution means when a ticket is closed. Comments still decide when they say more; conflicts are skipped.".into(),
            fields: vec![
                field(rules_sdk::defaults::KEY_FP_RESOLUTIONS, "False positive", "Resolutions that mean the finding was a false positive.", jira(Source::Resolutions, true), Some(&policy.false_positive_resolutions.join(", "))),
                field(rules_sdk::defaults::KEY_AR_RESOLUTIONS, "Accepted risk", "Resolutions that mean the risk was accepted.", jira(Source::Resolutions, true), Some(&policy.accepted_risk_resolutions.join(", "))),
                field(rules_sdk::defaults::KEY_RESOLVED_RESOLUTIONS, "Resolved", "Resolutions that mean the vulnerability was fixed.", jira(Source::Resolutions, true), Some(&policy.resolved_resolutions.join(", "))),
                field(rules_sdk::defaults::KEY_NOT_FIXED_RESOLUTIONS, "Not fixed", "Resolutions that close a ticket without fixing anything there (a duplicate, a ticket that cannot be reproduced): the finding stays open.", jira(Source::Resolutions, true), Some(&policy.not_fixed_resolutions.join(", "))),
                field(rules_sdk::defaults::KEY_NOT_FIXED, "Closures that fixed nothing", "A ticket closed as a duplicate, moved to another backlog, closed in a clean-up or as not reproducible — by its comments or a not-fixed resolution.", choice(&[("skip", "Keep the finding open and record why"), ("ignore", "Read them as saying nothing (closed as Done is Resolved)")]), Some("skip")),
            ],
        },
        Group {
            id: "transitions".into(),
            title: "Transitions".into(),
            description: "Pin the statuses Verdict moves tickets to. Unpinned, it picks by status category (never by name).".into(),
            fields: [("resolved", "Resolved"), ("false_positive", "False positive"), ("accepted_risk", "Accepted risk"), ("open", "Reopened")]
                .iter()
                .map(|(s, label)| field(&format!("transition.{s}_status_ids"), label, &format!("Statuses for findings that become {}.", label.to_lowercase()), jira(Source::Statuses, true), Some("by status category")))
                .collect(),
        },
        Group {
            id: "confluence".into(),
            title: "Confluence".into(),
            description: "Where Verdict looks for pages about a ticket (risk acceptances, runbooks).".into(),
            fields: vec![field(crate::triage::confluence::KEY_SPACES, "Spaces", "Space keys searched for the ticket's key (comma-separated); linked pages outside them are ignored. Empty: only pages linked from the ticket.", list("space_key"), None)],
        },
        Group {
            id: "risk".into(),
            title: "Accepted risk".into(),
            description: "How long an accepted risk lasts, and what the risk-acceptance rule requires of a Confluence page.".into(),
            fields: vec![
                field(crate::triage::KEY_RISK_EXPIRY_DAYS, "Expiry (days)", "An accepted risk reopens after this many days, with a comment on the ticket.", FieldKind::Integer { min: 1, max: 3650 }, Some("90")),
                field("risk.approved_label", "Approval label", "The label an approved risk-acceptance page carries (read by the risk-acceptance rule).", FieldKind::Label, Some("risk-approved")),
                field("risk.max_age_days", "Page age limit (days)", "A risk-acceptance page older than this does not count (risk-acceptance rule).", FieldKind::Integer { min: 1, max: 3650 }, Some("365")),
            ],
        },
        Group {
            id: "closure".into(),
            title: "Closure".into(),
            description: "What Verdict does on the ticket after deciding.".into(),
            fields: vec![field(crate::triage::KEY_CLOSURE_COMMENT, "Comment the decision", "Add a [Verdict] comment saying what the closure was taken to mean and why.", FieldKind::Bool, Some("false"))],
        },
        Group {
            id: "limits".into(),
            title: "Rule limits".into(),
            description: "What one rule evaluation may use. Never above the server's ceiling.".into(),
            fields: {
                let d = Limits::default();
                vec![
                    field(&format!("{LIMITS_PREFIX}fuel"), "Instructions", &format!("Fuel per evaluation (1–{}).", CEILING.fuel), FieldKind::Integer { min: 1, max: CEILING.fuel as i64 }, Some(&d.fuel.to_string())),
                    field(&format!("{LIMITS_PREFIX}deadline_ms"), "Deadline (ms)", &format!("Wall-clock time per evaluation (1–{}).", CEILING.deadline_ms), FieldKind::Integer { min: 1, max: CEILING.deadline_ms as i64 }, Some(&d.deadline_ms.to_string())),
                    field(&format!("{LIMITS_PREFIX}memory_bytes"), "Memory (bytes)", &format!("Linear memory (1–{}).", CEILING.memory_bytes), FieldKind::Integer { min: 1, max: CEILING.memory_bytes as i64 }, Some(&d.memory_bytes.to_string())),
                    field(&format!("{LIMITS_PREFIX}input_bytes"), "Input (bytes)", &format!("The rule's input as JSON (1–{}).", CEILING.input_bytes), FieldKind::Integer { min: 1, max: CEILING.input_bytes as i64 }, Some(&d.input_bytes.to_string())),
                    field(&format!("{LIMITS_PREFIX}output_bytes"), "Output (bytes)", &format!("The decision as JSON (1–{}).", CEILING.output_bytes), FieldKind::Integer { min: 1, max: CEILING.output_bytes as i64 }, Some(&d.output_bytes.to_string())),
                    field(&format!("{LIMITS_PREFIX}log_bytes"), "Logs kept (bytes)", &format!("Log text kept per evaluation (1–{}).", CEILING.log_bytes), FieldKind::Integer { min: 1, max: CEILING.log_bytes as i64 }, Some(&d.log_bytes.to_string())),
                    field(&format!("{LIMITS_PREFIX}module_bytes"), "Module size (bytes)", &format!("Largest rule upload (1–{}).", CEILING.module_bytes), FieldKind::Integer { min: 1, max: CEILING.module_bytes as i64 }, Some(&d.module_bytes.to_string())),
                ]
            },
        },
    ]
}

/// What Jira says exists, for checking picker values. `None` where it was not fetched.
#[derive(Debug, Default, Clone)]
pub struct JiraFacts {
    pub projects: Option<Vec<ProjectRef>>,
    pub issue_types: Option<Vec<Named>>,
    pub priorities: Option<Vec<Named>>,
    pub resolutions: Option<Vec<Named>>,
    pub statuses: Option<Vec<StatusOption>>,
}

fn items(value: &str) -> Vec<&str> {
    value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect()
}

fn is_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 255
        && s.chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.' | ':'))
}

/// Checks one value and returns it normalised (trimmed, lists re-joined with `,`).
pub fn check(field: &Field, raw: &str, facts: &JiraFacts) -> Result<String, String> {
    let value = raw.trim();
    match &field.kind {
        FieldKind::Bool => match value.to_ascii_lowercase().as_str() {
            "true" | "on" | "yes" => Ok("true".into()),
            "false" | "off" | "no" => Ok("false".into()),
            _ => Err("must be true or false".into()),
        },
        FieldKind::Integer { min, max } => match value.parse::<i64>() {
            Ok(n) if (*min..=*max).contains(&n) => Ok(n.to_string()),
            Ok(_) => Err(format!("must be between {min} and {max}")),
            Err(_) => Err(format!("must be a whole number between {min} and {max}")),
        },
        FieldKind::Number { min, max } => match value.parse::<f64>() {
            Ok(n) if n.is_finite() && n >= *min && n <= *max => Ok(value.to_owned()),
            _ => Err(format!("must be a number between {min} and {max}")),
        },
        FieldKind::Choice { options } => options
            .iter()
            .find(|o| o.value.eq_ignore_ascii_case(value))
            .map(|o| o.value.clone())
            .ok_or_else(|| {
                format!(
                    "must be one of {}",
                    options
                        .iter()
                        .map(|o| o.value.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            }),
        FieldKind::Text { max } => {
            if value.chars().count() > *max {
                Err(format!("must be at most {max} characters"))
            } else {
                Ok(value.to_owned())
            }
        }
        FieldKind::Label => {
            if is_label(value) {
                Ok(value.to_owned())
            } else {
                Err("must be one label: letters, digits, -, _, . (no spaces)".into())
            }
        }
        FieldKind::List { item } => {
            let parts = items(value);
            if parts.len() > 100 {
                return Err("at most 100 items".into());
            }
            for p in &parts {
                let ok = match item.as_str() {
                    "token" => p
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_')),
                    "label" => is_label(p),
                    "space_key" => {
                        p.len() <= 255 && p.chars().all(|c| c.is_ascii_alphanumeric() || c == '~')
                    }
                    _ => p.len() <= 1024,
                };
                if !ok {
                    let what = match item.as_str() {
                        "token" => "letters, digits, - and _",
                        "label" => "labels without spaces",
                        "space_key" => "Confluence space keys (letters and digits)",
                        _ => "items of at most 1024 characters",
                    };
                    return Err(format!("`{p}` is not valid here: use {what}"));
                }
            }
            Ok(parts.join(","))
        }
        FieldKind::Template => match value {
            "full" | "limited" => Ok(value.to_owned()),
            custom => {
                if custom.chars().count() > 4000 {
                    return Err("a template is at most 4000 characters".into());
                }
                crate::sync::template::validate(custom)
                    .map(|()| custom.to_owned())
                    .map_err(|e| e.to_string())
            }
        },
        FieldKind::SummaryTemplate | FieldKind::FieldMap | FieldKind::Json => {
            crate::rules::registry::check_ticket_setting(&field.key, value)
                .map(|()| value.to_owned())
                .map_err(|e| {
                    e.strip_prefix(&format!("setting `{}`: ", field.key))
                        .map(str::to_owned)
                        .unwrap_or(e)
                })
        }
        FieldKind::Jira { source, multiple } => {
            let parts = if *multiple { items(value) } else { vec![value] };
            if !*multiple && value.contains(',') {
                return Err("choose one value".into());
            }
            let known: Option<Vec<(String, String)>> = match source {
                Source::Projects => facts.projects.as_ref().map(|l| {
                    l.iter()
                        .map(|p| (p.key.clone(), format!("{} ({})", p.name, p.key)))
                        .collect()
                }),
                Source::IssueTypes => facts
                    .issue_types
                    .as_ref()
                    .map(|l| l.iter().map(|t| (t.name.clone(), t.name.clone())).collect()),
                Source::Priorities => facts
                    .priorities
                    .as_ref()
                    .map(|l| l.iter().map(|t| (t.name.clone(), t.name.clone())).collect()),
                Source::Resolutions => facts
                    .resolutions
                    .as_ref()
                    .map(|l| l.iter().map(|t| (t.name.clone(), t.name.clone())).collect()),
                Source::Statuses => facts
                    .statuses
                    .as_ref()
                    .map(|l| l.iter().map(|t| (t.id.clone(), t.name.clone())).collect()),
            };
            let mut out = Vec::new();
            for p in parts {
                if p.len() > 255 {
                    return Err("values are at most 255 characters".into());
                }
                match &known {
                    Some(k) => match k.iter().find(|(v, _)| v.eq_ignore_ascii_case(p)) {
                        Some((v, _)) => out.push(v.clone()),
                        None => {
                            let what = match source {
                                Source::Projects => "project",
                                Source::IssueTypes => "issue type in this project",
                                Source::Priorities => "priority",
                                Source::Resolutions => "resolution",
                                Source::Statuses => "status id",
                            };
                            return Err(format!("Jira has no {what} `{p}`"));
                        }
                    },
                    None => out.push(p.to_owned()),
                }
            }
            Ok(out.join(","))
        }
    }
}

/// The stored settings of a tenant, key → value.
pub async fn stored(
    state: &AppState,
    tenant: &str,
) -> Result<BTreeMap<String, String>, AdminError> {
    Ok(state
        .rules()
        .settings(tenant)
        .await?
        .into_iter()
        .map(|s| (s.key, s.value))
        .collect())
}

/// The forms with the tenant's values filled in.
pub async fn view(state: &AppState, tenant: &str) -> Result<SettingsView, AdminError> {
    let mut values = stored(state, tenant).await?;
    let mut groups = catalogue();
    for g in &mut groups {
        for f in &mut g.fields {
            f.value = values.remove(&f.key);
        }
    }
    Ok(SettingsView {
        groups,
        other: values,
    })
}

/// Asks Jira for what the new values name, so a typo is an inline error rather than a
/// ticket that fails later. Unreachable Jira means format checks only.
async fn facts_for(
    state: &AppState,
    tenant: &str,
    group: &Group,
    new: &BTreeMap<String, String>,
    current: &BTreeMap<String, String>,
) -> JiraFacts {
    let sources: BTreeSet<Source> = group
        .fields
        .iter()
        .filter(|f| new.get(&f.key).is_some_and(|v| !v.trim().is_empty()))
        .filter_map(|f| match f.kind {
            FieldKind::Jira { source, .. } => Some(source),
            _ => None,
        })
        .collect();
    let mut facts = JiraFacts::default();
    if sources.is_empty() {
        return facts;
    }
    let auth = match state.jira_auth(tenant).await {
        Ok(a) => a,
        Err(e) => {
            tracing::info!(tenant, error = %e, "settings checked without Jira (not connected)");
            return facts;
        }
    };
    let jira = state.jira();
    for source in sources {
        let result = match source {
            Source::Projects => jira.projects(&auth).await.map(|v| facts.projects = Some(v)),
            Source::IssueTypes => {
                let project = new
                    .get("ticket.project")
                    .filter(|p| !p.trim().is_empty())
                    .or_else(|| current.get("ticket.project"));
                match project {
                    Some(p) => jira
                        .project_issue_types(&auth, p.trim())
                        .await
                        .map(|v| facts.issue_types = Some(v)),
                    None => Ok(()),
                }
            }
            Source::Priorities => jira
                .priorities(&auth)
                .await
                .map(|v| facts.priorities = Some(v)),
            Source::Resolutions => jira
                .resolutions(&auth)
                .await
                .map(|v| facts.resolutions = Some(v)),
            Source::Statuses => jira.statuses(&auth).await.map(|v| facts.statuses = Some(v)),
        };
        if let Err(e) = result {
            tracing::warn!(tenant, ?source, error = %e, "cannot read a Jira list to check settings against");
        }
    }
    facts
}

/// Validates and saves one form; all or nothing, audited with the values before and after.
pub async fn save(
    state: &AppState,
    ctx: &AdminCtx,
    group_id: &str,
    update: GroupUpdate,
) -> Result<SettingsView, AdminError> {
    let current = stored(state, &ctx.tenant_id).await?;
    let mut changes: Vec<(String, String)> = Vec::new();
    let mut problems = Vec::new();
    if group_id == OTHER {
        let known: BTreeSet<String> = catalogue()
            .into_iter()
            .flat_map(|g| g.fields.into_iter().map(|f| f.key))
            .collect();
        for (k, v) in &update.values {
            let k = k.trim();
            if known.contains(k) {
                problems.push(FieldProblem {
                    field: k.to_owned(),
                    message: "this setting has its own form".into(),
                });
            } else if k.starts_with(LIMITS_PREFIX) {
                problems.push(FieldProblem {
                    field: k.to_owned(),
                    message: "rule limits are set in the Rule limits form".into(),
                });
            } else if k.is_empty() || k.len() > 128 || k.chars().any(char::is_whitespace) {
                problems.push(FieldProblem {
                    field: k.to_owned(),
                    message: "a key is 1–128 characters without spaces".into(),
                });
            } else if v.len() > 4096 {
                problems.push(FieldProblem {
                    field: k.to_owned(),
                    message: "a value is at most 4096 bytes".into(),
                });
            } else if let Err(message) = match v.trim() {
                "" => Ok(()),
                value => crate::rules::registry::check_ticket_setting(k, value),
            } {
                problems.push(FieldProblem {
                    field: k.to_owned(),
                    message,
                });
            } else {
                changes.push((k.to_owned(), v.trim().to_owned()));
            }
        }
    } else {
        let group = catalogue()
            .into_iter()
            .find(|g| g.id == group_id)
            .ok_or_else(|| AdminError::NotFound(format!("no settings form `{group_id}`")))?;
        for k in update.values.keys() {
            if !group.fields.iter().any(|f| &f.key == k) {
                problems.push(FieldProblem {
                    field: k.clone(),
                    message: format!("not a setting of the {} form", group.title),
                });
            }
        }
        let facts = facts_for(state, &ctx.tenant_id, &group, &update.values, &current).await;
        for f in &group.fields {
            let Some(raw) = update.values.get(&f.key) else {
                continue;
            };
            if raw.trim().is_empty() {
                changes.push((f.key.clone(), String::new()));
                continue;
            }
            match check(f, raw, &facts).and_then(|v| {
                crate::rules::registry::check_ticket_setting(&f.key, &v)
                    .map(|()| v)
                    .map_err(|e| {
                        e.strip_prefix(&format!("setting `{}`: ", f.key))
                            .map(str::to_owned)
                            .unwrap_or(e)
                    })
            }) {
                Ok(v) => changes.push((f.key.clone(), v)),
                Err(message) => problems.push(FieldProblem {
                    field: f.key.clone(),
                    message,
                }),
            }
        }
        if group_id == "ticketing" {
            let after = |k: &str| {
                changes
                    .iter()
                    .find(|(key, _)| key == k)
                    .map(|(_, v)| v.clone())
                    .or_else(|| current.get(k).cloned())
                    .filter(|v| !v.is_empty())
            };
            let has_rule = matches!(
                state
                    .rules()
                    .rule_for(&ctx.tenant_id, None, rules_sdk::DecisionKind::Ticketing)
                    .await,
                Ok(Some(_))
            );
            if after(KEY_TICKET_AUTO).as_deref() == Some("true")
                && after("ticket.project").is_none()
                && !has_rule
                && !problems.iter().any(|p| p.field == "ticket.project")
            {
                problems.push(FieldProblem {
                    field: "ticket.project".into(),
                    message: "choose the project issues are filed in to turn auto-ticketing on"
                        .into(),
                });
            }
        }
    }
    if !problems.is_empty() {
        return Err(AdminError::Invalid(problems));
    }
    // Only real changes are written and audited.
    changes.retain(|(k, v)| current.get(k).map(String::as_str).unwrap_or("") != v);
    // A field map is checked against its create screen only when it changes.
    if let Err(e) = crate::sync::fields::check_with_jira(state, &ctx.tenant_id, &changes).await {
        let field = changes
            .iter()
            .map(|(k, _)| k)
            .find(|k| {
                verdict_wire::field_map::scope_of(k).is_some()
                    || k.starts_with(verdict_wire::field_map::KEY_OWNERS)
                    || k.starts_with(verdict_wire::field_map::KEY_EPIC)
            })
            .cloned()
            .unwrap_or_else(|| verdict_wire::field_map::KEY_FIELDS.to_owned());
        return Err(AdminError::invalid(&field, e.to_string()));
    }
    if changes.is_empty() {
        return view(state, &ctx.tenant_id).await;
    }
    let old: BTreeMap<&str, Option<&String>> = changes
        .iter()
        .map(|(k, _)| (k.as_str(), current.get(k)))
        .collect();
    let new: BTreeMap<&str, Option<&str>> = changes
        .iter()
        .map(|(k, v)| (k.as_str(), Some(v.as_str()).filter(|v| !v.is_empty())))
        .collect();
    {
        let store = state.store();
        let _w = store.write_lock().await;
        let txn = store.db().begin().await?;
        crate::rules::registry::write_settings(&txn, &ctx.tenant_id, &changes).await?;
        audit::record(
            &txn,
            ctx,
            action::SETTINGS_UPDATE,
            Some(group_id),
            Some(json!(old)),
            Some(json!(new)),
        )
        .await?;
        txn.commit().await?;
    }
    view(state, &ctx.tenant_id).await
}

/// Whether a key is one of the forms' (for the raw view).
pub fn is_catalogued(key: &str) -> bool {
    catalogue()
        .iter()
        .any(|g| g.fields.iter().any(|f| f.key == key))
}

/// Reads one stored setting.
pub async fn get_one(
    state: &AppState,
    tenant: &str,
    key: &str,
) -> Result<Option<String>, AdminError> {
    Ok(tenant_settings::Entity::find()
        .filter(tenant_settings::Column::TenantId.eq(tenant))
        .filter(tenant_settings::Column::Key.eq(key))
        .one(state.store().db())
        .await?
        .map(|s| s.value))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn find(key: &str) -> Field {
        catalogue()
            .into_iter()
            .flat_map(|g| g.fields)
            .find(|f| f.key == key)
            .unwrap_or_else(|| panic!("{key} is in the catalogue"))
    }

    #[test]
    fn every_documented_key_has_a_form() {
        for key in [
            "ticket.project",
            "ticket.issue_type",
            "ticket.min_severity",
            "ticket.min_score",
            "ticket.scan_types",
            "ticket.repositories",
            "ticket.labels",
            "ticket.template",
            "ticket.auto",
            "priority.critical",
            "priority.info",
            "sla_days.high",
            "resolutions.false_positive",
            "resolutions.accepted_risk",
            "resolutions.resolved",
            "resolutions.not_fixed",
            "closure.not_fixed",
            "transition.resolved_status_ids",
            "transition.open_status_ids",
            "confluence.spaces",
            "risk.expiry_days",
            "risk.approved_label",
            "risk.max_age_days",
            "closure.comment",
            "rules.limits.fuel",
            "rules.limits.module_bytes",
        ] {
            find(key);
        }
    }

    #[test]
    fn values_are_checked_and_normalised() {
        let none = JiraFacts::default();
        assert_eq!(
            check(&find("closure.comment"), " On ", &none),
            Ok("true".into())
        );
        assert!(check(&find("closure.comment"), "maybe", &none).is_err());
        assert_eq!(check(&find("sla_days.high"), "14", &none), Ok("14".into()));
        assert_eq!(
            check(&find("sla_days.high"), "9999", &none),
            Err("must be between 0 and 3650".into())
        );
        assert!(check(&find("ticket.min_score"), "10.5", &none).is_err());
        assert_eq!(
            check(&find("ticket.min_score"), "7.5", &none),
            Ok("7.5".into())
        );
        assert_eq!(
            check(&find("ticket.scan_types"), " sast ,  secrets,", &none),
            Ok("sast,secrets".into())
        );
        assert!(check(&find("ticket.labels"), "has space", &none).is_err());
        assert_eq!(
            check(&find("ticket.min_severity"), "HIGH", &none),
            Ok("high".into())
        );
        assert!(check(&find("ticket.template"), "{{nope}}", &none).is_err());
        assert_eq!(
            check(&find("ticket.template"), "limited", &none),
            Ok("limited".into())
        );
        assert!(check(&find("rules.limits.deadline_ms"), "5000", &none).is_err());
        assert!(check(&find("confluence.spaces"), "SEC, OPS", &none).is_ok());
        assert!(check(&find("confluence.spaces"), "SEC OPS", &none).is_err());
    }

    #[test]
    fn picker_values_must_exist_in_jira_when_jira_answered() {
        let facts = JiraFacts {
            projects: Some(vec![ProjectRef {
                id: "10000".into(),
                key: "APP".into(),
                name: "Application".into(),
            }]),
            resolutions: Some(vec![
                Named {
                    id: "1".into(),
                    name: "Won't Fix".into(),
                },
                Named {
                    id: "2".into(),
                    name: "Known Risk".into(),
                },
            ]),
            ..Default::default()
        };
        assert_eq!(
            check(&find("ticket.project"), "app", &facts),
            Ok("APP".into())
        );
        assert_eq!(
            check(&find("ticket.project"), "NOPE", &facts),
            Err("Jira has no project `NOPE`".into())
        );
        assert_eq!(
            check(
                &find("resolutions.accepted_risk"),
                "known risk, Won't Fix",
                &facts
            ),
            Ok("Known Risk,Won't Fix".into())
        );
        assert!(check(&find("ticket.project"), "APP,SEC", &facts).is_err());
        // Jira not asked (unreachable): the value is taken as given.
        assert_eq!(
            check(&find("ticket.project"), "SEC", &JiraFacts::default()),
            Ok("SEC".into())
        );
    }
}
