//! Replay: run a rule version over the tenant's last closed tickets (the decision log keeps
//! each one's full rule input) and show where it would have decided differently. A replay runs
//! on one instance of the tenant's share, and stops when its request ends.

use chrono::{DateTime, Utc};
use rules_sdk::{ClosureDecision, RuleInput, RuleOutput};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde::Serialize;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use super::decide::default_output;
use super::registry::{RuleRegistry, RuleVersion, RulesError};
use crate::store::Store;
use crate::store::entities::decisions;

/// Most tickets one replay looks at.
pub const MAX_REPLAY: u64 = 500;

/// A decision in brief: outcome (`apply`/`skip`/…), the status it sets, and why.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Outcome {
    pub outcome: String,
    pub status: Option<String>,
    pub reason: Option<String>,
}

impl Outcome {
    pub fn of(output: &RuleOutput) -> Outcome {
        let (outcome, status, reason) = match output {
            RuleOutput::Closure(ClosureDecision::Apply(v)) => (
                "apply",
                Some(v.status.as_str().to_owned()),
                Some(v.reason.clone()),
            ),
            RuleOutput::Closure(ClosureDecision::Skip(r)) => ("skip", None, Some(r.clone())),
            RuleOutput::Closure(ClosureDecision::Defer) => ("defer", None, None),
            RuleOutput::Transition(rules_sdk::TransitionDecision::Take(c)) => {
                ("take", Some(c.id.clone()), Some(c.reason.clone()))
            }
            RuleOutput::Transition(rules_sdk::TransitionDecision::None(r)) => {
                ("none", None, Some(r.clone()))
            }
            RuleOutput::Transition(rules_sdk::TransitionDecision::Defer) => ("defer", None, None),
            RuleOutput::Ticketing(rules_sdk::TicketDecision::Create(p)) => {
                ("create", Some(p.project.clone()), Some(p.reason.clone()))
            }
            RuleOutput::Ticketing(rules_sdk::TicketDecision::Skip(r)) => {
                ("skip", None, Some(r.clone()))
            }
            RuleOutput::Ticketing(rules_sdk::TicketDecision::Defer) => ("defer", None, None),
        };
        Outcome {
            outcome: outcome.to_owned(),
            status,
            reason,
        }
    }
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ReplayItem {
    pub decision_id: String,
    pub issue_key: Option<String>,
    pub finding_id: Option<String>,
    pub decided_at: DateTime<Utc>,
    /// What was applied, and who decided it then (`rule`, `default`, `default_after_error`).
    pub applied: Outcome,
    pub applied_by: String,
    /// What this rule version decides (the default policy where it defers; `wait` where it
    /// fails: the closure would have waited for the rule).
    pub candidate: Outcome,
    /// Whether the two set a different status (or one applies and the other skips).
    pub differs: bool,
    /// The rule's error on this ticket, if it failed.
    pub error: Option<String>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ReplayReport {
    pub rule: RuleVersion,
    pub total: usize,
    pub same: usize,
    pub different: usize,
    pub errors: usize,
    pub items: Vec<ReplayItem>,
}

struct StopOnDrop(Arc<AtomicBool>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

pub async fn replay(
    registry: &RuleRegistry,
    store: &Store,
    tenant: &str,
    name: &str,
    version: i32,
    limit: u64,
) -> Result<ReplayReport, RulesError> {
    let (meta, loaded) = registry.loaded(tenant, name, version).await?;
    if !meta.decisions.contains(&rules_sdk::DecisionKind::Closure) {
        return Err(RulesError::Invalid(format!(
            "{name} version {version} does not make closure decisions; replay covers closed tickets"
        )));
    }
    let limits = registry.limits(tenant).await?;
    let rows = decisions::Entity::find()
        .filter(decisions::Column::TenantId.eq(tenant))
        .filter(decisions::Column::Kind.eq("closure"))
        .order_by_desc(decisions::Column::CreatedAt)
        .limit(limit.clamp(1, MAX_REPLAY))
        .all(store.db())
        .await?;
    let permit = registry
        .tenant_share(tenant)
        .await
        .map_err(RulesError::Rule)?;
    // Set when this future is dropped (the request ended or timed out): the replay stops
    // before its next ticket instead of holding the instance for nobody.
    let stopped = Arc::new(AtomicBool::new(false));
    let _stop_on_drop = StopOnDrop(stopped.clone());
    let engine = registry.engine().clone();
    let items = tokio::task::spawn_blocking(move || {
        let _permit = permit;
        rows.into_iter()
            .take_while(|_| !stopped.load(Ordering::Relaxed))
            .filter_map(|row| {
                let input = serde_json::from_str::<RuleInput>(&row.input)
                    .ok()?
                    .with_page_references();
                let applied: RuleOutput = serde_json::from_str(&row.output).ok()?;
                let eval = engine.evaluate(&loaded, &input, &limits);
                let (c, error) = match eval.result {
                    Ok(out) if !out.is_defer() => (Outcome::of(&out), None),
                    Ok(_) => (Outcome::of(&default_output(&input)), None),
                    Err(e) => (
                        Outcome {
                            outcome: "wait".into(),
                            status: None,
                            reason: Some(format!(
                                "the rule failed ({}): the closure waits",
                                e.code()
                            )),
                        },
                        Some(format!("{}: {e}", e.code())),
                    ),
                };
                let a = Outcome::of(&applied);
                Some(ReplayItem {
                    decision_id: row.id,
                    issue_key: row.issue_key,
                    finding_id: row.finding_id,
                    decided_at: row.created_at,
                    differs: a.outcome != c.outcome || a.status != c.status,
                    applied: a,
                    applied_by: row.source,
                    candidate: c,
                    error,
                })
            })
            .collect::<Vec<_>>()
    })
    .await
    .map_err(|e| RulesError::Invalid(format!("replay crashed: {e}")))?;
    let different = items.iter().filter(|i| i.differs).count();
    Ok(ReplayReport {
        rule: meta,
        total: items.len(),
        same: items.len() - different,
        different,
        errors: items.iter().filter(|i| i.error.is_some()).count(),
        items,
    })
}
