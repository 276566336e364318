//! Create screens: which fields an issue type of a project can be created with — as create
//! metadata lists them and as the create call enforces them (a field off the screen, a
//! required field left out and a value outside a field's allowed values are refused, all at once).

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use crate::adf;
use crate::model::{CustomKind, Site};
use crate::ops::OpError;
use crate::render::Version;

/// The custom field type key Jira reports for a kind (`schema.custom`).
fn custom_type(kind: &CustomKind) -> (&'static str, &'static str) {
    match kind {
        CustomKind::Text => (
            "string",
            "com.atlassian.jira.plugin.system.customfieldtypes:textfield",
        ),
        CustomKind::Textarea => (
            "string",
            "com.atlassian.jira.plugin.system.customfieldtypes:textarea",
        ),
        CustomKind::Number => (
            "number",
            "com.atlassian.jira.plugin.system.customfieldtypes:float",
        ),
        CustomKind::Select(_) => (
            "option",
            "com.atlassian.jira.plugin.system.customfieldtypes:select",
        ),
        CustomKind::Team => (
            "team",
            "com.atlassian.jira.plugin.system.customfieldtypes:atlassian-team",
        ),
        CustomKind::EpicLink => ("any", "com.pyxis.greenhopper.jira:gh-epic-link"),
        CustomKind::EpicName => ("string", "com.pyxis.greenhopper.jira:gh-epic-label"),
    }
}

/// Option ids of a select field: stable per field and position.
fn option_id(field_id: &str, idx: usize) -> String {
    let n: u64 = field_id
        .trim_start_matches("customfield_")
        .parse()
        .unwrap_or(0);
    (n * 100 + idx as u64).to_string()
}

fn component_id(idx: usize) -> String {
    (10000 + idx).to_string()
}

fn security_id(idx: usize) -> String {
    (10100 + idx).to_string()
}

/// The ids of the fields on the create screen of `project` / `type_id`.
fn screen_ids(site: &Site, project: &str, type_id: &str) -> Vec<String> {
    let p = &site.projects[project];
    let subtask = site.issue_type(type_id).is_some_and(|t| t.subtask);
    let mut ids: Vec<String> = [
        "summary",
        "issuetype",
        "project",
        "description",
        "labels",
        "reporter",
        "assignee",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    if p.priority_on_screen {
        ids.push("priority".into());
    }
    if p.duedate_on_screen {
        ids.push("duedate".into());
    }
    // Data Center sets a parent only on sub-tasks; epics go by Epic Link.
    if !site.data_center || subtask {
        ids.push("parent".into());
    }
    if !p.team_managed {
        ids.push("components".into());
    }
    if !p.security_levels.is_empty() {
        ids.push("security".into());
    }
    ids.extend(p.screen_fields.iter().cloned());
    ids.extend(p.type_fields.get(type_id).into_iter().flatten().cloned());
    ids
}

/// Create metadata for one project and issue type: the fields with their schemas, whether
/// they are required and their allowed values.
pub fn create_meta(site: &Site, base: &str, project: &str, type_id: &str) -> Vec<Value> {
    let p = &site.projects[project];
    screen_ids(site, project, type_id)
        .into_iter()
        .filter_map(|id| {
            let required = matches!(id.as_str(), "summary" | "issuetype" | "project")
                || p.required.contains(&id);
            let (name, schema, allowed): (String, Value, Option<Vec<Value>>) = match id.as_str() {
                "summary" => ("Summary".into(), json!({"type": "string", "system": "summary"}), None),
                "issuetype" => ("Issue Type".into(), json!({"type": "issuetype", "system": "issuetype"}), None),
                "project" => ("Project".into(), json!({"type": "project", "system": "project"}), None),
                "description" => ("Description".into(), json!({"type": "string", "system": "description"}), None),
                "labels" => ("Labels".into(), json!({"type": "array", "items": "string", "system": "labels"}), None),
                "reporter" => ("Reporter".into(), json!({"type": "user", "system": "reporter"}), None),
                "assignee" => ("Assignee".into(), json!({"type": "user", "system": "assignee"}), None),
                "duedate" => ("Due date".into(), json!({"type": "date", "system": "duedate"}), None),
                "parent" => ("Parent".into(), json!({"type": "issuelink", "system": "parent"}), None),
                "priority" => (
                    "Priority".into(),
                    json!({"type": "priority", "system": "priority"}),
                    Some(site.priorities.iter().map(|x| json!({"self": format!("{base}/rest/api/2/priority/{}", x.id), "id": x.id, "name": x.name})).collect()),
                ),
                "components" => (
                    "Components".into(),
                    json!({"type": "array", "items": "component", "system": "components"}),
                    Some(p.components.iter().enumerate().map(|(i, c)| json!({"self": format!("{base}/rest/api/2/component/{}", component_id(i)), "id": component_id(i), "name": c})).collect()),
                ),
                "security" => (
                    "Security Level".into(),
                    json!({"type": "securitylevel", "system": "security"}),
                    Some(p.security_levels.iter().enumerate().map(|(i, l)| json!({"self": format!("{base}/rest/api/2/securitylevel/{}", security_id(i)), "id": security_id(i), "name": l, "description": ""})).collect()),
                ),
                custom => {
                    let f = site.custom_field(custom)?;
                    let (ty, key) = custom_type(&f.kind);
                    let num: u64 = custom.trim_start_matches("customfield_").parse().unwrap_or(0);
                    let allowed = match &f.kind {
                        CustomKind::Select(options) => Some(options.iter().enumerate().map(|(i, o)| json!({"self": format!("{base}/rest/api/2/customFieldOption/{}", option_id(custom, i)), "value": o, "id": option_id(custom, i)})).collect()),
                        _ => None,
                    };
                    (f.name.clone(), json!({"type": ty, "custom": key, "customId": num}), allowed)
                }
            };
            let mut out = json!({
                "required": required,
                "schema": schema,
                "name": name,
                "key": id,
                "fieldId": id,
                // Jira fills the reporter itself.
                "hasDefaultValue": id == "reporter",
                "operations": ["set"],
            });
            if let Some(a) = allowed {
                out["allowedValues"] = json!(a);
            }
            Some(out)
        })
        .collect()
}

/// What a create stores beyond the system fields `ops::create_issue` handles.
#[derive(Debug, Default)]
pub struct ScreenValues {
    pub custom: BTreeMap<String, Value>,
    pub components: Vec<String>,
    pub security: Option<String>,
}

fn empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.trim().is_empty(),
        Value::Array(a) => a.is_empty(),
        _ => false,
    }
}

/// `{"name": …}` or `{"id": …}` against named choices; the chosen index.
fn pick(
    v: &Value,
    key: &str,
    choices: &[String],
    id_of: impl Fn(usize) -> String,
) -> Option<usize> {
    if let Some(n) = v.get(key).and_then(Value::as_str) {
        return choices.iter().position(|c| c == n);
    }
    let id = v.get("id").and_then(|x| {
        x.as_str()
            .map(str::to_owned)
            .or_else(|| x.as_u64().map(|n| n.to_string()))
    })?;
    (0..choices.len()).find(|i| id_of(*i) == id)
}

/// Checks a create's fields against the screen of `project` / `type_id`: every field must be
/// on it, required ones present, values in their allowed values. All problems at once.
pub fn check_create(
    site: &Site,
    project: &str,
    type_id: &str,
    fields: &Map<String, Value>,
    v: Version,
) -> Result<ScreenValues, OpError> {
    let p = &site.projects[project];
    let screen = screen_ids(site, project, type_id);
    let mut problems: Vec<(String, String)> = Vec::new();
    let mut out = ScreenValues::default();
    for (id, value) in fields {
        if !screen.iter().any(|s| s == id) {
            problems.push((
                id.clone(),
                format!(
                    "Field '{id}' cannot be set. It is not on the appropriate screen, or unknown."
                ),
            ));
            continue;
        }
        if empty(value) {
            continue;
        }
        match id.as_str() {
            "components" => match value.as_array() {
                Some(items) => {
                    for c in items {
                        match pick(c, "name", &p.components, component_id) {
                            Some(i) => out.components.push(p.components[i].clone()),
                            None => problems.push((
                                id.clone(),
                                format!(
                                    "Component name '{}' is not valid",
                                    c.get("name").and_then(Value::as_str).unwrap_or("?")
                                ),
                            )),
                        }
                    }
                }
                None => problems.push((id.clone(), "data was not an array".into())),
            },
            "security" => match pick(value, "name", &p.security_levels, security_id) {
                Some(i) => out.security = Some(p.security_levels[i].clone()),
                None => problems.push((
                    id.clone(),
                    format!(
                        "Security level name '{}' is not valid",
                        value.get("name").and_then(Value::as_str).unwrap_or("?")
                    ),
                )),
            },
            custom if custom.starts_with("customfield_") => {
                let Some(f) = site.custom_field(custom) else {
                    continue;
                };
                let stored = match &f.kind {
                    CustomKind::Text | CustomKind::Team | CustomKind::EpicName => match value {
                        Value::String(s) => Ok(json!(s)),
                        _ => Err("Operation value must be a string".to_owned()),
                    },
                    CustomKind::Textarea => match (value, v) {
                        (Value::String(s), Version::V2) => Ok(json!(s)),
                        (other, Version::V3) => adf::validate(other)
                            .map(|_| json!(adf::to_text(other)))
                            .map_err(|m| m.to_string()),
                        _ => Err("Operation value must be a string".to_owned()),
                    },
                    CustomKind::Number => match value {
                        Value::Number(n) => Ok(json!(n)),
                        _ => Err("Operation value must be a number".to_owned()),
                    },
                    CustomKind::Select(options) => {
                        match pick(value, "value", options, |i| option_id(custom, i)) {
                            Some(i) => Ok(json!(options[i])),
                            None => Err(format!("Specify a valid value for {}", f.name)),
                        }
                    }
                    CustomKind::EpicLink => match value.as_str() {
                        Some(key) => match site.issue_by_ref(key) {
                            Some(e)
                                if site
                                    .issue_type(&e.issue_type)
                                    .is_some_and(|t| t.hierarchy_level == 1) =>
                            {
                                Ok(json!(e.key))
                            }
                            _ => Err(format!("The issue {key} is not an epic or does not exist.")),
                        },
                        None => Err("Operation value must be a string".to_owned()),
                    },
                };
                match stored {
                    Ok(s) => {
                        out.custom.insert(custom.to_owned(), s);
                    }
                    Err(m) => problems.push((custom.to_owned(), m)),
                }
            }
            _ => {}
        }
    }
    for id in &p.required {
        if screen.contains(id) && fields.get(id).is_none_or(empty) {
            let name = site
                .custom_field(id)
                .map(|f| f.name.clone())
                .unwrap_or_else(|| match id.as_str() {
                    "components" => "Component/s".into(),
                    "security" => "Security Level".into(),
                    other => other.to_owned(),
                });
            problems.push((id.clone(), format!("{name} is required.")));
        }
    }
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(OpError {
            status: 400,
            messages: vec![],
            fields: problems,
        })
    }
}
