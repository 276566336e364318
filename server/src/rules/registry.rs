//! Each tenant's rules: upload (validated, precompiled, stored with its sha256), versions,
//! activation per scope (tenant-wide or one Jira project), rollback, and an in-memory cache of
//! loaded modules so an evaluation never compiles.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use rules_sdk::{ConfigEntry, DecisionKind};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter,
    QueryOrder, QuerySelect, Set, TransactionTrait,
};
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::engine::{LoadedRule, RuleEngine, Tier};
use super::error::RuleError;
use super::footprint::{Footprint, Language, Toolchain};
use super::limits::Limits;
use crate::store::Store;
use crate::store::entities::{rules, tenant_settings};

/// Setting keys under this prefix tune rule limits instead of reaching rules.
pub const LIMITS_PREFIX: &str = "rules.limits.";

#[derive(Debug, thiserror::Error)]
pub enum RulesError {
    #[error("rule `{0}` not found")]
    NotFound(String),
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Rule(RuleError),
    #[error("{0}")]
    Conflict(String),
    /// A per-tenant storage quota would be exceeded.
    #[error("{0}")]
    Quota(String),
    /// Every compile slot stayed busy; try again after `retry_after_secs`.
    #[error(
        "{running} rule compilation(s) are running on this server (rules_compile_concurrency); upload again in a moment"
    )]
    CompileBusy {
        running: usize,
        retry_after_secs: u64,
    },
    /// Validating, compiling and smoke-running took longer than allowed.
    #[error(
        "compiling the module took longer than {limit_secs} s (rules_compile_timeout_secs); make it smaller (fewer or smaller functions) or ask the operator to raise the limit"
    )]
    CompileTimeout { limit_secs: u64 },
    /// The evaluation task itself died (a bug, not the rule's fault).
    #[error("{0}")]
    Crashed(String),
    #[error("database error: {0}")]
    Db(#[from] sea_orm::DbErr),
}

/// Writes settings inside the caller's transaction (an empty value removes the key); the
/// caller has validated them.
pub async fn write_settings<C: ConnectionTrait>(
    conn: &C,
    tenant: &str,
    values: &[(String, String)],
) -> Result<(), sea_orm::DbErr> {
    for (k, v) in values {
        tenant_settings::Entity::delete_many()
            .filter(tenant_settings::Column::TenantId.eq(tenant))
            .filter(tenant_settings::Column::Key.eq(k))
            .exec(conn)
            .await?;
        if !v.is_empty() {
            tenant_settings::ActiveModel {
                tenant_id: Set(tenant.to_owned()),
                key: Set(k.clone()),
                value: Set(v.clone()),
                updated_at: Set(Utc::now()),
            }
            .insert(conn)
            .await?;
        }
    }
    Ok(())
}

/// A rule version's metadata (never the bytes).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RuleVersion {
    pub id: String,
    pub name: String,
    pub version: i32,
    /// Jira project key, or null for tenant-wide.
    pub project: Option<String>,
    /// Which decisions the module exports: `closure`, `transition`, `ticketing`.
    #[schema(value_type = Vec<String>, example = json!(["closure"]))]
    pub decisions: Vec<DecisionKind>,
    pub contract_version: String,
    pub sha256: String,
    pub size_bytes: i32,
    /// `active` or `inactive`.
    pub state: String,
    pub created_at: DateTime<Utc>,
    pub activated_at: Option<DateTime<Utc>>,
    /// The source language its binary names (`rust`, `javascript`, `python`, `unknown`).
    pub language: Language,
    /// Tools named in its producers sections, e.g. `componentize-qjs 0.4.5`.
    pub toolchain: Vec<String>,
    /// What one instance takes from the pool; null until first loaded for versions uploaded
    /// before this was recorded.
    pub footprint: Option<Footprint>,
    /// Which compiler made its stored code: `baseline` right after the upload of a large
    /// component (an interpreter), `optimized` once the background tier-up stored
    /// Cranelift's.
    pub code_tier: Tier,
}

fn decisions_of(s: &str) -> Vec<DecisionKind> {
    s.split(',')
        .filter_map(|d| DecisionKind::ALL.into_iter().find(|k| k.as_str() == d))
        .collect()
}

/// A `rules` row without the blobs, for listings.
#[derive(Debug, sea_orm::FromQueryResult)]
struct MetaRow {
    id: String,
    name: String,
    version: i32,
    project: Option<String>,
    decisions: String,
    contract_version: String,
    sha256: String,
    size_bytes: i32,
    state: String,
    created_at: DateTime<Utc>,
    activated_at: Option<DateTime<Utc>>,
    language: Option<String>,
    toolchain: Option<String>,
    core_instances: Option<i32>,
    memories: Option<i32>,
    tables: Option<i32>,
    code_tier: String,
}

fn language_of(language: Option<&str>) -> Language {
    language.map(Language::parse).unwrap_or(Language::Unknown)
}

fn toolchain_of(toolchain: Option<&str>) -> Vec<String> {
    toolchain
        .map(|t| {
            t.split(", ")
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

fn footprint_of(ci: Option<i32>, m: Option<i32>, t: Option<i32>) -> Option<Footprint> {
    Some(Footprint {
        core_instances: ci? as u32,
        memories: m? as u32,
        tables: t? as u32,
    })
}

impl From<MetaRow> for RuleVersion {
    fn from(m: MetaRow) -> Self {
        RuleVersion {
            decisions: decisions_of(&m.decisions),
            language: language_of(m.language.as_deref()),
            toolchain: toolchain_of(m.toolchain.as_deref()),
            footprint: footprint_of(m.core_instances, m.memories, m.tables),
            code_tier: Tier::parse(&m.code_tier),
            id: m.id,
            name: m.name,
            version: m.version,
            project: m.project,
            contract_version: m.contract_version,
            sha256: m.sha256,
            size_bytes: m.size_bytes,
            state: m.state,
            created_at: m.created_at,
            activated_at: m.activated_at,
        }
    }
}

impl From<&rules::Model> for RuleVersion {
    fn from(m: &rules::Model) -> Self {
        RuleVersion {
            id: m.id.clone(),
            name: m.name.clone(),
            version: m.version,
            project: m.project.clone(),
            decisions: decisions_of(&m.decisions),
            contract_version: m.contract_version.clone(),
            sha256: m.sha256.clone(),
            size_bytes: m.size_bytes,
            state: m.state.clone(),
            created_at: m.created_at,
            activated_at: m.activated_at,
            language: language_of(m.language.as_deref()),
            toolchain: toolchain_of(m.toolchain.as_deref()),
            footprint: footprint_of(m.core_instances, m.memories, m.tables),
            code_tier: Tier::parse(&m.code_tier),
        }
    }
}

/// An active rule, loaded.
#[derive(Clone)]
pub struct ActiveRule {
    pub meta: RuleVersion,
    pub loaded: Arc<LoadedRule>,
}

/// What rule uploads may cost: compile time and concurrency on this replica, and what each
/// tenant may keep stored; and how long an unused, inactive version stays in memory.
#[derive(Debug, Clone)]
pub struct UploadLimits {
    pub compile_timeout: std::time::Duration,
    pub compile_concurrency: usize,
    pub max_versions_per_tenant: u64,
    pub max_stored_bytes_per_tenant: u64,
    pub loaded_idle: std::time::Duration,
}

impl UploadLimits {
    pub fn from_config(c: &crate::config::Config) -> Self {
        Self {
            compile_timeout: std::time::Duration::from_secs(c.rules_compile_timeout_secs),
            compile_concurrency: c.rules_compile_concurrency,
            max_versions_per_tenant: c.rules_max_versions_per_tenant,
            max_stored_bytes_per_tenant: c.rules_max_stored_bytes_per_tenant,
            loaded_idle: std::time::Duration::from_secs(c.rules_loaded_idle_secs),
        }
    }
}

impl Default for UploadLimits {
    fn default() -> Self {
        Self::from_config(&crate::config::Config::default())
    }
}

/// Longest an upload waits for a compile slot (never past the compile time limit) before it
/// is answered `compile_busy`.
pub const COMPILE_SLOT_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// A loaded version and when an evaluation or load last asked for it.
struct LoadedEntry {
    rule: Arc<LoadedRule>,
    used: std::time::Instant,
}

#[derive(Clone)]
pub struct RuleRegistry {
    store: Store,
    engine: RuleEngine,
    loaded: Arc<Mutex<HashMap<String, LoadedEntry>>>,
    upload_limits: Arc<UploadLimits>,
    /// Compilations running on this replica (uploads and tier-ups); a slot is held until the
    /// compiler returns, even when the upload that started it timed out, since wasmtime
    /// cannot stop a compile.
    compile_slots: Arc<tokio::sync::Semaphore>,
    /// Active rules per tenant; dropped on any change for that tenant.
    active: Arc<Mutex<HashMap<String, Arc<Vec<ActiveRule>>>>>,
    /// Versions whose optimized code is being compiled in the background.
    optimizing: Arc<Mutex<HashSet<String>>>,
    /// Each tenant's share of the instance pool (evaluations at once, whatever asks).
    shares: Arc<Mutex<HashMap<String, Arc<tokio::sync::Semaphore>>>>,
    per_tenant: u32,
}

/// How long an evaluation waits for a free instance of its tenant's share before it is
/// answered `busy` (a closure then waits and is tried again).
pub const SHARE_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

fn valid_name(name: &str) -> Result<(), RulesError> {
    let ok = !name.is_empty()
        && name.len() <= 100
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(RulesError::Invalid(format!(
            "rule name `{name}` must be 1–100 characters of letters, digits, `-`, `_` or `.`"
        )))
    }
}

fn valid_project(p: &str) -> Result<(), RulesError> {
    let ok =
        !p.is_empty() && p.len() <= 64 && p.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if ok {
        Ok(())
    } else {
        Err(RulesError::Invalid(format!(
            "project `{p}` is not a Jira project key"
        )))
    }
}

impl RuleRegistry {
    /// `tenant_share_percent` of the engine's instances (at least one) is the most one tenant's
    /// evaluations may hold at once.
    pub fn new(
        store: Store,
        engine: RuleEngine,
        tenant_share_percent: u32,
        upload_limits: UploadLimits,
    ) -> Self {
        let slots = engine.slots();
        let per_tenant = (slots * tenant_share_percent.clamp(1, 100))
            .div_ceil(100)
            .max(1);
        RuleRegistry {
            store,
            engine,
            loaded: Default::default(),
            compile_slots: Arc::new(tokio::sync::Semaphore::new(
                upload_limits.compile_concurrency.max(1),
            )),
            upload_limits: Arc::new(upload_limits),
            active: Default::default(),
            optimizing: Default::default(),
            shares: Default::default(),
            per_tenant,
        }
    }

    /// Versions held in memory on this replica.
    pub fn loaded_count(&self) -> usize {
        self.loaded.lock().expect("rule cache").len()
    }

    /// Drops versions that no tenant's active set holds and nothing asked for within
    /// `rules_loaded_idle_secs`; returns how many went. Active versions stay (they are held by
    /// the active sets anyway); a dropped one is loaded again from its stored artifact if asked.
    pub fn evict_idle(&self) -> usize {
        let held: HashSet<String> = self
            .active
            .lock()
            .expect("rule cache")
            .values()
            .flat_map(|set| set.iter().map(|a| a.meta.id.clone()))
            .collect();
        let optimizing = self.optimizing.lock().expect("rule cache").clone();
        let idle = self.upload_limits.loaded_idle;
        let mut loaded = self.loaded.lock().expect("rule cache");
        let before = loaded.len();
        loaded.retain(|id, e| {
            held.contains(id) || optimizing.contains(id) || e.used.elapsed() < idle
        });
        before - loaded.len()
    }

    /// Runs [`RuleRegistry::evict_idle`] every half idle period until `stop` fires.
    pub fn spawn_evictor(
        &self,
        mut stop: tokio::sync::watch::Receiver<bool>,
    ) -> tokio::task::JoinHandle<()> {
        let this = self.clone();
        let every = (self.upload_limits.loaded_idle / 2).max(std::time::Duration::from_millis(500));
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(every) => {}
                    _ = stop.changed() => return,
                }
                let n = this.evict_idle();
                if n > 0 {
                    tracing::info!(evicted = n, "unused rule versions dropped from memory");
                }
            }
        })
    }

    /// The tenant's stored versions and bytes (modules and artifacts).
    async fn stored_use<C: ConnectionTrait>(
        conn: &C,
        tenant: &str,
    ) -> Result<(u64, u64), RulesError> {
        let row: Option<(i64, Option<i64>)> = rules::Entity::find()
            .select_only()
            .column_as(rules::Column::Id.count(), "n")
            .column_as(
                Expr::cust(
                    "CAST(SUM(CAST(size_bytes AS BIGINT) + CAST(LENGTH(artifact) AS BIGINT)) AS BIGINT)",
                ),
                "bytes",
            )
            .filter(rules::Column::TenantId.eq(tenant))
            .into_tuple()
            .one(conn)
            .await?;
        let (n, bytes) = row.unwrap_or((0, None));
        Ok((n.max(0) as u64, bytes.unwrap_or(0).max(0) as u64))
    }

    /// Refuses an upload of `adding` bytes that would pass the tenant's quotas.
    fn check_quota(&self, versions: u64, bytes: u64, adding: u64) -> Result<(), RulesError> {
        let l = &self.upload_limits;
        if versions >= l.max_versions_per_tenant {
            return Err(RulesError::Quota(format!(
                "this tenant keeps {versions} rule versions, the most allowed (rules_max_versions_per_tenant = {}); delete versions it no longer needs",
                l.max_versions_per_tenant
            )));
        }
        if bytes + adding > l.max_stored_bytes_per_tenant {
            return Err(RulesError::Quota(format!(
                "this tenant's rules take {bytes} bytes stored (modules and compiled code); this version needs {adding} more, past the quota of {} bytes (rules_max_stored_bytes_per_tenant); delete versions it no longer needs",
                l.max_stored_bytes_per_tenant
            )));
        }
        Ok(())
    }

    /// One of the tenant's instances, waiting at most [`SHARE_WAIT`]; `Busy` when the
    /// tenant's share stays taken.
    pub async fn tenant_share(
        &self,
        tenant: &str,
    ) -> Result<tokio::sync::OwnedSemaphorePermit, RuleError> {
        let sem = self
            .shares
            .lock()
            .expect("rule shares")
            .entry(tenant.to_owned())
            .or_insert_with(|| Arc::new(tokio::sync::Semaphore::new(self.per_tenant as usize)))
            .clone();
        match tokio::time::timeout(SHARE_WAIT, sem.acquire_owned()).await {
            Ok(Ok(permit)) => Ok(permit),
            _ => Err(RuleError::Busy(Some(self.per_tenant))),
        }
    }

    /// Tier-up: compiles a version loaded at the baseline tier with Cranelift in the
    /// background, stores the optimized artifact in place of the baseline one (so no replica
    /// compiles it again after a restart) and swaps the loaded rule, so later evaluations run
    /// the optimized code. Evaluations meanwhile run the baseline code. A failure is logged and
    /// the baseline code stays until the rule is loaded again (a restart).
    fn optimize_later(&self, tenant: &str, id: &str, component: &[u8], rule: Arc<LoadedRule>) {
        if rule.tier != Tier::Baseline
            || !self
                .optimizing
                .lock()
                .expect("rule cache")
                .insert(id.to_owned())
        {
            return;
        }
        // Copied only for a rule that tiers up: a Python component is 18 MB.
        let component = component.to_vec();
        let (this, tenant, id) = (self.clone(), tenant.to_owned(), id.to_owned());
        tokio::spawn(async move {
            let engine = this.engine.clone();
            // Tier-ups share the compile slots with uploads (and wait for one, without limit).
            let Ok(permit) = this.compile_slots.clone().acquire_owned().await else {
                return;
            };
            let started = std::time::Instant::now();
            let language = rule.toolchain.language.as_str();
            let compiled = tokio::task::spawn_blocking(move || {
                let _permit = permit;
                engine.optimize(&component, &rule)
            })
            .await;
            let outcome = match compiled {
                Ok(Ok((optimized, artifact))) => {
                    this.store_optimized(&id, optimized, artifact).await
                }
                Ok(Err(e)) => Err(RulesError::Rule(e)),
                Err(e) => Err(RulesError::Crashed(format!(
                    "the optimizing compile crashed: {e}"
                ))),
            };
            match outcome {
                Ok(()) => {
                    // The tenant's active set holds the baseline rule: read it again.
                    this.forget(&tenant);
                    tracing::info!(
                        rule = %id,
                        language,
                        compile_ms = started.elapsed().as_millis() as u64,
                        "rule optimized: later evaluations run Cranelift's code"
                    );
                }
                Err(e) => tracing::warn!(
                    rule = %id,
                    error = %e,
                    "optimizing a rule failed; it keeps running its baseline code"
                ),
            }
            this.optimizing.lock().expect("rule cache").remove(&id);
        });
    }

    async fn store_optimized(
        &self,
        id: &str,
        optimized: LoadedRule,
        artifact: Vec<u8>,
    ) -> Result<(), RulesError> {
        {
            let _w = self.store.write_lock().await;
            rules::Entity::update_many()
                .col_expr(rules::Column::Artifact, Expr::value(artifact))
                .col_expr(
                    rules::Column::CodeTier,
                    Expr::value(optimized.tier.as_str()),
                )
                .filter(rules::Column::Id.eq(id))
                .exec(self.store.db())
                .await?;
        }
        let mut loaded = self.loaded.lock().expect("rule cache");
        // A version deleted (or dropped as unused) meanwhile stays so.
        if let Some(slot) = loaded.get_mut(id) {
            slot.rule = Arc::new(optimized);
        }
        Ok(())
    }

    fn remember(&self, id: &str, rule: Arc<LoadedRule>) {
        self.loaded.lock().expect("rule cache").insert(
            id.to_owned(),
            LoadedEntry {
                rule,
                used: std::time::Instant::now(),
            },
        );
    }

    pub fn engine(&self) -> &RuleEngine {
        &self.engine
    }

    fn forget(&self, tenant: &str) {
        self.active.lock().expect("rule cache").remove(tenant);
    }

    /// The tenant's limits: defaults overridden by `rules.limits.*` settings.
    pub async fn limits(&self, tenant: &str) -> Result<Limits, RulesError> {
        let mut limits = Limits::default();
        for s in self.settings(tenant).await? {
            if let Some(key) = s.key.strip_prefix(LIMITS_PREFIX) {
                // Stored values were validated on write; a bad one is ignored, not fatal.
                if let Err(e) = limits.set(key, &s.value) {
                    tracing::warn!(tenant, error = %e, "ignoring a stored rule limit");
                }
            }
        }
        Ok(limits)
    }

    pub async fn settings(&self, tenant: &str) -> Result<Vec<tenant_settings::Model>, RulesError> {
        Ok(tenant_settings::Entity::find()
            .filter(tenant_settings::Column::TenantId.eq(tenant))
            .order_by_asc(tenant_settings::Column::Key)
            .all(self.store.db())
            .await?)
    }

    /// The configuration entries rules see (every setting except the limits).
    pub async fn config_entries(&self, tenant: &str) -> Result<Vec<ConfigEntry>, RulesError> {
        Ok(self
            .settings(tenant)
            .await?
            .into_iter()
            .filter(|s| !s.key.starts_with(LIMITS_PREFIX))
            .map(|s| ConfigEntry {
                key: s.key,
                value: s.value,
            })
            .collect())
    }

    /// Sets (or, with an empty value, removes) settings. Limits are checked against their
    /// ceilings; all or nothing.
    pub async fn put_settings(
        &self,
        tenant: &str,
        values: &[(String, String)],
    ) -> Result<(), RulesError> {
        let mut probe = Limits::default();
        for (k, v) in values {
            if k.is_empty() || k.len() > 128 || k.chars().any(|c| c.is_whitespace()) {
                return Err(RulesError::Invalid(format!(
                    "setting key `{k}` must be 1–128 characters without spaces"
                )));
            }
            if v.len() > 4096 {
                return Err(RulesError::Invalid(format!(
                    "setting `{k}` is over 4096 bytes"
                )));
            }
            if let Some(limit) = k.strip_prefix(LIMITS_PREFIX)
                && !v.is_empty()
            {
                probe.set(limit, v).map_err(RulesError::Invalid)?;
            }
            if !v.is_empty() {
                rules_sdk::defaults::check_setting(k, v).map_err(RulesError::Invalid)?;
                check_ticket_setting(k, v).map_err(RulesError::Invalid)?;
            }
        }
        let _w = self.store.write_lock().await;
        let txn = self.store.db().begin().await?;
        write_settings(&txn, tenant, values).await?;
        txn.commit().await?;
        Ok(())
    }

    /// Validates, precompiles and stores a new version (inactive).
    pub async fn upload(
        &self,
        tenant: &str,
        name: &str,
        project: Option<&str>,
        bytes: Vec<u8>,
    ) -> Result<RuleVersion, RulesError> {
        valid_name(name)?;
        if let Some(p) = project {
            valid_project(p)?;
        }
        let limits = self.limits(tenant).await?;
        // Quotas first (cheap), so a tenant past them costs no compile.
        let (versions, stored) = Self::stored_use(self.store.db(), tenant).await?;
        self.check_quota(versions, stored, bytes.len() as u64)?;
        let slots = self.upload_limits.compile_concurrency.max(1);
        let permit = tokio::time::timeout(
            COMPILE_SLOT_WAIT.min(self.upload_limits.compile_timeout),
            self.compile_slots.clone().acquire_owned(),
        )
        .await
        .ok()
        .and_then(Result::ok)
        .ok_or(RulesError::CompileBusy {
            running: slots,
            retry_after_secs: 10,
        })?;
        let engine = self.engine.clone();
        let compile = tokio::task::spawn_blocking(move || {
            // Held until the compiler returns, however long the upload waited.
            let _permit = permit;
            (engine.prepare(&bytes, &limits), bytes)
        });
        let limit = self.upload_limits.compile_timeout;
        let (prepared, bytes) = tokio::time::timeout(limit, compile)
            .await
            .map_err(|_| {
                tracing::warn!(%tenant, rule = name, limit_secs = limit.as_secs(), "rule upload refused: compile time limit");
                RulesError::CompileTimeout {
                    limit_secs: limit.as_secs(),
                }
            })?
            .map_err(|e| RulesError::Invalid(format!("validation crashed: {e}")))?;
        let prepared = prepared.map_err(RulesError::Rule)?;
        let sha256 = hex::encode(Sha256::digest(&bytes));
        let _w = self.store.write_lock().await;
        let txn = self.store.db().begin().await?;
        // Again with the compiled artifact, under the write lock, so racing uploads cannot
        // pass the quota together.
        let (versions, stored) = Self::stored_use(&txn, tenant).await?;
        self.check_quota(
            versions,
            stored,
            (bytes.len() + prepared.artifact.len()) as u64,
        )?;
        let last: Option<i32> = rules::Entity::find()
            .select_only()
            .column_as(rules::Column::Version.max(), "v")
            .filter(rules::Column::TenantId.eq(tenant))
            .filter(rules::Column::Name.eq(name))
            .into_tuple::<Option<i32>>()
            .one(&txn)
            .await?
            .flatten();
        let decisions: Vec<&str> = prepared.rule.decisions.iter().map(|d| d.as_str()).collect();
        let model = rules::ActiveModel {
            id: Set(uuid::Uuid::now_v7().to_string()),
            tenant_id: Set(tenant.to_owned()),
            name: Set(name.to_owned()),
            version: Set(last.unwrap_or(0) + 1),
            project: Set(project.map(str::to_owned)),
            decisions: Set(decisions.join(",")),
            contract_version: Set(prepared.rule.contract_version.clone()),
            sha256: Set(sha256),
            size_bytes: Set(bytes.len() as i32),
            module: Set(prepared.component),
            artifact: Set(prepared.artifact),
            state: Set("inactive".into()),
            created_at: Set(Utc::now()),
            activated_at: Set(None),
            language: Set(Some(prepared.rule.toolchain.language.as_str().to_owned())),
            toolchain: Set(Some(prepared.rule.toolchain.tools.join(", "))),
            core_instances: Set(Some(prepared.rule.footprint.core_instances as i32)),
            memories: Set(Some(prepared.rule.footprint.memories as i32)),
            tables: Set(Some(prepared.rule.footprint.tables as i32)),
            code_tier: Set(prepared.rule.tier.as_str().to_owned()),
        }
        .insert(&txn)
        .await?;
        txn.commit().await?;
        let rule = Arc::new(prepared.rule);
        self.remember(&model.id, rule.clone());
        self.optimize_later(tenant, &model.id, &model.module, rule);
        Ok(RuleVersion::from(&model))
    }

    pub async fn list(&self, tenant: &str) -> Result<Vec<RuleVersion>, RulesError> {
        let rows = rules::Entity::find()
            .select_only()
            // The blobs are not selected: listing stays cheap.
            .columns([
                rules::Column::Id,
                rules::Column::Name,
                rules::Column::Version,
                rules::Column::Project,
                rules::Column::Decisions,
                rules::Column::ContractVersion,
                rules::Column::Sha256,
                rules::Column::SizeBytes,
                rules::Column::State,
                rules::Column::CreatedAt,
                rules::Column::ActivatedAt,
                rules::Column::Language,
                rules::Column::Toolchain,
                rules::Column::CoreInstances,
                rules::Column::Memories,
                rules::Column::Tables,
                rules::Column::CodeTier,
            ])
            .filter(rules::Column::TenantId.eq(tenant))
            .order_by_asc(rules::Column::Name)
            .order_by_asc(rules::Column::Version)
            .into_model::<MetaRow>()
            .all(self.store.db())
            .await?;
        Ok(rows.into_iter().map(RuleVersion::from).collect())
    }

    async fn row(
        &self,
        tenant: &str,
        name: &str,
        version: i32,
    ) -> Result<rules::Model, RulesError> {
        rules::Entity::find()
            .filter(rules::Column::TenantId.eq(tenant))
            .filter(rules::Column::Name.eq(name))
            .filter(rules::Column::Version.eq(version))
            .one(self.store.db())
            .await?
            .ok_or_else(|| RulesError::NotFound(format!("{name}@{version}")))
    }

    pub async fn get(
        &self,
        tenant: &str,
        name: &str,
        version: i32,
    ) -> Result<RuleVersion, RulesError> {
        Ok(RuleVersion::from(&self.row(tenant, name, version).await?))
    }

    /// The stored component bytes (what evaluations run).
    pub async fn module(
        &self,
        tenant: &str,
        name: &str,
        version: i32,
    ) -> Result<Vec<u8>, RulesError> {
        Ok(self.row(tenant, name, version).await?.module)
    }

    /// A version's loaded module, from the cache or the database.
    pub async fn loaded(
        &self,
        tenant: &str,
        name: &str,
        version: i32,
    ) -> Result<(RuleVersion, Arc<LoadedRule>), RulesError> {
        let row = self.row(tenant, name, version).await?;
        let loaded = self.load_row(&row).await?;
        Ok((RuleVersion::from(&row), loaded))
    }

    /// Runs one version of a tenant's rule on `input` under the tenant's limits (off the async
    /// threads): the decision or the rule's error, with usage and logs either way.
    pub async fn evaluate_version(
        &self,
        tenant: &str,
        name: &str,
        version: i32,
        input: rules_sdk::RuleInput,
    ) -> Result<super::Evaluation, RulesError> {
        let (_, loaded) = self.loaded(tenant, name, version).await?;
        let limits = self.limits(tenant).await?;
        let permit = self.tenant_share(tenant).await.map_err(RulesError::Rule)?;
        let engine = self.engine.clone();
        tokio::task::spawn_blocking(move || {
            let eval = engine.evaluate(&loaded, &input, &limits);
            drop(permit);
            eval
        })
        .await
        .map_err(|e| RulesError::Crashed(format!("the evaluation crashed: {e}")))
    }

    async fn load_row(&self, row: &rules::Model) -> Result<Arc<LoadedRule>, RulesError> {
        if let Some(e) = self.loaded.lock().expect("rule cache").get_mut(&row.id) {
            e.used = std::time::Instant::now();
            return Ok(e.rule.clone());
        }
        let engine = self.engine.clone();
        let (artifact, module) = (row.artifact.clone(), row.module.clone());
        let known = footprint_of(row.core_instances, row.memories, row.tables)
            .zip(row.language.as_deref())
            .map(|(footprint, language)| {
                (
                    footprint,
                    Toolchain {
                        language: Language::parse(language),
                        tools: toolchain_of(row.toolchain.as_deref()),
                    },
                )
            });
        let loaded = tokio::task::spawn_blocking(move || engine.load(&artifact, &module, known))
            .await
            .map_err(|e| RulesError::Invalid(format!("loading crashed: {e}")))?
            .map_err(RulesError::Rule)?;
        if row.language.is_none() {
            self.record_shape(&row.id, &loaded).await?;
        }
        let loaded = Arc::new(loaded);
        self.remember(&row.id, loaded.clone());
        // Stored before its tier-up finished (a restart, another replica's upload).
        self.optimize_later(&row.tenant_id, &row.id, &row.module, loaded.clone());
        Ok(loaded)
    }

    /// Fills in the language and footprint of a version uploaded before they were recorded.
    async fn record_shape(&self, id: &str, loaded: &LoadedRule) -> Result<(), RulesError> {
        let _w = self.store.write_lock().await;
        rules::Entity::update_many()
            .col_expr(
                rules::Column::Language,
                Expr::value(loaded.toolchain.language.as_str()),
            )
            .col_expr(
                rules::Column::Toolchain,
                Expr::value(loaded.toolchain.tools.join(", ")),
            )
            .col_expr(
                rules::Column::CoreInstances,
                Expr::value(loaded.footprint.core_instances as i32),
            )
            .col_expr(
                rules::Column::Memories,
                Expr::value(loaded.footprint.memories as i32),
            )
            .col_expr(
                rules::Column::Tables,
                Expr::value(loaded.footprint.tables as i32),
            )
            .filter(rules::Column::Id.eq(id))
            .exec(self.store.db())
            .await?;
        Ok(())
    }

    /// Makes `version` the active one of `name`; the previously active version of `name` is
    /// deactivated. Refused when another active rule already decides the same thing for the
    /// same scope.
    pub async fn activate(
        &self,
        tenant: &str,
        name: &str,
        version: i32,
    ) -> Result<RuleVersion, RulesError> {
        let row = self.row(tenant, name, version).await?;
        let _w = self.store.write_lock().await;
        let txn = self.store.db().begin().await?;
        let others = rules::Entity::find()
            .filter(rules::Column::TenantId.eq(tenant))
            .filter(rules::Column::State.eq("active"))
            .filter(rules::Column::Name.ne(name))
            .all(&txn)
            .await?;
        let mine = decisions_of(&row.decisions);
        if let Some(clash) = others.iter().find(|o| {
            o.project == row.project && decisions_of(&o.decisions).iter().any(|d| mine.contains(d))
        }) {
            return Err(RulesError::Conflict(format!(
                "rule `{}` version {} is already active for {} and decides {}; deactivate it first",
                clash.name,
                clash.version,
                row.project
                    .as_deref()
                    .map(|p| format!("project {p}"))
                    .unwrap_or_else(|| "the whole tenant".into()),
                clash.decisions
            )));
        }
        rules::Entity::update_many()
            .col_expr(rules::Column::State, Expr::value("inactive"))
            .filter(rules::Column::TenantId.eq(tenant))
            .filter(rules::Column::Name.eq(name))
            .filter(rules::Column::State.eq("active"))
            .exec(&txn)
            .await?;
        let mut am = row.into_active_model();
        am.state = Set("active".into());
        am.activated_at = Set(Some(Utc::now()));
        let model = am.update(&txn).await?;
        txn.commit().await?;
        self.forget(tenant);
        Ok(RuleVersion::from(&model))
    }

    /// Deactivates whichever version of `name` is active.
    pub async fn deactivate(&self, tenant: &str, name: &str) -> Result<(), RulesError> {
        let _w = self.store.write_lock().await;
        let res = rules::Entity::update_many()
            .col_expr(rules::Column::State, Expr::value("inactive"))
            .filter(rules::Column::TenantId.eq(tenant))
            .filter(rules::Column::Name.eq(name))
            .filter(rules::Column::State.eq("active"))
            .exec(self.store.db())
            .await?;
        drop(_w);
        self.forget(tenant);
        if res.rows_affected == 0 {
            return Err(RulesError::NotFound(format!(
                "an active version of `{name}`"
            )));
        }
        Ok(())
    }

    /// Re-activates the version that was active before the current one.
    pub async fn rollback(&self, tenant: &str, name: &str) -> Result<RuleVersion, RulesError> {
        let all = rules::Entity::find()
            .filter(rules::Column::TenantId.eq(tenant))
            .filter(rules::Column::Name.eq(name))
            .filter(rules::Column::ActivatedAt.is_not_null())
            .order_by_desc(rules::Column::ActivatedAt)
            .order_by_desc(rules::Column::Version)
            .all(self.store.db())
            .await?;
        let current = all
            .iter()
            .find(|r| r.state == "active")
            .ok_or_else(|| RulesError::Conflict(format!("no version of `{name}` is active")))?;
        let previous = all.iter().find(|r| r.id != current.id).ok_or_else(|| {
            RulesError::Conflict(format!(
                "`{name}` has no earlier active version to roll back to"
            ))
        })?;
        self.activate(tenant, name, previous.version).await
    }

    /// Deletes an inactive version.
    pub async fn delete(&self, tenant: &str, name: &str, version: i32) -> Result<(), RulesError> {
        let row = self.row(tenant, name, version).await?;
        if row.state == "active" {
            return Err(RulesError::Conflict(format!(
                "{name} version {version} is active; deactivate it or activate another version first"
            )));
        }
        let _w = self.store.write_lock().await;
        rules::Entity::delete_by_id(row.id.clone())
            .exec(self.store.db())
            .await?;
        self.loaded.lock().expect("rule cache").remove(&row.id);
        Ok(())
    }

    async fn active(&self, tenant: &str) -> Result<Arc<Vec<ActiveRule>>, RulesError> {
        if let Some(a) = self.active.lock().expect("rule cache").get(tenant) {
            return Ok(a.clone());
        }
        let rows = rules::Entity::find()
            .filter(rules::Column::TenantId.eq(tenant))
            .filter(rules::Column::State.eq("active"))
            .all(self.store.db())
            .await?;
        let mut active = Vec::with_capacity(rows.len());
        for row in &rows {
            match self.load_row(row).await {
                Ok(loaded) => active.push(ActiveRule {
                    meta: RuleVersion::from(row),
                    loaded,
                }),
                Err(e) => {
                    tracing::error!(tenant, rule = %row.name, version = row.version, error = %e, "cannot load an active rule; the default policy applies");
                }
            }
        }
        let active = Arc::new(active);
        self.active
            .lock()
            .expect("rule cache")
            .insert(tenant.to_owned(), active.clone());
        Ok(active)
    }

    /// The rule that makes `kind` decisions for `project`: a project-scoped active rule wins
    /// over a tenant-wide one.
    pub async fn rule_for(
        &self,
        tenant: &str,
        project: Option<&str>,
        kind: DecisionKind,
    ) -> Result<Option<ActiveRule>, RulesError> {
        let active = self.active(tenant).await?;
        let implements = |r: &&ActiveRule| r.meta.decisions.contains(&kind);
        let scoped = project.and_then(|p| {
            active
                .iter()
                .filter(implements)
                .find(|r| r.meta.project.as_deref() == Some(p))
        });
        Ok(scoped
            .or_else(|| {
                active
                    .iter()
                    .filter(implements)
                    .find(|r| r.meta.project.is_none())
            })
            .cloned())
    }

    /// Loads every active rule of every tenant (at start-up, so the first webhook is fast).
    pub async fn warm(&self) -> Result<usize, RulesError> {
        let tenants: Vec<String> = rules::Entity::find()
            .select_only()
            .column(rules::Column::TenantId)
            .filter(rules::Column::State.eq("active"))
            .distinct()
            .into_tuple()
            .all(self.store.db())
            .await?;
        let mut n = 0;
        for t in tenants {
            n += self.active(&t).await?.len();
        }
        Ok(n)
    }
}
/// Format checks of the ticket field map and summary settings (`ticket.fields*`,
/// `ticket.summary*`); what Jira's create screen says is checked by `sync::fields`.
pub fn check_ticket_setting(key: &str, value: &str) -> Result<(), String> {
    use verdict_wire::field_map;
    if key.starts_with(field_map::KEY_FIELDS) {
        if field_map::scope_of(key).is_none() {
            return Err(format!(
                "`{key}` is not a field map key: use ticket.fields, ticket.fields.<PROJECT> or ticket.fields.<PROJECT>.<Issue_Type>"
            ));
        }
        return field_map::parse(value)
            .map(|_| ())
            .map_err(|e| format!("setting `{key}`: {e}"));
    }
    if key == field_map::KEY_OWNERS {
        return field_map::parse_owners(value)
            .map(|_| ())
            .map_err(|e| format!("setting `{key}`: {e}"));
    }
    if key == field_map::KEY_EPIC_BY {
        return match value {
            "repository" | "none" => Ok(()),
            _ => Err(format!("setting `{key}` is `repository` or `none`")),
        };
    }
    if key == field_map::KEY_GROUP_BY {
        return value
            .parse::<field_map::GroupBy>()
            .map(|_| ())
            .map_err(|e| format!("setting `{key}`: {e}"));
    }
    if key == field_map::KEY_EPIC_ISSUE_TYPE {
        return (value.chars().count() <= 255)
            .then_some(())
            .ok_or_else(|| format!("setting `{key}` is an issue type name"));
    }
    if key == field_map::KEY_EPIC
        || key
            .strip_prefix(field_map::KEY_EPIC)
            .is_some_and(|rest| rest.starts_with('.'))
    {
        return field_map::is_issue_key(value)
            .then_some(())
            .ok_or_else(|| format!("setting `{key}` is an epic's issue key, like SEC-12"));
    }
    if key == field_map::KEY_SUMMARY
        || key
            .strip_prefix(field_map::KEY_SUMMARY)
            .is_some_and(|rest| rest.starts_with('.'))
    {
        return field_map::check_summary(value).map_err(|e| format!("setting `{key}`: {e}"));
    }
    Ok(())
}
