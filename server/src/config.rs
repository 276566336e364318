//! Verdict's one typed configuration: defaults < `verdict.toml` < `VERDICT_*` environment.
//! Loaded and validated once at start-up; errors name the offending key and where it came from.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use figment::Figment;
use figment::providers::{Format, Serialized, Toml};
use serde::{Deserialize, Serialize};
use url::Url;

/// The file read when `--config` is not given and it exists in the working directory.
pub const DEFAULT_CONFIG_FILE: &str = "verdict.toml";
const ENV_PREFIX: &str = "VERDICT_";

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration file {path} does not exist")]
    MissingFile { path: PathBuf },
    #[error("invalid configuration: {0}")]
    Invalid(String),
    #[error("invalid configuration: `{key}` ({env_var}): {message}")]
    InvalidValue {
        key: &'static str,
        env_var: String,
        message: String,
    },
    #[error("unknown configuration key `{key}` in {path} (known keys: {known})")]
    UnknownKey {
        key: String,
        path: PathBuf,
        known: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

/// A database URL whose password never reaches logs or `Debug` output.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct DatabaseUrl(String);

impl DatabaseUrl {
    pub fn new(url: impl Into<String>) -> Self {
        Self(url.into())
    }

    /// The full URL, password included: only for handing to the driver.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn backend(&self) -> Option<Backend> {
        if self.0.starts_with("sqlite:") {
            Some(Backend::Sqlite)
        } else if self.0.starts_with("postgres://") || self.0.starts_with("postgresql://") {
            Some(Backend::Postgres)
        } else {
            None
        }
    }

    /// The URL with any password replaced, safe to print.
    pub fn redacted(&self) -> String {
        match Url::parse(&self.0) {
            Ok(mut url) if url.password().is_some() => {
                let _ = url.set_password(Some("REDACTED"));
                url.to_string()
            }
            Ok(_) => self.0.clone(),
            // Unparseable URLs may still hold credentials in odd places; show only the scheme.
            Err(_) => format!("{}:…", self.0.split(':').next().unwrap_or("?")),
        }
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

/// A configured secret (API credentials, keys): usable, never printed.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("REDACTED")
    }
}

/// `development` is forgiving (generates a local secret key); `production` insists on an
/// https base URL and an explicit at-rest key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    Development,
    Production,
}

/// A list of URLs given as a TOML array or a comma-separated string (environment).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct UrlList(pub Vec<Url>);

/// A list given as a TOML array or as one comma-separated string (the environment's form).
fn list_items<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        One(String),
        Many(Vec<String>),
    }
    Ok(match Raw::deserialize(d)? {
        Raw::One(s) => s
            .split(',')
            .map(|x| x.trim().to_owned())
            .filter(|x| !x.is_empty())
            .collect(),
        Raw::Many(v) => v,
    })
}

impl<'de> Deserialize<'de> for UrlList {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        list_items(d)?
            .iter()
            .map(|u| {
                Url::parse(u)
                    .map_err(|e| serde::de::Error::custom(format!("`{u}` is not a URL: {e}")))
            })
            .collect::<Result<_, _>>()
            .map(UrlList)
    }
}

/// CIDR ranges given as a TOML array or a comma-separated string (environment).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct CidrList(pub Vec<ipnet::IpNet>);

impl<'de> Deserialize<'de> for CidrList {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        list_items(d)?
            .iter()
            .map(|c| {
                c.parse::<ipnet::IpNet>()
                    .or_else(|_| c.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                    .map_err(|_| {
                        serde::de::Error::custom(format!(
                            "`{c}` is not a CIDR range (e.g. 127.0.0.1/32 or 10.0.0.0/8)"
                        ))
                    })
            })
            .collect::<Result<_, _>>()
            .map(CidrList)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Every setting Verdict reads. Field names are the `verdict.toml` keys; the environment
/// variable is the upper-cased name with a `VERDICT_` prefix (`listen` → `VERDICT_LISTEN`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Config {
    /// Address the HTTP server binds.
    pub listen: SocketAddr,
    /// `sqlite://path` (default, embedded) or `postgres://…` (several replicas).
    pub database_url: DatabaseUrl,
    /// Public URL Jira reaches Verdict on; used in links and, later, the Connect descriptor.
    pub base_url: Url,
    pub log_format: LogFormat,
    /// A tracing filter directive such as `info` or `verdict_server=debug,info`.
    pub log_level: String,
    pub database_max_connections: u32,
    /// How long a SQLite writer waits for the lock before failing.
    pub sqlite_busy_timeout_ms: u64,
    /// Largest accepted API request body.
    pub api_body_limit_bytes: usize,
    /// Requests running longer than this are answered 408.
    pub request_timeout_secs: u64,
    /// On SIGTERM/SIGINT, how long in-flight requests get to finish.
    pub shutdown_grace_secs: u64,
    pub mode: Mode,
    /// The Connect app key (descriptor `key`): letters, digits, `-`, `.`, `_`; at most 80.
    pub app_key: String,
    /// Other base URLs Atlassian may have installed Verdict under (accepted as `aud`).
    pub extra_base_urls: UrlList,
    /// Where signed-install public keys are fetched from, by `kid`.
    pub install_keys_url: Url,
    /// How long fetching an install key may take.
    pub install_keys_timeout_ms: u64,
    pub forge_jwks_url: Url,
    /// The Forge app id (`ari:cloud:ecosystem::app/…`), the `aud` of Forge invocation tokens.
    pub forge_app_id: Option<String>,
    /// At-rest encryption key for shared secrets and tokens: base64 of 32 bytes.
    pub secret_key: Option<Secret>,
    /// Development mode only: where a generated at-rest key is kept when `secret_key` is unset.
    pub secret_key_file: PathBuf,
    pub oauth_client_id: Option<String>,
    pub oauth_client_secret: Option<Secret>,
    pub atlassian_auth_url: Url,
    pub atlassian_api_url: Url,
    /// How often OAuth connections' dynamic webhooks are checked for refresh.
    pub webhook_refresh_interval_secs: u64,
    /// Largest webhook body accepted (Jira's own cap is far larger; real events are KBs).
    pub webhook_body_limit_bytes: usize,
    /// The operator's secret: the bearer token of `/api/v1/connections` and the sign-in of
    /// the standalone admin app (`/admin`); unset disables both.
    pub admin_token: Option<Secret>,
    /// Connect's JavaScript client (`all.js`) the admin page loads inside Jira.
    pub connect_all_js_url: Url,
    /// How long the answer to "is this account a Jira administrator?" is reused.
    pub admin_permission_cache_secs: u64,
    /// How long an operator's sign-in on the standalone admin app lasts.
    pub admin_session_hours: u64,
    /// Most rule evaluations running at once (the wasm instance pool's size).
    pub rules_max_concurrent: u32,
    /// The share of those one tenant's evaluations may hold at once (percent, at least one
    /// instance): a busy tenant never takes the instances another tenant's closures need.
    pub rules_tenant_share_percent: u32,
    /// Most core wasm instances one rule may link (QuickJS and CPython components link many).
    pub rules_max_core_instances: u32,
    /// Most linear memories one rule may define.
    pub rules_max_memories: u32,
    /// Most tables one rule may define.
    pub rules_max_tables: u32,
    /// Where compiled functions shared between rules are kept across restarts (and between
    /// replicas sharing the directory); unset: in memory only.
    pub rules_compile_cache_dir: Option<PathBuf>,
    /// Most bytes of compiled functions kept; 0 turns the cache off.
    pub rules_compile_cache_bytes: u64,
    /// Uploads at least this large are compiled first by the baseline compiler (Winch) and
    /// optimized by Cranelift in the background; 0: always Cranelift at upload.
    pub rules_baseline_compile_bytes: u64,
    /// Tasks processing the webhook inbox (each handles one delivery at a time).
    pub inbox_workers: usize,
    /// Tasks running outbound Jira jobs (ticket creation, transitions, comments).
    pub outbox_workers: usize,
    /// Attempts before an outbound job is dead-lettered (`failed`).
    pub outbox_max_attempts: u32,
    /// Most Jira calls in flight per tenant at once.
    pub jira_max_concurrent: u32,
    /// Requests per second Verdict allows itself per tenant until Jira's `X-RateLimit-*`
    /// headers teach it the real limit.
    pub jira_rate_per_second: u32,
    /// Most rows one queue claim takes (one database round-trip), for inbox and outbox.
    pub queue_claim_batch: usize,
    /// How long a claimed webhook delivery stays a worker's before another may take it.
    pub inbox_lease_secs: u64,
    /// How long a claimed outbound job stays a worker's before another may take it.
    pub outbox_lease_secs: u64,
    /// Processed, ignored and refused webhook deliveries are deleted this long after.
    pub retention_deliveries_days: u32,
    /// Done and skipped outbound jobs are deleted this long after they finished.
    pub retention_outbox_days: u32,
    /// Decisions (with the rule inputs replay runs on) are deleted this long after.
    pub retention_decisions_days: u32,
    /// An uninstalled tenant (not installed again) is purged, with all its data, this long
    /// after its uninstall.
    pub retention_uninstalled_days: u32,
    /// How often the retention sweep runs (it also reports due tenants' account ids).
    pub retention_interval_secs: u64,
    /// Each Connect site's stored Atlassian account ids are reported to Atlassian's personal
    /// data reporting API this often (Atlassian's cycle is 7 days).
    pub personal_data_report_days: u32,
    /// Rows one retention delete takes (small, so intake never waits long).
    pub retention_batch: usize,
    /// When set, `/metrics` answers only `Authorization: Bearer <metrics_token>`.
    pub metrics_token: Option<Secret>,
    /// When set, `/metrics` is served on this address only (not on `listen`).
    pub metrics_listen: Option<SocketAddr>,
    /// `/metrics` on `listen` without a token; off by default (403 `metrics_not_public`).
    pub metrics_public: bool,
    /// Refuse outbound calls to loopback, link-local (cloud metadata), unspecified and
    /// multicast addresses. Always on in production mode.
    pub outbound_refuse_local: bool,
    /// CIDR ranges exempt from `outbound_refuse_local` (a Data Center site on this host, say).
    pub outbound_allowed_ranges: CidrList,
    /// Most bytes read from one Jira/Confluence answer.
    pub jira_max_response_bytes: usize,
    /// Jira Cloud points per hour the app may spend across all tenants (Atlassian's Tier 1
    /// pool); Jira's own `RateLimit-Policy` header overrides it once seen.
    pub jira_app_hourly_points: u32,
    /// Percent of every hour's points only closure write-backs may spend.
    pub jira_closure_reserve_percent: u32,
    /// Most of the app's bulk points (percent) one tenant's exports and updates may spend in an hour.
    pub jira_tenant_share_percent: u32,
    /// Most webhook deliveries one tenant may have waiting in the inbox; past it, 429.
    pub inbox_max_pending_per_tenant: u64,
    /// Most seconds a rule upload may spend validating, compiling and smoke-running.
    pub rules_compile_timeout_secs: u64,
    /// Rule compilations (uploads and background tier-ups) running at once, on this replica.
    pub rules_compile_concurrency: usize,
    /// Most rule versions one tenant may keep stored (delete old ones to upload more).
    pub rules_max_versions_per_tenant: u64,
    /// Most bytes of modules and compiled artifacts one tenant may keep stored.
    pub rules_max_stored_bytes_per_tenant: u64,
    /// A loaded rule version that is not active is dropped from memory after this long unused.
    pub rules_loaded_idle_secs: u64,
    /// How often a replica records that it is alive (shared Jira pacing counts live ones).
    pub replica_heartbeat_secs: u64,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            database_url: DatabaseUrl::new("sqlite://verdict.db"),
            base_url: Url::parse("http://localhost:8080").expect("static URL"),
            log_format: LogFormat::Text,
            log_level: "info".to_owned(),
            database_max_connections: 10,
            sqlite_busy_timeout_ms: 5_000,
            api_body_limit_bytes: 16 * 1024 * 1024,
            request_timeout_secs: 30,
            shutdown_grace_secs: 30,
            mode: Mode::Development,
            app_key: "io.verdict.jira".to_owned(),
            extra_base_urls: UrlList::default(),
            install_keys_url: Url::parse("https://connect-install-keys.atlassian.com")
                .expect("static URL"),
            install_keys_timeout_ms: 5_000,
            forge_jwks_url: Url::parse(
                "https://forge.cdn.prod.atlassian-dev.net/.well-known/jwks.json",
            )
            .expect("static URL"),
            forge_app_id: None,
            secret_key: None,
            secret_key_file: PathBuf::from("verdict-secret.key"),
            oauth_client_id: None,
            oauth_client_secret: None,
            atlassian_auth_url: Url::parse("https://auth.atlassian.com").expect("static URL"),
            atlassian_api_url: Url::parse("https://api.atlassian.com").expect("static URL"),
            webhook_refresh_interval_secs: 3600,
            webhook_body_limit_bytes: 5 * 1024 * 1024,
            admin_token: None,
            connect_all_js_url: Url::parse("https://connect-cdn.atl-paas.net/all.js")
                .expect("static URL"),
            admin_permission_cache_secs: 300,
            admin_session_hours: 12,
            rules_max_concurrent: 32,
            rules_tenant_share_percent: 50,
            rules_max_core_instances: crate::rules::PoolCeilings::default().core_instances,
            rules_max_memories: crate::rules::PoolCeilings::default().memories,
            rules_max_tables: crate::rules::PoolCeilings::default().tables,
            rules_compile_cache_dir: None,
            rules_compile_cache_bytes: crate::rules::compile_cache::DEFAULT_MAX_BYTES,
            rules_baseline_compile_bytes: crate::rules::DEFAULT_BASELINE_ABOVE as u64,
            inbox_workers: 4,
            outbox_workers: 8,
            outbox_max_attempts: 8,
            jira_max_concurrent: 8,
            jira_rate_per_second: 200,
            queue_claim_batch: 32,
            inbox_lease_secs: 60,
            outbox_lease_secs: 120,
            retention_deliveries_days: 14,
            retention_outbox_days: 30,
            retention_decisions_days: 90,
            retention_uninstalled_days: 30,
            retention_interval_secs: 300,
            personal_data_report_days: 7,
            retention_batch: 500,
            metrics_token: None,
            metrics_listen: None,
            metrics_public: false,
            outbound_refuse_local: false,
            outbound_allowed_ranges: CidrList::default(),
            jira_max_response_bytes: 32 * 1024 * 1024,
            inbox_max_pending_per_tenant: 50_000,
            jira_app_hourly_points: 65_000,
            jira_closure_reserve_percent: 20,
            jira_tenant_share_percent: 50,
            rules_compile_timeout_secs: 60,
            rules_compile_concurrency: 1,
            rules_max_versions_per_tenant: 200,
            rules_max_stored_bytes_per_tenant: 2 * 1024 * 1024 * 1024,
            rules_loaded_idle_secs: 900,
            replica_heartbeat_secs: 2,
        }
    }
}

/// Hard bounds on the numeric settings; outside them Verdict refuses to start.
const MAX_BODY_LIMIT: usize = 256 * 1024 * 1024;
const MIN_BODY_LIMIT: usize = 1024;

impl Config {
    /// Loads defaults, then the config file (the explicit one, or `./verdict.toml` if present),
    /// then `VERDICT_*` variables from `env` — passed in so tests need not touch the process env.
    pub fn load(
        explicit_file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        let file = match explicit_file {
            Some(path) if !path.exists() => {
                return Err(ConfigError::MissingFile {
                    path: path.to_owned(),
                });
            }
            Some(path) => Some(path.to_owned()),
            None => Some(PathBuf::from(DEFAULT_CONFIG_FILE)).filter(|p| p.exists()),
        };
        if let Some(path) = &file {
            check_file_keys(path)?;
            figment = figment.merge(Toml::file_exact(path));
        }
        let env: Vec<(String, String)> = env
            .into_iter()
            .filter(|(k, _)| k.starts_with(ENV_PREFIX) && known_key(&k[ENV_PREFIX.len()..]))
            .collect();
        figment = figment.merge(EnvVars(env));
        let config: Config = figment
            .extract()
            .map_err(|e| ConfigError::Invalid(describe_figment_error(e)))?;
        config.validate()?;
        Ok(config)
    }

    /// Loads from the real process environment.
    pub fn from_process_env(explicit_file: Option<&Path>) -> Result<Self, ConfigError> {
        Self::load(explicit_file, std::env::vars())
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let bad = |key: &'static str, message: String| ConfigError::InvalidValue {
            key,
            env_var: format!("{ENV_PREFIX}{}", key.to_uppercase()),
            message,
        };
        if self.database_url.backend().is_none() {
            return Err(bad(
                "database_url",
                format!(
                    "`{}` is neither a sqlite: nor a postgres:// URL",
                    self.database_url.redacted()
                ),
            ));
        }
        if !matches!(self.base_url.scheme(), "http" | "https") || self.base_url.host().is_none() {
            return Err(bad(
                "base_url",
                format!("`{}` must be an absolute http(s) URL", self.base_url),
            ));
        }
        if self.base_url.query().is_some() || self.base_url.fragment().is_some() {
            return Err(bad(
                "base_url",
                format!("`{}` must not have a query or fragment", self.base_url),
            ));
        }
        if !(1..=1000).contains(&self.database_max_connections) {
            return Err(bad(
                "database_max_connections",
                format!("{} is outside 1..=1000", self.database_max_connections),
            ));
        }
        if !(MIN_BODY_LIMIT..=MAX_BODY_LIMIT).contains(&self.api_body_limit_bytes) {
            return Err(bad(
                "api_body_limit_bytes",
                format!(
                    "{} is outside {MIN_BODY_LIMIT}..={MAX_BODY_LIMIT}",
                    self.api_body_limit_bytes
                ),
            ));
        }
        if !(MIN_BODY_LIMIT..=MAX_BODY_LIMIT).contains(&self.webhook_body_limit_bytes) {
            return Err(bad(
                "webhook_body_limit_bytes",
                format!(
                    "{} is outside {MIN_BODY_LIMIT}..={MAX_BODY_LIMIT}",
                    self.webhook_body_limit_bytes
                ),
            ));
        }
        if !(1..=64).contains(&self.inbox_workers) {
            return Err(bad(
                "inbox_workers",
                format!("{} is outside 1..=64", self.inbox_workers),
            ));
        }
        if !(1..=64).contains(&self.outbox_workers) {
            return Err(bad(
                "outbox_workers",
                format!("{} is outside 1..=64", self.outbox_workers),
            ));
        }
        if !(1..=100).contains(&self.outbox_max_attempts) {
            return Err(bad(
                "outbox_max_attempts",
                format!("{} is outside 1..=100", self.outbox_max_attempts),
            ));
        }
        if !(1..=64).contains(&self.jira_max_concurrent) {
            return Err(bad(
                "jira_max_concurrent",
                format!("{} is outside 1..=64", self.jira_max_concurrent),
            ));
        }
        if !(1..=10_000).contains(&self.jira_rate_per_second) {
            return Err(bad(
                "jira_rate_per_second",
                format!("{} is outside 1..=10000", self.jira_rate_per_second),
            ));
        }
        if !(1..=1024).contains(&self.rules_max_concurrent) {
            return Err(bad(
                "rules_max_concurrent",
                format!("{} is outside 1..=1024", self.rules_max_concurrent),
            ));
        }
        if !(1..=100).contains(&self.rules_tenant_share_percent) {
            return Err(bad(
                "rules_tenant_share_percent",
                format!("{} is outside 1..=100", self.rules_tenant_share_percent),
            ));
        }
        for (key, value, max) in [
            (
                "rules_max_core_instances",
                self.rules_max_core_instances,
                512,
            ),
            ("rules_max_memories", self.rules_max_memories, 64),
            ("rules_max_tables", self.rules_max_tables, 64),
        ] {
            if !(1..=max).contains(&value) {
                return Err(bad(key, format!("{value} is outside 1..={max}")));
            }
        }
        if self.rules_max_concurrent as u64 * self.rules_max_core_instances as u64 > 65_536 {
            return Err(bad(
                "rules_max_core_instances",
                format!(
                    "{} per rule × {} rules at once (rules_max_concurrent) is over 65536 pooled instances",
                    self.rules_max_core_instances, self.rules_max_concurrent
                ),
            ));
        }
        if self.rules_compile_cache_bytes > 64 << 30 {
            return Err(bad(
                "rules_compile_cache_bytes",
                format!(
                    "{} is over 64 GiB (0 turns the cache off)",
                    self.rules_compile_cache_bytes
                ),
            ));
        }
        if self.webhook_refresh_interval_secs < 60 {
            return Err(bad(
                "webhook_refresh_interval_secs",
                "must be at least 60".into(),
            ));
        }
        if !(1..=1000).contains(&self.queue_claim_batch) {
            return Err(bad(
                "queue_claim_batch",
                format!("{} is outside 1..=1000", self.queue_claim_batch),
            ));
        }
        for (key, secs) in [
            ("inbox_lease_secs", self.inbox_lease_secs),
            ("outbox_lease_secs", self.outbox_lease_secs),
        ] {
            if !(5..=3600).contains(&secs) {
                return Err(bad(key, format!("{secs} is outside 5..=3600")));
            }
        }
        for (key, days) in [
            ("retention_deliveries_days", self.retention_deliveries_days),
            ("retention_outbox_days", self.retention_outbox_days),
            ("retention_decisions_days", self.retention_decisions_days),
            (
                "retention_uninstalled_days",
                self.retention_uninstalled_days,
            ),
        ] {
            if !(1..=3650).contains(&days) {
                return Err(bad(key, format!("{days} is outside 1..=3650")));
            }
        }
        if !(1..=7).contains(&self.personal_data_report_days) {
            return Err(bad(
                "personal_data_report_days",
                format!(
                    "{} is outside 1..=7 (Atlassian's reporting cycle is at most 7 days)",
                    self.personal_data_report_days
                ),
            ));
        }
        if !(10..=86_400).contains(&self.retention_interval_secs) {
            return Err(bad(
                "retention_interval_secs",
                format!("{} is outside 10..=86400", self.retention_interval_secs),
            ));
        }
        if !(1..=10_000).contains(&self.retention_batch) {
            return Err(bad(
                "retention_batch",
                format!("{} is outside 1..=10000", self.retention_batch),
            ));
        }
        if self
            .metrics_token
            .as_ref()
            .is_some_and(|t| t.expose().len() < 16)
        {
            return Err(bad(
                "metrics_token",
                "must be at least 16 characters".into(),
            ));
        }
        if self.metrics_listen.is_some_and(|a| a == self.listen) {
            return Err(bad(
                "metrics_listen",
                "must differ from `listen` (leave it unset to serve /metrics there)".into(),
            ));
        }
        if !(1..=60).contains(&self.replica_heartbeat_secs) {
            return Err(bad(
                "replica_heartbeat_secs",
                format!("{} is outside 1..=60", self.replica_heartbeat_secs),
            ));
        }
        if self.request_timeout_secs == 0 {
            return Err(bad("request_timeout_secs", "must be at least 1".into()));
        }
        tracing_subscriber::EnvFilter::try_new(&self.log_level)
            .map_err(|e| bad("log_level", format!("`{}`: {e}", self.log_level)))?;
        let key_ok = !self.app_key.is_empty()
            && self.app_key.len() <= 80
            && self
                .app_key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'));
        if !key_ok {
            return Err(bad(
                "app_key",
                format!(
                    "`{}` must be 1–80 letters, digits, `-`, `.` or `_`",
                    self.app_key
                ),
            ));
        }
        if self.base_url.as_str().len() > 200 {
            return Err(bad(
                "base_url",
                "Atlassian allows at most 200 characters".into(),
            ));
        }
        if let Some(key) = &self.secret_key {
            crate::tenants::secrets::SecretBox::from_base64(key.expose())
                .map_err(|e| bad("secret_key", e.to_string()))?;
        }
        if self.mode == Mode::Production {
            if self.base_url.scheme() != "https" {
                return Err(bad(
                    "base_url",
                    format!("`{}` must be https in production mode", self.base_url),
                ));
            }
            if let Some(u) = self
                .extra_base_urls
                .0
                .iter()
                .find(|u| u.scheme() != "https")
            {
                return Err(bad(
                    "extra_base_urls",
                    format!("`{u}` must be https in production mode"),
                ));
            }
            for (key, url) in [
                ("install_keys_url", &self.install_keys_url),
                ("forge_jwks_url", &self.forge_jwks_url),
                ("atlassian_auth_url", &self.atlassian_auth_url),
                ("atlassian_api_url", &self.atlassian_api_url),
            ] {
                if url.scheme() != "https" {
                    return Err(bad(
                        key,
                        format!("`{url}` must be https in production mode"),
                    ));
                }
            }
            if self.secret_key.is_none() {
                return Err(bad(
                    "secret_key",
                    "is required in production mode (base64 of 32 random bytes, e.g. `openssl rand -base64 32`)".into(),
                ));
            }
        }
        if self
            .admin_token
            .as_ref()
            .is_some_and(|t| t.expose().len() < 32)
        {
            return Err(bad("admin_token", "must be at least 32 characters".into()));
        }
        if !matches!(self.connect_all_js_url.scheme(), "http" | "https") {
            return Err(bad(
                "connect_all_js_url",
                format!("`{}` must be an http(s) URL", self.connect_all_js_url),
            ));
        }
        if self.mode == Mode::Production && self.connect_all_js_url.scheme() != "https" {
            return Err(bad(
                "connect_all_js_url",
                format!(
                    "`{}` must be https in production mode",
                    self.connect_all_js_url
                ),
            ));
        }
        if self.admin_permission_cache_secs > 3600 {
            return Err(bad(
                "admin_permission_cache_secs",
                format!("{} is outside 0..=3600", self.admin_permission_cache_secs),
            ));
        }
        if !(1..=168).contains(&self.admin_session_hours) {
            return Err(bad(
                "admin_session_hours",
                format!("{} is outside 1..=168", self.admin_session_hours),
            ));
        }
        let bounded: [(&str, u64, u64, u64); 9] = [
            (
                "jira_app_hourly_points",
                u64::from(self.jira_app_hourly_points),
                10,
                100_000_000,
            ),
            (
                "jira_closure_reserve_percent",
                u64::from(self.jira_closure_reserve_percent),
                0,
                90,
            ),
            (
                "jira_tenant_share_percent",
                u64::from(self.jira_tenant_share_percent),
                1,
                100,
            ),
            (
                "jira_max_response_bytes",
                self.jira_max_response_bytes as u64,
                64 * 1024,
                1024 * 1024 * 1024,
            ),
            (
                "inbox_max_pending_per_tenant",
                self.inbox_max_pending_per_tenant,
                1,
                100_000_000,
            ),
            (
                "rules_compile_timeout_secs",
                self.rules_compile_timeout_secs,
                1,
                3600,
            ),
            (
                "rules_compile_concurrency",
                self.rules_compile_concurrency as u64,
                1,
                64,
            ),
            (
                "rules_max_versions_per_tenant",
                self.rules_max_versions_per_tenant,
                1,
                1_000_000,
            ),
            (
                "rules_loaded_idle_secs",
                self.rules_loaded_idle_secs,
                1,
                7 * 24 * 3600,
            ),
        ];
        for (key, value, min, max) in bounded {
            if !(min..=max).contains(&value) {
                return Err(bad(key, format!("{value} is outside {min}..={max}")));
            }
        }
        if self.rules_max_stored_bytes_per_tenant < 1024 * 1024 {
            return Err(bad(
                "rules_max_stored_bytes_per_tenant",
                format!(
                    "{} is below 1048576 (1 MiB)",
                    self.rules_max_stored_bytes_per_tenant
                ),
            ));
        }
        if self.oauth_client_id.is_some() != self.oauth_client_secret.is_some() {
            return Err(bad(
                "oauth_client_secret",
                "oauth_client_id and oauth_client_secret must be set together".into(),
            ));
        }
        Ok(())
    }

    /// Every base URL Atlassian may know Verdict by, without trailing slashes.
    pub fn accepted_base_urls(&self) -> Vec<String> {
        std::iter::once(&self.base_url)
            .chain(self.extra_base_urls.0.iter())
            .map(|u| u.as_str().trim_end_matches('/').to_owned())
            .collect()
    }

    /// Whether outbound calls refuse local addresses (always in production).
    pub fn refuses_local_addresses(&self) -> bool {
        self.outbound_refuse_local || self.mode == Mode::Production
    }

    pub fn request_timeout(&self) -> Duration {
        Duration::from_secs(self.request_timeout_secs)
    }

    /// The compiled-function cache the rule engine uses; `None` when turned off.
    pub fn rule_compile_cache(&self) -> Option<crate::rules::CompileCacheConfig> {
        (self.rules_compile_cache_bytes > 0).then(|| crate::rules::CompileCacheConfig {
            dir: self.rules_compile_cache_dir.clone(),
            max_bytes: self.rules_compile_cache_bytes,
        })
    }

    /// Uploads at least this large are compiled by the baseline compiler first; `None`: never.
    pub fn rule_baseline_above(&self) -> Option<usize> {
        (self.rules_baseline_compile_bytes > 0)
            .then(|| usize::try_from(self.rules_baseline_compile_bytes).unwrap_or(usize::MAX))
    }

    /// What one rule instance may take from the wasm instance pool.
    pub fn rule_pool(&self) -> crate::rules::PoolCeilings {
        crate::rules::PoolCeilings {
            core_instances: self.rules_max_core_instances,
            memories: self.rules_max_memories,
            tables: self.rules_max_tables,
        }
    }

    pub fn retention(&self) -> crate::queue::retention::Retention {
        let days = |d: u32| Duration::from_secs(u64::from(d) * 86_400);
        crate::queue::retention::Retention {
            deliveries: days(self.retention_deliveries_days),
            jobs: days(self.retention_outbox_days),
            decisions: days(self.retention_decisions_days),
            batch: self.retention_batch,
        }
    }

    pub fn shutdown_grace(&self) -> Duration {
        Duration::from_secs(self.shutdown_grace_secs)
    }

    /// The public base URL without a trailing slash, for building links.
    pub fn public_url(&self, path: &str) -> String {
        format!("{}{}", self.base_url.as_str().trim_end_matches('/'), path)
    }
}

/// Every key Verdict reads: the config struct's own field names (what it serializes), so a
/// field added to [`Config`] is known to the file check and the environment at once.
fn known_keys() -> &'static [String] {
    static KEYS: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    KEYS.get_or_init(|| match serde_json::to_value(Config::default()) {
        Ok(serde_json::Value::Object(fields)) => fields.keys().cloned().collect(),
        _ => Vec::new(),
    })
}

fn known_key(env_suffix: &str) -> bool {
    let key = env_suffix.to_ascii_lowercase();
    known_keys().contains(&key)
}

/// The `VERDICT_*` variables as a figment provider. Only known keys are taken, so unrelated
/// variables (e.g. `VERDICT_TEST_DATABASE_URL`) never interfere; values are parsed the way
/// figment parses environment values (`8080` is a number, `true` a bool).
struct EnvVars(Vec<(String, String)>);

impl figment::Provider for EnvVars {
    fn metadata(&self) -> figment::Metadata {
        figment::Metadata::named("environment variable")
            .interpolater(|_, keys| format!("{ENV_PREFIX}{}", keys.join("_").to_ascii_uppercase()))
    }

    fn data(
        &self,
    ) -> Result<figment::value::Map<figment::Profile, figment::value::Dict>, figment::Error> {
        let mut dict = figment::value::Dict::new();
        for (key, value) in &self.0 {
            let key = key[ENV_PREFIX.len()..].to_ascii_lowercase();
            let value: figment::value::Value = value
                .parse()
                .unwrap_or_else(|_| figment::value::Value::from(value.clone()));
            dict.insert(key, value);
        }
        Ok(figment::Profile::Default.collect(dict))
    }
}

/// A typo in the config file should stop start-up, not be silently ignored.
fn check_file_keys(path: &Path) -> Result<(), ConfigError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConfigError::Invalid(format!("cannot read {}: {e}", path.display())))?;
    let table: toml::Table = text
        .parse()
        .map_err(|e| ConfigError::Invalid(format!("{} is not valid TOML: {e}", path.display())))?;
    if let Some(key) = table.keys().find(|k| !known_keys().contains(k)) {
        return Err(ConfigError::UnknownKey {
            key: key.clone(),
            path: path.to_owned(),
            known: known_keys().join(", "),
        });
    }
    Ok(())
}

fn describe_figment_error(error: figment::Error) -> String {
    error
        .into_iter()
        .map(|e| {
            let key = e.path.join(".");
            let origin = match &e.metadata {
                Some(md) => {
                    let profile = e.profile.clone().unwrap_or_default();
                    match &md.source {
                        Some(source) => format!("in {} {source}", md.name),
                        None => format!("in {} {}", md.name, md.interpolate(&profile, &e.path)),
                    }
                }
                None => "in defaults".to_owned(),
            };
            format!("`{key}` {origin}: {}", e.kind)
        })
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn load(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        // An explicit missing-on-purpose dir keeps a stray ./verdict.toml out of unit tests.
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("verdict.toml");
        std::fs::write(&file, "").unwrap();
        Config::load(Some(&file), env(pairs))
    }

    #[test]
    fn defaults_serve_out_of_the_box() {
        let c = load(&[]).unwrap();
        assert_eq!(c.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(c.database_url.expose(), "sqlite://verdict.db");
        assert_eq!(c.base_url.as_str(), "http://localhost:8080/");
        assert_eq!(c.log_format, LogFormat::Text);
    }

    #[test]
    fn environment_overrides_file_overrides_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("v.toml");
        std::fs::write(
            &file,
            "listen = \"0.0.0.0:9000\"\nlog_format = \"json\"\nrequest_timeout_secs = 5\n",
        )
        .unwrap();
        let c = Config::load(
            Some(&file),
            env(&[
                ("VERDICT_LISTEN", "127.0.0.1:9100"),
                ("VERDICT_BASE_URL", "https://verdict.example.com"),
                ("VERDICT_DATABASE_URL", "postgres://u:pw@db/verdict"),
                ("VERDICT_TEST_DATABASE_URL", "ignored"),
                ("OTHER", "ignored"),
            ]),
        )
        .unwrap();
        assert_eq!(c.listen.to_string(), "127.0.0.1:9100");
        assert_eq!(c.log_format, LogFormat::Json);
        assert_eq!(c.request_timeout_secs, 5);
        assert_eq!(c.base_url.as_str(), "https://verdict.example.com/");
        assert_eq!(c.database_url.backend(), Some(Backend::Postgres));
    }

    #[test]
    fn bad_values_name_the_key_and_where_it_came_from() {
        type Case<'a> = (&'a [(&'a str, &'a str)], &'a [&'a str]);
        let cases: &[Case<'_>] = &[
            (
                &[("VERDICT_LISTEN", "not-an-address")],
                &["listen", "VERDICT_LISTEN"],
            ),
            (
                &[("VERDICT_LOG_FORMAT", "xml")],
                &["log_format", "VERDICT_LOG_FORMAT", "xml"],
            ),
            (
                &[("VERDICT_BASE_URL", "ftp://x")],
                &["base_url", "VERDICT_BASE_URL"],
            ),
            (
                &[("VERDICT_BASE_URL", "not a url")],
                &["base_url", "VERDICT_BASE_URL"],
            ),
            (
                &[("VERDICT_DATABASE_URL", "mysql://x")],
                &["database_url", "mysql"],
            ),
            (
                &[("VERDICT_DATABASE_MAX_CONNECTIONS", "0")],
                &[
                    "database_max_connections",
                    "VERDICT_DATABASE_MAX_CONNECTIONS",
                ],
            ),
            (
                &[("VERDICT_API_BODY_LIMIT_BYTES", "lots")],
                &["api_body_limit_bytes"],
            ),
            (&[("VERDICT_LOG_LEVEL", "verdict=loud")], &["log_level"]),
        ];
        for (vars, needles) in cases {
            let err = load(vars).unwrap_err().to_string();
            for needle in *needles {
                assert!(err.contains(needle), "{vars:?}: `{err}` lacks `{needle}`");
            }
        }
    }

    #[test]
    fn file_errors_name_the_file_and_key() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("verdict.toml");
        std::fs::write(&file, "lisen = \"127.0.0.1:1\"\n").unwrap();
        let err = Config::load(Some(&file), env(&[])).unwrap_err().to_string();
        assert!(
            err.contains("lisen") && err.contains("verdict.toml"),
            "{err}"
        );

        std::fs::write(&file, "listen = 42\n").unwrap();
        let err = Config::load(Some(&file), env(&[])).unwrap_err().to_string();
        assert!(
            err.contains("listen") && err.contains("verdict.toml"),
            "{err}"
        );

        let err = Config::load(Some(&dir.path().join("absent.toml")), env(&[]))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("absent.toml") && err.contains("does not exist"),
            "{err}"
        );
    }

    #[test]
    fn connectivity_keys_load_and_production_mode_is_strict() {
        let key = crate::tenants::secrets::SecretBox::generate_key();
        let c = load(&[
            ("VERDICT_APP_KEY", "com.example.verdict"),
            (
                "VERDICT_EXTRA_BASE_URLS",
                "https://a.example.com, https://b.example.com/",
            ),
            ("VERDICT_SECRET_KEY", &key),
            ("VERDICT_OAUTH_CLIENT_ID", "cid"),
            ("VERDICT_OAUTH_CLIENT_SECRET", "csecret"),
            ("VERDICT_INSTALL_KEYS_URL", "http://127.0.0.1:9/keys"),
        ])
        .unwrap();
        assert_eq!(c.extra_base_urls.0.len(), 2);
        assert_eq!(
            c.accepted_base_urls(),
            vec![
                "http://localhost:8080",
                "https://a.example.com",
                "https://b.example.com"
            ]
        );
        let debug = format!("{c:?}");
        assert!(
            !debug.contains(&key) && !debug.contains("csecret"),
            "{debug}"
        );

        let prod = |extra: &[(&str, &str)]| {
            let mut vars = vec![("VERDICT_MODE", "production")];
            vars.extend_from_slice(extra);
            load(&vars)
        };
        let err = prod(&[]).unwrap_err().to_string();
        assert!(err.contains("base_url") && err.contains("https"), "{err}");
        let err = prod(&[("VERDICT_BASE_URL", "https://verdict.example.com")])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("secret_key") && err.contains("VERDICT_SECRET_KEY"),
            "{err}"
        );
        let ok = prod(&[
            ("VERDICT_BASE_URL", "https://verdict.example.com"),
            ("VERDICT_SECRET_KEY", &key),
        ])
        .unwrap();
        assert!(ok.refuses_local_addresses(), "always in production");
        // Every outbound URL must be https in production.
        for var in [
            "VERDICT_INSTALL_KEYS_URL",
            "VERDICT_FORGE_JWKS_URL",
            "VERDICT_ATLASSIAN_AUTH_URL",
            "VERDICT_ATLASSIAN_API_URL",
        ] {
            let err = prod(&[
                ("VERDICT_BASE_URL", "https://verdict.example.com"),
                ("VERDICT_SECRET_KEY", &key),
                (var, "http://127.0.0.1:9/x"),
            ])
            .unwrap_err()
            .to_string();
            let key_name = var.trim_start_matches("VERDICT_").to_ascii_lowercase();
            assert!(
                err.contains(&key_name) && err.contains("https"),
                "{var}: {err}"
            );
        }
        let c = load(&[("VERDICT_OUTBOUND_ALLOWED_RANGES", "10.0.0.0/8, 127.0.0.1")]).unwrap();
        assert_eq!(c.outbound_allowed_ranges.0.len(), 2);
        assert!(
            !c.refuses_local_addresses(),
            "off by default in development"
        );
        let err = load(&[("VERDICT_OUTBOUND_ALLOWED_RANGES", "10.0.0.0/33")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("CIDR"), "{err}");

        for (k, v, needle) in [
            ("VERDICT_APP_KEY", "bad key!", "app_key"),
            ("VERDICT_SECRET_KEY", "c2hvcnQ=", "32 bytes"),
            ("VERDICT_OAUTH_CLIENT_ID", "only-id", "together"),
            ("VERDICT_EXTRA_BASE_URLS", "not a url", "extra_base_urls"),
        ] {
            let err = load(&[(k, v)]).unwrap_err().to_string();
            assert!(err.contains(needle), "{k}={v}: {err}");
        }
    }

    #[test]
    fn every_field_is_a_key_in_the_environment_and_the_readme() {
        let keys = known_keys();
        assert!(keys.len() >= 60, "{keys:?}");
        let readme = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md"),
        )
        .unwrap();
        let undocumented: Vec<&String> = keys
            .iter()
            .filter(|k| !readme.contains(&format!("`{k}`")))
            .collect();
        assert!(
            undocumented.is_empty(),
            "not in the README's table: {undocumented:?}"
        );
        // A key added last is read from the environment like the first.
        let c = load(&[("VERDICT_RULES_LOADED_IDLE_SECS", "42")]).unwrap();
        assert_eq!(c.rules_loaded_idle_secs, 42);
    }

    #[test]
    fn database_password_never_appears_in_debug_or_display() {
        let c = load(&[(
            "VERDICT_DATABASE_URL",
            "postgres://verdict:s3cr3t-pw@db:5432/v",
        )])
        .unwrap();
        let debug = format!("{c:?}");
        assert!(!debug.contains("s3cr3t-pw"), "{debug}");
        assert!(debug.contains("REDACTED"));
        assert!(!c.database_url.to_string().contains("s3cr3t-pw"));
        assert_eq!(
            c.database_url.expose(),
            "postgres://verdict:s3cr3t-pw@db:5432/v"
        );
    }
}
