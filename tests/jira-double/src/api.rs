//! The REST surface of a site: Jira platform v2/v3 (issues, transitions, comments,
//! properties, remote links, metadata, enhanced search, dynamic webhooks) and Confluence
//! (CQL search, v2 pages). Handlers parse, call `ops`, render, and dispatch webhooks.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Extension, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use base64::Engine as _;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::model::{DynamicWebhook, Site};
use crate::ops::{self, OpError};
use crate::render::{self, Version};
use crate::server::{Ctx, jira_error};
use crate::{Shared, adf, cql, jql, webhooks};

pub fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/rest/api/{v}/serverInfo", get(server_info))
        .route("/rest/api/{v}/myself", get(myself))
        .route("/rest/api/{v}/user/bulk", get(users_bulk))
        .route("/rest/api/{v}/project", get(projects))
        .route("/rest/api/{v}/project/search", get(project_search))
        .route("/rest/api/{v}/permissions/check", post(permissions_check))
        .route("/rest/api/{v}/project/{project}", get(project))
        .route("/rest/api/{v}/priority", get(priorities))
        .route("/rest/api/{v}/resolution", get(resolutions))
        .route("/rest/api/{v}/issuetype", get(issue_types))
        .route("/rest/api/{v}/status", get(statuses))
        .route("/rest/api/{v}/field", get(fields))
        .route("/rest/api/{v}/issue/createmeta", get(createmeta_legacy))
        .route(
            "/rest/api/{v}/issue/createmeta/{project}/issuetypes",
            get(createmeta_types),
        )
        .route(
            "/rest/api/{v}/issue/createmeta/{project}/issuetypes/{type_id}",
            get(createmeta_fields),
        )
        .route("/rest/api/{v}/issue", post(create_issue))
        .route(
            "/rest/api/{v}/issue/{key}",
            get(get_issue).put(edit_issue).delete(delete_issue),
        )
        .route(
            "/rest/api/{v}/issue/{key}/transitions",
            get(list_transitions).post(do_transition),
        )
        .route(
            "/rest/api/{v}/issue/{key}/comment",
            get(list_comments).post(add_comment),
        )
        .route(
            "/rest/api/{v}/issue/{key}/comment/{comment}",
            put(update_comment).delete(delete_comment),
        )
        .route(
            "/rest/api/{v}/issue/{key}/properties/{prop}",
            get(get_property).put(put_property),
        )
        .route(
            "/rest/api/{v}/issue/{key}/remotelink",
            get(list_remote_links).post(add_remote_link),
        )
        .route(
            "/rest/api/{v}/search/jql",
            get(search_get).post(search_post),
        )
        .route(
            "/rest/api/{v}/search",
            get(search_classic_get).post(search_classic_post),
        )
        .route(
            "/rest/api/{v}/webhook",
            get(list_webhooks)
                .post(register_webhooks)
                .delete(delete_webhooks),
        )
        .route("/rest/api/{v}/webhook/refresh", put(refresh_webhooks))
        .route(
            "/rest/atlassian-connect/latest/report-accounts",
            post(report_accounts),
        )
        .route("/wiki/rest/api/search", get(confluence_search))
        .route("/wiki/api/v2/pages/{page}", get(confluence_page))
        .fallback(|| async { jira_error(StatusCode::NOT_FOUND, "null for uri") })
}

type S = State<Arc<Shared>>;
type C = Extension<Ctx>;

// Handlers return the error response itself; boxing it would only add noise.
#[allow(clippy::result_large_err)]
fn version(v: &str) -> Result<Version, Response> {
    Version::parse(v)
        .ok_or_else(|| jira_error(StatusCode::NOT_FOUND, "Unsupported REST API version"))
}

fn site_base(shared: &Shared, ctx: &Ctx) -> String {
    let world = shared.world.lock().unwrap();
    let site = world
        .sites
        .iter()
        .find(|s| s.name == ctx.site)
        .expect("site");
    if ctx.gateway {
        format!("{}/api/ex/jira/{}", shared.base, site.cloud_id)
    } else {
        format!("{}/s/{}", shared.base, site.name)
    }
}

fn with_site<T>(shared: &Shared, ctx: &Ctx, f: impl FnOnce(&mut Site) -> T) -> T {
    let mut world = shared.world.lock().unwrap();
    let site = world
        .sites
        .iter_mut()
        .find(|s| s.name == ctx.site)
        .expect("site");
    f(site)
}

fn op_error(e: OpError) -> Response {
    (
        StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST),
        Json(e.body()),
    )
        .into_response()
}

#[allow(clippy::result_large_err)]
fn parse_body(bytes: &Bytes) -> Result<Value, Response> {
    serde_json::from_slice(bytes).map_err(|e| {
        (
            StatusCode::BAD_REQUEST,
            Json(json!({"errorMessages": [format!("Unexpected character: {e}")], "errors": {}})),
        )
            .into_response()
    })
}

#[derive(Deserialize)]
struct V {
    v: String,
}

#[derive(Deserialize)]
struct IssuePath {
    v: String,
    key: String,
}

async fn server_info(State(shared): S, Extension(ctx): C, Path(p): Path<V>) -> Response {
    let _ = version(&p.v);
    // The site's own URL, also when asked through the gateway (as Jira Cloud answers).
    let base = format!("{}/s/{}", shared.base, ctx.site);
    Json(json!({
        "baseUrl": base, "displayUrl": base, "version": "1001.0.0-SNAPSHOT", "versionNumbers": [1001, 0, 0],
        "deploymentType": "Cloud", "buildNumber": 100287, "serverTime": render::ts(shared.clock.now()),
        "serverTitle": "Jira", "defaultLocale": {"locale": "en_US"}, "serverTimeZone": "Etc/UTC",
    }))
    .into_response()
}

async fn myself(State(shared): S, Extension(ctx): C) -> Response {
    let base = site_base(&shared, &ctx);
    with_site(&shared, &ctx, |s| {
        Json(render::user_ref(&base, s, &ctx.actor)).into_response()
    })
}

/// `GET user/bulk?accountId=…&accountId=…`: the users named (unknown ids left out), paged.
async fn users_bulk(
    State(shared): S,
    Extension(ctx): C,
    axum::extract::RawQuery(query): axum::extract::RawQuery,
) -> Response {
    let ids: Vec<String> = url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .filter(|(k, _)| k == "accountId")
        .map(|(_, v)| v.into_owned())
        .collect();
    let base = site_base(&shared, &ctx);
    with_site(&shared, &ctx, |s| {
        let values: Vec<Value> = ids
            .iter()
            .filter_map(|id| {
                s.user(id)
                    .map(|u| render::user_ref(&base, s, &u.account_id))
            })
            .collect();
        Json(json!({"maxResults": 100, "startAt": 0, "total": values.len(), "isLast": true, "values": values}))
            .into_response()
    })
}

async fn projects(State(shared): S, Extension(ctx): C) -> Response {
    let base = site_base(&shared, &ctx);
    with_site(&shared, &ctx, |s| {
        let all: Vec<Value> = s
            .projects
            .keys()
            .map(|k| render::project(&base, s, k))
            .collect();
        Json(all).into_response()
    })
}

#[derive(Deserialize)]
struct ProjectPageQuery {
    #[serde(rename = "startAt", default)]
    start_at: usize,
    #[serde(rename = "maxResults", default = "fifty")]
    max_results: usize,
}

fn fifty() -> usize {
    50
}

/// `GET project/search`: Jira's paged project list (`values`, `isLast`).
async fn project_search(
    State(shared): S,
    Extension(ctx): C,
    Query(q): Query<ProjectPageQuery>,
) -> Response {
    let base = site_base(&shared, &ctx);
    with_site(&shared, &ctx, |s| {
        let all: Vec<Value> = s
            .projects
            .keys()
            .map(|k| render::project(&base, s, k))
            .collect();
        let max = q.max_results.clamp(1, 100);
        let page: Vec<Value> = all.iter().skip(q.start_at).take(max).cloned().collect();
        Json(json!({
            "self": format!("{base}/rest/api/3/project/search?startAt={}&maxResults={max}", q.start_at),
            "maxResults": max,
            "startAt": q.start_at,
            "total": all.len(),
            "isLast": q.start_at + page.len() >= all.len(),
            "values": page,
        }))
        .into_response()
    })
}

/// `POST permissions/check`: which of the asked global permissions the account holds
/// (`ADMINISTER` for site admins; everyone may `BROWSE_USERS`-style nothing else here).
async fn permissions_check(State(shared): S, Extension(ctx): C, body: Bytes) -> Response {
    let body = match parse_body(&body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let account = body
        .get("accountId")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .unwrap_or_else(|| ctx.actor.clone());
    let asked: Vec<String> = body
        .get("globalPermissions")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|p| p.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    with_site(&shared, &ctx, |s| {
        if s.user(&account).is_none()
            && !s.installations.iter().any(|i| i.app_account_id == account)
        {
            return jira_error(
                StatusCode::BAD_REQUEST,
                &format!("The user with account ID '{account}' does not exist."),
            );
        }
        let admin = s.admins.contains(&account);
        let granted: Vec<&String> = asked
            .iter()
            .filter(|p| p.as_str() == "ADMINISTER" && admin)
            .collect();
        Json(json!({"globalPermissions": granted, "projectPermissions": []})).into_response()
    })
}

#[derive(Deserialize)]
struct ProjectPath {
    project: String,
}

fn find_project(s: &Site, r: &str) -> Option<String> {
    s.projects
        .values()
        .find(|p| p.key.eq_ignore_ascii_case(r) || p.id == r)
        .map(|p| p.key.clone())
}

async fn project(State(shared): S, Extension(ctx): C, Path(p): Path<ProjectPath>) -> Response {
    let base = site_base(&shared, &ctx);
    with_site(&shared, &ctx, |s| match find_project(s, &p.project) {
        Some(k) => {
            let mut out = render::project(&base, s, &k);
            out["issueTypes"] = json!(
                s.issue_types
                    .iter()
                    .map(|t| render::issue_type(&base, s, &t.id))
                    .collect::<Vec<_>>()
            );
            Json(out).into_response()
        }
        None => jira_error(
            StatusCode::NOT_FOUND,
            &format!("No project could be found with key '{}'.", p.project),
        ),
    })
}

async fn priorities(State(shared): S, Extension(ctx): C) -> Response {
    let base = site_base(&shared, &ctx);
    with_site(&shared, &ctx, |s| {
        Json(
            s.priorities
                .iter()
                .map(|p| render::named(&base, "priority", &p.id, &p.name))
                .collect::<Vec<_>>(),
        )
        .into_response()
    })
}

async fn resolutions(State(shared): S, Extension(ctx): C) -> Response {
    let base = site_base(&shared, &ctx);
    with_site(&shared, &ctx, |s| {
        Json(
            s.resolutions
                .iter()
                .map(|r| render::named(&base, "resolution", &r.id, &r.name))
                .collect::<Vec<_>>(),
        )
        .into_response()
    })
}

async fn issue_types(State(shared): S, Extension(ctx): C) -> Response {
    let base = site_base(&shared, &ctx);
    with_site(&shared, &ctx, |s| {
        Json(
            s.issue_types
                .iter()
                .map(|t| render::issue_type(&base, s, &t.id))
                .collect::<Vec<_>>(),
        )
        .into_response()
    })
}

async fn statuses(State(shared): S, Extension(ctx): C) -> Response {
    let base = site_base(&shared, &ctx);
    with_site(&shared, &ctx, |s| {
        let mut seen = Vec::new();
        let mut out = Vec::new();
        for p in s.projects.values() {
            for st in &p.workflow.statuses {
                if !seen.contains(&st.id) {
                    seen.push(st.id.clone());
                    out.push(render::status(&base, st));
                }
            }
        }
        Json(out).into_response()
    })
}

fn field_defs() -> Vec<Value> {
    let f = |id: &str, name: &str, ty: &str, custom: bool| {
        json!({"id": id, "key": id, "name": name, "custom": custom, "orderable": true, "navigable": true, "searchable": true,
               "clauseNames": [id], "schema": {"type": ty, "system": id}})
    };
    vec![
        f("summary", "Summary", "string", false),
        f("description", "Description", "string", false),
        f("issuetype", "Issue Type", "issuetype", false),
        f("project", "Project", "project", false),
        f("priority", "Priority", "priority", false),
        f("labels", "Labels", "array", false),
        f("duedate", "Due date", "date", false),
        f("parent", "Parent", "issuelink", false),
        f("assignee", "Assignee", "user", false),
        f("reporter", "Reporter", "user", false),
        f("status", "Status", "status", false),
        f("resolution", "Resolution", "resolution", false),
        f("resolutiondate", "Resolved", "datetime", false),
        f("created", "Created", "datetime", false),
        f("updated", "Updated", "datetime", false),
        f("comment", "Comment", "comments-page", false),
        f(
            "statuscategorychangedate",
            "Status Category Changed",
            "datetime",
            false,
        ),
    ]
}

async fn fields() -> Response {
    Json(field_defs()).into_response()
}

#[derive(Deserialize)]
struct LegacyMeta {
    #[serde(rename = "projectKeys")]
    project_keys: Option<String>,
    #[serde(rename = "issuetypeNames")]
    issuetype_names: Option<String>,
}

async fn createmeta_legacy(
    State(shared): S,
    Extension(ctx): C,
    Query(q): Query<LegacyMeta>,
) -> Response {
    let base = site_base(&shared, &ctx);
    with_site(&shared, &ctx, |s| {
        let keys: Vec<String> = q
            .project_keys
            .map(|k| k.split(',').map(str::to_owned).collect())
            .unwrap_or_else(|| s.projects.keys().cloned().collect());
        let names: Option<Vec<String>> = q
            .issuetype_names
            .map(|n| n.split(',').map(str::to_owned).collect());
        let projects: Vec<Value> = keys
            .iter()
            .filter_map(|k| find_project(s, k))
            .map(|k| {
                let mut pj = render::project(&base, s, &k);
                let types: Vec<Value> = s
                    .issue_types
                    .iter()
                    .filter(|t| {
                        names
                            .as_ref()
                            .is_none_or(|n| n.iter().any(|x| x.eq_ignore_ascii_case(&t.name)))
                    })
                    .map(|t| {
                        let mut tj = render::issue_type(&base, s, &t.id);
                        tj["fields"] = Value::Object(
                            crate::screens::create_meta(s, &base, &k, &t.id)
                                .into_iter()
                                .filter_map(|f| Some((f.get("fieldId")?.as_str()?.to_owned(), f)))
                                .collect(),
                        );
                        tj
                    })
                    .collect();
                pj["issuetypes"] = json!(types);
                pj
            })
            .collect();
        Json(json!({"expand": "projects", "projects": projects})).into_response()
    })
}

async fn createmeta_types(
    State(shared): S,
    Extension(ctx): C,
    Path(p): Path<ProjectPath>,
) -> Response {
    let base = site_base(&shared, &ctx);
    with_site(&shared, &ctx, |s| match find_project(s, &p.project) {
        Some(_) => {
            let types: Vec<Value> = s
                .issue_types
                .iter()
                .map(|t| render::issue_type(&base, s, &t.id))
                .collect();
            Json(json!({"issueTypes": types, "maxResults": 50, "startAt": 0, "total": types.len()}))
                .into_response()
        }
        None => jira_error(StatusCode::NOT_FOUND, "No project could be found."),
    })
}

#[derive(Deserialize)]
struct MetaFieldsPath {
    project: String,
    type_id: String,
}

async fn createmeta_fields(
    State(shared): S,
    Extension(ctx): C,
    Path(p): Path<MetaFieldsPath>,
) -> Response {
    let base = site_base(&shared, &ctx);
    with_site(&shared, &ctx, |s| match find_project(s, &p.project) {
        Some(k) if s.issue_type(&p.type_id).is_some() => {
            let fields = crate::screens::create_meta(s, &base, &k, &p.type_id);
            let n = fields.len();
            // Cloud pages them as `fields`; Data Center (8.4+) as `values`.
            let list = if s.data_center { "values" } else { "fields" };
            Json(json!({list: fields, "maxResults": 50, "startAt": 0, "total": n, "isLast": true}))
                .into_response()
        }
        _ => jira_error(
            StatusCode::NOT_FOUND,
            "Issue type not found for this project.",
        ),
    })
}

async fn create_issue(
    State(shared): S,
    Extension(ctx): C,
    Path(p): Path<V>,
    body: Bytes,
) -> Response {
    let v = match version(&p.v) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let body = match parse_body(&body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let base = site_base(&shared, &ctx);
    let empty = Map::new();
    let fields = body
        .get("fields")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let now = shared.clock.now();
    let result = with_site(&shared, &ctx, |s| {
        let created = ops::create_issue(s, &base, fields, v, &ctx.actor, now)?;
        if let Some(props) = body.get("properties").and_then(Value::as_array) {
            for prop in props {
                if let (Some(k), Some(val)) =
                    (prop.get("key").and_then(Value::as_str), prop.get("value"))
                {
                    ops::set_property(s, &created.key, k, val.clone())?;
                }
            }
        }
        Ok::<_, OpError>(created)
    });
    match result {
        Ok(c) => {
            webhooks::dispatch(&shared, &ctx.site, c.events);
            (StatusCode::CREATED, Json(json!({"id": c.id, "key": c.key, "self": format!("{base}/rest/api/{}/issue/{}", v.num(), c.id)}))).into_response()
        }
        Err(e) => op_error(e),
    }
}

#[derive(Deserialize, Default)]
struct FieldsQuery {
    fields: Option<String>,
    expand: Option<String>,
}

fn split_fields(f: &Option<String>) -> Option<Vec<String>> {
    f.as_ref().map(|s| {
        s.split(',')
            .map(|x| x.trim().to_owned())
            .filter(|x| !x.is_empty())
            .collect()
    })
}

async fn get_issue(
    State(shared): S,
    Extension(ctx): C,
    Path(p): Path<IssuePath>,
    Query(q): Query<FieldsQuery>,
) -> Response {
    let v = match version(&p.v) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let base = site_base(&shared, &ctx);
    let wanted = split_fields(&q.fields);
    with_site(&shared, &ctx, |s| match s.issue_by_ref(&p.key) {
        Some(i) => {
            let mut out = render::issue(&base, s, i, v, wanted.as_deref());
            if q.expand.as_deref().is_some_and(|e| e.contains("changelog")) {
                let histories: Vec<Value> = i
                    .changelog
                    .iter()
                    .map(|c| {
                        let mut h = render::changelog(c);
                        h["author"] = render::user_ref(&base, s, &c.author);
                        h["created"] = json!(render::ts(c.created));
                        h
                    })
                    .collect();
                out["changelog"] = json!({"startAt": 0, "maxResults": histories.len(), "total": histories.len(), "histories": histories});
            }
            // `expand=transitions` (and `transitions.fields`) as on the real issue resource.
            if let Some(e) = q.expand.as_deref().filter(|e| e.contains("transitions")) {
                let with_fields = e.contains("transitions.fields");
                let wf = s.workflow_of(i);
                out["transitions"] = wf
                    .available_from(&i.status)
                    .into_iter()
                    .map(|t| render::transition(&base, s, t, &wf.statuses, with_fields))
                    .collect();
            }
            Json(out).into_response()
        }
        None => op_error(OpError::not_found()),
    })
}

async fn edit_issue(
    State(shared): S,
    Extension(ctx): C,
    Path(p): Path<IssuePath>,
    body: Bytes,
) -> Response {
    let v = match version(&p.v) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let body = match parse_body(&body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let base = site_base(&shared, &ctx);
    let now = shared.clock.now();
    match with_site(&shared, &ctx, |s| {
        ops::edit_issue(s, &base, &p.key, &body, v, &ctx.actor, now)
    }) {
        Ok(events) => {
            webhooks::dispatch(&shared, &ctx.site, events);
            StatusCode::NO_CONTENT.into_response()
        }
        Err(e) => op_error(e),
    }
}

async fn delete_issue(State(shared): S, Extension(ctx): C, Path(p): Path<IssuePath>) -> Response {
    let base = site_base(&shared, &ctx);
    let now = shared.clock.now();
    match with_site(&shared, &ctx, |s| {
        ops::delete_issue(s, &base, &p.key, &ctx.actor, now)
    }) {
        Ok(events) => {
            webhooks::dispatch(&shared, &ctx.site, events);
            StatusCode::NO_CONTENT.into_response()
        }
        Err(e) => op_error(e),
    }
}

#[derive(Deserialize, Default)]
struct TransitionsQuery {
    expand: Option<String>,
    #[serde(rename = "transitionId")]
    transition_id: Option<String>,
}

async fn list_transitions(
    State(shared): S,
    Extension(ctx): C,
    Path(p): Path<IssuePath>,
    Query(q): Query<TransitionsQuery>,
) -> Response {
    let base = site_base(&shared, &ctx);
    let with_fields = q
        .expand
        .as_deref()
        .is_some_and(|e| e.contains("transitions.fields"));
    with_site(&shared, &ctx, |s| match s.issue_by_ref(&p.key) {
        Some(i) => {
            let wf = s.workflow_of(i);
            let list: Vec<Value> = wf
                .available_from(&i.status)
                .into_iter()
                .filter(|t| q.transition_id.as_ref().is_none_or(|id| *id == t.id))
                .map(|t| render::transition(&base, s, t, &wf.statuses, with_fields))
                .collect();
            Json(json!({"expand": "transitions", "transitions": list})).into_response()
        }
        None => op_error(OpError::not_found()),
    })
}

async fn do_transition(
    State(shared): S,
    Extension(ctx): C,
    Path(p): Path<IssuePath>,
    body: Bytes,
) -> Response {
    let body = match parse_body(&body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let id = body.pointer("/transition/id").and_then(|x| {
        x.as_str()
            .map(str::to_owned)
            .or_else(|| x.as_u64().map(|n| n.to_string()))
    });
    let Some(id) = id else {
        return op_error(OpError::message(400, "Missing 'transition' identifier"));
    };
    let base = site_base(&shared, &ctx);
    let now = shared.clock.now();
    let fields = body.get("fields").and_then(Value::as_object).cloned();
    // `update.comment[].add.body`: a comment added with the transition, as Jira allows.
    let comments: Vec<Value> = body
        .pointer("/update/comment")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|c| c.pointer("/add/body").cloned())
                .collect()
        })
        .unwrap_or_default();
    let v = match version(&p.v) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let mut checked = Vec::new();
    for c in &comments {
        match ops::rich_text("comment", c, v) {
            Ok(Some(b)) => checked.push(b),
            Ok(None) => {}
            Err(e) => return op_error(e),
        }
    }
    let result = with_site(&shared, &ctx, |s| {
        let mut events = ops::transition(s, &base, &p.key, &id, fields.as_ref(), &ctx.actor, now)?;
        for c in checked {
            let (_, more) = ops::add_comment(s, &base, &p.key, c, &ctx.actor, now)?;
            events.extend(more);
        }
        if let Some(props) = body.get("properties").and_then(Value::as_array) {
            for prop in props {
                if let (Some(k), Some(val)) =
                    (prop.get("key").and_then(Value::as_str), prop.get("value"))
                {
                    ops::set_property(s, &p.key, k, val.clone())?;
                }
            }
        }
        Ok::<_, OpError>(events)
    });
    match result {
        Ok(events) => {
            webhooks::dispatch(&shared, &ctx.site, events);
            StatusCode::NO_CONTENT.into_response()
        }
        Err(e) => op_error(e),
    }
}

async fn list_comments(State(shared): S, Extension(ctx): C, Path(p): Path<IssuePath>) -> Response {
    let v = match version(&p.v) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let base = site_base(&shared, &ctx);
    with_site(&shared, &ctx, |s| match s.issue_by_ref(&p.key) {
        Some(i) => {
            let list: Vec<Value> = i
                .comments
                .iter()
                .map(|c| render::comment(&base, s, i, c, v))
                .collect();
            Json(json!({"comments": list, "maxResults": list.len(), "total": list.len(), "startAt": 0})).into_response()
        }
        None => op_error(OpError::not_found()),
    })
}

async fn add_comment(
    State(shared): S,
    Extension(ctx): C,
    Path(p): Path<IssuePath>,
    body: Bytes,
) -> Response {
    let v = match version(&p.v) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let body = match parse_body(&body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let doc = match ops::rich_text("comment", body.get("body").unwrap_or(&Value::Null), v) {
        Ok(Some(d)) => d,
        Ok(None) => return op_error(OpError::field("comment", "Comment body can not be empty!")),
        Err(e) => return op_error(e),
    };
    let base = site_base(&shared, &ctx);
    let now = shared.clock.now();
    let result = with_site(&shared, &ctx, |s| {
        let (c, events) = ops::add_comment(s, &base, &p.key, doc, &ctx.actor, now)?;
        let i = s.issue_by_ref(&p.key).expect("exists");
        Ok::<_, OpError>((render::comment(&base, s, i, &c, v), events))
    });
    match result {
        Ok((json, events)) => {
            webhooks::dispatch(&shared, &ctx.site, events);
            (StatusCode::CREATED, Json(json)).into_response()
        }
        Err(e) => op_error(e),
    }
}

#[derive(Deserialize)]
struct CommentPath {
    v: String,
    key: String,
    comment: String,
}

async fn update_comment(
    State(shared): S,
    Extension(ctx): C,
    Path(p): Path<CommentPath>,
    body: Bytes,
) -> Response {
    let v = match version(&p.v) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let body = match parse_body(&body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let doc = match ops::rich_text("comment", body.get("body").unwrap_or(&Value::Null), v) {
        Ok(Some(d)) => d,
        Ok(None) => return op_error(OpError::field("comment", "Comment body can not be empty!")),
        Err(e) => return op_error(e),
    };
    let base = site_base(&shared, &ctx);
    let now = shared.clock.now();
    let result = with_site(&shared, &ctx, |s| {
        let (c, events) = ops::update_comment(s, &base, &p.key, &p.comment, doc, &ctx.actor, now)?;
        let i = s.issue_by_ref(&p.key).expect("exists");
        Ok::<_, OpError>((render::comment(&base, s, i, &c, v), events))
    });
    match result {
        Ok((json, events)) => {
            webhooks::dispatch(&shared, &ctx.site, events);
            Json(json).into_response()
        }
        Err(e) => op_error(e),
    }
}

async fn delete_comment(
    State(shared): S,
    Extension(ctx): C,
    Path(p): Path<CommentPath>,
) -> Response {
    let base = site_base(&shared, &ctx);
    let now = shared.clock.now();
    match with_site(&shared, &ctx, |s| {
        ops::delete_comment(s, &base, &p.key, &p.comment, now)
    }) {
        Ok(events) => {
            webhooks::dispatch(&shared, &ctx.site, events);
            StatusCode::NO_CONTENT.into_response()
        }
        Err(e) => op_error(e),
    }
}

#[derive(Deserialize)]
struct PropPath {
    key: String,
    prop: String,
}

async fn get_property(State(shared): S, Extension(ctx): C, Path(p): Path<PropPath>) -> Response {
    with_site(&shared, &ctx, |s| match s.issue_by_ref(&p.key) {
        Some(i) => match i.properties.get(&p.prop) {
            Some(v) => Json(json!({"key": p.prop, "value": v})).into_response(),
            None => jira_error(
                StatusCode::NOT_FOUND,
                &format!("The property with key '{}' does not exist.", p.prop),
            ),
        },
        None => op_error(OpError::not_found()),
    })
}

async fn put_property(
    State(shared): S,
    Extension(ctx): C,
    Path(p): Path<PropPath>,
    body: Bytes,
) -> Response {
    let value = match parse_body(&body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    match with_site(&shared, &ctx, |s| {
        let existed = s
            .issue_by_ref(&p.key)
            .is_some_and(|i| i.properties.contains_key(&p.prop));
        ops::set_property(s, &p.key, &p.prop, value).map(|_| existed)
    }) {
        Ok(true) => StatusCode::OK.into_response(),
        Ok(false) => StatusCode::CREATED.into_response(),
        Err(e) => op_error(e),
    }
}

async fn list_remote_links(
    State(shared): S,
    Extension(ctx): C,
    Path(p): Path<IssuePath>,
) -> Response {
    with_site(&shared, &ctx, |s| match s.issue_by_ref(&p.key) {
        Some(i) => Json(json!(i.remote_links)).into_response(),
        None => op_error(OpError::not_found()),
    })
}

async fn add_remote_link(
    State(shared): S,
    Extension(ctx): C,
    Path(p): Path<IssuePath>,
    body: Bytes,
) -> Response {
    let body = match parse_body(&body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    if body
        .pointer("/object/url")
        .and_then(Value::as_str)
        .is_none()
    {
        return op_error(OpError::field(
            "object",
            "'object' and its 'url' are required",
        ));
    }
    let base = site_base(&shared, &ctx);
    with_site(&shared, &ctx, |s| match s.issue_by_ref_mut(&p.key) {
        Some(i) => {
            let id = i.remote_links.len() as u64 + 10000;
            let mut link = body.clone();
            link["id"] = json!(id);
            link["self"] = json!(format!("{base}/rest/api/2/issue/{}/remotelink/{id}", i.id));
            i.remote_links.push(link);
            (StatusCode::CREATED, Json(json!({"id": id, "self": format!("{base}/rest/api/2/issue/{}/remotelink/{id}", i.id)}))).into_response()
        }
        None => op_error(OpError::not_found()),
    })
}

#[derive(Deserialize, Default)]
struct SearchParams {
    jql: Option<String>,
    #[serde(rename = "nextPageToken")]
    next_page_token: Option<String>,
    #[serde(rename = "maxResults")]
    max_results: Option<usize>,
    fields: Option<Value>,
}

async fn search_get(
    State(shared): S,
    Extension(ctx): C,
    Path(p): Path<V>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let params = SearchParams {
        jql: q.get("jql").cloned(),
        next_page_token: q.get("nextPageToken").cloned(),
        max_results: q.get("maxResults").and_then(|m| m.parse().ok()),
        fields: q.get("fields").map(|f| json!(f)),
    };
    search(&shared, &ctx, &p.v, params)
}

async fn search_post(
    State(shared): S,
    Extension(ctx): C,
    Path(p): Path<V>,
    body: Bytes,
) -> Response {
    let params: SearchParams = match serde_json::from_slice(&body) {
        Ok(p) => p,
        Err(e) => {
            return jira_error(
                StatusCode::BAD_REQUEST,
                &format!("Invalid request payload: {e}"),
            );
        }
    };
    search(&shared, &ctx, &p.v, params)
}

fn search(shared: &Shared, ctx: &Ctx, v: &str, params: SearchParams) -> Response {
    let v = match version(v) {
        Ok(v) => v,
        Err(r) => return r,
    };
    // Enhanced search is Cloud's; Data Center searches with `…/search`.
    if with_site(shared, ctx, |s| s.data_center) {
        return jira_error(
            StatusCode::NOT_FOUND,
            "null for uri: /rest/api/2/search/jql",
        );
    }
    let jql_text = params.jql.unwrap_or_default();
    let query = match jql::parse(&jql_text) {
        Ok(q) => q,
        Err(e) => return jira_error(StatusCode::BAD_REQUEST, &e),
    };
    if !query.is_bounded() {
        return jira_error(StatusCode::BAD_REQUEST, jql::UNBOUNDED);
    }
    // Enhanced search returns only `id` unless fields are named explicitly.
    let wanted: Vec<String> = field_list(&params.fields).unwrap_or_else(|| vec!["id".into()]);
    let id_only = wanted.iter().all(|w| w == "id" || w == "key");
    let cap = if id_only { 5000 } else { 100 };
    let page = params.max_results.unwrap_or(50).clamp(1, cap);
    let offset = match params.next_page_token.as_deref() {
        Some(t) => match decode_token(t, &jql_text) {
            Some(o) => o,
            None => {
                return jira_error(
                    StatusCode::BAD_REQUEST,
                    "The provided next page token is invalid or expired.",
                );
            }
        },
        None => 0,
    };
    let base = site_base(shared, ctx);
    let now = shared.clock.now();
    with_site(shared, ctx, |s| {
        let hits = match query.find(s, now) {
            Ok(h) => h,
            Err(e) => return jira_error(StatusCode::BAD_REQUEST, &e),
        };
        let total = hits.len();
        let slice: Vec<Value> = hits
            .iter()
            .skip(offset)
            .take(page)
            .map(|i| {
                let mut out = render::issue(&base, s, i, v, Some(&wanted));
                if id_only {
                    out.as_object_mut().expect("object").remove("fields");
                }
                out
            })
            .collect();
        let next = offset + slice.len();
        let mut body = json!({"issues": slice, "isLast": next >= total});
        if next < total {
            body["nextPageToken"] = json!(encode_token(next, &jql_text));
        }
        Json(body).into_response()
    })
}

/// A search's `fields` (a list, or a comma-separated string); `None` when not given.
fn field_list(fields: &Option<Value>) -> Option<Vec<String>> {
    match fields {
        Some(Value::Array(a)) => Some(
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_owned))
                .collect(),
        ),
        Some(Value::String(s)) => Some(
            s.split(',')
                .map(|x| x.trim().to_owned())
                .filter(|x| !x.is_empty())
                .collect(),
        ),
        _ => None,
    }
}

fn encode_token(offset: usize, jql: &str) -> String {
    use sha2::Digest;
    let h = hex::encode(&sha2::Sha256::digest(jql.as_bytes())[..6]);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{offset}:{h}"))
}

/// A token is valid only for the query it was issued for: re-encoding must reproduce it.
fn decode_token(token: &str, jql: &str) -> Option<usize> {
    let raw = String::from_utf8(
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(token)
            .ok()?,
    )
    .ok()?;
    let offset: usize = raw.split_once(':')?.0.parse().ok()?;
    (encode_token(offset, jql) == token).then_some(offset)
}

async fn search_classic_get(
    State(shared): S,
    Extension(ctx): C,
    Path(p): Path<V>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let params = ClassicParams {
        jql: q.get("jql").cloned(),
        start_at: q.get("startAt").and_then(|m| m.parse().ok()),
        max_results: q.get("maxResults").and_then(|m| m.parse().ok()),
        fields: q.get("fields").map(|f| json!(f)),
    };
    search_classic(&shared, &ctx, &p.v, params)
}

async fn search_classic_post(
    State(shared): S,
    Extension(ctx): C,
    Path(p): Path<V>,
    body: Bytes,
) -> Response {
    match serde_json::from_slice(&body) {
        Ok(params) => search_classic(&shared, &ctx, &p.v, params),
        Err(e) => jira_error(
            StatusCode::BAD_REQUEST,
            &format!("Invalid request payload: {e}"),
        ),
    }
}

#[derive(Deserialize, Default)]
struct ClassicParams {
    jql: Option<String>,
    #[serde(rename = "startAt")]
    start_at: Option<usize>,
    #[serde(rename = "maxResults")]
    max_results: Option<usize>,
    fields: Option<Value>,
}

/// `…/search` with `startAt`: what Data Center has; Cloud removed it (410).
fn search_classic(shared: &Shared, ctx: &Ctx, v: &str, params: ClassicParams) -> Response {
    let v = match version(v) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let data_center = with_site(shared, ctx, |s| s.data_center);
    if !data_center {
        return jira_error(
            StatusCode::GONE,
            "The requested API has been removed. Please migrate to the /rest/api/3/search/jql API.",
        );
    }
    let jql_text = params.jql.unwrap_or_default();
    let query = match jql::parse(&jql_text) {
        Ok(q) => q,
        Err(e) => return jira_error(StatusCode::BAD_REQUEST, &e),
    };
    let wanted = field_list(&params.fields);
    let start = params.start_at.unwrap_or(0);
    let page = params.max_results.unwrap_or(50).clamp(1, 1000);
    let base = site_base(shared, ctx);
    let now = shared.clock.now();
    with_site(shared, ctx, |s| {
        let hits = match query.find(s, now) {
            Ok(h) => h,
            Err(e) => return jira_error(StatusCode::BAD_REQUEST, &e),
        };
        let issues: Vec<Value> = hits
            .iter()
            .skip(start)
            .take(page)
            .map(|i| render::issue(&base, s, i, v, wanted.as_deref()))
            .collect();
        Json(json!({"startAt": start, "maxResults": page, "total": hits.len(), "issues": issues}))
            .into_response()
    })
}

/// The fields and operators Jira allows in a dynamic webhook's `jqlFilter`.
const WEBHOOK_JQL_FIELDS: &[&str] = &[
    "issuekey",
    "key",
    "project",
    "issuetype",
    "type",
    "status",
    "assignee",
    "reporter",
];

fn webhook_owner(ctx: &Ctx) -> Option<String> {
    match &ctx.auth {
        crate::model::AuthKind::OAuthBearer { client_id } => Some(client_id.clone()),
        crate::model::AuthKind::ConnectJwt { app_key } => Some(app_key.clone()),
        _ => None,
    }
}

async fn register_webhooks(State(shared): S, Extension(ctx): C, body: Bytes) -> Response {
    let Some(owner) = webhook_owner(&ctx) else {
        return jira_error(
            StatusCode::FORBIDDEN,
            "Only Connect and OAuth 2.0 apps can register webhooks.",
        );
    };
    let body = match parse_body(&body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let Some(url) = body.get("url").and_then(Value::as_str) else {
        return op_error(OpError::field("url", "url is required"));
    };
    let Some(list) = body.get("webhooks").and_then(Value::as_array) else {
        return op_error(OpError::field("webhooks", "webhooks is required"));
    };
    let is_oauth = matches!(ctx.auth, crate::model::AuthKind::OAuthBearer { .. });
    let expires = shared.clock.now() + chrono::Duration::days(30);
    with_site(&shared, &ctx, |s| {
        let mut results = Vec::new();
        for w in list {
            let events: Vec<String> = w
                .get("events")
                .and_then(Value::as_array)
                .map(|e| {
                    e.iter()
                        .filter_map(|x| x.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default();
            let jql_filter = w
                .get("jqlFilter")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned();
            let mut errors = Vec::new();
            if events.is_empty() {
                errors.push("At least one event must be specified.".to_owned());
            }
            match jql::parse(&jql_filter) {
                Ok(q) if !q.is_bounded() => errors.push("The JQL filter is required.".into()),
                Ok(q) => {
                    for (field, op) in q.fields() {
                        let allowed_field = WEBHOOK_JQL_FIELDS.contains(&field.as_str())
                            || field.starts_with("issue.property[")
                            || field.starts_with("cf[");
                        if !allowed_field {
                            errors.push(format!(
                                "The field '{field}' is not supported in webhook JQL filters."
                            ));
                        }
                        if !["=", "!=", "in", "not in"].contains(&op.as_str()) {
                            errors.push(format!(
                                "The operator '{op}' is not supported in webhook JQL filters."
                            ));
                        }
                    }
                }
                Err(e) => errors.push(format!("Invalid JQL: {e}")),
            }
            let mine = s
                .dynamic_webhooks
                .iter()
                .filter(|d| d.owner == owner)
                .count();
            let limit = if is_oauth { 5 } else { 100 };
            if mine >= limit {
                errors.push(format!(
                    "A maximum of {limit} webhooks is allowed for this app."
                ));
            }
            if let Some(existing) = s
                .dynamic_webhooks
                .iter()
                .find(|d| d.owner == owner && d.url != url)
            {
                errors.push(format!(
                    "Only a single URL per app is allowed; already registered: {}",
                    existing.url
                ));
            }
            if errors.is_empty() {
                let id = s.next_webhook_id;
                s.next_webhook_id += 1;
                let field_ids_filter = w
                    .get("fieldIdsFilter")
                    .and_then(Value::as_array)
                    .map(|a| {
                        a.iter()
                            .filter_map(|x| x.as_str().map(str::to_owned))
                            .collect()
                    })
                    .unwrap_or_default();
                s.dynamic_webhooks.push(DynamicWebhook {
                    id,
                    owner: owner.clone(),
                    url: url.to_owned(),
                    events,
                    jql_filter,
                    field_ids_filter,
                    expires_at: expires,
                });
                results.push(json!({"createdWebhookId": id}));
            } else {
                results.push(json!({"errors": errors}));
            }
        }
        Json(json!({"webhookRegistrationResult": results})).into_response()
    })
}

async fn list_webhooks(State(shared): S, Extension(ctx): C) -> Response {
    let Some(owner) = webhook_owner(&ctx) else {
        return jira_error(
            StatusCode::FORBIDDEN,
            "Only Connect and OAuth 2.0 apps have webhooks.",
        );
    };
    let now = shared.clock.now();
    with_site(&shared, &ctx, |s| {
        let values: Vec<Value> = s
            .dynamic_webhooks
            .iter()
            .filter(|d| d.owner == owner && d.expires_at > now)
            .map(|d| json!({"id": d.id, "jqlFilter": d.jql_filter, "fieldIdsFilter": d.field_ids_filter, "events": d.events, "expirationDate": d.expires_at.timestamp_millis()}))
            .collect();
        Json(json!({"isLast": true, "maxResults": 100, "startAt": 0, "total": values.len(), "values": values})).into_response()
    })
}

fn ids_of(body: &Value) -> Vec<u64> {
    body.get("webhookIds")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_u64).collect())
        .unwrap_or_default()
}

/// The calling app and the `webhookIds` of the body, for delete and refresh.
#[allow(clippy::result_large_err)]
fn owner_and_ids(ctx: &Ctx, body: &Bytes) -> Result<(String, Vec<u64>), Response> {
    let owner = webhook_owner(ctx).ok_or_else(|| {
        jira_error(
            StatusCode::FORBIDDEN,
            "Only Connect and OAuth 2.0 apps have webhooks.",
        )
    })?;
    Ok((owner, ids_of(&parse_body(body)?)))
}

async fn delete_webhooks(State(shared): S, Extension(ctx): C, body: Bytes) -> Response {
    let (owner, ids) = match owner_and_ids(&ctx, &body) {
        Ok(v) => v,
        Err(r) => return r,
    };
    with_site(&shared, &ctx, |s| {
        s.dynamic_webhooks
            .retain(|d| !(d.owner == owner && ids.contains(&d.id)));
    });
    StatusCode::ACCEPTED.into_response()
}

async fn refresh_webhooks(State(shared): S, Extension(ctx): C, body: Bytes) -> Response {
    let (owner, ids) = match owner_and_ids(&ctx, &body) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let expires = shared.clock.now() + chrono::Duration::days(30);
    with_site(&shared, &ctx, |s| {
        for d in s
            .dynamic_webhooks
            .iter_mut()
            .filter(|d| d.owner == owner && ids.contains(&d.id))
        {
            d.expires_at = expires;
        }
    });
    Json(json!({"expirationDate": expires.timestamp_millis()})).into_response()
}

#[derive(Deserialize)]
struct CqlQuery {
    cql: Option<String>,
    limit: Option<usize>,
}

async fn confluence_search(
    State(shared): S,
    Extension(ctx): C,
    Query(q): Query<CqlQuery>,
) -> Response {
    let Some(text) = q.cql else {
        return jira_error(StatusCode::BAD_REQUEST, "cql is required");
    };
    let parsed = match cql::parse(&text) {
        Ok(c) => c,
        Err(e) => {
            return (
                StatusCode::BAD_REQUEST,
                Json(json!({"statusCode": 400, "message": e})),
            )
                .into_response();
        }
    };
    let limit = q.limit.unwrap_or(25).clamp(1, 100);
    let base = format!("{}/wiki", site_base(&shared, &ctx));
    with_site(&shared, &ctx, |s| {
        let results: Vec<Value> = s
            .pages
            .iter()
            .filter(|p| parsed.matches(p))
            .take(limit)
            .map(|p| {
                let text = strip_tags(&p.body);
                let excerpt: String = text.chars().take(200).collect();
                json!({
                    "content": {"id": p.id, "type": "page", "status": "current", "title": p.title,
                                "metadata": {"labels": {"results": p.labels.iter().map(|l| json!({"prefix": "global", "name": l})).collect::<Vec<_>>()}},
                                "_links": {"webui": format!("/spaces/{}/pages/{}", p.space_key, p.id), "self": format!("{base}/rest/api/content/{}", p.id)}},
                    "title": p.title,
                    "excerpt": excerpt,
                    "url": format!("/spaces/{}/pages/{}", p.space_key, p.id),
                    "resultGlobalContainer": {"title": p.space_key, "displayUrl": format!("/spaces/{}", p.space_key)},
                    "entityType": "content",
                    "lastModified": p.last_modified.to_rfc3339(),
                })
            })
            .collect();
        Json(json!({"results": results, "start": 0, "limit": limit, "size": results.len(), "_links": {"base": base}})).into_response()
    })
}

fn strip_tags(html: &str) -> String {
    let mut out = String::new();
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' => {
                in_tag = false;
                out.push(' ');
            }
            _ if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[derive(Deserialize)]
struct PagePath {
    page: String,
}

#[derive(Deserialize, Default)]
struct PageQuery {
    #[serde(rename = "body-format")]
    body_format: Option<String>,
    #[serde(rename = "include-labels")]
    include_labels: Option<bool>,
}

async fn confluence_page(
    State(shared): S,
    Extension(ctx): C,
    Path(p): Path<PagePath>,
    Query(q): Query<PageQuery>,
) -> Response {
    let base = format!("{}/wiki", site_base(&shared, &ctx));
    with_site(&shared, &ctx, |s| {
        match s.pages.iter().find(|x| x.id == p.page) {
        Some(page) => {
            let space_id = s.spaces.iter().find(|sp| sp.key == page.space_key).map(|sp| sp.id.clone()).unwrap_or_default();
            let mut out = json!({
                "id": page.id, "status": "current", "title": page.title, "spaceId": space_id,
                "version": {"number": page.version, "createdAt": page.last_modified.to_rfc3339()},
                "createdAt": page.last_modified.to_rfc3339(),
                "_links": {"webui": format!("/spaces/{}/pages/{}", page.space_key, page.id), "base": base},
            });
            if let Some(fmt) = &q.body_format {
                let value = if fmt == "atlas_doc_format" { adf::from_text(&strip_tags(&page.body)).to_string() } else { page.body.clone() };
                out["body"] = json!({fmt.clone(): {"representation": fmt, "value": value}});
            }
            if q.include_labels.unwrap_or(false) {
                out["labels"] = json!({"results": page.labels.iter().map(|l| json!({"prefix": "global", "name": l, "id": l})).collect::<Vec<_>>()});
            }
            Json(out).into_response()
        }
        None => (StatusCode::NOT_FOUND, Json(json!({"errors": [{"status": 404, "code": "NOT_FOUND", "title": "Page not found"}]}))).into_response(),
    }
    })
}

/// Atlassian's personal data reporting API (Connect): at most 90 accounts, each with the time
/// the app last stored its data; 200 lists those `closed` or `updated` since, 204 when none.
async fn report_accounts(State(shared): S, Extension(ctx): C, body: Bytes) -> Response {
    let listed = match report_request(&body) {
        Ok(l) => l,
        Err(r) => return r,
    };
    with_site(&shared, &ctx, |s| {
        s.account_reports
            .push(listed.iter().map(|(id, _)| id.clone()).collect());
        report_answer(&listed, &s.closed_accounts, &s.profile_changes)
    })
}

type Listed = Vec<(String, chrono::DateTime<chrono::Utc>)>;

/// The accounts a report lists, or the 400 Atlassian gives for a malformed one.
#[allow(clippy::result_large_err)]
pub(crate) fn report_request(body: &Bytes) -> Result<Listed, Response> {
    let body = parse_body(body)?;
    let bad = |m: &str| jira_error(StatusCode::BAD_REQUEST, m);
    let Some(accounts) = body.get("accounts").and_then(Value::as_array) else {
        return Err(bad("accounts is required"));
    };
    if accounts.is_empty() || accounts.len() > 90 {
        return Err(bad("accounts must list 1 to 90 accounts"));
    }
    accounts
        .iter()
        .map(|a| {
            let id = a.get("accountId").and_then(Value::as_str);
            let at = a
                .get("updatedAt")
                .and_then(Value::as_str)
                .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok());
            match (id, at) {
                (Some(id), Some(at)) => Ok((id.to_owned(), at.with_timezone(&chrono::Utc))),
                _ => Err(bad(
                    "each account needs accountId and an ISO 8601 updatedAt",
                )),
            }
        })
        .collect()
}

/// 200 with the accounts `closed` or `updated` since their `updatedAt`, else 204.
pub(crate) fn report_answer(
    listed: &Listed,
    closed: &std::collections::HashSet<String>,
    changes: &HashMap<String, chrono::DateTime<chrono::Utc>>,
) -> Response {
    let answer: Vec<Value> = listed
        .iter()
        .filter_map(|(id, at)| {
            if closed.contains(id) {
                Some(json!({"accountId": id, "status": "closed"}))
            } else if changes.get(id).is_some_and(|c| c > at) {
                Some(json!({"accountId": id, "status": "updated"}))
            } else {
                None
            }
        })
        .collect();
    let cycle = [("Cycle-Period", "7")];
    if answer.is_empty() {
        (StatusCode::NO_CONTENT, cycle).into_response()
    } else {
        (cycle, Json(json!({"accounts": answer}))).into_response()
    }
}
