//! Prometheus metrics: HTTP requests by route and status, plus domain counters.
//! One registry per app instance (no globals), so tests can run many apps in one process.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use rules_sdk::FindingStatus;

use crate::findings::{EventSource, ImportOutcome};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: String,
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: String,
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ContradictionLabels {
    /// The rule's name, or `default` for the default policy.
    rule: String,
    /// The ticket's resolution when it was closed, or `none`.
    resolution: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StatusChangeLabels {
    to: String,
    source: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct AuthRefusalLabels {
    /// How the caller tried to prove itself (`connect-jwt`, `api-key`, …).
    scheme: String,
    /// Why it was refused (`bad_signature`, `expired`, `invalid_key`, …).
    reason: String,
    /// The tenant the credential named or belongs to, or `unknown`.
    tenant: String,
}

/// One log line per (scheme, reason, tenant) and window; the next line says how many were
/// left out. A flood of forged tokens costs a counter increment each, not a log line each.
pub const AUTH_LOG_WINDOW: Duration = Duration::from_secs(60);
/// Most (scheme, reason, tenant) windows remembered; past it, windows that ended are dropped.
const AUTH_LOG_KEYS: usize = 4096;

#[derive(Default)]
struct AuthLogWindows {
    /// Window start and refusals not logged since, per (scheme, reason, tenant).
    open: HashMap<(String, &'static str, String), (Instant, u64)>,
}

impl AuthLogWindows {
    /// `Some(left_out)` when this refusal gets a log line, `None` when it is only counted.
    fn admit(&mut self, key: (String, &'static str, String), now: Instant) -> Option<u64> {
        if self.open.len() >= AUTH_LOG_KEYS && !self.open.contains_key(&key) {
            self.open
                .retain(|_, (start, _)| now.duration_since(*start) < AUTH_LOG_WINDOW);
            if self.open.len() >= AUTH_LOG_KEYS {
                return None;
            }
        }
        match self.open.get_mut(&key) {
            Some((start, left_out)) if now.duration_since(*start) < AUTH_LOG_WINDOW => {
                *left_out += 1;
                None
            }
            Some((start, left_out)) => {
                let said = *left_out;
                *start = now;
                *left_out = 0;
                Some(said)
            }
            None => {
                self.open.insert(key, (now, 0));
                Some(0)
            }
        }
    }
}

pub struct Metrics {
    registry: Mutex<Registry>,
    auth_refusals: Family<AuthRefusalLabels, Counter>,
    auth_log: Mutex<AuthLogWindows>,
    http_requests: Family<RequestLabels, Counter>,
    http_duration: Family<RouteLabels, Histogram>,
    findings_imported: Family<OutcomeLabels, Counter>,
    status_changes: Family<StatusChangeLabels, Counter>,
    resolved_contradicted: Family<ContradictionLabels, Counter>,
    webhook_deliveries: Family<OutcomeLabels, Counter>,
    rule_evaluations: Family<RuleLabels, Counter>,
    rule_errors: Family<RuleErrorLabels, Counter>,
    rule_duration: Family<LanguageLabels, Histogram>,
    webhook_processed: Family<OutcomeLabels, Counter>,
    webhook_processing: Histogram,
    inbox_depth: prometheus_client::metrics::gauge::Gauge,
    outbox_jobs: Family<JobLabels, Counter>,
    outbox_duration: Histogram,
    outbox_depth: prometheus_client::metrics::gauge::Gauge,
    rules_loaded: prometheus_client::metrics::gauge::Gauge,
    jira_points: Family<PoolLabels, prometheus_client::metrics::gauge::Gauge>,
    jira_deferred: Family<PriorityLabels, prometheus_client::metrics::gauge::Gauge>,
    queues: crate::queue::QueueMetrics,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PoolLabels {
    /// `quota`, `used`, `closure_reserve`.
    measure: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PriorityLabels {
    priority: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct JobLabels {
    kind: String,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RuleLabels {
    decision: String,
    source: String,
    /// The rule's source language, or `builtin` when no rule was involved.
    language: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RuleErrorLabels {
    code: String,
    language: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LanguageLabels {
    language: String,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("verdict");
        let http_requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests answered, by method, route template and status",
            http_requests.clone(),
        );
        let http_duration = Family::<RouteLabels, Histogram>::new_with_constructor(|| {
            // 0.5 ms … ~16 s
            Histogram::new(exponential_buckets(0.0005, 2.0, 16))
        });
        registry.register(
            "http_request_duration_seconds",
            "HTTP request latency, by method and route template",
            http_duration.clone(),
        );
        let findings_imported = Family::<OutcomeLabels, Counter>::default();
        registry.register(
            "findings_imported",
            "Findings received by import, by outcome (created, updated, unchanged, failed)",
            findings_imported.clone(),
        );
        let status_changes = Family::<StatusChangeLabels, Counter>::default();
        registry.register(
            "finding_status_changes",
            "Finding status changes, by new status and source",
            status_changes.clone(),
        );
        let resolved_contradicted = Family::<ContradictionLabels, Counter>::default();
        registry.register(
            "resolved_contradicted",
            "Resolved verdicts a later scan contradicted (it reported the finding again), by rule and resolution",
            resolved_contradicted.clone(),
        );
        let webhook_deliveries = Family::<OutcomeLabels, Counter>::default();
        registry.register(
            "webhook_deliveries",
            "Webhook deliveries received, by outcome (stored, duplicate, rejected)",
            webhook_deliveries.clone(),
        );
        let rule_evaluations = Family::<RuleLabels, Counter>::default();
        registry.register(
            "rule_decisions",
            "Decisions taken, by decision kind, who decided (rule, default; waiting: the rule could not decide and nothing did) and the rule's language",
            rule_evaluations.clone(),
        );
        let rule_errors = Family::<RuleErrorLabels, Counter>::default();
        registry.register(
            "rule_errors",
            "Rule evaluations that failed, by error code and the rule's language",
            rule_errors.clone(),
        );
        let rule_duration = Family::<LanguageLabels, Histogram>::new_with_constructor(
            (|| Histogram::new(exponential_buckets(0.000_01, 2.5, 12))) as fn() -> Histogram,
        );
        registry.register(
            "rule_evaluation_seconds",
            "Wall time of one wasm rule evaluation (fresh instance), by the rule's language",
            rule_duration.clone(),
        );
        let webhook_processed = Family::<OutcomeLabels, Counter>::default();
        registry.register(
            "webhook_processed",
            "Webhook deliveries processed by the closure pipeline, by outcome",
            webhook_processed.clone(),
        );
        let webhook_processing = Histogram::new(exponential_buckets(0.000_5, 2.0, 14));
        registry.register(
            "webhook_processing_seconds",
            "Time to process one webhook delivery (Jira re-read, rule, apply)",
            webhook_processing.clone(),
        );
        let inbox_depth = prometheus_client::metrics::gauge::Gauge::default();
        registry.register(
            "webhook_inbox_depth",
            "Webhook deliveries stored and not yet processed (pending or leased)",
            inbox_depth.clone(),
        );
        let outbox_jobs = Family::<JobLabels, Counter>::default();
        registry.register(
            "outbox_jobs",
            "Outbound Jira job runs, by kind and outcome (done, skipped, error, failed = dead-lettered)",
            outbox_jobs.clone(),
        );
        let outbox_duration = Histogram::new(exponential_buckets(0.001, 2.0, 16));
        registry.register(
            "outbox_job_seconds",
            "Time to run one outbound Jira job (including rate-limit waits)",
            outbox_duration.clone(),
        );
        let outbox_depth = prometheus_client::metrics::gauge::Gauge::default();
        registry.register(
            "outbox_depth",
            "Outbound Jira jobs waiting (pending or leased)",
            outbox_depth.clone(),
        );
        let jira_points = Family::<PoolLabels, prometheus_client::metrics::gauge::Gauge>::default();
        registry.register(
            "jira_app_points",
            "Jira Cloud's points this hour for the app pool shared by every tenant: quota, used, closure_reserve",
            jira_points.clone(),
        );
        let jira_deferred =
            Family::<PriorityLabels, prometheus_client::metrics::gauge::Gauge>::default();
        registry.register(
            "jira_calls_held_back",
            "Jira calls held back this hour by the points budget (they wait for the next hour), by priority",
            jira_deferred.clone(),
        );
        let rules_loaded = prometheus_client::metrics::gauge::Gauge::default();
        registry.register(
            "rules_loaded_versions",
            "Rule versions held in memory on this replica (active ones, and others used within rules_loaded_idle_secs)",
            rules_loaded.clone(),
        );
        let auth_refusals = Family::<AuthRefusalLabels, Counter>::default();
        registry.register(
            "auth_refused",
            "Credentials refused (Atlassian tokens, signatures, API keys, admin sessions), by scheme, reason and tenant",
            auth_refusals.clone(),
        );
        let queues = crate::queue::QueueMetrics::register(&mut registry);
        Self {
            auth_refusals,
            auth_log: Mutex::default(),
            queues,
            outbox_jobs,
            outbox_duration,
            outbox_depth,
            rules_loaded,
            jira_points,
            jira_deferred,
            inbox_depth,
            webhook_processed,
            webhook_processing,
            rule_evaluations,
            rule_errors,
            rule_duration,
            webhook_deliveries,
            registry: Mutex::new(registry),
            http_requests,
            http_duration,
            findings_imported,
            status_changes,
            resolved_contradicted,
        }
    }

    /// The queue gauges and timings, shared with the inbox and outbox queues.
    pub fn queues(&self) -> crate::queue::QueueMetrics {
        self.queues.clone()
    }

    /// Counts a refused credential. Returns `Some(left_out)` when the refusal should be logged
    /// (the first of its scheme, reason and tenant in [`AUTH_LOG_WINDOW`], with how many were
    /// not logged before it), `None` when it is only counted.
    pub fn auth_refused(
        &self,
        scheme: &str,
        reason: &'static str,
        tenant: Option<&str>,
    ) -> Option<u64> {
        self.auth_refused_at(scheme, reason, tenant, Instant::now())
    }

    fn auth_refused_at(
        &self,
        scheme: &str,
        reason: &'static str,
        tenant: Option<&str>,
        now: Instant,
    ) -> Option<u64> {
        let tenant = tenant.unwrap_or("unknown");
        self.auth_refusals
            .get_or_create(&AuthRefusalLabels {
                scheme: scheme.to_owned(),
                reason: reason.to_owned(),
                tenant: tenant.to_owned(),
            })
            .inc();
        self.auth_log
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .admit((scheme.to_owned(), reason, tenant.to_owned()), now)
    }

    pub fn http_request(&self, method: &str, route: &str, status: u16, elapsed: Duration) {
        self.http_requests
            .get_or_create(&RequestLabels {
                method: method.to_owned(),
                route: route.to_owned(),
                status,
            })
            .inc();
        self.http_duration
            .get_or_create(&RouteLabels {
                method: method.to_owned(),
                route: route.to_owned(),
            })
            .observe(elapsed.as_secs_f64());
    }

    pub fn finding_imported(&self, outcome: ImportOutcome) {
        self.count_import(outcome.as_str(), 1);
    }

    pub fn findings_failed(&self, count: u64) {
        if count > 0 {
            self.count_import("failed", count);
        }
    }

    fn count_import(&self, outcome: &str, n: u64) {
        self.findings_imported
            .get_or_create(&OutcomeLabels {
                outcome: outcome.to_owned(),
            })
            .inc_by(n);
    }

    pub fn status_changed(&self, to: FindingStatus, source: EventSource) {
        self.status_changes
            .get_or_create(&StatusChangeLabels {
                to: to.as_str().to_owned(),
                source: source.as_str().to_owned(),
            })
            .inc();
    }

    pub fn resolved_contradicted(&self, rule: Option<&str>, resolution: Option<&str>) {
        self.resolved_contradicted
            .get_or_create(&ContradictionLabels {
                rule: rule.unwrap_or("default").to_owned(),
                resolution: resolution.unwrap_or("none").to_owned(),
            })
            .inc();
    }

    pub fn webhook_delivery(&self, outcome: &str) {
        self.webhook_deliveries
            .get_or_create(&OutcomeLabels {
                outcome: outcome.to_owned(),
            })
            .inc();
    }

    pub fn rule_decision(&self, decision: &str, source: &str, language: &str) {
        self.rule_evaluations
            .get_or_create(&RuleLabels {
                decision: decision.to_owned(),
                source: source.to_owned(),
                language: language.to_owned(),
            })
            .inc();
    }

    pub fn webhook_processed(&self, outcome: &str, elapsed: Duration) {
        self.webhook_processed
            .get_or_create(&OutcomeLabels {
                outcome: outcome.to_owned(),
            })
            .inc();
        self.webhook_processing.observe(elapsed.as_secs_f64());
    }

    pub fn outbox_job(&self, kind: &str, outcome: &str, elapsed: Duration) {
        self.outbox_jobs
            .get_or_create(&JobLabels {
                kind: kind.to_owned(),
                outcome: outcome.to_owned(),
            })
            .inc();
        if outcome != "failed" {
            self.outbox_duration.observe(elapsed.as_secs_f64());
        }
    }

    pub fn set_outbox_depth(&self, depth: u64) {
        self.outbox_depth.set(depth as i64);
    }

    pub fn set_jira_budget(&self, view: &crate::jira::budget::BudgetView) {
        for (measure, v) in [
            ("quota", view.app_quota),
            ("used", view.app_used),
            ("closure_reserve", view.closure_reserve),
        ] {
            self.jira_points
                .get_or_create(&PoolLabels {
                    measure: measure.to_owned(),
                })
                .set(i64::from(v));
        }
        for (priority, n) in [
            (
                "closure",
                view.sites.iter().map(|s| s.deferred_closure).sum::<u64>(),
            ),
            (
                "bulk",
                view.sites.iter().map(|s| s.deferred_bulk).sum::<u64>(),
            ),
        ] {
            self.jira_deferred
                .get_or_create(&PriorityLabels {
                    priority: priority.to_owned(),
                })
                .set(n as i64);
        }
    }

    pub fn set_rules_loaded(&self, n: usize) {
        self.rules_loaded.set(n as i64);
    }

    pub fn set_inbox_depth(&self, depth: u64) {
        self.inbox_depth.set(depth as i64);
    }

    pub fn rule_error(&self, code: &str, language: &str) {
        self.rule_errors
            .get_or_create(&RuleErrorLabels {
                code: code.to_owned(),
                language: language.to_owned(),
            })
            .inc();
    }

    pub fn rule_evaluated(&self, elapsed: Duration, language: &str) {
        self.rule_duration
            .get_or_create(&LanguageLabels {
                language: language.to_owned(),
            })
            .observe(elapsed.as_secs_f64());
    }

    /// The OpenMetrics text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let registry = self.registry.lock().unwrap_or_else(|e| e.into_inner());
        prometheus_client::encoding::text::encode(&mut out, &registry)
            .expect("writing to a String cannot fail");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_are_all_counted_and_logged_once_per_window() {
        let m = Metrics::new();
        let t0 = Instant::now();
        assert_eq!(
            m.auth_refused_at("api-key", "invalid_key", None, t0),
            Some(0)
        );
        for i in 1..=9 {
            let at = t0 + Duration::from_secs(i);
            assert_eq!(m.auth_refused_at("api-key", "invalid_key", None, at), None);
        }
        // Another tenant or reason has its own window.
        assert_eq!(
            m.auth_refused_at("api-key", "revoked_key", Some("t1"), t0),
            Some(0)
        );
        let later = t0 + AUTH_LOG_WINDOW + Duration::from_secs(1);
        assert_eq!(
            m.auth_refused_at("api-key", "invalid_key", None, later),
            Some(9),
            "the next line says how many were left out"
        );
        let text = m.render();
        assert!(
            text.contains(
                r#"verdict_auth_refused_total{scheme="api-key",reason="invalid_key",tenant="unknown"} 11"#
            ),
            "{text}"
        );
        assert!(
            text.contains(
                r#"verdict_auth_refused_total{scheme="api-key",reason="revoked_key",tenant="t1"} 1"#
            ),
            "{text}"
        );
    }
}
