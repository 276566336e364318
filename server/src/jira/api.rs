//! Typed calls for what Verdict does in Jira: create and read issues, transitions, comments,
//! search with token paging, remote links, priorities. Rich text goes as ADF to Cloud (REST
//! v3) and as wiki markup to Data Center (REST v2).

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{JiraClient, JiraError};
use crate::atlassian::JiraAuth;
use crate::atlassian::outbound::ApiFlavor;
pub use verdict_wire::template::RichText;

/// A status as Jira reports it on an issue or a transition target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StatusRef {
    pub id: String,
    pub name: String,
    /// `new`, `indeterminate` or `done`.
    pub category: String,
}

impl StatusRef {
    fn parse(v: &Value) -> Option<Self> {
        Some(Self {
            id: text(v.get("id")?)?,
            name: v.get("name").and_then(Value::as_str)?.to_owned(),
            category: v
                .pointer("/statusCategory/key")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
        })
    }
}

/// The parts of an issue Verdict reads.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Issue {
    pub id: String,
    pub key: String,
    pub project: String,
    pub issue_type: String,
    pub status: StatusRef,
    pub resolution: Option<String>,
    pub labels: Vec<String>,
    /// `fields.updated`, epoch milliseconds.
    pub updated: Option<i64>,
    /// When the status category last changed, epoch milliseconds.
    pub status_category_changed: Option<i64>,
}

/// The fields [`Issue`] needs, for `fields=` parameters.
pub const ISSUE_FIELDS: &str =
    "project,issuetype,status,resolution,labels,updated,statuscategorychangedate";

impl Issue {
    pub fn parse(v: &Value) -> Option<Self> {
        let f = v.get("fields")?;
        Some(Self {
            id: text(v.get("id")?)?,
            key: v.get("key").and_then(Value::as_str)?.to_owned(),
            project: f
                .pointer("/project/key")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            issue_type: f
                .pointer("/issuetype/name")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            status: StatusRef::parse(f.get("status")?)?,
            resolution: f
                .pointer("/resolution/name")
                .and_then(Value::as_str)
                .map(str::to_owned),
            labels: f
                .get("labels")
                .and_then(Value::as_array)
                .map(|l| {
                    l.iter()
                        .filter_map(|x| x.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default(),
            updated: f
                .get("updated")
                .and_then(Value::as_str)
                .and_then(crate::jira::jira_millis),
            status_category_changed: f
                .get("statuscategorychangedate")
                .and_then(Value::as_str)
                .and_then(crate::jira::jira_millis),
        })
    }
}

/// A transition offered from the issue's current status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Transition {
    pub id: String,
    pub name: String,
    /// Absent in some Jira answers.
    pub to: Option<StatusRef>,
    /// Fields the transition screen requires (e.g. `resolution`).
    pub required_fields: Vec<String>,
    /// Resolutions the screen allows, when it has a resolution field.
    pub resolutions: Vec<String>,
}

/// A new issue. `description` is the text rendered for the tenant's flavour.
#[derive(Debug, Clone, Default)]
pub struct NewIssue {
    pub project: String,
    pub issue_type: String,
    pub summary: String,
    pub description: RichText,
    pub labels: Vec<String>,
    pub priority: Option<String>,
    pub due_date: Option<String>,
    /// The epic (or parent) key.
    pub parent: Option<String>,
    /// The field that carries `parent`: `None` for Jira's `parent`, or Data Center's Epic
    /// Link custom field id.
    pub parent_field: Option<String>,
    /// An account id (Cloud) or user name (Data Center).
    pub assignee: Option<String>,
    /// Further fields, already in Jira's shapes (the tenant's field map), by field id.
    pub fields: serde_json::Map<String, Value>,
    /// Entity properties stored on the issue (key → JSON value).
    pub properties: Vec<(String, Value)>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreatedIssue {
    pub id: String,
    pub key: String,
}

/// One page of `/search/jql`.
#[derive(Debug, Clone)]
pub struct SearchPage {
    pub issues: Vec<Issue>,
    pub next_page_token: Option<String>,
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// The REST version path for the tenant.
pub fn rest(auth: &JiraAuth) -> &'static str {
    match auth.flavor() {
        ApiFlavor::CloudV3 => "/rest/api/3",
        ApiFlavor::DataCenterV2 => "/rest/api/2",
    }
}

impl JiraError {
    /// Whether Jira named `field` in its error answer (`errors.{field}`).
    pub fn rejected_field(&self, field: &str) -> bool {
        match self {
            JiraError::Status {
                status: 400,
                message,
            } => message
                .split("; ")
                .any(|p| p.starts_with(&format!("{field}: "))),
            _ => false,
        }
    }
}

/// One comment on an issue, its body as plain text (ADF on Cloud, wiki text on Data Center).
#[derive(Debug, Clone, PartialEq)]
pub struct IssueComment {
    pub id: String,
    /// The author's account id (Cloud), or user key or name (Data Center).
    pub author: String,
    pub body: String,
    /// Epoch milliseconds.
    pub created: i64,
    pub updated: i64,
}

/// The fields a closure decision reads from the issue.
const CLOSURE_FIELDS: &str = "status,resolution,labels,priority,reporter,assignee,project,issuetype,created,resolutiondate,description";

impl JiraClient {
    /// The account the credentials act as (`…/myself`): how credentials are checked.
    pub async fn myself(&self, auth: &JiraAuth) -> Result<Value, JiraError> {
        self.get(auth, &format!("{}/myself", rest(auth))).await
    }

    /// `serverInfo`: the site's own URL (`baseUrl`), version and deployment type.
    pub async fn server_info(&self, auth: &JiraAuth) -> Result<Value, JiraError> {
        self.get(auth, &format!("{}/serverInfo", rest(auth))).await
    }

    /// The app's dynamic webhooks on the site (Cloud only: OAuth 2.0 and Connect apps).
    pub async fn dynamic_webhooks(&self, auth: &JiraAuth) -> Result<Value, JiraError> {
        self.get(auth, &format!("{}/webhook", rest(auth))).await
    }

    /// Registers dynamic webhooks (`{"url", "webhooks": […]}`); Jira's registration result.
    pub async fn register_dynamic_webhooks(
        &self,
        auth: &JiraAuth,
        body: &Value,
    ) -> Result<Value, JiraError> {
        self.send(
            auth,
            reqwest::Method::POST,
            &format!("{}/webhook", rest(auth)),
            Some(body),
        )
        .await
    }

    pub async fn delete_dynamic_webhooks(
        &self,
        auth: &JiraAuth,
        ids: &[u64],
    ) -> Result<(), JiraError> {
        self.send(
            auth,
            reqwest::Method::DELETE,
            &format!("{}/webhook", rest(auth)),
            Some(&json!({"webhookIds": ids})),
        )
        .await
        .map(drop)
    }

    /// Extends dynamic webhooks by Jira's 30 days.
    pub async fn refresh_dynamic_webhooks(
        &self,
        auth: &JiraAuth,
        ids: &[u64],
    ) -> Result<(), JiraError> {
        self.send(
            auth,
            reqwest::Method::PUT,
            &format!("{}/webhook/refresh", rest(auth)),
            Some(&json!({"webhookIds": ids})),
        )
        .await
        .map(drop)
    }

    /// The issue as a closure decision reads it (the raw answer: its fields differ between
    /// REST versions only in the description's format, which ADF-to-text reads either way).
    pub async fn closure_issue(&self, auth: &JiraAuth, id: &str) -> Result<Value, JiraError> {
        self.get(
            auth,
            &format!("{}/issue/{}?fields={CLOSURE_FIELDS}", rest(auth), enc(id)),
        )
        .await
    }

    /// Every comment on the issue, oldest first, paging through Jira's list (at most 1,000).
    pub async fn comments(
        &self,
        auth: &JiraAuth,
        issue: &str,
    ) -> Result<Vec<IssueComment>, JiraError> {
        let mut out = Vec::new();
        let mut start = 0;
        while out.len() < 1_000 {
            let page = self
                .get(
                    auth,
                    &format!(
                        "{}/issue/{}/comment?orderBy=created&startAt={start}&maxResults=100",
                        rest(auth),
                        enc(issue)
                    ),
                )
                .await?;
            let items = page
                .get("comments")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let n = items.len();
            for c in items {
                let created = c
                    .get("created")
                    .and_then(Value::as_str)
                    .and_then(super::jira_millis)
                    .unwrap_or(0);
                let author = ["/author/accountId", "/author/key", "/author/name"]
                    .iter()
                    .find_map(|p| c.pointer(p).and_then(Value::as_str))
                    .unwrap_or_default()
                    .to_owned();
                out.push(IssueComment {
                    id: c
                        .get("id")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_owned(),
                    author,
                    body: c
                        .get("body")
                        .map(verdict_wire::adf::to_text)
                        .unwrap_or_default(),
                    created,
                    updated: c
                        .get("updated")
                        .and_then(Value::as_str)
                        .and_then(super::jira_millis)
                        .unwrap_or(created),
                });
            }
            let total = page.get("total").and_then(Value::as_u64).unwrap_or(0) as usize;
            start += n;
            if n == 0 || start >= total {
                break;
            }
        }
        Ok(out)
    }

    pub async fn create_issue(
        &self,
        auth: &JiraAuth,
        issue: &NewIssue,
    ) -> Result<CreatedIssue, JiraError> {
        let mut fields = json!({
            "project": {"key": issue.project},
            "issuetype": {"name": issue.issue_type},
            "summary": issue.summary,
            "description": issue.description.to_json(),
            "labels": issue.labels,
        });
        if let Some(p) = &issue.priority {
            fields["priority"] = json!({"name": p});
        }
        if let Some(d) = &issue.due_date {
            fields["duedate"] = json!(d);
        }
        match (&issue.parent, &issue.parent_field) {
            (Some(p), Some(epic_link)) => fields[epic_link.as_str()] = json!(p),
            (Some(p), None) => fields["parent"] = json!({"key": p}),
            (None, _) => {}
        }
        if let Some(a) = &issue.assignee {
            fields["assignee"] = match auth.flavor() {
                ApiFlavor::CloudV3 => json!({"accountId": a}),
                ApiFlavor::DataCenterV2 => json!({"name": a}),
            };
        }
        for (id, value) in &issue.fields {
            if fields.get(id).is_none() {
                fields[id.as_str()] = value.clone();
            }
        }
        let mut body = json!({ "fields": fields });
        if !issue.properties.is_empty() {
            body["properties"] = issue
                .properties
                .iter()
                .map(|(k, v)| json!({"key": k, "value": v}))
                .collect();
        }
        let v = self
            .send(
                auth,
                reqwest::Method::POST,
                &format!("{}/issue", rest(auth)),
                Some(&body),
            )
            .await?;
        serde_json::from_value(json!({"id": v.get("id").and_then(text), "key": v.get("key")}))
            .map_err(|e| JiraError::Body(e.to_string()))
    }

    /// Sets fields of an issue (`PUT …/issue/{id}`), in Jira's shapes.
    pub async fn edit_issue(
        &self,
        auth: &JiraAuth,
        key_or_id: &str,
        fields: serde_json::Map<String, Value>,
    ) -> Result<(), JiraError> {
        self.send(
            auth,
            reqwest::Method::PUT,
            &format!("{}/issue/{}", rest(auth), enc(key_or_id)),
            Some(&json!({ "fields": fields })),
        )
        .await
        .map(drop)
    }

    pub async fn get_issue(&self, auth: &JiraAuth, key_or_id: &str) -> Result<Issue, JiraError> {
        let v = self
            .get(
                auth,
                &format!(
                    "{}/issue/{}?fields={ISSUE_FIELDS}",
                    rest(auth),
                    enc(key_or_id)
                ),
            )
            .await?;
        Issue::parse(&v).ok_or_else(|| JiraError::Body("issue without id, key or status".into()))
    }

    /// The issue and the transitions offered from its status, in one call
    /// (`expand=transitions.fields`).
    pub async fn issue_with_transitions(
        &self,
        auth: &JiraAuth,
        key_or_id: &str,
    ) -> Result<(Issue, Vec<Transition>), JiraError> {
        let v = self
            .get(
                auth,
                &format!(
                    "{}/issue/{}?fields={ISSUE_FIELDS}&expand=transitions,transitions.fields",
                    rest(auth),
                    enc(key_or_id)
                ),
            )
            .await?;
        let issue = Issue::parse(&v)
            .ok_or_else(|| JiraError::Body("issue without id, key or status".into()))?;
        Ok((issue, parse_transitions(&v)))
    }

    /// The transitions offered from the issue's current status, with their screens' fields.
    pub async fn transitions(
        &self,
        auth: &JiraAuth,
        key_or_id: &str,
    ) -> Result<Vec<Transition>, JiraError> {
        let v = self
            .get(
                auth,
                &format!(
                    "{}/issue/{}/transitions?expand=transitions.fields",
                    rest(auth),
                    enc(key_or_id)
                ),
            )
            .await?;
        Ok(parse_transitions(&v))
    }

    /// Takes a transition, filling `resolution` and adding `comment` in the same request
    /// (one call, one history entry).
    pub async fn transition(
        &self,
        auth: &JiraAuth,
        key_or_id: &str,
        transition_id: &str,
        resolution: Option<&str>,
        comment: Option<&RichText>,
    ) -> Result<(), JiraError> {
        let mut body = json!({"transition": {"id": transition_id}});
        if let Some(r) = resolution {
            body["fields"] = json!({"resolution": {"name": r}});
        }
        if let Some(c) = comment {
            body["update"] = json!({"comment": [{"add": {"body": c.to_json()}}]});
        }
        self.send(
            auth,
            reqwest::Method::POST,
            &format!("{}/issue/{}/transitions", rest(auth), enc(key_or_id)),
            Some(&body),
        )
        .await?;
        Ok(())
    }

    pub async fn add_comment(
        &self,
        auth: &JiraAuth,
        key_or_id: &str,
        body: &RichText,
    ) -> Result<String, JiraError> {
        let v = self
            .send(
                auth,
                reqwest::Method::POST,
                &format!("{}/issue/{}/comment", rest(auth), enc(key_or_id)),
                Some(&json!({"body": body.to_json()})),
            )
            .await?;
        Ok(v.get("id").and_then(text).unwrap_or_default())
    }

    /// One page of a JQL search: Cloud's `/search/jql` with token paging; Data Center's
    /// `/search` with `startAt` (the token is then the next offset).
    pub async fn search_page(
        &self,
        auth: &JiraAuth,
        jql: &str,
        page_token: Option<&str>,
        max_results: u32,
    ) -> Result<SearchPage, JiraError> {
        let dc = auth.flavor() == ApiFlavor::DataCenterV2;
        let mut path = if dc {
            format!(
                "{}/search?jql={}&fields={ISSUE_FIELDS}&maxResults={max_results}&startAt={}",
                rest(auth),
                enc(jql),
                page_token.unwrap_or("0")
            )
        } else {
            format!(
                "{}/search/jql?jql={}&fields={ISSUE_FIELDS}&maxResults={max_results}",
                rest(auth),
                enc(jql)
            )
        };
        if let (false, Some(t)) = (dc, page_token) {
            path.push_str(&format!("&nextPageToken={}", enc(t)));
        }
        let v = self.get(auth, &path).await?;
        let issues: Vec<Issue> = v
            .get("issues")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Issue::parse).collect())
            .unwrap_or_default();
        let next_page_token = if dc {
            let start: u64 = page_token.and_then(|t| t.parse().ok()).unwrap_or(0);
            let total = v.get("total").and_then(Value::as_u64).unwrap_or(0);
            let next = start + issues.len() as u64;
            (!issues.is_empty() && next < total).then(|| next.to_string())
        } else {
            let last = v.get("isLast").and_then(Value::as_bool).unwrap_or(true);
            v.get("nextPageToken")
                .and_then(Value::as_str)
                .map(str::to_owned)
                .filter(|_| !last)
        };
        Ok(SearchPage {
            issues,
            next_page_token,
        })
    }

    /// Every issue a JQL search finds (at most `cap`).
    pub async fn search_all(
        &self,
        auth: &JiraAuth,
        jql: &str,
        cap: usize,
    ) -> Result<Vec<Issue>, JiraError> {
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let page = self.search_page(auth, jql, token.as_deref(), 100).await?;
            out.extend(page.issues);
            match page.next_page_token {
                Some(t) if out.len() < cap => token = Some(t),
                _ => break,
            }
        }
        out.truncate(cap);
        Ok(out)
    }

    /// Adds a web link (e.g. back to the finding in Verdict) to the issue.
    pub async fn add_remote_link(
        &self,
        auth: &JiraAuth,
        key_or_id: &str,
        global_id: &str,
        url: &str,
        title: &str,
    ) -> Result<(), JiraError> {
        // `globalId` makes the call an upsert, so repeating it is harmless.
        let body = json!({
            "globalId": global_id,
            "object": {"url": url, "title": title},
        });
        self.send(
            auth,
            reqwest::Method::POST,
            &format!("{}/issue/{}/remotelink", rest(auth), enc(key_or_id)),
            Some(&body),
        )
        .await?;
        Ok(())
    }
}

/// A named thing from Jira's metadata (priority, resolution, issue type), for pickers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Named {
    pub id: String,
    pub name: String,
}

fn screen_key(auth: &JiraAuth, project: &str, issue_type: &str) -> String {
    format!(
        "{}|{}|{}",
        auth.base_url(),
        project.to_ascii_uppercase(),
        issue_type.to_lowercase()
    )
}

/// One value a field allows (an option, a component, a security level, a priority).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct AllowedValue {
    pub id: String,
    /// What a person picks: an option's `value` or a component's or level's `name`.
    pub label: String,
}

/// A field on a create screen.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct CreateField {
    /// `summary`, `components`, `customfield_10042`…
    pub id: String,
    pub name: String,
    pub required: bool,
    /// Jira fills it when left out (the reporter, a field with a default).
    pub has_default: bool,
    /// `schema.type`: `string`, `number`, `option`, `array`, `user`, `securitylevel`…
    pub schema_type: String,
    /// `schema.items` of an array field: `component`, `option`, `string`, `version`…
    pub items: Option<String>,
    /// `schema.custom` of a custom field (its type key).
    pub custom: Option<String>,
    /// Empty when the field takes any value.
    pub allowed: Vec<AllowedValue>,
}

impl CreateField {
    fn parse(v: &Value) -> Option<Self> {
        let id = v
            .get("fieldId")
            .or_else(|| v.get("key"))
            .and_then(Value::as_str)?
            .to_owned();
        let schema = v.get("schema");
        let s = |k: &str| {
            schema
                .and_then(|x| x.get(k))
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        Some(Self {
            name: v
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or(&id)
                .to_owned(),
            required: v.get("required").and_then(Value::as_bool).unwrap_or(false),
            has_default: v
                .get("hasDefaultValue")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            schema_type: s("type").unwrap_or_default(),
            items: s("items"),
            custom: s("custom"),
            allowed: v
                .get("allowedValues")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|x| {
                            let label = x
                                .get("value")
                                .or_else(|| x.get("name"))
                                .and_then(Value::as_str)?;
                            Some(AllowedValue {
                                id: x.get("id").and_then(text).unwrap_or_default(),
                                label: label.to_owned(),
                            })
                        })
                        .collect()
                })
                .unwrap_or_default(),
            id,
        })
    }

    /// Data Center's Epic Link field.
    pub fn is_epic_link(&self) -> bool {
        self.custom.as_deref() == Some("com.pyxis.greenhopper.jira:gh-epic-link")
    }
}

/// The create screen of one issue type in one project.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct CreateScreen {
    pub project: String,
    pub issue_type: String,
    pub fields: Vec<CreateField>,
}

impl CreateScreen {
    /// A field by id, or by its name (case-insensitive).
    pub fn field(&self, id_or_name: &str) -> Option<&CreateField> {
        self.fields.iter().find(|f| f.id == id_or_name).or_else(|| {
            self.fields
                .iter()
                .find(|f| f.name.eq_ignore_ascii_case(id_or_name))
        })
    }

    pub fn has(&self, id: &str) -> bool {
        self.fields.iter().any(|f| f.id == id)
    }
}

/// A project, for pickers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ProjectRef {
    pub id: String,
    pub key: String,
    pub name: String,
}

/// A workflow status with its category (`new`, `indeterminate`, `done`), for pickers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct StatusOption {
    pub id: String,
    pub name: String,
    pub category: String,
}

/// Most projects a picker lists (Jira pages them 50 at a time).
pub const MAX_PROJECTS: usize = 1_000;

fn named_list(v: &Value) -> Vec<Named> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| {
                    Some(Named {
                        id: text(x.get("id")?)?,
                        name: x.get("name").and_then(Value::as_str)?.to_owned(),
                    })
                })
                .collect()
        })
        .unwrap_or_default()
}

impl JiraClient {
    /// Whether `account_id` holds the global permission `permission` (e.g. `ADMINISTER`),
    /// asked with the app's own credentials (`POST /permissions/check`; Connect apps may ask
    /// about any user from their server).
    pub async fn has_global_permission(
        &self,
        auth: &JiraAuth,
        account_id: &str,
        permission: &str,
    ) -> Result<bool, JiraError> {
        let body = json!({"accountId": account_id, "globalPermissions": [permission]});
        let v = self
            .send(
                auth,
                reqwest::Method::POST,
                &format!("{}/permissions/check", rest(auth)),
                Some(&body),
            )
            .await?;
        Ok(v.get("globalPermissions")
            .and_then(Value::as_array)
            .is_some_and(|a| a.iter().any(|p| p.as_str() == Some(permission))))
    }

    /// Display names of Atlassian accounts (Cloud `user/bulk`, at most 100 at a time); unknown
    /// accounts are left out. Data Center has no account ids: nothing to look up.
    pub async fn display_names(
        &self,
        auth: &JiraAuth,
        accounts: &[String],
    ) -> Result<Vec<(String, String)>, JiraError> {
        if auth.flavor() == ApiFlavor::DataCenterV2 || accounts.is_empty() {
            return Ok(Vec::new());
        }
        let mut out = Vec::new();
        for chunk in accounts.chunks(100) {
            let query: String = chunk
                .iter()
                .map(|a| format!("accountId={}", enc(a)))
                .collect::<Vec<_>>()
                .join("&");
            let v = self
                .get(
                    auth,
                    &format!("{}/user/bulk?maxResults=100&{query}", rest(auth)),
                )
                .await?;
            out.extend(
                v.get("values")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(|u| {
                        Some((
                            u.get("accountId")?.as_str()?.to_owned(),
                            u.get("displayName")?.as_str()?.to_owned(),
                        ))
                    }),
            );
        }
        Ok(out)
    }

    /// The site's projects (Cloud: `project/search`, paged; Data Center: `project`).
    pub async fn projects(&self, auth: &JiraAuth) -> Result<Vec<ProjectRef>, JiraError> {
        let parse = |p: &Value| {
            Some(ProjectRef {
                id: text(p.get("id")?)?,
                key: p.get("key").and_then(Value::as_str)?.to_owned(),
                name: p.get("name").and_then(Value::as_str)?.to_owned(),
            })
        };
        if auth.flavor() == ApiFlavor::DataCenterV2 {
            let v = self.get(auth, &format!("{}/project", rest(auth))).await?;
            return Ok(v
                .as_array()
                .map(|a| a.iter().filter_map(parse).take(MAX_PROJECTS).collect())
                .unwrap_or_default());
        }
        let mut out = Vec::new();
        let mut start = 0;
        while out.len() < MAX_PROJECTS {
            let page = self
                .get(
                    auth,
                    &format!(
                        "{}/project/search?startAt={start}&maxResults=50&orderBy=key",
                        rest(auth)
                    ),
                )
                .await?;
            let values = page
                .get("values")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            start += values.len();
            out.extend(values.iter().filter_map(parse));
            let last = page.get("isLast").and_then(Value::as_bool).unwrap_or(true);
            if last || values.is_empty() {
                break;
            }
        }
        out.truncate(MAX_PROJECTS);
        Ok(out)
    }

    /// The issue types one can create in `project` (sub-tasks left out).
    pub async fn project_issue_types(
        &self,
        auth: &JiraAuth,
        project: &str,
    ) -> Result<Vec<Named>, JiraError> {
        let v = self
            .get(
                auth,
                &format!(
                    "{}/issue/createmeta/{}/issuetypes?maxResults=100",
                    rest(auth),
                    enc(project)
                ),
            )
            .await?;
        let list = v.get("issueTypes").or_else(|| v.get("values"));
        Ok(list
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter(|t| t.get("subtask").and_then(Value::as_bool) != Some(true))
                    .filter_map(|t| {
                        Some(Named {
                            id: text(t.get("id")?)?,
                            name: t.get("name").and_then(Value::as_str)?.to_owned(),
                        })
                    })
                    .collect()
            })
            .unwrap_or_default())
    }

    /// The create screen of `issue_type` (by name) in `project`: its fields, which are
    /// required and their allowed values (`…/issue/createmeta/{project}/issuetypes/{id}`,
    /// Cloud and Data Center 8.4+). `Ok(None)` when the project has no such issue type.
    /// Cached for [`super::CREATE_SCREEN_TTL`]; `fresh` reads it again (settings checks).
    pub async fn create_screen(
        &self,
        auth: &JiraAuth,
        project: &str,
        issue_type: &str,
        fresh: bool,
    ) -> Result<Option<std::sync::Arc<CreateScreen>>, JiraError> {
        let cache_key = screen_key(auth, project, issue_type);
        if !fresh && let Some(hit) = self.create_screens.get(&cache_key) {
            return Ok(Some(hit));
        }
        let types = self.project_issue_types(auth, project).await?;
        let Some(t) = types
            .into_iter()
            .find(|t| t.name.eq_ignore_ascii_case(issue_type) || t.id == issue_type)
        else {
            return Ok(None);
        };
        let mut fields = Vec::new();
        let mut start = 0usize;
        loop {
            let page = self
                .get(
                    auth,
                    &format!(
                        "{}/issue/createmeta/{}/issuetypes/{}?startAt={start}&maxResults=200",
                        rest(auth),
                        enc(project),
                        enc(&t.id)
                    ),
                )
                .await?;
            // Cloud pages them as `fields`, Data Center as `values`.
            let list = page
                .get("fields")
                .or_else(|| page.get("values"))
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let n = list.len();
            fields.extend(list.iter().filter_map(CreateField::parse));
            start += n;
            let total = page.get("total").and_then(Value::as_u64).unwrap_or(0) as usize;
            let last = page
                .get("isLast")
                .and_then(Value::as_bool)
                .unwrap_or(start >= total);
            if n == 0 || last || start >= total || fields.len() >= 2000 {
                break;
            }
        }
        let screen = std::sync::Arc::new(CreateScreen {
            project: project.to_ascii_uppercase(),
            issue_type: t.name,
            fields,
        });
        self.create_screens.put(&cache_key, screen.clone());
        Ok(Some(screen))
    }

    /// Forgets a cached create screen (Jira refused a create made for it: it changed).
    pub fn forget_create_screen(&self, auth: &JiraAuth, project: &str, issue_type: &str) {
        self.create_screens
            .forget(&screen_key(auth, project, issue_type));
    }

    /// The site's priorities with their ids, highest first.
    pub async fn priorities(&self, auth: &JiraAuth) -> Result<Vec<Named>, JiraError> {
        Ok(named_list(
            &self.get(auth, &format!("{}/priority", rest(auth))).await?,
        ))
    }

    pub async fn resolutions(&self, auth: &JiraAuth) -> Result<Vec<Named>, JiraError> {
        Ok(named_list(
            &self
                .get(auth, &format!("{}/resolution", rest(auth)))
                .await?,
        ))
    }

    pub async fn statuses(&self, auth: &JiraAuth) -> Result<Vec<StatusOption>, JiraError> {
        let v = self.get(auth, &format!("{}/status", rest(auth))).await?;
        Ok(v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|s| {
                        let r = StatusRef::parse(s)?;
                        Some(StatusOption {
                            id: r.id,
                            name: r.name,
                            category: r.category,
                        })
                    })
                    .collect()
            })
            .unwrap_or_default())
    }
}

/// The `transitions` array of a transitions or expanded issue answer.
fn parse_transitions(v: &Value) -> Vec<Transition> {
    let list = v
        .get("transitions")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    list.iter()
        .filter_map(|t| {
            let fields = t.get("fields").and_then(Value::as_object);
            Some(Transition {
                id: text(t.get("id")?)?,
                name: t.get("name").and_then(Value::as_str)?.to_owned(),
                to: t.get("to").and_then(StatusRef::parse),
                required_fields: fields
                    .map(|f| {
                        f.iter()
                            .filter(|(_, d)| {
                                d.get("required").and_then(Value::as_bool) == Some(true)
                            })
                            .map(|(k, _)| k.clone())
                            .collect()
                    })
                    .unwrap_or_default(),
                resolutions: fields
                    .and_then(|f| f.get("resolution"))
                    .and_then(|r| r.get("allowedValues"))
                    .and_then(Value::as_array)
                    .map(|a| {
                        a.iter()
                            .filter_map(|r| {
                                r.get("name").and_then(Value::as_str).map(str::to_owned)
                            })
                            .collect()
                    })
                    .unwrap_or_default(),
            })
        })
        .collect()
}

/// Every Jira REST path is built here, where the connection's REST version is known: a path
/// written by hand elsewhere is how Data Center closures once broke (it has no REST v3).
#[cfg(test)]
mod one_path_to_jira {
    fn sources(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                sources(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }

    #[test]
    fn no_rest_path_is_written_outside_the_typed_client() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut files = Vec::new();
        sources(&root, &mut files);
        let own = root.join("jira").join("api.rs");
        let mut found = Vec::new();
        for file in files.iter().filter(|f| **f != own) {
            let text = std::fs::read_to_string(file).unwrap();
            // Tests may name paths; only the code above them counts.
            let code = text.split("#[cfg(test)]").next().unwrap_or_default();
            for (n, line) in code.lines().enumerate() {
                let line = line.trim_start();
                if line.starts_with("//") {
                    continue;
                }
                if line.contains("\"/rest/api/") || line.contains("/rest/api/{") {
                    found.push(format!("{}:{}: {line}", file.display(), n + 1));
                }
            }
        }
        assert!(
            found.is_empty(),
            "Jira REST paths written outside jira::api:\n{}",
            found.join("\n")
        );
    }
}
