//! Atlassian's personal data duties: every account id Verdict keeps for a Connect or OAuth 2.0
//! site is reported to the personal data reporting API once a cycle, and closed accounts are
//! pseudonymised everywhere they appear (comments, decisions, audit events, deliveries).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseBackend, DbErr, EntityTrait,
    QueryFilter, QuerySelect, Statement, TransactionTrait,
};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::{ConnectionKind, ConnectionStatus};
use crate::atlassian::JiraAuth;
use crate::jira::{JiraClient, JiraError};
use crate::store::Store;
use crate::store::entities::{
    admin_audit, decisions, finding_events, personal_data_reports, tenants, ticket_comments,
    webhook_deliveries,
};

/// Atlassian's limit on accounts per report request.
pub const REPORT_BATCH: usize = 90;
/// The Connect endpoint, relative to the site's base URL.
pub const REPORT_PATH: &str = "/rest/atlassian-connect/latest/report-accounts";
/// The OAuth 2.0 (3LO) endpoint, on the API gateway's root (per app, not per site; the access
/// token must carry `report:personal-data`).
pub const APP_REPORT_PATH: &str = "/app/report-accounts/";
/// What a closed account's id becomes (followed by 16 hex digits, stable per tenant and account).
pub const PSEUDONYM_PREFIX: &str = "closed-account-";

#[derive(Debug, thiserror::Error)]
pub enum PrivacyError {
    #[error("database error: {0}")]
    Db(#[from] DbErr),
    #[error("the personal data reporting API refused the report: {0}")]
    Jira(#[from] JiraError),
    #[error("the personal data reporting API answered something unexpected: {0}")]
    Answer(String),
    #[error("{0} connections have no personal data reporting API Verdict can call")]
    NoEndpoint(&'static str),
}

/// Where `auth`'s accounts are reported: a Connect site's own endpoint, or, for OAuth 2.0,
/// the gateway's app endpoint (`https://api.atlassian.com/ex/jira/{cloudId}` →
/// `https://api.atlassian.com/app/report-accounts/`).
pub fn report_url(auth: &JiraAuth) -> Result<url::Url, PrivacyError> {
    let url = match auth {
        JiraAuth::Connect { .. } => url::Url::parse(&auth.url(REPORT_PATH)).ok(),
        JiraAuth::OAuth2 { api_base_url, .. } => {
            let path = api_base_url.path();
            let root = path.find("/ex/").map_or(path, |i| &path[..i]);
            let mut u = api_base_url.clone();
            u.set_path(&format!("{}{APP_REPORT_PATH}", root.trim_end_matches('/')));
            Some(u)
        }
        _ => None,
    };
    url.ok_or(PrivacyError::NoEndpoint(auth.kind()))
}

/// An account id Verdict keeps, and when it last stored data about it (`updatedAt`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredAccount {
    pub account_id: String,
    pub updated_at: DateTime<Utc>,
}

/// What one report found.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Report {
    pub accounts: usize,
    pub requests: usize,
    pub closed: Vec<String>,
    pub updated: Vec<String>,
}

/// Every Atlassian account id stored for `tenant_id`, with the latest time data about it was
/// stored. Pseudonymised ids are not accounts any more and are left out.
pub async fn stored_accounts<C: ConnectionTrait>(
    db: &C,
    tenant_id: &str,
) -> Result<Vec<StoredAccount>, DbErr> {
    let mut latest: BTreeMap<String, DateTime<Utc>> = BTreeMap::new();
    let mut note = |id: String, at: DateTime<Utc>| {
        if id.is_empty() || id.starts_with(PSEUDONYM_PREFIX) {
            return;
        }
        let e = latest.entry(id).or_insert(at);
        if at > *e {
            *e = at;
        }
    };
    let comments: Vec<(String, i64)> = ticket_comments::Entity::find()
        .select_only()
        .column(ticket_comments::Column::Author)
        .column_as(ticket_comments::Column::Updated.max(), "at")
        .filter(ticket_comments::Column::TenantId.eq(tenant_id))
        .group_by(ticket_comments::Column::Author)
        .into_tuple()
        .all(db)
        .await?;
    for (id, millis) in comments {
        note(
            id,
            DateTime::from_timestamp_millis(millis).unwrap_or_default(),
        );
    }
    let closers: Vec<(Option<String>, DateTime<Utc>)> = decisions::Entity::find()
        .select_only()
        .column(decisions::Column::Actor)
        .column_as(decisions::Column::CreatedAt.max(), "at")
        .filter(decisions::Column::TenantId.eq(tenant_id))
        .filter(decisions::Column::Actor.is_not_null())
        .group_by(decisions::Column::Actor)
        .into_tuple()
        .all(db)
        .await?;
    for (id, at) in closers {
        note(id.unwrap_or_default(), at);
    }
    let events: Vec<(String, DateTime<Utc>)> = finding_events::Entity::find()
        .select_only()
        .column(finding_events::Column::ActorId)
        .column_as(finding_events::Column::CreatedAt.max(), "at")
        .filter(finding_events::Column::TenantId.eq(tenant_id))
        .filter(finding_events::Column::ActorKind.eq("jira_account"))
        .group_by(finding_events::Column::ActorId)
        .into_tuple()
        .all(db)
        .await?;
    for (id, at) in events {
        note(id, at);
    }
    let audit: Vec<(String, DateTime<Utc>)> = admin_audit::Entity::find()
        .select_only()
        .column(admin_audit::Column::ActorId)
        .column_as(admin_audit::Column::CreatedAt.max(), "at")
        .filter(admin_audit::Column::TenantId.eq(tenant_id))
        .filter(admin_audit::Column::ActorKind.eq("jira_account"))
        .group_by(admin_audit::Column::ActorId)
        .into_tuple()
        .all(db)
        .await?;
    for (id, at) in audit {
        note(id, at);
    }
    Ok(latest
        .into_iter()
        .map(|(account_id, updated_at)| StoredAccount {
            account_id,
            updated_at,
        })
        .collect())
}

/// The stable stand-in for a closed account: the same account always gets the same one within
/// a tenant (so a decision log still shows "the same person"), and it says nothing about them.
pub fn pseudonym(tenant_id: &str, account_id: &str) -> String {
    let digest = Sha256::digest(format!("{tenant_id}\n{account_id}").as_bytes());
    format!("{PSEUDONYM_PREFIX}{}", &hex::encode(digest)[..16])
}

/// Text columns that may hold an account id, each replaced in place.
const TEXT_COLUMNS: &[(&str, &str)] = &[
    ("ticket_comments", "author"),
    ("ticket_comments", "body"),
    ("decisions", "actor"),
    ("decisions", "input"),
    ("decisions", "output"),
    ("decisions", "notes"),
    ("decisions", "contradicted_by"),
    ("finding_events", "actor_id"),
    ("finding_events", "reason"),
    ("admin_audit", "actor_id"),
    ("admin_audit", "old_value"),
    ("admin_audit", "new_value"),
    ("webhook_deliveries", "body"),
    ("rejected_deliveries", "body_excerpt"),
    ("outbox_jobs", "payload"),
    ("tenant_settings", "value"),
];

/// Replaces `account_id` with its pseudonym in every row of `tenant_id` that holds it, and
/// drops the name, e-mail and avatar Jira sent with it in stored deliveries. Returns the
/// number of values changed.
pub async fn pseudonymise<C>(db: &C, tenant_id: &str, account_id: &str) -> Result<u64, DbErr>
where
    C: ConnectionTrait + TransactionTrait,
{
    let alias = pseudonym(tenant_id, account_id);
    let txn = db.begin().await?;
    let backend = txn.get_database_backend();
    let p = |n: usize| match backend {
        DatabaseBackend::Postgres => format!("${n}"),
        _ => format!("?{n}"),
    };
    let pattern = format!(
        "%{}%",
        account_id
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_")
    );
    let mut changed = 0;
    for (table, column) in TEXT_COLUMNS {
        let sql = format!(
            "UPDATE {table} SET {column} = REPLACE({column}, {a}, {b}) \
             WHERE tenant_id = {t} AND {column} LIKE {l} ESCAPE '\\'",
            a = p(1),
            b = p(2),
            t = p(3),
            l = p(4),
        );
        changed += txn
            .execute(Statement::from_sql_and_values(
                backend,
                sql,
                [
                    account_id.into(),
                    alias.clone().into(),
                    tenant_id.into(),
                    pattern.clone().into(),
                ],
            ))
            .await?
            .rows_affected();
    }
    // Jira sends a user's name, e-mail and avatar beside the account id: in a stored delivery
    // they go with it (what is left is the pseudonym, all processing needs).
    let held = webhook_deliveries::Entity::find()
        .filter(webhook_deliveries::Column::TenantId.eq(tenant_id))
        .filter(webhook_deliveries::Column::Body.contains(alias.as_str()))
        .all(&txn)
        .await?;
    for row in held {
        let Ok(mut body) = serde_json::from_str::<Value>(&row.body) else {
            continue;
        };
        if strip_profile(&mut body, &alias) {
            webhook_deliveries::Entity::update_many()
                .col_expr(
                    webhook_deliveries::Column::Body,
                    Expr::value(body.to_string()),
                )
                .filter(webhook_deliveries::Column::Id.eq(row.id))
                .exec(&txn)
                .await?;
        }
    }
    txn.commit().await?;
    Ok(changed)
}

/// Removes profile fields from every user object whose `accountId` is `alias`.
fn strip_profile(v: &mut Value, alias: &str) -> bool {
    match v {
        Value::Object(map) => {
            let mut changed = false;
            if map.get("accountId").and_then(Value::as_str) == Some(alias) {
                for k in [
                    "displayName",
                    "emailAddress",
                    "avatarUrls",
                    "self",
                    "timeZone",
                    "locale",
                ] {
                    changed |= map.remove(k).is_some();
                }
            }
            for child in map.values_mut() {
                changed |= strip_profile(child, alias);
            }
            changed
        }
        Value::Array(items) => items
            .iter_mut()
            .fold(false, |c, x| strip_profile(x, alias) | c),
        _ => false,
    }
}

/// Reports `accounts` in batches of [`REPORT_BATCH`] and returns Atlassian's answer: 204 means
/// nothing to do for a batch; 200 lists accounts `closed` or `updated` since their `updatedAt`.
pub async fn report(
    jira: &JiraClient,
    auth: &JiraAuth,
    accounts: &[StoredAccount],
) -> Result<Report, PrivacyError> {
    let url = report_url(auth)?;
    let mut out = Report {
        accounts: accounts.len(),
        ..Report::default()
    };
    for batch in accounts.chunks(REPORT_BATCH) {
        let body = json!({
            "accounts": batch.iter().map(|a| json!({
                "accountId": a.account_id,
                "updatedAt": a.updated_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            })).collect::<Vec<_>>()
        });
        let answer = jira
            .send_to(auth, reqwest::Method::POST, url.clone(), Some(&body))
            .await?;
        out.requests += 1;
        if answer.is_null() {
            continue;
        }
        let listed = answer
            .get("accounts")
            .and_then(Value::as_array)
            .ok_or_else(|| PrivacyError::Answer("no `accounts` list".into()))?;
        for a in listed {
            let id = a.get("accountId").and_then(Value::as_str);
            // Only ids we asked about: an answer must never make us touch other rows. An odd
            // entry is left out (and said), not allowed to hold up the closed accounts beside it.
            let known = id.filter(|id| batch.iter().any(|b| b.account_id == *id));
            match (known, a.get("status").and_then(Value::as_str)) {
                (Some(id), Some("closed")) => out.closed.push(id.to_owned()),
                (Some(id), Some("updated")) => out.updated.push(id.to_owned()),
                _ => {
                    tracing::warn!(status = ?a.get("status"), known = known.is_some(), "personal data report: an answer entry that is not an account of this request marked closed or updated was ignored")
                }
            }
        }
    }
    Ok(out)
}

/// Reports one tenant's accounts now, pseudonymises the closed ones and records the report.
pub async fn report_tenant(
    store: &Store,
    jira: &JiraClient,
    auth: &JiraAuth,
    tenant_id: &str,
    now: DateTime<Utc>,
) -> Result<Report, PrivacyError> {
    let accounts = stored_accounts(store.db(), tenant_id).await?;
    let report = report(jira, auth, &accounts).await?;
    for account in &report.closed {
        let _gate = store.write_lock().await;
        pseudonymise(store.db(), tenant_id, account).await?;
    }
    let row = personal_data_reports::ActiveModel {
        tenant_id: Set(tenant_id.to_owned()),
        reported_at: Set(now),
        accounts: Set(report.accounts as i64),
        closed: Set(report.closed.len() as i64),
        updated: Set(report.updated.len() as i64),
    };
    let _gate = store.write_lock().await;
    personal_data_reports::Entity::insert(row)
        .on_conflict(
            sea_orm::sea_query::OnConflict::column(personal_data_reports::Column::TenantId)
                .update_columns([
                    personal_data_reports::Column::ReportedAt,
                    personal_data_reports::Column::Accounts,
                    personal_data_reports::Column::Closed,
                    personal_data_reports::Column::Updated,
                ])
                .to_owned(),
        )
        .exec(store.db())
        .await?;
    Ok(report)
}

/// Installed Connect and OAuth 2.0 tenants whose last report is older than `cycle` (or that
/// never reported): the ones the sweep reports now.
pub async fn due_tenants<C: ConnectionTrait>(
    db: &C,
    cycle: chrono::Duration,
    now: DateTime<Utc>,
) -> Result<Vec<String>, DbErr> {
    let connect = tenants::Entity::find()
        .filter(tenants::Column::Kind.is_in([
            ConnectionKind::Connect.as_str(),
            ConnectionKind::Oauth2.as_str(),
        ]))
        .filter(tenants::Column::Status.eq(ConnectionStatus::Active.as_str()))
        .all(db)
        .await?;
    let reported: BTreeMap<String, DateTime<Utc>> = personal_data_reports::Entity::find()
        .all(db)
        .await?
        .into_iter()
        .map(|r| (r.tenant_id, r.reported_at))
        .collect();
    Ok(connect
        .into_iter()
        .filter(|t| reported.get(&t.id).is_none_or(|at| now - *at >= cycle))
        .map(|t| t.id)
        .collect())
}

/// Reports every due tenant (see [`due_tenants`]); one tenant's failure is logged and retried
/// at the next sweep, never stopping the others. Returns the reports made.
pub async fn sweep(
    state: &crate::state::AppState,
    cycle: chrono::Duration,
    now: DateTime<Utc>,
) -> Result<Vec<(String, Report)>, DbErr> {
    let mut done = Vec::new();
    for tenant in due_tenants(state.store().db(), cycle, now).await? {
        let auth = match state.jira_auth(&tenant).await {
            Ok(auth) => auth,
            Err(e) => {
                tracing::warn!(%tenant, error = %e, "personal data report skipped: no credentials");
                continue;
            }
        };
        match report_tenant(state.store(), state.jira(), &auth, &tenant, now).await {
            Ok(r) => {
                tracing::info!(%tenant, accounts = r.accounts, requests = r.requests,
                    closed = r.closed.len(), updated = r.updated.len(),
                    "reported stored account ids to Atlassian");
                done.push((tenant, r));
            }
            Err(e) => {
                tracing::warn!(%tenant, error = %e, "personal data report failed; retried at the next sweep")
            }
        }
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pseudonym_is_stable_per_tenant_and_says_nothing() {
        let a = pseudonym("t1", "557058:f58131cb-b67d-43c7-b30d-6b58d40bd077");
        assert_eq!(
            a,
            pseudonym("t1", "557058:f58131cb-b67d-43c7-b30d-6b58d40bd077")
        );
        assert_ne!(
            a,
            pseudonym("t2", "557058:f58131cb-b67d-43c7-b30d-6b58d40bd077")
        );
        assert!(a.starts_with(PSEUDONYM_PREFIX) && !a.contains("557058"));
        assert_eq!(a.len(), PSEUDONYM_PREFIX.len() + 16);
    }

    #[test]
    fn each_kind_reports_where_atlassian_takes_it() {
        use crate::config::Secret;
        let oauth = JiraAuth::OAuth2 {
            access_token: Secret::new("t"),
            api_base_url: "https://api.atlassian.com/ex/jira/1324a887-45db-1bf4-1e99-ef0ff456d421"
                .parse()
                .unwrap(),
        };
        assert_eq!(
            report_url(&oauth).unwrap().as_str(),
            "https://api.atlassian.com/app/report-accounts/"
        );
        let connect = JiraAuth::Connect {
            app_key: "verdict".into(),
            shared_secret: Secret::new("s"),
            site_url: "https://acme.atlassian.net".parse().unwrap(),
        };
        assert_eq!(
            report_url(&connect).unwrap().as_str(),
            "https://acme.atlassian.net/rest/atlassian-connect/latest/report-accounts"
        );
        let token = JiraAuth::ApiToken {
            email: "a@b".into(),
            token: Secret::new("t"),
            site_url: "https://acme.atlassian.net".parse().unwrap(),
        };
        assert!(matches!(
            report_url(&token),
            Err(PrivacyError::NoEndpoint("api_token"))
        ));
    }

    #[test]
    fn profile_fields_go_with_the_closed_account_only() {
        let mut body = json!({
            "user": {"accountId": "closed-account-1", "displayName": "Ana", "emailAddress": "a@x"},
            "comment": {"author": {"accountId": "other", "displayName": "Bo"}}
        });
        assert!(strip_profile(&mut body, "closed-account-1"));
        assert_eq!(body["user"], json!({"accountId": "closed-account-1"}));
        assert_eq!(body["comment"]["author"]["displayName"], "Bo");
    }
}
