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
    })
}
