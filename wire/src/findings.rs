//! Finding types: what scanners send (validated and normalised here), what the API returns,
//! and the audit-trail vocabulary (actors and sources).

use std::fmt;

use chrono::{DateTime, Utc};
use rules_sdk::{FindingStatus, Severity};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Size limits on imported fields, named so the API docs and errors can quote them.
pub mod limits {
    pub const EXTERNAL_ID_BYTES: usize = 512;
    pub const TITLE_CHARS: usize = 1024;
    pub const DESCRIPTION_BYTES: usize = 256 * 1024;
    pub const SNIPPET_BYTES: usize = 64 * 1024;
    pub const CVSS_VECTOR_BYTES: usize = 256;
    pub const REPOSITORY_BYTES: usize = 1024;
    pub const FILE_PATH_BYTES: usize = 4096;
    pub const SCAN_TYPE_BYTES: usize = 64;
    pub const MAX_LINE: u32 = 100_000_000;
    pub const TAGS: usize = 50;
    pub const TAG_CHARS: usize = 100;
    pub const CWES: usize = 50;
    pub const REASON_BYTES: usize = 4096;
    pub const RULE_ID_BYTES: usize = 256;
    pub const PACKAGE_BYTES: usize = 256;
    pub const VULNERABILITY_IDS: usize = 20;
    pub const VULNERABILITY_ID_BYTES: usize = 64;
    pub const BATCH_FINDINGS: usize = 10_000;
}

/// A finding as a scanner submits it. Unknown fields are rejected so typos surface at once.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FindingInput {
    /// The scanner's id for this finding; imports upsert on it (unique per tenant).
    pub external_id: String,
    pub title: String,
    #[serde(default)]
    pub description: Option<String>,
    #[schema(schema_with = crate::findings::severity_schema)]
    pub severity: Severity,
    /// 0–10.
    #[serde(default)]
    pub score: Option<f64>,
    /// e.g. `CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H`.
    #[serde(default)]
    pub cvss_vector: Option<String>,
    /// 0–10.
    #[serde(default)]
    pub cvss_score: Option<f64>,
    #[serde(default)]
    pub cwe_ids: Vec<u32>,
    /// e.g. `sast`, `sca`, `secrets`, `dast`, `container`.
    #[serde(default)]
    pub scan_type: Option<String>,
    #[serde(default)]
    pub repository: Option<String>,
    #[serde(default)]
    pub file_path: Option<String>,
    #[serde(default)]
    pub line: Option<u32>,
    #[serde(default)]
    pub code_snippet: Option<String>,
    #[serde(default)]
    pub is_secret: bool,
    #[serde(default)]
    pub tags: Vec<String>,
    /// The scanner's rule (check) id, e.g. `python.lang.security.audit.eval` — a grouping key.
    #[serde(default)]
    pub rule_id: Option<String>,
    /// The affected package, e.g. `npm:lodash` or `lodash` — a grouping key (with the repository).
    #[serde(default)]
    pub package: Option<String>,
    /// Vulnerability ids (`CVE-2021-44228`, `GHSA-jfh8-c2jp-5v3q`, …) — a grouping key.
    #[serde(default)]
    pub vulnerability_ids: Vec<String>,
}

/// A problem with one field of the input.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// Validated, normalised scanner data. Field order is part of the content hash: append only.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ValidFinding {
    pub external_id: String,
    pub title: String,
    pub description: Option<String>,
    pub severity: Severity,
    pub score: Option<f64>,
    pub cvss_vector: Option<String>,
    pub cvss_score: Option<f64>,
    pub cwe_ids: Vec<u32>,
    pub scan_type: Option<String>,
    pub repository: Option<String>,
    pub file_path: Option<String>,
    pub line: Option<u32>,
    pub code_snippet: Option<String>,
    pub is_secret: bool,
    pub tags: Vec<String>,
    // Added later: left out of the hash when unset, so findings imported before keep theirs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub package: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub vulnerability_ids: Vec<String>,
}

impl ValidFinding {
    /// SHA-256 over the normalised fields: equal hashes mean a re-import changes nothing.
    pub fn content_hash(&self) -> String {
        let bytes = serde_json::to_vec(self).expect("plain data serialises");
        hex::encode(Sha256::digest(&bytes))
    }
}

fn check_text(field: &str, value: &str, max_bytes: usize) -> Result<(), FieldError> {
    if value.len() > max_bytes {
        return Err(FieldError::new(
            field,
            format!("is {} bytes, the limit is {max_bytes}", value.len()),
        ));
    }
    // PostgreSQL cannot store NUL in text; reject it everywhere so both backends agree.
    if value.contains('\0') {
        return Err(FieldError::new(field, "must not contain NUL characters"));
    }
    Ok(())
}

fn optional_text(
    field: &str,
    value: Option<String>,
    max_bytes: usize,
) -> Result<Option<String>, FieldError> {
    match value {
        Some(v) => {
            check_text(field, &v, max_bytes)?;
            let trimmed = v.trim();
            Ok((!trimmed.is_empty()).then(|| trimmed.to_owned()))
        }
        None => Ok(None),
    }
}

fn check_score(field: &str, value: Option<f64>) -> Result<Option<f64>, FieldError> {
    match value {
        Some(s) if !(0.0..=10.0).contains(&s) => {
            Err(FieldError::new(field, format!("{s} is outside 0 to 10")))
        }
        other => Ok(other),
    }
}

/// CVSS v2 (`AV:N/...`), v3.x and v4.0 (`CVSS:3.1/AV:N/...`): `/`-separated `METRIC:VALUE` pairs.
fn check_cvss_vector(value: &str) -> Result<(), FieldError> {
    let metrics = match value
        .strip_prefix("CVSS:")
        .and_then(|rest| rest.split_once('/'))
    {
        Some(("3.0" | "3.1" | "4.0", body)) => body,
        Some((version, _)) => {
            return Err(FieldError::new(
                "cvss_vector",
                format!("unsupported CVSS version `{version}` (expected 3.0, 3.1 or 4.0)"),
            ));
        }
        None => value,
    };
    let well_formed = !metrics.is_empty()
        && metrics.split('/').all(|pair| {
            pair.split_once(':').is_some_and(|(k, v)| {
                !k.is_empty()
                    && !v.is_empty()
                    && k.chars().all(|c| c.is_ascii_alphanumeric())
                    && v.chars().all(|c| c.is_ascii_alphanumeric())
            })
        });
    if well_formed {
        Ok(())
    } else {
        Err(FieldError::new(
            "cvss_vector",
            format!("`{value}` is not a CVSS vector (METRIC:VALUE pairs separated by `/`)"),
        ))
    }
}

impl FindingInput {
    /// Checks every limit and normalises: trims text, lower-cases the scan type, sorts and
    /// de-duplicates tags and CWE ids (so their order never counts as a change).
    pub fn validate(self) -> Result<ValidFinding, FieldError> {
        let external_id = self.external_id.trim().to_owned();
        if external_id.is_empty() {
            return Err(FieldError::new("external_id", "must not be empty"));
        }
        check_text("external_id", &external_id, limits::EXTERNAL_ID_BYTES)?;
        let title = self.title.trim().to_owned();
        if title.is_empty() {
            return Err(FieldError::new("title", "must not be empty"));
        }
        check_text("title", &title, usize::MAX)?;
        if title.chars().count() > limits::TITLE_CHARS {
            return Err(FieldError::new(
                "title",
                format!("is longer than {} characters", limits::TITLE_CHARS),
            ));
        }
        let description =
            optional_text("description", self.description, limits::DESCRIPTION_BYTES)?;
        let score = check_score("score", self.score)?;
        let cvss_score = check_score("cvss_score", self.cvss_score)?;
        let cvss_vector =
            optional_text("cvss_vector", self.cvss_vector, limits::CVSS_VECTOR_BYTES)?;
        if let Some(v) = &cvss_vector {
            check_cvss_vector(v)?;
        }
        let mut cwe_ids = self.cwe_ids;
        if cwe_ids.contains(&0) {
            return Err(FieldError::new("cwe_ids", "CWE ids are positive numbers"));
        }
        cwe_ids.sort_unstable();
        cwe_ids.dedup();
        if cwe_ids.len() > limits::CWES {
            return Err(FieldError::new(
                "cwe_ids",
                format!("at most {} CWE ids", limits::CWES),
            ));
        }
        let scan_type = optional_text("scan_type", self.scan_type, limits::SCAN_TYPE_BYTES)?
            .map(|s| s.to_ascii_lowercase());
        if let Some(s) = &scan_type
            && !s
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(FieldError::new(
                "scan_type",
                format!("`{s}` may only contain letters, digits, `-` and `_`"),
            ));
        }
        let repository = optional_text("repository", self.repository, limits::REPOSITORY_BYTES)?;
        let file_path = optional_text("file_path", self.file_path, limits::FILE_PATH_BYTES)?;
        if let Some(line) = self.line
            && !(1..=limits::MAX_LINE).contains(&line)
        {
            return Err(FieldError::new(
                "line",
                format!("{line} is outside 1 to {}", limits::MAX_LINE),
            ));
        }
        // Snippets keep their whitespace: indentation matters in code.
        let code_snippet = match self.code_snippet {
            Some(s) => {
                check_text("code_snippet", &s, limits::SNIPPET_BYTES)?;
                (!s.trim().is_empty()).then_some(s)
            }
            None => None,
        };
        let mut tags = Vec::with_capacity(self.tags.len());
        for (i, tag) in self.tags.into_iter().enumerate() {
            let field = format!("tags[{i}]");
            check_text(&field, &tag, usize::MAX)?;
            let tag = tag.trim().to_owned();
            if tag.is_empty() {
                return Err(FieldError::new(field, "must not be empty"));
            }
            if tag.chars().count() > limits::TAG_CHARS {
                return Err(FieldError::new(
                    field,
                    format!("is longer than {} characters", limits::TAG_CHARS),
                ));
            }
            tags.push(tag);
        }
        tags.sort();
        tags.dedup();
        if tags.len() > limits::TAGS {
            return Err(FieldError::new(
                "tags",
                format!("at most {} tags", limits::TAGS),
            ));
        }
        let rule_id = optional_text("rule_id", self.rule_id, limits::RULE_ID_BYTES)?;
        let package = optional_text("package", self.package, limits::PACKAGE_BYTES)?;
        let mut vulnerability_ids = Vec::with_capacity(self.vulnerability_ids.len());
        for (i, id) in self.vulnerability_ids.into_iter().enumerate() {
            let field = format!("vulnerability_ids[{i}]");
            check_text(&field, &id, limits::VULNERABILITY_ID_BYTES)?;
            // Ids compare case-insensitively (`cve-2021-1` is `CVE-2021-1`): one spelling.
            let id = id.trim().to_ascii_uppercase();
            let well_formed = id.starts_with(|c: char| c.is_ascii_alphanumeric())
                && id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':'));
            if !well_formed {
                return Err(FieldError::new(
                    field,
                    format!(
                        "`{id}` is not a vulnerability id (letters, digits, `-`, `_`, `.`, `:`; e.g. CVE-2021-44228)"
                    ),
                ));
            }
            vulnerability_ids.push(id);
        }
        vulnerability_ids.sort();
        vulnerability_ids.dedup();
        if vulnerability_ids.len() > limits::VULNERABILITY_IDS {
            return Err(FieldError::new(
                "vulnerability_ids",
                format!("at most {} vulnerability ids", limits::VULNERABILITY_IDS),
            ));
        }
        Ok(ValidFinding {
            rule_id,
            package,
            vulnerability_ids,
            external_id,
            title,
            description,
            severity: self.severity,
            score,
            cvss_vector,
            cvss_score,
            cwe_ids,
            scan_type,
            repository,
            file_path,
            line: self.line,
            code_snippet,
            is_secret: self.is_secret,
            tags,
        })
    }
}

/// Why an input finding was refused.
#[derive(Debug, Clone, PartialEq)]
pub enum InputError {
    /// Wrong type or shape, or an unknown field (HTTP 400).
    Malformed(FieldError),
    /// Well-formed but not acceptable: out of range, too long, empty (HTTP 422).
    Invalid(FieldError),
}

impl InputError {
    pub fn field_error(&self) -> &FieldError {
        match self {
            InputError::Malformed(e) | InputError::Invalid(e) => e,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            InputError::Malformed(_) => "invalid_field",
            InputError::Invalid(_) => "validation_failed",
        }
    }
}

/// Parses one finding from JSON, naming the field on failure (`severity`, `tags[2]`, …).
pub fn parse_finding(value: serde_json::Value) -> Result<ValidFinding, InputError> {
    // serde would accept a struct written as an array; findings are objects only.
    if !value.is_object() {
        return Err(InputError::Malformed(FieldError::new(
            "",
            format!("a finding must be a JSON object, got {}", json_kind(&value)),
        )));
    }
    let input: FindingInput = serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let field = if path == "." { String::new() } else { path };
        InputError::Malformed(FieldError::new(field, e.into_inner().to_string()))
    })?;
    input.validate().map_err(InputError::Invalid)
}

fn json_kind(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

/// Who changed something, for the audit trail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(tag = "kind", content = "id", rename_all = "snake_case")]
pub enum Actor {
    /// An API key, by key id.
    ApiKey(String),
    /// A Jira user, by Atlassian account id.
    JiraAccount(String),
    /// Verdict itself (expiry, rule evaluation, reconcile), with a component name.
    System(String),
}

impl Actor {
    pub fn kind(&self) -> &'static str {
        match self {
            Actor::ApiKey(_) => "api_key",
            Actor::JiraAccount(_) => "jira_account",
            Actor::System(_) => "system",
        }
    }

    pub fn id(&self) -> &str {
        match self {
            Actor::ApiKey(id) | Actor::JiraAccount(id) | Actor::System(id) => id,
        }
    }

    pub fn from_parts(kind: &str, id: String) -> Option<Self> {
        match kind {
            "api_key" => Some(Actor::ApiKey(id)),
            "jira_account" => Some(Actor::JiraAccount(id)),
            "system" => Some(Actor::System(id)),
            _ => None,
        }
    }
}

/// Through which path a change arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EventSource {
    Api,
    JiraWebhook,
    Rule,
    Reconcile,
    /// A scanner's import: a finding reported again, or missing from a full scan.
    Scan,
}

impl EventSource {
    pub fn as_str(self) -> &'static str {
        match self {
            EventSource::Api => "api",
            EventSource::JiraWebhook => "jira_webhook",
            EventSource::Rule => "rule",
            EventSource::Reconcile => "reconcile",
            EventSource::Scan => "scan",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::Api,
            Self::JiraWebhook,
            Self::Rule,
            Self::Reconcile,
            Self::Scan,
        ]
        .into_iter()
        .find(|v| v.as_str() == s)
    }
}

/// What kind of audit entry this is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// The finding was first imported (to status `open`).
    Created,
    /// The status changed.
    StatusChanged,
    /// Linked to a Jira issue.
    Linked,
    /// The link to its Jira issue was removed (unlinked, or the issue was deleted).
    Unlinked,
    /// A closure was seen and deliberately not applied; the reason says why.
    Skipped,
    /// A scan reported a resolved (or expired accepted-risk) finding again: it is open again.
    Reopened,
    /// A note was added (the reason is the note, masked); it goes to the ticket as a comment.
    Noted,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Created => "created",
            EventKind::StatusChanged => "status_changed",
            EventKind::Linked => "linked",
            EventKind::Unlinked => "unlinked",
            EventKind::Skipped => "skipped",
            EventKind::Reopened => "reopened",
            EventKind::Noted => "noted",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::Created,
            Self::StatusChanged,
            Self::Linked,
            Self::Unlinked,
            Self::Skipped,
            Self::Reopened,
            Self::Noted,
        ]
        .into_iter()
        .find(|v| v.as_str() == s)
    }
}

/// A rule that decided a change, by id and version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct RuleRef {
    pub id: String,
    pub version: String,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct JiraLink {
    pub site: String,
    /// The stable link: Jira issue ids never change.
    pub issue_id: String,
    pub issue_key: String,
    pub project_key: String,
    /// The group whose ticket this is, when findings share it (`ticket.group_by`), e.g.
    /// `vulnerability:CVE-2021-44228`.
    pub group: Option<String>,
}

/// A finding as the API returns it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Finding {
    pub id: String,
    pub external_id: String,
    pub title: String,
    pub description: Option<String>,
    #[schema(schema_with = severity_schema)]
    pub severity: Severity,
    pub score: Option<f64>,
    pub cvss_vector: Option<String>,
    pub cvss_score: Option<f64>,
    pub cwe_ids: Vec<u32>,
    pub scan_type: Option<String>,
    pub repository: Option<String>,
    pub file_path: Option<String>,
    pub line: Option<u32>,
    pub code_snippet: Option<String>,
    pub is_secret: bool,
    pub tags: Vec<String>,
    pub rule_id: Option<String>,
    pub package: Option<String>,
    pub vulnerability_ids: Vec<String>,
    #[schema(schema_with = status_schema)]
    pub status: FindingStatus,
    pub jira: Option<JiraLink>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// One audit-trail entry.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct FindingEvent {
    pub id: String,
    pub finding_id: String,
    pub kind: EventKind,
    #[schema(schema_with = optional_status_schema)]
    pub from_status: Option<FindingStatus>,
    #[schema(schema_with = optional_status_schema)]
    pub to_status: Option<FindingStatus>,
    pub actor: Actor,
    pub source: EventSource,
    pub reason: Option<String>,
    pub rule: Option<RuleRef>,
    pub created_at: DateTime<Utc>,
}

fn enum_schema(values: &[&str]) -> utoipa::openapi::schema::Object {
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some(values.iter().copied()))
        .build()
}

pub fn severity_schema() -> utoipa::openapi::schema::Object {
    let names: Vec<&str> = Severity::ALL.iter().map(|s| s.as_str()).collect();
    enum_schema(&names)
}

pub fn status_schema() -> utoipa::openapi::schema::Object {
    let names: Vec<&str> = FindingStatus::ALL.iter().map(|s| s.as_str()).collect();
    enum_schema(&names)
}

pub fn optional_status_schema() -> utoipa::openapi::schema::Object {
    let mut names: Vec<Option<&str>> = FindingStatus::ALL
        .iter()
        .map(|s| Some(s.as_str()))
        .collect();
    names.push(None);
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::SchemaType::from_iter([
            utoipa::openapi::schema::Type::String,
            utoipa::openapi::schema::Type::Null,
        ]))
        .enum_values(Some(names))
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn base() -> serde_json::Value {
        json!({"external_id": "X-1", "title": "SQL injection", "severity": "high"})
    }

    fn with(field: &str, value: serde_json::Value) -> serde_json::Value {
        let mut v = base();
        v[field] = value;
        v
    }

    #[test]
    fn minimal_finding_parses_and_normalises() {
        let f = parse_finding(json!({
            "external_id": " X-1 ", "title": "t", "severity": "low",
            "tags": ["b", "a", "b"], "cwe_ids": [89, 79, 89], "scan_type": "SAST"
        }))
        .unwrap();
        assert_eq!(f.external_id, "X-1");
        assert_eq!(f.tags, vec!["a", "b"]);
        assert_eq!(f.cwe_ids, vec![79, 89]);
        assert_eq!(f.scan_type.as_deref(), Some("sast"));
    }

    #[test]
    fn errors_name_the_field() {
        let cases = [
            (with("severity", json!("huge")), "severity"),
            (with("score", json!(11)), "score"),
            (with("cvss_score", json!(-1)), "cvss_score"),
            (with("cvss_vector", json!("nonsense")), "cvss_vector"),
            (with("line", json!(0)), "line"),
            (with("title", json!("  ")), "title"),
            (with("external_id", json!("")), "external_id"),
            (with("tags", json!(["ok", ""])), "tags[1]"),
            (with("scan_type", json!("sa st")), "scan_type"),
            (with("description", json!("a\u{0}b")), "description"),
            (with("serverity", json!("high")), "serverity"),
            (with("cwe_ids", json!([0])), "cwe_ids"),
            (with("score", json!("high")), "score"),
        ];
        for (input, field) in cases {
            let err = parse_finding(input.clone()).unwrap_err();
            let err = err.field_error();
            assert_eq!(err.field, field, "input {input}: {err}");
        }
        let unknown = parse_finding(with("serverity", json!("high"))).unwrap_err();
        assert!(matches!(unknown, InputError::Malformed(_)));
        assert!(unknown.field_error().message.contains("serverity"));
        let range = parse_finding(with("score", json!(11))).unwrap_err();
        assert!(matches!(range, InputError::Invalid(_)));
    }

    #[test]
    fn cvss_vectors_of_every_version_are_accepted() {
        for v in [
            "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
            "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N",
            "AV:N/AC:L/Au:N/C:P/I:P/A:P",
        ] {
            parse_finding(with("cvss_vector", json!(v))).unwrap();
        }
        let err = parse_finding(with("cvss_vector", json!("CVSS:9.9/AV:N"))).unwrap_err();
        assert!(err.field_error().message.contains("9.9"));
    }

    #[test]
    fn content_hash_ignores_order_but_not_content() {
        let a = parse_finding(with("tags", json!(["x", "y"]))).unwrap();
        let b = parse_finding(with("tags", json!(["y", "x"]))).unwrap();
        let c = parse_finding(with("tags", json!(["y", "z"]))).unwrap();
        assert_eq!(a.content_hash(), b.content_hash());
        assert_ne!(a.content_hash(), c.content_hash());
    }
}
