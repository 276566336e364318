//! Forge events as Forge Remote delivers them: `{"payload": {…}}` with an `eventType`, read into
//! the same typed [`JiraEvent`] a webhook becomes (so the inbox worker treats both alike), the
//! app lifecycle events, and the identity that makes Forge's retries one delivery.
//!
//! Forge issue payloads carry a light issue (no resolution) and comment bodies as ADF or text;
//! `retryContext` (inside the payload or beside it) is the only part that differs on a retry.

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::jira_event::{ChangeItem, Comment, EventKind, Issue, JiraEvent, ParseError, text};

/// A Forge product or lifecycle event's type, as its `eventType` names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ForgeEventType {
    IssueCreated,
    IssueUpdated,
    IssueDeleted,
    /// A comment was created *or edited* (Forge has no separate edit event).
    IssueCommented,
    CommentDeleted,
    AppInstalled,
    AppUpgraded,
    AppUninstalled,
    Other(String),
}

impl ForgeEventType {
    pub fn parse(name: &str) -> Self {
        match name {
            "avi:jira:created:issue" => Self::IssueCreated,
            "avi:jira:updated:issue" => Self::IssueUpdated,
            "avi:jira:deleted:issue" => Self::IssueDeleted,
            "avi:jira:commented:issue" => Self::IssueCommented,
            "avi:jira:deleted:comment" => Self::CommentDeleted,
            "avi:forge:installed:app" => Self::AppInstalled,
            "avi:forge:upgraded:app" => Self::AppUpgraded,
            "avi:forge:uninstalled:app" => Self::AppUninstalled,
            other => Self::Other(other.to_owned()),
        }
    }

    pub fn is_lifecycle(&self) -> bool {
        matches!(
            self,
            Self::AppInstalled | Self::AppUpgraded | Self::AppUninstalled
        )
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ForgeError {
    #[error("body is not a JSON object with a `payload` object")]
    NoPayload,
    #[error("payload has no eventType")]
    NoEventType,
}

/// The `payload` of a Forge Remote event body.
pub fn payload(body: &Value) -> Result<&Map<String, Value>, ForgeError> {
    body.get("payload")
        .and_then(Value::as_object)
        .ok_or(ForgeError::NoPayload)
}

/// The event's type.
pub fn event_type(body: &Value) -> Result<String, ForgeError> {
    payload(body)?
        .get("eventType")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or(ForgeError::NoEventType)
}

/// A body in Forge Remote's event shape (not a Jira webhook's).
pub fn is_forge(body: &Value) -> bool {
    event_type(body).is_ok_and(|t| t.starts_with("avi:"))
}

/// Which attempt this is: `retryContext.retryCount` (0 on the first delivery).
pub fn retry_count(body: &Value) -> u32 {
    let ctx = body
        .pointer("/payload/retryContext")
        .or_else(|| body.get("retryContext"));
    ctx.and_then(|c| c.get("retryCount"))
        .and_then(Value::as_u64)
        .map_or(0, |n| n.min(u32::MAX as u64) as u32)
}

/// The delivery's identity: the same for every retry of one event and different for any two
/// events. Forge sends no delivery id, so it is the SHA-256 of the payload without its
/// `retryContext`, with object keys in sorted order (a retry may order them differently).
pub fn delivery_identity(body: &Value) -> String {
    let mut canon = String::new();
    match payload(body) {
        Ok(p) => {
            let mut p = p.clone();
            p.remove("retryContext");
            canonical(&Value::Object(p), &mut canon);
        }
        Err(_) => canonical(body, &mut canon),
    }
    format!("forge:{}", hex::encode(Sha256::digest(canon.as_bytes())))
}

fn canonical(v: &Value, out: &mut String) {
    match v {
        Value::Object(o) => {
            let mut keys: Vec<&String> = o.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                canonical(&o[k], out);
            }
            out.push('}');
        }
        Value::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                canonical(x, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

/// Jira's timestamps (`2026-12-07T10:00:00.000+0000`, or RFC 3339) in ms since the epoch.
fn millis(s: &str) -> Option<i64> {
    chrono::DateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f%z")
        .or_else(|_| chrono::DateTime::parse_from_rfc3339(s))
        .ok()
        .map(|t| t.timestamp_millis())
}

/// A Forge issue or comment event as the [`JiraEvent`] a webhook would have been. Lifecycle
/// events are not issue events (`NoIssue`).
pub fn parse(body: &Value) -> Result<JiraEvent, ParseError> {
    let p = payload(body).map_err(|_| ParseError::NotAnObject)?;
    let ty = p
        .get("eventType")
        .and_then(Value::as_str)
        .map(ForgeEventType::parse)
        .ok_or(ParseError::NoEvent)?;
    // Forge's issue is light: without the resolution the pipeline re-reads the ticket.
    let issue = Issue::parse(p.get("issue").ok_or(ParseError::NoIssue)?)?;
    let changelog = p.get("changelog");
    let changes = ChangeItem::parse_all(changelog);
    let comment = p.get("comment").and_then(|c| {
        Some(Comment {
            id: c.get("id").and_then(text)?,
            author_account_id: c
                .pointer("/author/accountId")
                .and_then(text)
                .or_else(|| p.get("atlassianId").and_then(text)),
            // ADF (or text) → the plain text triage reads, as a webhook's wiki markup is.
            body: c.get("body").map(crate::adf::to_text).unwrap_or_default(),
            created: c.get("created").and_then(text),
            updated: c.get("updated").and_then(text),
        })
    });
    let kind = match &ty {
        ForgeEventType::IssueCreated => EventKind::IssueCreated,
        ForgeEventType::IssueUpdated => EventKind::IssueUpdated,
        ForgeEventType::IssueDeleted => EventKind::IssueDeleted,
        ForgeEventType::IssueCommented => match &comment {
            Some(c) if c.updated.is_some() && c.updated != c.created => EventKind::CommentUpdated,
            _ => EventKind::CommentCreated,
        },
        ForgeEventType::CommentDeleted => EventKind::CommentDeleted,
        other => EventKind::Other(match other {
            ForgeEventType::Other(name) => name.clone(),
            _ => p
                .get("eventType")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
        }),
    };
    // No event timestamp in Forge payloads: the change's own time, else the issue's `updated`.
    let timestamp = changelog
        .and_then(|c| c.get("created"))
        .and_then(|v| v.as_i64().or_else(|| v.as_str().and_then(millis)))
        .or_else(|| {
            p.get("comment")
                .and_then(|c| c.get("updated"))
                .and_then(Value::as_str)
                .and_then(millis)
        })
        .or_else(|| {
            p.get("issue")
                .and_then(|i| i.pointer("/fields/updated"))
                .and_then(Value::as_str)
                .and_then(millis)
        });
    Ok(JiraEvent {
        kind,
        timestamp,
        type_name: p.get("jiraEventTypeName").and_then(text),
        user_account_id: p.get("atlassianId").and_then(text),
        issue,
        changelog_id: changelog.and_then(|c| c.get("id")).and_then(text),
        changes,
        comment,
        matched_webhook_ids: Vec::new(),
    })
}

/// An app lifecycle event (`avi:forge:installed|upgraded|uninstalled:app`). Who Verdict is
/// talking to comes from the invocation token (signed), not from here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lifecycle {
    pub kind: ForgeEventType,
    /// The Atlassian account that installed, upgraded or uninstalled the app.
    pub account: Option<String>,
    pub app_version: Option<String>,
    /// The site's cloud id as the payload names it.
    pub cloud_id: Option<String>,
}

/// Reads a lifecycle event; `None` when the body is another kind of event.
pub fn lifecycle(body: &Value) -> Option<Lifecycle> {
    let p = payload(body).ok()?;
    let kind = ForgeEventType::parse(p.get("eventType")?.as_str()?);
    if !kind.is_lifecycle() {
        return None;
    }
    let account = [
        "installerAccountId",
        "upgraderAccountId",
        "uninstallerAccountId",
        "atlassianId",
    ]
    .iter()
    .find_map(|k| p.get(*k).and_then(text));
    Some(Lifecycle {
        kind,
        account,
        app_version: body.pointer("/payload/app/version").and_then(text),
        cloud_id: body.pointer("/payload/context/cloudId").and_then(text),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn updated() -> Value {
        json!({"payload": {
            "eventType": "avi:jira:updated:issue",
            "selfGenerated": false,
            "atlassianId": "712020:triager",
            "issue": {"id": "10073", "key": "SEC-10", "fields": {
                "summary": "SQL injection", "updated": "2026-12-07T10:00:00.000+0000",
                "project": {"id": "10000", "key": "SEC"},
                "status": {"id": "6", "name": "Cerrada", "statusCategory": {"id": 3, "key": "done"}}}},
            "changelog": {"id": "10250", "items": [
                {"field": "resolution", "fieldId": "resolution", "from": null, "to": "10001", "toString": "Won't Do"},
                {"field": "status", "fieldtype": "jira", "fieldId": "status", "from": "1", "fromString": "Open", "to": "6", "toString": "Cerrada"}]},
            "associatedStatuses": [{"id": "1", "name": "Open"}, {"id": "6", "name": "Cerrada"}],
            "associatedUsers": [{"accountId": "712020:triager"}]
        }})
    }

    #[test]
    fn an_updated_issue_reads_like_the_webhook_would() {
        let e = parse(&updated()).unwrap();
        assert_eq!(e.kind, EventKind::IssueUpdated);
        assert!(e.closes(), "status change into done with a resolution set");
        assert!(e.issue.trimmed, "no resolution field: re-read the ticket");
        assert_eq!(e.issue.project_key.as_deref(), Some("SEC"));
        assert_eq!(e.user_account_id.as_deref(), Some("712020:triager"));
        assert_eq!(e.changelog_id.as_deref(), Some("10250"));
        assert_eq!(e.timestamp, Some(1_796_637_600_000));
        assert!(is_forge(&updated()));
        assert!(!is_forge(&json!({"webhookEvent": "jira:issue_updated"})));
    }

    #[test]
    fn a_comment_in_adf_becomes_text_and_an_edit_is_an_update() {
        let body = json!({"payload": {
            "eventType": "avi:jira:commented:issue", "atlassianId": "712020:a",
            "issue": {"id": "10001", "key": "APP-1", "fields": {"status": {"id": "1", "statusCategory": {"key": "new"}}}},
            "comment": {"id": "10100", "author": {"accountId": "712020:a"},
                "body": {"type": "doc", "version": 1, "content": [{"type": "paragraph", "content": [{"type": "text", "text": "False positive: test code."}]}]},
                "created": "2026-12-07T10:00:00.000+0000", "updated": "2026-12-07T10:05:00.000+0000"}}});
        let e = parse(&body).unwrap();
        assert_eq!(e.kind, EventKind::CommentUpdated);
        let c = e.comment.unwrap();
        assert_eq!(c.body, "False positive: test code.");
        assert_eq!(c.author_account_id.as_deref(), Some("712020:a"));
        let mut created = body.clone();
        created["payload"]["comment"]["updated"] = json!("2026-12-07T10:00:00.000+0000");
        created["payload"]["comment"]["body"] = json!("plain text");
        let e = parse(&created).unwrap();
        assert_eq!(e.kind, EventKind::CommentCreated);
        assert_eq!(e.comment.unwrap().body, "plain text");
    }

    #[test]
    fn a_retry_is_the_same_delivery_and_another_event_is_not() {
        let first = updated();
        let mut retry = first.clone();
        retry["payload"]["retryContext"] =
            json!({"retryCount": 2, "retryReason": "TIMEOUT_ERROR", "retryData": null});
        assert_eq!(delivery_identity(&first), delivery_identity(&retry));
        assert_eq!(retry_count(&retry), 2);
        assert_eq!(retry_count(&first), 0);
        // The same keys in another order are the same event.
        let reordered: Value = serde_json::from_str(
            r#"{"payload": {"atlassianId": "712020:triager", "eventType": "avi:jira:updated:issue"}}"#,
        )
        .unwrap();
        let ordered: Value = serde_json::from_str(
            r#"{"payload": {"eventType": "avi:jira:updated:issue", "atlassianId": "712020:triager"}}"#,
        )
        .unwrap();
        assert_eq!(delivery_identity(&reordered), delivery_identity(&ordered));
        let mut other = first.clone();
        other["payload"]["changelog"]["id"] = json!("10251");
        assert_ne!(delivery_identity(&first), delivery_identity(&other));
    }

    #[test]
    fn lifecycle_events_and_malformed_bodies() {
        let installed = json!({"payload": {"eventType": "avi:forge:installed:app",
            "id": "ari:cloud:ecosystem::installation/1", "installerAccountId": "712020:admin",
            "app": {"id": "ari:cloud:ecosystem::app/x", "version": "3.1.0"},
            "context": {"cloudId": "c-1"}}});
        let l = lifecycle(&installed).unwrap();
        assert_eq!(l.kind, ForgeEventType::AppInstalled);
        assert_eq!(l.account.as_deref(), Some("712020:admin"));
        assert_eq!(l.cloud_id.as_deref(), Some("c-1"));
        assert_eq!(parse(&installed), Err(ParseError::NoIssue));
        assert!(lifecycle(&updated()).is_none());
        assert_eq!(parse(&json!([1])), Err(ParseError::NotAnObject));
        assert_eq!(parse(&json!({"payload": {}})), Err(ParseError::NoEvent));
        assert_eq!(
            event_type(&json!({"payload": 3})),
            Err(ForgeError::NoPayload)
        );
    }

    /// Every documented-shape body the tests and the double use reads as its event type says.
    #[test]
    fn the_fixture_bodies_parse() {
        let dir =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/forge-events");
        let mut seen = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().and_then(|e| e.to_str()) != Some("json") {
                continue;
            }
            let body: Value =
                serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            let name = path.file_name().unwrap().to_string_lossy().to_string();
            assert!(is_forge(&body), "{name}");
            if name.starts_with("app-") {
                assert!(lifecycle(&body).is_some(), "{name}");
            } else {
                let e = parse(&body).unwrap_or_else(|err| panic!("{name}: {err}"));
                assert_eq!(e.issue.id, "10073", "{name}");
                if name.contains("closed") {
                    assert!(e.closes(), "{name}");
                }
                if name.contains("commented") {
                    assert!(e.comment.unwrap().body.contains("pages/42"), "{name}");
                }
            }
            seen += 1;
        }
        assert!(seen >= 7, "{seen}");
    }
}
