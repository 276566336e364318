//! One way to ask for a decision: the tenant's active rule for the project when there is one,
//! the built-in default policy when there is none or the rule defers. A rule that cannot
//! decide (it fails, runs out of time, finds no instance) fails closed: the decision waits and
//! is asked again — it is never taken by another policy.

use std::sync::Arc;
use std::time::Duration;

use rules_sdk::{DefaultPolicy, RuleInput, RuleOutput};
use serde::Serialize;

use super::engine::{LogLine, Usage};
use super::error::{Coded, RuleError};
use super::registry::{RuleRegistry, RuleVersion, RulesError};
use crate::metrics::Metrics;

/// Who made a decision. (Decisions stored before rules failed closed may also say
/// `default_after_error`: the default policy decided because the rule failed.)
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DecisionSource {
    /// The tenant's rule.
    Rule,
    /// The built-in default policy (no rule, or the rule deferred).
    Default,
}

impl DecisionSource {
    pub fn as_str(self) -> &'static str {
        match self {
            DecisionSource::Rule => "rule",
            DecisionSource::Default => "default",
        }
    }
}

/// The tenant has a rule for this decision and it could not decide: the decision waits.
#[derive(Debug, thiserror::Error)]
pub enum RuleUnavailable {
    #[error("the tenant's rule could not be looked up: {0}")]
    Lookup(String),
    #[error("rule {name}@{version} could not decide ({code}): {error}", code = .error.code())]
    Failed {
        name: String,
        version: i32,
        error: RuleError,
    },
}

impl RuleUnavailable {
    /// No instance was free (the tenant's share, or the whole pool): it passes in seconds.
    pub fn is_busy(&self) -> bool {
        matches!(
            self,
            RuleUnavailable::Failed {
                error: RuleError::Busy(_),
                ..
            }
        )
    }
}

#[derive(Debug, Clone)]
pub struct Decided {
    pub output: RuleOutput,
    pub source: DecisionSource,
    /// The rule consulted, if any (also when it deferred or failed).
    pub rule: Option<RuleVersion>,
    pub usage: Option<Usage>,
    pub logs: Vec<LogLine>,
}

/// The default policy, natively.
pub fn default_output(input: &RuleInput) -> RuleOutput {
    rules_sdk::evaluate::<DefaultPolicy>(input)
}

impl RuleRegistry {
    /// Decides `input` for `tenant` (see the module docs): the rule's decision, the default
    /// policy's when the tenant has no rule or the rule defers, or [`RuleUnavailable`].
    pub async fn decide(
        &self,
        metrics: &Arc<Metrics>,
        tenant: &str,
        project: Option<&str>,
        input: RuleInput,
    ) -> Result<Decided, RuleUnavailable> {
        let kind = input.kind();
        // Not knowing whether the tenant has a rule is not knowing who decides.
        let found = self
            .rule_for(tenant, project, kind)
            .await
            .map_err(|e| RuleUnavailable::Lookup(e.to_string()))?;
        let Some(rule) = found else {
            metrics.rule_decision(kind.as_str(), "default", "builtin");
            return Ok(Decided {
                output: default_output(&input),
                source: DecisionSource::Default,
                rule: None,
                usage: None,
                logs: Vec::new(),
            });
        };
        let language = rule.loaded.toolchain.language.as_str();
        let failed = |error: RuleError| {
            tracing::warn!(
                tenant,
                rule = %rule.meta.name,
                version = rule.meta.version,
                error = %Coded(&error),
                "the tenant's rule could not decide; the decision waits"
            );
            metrics.rule_error(error.code(), language);
            metrics.rule_decision(kind.as_str(), "waiting", language);
            RuleUnavailable::Failed {
                name: rule.meta.name.clone(),
                version: rule.meta.version,
                error,
            }
        };
        let limits = self
            .limits(tenant)
            .await
            .map_err(|e| RuleUnavailable::Lookup(format!("the tenant's rule limits: {e}")))?;
        // The tenant's share of the instance pool: another tenant's evaluations, replays and
        // closures never take the instances this one needs.
        let permit = self.tenant_share(tenant).await.map_err(&failed)?;
        let engine = self.engine().clone();
        let loaded = rule.loaded.clone();
        let (eval, input) = match tokio::task::spawn_blocking(move || {
            let eval = engine.evaluate(&loaded, &input, &limits);
            drop(permit);
            (eval, input)
        })
        .await
        {
            Ok(done) => done,
            // The evaluation thread itself died (not the guest): a trap.
            Err(e) => {
                return Err(failed(RuleError::Trap(format!(
                    "the evaluation thread failed: {e}"
                ))));
            }
        };
        metrics.rule_evaluated(Duration::from_micros(eval.usage.elapsed_us), language);
        match eval.result {
            Ok(output) if !output.is_defer() => {
                metrics.rule_decision(kind.as_str(), "rule", language);
                Ok(Decided {
                    output,
                    source: DecisionSource::Rule,
                    rule: Some(rule.meta),
                    usage: Some(eval.usage),
                    logs: eval.logs,
                })
            }
            Ok(_) => {
                metrics.rule_decision(kind.as_str(), "default", language);
                Ok(Decided {
                    output: default_output(&input),
                    source: DecisionSource::Default,
                    rule: Some(rule.meta),
                    usage: Some(eval.usage),
                    logs: eval.logs,
                })
            }
            Err(error) => Err(failed(error)),
        }
    }
}

impl From<RulesError> for RuleError {
    fn from(e: RulesError) -> Self {
        match e {
            RulesError::Rule(r) => r,
            other => RuleError::InvalidModule(other.to_string()),
        }
    }
}
