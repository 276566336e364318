//! One tenant's data as a whole: everything Verdict keeps for it as one JSON document
//! (`verdict tenant export`), and its removal (`verdict tenant purge`, and the retention sweep
//! once an uninstalled site has stayed away for `retention_uninstalled_days`).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter,
    TransactionTrait,
};
use serde_json::Value;

use super::ConnectionStatus;
use crate::store::Store;
use crate::store::entities::{
    admin_audit, api_keys, decisions, finding_events, findings, forge_installations, jira_links,
    oauth_connections, oauth_states, outbox_jobs, own_transitions, personal_data_reports,
    rejected_deliveries, risk_expiries, rules, tenant_settings, tenants, ticket_comments,
    ticket_epics, ticket_groups, ticket_states, webhook_deliveries,
};

/// The export's format name; a change that drops or renames a field bumps it.
pub const EXPORT_FORMAT: &str = "verdict-tenant-export/1";

/// Columns never exported: credentials (kept encrypted at rest, useless elsewhere) and compiled
/// rule artifacts (machine code for this server; the rule's module is served by the API).
pub const OMITTED: &[(&str, &str)] = &[
    ("tenants", "shared_secret"),
    ("tenants", "credentials"),
    ("tenants", "webhook_secret"),
    ("oauth_connections", "access_token"),
    ("oauth_connections", "refresh_token"),
    ("forge_installations", "system_token"),
    ("oauth_states", "pkce_verifier"),
    ("api_keys", "key_hash"),
    ("rules", "artifact"),
];

/// Every table holding a tenant's rows, each named once, children before what they point at
/// (`finding_events` and `jira_links` point at `findings`).
macro_rules! tenant_tables {
    ($each:ident) => {
        $each!(own_transitions);
        $each!(risk_expiries);
        $each!(ticket_comments);
        $each!(ticket_epics);
        $each!(ticket_groups);
        $each!(ticket_states);
        $each!(decisions);
        $each!(finding_events);
        $each!(jira_links);
        $each!(outbox_jobs);
        $each!(webhook_deliveries);
        $each!(rejected_deliveries);
        $each!(admin_audit);
        $each!(personal_data_reports);
        $each!(tenant_settings);
        $each!(rules);
        $each!(api_keys);
        $each!(oauth_states);
        $each!(oauth_connections);
        $each!(forge_installations);
        $each!(findings);
    };
}

#[derive(Debug, thiserror::Error)]
pub enum TenantDataError {
    #[error("tenant `{0}` not found")]
    NotFound(String),
    #[error("database error: {0}")]
    Db(#[from] DbErr),
}

fn scrub(table: &str, mut rows: Vec<Value>) -> Vec<Value> {
    for row in &mut rows {
        if let Some(fields) = row.as_object_mut() {
            for (_, column) in OMITTED.iter().filter(|(t, _)| *t == table) {
                if fields.contains_key(*column) {
                    fields.insert((*column).to_owned(), Value::String("[omitted]".into()));
                }
            }
        }
    }
    rows
}

/// Everything Verdict keeps for `tenant_id` (see [`OMITTED`] for what is left out).
pub async fn export(db: &DatabaseConnection, tenant_id: &str) -> Result<Value, TenantDataError> {
    let tenant = tenants::Entity::find_by_id(tenant_id)
        .into_json()
        .one(db)
        .await?
        .ok_or_else(|| TenantDataError::NotFound(tenant_id.to_owned()))?;
    let mut tables: BTreeMap<&'static str, Vec<Value>> = BTreeMap::new();
    macro_rules! export_table {
        ($t:ident) => {
            let rows = $t::Entity::find()
                .filter($t::Column::TenantId.eq(tenant_id))
                .into_json()
                .all(db)
                .await?;
            tables.insert(stringify!($t), scrub(stringify!($t), rows));
        };
    }
    tenant_tables!(export_table);
    let omitted: Vec<String> = OMITTED.iter().map(|(t, c)| format!("{t}.{c}")).collect();
    Ok(serde_json::json!({
        "format": EXPORT_FORMAT,
        "exported_at": Utc::now(),
        "tenant": scrub("tenants", vec![tenant]).pop(),
        "tables": tables,
        "omitted": omitted,
    }))
}

/// Deletes every row of `tenant_id` and the tenant itself, in one transaction; returns how many
/// rows went from each table.
pub async fn purge<C>(
    db: &C,
    tenant_id: &str,
) -> Result<BTreeMap<&'static str, u64>, TenantDataError>
where
    C: ConnectionTrait + TransactionTrait,
{
    let txn = db.begin().await?;
    if tenants::Entity::find_by_id(tenant_id)
        .one(&txn)
        .await?
        .is_none()
    {
        return Err(TenantDataError::NotFound(tenant_id.to_owned()));
    }
    let mut deleted: BTreeMap<&'static str, u64> = BTreeMap::new();
    macro_rules! purge_table {
        ($t:ident) => {
            let n = $t::Entity::delete_many()
                .filter($t::Column::TenantId.eq(tenant_id))
                .exec(&txn)
                .await?
                .rows_affected;
            deleted.insert(stringify!($t), n);
        };
    }
    tenant_tables!(purge_table);
    let n = tenants::Entity::delete_by_id(tenant_id)
        .exec(&txn)
        .await?
        .rows_affected;
    deleted.insert("tenants", n);
    txn.commit().await?;
    Ok(deleted)
}

/// Purges every tenant uninstalled before `cutoff` that has not been installed again (a
/// reinstall makes it `active`, so it is kept). Returns the purged tenants' ids.
pub async fn purge_uninstalled(
    store: &Store,
    cutoff: DateTime<Utc>,
) -> Result<Vec<String>, TenantDataError> {
    let gone = tenants::Entity::find()
        .filter(tenants::Column::Status.eq(ConnectionStatus::Uninstalled.as_str()))
        .filter(tenants::Column::UninstalledAt.lt(cutoff))
        .all(store.db())
        .await?;
    let mut purged = Vec::with_capacity(gone.len());
    for t in gone {
        let _gate = store.write_lock().await;
        let deleted = purge(store.db(), &t.id).await?;
        tracing::info!(tenant = %t.id, name = %t.name, ?deleted, "purged a tenant uninstalled before the retention period");
        purged.push(t.id);
    }
    Ok(purged)
}
