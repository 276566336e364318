//! Every change to a site's issues, written once and used both by the REST API (an app's
//! calls) and by tests acting as people in Jira. Each returns the webhook events it causes.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use crate::adf;
use crate::model::{Category, ChangeItem, ChangelogEntry, Comment, Issue, Site};
use crate::render::{self, Version};

/// A failed operation, in Jira's terms: HTTP status plus its `errorMessages` / `errors` body.
#[derive(Debug, Clone)]
pub struct OpError {
    pub status: u16,
    pub messages: Vec<String>,
    pub fields: Vec<(String, String)>,
}

impl OpError {
    pub fn not_found() -> Self {
        OpError {
            status: 404,
            messages: vec!["Issue does not exist or you do not have permission to see it.".into()],
            fields: vec![],
        }
    }
    pub fn message(status: u16, m: impl Into<String>) -> Self {
        OpError {
            status,
            messages: vec![m.into()],
            fields: vec![],
        }
    }
    pub fn field(f: impl Into<String>, m: impl Into<String>) -> Self {
        OpError {
            status: 400,
            messages: vec![],
            fields: vec![(f.into(), m.into())],
        }
    }
    pub fn body(&self) -> Value {
        let fields: Map<String, Value> = self
            .fields
            .iter()
            .map(|(k, v)| (k.clone(), json!(v)))
            .collect();
        json!({"errorMessages": self.messages, "errors": fields})
    }
}

/// A webhook event ready to be matched against registrations and delivered.
#[derive(Debug, Clone)]
pub struct Emitted {
    pub event: &'static str,
    pub payload: Value,
    /// The issue as it was when the event happened (for JQL filters).
    pub issue: Issue,
    /// Field ids the changelog touched (for `fieldIdsFilter`).
    pub changed_fields: Vec<String>,
}

fn base_payload(event: &'static str, now: DateTime<Utc>) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("timestamp".into(), json!(now.timestamp_millis()));
    m.insert("webhookEvent".into(), json!(event));
    m
}

#[allow(clippy::too_many_arguments)]
fn issue_updated(
    base: &str,
    site: &Site,
    issue: &Issue,
    actor: &str,
    type_name: &str,
    changelog: Option<&ChangelogEntry>,
    comment: Option<&Comment>,
    now: DateTime<Utc>,
) -> Emitted {
    let mut p = base_payload("jira:issue_updated", now);
    p.insert("issue_event_type_name".into(), json!(type_name));
    p.insert("user".into(), render::user_ref(base, site, actor));
    p.insert(
        "issue".into(),
        render::issue(base, site, issue, Version::V2, None),
    );
    if let Some(c) = changelog {
        p.insert("changelog".into(), render::changelog(c));
    }
    if let Some(c) = comment {
        p.insert(
            "comment".into(),
            render::comment(base, site, issue, c, Version::V2),
        );
    }
    Emitted {
        event: "jira:issue_updated",
        payload: Value::Object(p),
        issue: issue.clone(),
        changed_fields: changelog
            .map(|c| c.items.iter().map(|i| i.field_id.clone()).collect())
            .unwrap_or_default(),
    }
}

fn comment_event(
    event: &'static str,
    base: &str,
    site: &Site,
    issue: &Issue,
    c: &Comment,
    now: DateTime<Utc>,
) -> Emitted {
    let mut p = base_payload(event, now);
    p.insert(
        "comment".into(),
        render::comment(base, site, issue, c, Version::V2),
    );
    p.insert("issue".into(), render::trimmed_issue(base, site, issue));
    Emitted {
        event,
        payload: Value::Object(p),
        issue: issue.clone(),
        changed_fields: vec![],
    }
}

fn record_change(
    site: &mut Site,
    key: &str,
    actor: &str,
    now: DateTime<Utc>,
    items: Vec<ChangeItem>,
) -> Option<ChangelogEntry> {
    if items.is_empty() {
        return None;
    }
    let entry = ChangelogEntry {
        id: site.next_changelog_id.to_string(),
        author: actor.into(),
        created: now,
        items,
    };
    site.next_changelog_id += 1;
    let issue = site.issue_by_ref_mut(key).expect("issue exists");
    issue.changelog.push(entry.clone());
    issue.updated = now;
    Some(entry)
}

/// Reads a rich-text field: ADF for v3 (a plain string is refused as Jira does), text for v2.
pub fn rich_text(field: &str, value: &Value, v: Version) -> Result<Option<Value>, OpError> {
    match (value, v) {
        (Value::Null, _) => Ok(None),
        (Value::String(s), Version::V2) => Ok(Some(adf::from_text(s))),
        (other, Version::V3) => adf::validate(other)
            .map(|_| Some(other.clone()))
            .map_err(|m| OpError::field(field, m)),
        (_, Version::V2) => Err(OpError::field(field, "Operation value must be a string")),
    }
}

fn named_ref(v: &Value) -> (Option<String>, Option<&str>) {
    let id = v.get("id").and_then(|x| {
        x.as_str()
            .map(str::to_owned)
            .or_else(|| x.as_u64().map(|n| n.to_string()))
    });
    (id, v.get("name").and_then(Value::as_str))
}

#[derive(Debug)]
pub struct Created {
    pub id: String,
    pub key: String,
    pub events: Vec<Emitted>,
}

pub fn create_issue(
    site: &mut Site,
    base: &str,
    fields: &Map<String, Value>,
    v: Version,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<Created, OpError> {
    let project_ref = fields
        .get("project")
        .ok_or_else(|| OpError::field("project", "Specify a valid project ID or key"))?;
    let pkey = project_ref
        .get("key")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .or_else(|| {
            let id = named_ref(project_ref).0?;
            site.projects
                .values()
                .find(|p| p.id == id)
                .map(|p| p.key.clone())
        });
    let pkey = pkey
        .filter(|k| site.projects.contains_key(k))
        .ok_or_else(|| OpError::field("project", "Specify a valid project ID or key"))?;
    let it_ref = fields
        .get("issuetype")
        .ok_or_else(|| OpError::field("issuetype", "Specify an issue type"))?;
    let (it_id, it_name) = named_ref(it_ref);
    let issue_type = site
        .issue_types
        .iter()
        .find(|t| {
            it_id.as_deref() == Some(t.id.as_str())
                || it_name.is_some_and(|n| n.eq_ignore_ascii_case(&t.name))
        })
        .ok_or_else(|| OpError::field("issuetype", "Specify a valid issue type"))?
        .clone();
    let screen = crate::screens::check_create(site, &pkey, &issue_type.id, fields, v)?;
    let summary = fields
        .get("summary")
        .and_then(Value::as_str)
        .map(str::trim)
        .unwrap_or_default();
    if summary.is_empty() {
        return Err(OpError::field(
            "summary",
            "You must specify a summary of the issue.",
        ));
    }
    if summary.chars().count() > 255 {
        return Err(OpError::field(
            "summary",
            "Summary must be less than 255 characters.",
        ));
    }
    let description = match fields.get("description") {
        Some(d) => rich_text("description", d, v)?,
        None => None,
    };
    if let Some(d) = &description
        && adf::to_text(d).chars().count() > 32_767
    {
        return Err(OpError::field(
            "description",
            "The entered text is too long. It exceeds the allowed limit of 32,767 characters.",
        ));
    }
    let project = &site.projects[&pkey];
    let priority = match fields.get("priority") {
        Some(p) => {
            let (id, name) = named_ref(p);
            site.priorities
                .iter()
                .find(|x| {
                    id.as_deref() == Some(x.id.as_str())
                        || name.is_some_and(|n| n.eq_ignore_ascii_case(&x.name))
                })
                .ok_or_else(|| OpError::field("priority", "Specify a valid priority"))?
                .id
                .clone()
        }
        None => "3".into(),
    };
    let labels = match fields.get("labels") {
        Some(Value::Array(ls)) => {
            let mut out = Vec::new();
            for l in ls {
                let l = l
                    .as_str()
                    .ok_or_else(|| OpError::field("labels", "Labels must be strings"))?;
                if l.contains(' ') {
                    return Err(OpError::field("labels", "The label can't contain spaces."));
                }
                out.push(l.to_owned());
            }
            out
        }
        Some(_) => return Err(OpError::field("labels", "Labels must be an array")),
        None => vec![],
    };
    let duedate = match fields.get("duedate") {
        Some(Value::Null) | None => None,
        Some(_) if !project.duedate_on_screen => {
            return Err(OpError::field(
                "duedate",
                "Field 'duedate' cannot be set. It is not on the appropriate screen, or unknown.",
            ));
        }
        Some(Value::String(d)) if chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").is_ok() => {
            Some(d.clone())
        }
        Some(_) => {
            return Err(OpError::field(
                "duedate",
                "Error parsing date string. Use the format yyyy-MM-dd.",
            ));
        }
    };
    let parent = match fields.get("parent") {
        Some(Value::Null) | None => None,
        Some(p) => {
            if project.parent_rejected_for.contains(&issue_type.id) {
                return Err(OpError::field(
                    "parent",
                    "Given parent work item does not belong to appropriate hierarchy.",
                ));
            }
            let (id, _) = named_ref(p);
            let key = p
                .get("key")
                .and_then(Value::as_str)
                .map(str::to_owned)
                .or(id);
            let parent = key
                .as_deref()
                .and_then(|k| site.issue_by_ref(k))
                .ok_or_else(|| OpError::field("parent", "Could not find issue by id or key."))?;
            Some(parent.id.clone())
        }
    };
    let assignee = fields
        .get("assignee")
        .and_then(|a| a.get("accountId"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    if let Some(a) = &assignee
        && site.user(a).is_none()
    {
        return Err(OpError::field(
            "assignee",
            format!("User '{a}' cannot be assigned issues."),
        ));
    }
    let initial = project.workflow.initial.clone();
    let number = project.next_number;
    let id = site.next_issue_id;
    site.next_issue_id += 1;
    site.projects.get_mut(&pkey).expect("project").next_number += 1;
    let issue = Issue {
        id: id.to_string(),
        key: format!("{pkey}-{number}"),
        project_key: pkey,
        issue_type: issue_type.id,
        summary: summary.to_owned(),
        description,
        status: initial,
        resolution: None,
        priority,
        labels,
        assignee,
        reporter: actor.to_owned(),
        created: now,
        updated: now,
        resolution_date: None,
        status_category_changed: now,
        duedate,
        parent,
        comments: vec![],
        changelog: vec![],
        properties: Default::default(),
        remote_links: vec![],
        custom: screen.custom,
        components: screen.components,
        security: screen.security,
    };
    let key = issue.key.clone();
    site.issues.insert(id, issue.clone());
    let mut p = base_payload("jira:issue_created", now);
    p.insert("issue_event_type_name".into(), json!("issue_created"));
    p.insert("user".into(), render::user_ref(base, site, actor));
    p.insert(
        "issue".into(),
        render::issue(base, site, &issue, Version::V2, None),
    );
    // Creation events carry the initial status as a changelog item, with a capitalised field.
    let st = site.projects[&issue.project_key]
        .workflow
        .status(&issue.status)
        .expect("initial status")
        .clone();
    let created_item = ChangelogEntry {
        id: site.next_changelog_id.to_string(),
        author: actor.into(),
        created: now,
        items: vec![item(
            "Status",
            "status",
            None,
            None,
            Some(&st.id),
            Some(&st.name),
        )],
    };
    site.next_changelog_id += 1;
    p.insert("changelog".into(), render::changelog(&created_item));
    let events = vec![Emitted {
        event: "jira:issue_created",
        payload: Value::Object(p),
        issue,
        changed_fields: vec![],
    }];
    Ok(Created {
        id: id.to_string(),
        key,
        events,
    })
}

/// `PUT /issue/{key}`: summary, description, labels (set or `update.labels` add/remove),
/// priority, duedate, assignee.
pub fn edit_issue(
    site: &mut Site,
    base: &str,
    key: &str,
    body: &Value,
    v: Version,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<Vec<Emitted>, OpError> {
    let issue = site
        .issue_by_ref(key)
        .ok_or_else(OpError::not_found)?
        .clone();
    let mut next = issue.clone();
    let mut items = Vec::new();
    let empty = Map::new();
    let fields = body
        .get("fields")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    for (name, value) in fields {
        match name.as_str() {
            "summary" => {
                let s = value
                    .as_str()
                    .ok_or_else(|| OpError::field("summary", "Summary must be a string"))?;
                items.push(item(
                    "summary",
                    "summary",
                    None,
                    Some(&next.summary),
                    None,
                    Some(s),
                ));
                next.summary = s.to_owned();
            }
            "description" => {
                next.description = rich_text("description", value, v)?;
                items.push(item("description", "description", None, None, None, None));
            }
            "labels" => {
                let ls: Vec<String> = value
                    .as_array()
                    .ok_or_else(|| OpError::field("labels", "Labels must be an array"))?
                    .iter()
                    .filter_map(|l| l.as_str().map(str::to_owned))
                    .collect();
                items.push(item(
                    "labels",
                    "labels",
                    None,
                    Some(&next.labels.join(" ")),
                    None,
                    Some(&ls.join(" ")),
                ));
                next.labels = ls;
            }
            "duedate" => {
                next.duedate = value.as_str().map(str::to_owned);
                items.push(item(
                    "duedate",
                    "duedate",
                    None,
                    None,
                    None,
                    next.duedate.as_deref(),
                ));
            }
            "priority" => {
                let (id, pname) = named_ref(value);
                let p = site
                    .priorities
                    .iter()
                    .find(|x| {
                        id.as_deref() == Some(x.id.as_str())
                            || pname.is_some_and(|n| n.eq_ignore_ascii_case(&x.name))
                    })
                    .ok_or_else(|| OpError::field("priority", "Specify a valid priority"))?;
                let old = site.priority(&next.priority).map(|x| x.name.clone());
                items.push(item(
                    "priority",
                    "priority",
                    Some(&next.priority),
                    old.as_deref(),
                    Some(&p.id),
                    Some(&p.name),
                ));
                next.priority = p.id.clone();
            }
            "assignee" => {
                let new = value
                    .get("accountId")
                    .and_then(Value::as_str)
                    .map(str::to_owned);
                items.push(item(
                    "assignee",
                    "assignee",
                    next.assignee.as_deref(),
                    None,
                    new.as_deref(),
                    None,
                ));
                next.assignee = new;
            }
            other => {
                return Err(OpError::field(
                    other,
                    format!(
                        "Field '{other}' cannot be set. It is not on the appropriate screen, or unknown."
                    ),
                ));
            }
        }
    }
    if let Some(ops) = body.pointer("/update/labels").and_then(Value::as_array) {
        let before = next.labels.join(" ");
        for op in ops {
            if let Some(add) = op.get("add").and_then(Value::as_str) {
                if !next.labels.iter().any(|l| l == add) {
                    next.labels.push(add.to_owned());
                }
            } else if let Some(rm) = op.get("remove").and_then(Value::as_str) {
                next.labels.retain(|l| l != rm);
            }
        }
        items.push(item(
            "labels",
            "labels",
            None,
            Some(&before),
            None,
            Some(&next.labels.join(" ")),
        ));
    }
    *site.issue_by_ref_mut(key).expect("exists") = next;
    let entry = record_change(site, key, actor, now, items);
    let issue = site.issue_by_ref(key).expect("exists").clone();
    Ok(vec![issue_updated(
        base,
        site,
        &issue,
        actor,
        "issue_updated",
        entry.as_ref(),
        None,
        now,
    )])
}

fn item(
    field: &str,
    field_id: &str,
    from: Option<&str>,
    from_s: Option<&str>,
    to: Option<&str>,
    to_s: Option<&str>,
) -> ChangeItem {
    ChangeItem {
        field: field.into(),
        field_id: field_id.into(),
        from: from.map(str::to_owned),
        from_string: from_s.map(str::to_owned),
        to: to.map(str::to_owned),
        to_string: to_s.map(str::to_owned),
    }
}

/// `POST /issue/{key}/transitions`: refuses transitions not available from the current status
/// and missing resolutions on screens that require one, like Jira.
pub fn transition(
    site: &mut Site,
    base: &str,
    key: &str,
    transition_id: &str,
    fields: Option<&Map<String, Value>>,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<Vec<Emitted>, OpError> {
    let issue = site
        .issue_by_ref(key)
        .ok_or_else(OpError::not_found)?
        .clone();
    let wf = site.workflow_of(&issue).clone();
    let t = wf
        .available_from(&issue.status)
        .into_iter()
        .find(|t| t.id == transition_id)
        .cloned()
        .ok_or_else(|| {
            OpError::message(
                400,
                format!("Transition id '{transition_id}' is not valid for this issue."),
            )
        })?;
    let from = wf.status(&issue.status).expect("status").clone();
    let to = wf.status(&t.to).expect("target").clone();
    let mut resolution = issue.resolution.clone();
    let requested = fields.and_then(|f| f.get("resolution"));
    if let Some(r) = requested {
        if !t.requires_resolution {
            return Err(OpError::field(
                "resolution",
                "Field 'resolution' cannot be set. It is not on the appropriate screen, or unknown.",
            ));
        }
        resolution = Some(
            site.resolution_by_name_or_id(r)
                .ok_or_else(|| OpError::field("resolution", "Could not find resolution."))?
                .id
                .clone(),
        );
    } else if t.requires_resolution {
        return Err(OpError::field("resolution", "Resolution is required."));
    }
    if let Some(auto) = &t.sets_resolution {
        resolution = Some(auto.clone());
    }
    if t.clears_resolution || to.category != Category::Done {
        resolution = None;
    }
    let mut items = Vec::new();
    if resolution != issue.resolution {
        let name = |r: &Option<String>| {
            r.as_deref()
                .and_then(|id| site.resolution(id))
                .map(|r| r.name.clone())
        };
        items.push(item(
            "resolution",
            "resolution",
            issue.resolution.as_deref(),
            name(&issue.resolution).as_deref(),
            resolution.as_deref(),
            name(&resolution).as_deref(),
        ));
    }
    items.push(item(
        "status",
        "status",
        Some(&from.id),
        Some(&from.name),
        Some(&to.id),
        Some(&to.name),
    ));
    {
        let i = site.issue_by_ref_mut(key).expect("exists");
        i.status = to.id.clone();
        if from.category != to.category {
            i.status_category_changed = now;
        }
        i.resolution_date = if to.category == Category::Done {
            resolution.as_ref().map(|_| now)
        } else {
            None
        };
        i.resolution = resolution;
    }
    site.transitions_taken.push(crate::model::TransitionRecord {
        issue_key: issue.key.clone(),
        transition_id: t.id.clone(),
        from_status: from.name.clone(),
        to_status: to.name.clone(),
        by: actor.to_owned(),
    });
    let entry = record_change(site, key, actor, now, items);
    let issue = site.issue_by_ref(key).expect("exists").clone();
    Ok(vec![issue_updated(
        base,
        site,
        &issue,
        actor,
        "issue_generic",
        entry.as_ref(),
        None,
        now,
    )])
}

pub fn add_comment(
    site: &mut Site,
    base: &str,
    key: &str,
    body: Value,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<(Comment, Vec<Emitted>), OpError> {
    site.issue_by_ref(key).ok_or_else(OpError::not_found)?;
    let c = Comment {
        id: site.next_comment_id.to_string(),
        author: actor.into(),
        update_author: actor.into(),
        body,
        created: now,
        updated: now,
    };
    site.next_comment_id += 1;
    {
        let i = site.issue_by_ref_mut(key).expect("exists");
        i.comments.push(c.clone());
        i.updated = now;
    }
    let issue = site.issue_by_ref(key).expect("exists").clone();
    // Jira sends both: an issue_updated of type issue_commented and a comment_created.
    let events = vec![
        issue_updated(
            base,
            site,
            &issue,
            actor,
            "issue_commented",
            None,
            Some(&c),
            now,
        ),
        comment_event("comment_created", base, site, &issue, &c, now),
    ];
    Ok((c, events))
}

pub fn update_comment(
    site: &mut Site,
    base: &str,
    key: &str,
    comment_id: &str,
    body: Value,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<(Comment, Vec<Emitted>), OpError> {
    let i = site.issue_by_ref_mut(key).ok_or_else(OpError::not_found)?;
    let c = i
        .comments
        .iter_mut()
        .find(|c| c.id == comment_id)
        .ok_or_else(|| {
            OpError::message(
                404,
                "Can not find a comment for the id: ".to_owned() + comment_id,
            )
        })?;
    c.body = body;
    c.update_author = actor.into();
    c.updated = now;
    let c = c.clone();
    i.updated = now;
    let issue = i.clone();
    Ok((
        c.clone(),
        vec![comment_event(
            "comment_updated",
            base,
            site,
            &issue,
            &c,
            now,
        )],
    ))
}

pub fn delete_comment(
    site: &mut Site,
    base: &str,
    key: &str,
    comment_id: &str,
    now: DateTime<Utc>,
) -> Result<Vec<Emitted>, OpError> {
    let i = site.issue_by_ref_mut(key).ok_or_else(OpError::not_found)?;
    let pos = i
        .comments
        .iter()
        .position(|c| c.id == comment_id)
        .ok_or_else(|| {
            OpError::message(
                404,
                "Can not find a comment for the id: ".to_owned() + comment_id,
            )
        })?;
    let c = i.comments.remove(pos);
    i.updated = now;
    let issue = i.clone();
    Ok(vec![comment_event(
        "comment_deleted",
        base,
        site,
        &issue,
        &c,
        now,
    )])
}

pub fn delete_issue(
    site: &mut Site,
    base: &str,
    key: &str,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<Vec<Emitted>, OpError> {
    let issue = site
        .issue_by_ref(key)
        .ok_or_else(OpError::not_found)?
        .clone();
    let mut p = base_payload("jira:issue_deleted", now);
    p.insert("user".into(), render::user_ref(base, site, actor));
    p.insert(
        "issue".into(),
        render::issue(base, site, &issue, Version::V2, None),
    );
    let id: u64 = issue.id.parse().expect("numeric id");
    site.issues.remove(&id);
    Ok(vec![Emitted {
        event: "jira:issue_deleted",
        payload: Value::Object(p),
        issue,
        changed_fields: vec![],
    }])
}

pub fn set_property(site: &mut Site, key: &str, prop: &str, value: Value) -> Result<(), OpError> {
    let i = site.issue_by_ref_mut(key).ok_or_else(OpError::not_found)?;
    i.properties.insert(prop.to_owned(), value);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{SiteSpec, build_site};

    fn site() -> Site {
        build_site(&SiteSpec::standard("acme"), Utc::now())
    }

    fn create(site: &mut Site, project: &str) -> String {
        let f = json!({"project": {"key": project}, "issuetype": {"name": "Bug"}, "summary": "S", "description": adf::from_text("d")});
        create_issue(
            site,
            "http://x",
            f.as_object().unwrap(),
            Version::V3,
            "me",
            Utc::now(),
        )
        .unwrap()
        .key
    }

    #[test]
    fn simple_workflow_done_sets_resolution_and_reopen_clears_it() {
        let mut s = site();
        let key = create(&mut s, "APP");
        assert!(
            transition(&mut s, "http://x", &key, "51", None, "me", Utc::now()).is_err(),
            "reopen from To Do is unavailable"
        );
        let ev = transition(&mut s, "http://x", &key, "31", None, "me", Utc::now()).unwrap();
        let items = &ev[0].payload["changelog"]["items"];
        assert_eq!(items[0]["fieldId"], "resolution");
        assert_eq!(items[0]["toString"], "Done");
        assert_eq!(items[1]["fieldId"], "status");
        assert_eq!(
            ev[0].payload["issue"]["fields"]["status"]["statusCategory"]["key"],
            "done"
        );
        transition(&mut s, "http://x", &key, "51", None, "me", Utc::now()).unwrap();
        assert_eq!(s.issue_by_ref(&key).unwrap().resolution, None);
    }

    #[test]
    fn screens_that_need_a_resolution_refuse_a_transition_without_one() {
        let mut s = site();
        let key = create(&mut s, "SEC");
        let err = transition(&mut s, "http://x", &key, "121", None, "me", Utc::now()).unwrap_err();
        assert_eq!(err.fields[0].0, "resolution");
        let f = json!({"resolution": {"name": "Known Risk"}});
        transition(
            &mut s,
            "http://x",
            &key,
            "121",
            f.as_object(),
            "me",
            Utc::now(),
        )
        .unwrap();
        let i = s.issue_by_ref(&key).unwrap();
        assert_eq!(
            s.workflow_of(i).status(&i.status).unwrap().name,
            "Risk Accepted"
        );
        assert_eq!(i.resolution.as_deref(), Some("10004"));
    }

    #[test]
    fn v3_descriptions_must_be_adf_and_project_knobs_reject_fields() {
        let mut s = site();
        let f = json!({"project": {"key": "APP"}, "issuetype": {"name": "Bug"}, "summary": "S", "description": "plain"});
        let err = create_issue(
            &mut s,
            "http://x",
            f.as_object().unwrap(),
            Version::V3,
            "me",
            Utc::now(),
        )
        .unwrap_err();
        assert_eq!(
            err.fields,
            vec![("description".to_owned(), adf::NOT_ADF.to_owned())]
        );
        create_issue(
            &mut s,
            "http://x",
            f.as_object().unwrap(),
            Version::V2,
            "me",
            Utc::now(),
        )
        .unwrap();

        s.projects.get_mut("APP").unwrap().duedate_on_screen = false;
        let f = json!({"project": {"key": "APP"}, "issuetype": {"name": "Bug"}, "summary": "S", "duedate": "2026-12-01"});
        let err = create_issue(
            &mut s,
            "http://x",
            f.as_object().unwrap(),
            Version::V3,
            "me",
            Utc::now(),
        )
        .unwrap_err();
        assert_eq!(err.fields[0].0, "duedate");
    }

    #[test]
    fn a_comment_emits_issue_commented_and_comment_created() {
        let mut s = site();
        let key = create(&mut s, "APP");
        let (_, ev) = add_comment(
            &mut s,
            "http://x",
            &key,
            adf::from_text("false positive"),
            "me",
            Utc::now(),
        )
        .unwrap();
        assert_eq!(ev[0].payload["issue_event_type_name"], "issue_commented");
        assert_eq!(ev[1].event, "comment_created");
        assert_eq!(ev[1].payload["comment"]["body"], "false positive");
        let trimmed: Vec<&String> = ev[1].payload["issue"]["fields"]
            .as_object()
            .unwrap()
            .keys()
            .collect();
        assert_eq!(trimmed.len(), 6);
    }
}
