//! Filing a Jira issue for a finding: content from the tenant's template (secrets masked),
//! priority from severity, due date from the SLA policy, epic parent and due date dropped
//! (and noted) when Jira refuses them, and never two issues for one finding — every issue
//! carries a `verdict-finding-<id>` label that is searched before a create is repeated.

use std::collections::BTreeMap;

use rules_sdk::{Config, ConfigEntry, FindingStatus, defaults};
use sea_orm::TransactionTrait;
use serde::Serialize;
use serde_json::json;

pub use crate::outbox::ExportRequest;

use super::fields;
use super::template::{self, Format};
use super::{JobError, JobOutcome, Payload, setting};
use crate::atlassian::JiraAuth;
use crate::atlassian::outbound::ApiFlavor;
use crate::findings::model::{Actor, EventSource, Finding};
use crate::findings::{self, FindingsError, LinkTarget};
use crate::jira::api::{CreateScreen, Issue, NewIssue};
use crate::redact;
use crate::state::AppState;
use crate::store::entities::{jira_links as links, outbox_jobs as oj};

/// Setting: the issue template (`full`, `limited` or template text); `ticket.template.<PROJECT>`
/// overrides it per project.
pub const KEY_TEMPLATE: &str = "ticket.template";
/// The entity property every Verdict issue carries (`{"finding_id": …}`).
pub const PROPERTY: &str = "verdict.finding";

/// The label that ties an issue to its finding (searched before a create is repeated).
pub fn finding_label(finding_id: &str) -> String {
    format!("verdict-finding-{finding_id}")
}

/// The link back to the finding.
/// Where a ticket links back to its finding: a page anyone who clicks it from Jira can open
/// (`GET /f/{id}`), which says where the finding's details are shown.
pub fn finding_url(state: &AppState, finding_id: &str) -> String {
    format!(
        "{}/f/{finding_id}",
        state.config().base_url.as_str().trim_end_matches('/')
    )
}

/// Template variables for a finding, every value masked; a secret's snippet never leaves.
pub fn variables(f: &Finding, url: &str) -> BTreeMap<&'static str, String> {
    let m = redact::masked;
    let mut v = BTreeMap::new();
    let opt = |o: &Option<String>| o.as_deref().map(m).unwrap_or_default();
    v.insert("id", f.id.clone());
    v.insert("external_id", m(&f.external_id));
    v.insert("title", m(&f.title));
    v.insert("description", opt(&f.description));
    v.insert("severity", f.severity.as_str().to_owned());
    v.insert(
        "score",
        f.score.map(|s| format!("{s:.1}")).unwrap_or_default(),
    );
    v.insert("cvss_vector", opt(&f.cvss_vector));
    v.insert(
        "cvss_score",
        f.cvss_score.map(|s| format!("{s:.1}")).unwrap_or_default(),
    );
    v.insert(
        "cvss",
        match (&f.cvss_score, &f.cvss_vector) {
            (Some(s), Some(vec)) => format!("{s:.1} ({vec})"),
            (Some(s), None) => format!("{s:.1}"),
            (None, Some(vec)) => vec.clone(),
            (None, None) => String::new(),
        },
    );
    v.insert(
        "cwes",
        f.cwe_ids
            .iter()
            .map(|c| format!("CWE-{c}"))
            .collect::<Vec<_>>()
            .join(", "),
    );
    v.insert("scan_type", opt(&f.scan_type));
    v.insert("repository", opt(&f.repository));
    v.insert("file", opt(&f.file_path));
    v.insert("line", f.line.map(|l| l.to_string()).unwrap_or_default());
    v.insert(
        "location",
        match (&f.file_path, f.line) {
            (Some(p), Some(l)) => format!("{}:{l}", m(p)),
            (Some(p), None) => m(p),
            _ => String::new(),
        },
    );
    v.insert(
        "snippet",
        match (&f.code_snippet, f.is_secret) {
            (Some(_), true) => redact::SECRET_SNIPPET.to_owned(),
            (Some(s), false) => m(s),
            (None, _) => String::new(),
        },
    );
    v.insert(
        "tags",
        f.tags.iter().map(|t| m(t)).collect::<Vec<_>>().join(", "),
    );
    v.insert("rule_id", opt(&f.rule_id));
    v.insert("package", opt(&f.package));
    v.insert("vulnerability_ids", f.vulnerability_ids.join(", "));
    v.insert("finding_url", url.to_owned());
    v
}

/// The description a ticket shows: the tenant's template for `project`, rendered.
fn description_for(
    config: &[ConfigEntry],
    project: &str,
    vars: &BTreeMap<&'static str, String>,
    flavor: ApiFlavor,
) -> Result<crate::jira::api::RichText, JobError> {
    let template_text = setting(config, &format!("{KEY_TEMPLATE}.{project}"))
        .or_else(|| setting(config, KEY_TEMPLATE));
    let format = match flavor {
        ApiFlavor::CloudV3 => Format::Adf,
        ApiFlavor::DataCenterV2 => Format::Wiki,
    };
    template::render(template::resolve(template_text), vars, format)
        .map(|(text, _cut)| text)
        .map_err(|e| JobError::Permanent(format!("the issue template is invalid: {e}")))
}

/// The summary a ticket shows: the summary template for `project`, else the title.
fn summary_for(
    config: &[ConfigEntry],
    project: &str,
    finding: &Finding,
    vars: &BTreeMap<&'static str, String>,
) -> Result<String, JobError> {
    let summary = match fields::summary_template(config, project) {
        Some(t) => template::expand(t, vars)
            .map_err(|e| JobError::Permanent(format!("the summary template is invalid: {e}")))
            .map(|s| template::summary(&s))?,
        None => String::new(),
    };
    Ok(if summary.trim().is_empty() {
        template::summary(&redact::masked(&finding.title))
    } else {
        summary
    })
}

/// Setting: fields Jira owns once a ticket exists — any of `summary`, `description`,
/// `priority` (comma-separated); Verdict's updates leave them as people set them.
pub const KEY_JIRA_OWNED: &str = "ticket.jira_owned";
/// The fields an update brings in step with the finding.
pub const UPDATED_FIELDS: [&str; 3] = ["summary", "description", "priority"];

/// What an update sends for `finding` — or for its group's ticket, given the group's key and
/// findings — (fields Jira owns left out), and its hash.
fn update_fields(
    state: &AppState,
    finding: &Finding,
    group: Option<(&str, &[Finding])>,
    config: &[ConfigEntry],
    project: &str,
    flavor: ApiFlavor,
    screen: Option<&CreateScreen>,
) -> Result<(serde_json::Map<String, serde_json::Value>, String), JobError> {
    use sha2::Digest;
    let owned: Vec<String> = Config(config)
        .list(KEY_JIRA_OWNED)
        .unwrap_or_default()
        .into_iter()
        .map(|f| f.to_ascii_lowercase())
        .collect();
    let vars = variables(finding, &finding_url(state, &finding.id));
    let mut out = serde_json::Map::new();
    let wanted = |f: &str| !owned.iter().any(|o| o == f) && screen.is_none_or(|s| s.has(f));
    if let Some((key, members)) = group {
        let (summary, description, priority) =
            super::groups::content(state, config, key, members, flavor);
        for (field, value) in [
            ("summary", json!(summary)),
            ("description", description.to_json()),
            ("priority", json!({ "name": priority })),
        ] {
            if wanted(field) {
                out.insert(field.into(), value);
            }
        }
    } else if wanted("summary") {
        out.insert(
            "summary".into(),
            json!(summary_for(config, project, finding, &vars)?),
        );
    }
    if group.is_none() && wanted("description") {
        out.insert(
            "description".into(),
            description_for(config, project, &vars, flavor)?.to_json(),
        );
    }
    if group.is_none() && wanted("priority") {
        out.insert(
            "priority".into(),
            json!({"name": defaults::priority_for(finding.severity, Config(config))}),
        );
    }
    let hash = hex::encode(sha2::Sha256::digest(
        serde_json::to_string(&out).unwrap_or_default().as_bytes(),
    ));
    Ok((out, hash))
}

/// Runs an `update_issue` job: the ticket's summary, description and priority follow the
/// finding (fields in `ticket.jira_owned` left alone), sent only when they differ from what
/// was sent last — unless `force` (a re-push).
pub async fn update_job(
    state: &AppState,
    job: &oj::Model,
    force: bool,
) -> Result<JobOutcome, JobError> {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let Some(finding) = finding_of(state, job).await? else {
        return gone(state, job).await;
    };
    let Some(link) = finding.jira.clone() else {
        return super::finish(
            state,
            job,
            JobOutcome::Skipped("the finding has no ticket".into()),
        )
        .await;
    };
    let tenant = job.tenant_id.as_str();
    let auth = state.jira_auth(tenant).await?;
    let config = super::config_of(state, tenant).await;
    let issue = state.jira().get_issue(&auth, &link.issue_id).await?;
    let screen = state
        .jira()
        .create_screen(&auth, &link.project_key, &issue.issue_type, false)
        .await?;
    let members = match &link.group {
        Some(_) => super::groups::members(state, tenant, &link.issue_id).await?,
        None => Vec::new(),
    };
    let (fields, hash) = update_fields(
        state,
        &finding,
        link.group.as_deref().map(|k| (k, members.as_slice())),
        &config,
        &link.project_key,
        auth.flavor(),
        screen.as_deref(),
    )?;
    if fields.is_empty() {
        let why = format!("every updated field is Jira-owned ({KEY_JIRA_OWNED})");
        return super::finish(state, job, JobOutcome::Skipped(why)).await;
    }
    let row = links::Entity::find()
        .filter(links::Column::TenantId.eq(tenant))
        .filter(links::Column::FindingId.eq(&finding.id))
        .one(state.store().db())
        .await?;
    if !force && row.as_ref().and_then(|r| r.pushed_hash.as_deref()) == Some(hash.as_str()) {
        let why = format!("{} already shows this", link.issue_key);
        return super::finish(state, job, JobOutcome::Skipped(why)).await;
    }
    let names: Vec<String> = fields.keys().cloned().collect();
    state
        .jira()
        .edit_issue(&auth, &link.issue_id, fields)
        .await?;
    let outcome = JobOutcome::Done(format!("updated {}: {}", link.issue_key, names.join(", ")));
    {
        let _gate = state.store().write_lock().await;
        let txn = state.store().db().begin().await?;
        // A group's ticket shows all its findings: each link records what it was sent.
        match &link.group {
            Some(_) => {
                record_pushed_in(&txn, tenant, links::Column::IssueId, &link.issue_id, &hash)
            }
            None => record_pushed_in(&txn, tenant, links::Column::FindingId, &finding.id, &hash),
        }
        .await?;
        if !super::finish_in(&txn, job, &outcome).await? {
            return Err(JobError::Transient("lost the lease on the job".into()));
        }
        txn.commit().await?;
    }
    Ok(outcome)
}

/// Records `hash` as what the ticket was last sent, on the links whose `column` is `value`.
async fn record_pushed_in(
    txn: &sea_orm::DatabaseTransaction,
    tenant: &str,
    column: links::Column,
    value: &str,
    hash: &str,
) -> Result<(), sea_orm::DbErr> {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    links::Entity::update_many()
        .col_expr(
            links::Column::PushedHash,
            sea_orm::sea_query::Expr::value(hash.to_owned()),
        )
        .filter(links::Column::TenantId.eq(tenant))
        .filter(column.eq(value))
        .exec(txn)
        .await?;
    Ok(())
}

/// The project and issue type a ticket goes to: the request's, else the settings'.
pub fn destination(
    req: &ExportRequest,
    config: &[ConfigEntry],
) -> Result<(String, String), JobError> {
    let project = req
        .project
        .clone()
        .or_else(|| setting(config, defaults::KEY_TICKET_PROJECT).map(str::to_owned))
        .ok_or_else(|| {
            JobError::Permanent(format!(
                "no project: pass `project` or set the `{}` setting",
                defaults::KEY_TICKET_PROJECT
            ))
        })?;
    let issue_type = req
        .issue_type
        .clone()
        .or_else(|| setting(config, defaults::KEY_TICKET_ISSUE_TYPE).map(str::to_owned))
        .unwrap_or_else(|| "Bug".to_owned());
    Ok((project, issue_type))
}

/// The issue to create for `finding` on `screen` (its project's create screen for the issue
/// type), from the request and the tenant's settings, with notes on what the screen left out.
pub fn build_issue(
    state: &AppState,
    finding: &Finding,
    req: &ExportRequest,
    config: &[ConfigEntry],
    flavor: ApiFlavor,
    screen: &CreateScreen,
) -> Result<(NewIssue, Vec<String>), JobError> {
    let cfg = Config(config);
    let (project, issue_type) = destination(req, config)?;
    let vars = variables(finding, &finding_url(state, &finding.id));
    let description = description_for(config, &project, &vars, flavor)?;
    let summary = summary_for(config, &project, finding, &vars)?;
    let mut labels = vec!["verdict".to_owned(), finding_label(&finding.id)];
    for l in req
        .labels
        .iter()
        .map(String::as_str)
        .chain(if req.labels.is_empty() {
            cfg.list(defaults::KEY_TICKET_LABELS).unwrap_or_default()
        } else {
            Vec::new()
        })
    {
        if !labels.iter().any(|x| x == l) {
            labels.push(l.to_owned());
        }
    }
    let due_date = req.due_date.clone().or_else(|| {
        defaults::sla_days(finding.severity, cfg)
            .map(|d| defaults::date_after(chrono::Utc::now().timestamp_millis(), d))
    });
    let mut map = fields::map_for(config, &project, &issue_type)
        .map_err(|e| JobError::Permanent(e.to_string()))?;
    // The export's (or the ticketing rule's) fields win over the settings' map.
    if let Some(extra) = &req.fields {
        let text = serde_json::Value::Object(extra.clone()).to_string();
        map.overlay(
            verdict_wire::field_map::parse(&text)
                .map_err(|e| JobError::Permanent(format!("the export's fields: {e}")))?,
        );
    }
    let extra = fields::apply(screen, &map, &vars, flavor)
        .map_err(|e| JobError::Permanent(e.to_string()))?;
    let mut issue = NewIssue {
        project,
        issue_type,
        summary,
        description,
        labels,
        priority: Some(
            req.priority
                .clone()
                .unwrap_or_else(|| defaults::priority_for(finding.severity, cfg)),
        ),
        due_date,
        parent: req.parent.clone(),
        parent_field: None,
        assignee: req.assignee.clone(),
        fields: extra,
        properties: vec![(PROPERTY.to_owned(), json!({"finding_id": finding.id}))],
    };
    let notes = fit_to_screen(&mut issue, screen);
    let mut sent: Vec<&str> = fields::VERDICT_SETS.to_vec();
    sent.extend(issue.fields.keys().map(String::as_str));
    for (id, set) in [
        ("priority", issue.priority.is_some()),
        ("duedate", issue.due_date.is_some()),
        ("assignee", issue.assignee.is_some()),
        (
            "parent",
            issue.parent.is_some() && issue.parent_field.is_none(),
        ),
    ] {
        if set {
            sent.push(id);
        }
    }
    if let (Some(_), Some(f)) = (&issue.parent, &issue.parent_field) {
        sent.push(f);
    }
    fields::require_all(screen, &sent).map_err(|e| JobError::Permanent(e.to_string()))?;
    Ok((issue, notes))
}

/// Leaves out what the create screen has no field for (Jira refuses such a create), saying
/// so; an epic goes by Data Center's Epic Link where the screen has no `parent`.
fn fit_to_screen(issue: &mut NewIssue, screen: &CreateScreen) -> Vec<String> {
    let mut notes = Vec::new();
    let place = format!("{} / {}", screen.project, screen.issue_type);
    if issue.priority.is_some() && !screen.has("priority") {
        issue.priority = None;
        notes.push(format!(
            "{place} has no priority field; filed without a priority"
        ));
    }
    if let Some(d) = &issue.due_date
        && !screen.has("duedate")
    {
        notes.push(format!(
            "{place} has no due date on its create screen; filed without the due date {d}"
        ));
        issue.due_date = None;
    }
    if issue.assignee.is_some() && !screen.has("assignee") {
        issue.assignee = None;
        notes.push(format!("{place} has no assignee field; filed unassigned"));
    }
    if !screen.has("labels") {
        issue.labels.clear();
        notes.push(format!(
            "{place} has no labels field; filed without labels (a repeated create cannot find it)"
        ));
    }
    if let Some(p) = &issue.parent
        && !screen.has("parent")
    {
        match screen.fields.iter().find(|f| f.is_epic_link()) {
            Some(epic_link) => issue.parent_field = Some(epic_link.id.clone()),
            None => {
                notes.push(format!(
                    "{place} has neither a parent nor an Epic Link field; filed without the epic {p}"
                ));
                issue.parent = None;
            }
        }
    }
    notes
}

/// The issue an earlier attempt filed for this finding, if it landed.
async fn existing_issue(
    state: &AppState,
    auth: &JiraAuth,
    finding_id: &str,
) -> Result<Option<Issue>, JobError> {
    let jql = format!(
        "labels = \"{}\" ORDER BY created ASC",
        finding_label(finding_id)
    );
    let found = state.jira().search_all(auth, &jql, 5).await?;
    Ok(found.into_iter().next())
}

/// The job's finding; `None` when it no longer exists.
async fn finding_of(state: &AppState, job: &oj::Model) -> Result<Option<Finding>, JobError> {
    let finding_id = job
        .finding_id
        .as_deref()
        .ok_or_else(|| JobError::Permanent("the job names no finding".into()))?;
    match state.findings().get(&job.tenant_id, finding_id).await {
        Ok(f) => Ok(Some(f)),
        Err(FindingsError::NotFound(_)) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Finishes a job whose finding was deleted meanwhile.
async fn gone(state: &AppState, job: &oj::Model) -> Result<JobOutcome, JobError> {
    super::finish(
        state,
        job,
        JobOutcome::Skipped("the finding no longer exists".into()),
    )
    .await
}

/// The job's finding while it exists without a ticket; otherwise the job is finished as
/// skipped and `Err` carries that outcome.
async fn ticketless(
    state: &AppState,
    job: &oj::Model,
) -> Result<Result<Finding, JobOutcome>, JobError> {
    let Some(finding) = finding_of(state, job).await? else {
        return gone(state, job).await.map(Err);
    };
    if let Some(link) = &finding.jira {
        let skipped = JobOutcome::Skipped(format!("already exported as {}", link.issue_key));
        return super::finish(state, job, skipped).await.map(Err);
    }
    Ok(Ok(finding))
}

/// Runs a `create_issue` job.
pub async fn run(
    state: &AppState,
    job: &oj::Model,
    req: ExportRequest,
) -> Result<JobOutcome, JobError> {
    match ticketless(state, job).await? {
        Ok(finding) => file(state, job, finding, req).await,
        Err(skipped) => Ok(skipped),
    }
}

/// Files `finding`'s ticket for a claimed job (it has none). A job that fails gives up the
/// group it claimed, so the group's other exports need not wait for its retry.
async fn file(
    state: &AppState,
    job: &oj::Model,
    finding: Finding,
    req: ExportRequest,
) -> Result<JobOutcome, JobError> {
    let result = file_claimed(state, job, finding, req).await;
    if let Err(e) = &result
        && !matches!(e, JobError::Paused { .. } | JobError::Waiting(_))
    {
        super::groups::release_claims_of(state, &job.tenant_id, &job.id).await?;
    }
    result
}

async fn file_claimed(
    state: &AppState,
    job: &oj::Model,
    finding: Finding,
    req: ExportRequest,
) -> Result<JobOutcome, JobError> {
    let tenant = job.tenant_id.as_str();
    let auth = state.jira_auth(tenant).await?;
    let config = super::config_of(state, tenant).await;
    let (project, issue_type) = destination(&req, &config)?;
    let group = match &req.group {
        Some(g) => Some(super::groups::chosen(g)),
        None => super::groups::key_for(&config, &finding),
    };
    if let Some(key) = &group
        && let super::groups::Slot::Join(target) =
            super::groups::claim(state, &auth, tenant, key, &job.id).await?
    {
        return join(state, job, &finding, target, key).await;
    }
    let placement =
        super::epics::place(state, &auth, tenant, &config, &project, &finding, &req).await?;
    let req = ExportRequest {
        parent: placement.parent.clone(),
        assignee: placement.assignee.clone(),
        ..req
    };
    let screen = state
        .jira()
        .create_screen(&auth, &project, &issue_type, false)
        .await?
        .ok_or_else(|| {
            JobError::Permanent(format!(
                "Jira project {project} has no issue type `{issue_type}` to create"
            ))
        })?;
    let (mut issue, mut notes) =
        build_issue(state, &finding, &req, &config, auth.flavor(), &screen)?;
    if let Some(key) = &group {
        // A group's ticket speaks for the group (it lists its findings as they join).
        let (summary, description, priority) = super::groups::content(
            state,
            &config,
            key,
            std::slice::from_ref(&finding),
            auth.flavor(),
        );
        issue.summary = summary;
        issue.description = description;
        if issue.priority.is_some() {
            issue.priority = Some(priority);
        }
        if screen.has("labels") {
            issue.labels.push(verdict_wire::field_map::group_label(key));
        }
    }
    // A repeated job may follow a create that landed without us hearing back.
    let earlier = if job.attempts > 1 {
        existing_issue(state, &auth, &finding.id).await?
    } else {
        None
    };
    let mut replaced_epic = false;
    let created = match earlier {
        Some(i) => {
            notes.push("found the issue an earlier attempt created".into());
            (i.id, i.key, i.project)
        }
        None => loop {
            let result = state.jira().create_issue(&auth, &issue).await;
            if let Err(crate::jira::JiraError::Status { status: 400, .. }) = &result {
                // The screen may have changed since it was read: read it again next time.
                state
                    .jira()
                    .forget_create_screen(&auth, &issue.project, &issue.issue_type);
            }
            match result {
                Ok(c) => break (c.id, c.key, issue.project.clone()),
                Err(e)
                    if issue.parent.is_some()
                        && e.rejected_field(issue.parent_field.as_deref().unwrap_or("parent")) =>
                {
                    let old = issue.parent.take().unwrap_or_default();
                    match &placement.source {
                        // Verdict's own epic is gone: a new one takes its place, once.
                        Some(super::epics::EpicSource::Group(group)) if !replaced_epic => {
                            replaced_epic = true;
                            let new = super::epics::replace_group_epic(
                                state,
                                &auth,
                                tenant,
                                &config,
                                &issue.project,
                                group,
                            )
                            .await?;
                            notes.push(format!(
                                "Jira refused the epic {old} ({e}); filed under {new}, created in its place"
                            ));
                            issue.parent = Some(new);
                        }
                        Some(super::epics::EpicSource::Configured(key)) => {
                            tracing::warn!(tenant, epic = %old, setting = %key, error = %e, "the configured epic no longer takes tickets");
                            notes.push(format!(
                                "the configured epic {old} (`{key}`) no longer takes tickets ({e}): filed without it — fix the setting"
                            ));
                        }
                        _ => notes.push(format!(
                            "Jira refused {old} as the parent ({e}); filed without it"
                        )),
                    }
                }
                Err(e) if issue.assignee.is_some() && e.rejected_field("assignee") => {
                    notes.push(format!(
                        "Jira refused {} as the assignee ({e}); filed unassigned",
                        issue.assignee.take().unwrap_or_default()
                    ));
                }
                Err(e) if issue.due_date.is_some() && e.rejected_field("duedate") => {
                    notes.push(format!(
                        "Jira refused the due date {} ({e}); filed without it",
                        issue.due_date.take().unwrap_or_default()
                    ));
                }
                Err(e) if e.is_ambiguous() => {
                    if let Some(i) = existing_issue(state, &auth, &finding.id).await? {
                        notes.push("the create answered with an error but had landed".into());
                        break (i.id, i.key, i.project);
                    }
                    return Err(e.into());
                }
                Err(e) => return Err(e.into()),
            }
        },
    };
    let (issue_id, issue_key, project_key) = created;
    let mut reason = format!("exported to Jira issue {issue_key}");
    if let Some(r) = &req.reason {
        reason.push_str(&format!(" ({r})"));
    }
    for n in &notes {
        reason.push_str("; ");
        reason.push_str(n);
    }
    let target = LinkTarget {
        site: auth.base_url().to_string(),
        issue_id: issue_id.clone(),
        issue_key: issue_key.clone(),
        project_key,
        group_key: group.clone(),
    };
    let outcome = JobOutcome::Done(format!(
        "created {issue_key}{}",
        if notes.is_empty() {
            String::new()
        } else {
            format!(" ({})", notes.join("; "))
        }
    ));
    {
        let _gate = state.store().write_lock().await;
        let txn = state.store().db().begin().await?;
        findings::link_in(
            &txn,
            tenant,
            &finding.id,
            &target,
            &Actor::System("export".into()),
            EventSource::Api,
            reason,
        )
        .await?;
        crate::triage::seed_ticket_state_in(&txn, tenant, &issue_id, &issue_key, "new").await?;
        if let Some(key) = &group {
            super::groups::record_ticket_in(&txn, tenant, key, &target).await?;
        }
        if let Some(due) = &issue.due_date {
            super::sla::record_due_date_in(&txn, tenant, &finding.id, due).await?;
        }
        // What an update would send now is what the ticket shows: no update until it changes.
        if let Ok((_, hash)) = update_fields(
            state,
            &finding,
            group
                .as_deref()
                .map(|k| (k, std::slice::from_ref(&finding))),
            &config,
            &target.project_key,
            auth.flavor(),
            Some(&screen),
        ) {
            record_pushed_in(&txn, tenant, links::Column::FindingId, &finding.id, &hash).await?;
        }
        // Notes written before the finding had a ticket travel to it now.
        super::notes::send_earlier_in(&txn, tenant, &finding.id, &issue_id).await?;
        super::enqueue_in(
            &txn,
            tenant,
            Some(&finding.id),
            job.bulk_id.as_deref(),
            &Payload::RemoteLink {
                issue_id: issue_id.clone(),
            },
        )
        .await?;
        // The finding changed while its ticket was being filed: move the ticket too.
        if finding.status != FindingStatus::Open {
            super::enqueue_in(
                &txn,
                tenant,
                Some(&finding.id),
                None,
                &Payload::SyncStatus { reason: None },
            )
            .await?;
        }
        if !super::finish_in(&txn, job, &outcome).await? {
            return Err(JobError::Transient("lost the lease on the job".into()));
        }
        txn.commit().await?;
    }
    state.outbox_queue().wake();
    Ok(outcome)
}

/// Adds `finding` to its group's open ticket: linked, its notes and a link back sent, and the
/// ticket's list of findings updated.
async fn join(
    state: &AppState,
    job: &oj::Model,
    finding: &Finding,
    target: LinkTarget,
    key: &str,
) -> Result<JobOutcome, JobError> {
    let tenant = job.tenant_id.as_str();
    let what = super::groups::describe(key);
    let outcome = JobOutcome::Done(format!(
        "added to {} (the ticket of group {what})",
        target.issue_key
    ));
    {
        let _gate = state.store().write_lock().await;
        let txn = state.store().db().begin().await?;
        findings::link_in(
            &txn,
            tenant,
            &finding.id,
            &target,
            &Actor::System("export".into()),
            EventSource::Api,
            format!(
                "added to Jira issue {}, the ticket of group {what}",
                target.issue_key
            ),
        )
        .await?;
        super::notes::send_earlier_in(&txn, tenant, &finding.id, &target.issue_id).await?;
        for payload in [
            Payload::RemoteLink {
                issue_id: target.issue_id.clone(),
            },
            Payload::UpdateIssue { force: false },
        ] {
            super::enqueue_in(
                &txn,
                tenant,
                Some(&finding.id),
                job.bulk_id.as_deref(),
                &payload,
            )
            .await?;
        }
        if !super::finish_in(&txn, job, &outcome).await? {
            return Err(JobError::Transient("lost the lease on the job".into()));
        }
        txn.commit().await?;
    }
    state.outbox_queue().wake();
    Ok(outcome)
}

/// Runs a `remote_link` job: the issue links back to the finding (an upsert by global id).
pub async fn remote_link_job(
    state: &AppState,
    job: &oj::Model,
    issue_id: &str,
) -> Result<JobOutcome, JobError> {
    let finding_id = job.finding_id.clone().unwrap_or_default();
    let auth = state.jira_auth(&job.tenant_id).await?;
    state
        .jira()
        .add_remote_link(
            &auth,
            issue_id,
            &format!("verdict:finding:{finding_id}"),
            &finding_url(state, &finding_id),
            "Finding in Verdict",
        )
        .await?;
    super::finish(
        state,
        job,
        JobOutcome::Done(format!("linked {issue_id} back to the finding")),
    )
    .await
}

/// Setting: `false` turns auto-ticketing off while `ticket.project` stays the export default.
pub const KEY_TICKET_AUTO: &str = "ticket.auto";

/// `ticket.auto = false`: the tenant keeps `ticket.project` as the export default only.
fn auto_switched_off(config: &[ConfigEntry]) -> bool {
    setting(config, KEY_TICKET_AUTO).is_some_and(|v| v.trim().eq_ignore_ascii_case("false"))
}

/// Whether imports for `tenant` queue auto-ticketing jobs: a ticketing rule is active, or
/// `ticket.project` is set — unless `ticket.auto = false`.
pub async fn auto_tickets(state: &AppState, tenant: &str) -> bool {
    let config = super::config_of(state, tenant).await;
    if auto_switched_off(&config) {
        return false;
    }
    setting(&config, defaults::KEY_TICKET_PROJECT).is_some()
        || matches!(
            state
                .rules()
                .rule_for(tenant, None, rules_sdk::DecisionKind::Ticketing)
                .await,
            Ok(Some(_))
        )
}

/// Runs an `auto_ticket` job: the tenant's ticketing rule (or the default policy over the
/// `ticket.*` settings) decides about the finding, and a ticket it asks for is filed by this
/// same job (so a retry never files it twice: `file` finds the labelled issue).
pub async fn auto_ticket_job(state: &AppState, job: &oj::Model) -> Result<JobOutcome, JobError> {
    let tenant = job.tenant_id.as_str();
    let finding = match ticketless(state, job).await? {
        Ok(f) => f,
        Err(skipped) => return Ok(skipped),
    };
    let config = super::config_of(state, tenant).await;
    if auto_switched_off(&config) {
        return super::finish(
            state,
            job,
            JobOutcome::Skipped("auto-ticketing was switched off (ticket.auto = false)".into()),
        )
        .await;
    }
    let input = rules_sdk::RuleInput::Ticketing(rules_sdk::TicketInput {
        finding: crate::triage::to_rule_finding(&finding),
        config,
        now: chrono::Utc::now().timestamp_millis(),
    });
    let decided = state
        .rules()
        .decide(state.metrics_arc(), tenant, None, input)
        .await?;
    match decided.output {
        rules_sdk::RuleOutput::Ticketing(rules_sdk::TicketDecision::Create(plan)) => {
            // The rule's output was validated: every field value is JSON.
            let fields: serde_json::Map<String, serde_json::Value> = plan
                .fields
                .into_iter()
                .filter_map(|f| Some((f.field, serde_json::from_str(&f.value).ok()?)))
                .collect();
            let req = ExportRequest {
                project: Some(plan.project),
                issue_type: Some(plan.issue_type),
                labels: plan.labels,
                priority: plan.priority,
                due_date: plan.due_date,
                reason: Some(format!("auto-ticketing: {}", plan.reason)),
                assignee: plan.assignee,
                fields: (!fields.is_empty()).then_some(fields),
                group: plan.group,
                epic_key: plan.epic,
                ..Default::default()
            };
            file(state, job, finding, req).await
        }
        rules_sdk::RuleOutput::Ticketing(rules_sdk::TicketDecision::Skip(why)) => {
            super::finish(state, job, JobOutcome::Skipped(format!("no ticket: {why}"))).await
        }
        other => Err(JobError::Permanent(format!(
            "the ticketing decision was not a ticketing output: {other:?}"
        ))),
    }
}

/// Queues a re-push of `finding_id`'s ticket (sent even when unchanged). Returns the job id.
pub async fn queue_push(
    state: &AppState,
    tenant: &str,
    finding_id: &str,
) -> Result<String, JobError> {
    let finding = state.findings().get(tenant, finding_id).await?;
    if finding.jira.is_none() {
        return Err(JobError::NotExported(format!(
            "finding {finding_id} has no ticket: export it first"
        )));
    }
    let job_id = {
        let _gate = state.store().write_lock().await;
        let txn = state.store().db().begin().await?;
        let id = super::enqueue_in(
            &txn,
            tenant,
            Some(finding_id),
            None,
            &Payload::UpdateIssue { force: true },
        )
        .await?;
        txn.commit().await?;
        id
    };
    state.outbox_queue().wake();
    Ok(job_id)
}

/// Why one finding of a bulk export was not queued.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct NotQueued {
    pub finding_id: String,
    pub reason: String,
}

/// What a bulk export queued.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct BulkQueued {
    /// Follow the jobs with `GET /api/v1/bulk/{bulk_id}`.
    pub bulk_id: String,
    pub queued: usize,
    /// Already exported, unknown, or already queued.
    pub skipped: Vec<NotQueued>,
}

/// Queues `create_issue` jobs for `ids` (skipping exported and already queued findings).
/// Returns what was queued and the ids of the new jobs.
pub async fn queue_exports(
    state: &AppState,
    tenant: &str,
    ids: &[String],
    req: &ExportRequest,
) -> Result<(BulkQueued, Vec<String>), JobError> {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let bulk_id = uuid::Uuid::now_v7().to_string();
    let mut skipped = Vec::new();
    let mut queue = Vec::new();
    for id in ids {
        match state.findings().get(tenant, id).await {
            Ok(f) => match f.jira {
                Some(l) => skipped.push(NotQueued {
                    finding_id: id.clone(),
                    reason: format!("already exported as {}", l.issue_key),
                }),
                None => queue.push(id.clone()),
            },
            Err(FindingsError::NotFound(_)) => skipped.push(NotQueued {
                finding_id: id.clone(),
                reason: "no such finding".into(),
            }),
            Err(e) => return Err(e.into()),
        }
    }
    let pending: Vec<String> = oj::Entity::find()
        .filter(oj::Column::TenantId.eq(tenant))
        .filter(oj::Column::Kind.eq("create_issue"))
        .filter(oj::Column::State.is_in(["pending", "processing"]))
        .all(state.store().db())
        .await?
        .into_iter()
        .filter_map(|j| j.finding_id)
        .collect();
    let (dupes, queue): (Vec<String>, Vec<String>) =
        queue.into_iter().partition(|id| pending.contains(id));
    skipped.extend(dupes.into_iter().map(|finding_id| NotQueued {
        finding_id,
        reason: "an export of this finding is already queued".into(),
    }));
    // Refused up front, not queued to fail in the outbox: without a project there is no
    // ticket (findings already exported or queued are reported as such first).
    if !queue.is_empty() && req.project.is_none() {
        let config = state
            .rules()
            .config_entries(tenant)
            .await
            .map_err(|e| JobError::Transient(e.to_string()))?;
        if setting(&config, defaults::KEY_TICKET_PROJECT).is_none() {
            return Err(JobError::Permanent(format!(
                "no project: pass `project` or set the `{}` setting; nothing was queued",
                defaults::KEY_TICKET_PROJECT
            )));
        }
    }
    let mut job_ids = Vec::with_capacity(queue.len());
    {
        let _gate = state.store().write_lock().await;
        let txn = state.store().db().begin().await?;
        for id in &queue {
            job_ids.push(
                super::enqueue_in(
                    &txn,
                    tenant,
                    Some(id),
                    Some(&bulk_id),
                    &Payload::CreateIssue(req.clone()),
                )
                .await?,
            );
        }
        txn.commit().await?;
    }
    state.outbox_queue().wake();
    Ok((
        BulkQueued {
            bulk_id,
            queued: queue.len(),
            skipped,
        },
        job_ids,
    ))
}
