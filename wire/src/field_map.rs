//! Ticket field maps: the `ticket.fields*` settings (a Jira field → a static value or a template
//! over the finding), parsed and bounded without I/O. Shaping a value for a project's create
//! screen happens where the screen is known (the server); here a map is only well-formed.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::template::{self, TemplateError};

/// The setting holding a field map; `ticket.fields.<PROJECT>` and
/// `ticket.fields.<PROJECT>.<Issue_Type>` (spaces in the type's name as `_`) narrow it.
pub const KEY_FIELDS: &str = "ticket.fields";
/// At most this many fields in one map.
pub const MAX_ENTRIES: usize = 50;
/// Values nest at most this deep (Jira's shapes are at most `[{"value": …}]`, with a child).
pub const MAX_DEPTH: usize = 4;

/// Fields Verdict fills itself, and the setting an admin changes instead.
pub const VERDICT_OWNED: &[(&str, &str)] = &[
    ("summary", "ticket.summary"),
    ("description", "ticket.template"),
    ("project", "ticket.project"),
    ("issuetype", "ticket.issue_type"),
    ("labels", "ticket.labels"),
    ("priority", "priority.<severity>"),
    ("duedate", "sla_days.<severity>"),
    ("parent", "the export's `parent`"),
];

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FieldMapError {
    #[error("a field map is a JSON object of Jira field → value: {0}")]
    NotJson(String),
    #[error("a field map is a JSON object of Jira field → value")]
    NotObject,
    #[error("a field map sets at most {MAX_ENTRIES} fields")]
    TooMany,
    #[error("a field is named by its id (customfield_10042, components) or its name")]
    EmptyKey,
    #[error("`{field}` is filled by Verdict: set {setting} instead")]
    VerdictOwned { field: String, setting: String },
    #[error("`{field}`: {error}")]
    Template { field: String, error: TemplateError },
    #[error("`{field}`: values nest at most {MAX_DEPTH} levels")]
    TooDeep { field: String },
    #[error("`{field}`: null is not a value (leave the field out)")]
    Null { field: String },
}

/// A parsed field map: field id or name → value, string leaves being templates.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FieldMap {
    pub entries: BTreeMap<String, Value>,
}

fn check_value(field: &str, v: &Value, depth: usize) -> Result<(), FieldMapError> {
    if depth > MAX_DEPTH {
        return Err(FieldMapError::TooDeep {
            field: field.to_owned(),
        });
    }
    match v {
        Value::Null => Err(FieldMapError::Null {
            field: field.to_owned(),
        }),
        Value::String(s) => template::validate(s).map_err(|error| FieldMapError::Template {
            field: field.to_owned(),
            error,
        }),
        Value::Array(items) => items
            .iter()
            .try_for_each(|i| check_value(field, i, depth + 1)),
        Value::Object(m) => m
            .values()
            .try_for_each(|i| check_value(field, i, depth + 1)),
        Value::Bool(_) | Value::Number(_) => Ok(()),
    }
}

/// Parses and checks a field map's text.
pub fn parse(text: &str) -> Result<FieldMap, FieldMapError> {
    let value: Value =
        serde_json::from_str(text).map_err(|e| FieldMapError::NotJson(e.to_string()))?;
    let Value::Object(map) = value else {
        return Err(FieldMapError::NotObject);
    };
    if map.len() > MAX_ENTRIES {
        return Err(FieldMapError::TooMany);
    }
    let mut entries = BTreeMap::new();
    for (k, v) in map {
        let k = k.trim().to_owned();
        if k.is_empty() {
            return Err(FieldMapError::EmptyKey);
        }
        if let Some((_, setting)) = VERDICT_OWNED
            .iter()
            .find(|(f, _)| f.eq_ignore_ascii_case(&k))
        {
            return Err(FieldMapError::VerdictOwned {
                field: k,
                setting: (*setting).to_owned(),
            });
        }
        check_value(&k, &v, 1)?;
        entries.insert(k, v);
    }
    Ok(FieldMap { entries })
}

impl FieldMap {
    /// `narrower`'s fields replace this map's fields of the same name (case-insensitive).
    pub fn overlay(&mut self, narrower: FieldMap) {
        for (k, v) in narrower.entries {
            self.entries.retain(|old, _| !old.eq_ignore_ascii_case(&k));
            self.entries.insert(k, v);
        }
    }
}

/// The settings keys whose maps apply to `project` / `issue_type`, broadest first.
pub fn keys_for(project: &str, issue_type: &str) -> [String; 3] {
    let project = project.to_ascii_uppercase();
    [
        KEY_FIELDS.to_owned(),
        format!("{KEY_FIELDS}.{project}"),
        format!("{KEY_FIELDS}.{project}.{}", issue_type.replace(' ', "_")),
    ]
}

/// What a field map key applies to: `(project, issue type)`, each absent for the broader keys.
/// `None` when the key is not a field map key.
pub fn scope_of(key: &str) -> Option<(Option<String>, Option<String>)> {
    if key == KEY_FIELDS {
        return Some((None, None));
    }
    let rest = key.strip_prefix(KEY_FIELDS)?.strip_prefix('.')?;
    let (project, issue_type) = match rest.split_once('.') {
        Some((p, t)) => (p, Some(t.replace('_', " "))),
        None => (rest, None),
    };
    let valid_project = !project.is_empty()
        && project.len() <= 64
        && project
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid_project || issue_type.as_deref().is_some_and(|t| t.trim().is_empty()) {
        return None;
    }
    Some((Some(project.to_ascii_uppercase()), issue_type))
}

/// The value with every string leaf expanded over `vars` (a leaf that does not expand stays
/// as written; `parse` refused those).
pub fn expand(value: &Value, vars: &BTreeMap<&str, String>) -> Value {
    match value {
        Value::String(s) => Value::String(
            template::expand(s, vars)
                .map(|t| t.trim().to_owned())
                .unwrap_or_else(|_| s.clone()),
        ),
        Value::Array(items) => Value::Array(items.iter().map(|i| expand(i, vars)).collect()),
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| (k.clone(), expand(v, vars)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// The summary setting: `ticket.summary`, or `ticket.summary.<PROJECT>` for one project.
pub const KEY_SUMMARY: &str = "ticket.summary";
/// A summary template is at most this long (before expansion).
pub const MAX_SUMMARY_TEMPLATE: usize = 500;

/// Checks a summary template.
pub fn check_summary(text: &str) -> Result<(), String> {
    let t = text.trim();
    if t.is_empty() {
        return Err("a summary template cannot be empty".into());
    }
    if t.chars().count() > MAX_SUMMARY_TEMPLATE {
        return Err(format!(
            "a summary template is at most {MAX_SUMMARY_TEMPLATE} characters"
        ));
    }
    if t.contains('\n') {
        return Err("a summary is one line".into());
    }
    template::validate(t).map_err(|e| e.to_string())
}

/// The setting that assigns tickets: a JSON list of `{"repository"?, "path"?, "assignee"}`,
/// the first rule whose conditions all hold wins.
pub const KEY_OWNERS: &str = "ticket.owners";
/// At most this many owner rules.
pub const MAX_OWNER_RULES: usize = 200;

/// One owner rule: conditions (absent = any) and who is assigned.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct OwnerRule {
    /// The finding's repository, exactly.
    #[serde(default)]
    pub repository: Option<String>,
    /// A prefix of the finding's file path (`src/billing/`).
    #[serde(default)]
    pub path: Option<String>,
    /// An Atlassian account id (Cloud) or user name (Data Center).
    pub assignee: String,
}

/// Parses and bounds `ticket.owners`.
pub fn parse_owners(text: &str) -> Result<Vec<OwnerRule>, String> {
    let rules: Vec<OwnerRule> = serde_json::from_str(text).map_err(|e| {
        format!("owners are a JSON list of {{\"repository\", \"path\", \"assignee\"}}: {e}")
    })?;
    if rules.len() > MAX_OWNER_RULES {
        return Err(format!("at most {MAX_OWNER_RULES} owner rules"));
    }
    for (i, r) in rules.iter().enumerate() {
        let a = r.assignee.trim();
        if a.is_empty() || a.len() > 128 || a.chars().any(char::is_whitespace) {
            return Err(format!(
                "rule {}: `assignee` is an account id or user name (1–128 characters, no spaces)",
                i + 1
            ));
        }
        for (name, v) in [("repository", &r.repository), ("path", &r.path)] {
            if v.as_deref()
                .is_some_and(|v| v.trim().is_empty() || v.len() > 1024)
            {
                return Err(format!("rule {}: `{name}` is 1–1024 characters", i + 1));
            }
        }
    }
    Ok(rules)
}

/// Who `rules` assign a finding from `repository` at `file` to.
pub fn owner_for<'a>(
    rules: &'a [OwnerRule],
    repository: Option<&str>,
    file: Option<&str>,
) -> Option<&'a str> {
    rules
        .iter()
        .find(|r| {
            r.repository
                .as_deref()
                .is_none_or(|want| repository == Some(want))
                && r.path
                    .as_deref()
                    .is_none_or(|p| file.is_some_and(|f| f.starts_with(p)))
        })
        .map(|r| r.assignee.trim())
}

/// The settings naming an epic: `ticket.epic` (or `ticket.epic.<PROJECT>`) is an epic's key;
/// `ticket.epic_by = repository` makes one epic per repository instead.
pub const KEY_EPIC: &str = "ticket.epic";
pub const KEY_EPIC_BY: &str = "ticket.epic_by";
/// The issue type epics are created with (default `Epic`).
pub const KEY_EPIC_ISSUE_TYPE: &str = "ticket.epic_issue_type";

/// Whether `s` looks like a Jira issue key (`SEC-12`).
pub fn is_issue_key(s: &str) -> bool {
    let Some((project, number)) = s.rsplit_once('-') else {
        return false;
    };
    !project.is_empty()
        && project.len() <= 64
        && project
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_')
        && project
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic())
        && !number.is_empty()
        && number.len() <= 12
        && number.chars().all(|c| c.is_ascii_digit())
}

/// The setting that groups findings into one ticket: `none` (default), `vulnerability`,
/// `rule` or `package` (see [`GroupBy`]).
pub const KEY_GROUP_BY: &str = "ticket.group_by";

/// What findings that share one ticket have in common.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupBy {
    /// One ticket per finding.
    None,
    /// The same vulnerability id (the first, sorted, of a finding's `vulnerability_ids`).
    Vulnerability,
    /// The same scanner rule id.
    Rule,
    /// The same package in the same repository.
    Package,
}

impl std::str::FromStr for GroupBy {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "" | "none" => Ok(GroupBy::None),
            "vulnerability" => Ok(GroupBy::Vulnerability),
            "rule" => Ok(GroupBy::Rule),
            "package" => Ok(GroupBy::Package),
            other => Err(format!(
                "`{other}` is not a grouping: use none, vulnerability, rule or package"
            )),
        }
    }
}

/// Group keys are stored in a 300-byte column; longer ones are named by their hash.
const GROUP_KEY_BYTES: usize = 300;

/// The group a finding with these facts belongs to under `by`, or `None` (a ticket of its
/// own) when it lacks the fact grouped by. Keys read `vulnerability:CVE-2021-44228`,
/// `rule:<rule id>`, `package:<repository>|<package>`.
pub fn group_key(
    by: GroupBy,
    vulnerability_ids: &[String],
    rule_id: Option<&str>,
    repository: Option<&str>,
    package: Option<&str>,
) -> Option<String> {
    let key = match by {
        GroupBy::None => return None,
        GroupBy::Vulnerability => format!("vulnerability:{}", vulnerability_ids.iter().min()?),
        GroupBy::Rule => format!("rule:{}", rule_id?),
        GroupBy::Package => format!("package:{}|{}", repository.unwrap_or(""), package?),
    };
    if key.len() <= GROUP_KEY_BYTES {
        return Some(key);
    }
    use sha2::Digest;
    let (kind, _) = key.split_once(':').unwrap_or(("group", ""));
    Some(format!(
        "{kind}:sha256:{}",
        hex::encode(sha2::Sha256::digest(key.as_bytes()))
    ))
}

/// The label a group's tickets carry (`verdict-group-<12 hex>`): Jira labels take no spaces
/// and at most 255 characters, so the key goes by its hash.
pub fn group_label(key: &str) -> String {
    use sha2::Digest;
    let hash = hex::encode(sha2::Sha256::digest(key.as_bytes()));
    format!("verdict-group-{}", &hash[..12])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_keys_name_what_findings_share() {
        let ids = vec!["CVE-2021-45046".to_owned(), "CVE-2021-44228".to_owned()];
        assert_eq!(
            group_key(GroupBy::Vulnerability, &ids, None, None, None).as_deref(),
            Some("vulnerability:CVE-2021-44228")
        );
        assert_eq!(
            group_key(GroupBy::Vulnerability, &[], Some("r"), None, None),
            None
        );
        assert_eq!(group_key(GroupBy::None, &ids, Some("r"), None, None), None);
        assert_eq!(
            group_key(GroupBy::Rule, &[], Some("java.log4j"), None, None).as_deref(),
            Some("rule:java.log4j")
        );
        assert_eq!(
            group_key(
                GroupBy::Package,
                &[],
                None,
                Some("acme/api"),
                Some("npm:lodash")
            )
            .as_deref(),
            Some("package:acme/api|npm:lodash")
        );
        assert_eq!(
            group_key(GroupBy::Package, &[], None, Some("acme/api"), None),
            None
        );
        let long = "x".repeat(400);
        let key = group_key(GroupBy::Rule, &[], Some(&long), None, None).unwrap();
        assert!(key.starts_with("rule:sha256:") && key.len() < 300, "{key}");
        assert_eq!("Package".parse::<GroupBy>(), Ok(GroupBy::Package));
        assert!(
            "cve"
                .parse::<GroupBy>()
                .unwrap_err()
                .contains("vulnerability")
        );
        assert!(group_label("rule:x").starts_with("verdict-group-"));
        assert_eq!(group_label("rule:x").len(), "verdict-group-".len() + 12);
    }

    #[test]
    fn maps_are_objects_of_templates_and_leave_verdicts_fields_alone() {
        let m = parse(r#"{"Team": "Platform", "components": ["{{repository}}"], "customfield_10050": {"value": "High"}, "Score": 7}"#).unwrap();
        assert_eq!(m.entries.len(), 4);
        assert!(matches!(parse("[1]"), Err(FieldMapError::NotObject)));
        assert!(matches!(parse("{"), Err(FieldMapError::NotJson(_))));
        assert_eq!(
            parse(r#"{"Summary": "x"}"#).unwrap_err().to_string(),
            "`Summary` is filled by Verdict: set ticket.summary instead"
        );
        assert!(matches!(
            parse(r#"{"Team": "{{nope}}"}"#),
            Err(FieldMapError::Template { .. })
        ));
        assert!(matches!(
            parse(r#"{"Team": null}"#),
            Err(FieldMapError::Null { .. })
        ));
        assert!(matches!(
            parse(r#"{"a": [[[[["deep"]]]]]}"#),
            Err(FieldMapError::TooDeep { .. })
        ));
        let many: String = format!(
            "{{{}}}",
            (0..51)
                .map(|i| format!("\"f{i}\": \"x\""))
                .collect::<Vec<_>>()
                .join(",")
        );
        assert_eq!(parse(&many), Err(FieldMapError::TooMany));
    }

    #[test]
    fn narrower_maps_win_and_keys_name_their_scope() {
        let mut m = parse(r#"{"Team": "A", "Env": "prod"}"#).unwrap();
        m.overlay(parse(r#"{"team": "B"}"#).unwrap());
        assert_eq!(m.entries.len(), 2);
        assert_eq!(m.entries["team"], "B");
        assert_eq!(scope_of("ticket.fields"), Some((None, None)));
        assert_eq!(
            scope_of("ticket.fields.sec.Security_Bug"),
            Some((Some("SEC".into()), Some("Security Bug".into())))
        );
        assert_eq!(scope_of("ticket.fieldsX"), None);
        assert_eq!(scope_of("ticket.fields.SE C"), None);
        assert_eq!(
            keys_for("sec", "Security Bug")[2],
            "ticket.fields.SEC.Security_Bug"
        );
    }

    #[test]
    fn owners_pick_the_first_rule_that_holds() {
        let rules = parse_owners(
            r#"[{"repository": "acme/pay", "path": "src/billing/", "assignee": "a1"},
                {"repository": "acme/pay", "assignee": "a2"}, {"assignee": "a3"}]"#,
        )
        .unwrap();
        assert_eq!(
            owner_for(&rules, Some("acme/pay"), Some("src/billing/x.rs")),
            Some("a1")
        );
        assert_eq!(
            owner_for(&rules, Some("acme/pay"), Some("src/web.rs")),
            Some("a2")
        );
        assert_eq!(owner_for(&rules, None, None), Some("a3"));
        assert!(parse_owners(r#"[{"assignee": "has space"}]"#).is_err());
        assert!(parse_owners(r#"[{"assignee": "a", "team": "x"}]"#).is_err());
        assert!(is_issue_key("SEC-12") && !is_issue_key("sec 12") && !is_issue_key("12-3"));
    }

    #[test]
    fn string_leaves_expand() {
        let mut vars = BTreeMap::new();
        vars.insert("repository", "payments".to_owned());
        let v = expand(&serde_json::json!({"a": ["{{repository}}-team", 3]}), &vars);
        assert_eq!(v, serde_json::json!({"a": ["payments-team", 3]}));
        assert!(check_summary("[{{severity}}] {{title}}").is_ok());
        assert!(check_summary("{{nope}}").is_err());
        assert!(check_summary(" ").is_err());
    }
}
