//! Jira's JSON shapes, modelled on responses recorded from a real Cloud site: `self` links,
//! status objects with their category, user objects, issues in v2 (text) and v3 (ADF) form.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use crate::adf;
use crate::model::{ChangelogEntry, Comment, Issue, Site, Status, Transition, User};

/// Jira's timestamp format: `2025-07-25T21:00:41.388+0000`.
pub fn ts(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.3f%z").to_string()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    V2,
    V3,
}

impl Version {
    pub fn parse(s: &str) -> Option<Version> {
        match s {
            "2" => Some(Version::V2),
            "3" | "latest" => Some(Version::V3),
            _ => None,
        }
    }
    pub fn num(self) -> &'static str {
        match self {
            Version::V2 => "2",
            Version::V3 => "3",
        }
    }
}

pub fn user(base: &str, u: &User) -> Value {
    let avatar = format!("{base}/avatar/{}", u.account_id);
    json!({
        "self": format!("{base}/rest/api/2/user?accountId={}", u.account_id.replace(':', "%3A")),
        "accountId": u.account_id,
        "emailAddress": u.email,
        "avatarUrls": {"48x48": avatar, "24x24": avatar, "16x16": avatar, "32x32": avatar},
        "displayName": u.display_name,
        "active": true,
        "timeZone": "Etc/UTC",
        "accountType": "atlassian",
    })
}

pub fn user_ref(base: &str, site: &Site, account_id: &str) -> Value {
    match site.user(account_id) {
        Some(u) => user(base, u),
        None => {
            json!({"accountId": account_id, "accountType": "app", "active": true, "displayName": account_id})
        }
    }
}

pub fn status(base: &str, s: &Status) -> Value {
    let c = s.category;
    json!({
        "self": format!("{base}/rest/api/2/status/{}", s.id),
        "description": "",
        "iconUrl": format!("{base}/"),
        "name": s.name,
        "id": s.id,
        "statusCategory": {
            "self": format!("{base}/rest/api/2/statuscategory/{}", c.id()),
            "id": c.id(),
            "key": c.key(),
            "colorName": c.color(),
            "name": c.name(),
        }
    })
}

pub fn project(base: &str, site: &Site, key: &str) -> Value {
    let p = &site.projects[key];
    json!({
        "self": format!("{base}/rest/api/2/project/{}", p.id),
        "id": p.id,
        "key": p.key,
        "name": p.name,
        "projectTypeKey": "software",
        "simplified": false,
    })
}

pub fn issue_type(base: &str, site: &Site, id: &str) -> Value {
    let t = site.issue_type(id).expect("issue type exists");
    json!({
        "self": format!("{base}/rest/api/2/issuetype/{}", t.id),
        "id": t.id,
        "description": "",
        "iconUrl": format!("{base}/images/icons/issuetypes/{}.svg", t.id),
        "name": t.name,
        "subtask": t.subtask,
        "hierarchyLevel": t.hierarchy_level,
    })
}

pub fn named(base: &str, kind: &str, id: &str, name: &str) -> Value {
    json!({"self": format!("{base}/rest/api/2/{kind}/{id}"), "id": id, "name": name, "description": ""})
}

pub fn comment(base: &str, site: &Site, issue: &Issue, c: &Comment, v: Version) -> Value {
    json!({
        "self": format!("{base}/rest/api/{}/issue/{}/comment/{}", v.num(), issue.id, c.id),
        "id": c.id,
        "author": user_ref(base, site, &c.author),
        "body": body(&Some(c.body.clone()), v),
        "updateAuthor": user_ref(base, site, &c.update_author),
        "created": ts(c.created),
        "updated": ts(c.updated),
        "jsdPublic": true,
    })
}

fn body(doc: &Option<Value>, v: Version) -> Value {
    match (doc, v) {
        (None, _) => Value::Null,
        (Some(d), Version::V3) => d.clone(),
        (Some(d), Version::V2) => Value::String(adf::to_text(d)),
    }
}

/// Every field of an issue, in the given representation.
pub fn all_fields(base: &str, site: &Site, i: &Issue, v: Version) -> Map<String, Value> {
    let wf = site.workflow_of(i);
    let st = wf.status(&i.status).expect("issue status in its workflow");
    let resolution = i
        .resolution
        .as_deref()
        .and_then(|r| site.resolution(r))
        .map(|r| named(base, "resolution", &r.id, &r.name))
        .unwrap_or(Value::Null);
    let priority = site
        .priority(&i.priority)
        .map(|p| {
            json!({"self": format!("{base}/rest/api/2/priority/{}", p.id), "iconUrl": format!("{base}/images/icons/priorities/{}.svg", p.name.to_lowercase()), "name": p.name, "id": p.id})
        })
        .unwrap_or(Value::Null);
    let parent = i
        .parent
        .as_deref()
        .and_then(|p| site.issue_by_ref(p))
        .map(|p| {
            let pst = site.workflow_of(p).status(&p.status).expect("status");
            json!({"id": p.id, "key": p.key, "self": format!("{base}/rest/api/2/issue/{}", p.id),
                   "fields": {"summary": p.summary, "status": status(base, pst), "issuetype": issue_type(base, site, &p.issue_type)}})
        })
        .unwrap_or(Value::Null);
    let comments: Vec<Value> = i
        .comments
        .iter()
        .map(|c| comment(base, site, i, c, v))
        .collect();
    let mut f = Map::new();
    f.insert(
        "statuscategorychangedate".into(),
        json!(ts(i.status_category_changed)),
    );
    f.insert("issuetype".into(), issue_type(base, site, &i.issue_type));
    f.insert("parent".into(), parent);
    f.insert("project".into(), project(base, site, &i.project_key));
    f.insert("resolution".into(), resolution);
    f.insert(
        "resolutiondate".into(),
        i.resolution_date
            .map(|t| json!(ts(t)))
            .unwrap_or(Value::Null),
    );
    f.insert("created".into(), json!(ts(i.created)));
    f.insert("updated".into(), json!(ts(i.updated)));
    f.insert("priority".into(), priority);
    f.insert("labels".into(), json!(i.labels));
    f.insert(
        "assignee".into(),
        i.assignee
            .as_deref()
            .map(|a| user_ref(base, site, a))
            .unwrap_or(Value::Null),
    );
    f.insert("reporter".into(), user_ref(base, site, &i.reporter));
    f.insert("creator".into(), user_ref(base, site, &i.reporter));
    f.insert("status".into(), status(base, st));
    f.insert("summary".into(), json!(i.summary));
    f.insert("description".into(), body(&i.description, v));
    f.insert(
        "duedate".into(),
        i.duedate.clone().map(Value::String).unwrap_or(Value::Null),
    );
    let project = &site.projects[&i.project_key];
    f.insert(
        "components".into(),
        i.components
            .iter()
            .map(|c| {
                let idx = project.components.iter().position(|x| x == c).unwrap_or(0);
                json!({"self": format!("{base}/rest/api/2/component/{}", 10000 + idx), "id": (10000 + idx).to_string(), "name": c})
            })
            .collect(),
    );
    f.insert(
        "security".into(),
        i.security
            .as_ref()
            .map(|l| {
                let idx = project.security_levels.iter().position(|x| x == l).unwrap_or(0);
                json!({"self": format!("{base}/rest/api/2/securitylevel/{}", 10100 + idx), "id": (10100 + idx).to_string(), "name": l})
            })
            .unwrap_or(Value::Null),
    );
    for cf in &site.custom_fields {
        let value = match (i.custom.get(&cf.id), &cf.kind) {
            (None, _) => Value::Null,
            (Some(Value::String(s)), crate::model::CustomKind::Select(_)) => json!({"value": s}),
            (Some(Value::String(s)), crate::model::CustomKind::Textarea) if v == Version::V3 => {
                crate::adf::from_text(s)
            }
            (Some(other), _) => other.clone(),
        };
        f.insert(cf.id.clone(), value);
    }
    f.insert("subtasks".into(), json!([]));
    f.insert("issuelinks".into(), json!([]));
    f.insert(
        "comment".into(),
        json!({"comments": comments, "self": format!("{base}/rest/api/{}/issue/{}/comment", v.num(), i.id),
               "maxResults": comments.len(), "total": comments.len(), "startAt": 0}),
    );
    f
}

/// Which fields a `fields` parameter asks for. `None` means all (GET issue's default).
pub fn select_fields(all: Map<String, Value>, wanted: Option<&[String]>) -> Map<String, Value> {
    let Some(wanted) = wanted else { return all };
    let include_all = wanted.iter().any(|w| w == "*all" || w == "*navigable");
    let excluded: Vec<&str> = wanted.iter().filter_map(|w| w.strip_prefix('-')).collect();
    all.into_iter()
        .filter(|(k, _)| {
            !excluded.contains(&k.as_str()) && (include_all || wanted.iter().any(|w| w == k))
        })
        .collect()
}

pub fn issue(base: &str, site: &Site, i: &Issue, v: Version, fields: Option<&[String]>) -> Value {
    let fields = select_fields(all_fields(base, site, i, v), fields);
    json!({
        "expand": "renderedFields,names,schema,operations,editmeta,changelog,versionedRepresentations",
        "id": i.id,
        "self": format!("{base}/rest/api/{}/issue/{}", v.num(), i.id),
        "key": i.key,
        "fields": fields,
    })
}

pub fn transition(
    base: &str,
    site: &Site,
    t: &Transition,
    wf_statuses: &[Status],
    with_fields: bool,
) -> Value {
    let mut out = json!({
        "id": t.id,
        "name": t.name,
        "hasScreen": t.requires_resolution,
        "isGlobal": t.from.is_empty(),
        "isInitial": false,
        "isAvailable": true,
        "isConditional": false,
        "isLooped": false,
    });
    if !t.hide_to
        && let Some(s) = wf_statuses.iter().find(|s| s.id == t.to)
    {
        out["to"] = status(base, s);
    }
    if with_fields {
        let mut fields = json!({});
        if t.requires_resolution {
            let allowed: Vec<Value> = site
                .resolutions
                .iter()
                .map(|r| named(base, "resolution", &r.id, &r.name))
                .collect();
            fields["resolution"] = json!({
                "required": true,
                "schema": {"type": "resolution", "system": "resolution"},
                "name": "Resolution", "key": "resolution", "operations": ["set"],
                "allowedValues": allowed,
            });
        }
        out["fields"] = fields;
    }
    out
}

pub fn changelog(c: &ChangelogEntry) -> Value {
    let items: Vec<Value> = c
        .items
        .iter()
        .map(|it| {
            json!({"field": it.field, "fieldtype": "jira", "fieldId": it.field_id,
                   "from": it.from, "fromString": it.from_string, "to": it.to, "toString": it.to_string})
        })
        .collect();
    json!({"id": c.id, "items": items})
}

/// The trimmed issue that comment events carry.
pub fn trimmed_issue(base: &str, site: &Site, i: &Issue) -> Value {
    let all = all_fields(base, site, i, Version::V2);
    let keep = [
        "summary",
        "issuetype",
        "project",
        "assignee",
        "priority",
        "status",
    ];
    let fields: Map<String, Value> = all
        .into_iter()
        .filter(|(k, _)| keep.contains(&k.as_str()))
        .collect();
    json!({"id": i.id, "self": format!("{base}/rest/api/2/issue/{}", i.id), "key": i.key, "fields": fields})
}

/// Jira's error body.
pub fn errors(messages: &[&str], field_errors: &[(&str, &str)]) -> Value {
    let map: Map<String, Value> = field_errors
        .iter()
        .map(|(k, v)| ((*k).to_owned(), json!(v)))
        .collect();
    json!({"errorMessages": messages, "errors": map})
}
