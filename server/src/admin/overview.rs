//! The admin's first screen: is the connection healthy, is anything stuck (inbox depth,
//! dead-lettered deliveries and outbound jobs, each retryable), where the findings stand and
//! what was decided lately.

use std::collections::BTreeMap;

use serde::Serialize;

use super::AdminError;
use super::decisions::{self, DecisionFilter, DecisionRow};
use crate::state::AppState;
use crate::sync::{self, Job, JobFilter, JobState};
use crate::tenants::health::{self, ConnectionHealth};
use crate::webhooks::worker::{self, FailedDelivery};

/// How many dead-lettered items and decisions the overview lists.
pub const LISTED: u64 = 20;

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Overview {
    pub connection: ConnectionHealth,
    /// Deliveries waiting to be processed.
    pub inbox_depth: u64,
    pub failed_deliveries_total: u64,
    pub failed_deliveries: Vec<FailedDelivery>,
    /// Deliveries waiting for something they need (the tenant's rule, Jira credentials),
    /// with why; each is tried again on its own.
    pub waiting_deliveries_total: u64,
    pub waiting_deliveries: Vec<FailedDelivery>,
    pub failed_jobs_total: u64,
    pub failed_jobs: Vec<Job>,
    /// `open`, `resolved`, `false_positive`, `accepted_risk` → count.
    pub findings_by_status: BTreeMap<String, u64>,
    pub latest_decisions: Vec<DecisionRow>,
    /// Jira Cloud's points this hour: the app's pool, this tenant's part, and what waits for
    /// the next hour. Null for connections outside the quota (API token, Data Center) or when
    /// the tenant cannot be called.
    pub jira_budget: Option<TenantBudget>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TenantBudget {
    pub hour_started_at: chrono::DateTime<chrono::Utc>,
    pub resets_at: chrono::DateTime<chrono::Utc>,
    /// The app's pool, shared by every tenant (unless the site has its own).
    pub app_quota: u32,
    pub app_used: u32,
    /// Points of the pool only closure write-backs may spend.
    pub closure_reserve: u32,
    /// Most this tenant's bulk work (exports, ticket updates, reconciliation) may spend.
    pub tenant_bulk_cap: u32,
    /// Points this tenant's calls spent this hour.
    pub used: u32,
    /// The site's own pool (Atlassian's Tier 2), when Jira stated one.
    pub tenant_quota: Option<u32>,
    pub tenant_remaining: Option<u32>,
    pub near_limit: bool,
    /// Calls held back this hour, by priority.
    pub deferred_closure: u64,
    pub deferred_bulk: u64,
    /// Outbound jobs waiting for the next hour's points.
    pub jobs_waiting_for_budget: u64,
}

async fn tenant_budget(state: &AppState, tenant: &str) -> Option<TenantBudget> {
    let auth = state.jira_auth(tenant).await.ok()?;
    if !auth.in_app_pool() {
        return None;
    }
    let site = format!("{}", auth.base_url());
    let view = state.jira().budget().view(chrono::Utc::now());
    let mine = view.sites.iter().find(|s| s.site == site);
    let jobs_waiting_for_budget = sync::count_waiting_for_budget(state, tenant).await.ok()?;
    Some(TenantBudget {
        hour_started_at: view.hour_started_at,
        resets_at: view.resets_at,
        app_quota: view.app_quota,
        app_used: view.app_used,
        closure_reserve: view.closure_reserve,
        tenant_bulk_cap: view.tenant_bulk_cap,
        used: mine.map_or(0, |s| s.used),
        tenant_quota: mine.and_then(|s| s.tenant_quota),
        tenant_remaining: mine.and_then(|s| s.tenant_remaining),
        near_limit: mine.is_some_and(|s| s.near_limit),
        deferred_closure: mine.map_or(0, |s| s.deferred_closure),
        deferred_bulk: mine.map_or(0, |s| s.deferred_bulk),
        jobs_waiting_for_budget,
    })
}

pub async fn overview(state: &AppState, tenant: &str) -> Result<Overview, AdminError> {
    let db = state.store().db();
    let connection = health::health(db, tenant).await?;
    let (failed_deliveries_total, failed_deliveries) =
        worker::failed(state, tenant, LISTED).await?;
    let (waiting_deliveries_total, waiting_deliveries) =
        worker::waiting(state, tenant, LISTED).await?;
    let failed_filter = JobFilter {
        state: Some(JobState::Failed),
        ..Default::default()
    };
    let failed_jobs = sync::list(state, tenant, &failed_filter, LISTED).await?;
    let failed_jobs_total = sync::count(state, tenant, &failed_filter).await?;
    let counts = state.findings().status_counts(tenant).await?;
    let findings_by_status = rules_sdk::FindingStatus::ALL
        .iter()
        .map(|s| (s.as_str().to_owned(), counts.get(s).copied().unwrap_or(0)))
        .collect();
    let latest_decisions = decisions::list(
        state,
        tenant,
        &DecisionFilter {
            limit: Some(10),
            ..Default::default()
        },
    )
    .await?
    .decisions;
    Ok(Overview {
        inbox_depth: worker::tenant_depth(state, tenant).await?,
        connection,
        failed_deliveries_total,
        failed_deliveries,
        waiting_deliveries_total,
        waiting_deliveries,
        failed_jobs_total,
        failed_jobs,
        findings_by_status,
        latest_decisions,
        jira_budget: tenant_budget(state, tenant).await,
    })
}
