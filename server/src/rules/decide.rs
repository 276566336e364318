//! One way to ask for a decision: the tenant's active rule for the project when there is one,
//! the built-in default policy otherwise — and also when the rule defers or fails, so a bad
//! rule never costs a decision. Every answer says who decided and what went wrong.

use std::sync::Arc;
use std::time::Duration;

use rules_sdk::{DefaultPolicy, RuleInput, RuleOutput};
use serde::Serialize;

use super::engine::{LogLine, Usage};
use super::error::{Coded, RuleError};
use super::registry::{RuleRegistry, RuleVersion, RulesError};
use crate::metrics::Metrics;

/// Who made a decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DecisionSource {
    /// The tenant's rule.
    Rule,
    /// The built-in default policy (no rule, or the rule deferred).
    Default,
    /// The default policy, because the rule failed.
    DefaultAfterError,
}

impl DecisionSource {
    pub fn as_str(self) -> &'static str {
        match self {
            DecisionSource::Rule => "rule",
            DecisionSource::Default => "default",
            DecisionSource::DefaultAfterError => "default_after_error",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Decided {
    pub output: RuleOutput,
    pub source: DecisionSource,
    /// The rule consulted, if any (also when it deferred or failed).
    pub rule: Option<RuleVersion>,
    pub error: Option<RuleError>,
    pub usage: Option<Usage>,
    pub logs: Vec<LogLine>,
}

/// The default policy, natively.
pub fn default_output(input: &RuleInput) -> RuleOutput {
    rules_sdk::evaluate::<DefaultPolicy>(input)
}

impl RuleRegistry {
    /// Decides `input` for `tenant` (see the module docs). Never fails: storage trouble while
    /// looking up the rule also falls back to the default policy, with the error logged.
    pub async fn decide(
        &self,
        metrics: &Arc<Metrics>,
        tenant: &str,
        project: Option<&str>,
        input: RuleInput,
    ) -> Decided {
        let kind = input.kind();
        let found = match self.rule_for(tenant, project, kind).await {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(tenant, error = %e, "cannot look up the tenant's rule; using the default policy");
                None
            }
        };
        let Some(rule) = found else {
            metrics.rule_decision(kind.as_str(), "default", "builtin");
            return Decided {
                output: default_output(&input),
                source: DecisionSource::Default,
                rule: None,
                error: None,
                usage: None,
                logs: Vec::new(),
            };
        };
        let limits = match self.limits(tenant).await {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!(tenant, error = %e, "cannot read rule limits; using the defaults");
                Default::default()
            }
        };
        let engine = self.engine().clone();
        let loaded = rule.loaded.clone();
        let language = rule.loaded.toolchain.language.as_str();
        let (eval, input) = match tokio::task::spawn_blocking(move || {
            let eval = engine.evaluate(&loaded, &input, &limits);
            (eval, input)
        })
        .await
        {
            Ok(done) => done,
            Err(e) => {
                // The evaluation thread itself died (not the guest): treat as a trap.
                tracing::error!(tenant, error = %e, "rule evaluation thread failed");
                metrics.rule_error("trap", language);
                return Decided {
                    output: RuleOutput::Closure(rules_sdk::ClosureDecision::Skip(
                        "the rule could not be run".into(),
                    )),
                    source: DecisionSource::DefaultAfterError,
                    rule: Some(rule.meta),
                    error: Some(RuleError::Trap(format!(
                        "the evaluation thread failed: {e}"
                    ))),
                    usage: None,
                    logs: Vec::new(),
                };
            }
        };
        metrics.rule_evaluated(Duration::from_micros(eval.usage.elapsed_us), language);
        match eval.result {
            Ok(output) if !output.is_defer() => {
                metrics.rule_decision(kind.as_str(), "rule", language);
                Decided {
                    output,
                    source: DecisionSource::Rule,
                    rule: Some(rule.meta),
                    error: None,
                    usage: Some(eval.usage),
                    logs: eval.logs,
                }
            }
            Ok(_) => {
                metrics.rule_decision(kind.as_str(), "default", language);
                Decided {
                    output: default_output(&input),
                    source: DecisionSource::Default,
                    rule: Some(rule.meta),
                    error: None,
                    usage: Some(eval.usage),
                    logs: eval.logs,
                }
            }
            Err(error) => {
                tracing::warn!(
                    tenant,
                    rule = %rule.meta.name,
                    version = rule.meta.version,
                    error = %Coded(&error),
                    "rule failed; the default policy decides"
                );
                metrics.rule_error(error.code(), language);
                metrics.rule_decision(kind.as_str(), "default_after_error", language);
                Decided {
                    output: default_output(&input),
                    source: DecisionSource::DefaultAfterError,
                    rule: Some(rule.meta),
                    error: Some(error),
                    usage: Some(eval.usage),
                    logs: eval.logs,
                }
            }
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
