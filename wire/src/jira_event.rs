//! Jira webhook payloads as typed events, parsed tolerantly: real payloads vary by age and
//! kind (old ones lack `fieldId`, comment events carry a trimmed issue, users may lack
//! everything but `accountId`). Changelog items are matched by `fieldId`, falling back to the
//! lower-cased `field`; statuses and resolutions by id, never by (localised) display name.

use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventKind {
    IssueCreated,
    IssueUpdated,
    IssueDeleted,
    CommentCreated,
    CommentUpdated,
    CommentDeleted,
    Other(String),
}

impl EventKind {
    pub fn parse(name: &str) -> Self {
        match name {
            "jira:issue_created" => EventKind::IssueCreated,
            "jira:issue_updated" => EventKind::IssueUpdated,
            "jira:issue_deleted" => EventKind::IssueDeleted,
            "comment_created" => EventKind::CommentCreated,
            "comment_updated" => EventKind::CommentUpdated,
            "comment_deleted" => EventKind::CommentDeleted,
            other => EventKind::Other(other.to_owned()),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    pub id: String,
    pub name: String,
    /// `new`, `indeterminate` or `done`.
    pub category: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolution {
    pub id: String,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issue {
    /// The stable link to a finding.
    pub id: String,
    pub key: String,
    pub project_key: Option<String>,
    pub status: Option<Status>,
    /// `None` when the payload lacks the field (trimmed), `Some(None)` when it is empty.
    pub resolution: Option<Option<Resolution>>,
    pub labels: Option<Vec<String>>,
    /// The payload's issue lacks fields a closure decision needs (comment events): re-read it.
    pub trimmed: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeItem {
    /// `fieldId`, or the lower-cased `field` for payloads without one.
    pub field: String,
    pub from: Option<String>,
    pub from_string: Option<String>,
    pub to: Option<String>,
    pub to_string: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comment {
    pub id: String,
    pub author_account_id: Option<String>,
    /// Wiki-markup text as webhooks carry it.
    pub body: String,
    pub created: Option<String>,
    pub updated: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JiraEvent {
    pub kind: EventKind,
    /// `timestamp` (ms since the epoch), for ordering.
    pub timestamp: Option<i64>,
    pub type_name: Option<String>,
    pub user_account_id: Option<String>,
    pub issue: Issue,
    pub changelog_id: Option<String>,
    pub changes: Vec<ChangeItem>,
    pub comment: Option<Comment>,
    pub matched_webhook_ids: Vec<u64>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ParseError {
    #[error("payload is not a JSON object")]
    NotAnObject,
    #[error("payload has no webhookEvent")]
    NoEvent,
    #[error("payload has no issue id")]
    NoIssue,
}

pub(crate) fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn account(v: Option<&Value>) -> Option<String> {
    let v = v?;
    v.get("accountId")
        .and_then(text)
        .or_else(|| v.get("key").and_then(text))
}

impl Issue {
    /// An issue as webhooks and Forge events carry it: id (required), key, project, status and
    /// resolution by id, labels; `trimmed` when it lacks what a closure decision needs.
    pub(crate) fn parse(raw: &Value) -> Result<Issue, ParseError> {
        let id = raw.get("id").and_then(text).ok_or(ParseError::NoIssue)?;
        let fields = raw.get("fields");
        let field = |name: &str| fields.and_then(|f| f.get(name));
        let status = field("status").and_then(|s| {
            Some(Status {
                id: s.get("id").and_then(text)?,
                name: s.get("name").and_then(text).unwrap_or_default(),
                category: s.pointer("/statusCategory/key").and_then(text),
            })
        });
        let resolution = field("resolution").map(|r| {
            r.get("id").and_then(text).map(|rid| Resolution {
                id: rid,
                name: r.get("name").and_then(text).unwrap_or_default(),
            })
        });
        Ok(Issue {
            key: raw.get("key").and_then(text).unwrap_or_default(),
            project_key: field("project").and_then(|p| p.get("key")).and_then(text),
            trimmed: resolution.is_none() || status.is_none(),
            labels: field("labels")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(text).collect()),
            id,
            status,
            resolution,
        })
    }
}

impl ChangeItem {
    /// A changelog's items, matched by `fieldId` (the lower-cased `field` for old payloads).
    pub(crate) fn parse_all(changelog: Option<&Value>) -> Vec<ChangeItem> {
        changelog
            .and_then(|c| c.get("items"))
            .and_then(Value::as_array)
            .map(|items| {
                items
                    .iter()
                    .filter_map(|it| {
                        let field = it
                            .get("fieldId")
                            .and_then(text)
                            .or_else(|| it.get("field").and_then(text).map(|f| f.to_lowercase()))?;
                        Some(ChangeItem {
                            field,
                            from: it.get("from").and_then(text),
                            from_string: it.get("fromString").and_then(text),
                            to: it.get("to").and_then(text),
                            to_string: it.get("toString").and_then(text),
                        })
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
}

impl JiraEvent {
    /// Reads a Jira webhook body, or a Forge Remote event body (see [`crate::forge_event`]).
    pub fn parse(payload: &Value) -> Result<JiraEvent, ParseError> {
        if crate::forge_event::is_forge(payload) {
            return crate::forge_event::parse(payload);
        }
        let obj = payload.as_object().ok_or(ParseError::NotAnObject)?;
        let kind = obj
            .get("webhookEvent")
            .and_then(Value::as_str)
            .map(EventKind::parse)
            .ok_or(ParseError::NoEvent)?;
        let issue = Issue::parse(obj.get("issue").ok_or(ParseError::NoIssue)?)?;
        let changelog = obj.get("changelog");
        let changes = ChangeItem::parse_all(changelog);
        let comment = obj.get("comment").and_then(|c| {
            Some(Comment {
                id: c.get("id").and_then(text)?,
                author_account_id: account(c.get("author")),
                body: c.get("body").and_then(text).unwrap_or_default(),
                created: c.get("created").and_then(text),
                updated: c.get("updated").and_then(text),
            })
        });
        Ok(JiraEvent {
            kind,
            timestamp: obj.get("timestamp").and_then(Value::as_i64),
            type_name: obj.get("issue_event_type_name").and_then(text),
            user_account_id: account(obj.get("user")),
            issue,
            changelog_id: changelog.and_then(|c| c.get("id")).and_then(text),
            changes,
            comment,
            matched_webhook_ids: obj
                .get("matchedWebhookIds")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_u64).collect())
                .unwrap_or_default(),
        })
    }

    pub fn change(&self, field: &str) -> Option<&ChangeItem> {
        self.changes.iter().find(|c| c.field == field)
    }

    /// The status changed in this event (a workflow transition), not just another field.
    pub fn status_changed(&self) -> bool {
        self.change("status").is_some()
    }

    fn category(&self) -> Option<&str> {
        self.issue
            .status
            .as_ref()
            .and_then(|s| s.category.as_deref())
    }

    /// The resolution was set in this event (`null` → a value).
    pub fn resolution_set(&self) -> bool {
        self.change("resolution")
            .is_some_and(|r| r.from.is_none() && r.to.is_some())
    }

    /// The resolution was cleared in this event (a value → `null`).
    pub fn resolution_cleared(&self) -> bool {
        self.change("resolution")
            .is_some_and(|r| r.from.is_some() && r.to.is_none())
    }

    /// The ticket was closed: it is now in a `done` status, and this event moved it there (a
    /// status change) or resolved it (some closes arrive as a lone `resolution` item).
    pub fn closes(&self) -> bool {
        self.category() == Some("done") && (self.status_changed() || self.resolution_set())
    }

    /// The ticket was reopened: it left `done` and its resolution was cleared. (A status change
    /// out of a done status that sets no resolution is confirmed by the pipeline against the
    /// last state it applied.)
    pub fn reopens(&self) -> bool {
        self.category().is_some_and(|c| c != "done") && self.resolution_cleared()
    }
}

/// The Jira site a delivery comes from, as its own links name it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliverySite {
    /// The site's base URL (`https://acme.atlassian.net`, no trailing `/`): what Jira Cloud
    /// puts before `/rest/api/` in every `self` link of a webhook payload.
    BaseUrl(String),
    /// A cloud id, from a link through Atlassian's API gateway (`…/ex/jira/<cloudId>/rest/…`).
    CloudId(String),
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SiteError {
    #[error("the payload has no issue or comment `self` link naming its site")]
    Unnamed,
    #[error("the payload's links name two sites: {0} and {1}")]
    Conflicting(String, String),
}

/// The site named by one `self` link: what comes before `/rest/api/` of an absolute http(s)
/// URL, or the cloud id of a gateway link.
fn site_of_link(link: &str) -> Option<DeliverySite> {
    let url = url::Url::parse(link).ok()?;
    if !matches!(url.scheme(), "https" | "http") || url.host_str().is_none() {
        return None;
    }
    let path = url.path();
    let at = path.find("/rest/api/")?;
    let prefix = path[..at].trim_end_matches('/');
    let segments: Vec<&str> = prefix.split('/').filter(|s| !s.is_empty()).collect();
    if let [.., "ex", "jira", cloud_id] = segments.as_slice() {
        return Some(DeliverySite::CloudId((*cloud_id).to_owned()));
    }
    let origin = url.origin().ascii_serialization();
    Some(DeliverySite::BaseUrl(format!("{origin}{prefix}")))
}

/// The site a webhook delivery comes from, read from the `self` links Jira writes into it (the
/// issue's, the comment's, the issue's project). An OAuth 2.0 delivery's token is the app's,
/// the same for every site, and its `matchedWebhookIds` are per-site counters: these links are
/// what tells two sites apart. Links that disagree are an error, not a choice.
pub fn delivery_site(payload: &Value) -> Result<DeliverySite, SiteError> {
    let links = [
        payload.pointer("/issue/self"),
        payload.pointer("/comment/self"),
        payload.pointer("/issue/fields/project/self"),
    ];
    let mut found: Option<(DeliverySite, String)> = None;
    for link in links.into_iter().flatten().filter_map(Value::as_str) {
        let Some(site) = site_of_link(link) else {
            continue;
        };
        match &found {
            None => found = Some((site, link.to_owned())),
            Some((first, _)) if *first == site => {}
            Some((_, first_link)) => {
                return Err(SiteError::Conflicting(first_link.clone(), link.to_owned()));
            }
        }
    }
    found.map(|(s, _)| s).ok_or(SiteError::Unnamed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn issue(status_cat: &str, resolution: Value) -> Value {
        json!({"id": "10042", "key": "SEC-7", "fields": {
            "status": {"id": "6", "name": "Cerrada", "statusCategory": {"key": status_cat}},
            "resolution": resolution, "labels": ["security"], "project": {"key": "SEC"}}})
    }

    #[test]
    fn a_close_is_a_status_change_into_done() {
        let e = JiraEvent::parse(&json!({
            "timestamp": 1, "webhookEvent": "jira:issue_updated", "issue_event_type_name": "issue_generic",
            "user": {"accountId": "acc-1"},
            "issue": issue("done", json!({"id": "10000", "name": "Done"})),
            "changelog": {"id": "10228", "items": [
                {"field": "resolution", "fieldId": "resolution", "from": null, "to": "10000", "toString": "Done"},
                {"field": "status", "fieldId": "status", "from": "3", "to": "6", "toString": "Cerrada"}]}
        }))
        .unwrap();
        assert!(e.closes() && !e.reopens());
        assert_eq!(e.user_account_id.as_deref(), Some("acc-1"));
        assert_eq!(
            e.issue.resolution,
            Some(Some(Resolution {
                id: "10000".into(),
                name: "Done".into()
            }))
        );
        assert!(!e.issue.trimmed);
    }

    #[test]
    fn a_label_edit_on_a_closed_ticket_is_neither_close_nor_reopen() {
        let e = JiraEvent::parse(&json!({
            "webhookEvent": "jira:issue_updated", "issue": issue("done", json!({"id": "1", "name": "Done"})),
            "changelog": {"id": "5", "items": [{"field": "labels", "fieldId": "labels", "from": null, "to": null, "fromString": "", "toString": "x"}]}
        }))
        .unwrap();
        assert!(!e.closes() && !e.reopens());
    }

    #[test]
    fn old_payloads_without_field_id_fall_back_to_the_field_name() {
        let e = JiraEvent::parse(&json!({
            "webhookEvent": "jira:issue_updated", "issue": issue("new", Value::Null),
            "changelog": {"items": [
                {"field": "Status", "from": "6", "to": "1"},
                {"field": "resolution", "from": "10000", "to": null}]}
        }))
        .unwrap();
        assert!(e.reopens());
        assert_eq!(e.changes[0].field, "status");
    }

    #[test]
    fn comment_events_carry_a_trimmed_issue() {
        let e = JiraEvent::parse(&json!({
            "webhookEvent": "comment_created",
            "comment": {"id": "10019", "author": {"accountId": "acc-2"}, "body": "false positive", "created": "2026-01-01T00:00:00.000+0000"},
            "issue": {"id": "10040", "key": "APP-1", "fields": {"summary": "x", "status": {"id": "1", "name": "Open", "statusCategory": {"key": "new"}}}}
        }))
        .unwrap();
        assert_eq!(e.kind, EventKind::CommentCreated);
        assert!(
            e.issue.trimmed,
            "no resolution field: re-read the issue before deciding"
        );
        assert_eq!(
            e.comment.unwrap().author_account_id.as_deref(),
            Some("acc-2")
        );
    }

    #[test]
    fn malformed_payloads_are_errors_not_panics() {
        assert_eq!(JiraEvent::parse(&json!([1])), Err(ParseError::NotAnObject));
        assert_eq!(
            JiraEvent::parse(&json!({"issue": {"id": "1"}})),
            Err(ParseError::NoEvent)
        );
        assert_eq!(
            JiraEvent::parse(&json!({"webhookEvent": "jira:issue_updated"})),
            Err(ParseError::NoIssue)
        );
    }

    #[test]
    fn the_delivery_site_is_what_its_self_links_name() {
        let body = json!({"webhookEvent": "comment_created",
            "issue": {"id": "10001", "self": "https://acme.atlassian.net/rest/api/2/issue/10001",
                "fields": {"project": {"self": "https://acme.atlassian.net/rest/api/2/project/10000"}}},
            "comment": {"id": "1", "self": "https://acme.atlassian.net/rest/api/2/issue/10001/comment/1",
                "author": {"avatarUrls": {"48x48": "https://avatar-management.atl-paas.net/x"}}}});
        assert_eq!(
            delivery_site(&body),
            Ok(DeliverySite::BaseUrl("https://acme.atlassian.net".into()))
        );
        // A site under a context path keeps it; a gateway link names the cloud id.
        let dc = json!({"issue": {"self": "http://127.0.0.1:9/s/acme/rest/api/2/issue/1"}});
        assert_eq!(
            delivery_site(&dc),
            Ok(DeliverySite::BaseUrl("http://127.0.0.1:9/s/acme".into()))
        );
        let gw = json!({"issue": {"self": "https://api.atlassian.com/ex/jira/1a2b-3c/rest/api/3/issue/1"}});
        assert_eq!(
            delivery_site(&gw),
            Ok(DeliverySite::CloudId("1a2b-3c".into()))
        );
    }

    #[test]
    fn a_delivery_naming_no_site_or_two_is_an_error() {
        assert_eq!(
            delivery_site(&json!({"webhookEvent": "comment_created", "matchedWebhookIds": [1]})),
            Err(SiteError::Unnamed)
        );
        assert_eq!(
            delivery_site(&json!({"issue": {"self": "not a url"}, "comment": {"self": 7}})),
            Err(SiteError::Unnamed)
        );
        assert_eq!(
            delivery_site(&json!({"issue": {"self": "ftp://acme/rest/api/2/issue/1"}})),
            Err(SiteError::Unnamed)
        );
        let two = json!({"issue": {"self": "https://acme.atlassian.net/rest/api/2/issue/1"},
            "comment": {"self": "https://globex.atlassian.net/rest/api/2/issue/1/comment/2"}});
        assert!(matches!(
            delivery_site(&two),
            Err(SiteError::Conflicting(..))
        ));
    }

    /// Every captured real payload parses, and the resolved/reopened ones read as such. The
    /// captures live in the workplace's shared folder; without it only the cases above run.
    #[test]
    fn real_captured_payloads_parse() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../shared/fixtures/jira-webhooks/cloud");
        let Ok(entries) = std::fs::read_dir(&dir) else {
            eprintln!("skipping captured payloads: {} not present", dir.display());
            return;
        };
        let mut parsed = 0;
        for entry in entries {
            let path = entry.unwrap().path();
            let v: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            let e = JiraEvent::parse(&v).unwrap_or_else(|err| panic!("{}: {err}", path.display()));
            let name = path.file_name().unwrap().to_string_lossy().to_string();
            if name.contains("resolved") {
                assert!(e.closes(), "{name} is a close");
            }
            if name.contains("reopened") {
                assert!(e.reopens(), "{name} is a reopen");
            }
            assert!(
                matches!(delivery_site(&v), Ok(DeliverySite::BaseUrl(ref u)) if u.starts_with("http")),
                "{name} names its site"
            );
            if name.contains("labels") || name.contains("priority") || name.contains("assigned") {
                assert!(!e.closes() && !e.reopens(), "{name} is neither");
            }
            parsed += 1;
        }
        assert!(parsed >= 30, "parsed {parsed}");
    }
}
