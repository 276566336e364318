//! Ticket fields that fit the project: the tenant's field map shaped for the create screen Jira
//! reports, and the checks that name a missing required field or a value outside a field's
//! allowed values before Jira refuses a ticket — at export time and when the map is saved.

use std::collections::BTreeMap;

use rules_sdk::ConfigEntry;
use serde_json::{Map, Value, json};
use verdict_wire::field_map::{self, FieldMap, FieldMapError};

use super::setting;
use crate::atlassian::outbound::ApiFlavor;
use crate::jira::api::{CreateField, CreateScreen};

/// Why a ticket's fields cannot be built for its project's create screen.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FieldsError {
    #[error("the field map setting `{key}` is invalid: {error}")]
    Map { key: String, error: FieldMapError },
    #[error(
        "`{field}` is not on the create screen of {project} / {issue_type} (fields there: {available})"
    )]
    NotOnScreen {
        field: String,
        project: String,
        issue_type: String,
        available: String,
    },
    #[error("{field} ({id}) does not allow `{value}` (allowed: {allowed})")]
    NotAllowed {
        field: String,
        id: String,
        value: String,
        allowed: String,
    },
    #[error("{field} ({id}): {why}")]
    BadValue {
        field: String,
        id: String,
        why: String,
    },
    #[error("`ticket.owners` names accounts Jira does not know: {0}")]
    UnknownAccounts(String),
    #[error("`{key}` names {epic}, which Jira does not have (or Verdict cannot see)")]
    NoSuchEpic { key: String, epic: String },
    #[error("Jira project {project} has no issue type `{issue_type}`")]
    NoIssueType { project: String, issue_type: String },
    #[error(
        "{project} / {issue_type} requires {missing}, which the field map does not set: add it to `ticket.fields.{project}`"
    )]
    MissingRequired {
        project: String,
        issue_type: String,
        missing: String,
    },
}

/// The field map for `project` / `issue_type`: `ticket.fields`, overlaid by
/// `ticket.fields.<PROJECT>`, overlaid by `ticket.fields.<PROJECT>.<Issue_Type>`.
pub fn map_for(
    config: &[ConfigEntry],
    project: &str,
    issue_type: &str,
) -> Result<FieldMap, FieldsError> {
    let mut map = FieldMap::default();
    for key in field_map::keys_for(project, issue_type) {
        if let Some(text) = setting(config, &key) {
            let narrower = field_map::parse(text).map_err(|error| FieldsError::Map {
                key: key.clone(),
                error,
            })?;
            map.overlay(narrower);
        }
    }
    Ok(map)
}

/// The summary template for `project`, if one is set.
pub fn summary_template<'a>(config: &'a [ConfigEntry], project: &str) -> Option<&'a str> {
    setting(
        config,
        &format!(
            "{}.{}",
            field_map::KEY_SUMMARY,
            project.to_ascii_uppercase()
        ),
    )
    .or_else(|| setting(config, field_map::KEY_SUMMARY))
}

fn allowed_list(f: &CreateField) -> String {
    let mut names: Vec<&str> = f.allowed.iter().map(|a| a.label.as_str()).collect();
    if names.len() > 20 {
        names.truncate(20);
        names.push("…");
    }
    names.join(", ")
}

/// `s` among the field's allowed values (case-insensitive, or by id): Jira's own spelling.
fn allowed<'a>(f: &'a CreateField, s: &str) -> Result<&'a str, FieldsError> {
    f.allowed
        .iter()
        .find(|a| a.label.eq_ignore_ascii_case(s) || a.id == s)
        .map(|a| a.label.as_str())
        .ok_or_else(|| FieldsError::NotAllowed {
            field: f.name.clone(),
            id: f.id.clone(),
            value: s.to_owned(),
            allowed: allowed_list(f),
        })
}

fn split_items(s: &str) -> Vec<String> {
    s.split(',')
        .map(str::trim)
        .filter(|x| !x.is_empty())
        .map(str::to_owned)
        .collect()
}

/// One named choice in Jira's shape (`{"value": …}` for options, `{"name": …}` otherwise).
fn choice(f: &CreateField, kind: &str, s: &str) -> Result<Value, FieldsError> {
    let label = if f.allowed.is_empty() {
        s
    } else {
        allowed(f, s)?
    };
    Ok(if kind == "option" {
        json!({"value": label})
    } else {
        json!({"name": label})
    })
}

/// A value as the field takes it. Bare strings (and lists of them) are shaped by the field's
/// schema; objects are sent as written. `Ok(None)`: the value came out empty, leave it out.
pub fn shape(
    f: &CreateField,
    value: &Value,
    flavor: ApiFlavor,
) -> Result<Option<Value>, FieldsError> {
    let bad = |why: String| FieldsError::BadValue {
        field: f.name.clone(),
        id: f.id.clone(),
        why,
    };
    let strings: Option<Vec<String>> = match value {
        Value::String(s) => Some(split_or_one(f, s)),
        Value::Array(items) if items.iter().all(Value::is_string) => Some(
            items
                .iter()
                .filter_map(Value::as_str)
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
                .collect(),
        ),
        _ => None,
    };
    let Some(strings) = strings else {
        // Jira's own shape (an object, a number, a list of objects), as written.
        if let Value::Number(_) = value
            && f.schema_type != "number"
        {
            return Err(bad(format!("takes a {}, not a number", f.schema_type)));
        }
        return Ok(Some(value.clone()));
    };
    if strings.is_empty() {
        return Ok(None);
    }
    let one = || -> Result<&str, FieldsError> {
        match strings.as_slice() {
            [s] => Ok(s.as_str()),
            _ => Err(bad("takes one value, not a list".into())),
        }
    };
    let shaped = match f.schema_type.as_str() {
        "array" => {
            let kind = f.items.as_deref().unwrap_or("string");
            match kind {
                "string" => json!(strings),
                "option" | "component" | "version" => Value::Array(
                    strings
                        .iter()
                        .map(|s| choice(f, kind, s))
                        .collect::<Result<_, _>>()?,
                ),
                "user" => Value::Array(strings.iter().map(|s| user(s, flavor)).collect()),
                other => {
                    return Err(bad(format!(
                        "lists of `{other}` are set with Jira's own JSON shape"
                    )));
                }
            }
        }
        "option" => choice(f, "option", one()?)?,
        "securitylevel" | "priority" | "version" | "component" | "resolution" => {
            choice(f, "name", one()?)?
        }
        "user" => user(one()?, flavor),
        "number" => {
            let s = one()?;
            let n: f64 = s
                .parse()
                .ok()
                .filter(|n: &f64| n.is_finite())
                .ok_or_else(|| bad(format!("takes a number, not `{s}`")))?;
            json!(n)
        }
        "date" => {
            let s = one()?;
            chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .map_err(|_| bad(format!("takes a date as YYYY-MM-DD, not `{s}`")))?;
            json!(s)
        }
        "issuelink" => json!({"key": one()?}),
        "string"
            if flavor == ApiFlavor::CloudV3
                && f.custom
                    .as_deref()
                    .is_some_and(|c| c.ends_with(":textarea")) =>
        {
            // A paragraph field takes ADF on REST v3.
            let text = strings.join(", ");
            json!({"type": "doc", "version": 1, "content": [{"type": "paragraph", "content": [{"type": "text", "text": text}]}]})
        }
        _ if !f.allowed.is_empty() => choice(f, "name", one()?)?,
        _ => json!(one()?),
    };
    Ok(Some(shaped))
}

/// Array fields take a comma-separated string as several values.
fn split_or_one(f: &CreateField, s: &str) -> Vec<String> {
    if f.schema_type == "array" {
        split_items(s)
    } else {
        let t = s.trim();
        if t.is_empty() {
            vec![]
        } else {
            vec![t.to_owned()]
        }
    }
}

fn user(s: &str, flavor: ApiFlavor) -> Value {
    match flavor {
        ApiFlavor::CloudV3 => json!({"accountId": s}),
        ApiFlavor::DataCenterV2 => json!({"name": s}),
    }
}

/// The field `name` (id or name) of the screen, or an error listing what the screen has.
fn on_screen<'a>(screen: &'a CreateScreen, name: &str) -> Result<&'a CreateField, FieldsError> {
    screen.field(name).ok_or_else(|| FieldsError::NotOnScreen {
        field: name.to_owned(),
        project: screen.project.clone(),
        issue_type: screen.issue_type.clone(),
        available: screen
            .fields
            .iter()
            .filter(|f| !VERDICT_SETS.contains(&f.id.as_str()))
            .map(|f| format!("{} ({})", f.name, f.id))
            .collect::<Vec<_>>()
            .join(", "),
    })
}

/// The map's fields for `screen`, expanded over `vars` and shaped; keys are field ids.
pub fn apply(
    screen: &CreateScreen,
    map: &FieldMap,
    vars: &BTreeMap<&str, String>,
    flavor: ApiFlavor,
) -> Result<Map<String, Value>, FieldsError> {
    let mut out = Map::new();
    for (name, value) in &map.entries {
        let f = on_screen(screen, name)?;
        if let Some(v) = shape(f, &field_map::expand(value, vars), flavor)? {
            out.insert(f.id.clone(), v);
        }
    }
    Ok(out)
}

/// Checks a map as far as it can be without a finding: every field on the screen, static
/// values in their allowed values and shapes. Templated values are checked when a ticket is filed.
pub fn check_static(
    screen: &CreateScreen,
    map: &FieldMap,
    flavor: ApiFlavor,
) -> Result<(), FieldsError> {
    for (name, value) in &map.entries {
        let f = on_screen(screen, name)?;
        if !has_template(value) {
            shape(f, value, flavor)?;
        }
    }
    Ok(())
}

fn has_template(v: &Value) -> bool {
    match v {
        Value::String(s) => s.contains("{{"),
        Value::Array(a) => a.iter().any(has_template),
        Value::Object(m) => m.values().any(has_template),
        _ => false,
    }
}

/// The screen's required fields (without a default) that `sent` does not set.
pub fn missing_required<'a>(screen: &'a CreateScreen, sent: &[&str]) -> Vec<&'a CreateField> {
    screen
        .fields
        .iter()
        .filter(|f| f.required && !f.has_default)
        .filter(|f| !sent.contains(&f.id.as_str()))
        .collect()
}

/// The error for required fields nobody sets.
pub fn require_all(screen: &CreateScreen, sent: &[&str]) -> Result<(), FieldsError> {
    let missing = missing_required(screen, sent);
    if missing.is_empty() {
        return Ok(());
    }
    Err(FieldsError::MissingRequired {
        project: screen.project.clone(),
        issue_type: screen.issue_type.clone(),
        missing: missing
            .iter()
            .map(|f| format!("{} ({})", f.name, f.id))
            .collect::<Vec<_>>()
            .join(", "),
    })
}

/// Checks new settings that hold field maps against the create screens they apply to, read
/// fresh from Jira: fields on the screen, static values allowed, every required field set.
/// Without a Jira connection (or when Jira cannot answer) only the format was checked.
pub async fn check_with_jira(
    state: &crate::state::AppState,
    tenant: &str,
    changes: &[(String, String)],
) -> Result<(), FieldsError> {
    let scopes: Vec<(Option<String>, Option<String>)> = changes
        .iter()
        .filter(|(_, v)| !v.trim().is_empty())
        .filter_map(|(k, _)| field_map::scope_of(k))
        .collect();
    let set = |key: &str| {
        changes
            .iter()
            .find(|(k, v)| k == key && !v.trim().is_empty())
            .map(|(_, v)| v.trim().to_owned())
    };
    let owners = set(field_map::KEY_OWNERS);
    let epics: Vec<(String, String)> = changes
        .iter()
        .filter(|(k, v)| {
            !v.trim().is_empty()
                && (k == field_map::KEY_EPIC
                    || k.strip_prefix(field_map::KEY_EPIC)
                        .is_some_and(|r| r.starts_with('.')))
        })
        .map(|(k, v)| (k.clone(), v.trim().to_owned()))
        .collect();
    if scopes.is_empty() && owners.is_none() && epics.is_empty() {
        return Ok(());
    }
    let auth = match state.jira_auth(tenant).await {
        Ok(a) => a,
        Err(e) => {
            tracing::info!(tenant, error = %e, "field map checked without Jira (not connected)");
            return Ok(());
        }
    };
    let mut config = super::config_of(state, tenant).await;
    config.extend(changes.iter().map(|(k, v)| ConfigEntry {
        key: k.clone(),
        value: v.clone(),
    }));
    // Owners are accounts that exist (Cloud account ids; Data Center user names are taken as
    // written) and epics are issues that exist.
    if let Some(text) = owners
        && auth.flavor() == ApiFlavor::CloudV3
        && let Ok(rules) = field_map::parse_owners(&text)
    {
        let mut wanted: Vec<String> = rules.iter().map(|r| r.assignee.trim().to_owned()).collect();
        wanted.sort();
        wanted.dedup();
        match state.jira().display_names(&auth, &wanted).await {
            Ok(known) => {
                let unknown: Vec<String> = wanted
                    .into_iter()
                    .filter(|a| !known.iter().any(|(id, _)| id == a))
                    .collect();
                if !unknown.is_empty() {
                    return Err(FieldsError::UnknownAccounts(unknown.join(", ")));
                }
            }
            Err(e) => {
                tracing::warn!(tenant, error = %e, "cannot look up the owners' accounts")
            }
        }
    }
    for (key, epic) in epics {
        match state.jira().get_issue(&auth, &epic).await {
            Ok(_) => {}
            Err(crate::jira::JiraError::Status { status: 404, .. }) => {
                return Err(FieldsError::NoSuchEpic { key, epic });
            }
            Err(e) => tracing::warn!(tenant, %epic, error = %e, "cannot check the configured epic"),
        }
    }
    for (project, issue_type) in scopes {
        let Some(project) = project.or_else(|| {
            setting(&config, rules_sdk::defaults::KEY_TICKET_PROJECT).map(str::to_owned)
        }) else {
            continue;
        };
        let issue_type = issue_type
            .or_else(|| {
                setting(&config, rules_sdk::defaults::KEY_TICKET_ISSUE_TYPE).map(str::to_owned)
            })
            .unwrap_or_else(|| "Bug".to_owned());
        let screen = match state
            .jira()
            .create_screen(&auth, &project, &issue_type, true)
            .await
        {
            Ok(Some(s)) => s,
            Ok(None) => {
                return Err(FieldsError::NoIssueType {
                    project,
                    issue_type,
                });
            }
            Err(e) => {
                tracing::warn!(tenant, %project, error = %e, "cannot read the create screen to check a field map");
                continue;
            }
        };
        let map = map_for(&config, &project, &issue_type)?;
        check_static(&screen, &map, auth.flavor())?;
        let mut sent: Vec<&str> = VERDICT_SETS.to_vec();
        sent.extend(["priority", "duedate"]);
        sent.extend(
            map.entries
                .keys()
                .filter_map(|k| screen.field(k).map(|f| f.id.as_str())),
        );
        require_all(&screen, &sent)?;
    }
    Ok(())
}

/// The fields Verdict itself fills on every ticket (whatever the map says).
pub const VERDICT_SETS: &[&str] = &["project", "issuetype", "summary", "description", "labels"];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jira::api::AllowedValue;

    fn field(id: &str, name: &str, ty: &str, items: Option<&str>, allowed: &[&str]) -> CreateField {
        CreateField {
            id: id.into(),
            name: name.into(),
            required: false,
            has_default: false,
            schema_type: ty.into(),
            items: items.map(str::to_owned),
            custom: None,
            allowed: allowed
                .iter()
                .enumerate()
                .map(|(i, a)| AllowedValue {
                    id: (100 + i).to_string(),
                    label: (*a).into(),
                })
                .collect(),
        }
    }

    #[test]
    fn bare_values_take_the_fields_shape() {
        let cloud = ApiFlavor::CloudV3;
        let sel = field(
            "customfield_1",
            "Severity",
            "option",
            None,
            &["High", "Low"],
        );
        assert_eq!(
            shape(&sel, &json!("high"), cloud).unwrap(),
            Some(json!({"value": "High"}))
        );
        assert!(matches!(
            shape(&sel, &json!("Medium"), cloud),
            Err(FieldsError::NotAllowed { .. })
        ));
        let comps = field(
            "components",
            "Components",
            "array",
            Some("component"),
            &["API", "Web"],
        );
        assert_eq!(
            shape(&comps, &json!("api, Web"), cloud).unwrap(),
            Some(json!([{"name": "API"}, {"name": "Web"}]))
        );
        let num = field("customfield_2", "Score", "number", None, &[]);
        assert_eq!(shape(&num, &json!("7.5"), cloud).unwrap(), Some(json!(7.5)));
        assert!(shape(&num, &json!("high"), cloud).is_err());
        assert_eq!(shape(&num, &json!(""), cloud).unwrap(), None);
        let who = field("assignee", "Assignee", "user", None, &[]);
        assert_eq!(
            shape(&who, &json!("jdoe"), ApiFlavor::DataCenterV2).unwrap(),
            Some(json!({"name": "jdoe"}))
        );
        let sec = field(
            "security",
            "Security Level",
            "securitylevel",
            None,
            &["Internal"],
        );
        assert_eq!(
            shape(&sec, &json!("internal"), cloud).unwrap(),
            Some(json!({"name": "Internal"}))
        );
        // Jira's own shape passes as written.
        assert_eq!(
            shape(&sel, &json!({"id": "101"}), cloud).unwrap(),
            Some(json!({"id": "101"}))
        );
    }
}
