//! The wasmtime host: one engine for every tenant's rules, validation of uploaded modules,
//! and sandboxed evaluation with fuel, a wall-clock deadline, memory and size limits.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use rules_sdk::{
    CONTRACT_VERSION, DecisionKind, RuleInput, RuleOutput, SUPPORTED_CONTRACT_VERSIONS,
};
use serde::Serialize;
use wasmtime::component::{Component, InstancePre, Linker};
use wasmtime::{
    Config as WasmConfig, Engine, InstanceAllocationStrategy, PoolingAllocationConfig,
    ResourceLimiter, Store, Strategy, Trap,
};

use super::bindings::exports::verdict::rules::{closure, ticketing, transition};
use super::bindings::verdict::rules::host;
use super::bindings_1_0::exports::verdict::rules::{
    closure as closure_1_0, ticketing as ticketing_1_0, transition as transition_1_0,
};
use super::bindings_1_0::verdict::rules::host as host_1_0;
use super::bindings_1_1::exports::verdict::rules::{
    closure as closure_1_1, ticketing as ticketing_1_1, transition as transition_1_1,
};
use super::bindings_1_1::verdict::rules::host as host_1_1;
use super::bindings_1_2::exports::verdict::rules::{
    closure as closure_1_2, ticketing as ticketing_1_2, transition as transition_1_2,
};
use super::bindings_1_2::verdict::rules::host as host_1_2;
use super::compile_cache::{CacheStats, CompileCacheConfig, FunctionCache};
use super::convert;
use super::error::RuleError;
use super::footprint::{self, Footprint, Toolchain};
use super::limits::{CEILING, Limits, PoolCeilings, STACK_BYTES};
use super::validate::validate_output;

/// How much of a rule's memory stays mapped between evaluations when the kernel can say
/// which pages a run wrote (Linux ≥ 6.7, `PAGEMAP_SCAN`): only those are copied back from the
/// module's image, so the next fresh instance takes no page faults. Without it, a kept page
/// would be wiped whether written or not, so memory is handed back to the kernel instead.
const KEEP_RESIDENT: usize = 4 << 20;

/// How often the epoch advances; deadlines are whole ticks.
const TICK: Duration = Duration::from_millis(1);
/// The only import a rule may have.
pub const HOST_INTERFACE: &str = "verdict:rules/host";
const TYPES_INTERFACE: &str = "verdict:rules/types";

/// Components at least this large are compiled by the baseline compiler at upload (see
/// [`Tier`]): CPython's 18 MB take Cranelift ~12 s on two cores, Winch ~1 s; QuickJS's
/// 1.1 MB and Rust rules are compiled by Cranelift at once.
pub const DEFAULT_BASELINE_ABOVE: usize = 4 << 20;

/// Which compiler made a loaded rule's machine code.
///
/// A large component (an interpreter such as CPython) is first compiled by Winch, a
/// single-pass compiler about ten times faster than Cranelift, so an upload answers in
/// seconds; Cranelift then compiles it again in the background and the optimized code
/// replaces the baseline code for every later evaluation (tier-up). Both run under the same
/// limits and give the same decisions; the baseline code is slower to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Tier {
    /// Cranelift: optimized code, the final tier.
    Optimized,
    /// Winch: fast to compile, slower to run; replaced by [`Tier::Optimized`] once compiled.
    Baseline,
}

impl Tier {
    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Optimized => "optimized",
            Tier::Baseline => "baseline",
        }
    }

    /// As stored; anything else was made before tiers existed, by Cranelift.
    pub fn parse(s: &str) -> Tier {
        if s == "baseline" {
            Tier::Baseline
        } else {
            Tier::Optimized
        }
    }
}

/// A rule compiled and linked, ready to instantiate.
pub struct LoadedRule {
    pre: InstancePre<HostState>,
    exports: Exports,
    /// The compiler that made the code (evaluations run on that compiler's engine).
    pub tier: Tier,
    pub contract_version: String,
    pub decisions: Vec<DecisionKind>,
    /// What one instance takes from the pool; also the store's limits for each evaluation.
    pub footprint: Footprint,
    pub toolchain: Toolchain,
}

/// Where a rule's decisions are, in the records of the contract version it was built against.
enum Exports {
    Current {
        closure: Option<closure::GuestIndices>,
        transition: Option<transition::GuestIndices>,
        ticketing: Option<ticketing::GuestIndices>,
    },
    V1_2 {
        closure: Option<closure_1_2::GuestIndices>,
        transition: Option<transition_1_2::GuestIndices>,
        ticketing: Option<ticketing_1_2::GuestIndices>,
    },
    V1_1 {
        closure: Option<closure_1_1::GuestIndices>,
        transition: Option<transition_1_1::GuestIndices>,
        ticketing: Option<ticketing_1_1::GuestIndices>,
    },
    V1_0 {
        closure: Option<closure_1_0::GuestIndices>,
        transition: Option<transition_1_0::GuestIndices>,
        ticketing: Option<ticketing_1_0::GuestIndices>,
    },
}

impl LoadedRule {
    pub fn implements(&self, kind: DecisionKind) -> bool {
        self.decisions.contains(&kind)
    }
}

/// A validated upload: what to store.
pub struct Prepared {
    pub rule: LoadedRule,
    /// The component (an uploaded core module is wrapped into one).
    pub component: Vec<u8>,
    /// wasmtime's serialized compilation of `component`, tied to this engine's settings.
    pub artifact: Vec<u8>,
    /// Where the upload's time went.
    pub timings: PrepareTimings,
}

/// The phases of an upload, for the log line and the benchmarks.
#[derive(Debug, Clone, Copy, Default)]
pub struct PrepareTimings {
    /// Reading the component's shape and producers.
    pub read: Duration,
    /// Cranelift (all cores), with the compiled-function cache.
    pub compile: Duration,
    /// Linking and counting what one instance takes.
    pub link: Duration,
    pub serialize: Duration,
    /// The smoke run of every decision on a built-in fixture.
    pub smoke: Duration,
}

/// A log line a rule wrote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct LogLine {
    pub level: String,
    pub message: String,
}

/// What one evaluation used, against its limits.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Usage {
    pub fuel_used: u64,
    pub fuel_limit: u64,
    pub memory_peak_bytes: usize,
    pub memory_limit_bytes: usize,
    pub elapsed_us: u64,
    pub deadline_ms: u64,
    pub input_bytes: usize,
    pub input_limit_bytes: usize,
    pub output_bytes: usize,
    pub output_limit_bytes: usize,
    pub log_bytes: usize,
    pub log_limit_bytes: usize,
    pub logs_truncated: bool,
}

/// A finished evaluation: the decision (or the error) with usage and logs either way.
#[derive(Debug, Clone)]
pub struct Evaluation {
    pub result: Result<RuleOutput, RuleError>,
    pub usage: Usage,
    pub logs: Vec<LogLine>,
}

pub struct HostState {
    /// The rule's own footprint: an instance can never create more than it declared.
    footprint: Footprint,
    memory_limit: usize,
    memory_peak: usize,
    memory_denied: bool,
    log_left: usize,
    log_used: usize,
    logs: Vec<LogLine>,
    logs_truncated: bool,
    /// Fuel left for `find-phrases`, whose native work wasm fuel does not see.
    phrase_fuel_left: u64,
    phrase_fuel_used: u64,
    /// When the evaluation must end: a search does not start after it.
    deadline: Instant,
}

/// The most fuel `find-phrases` may use in one evaluation, whatever the tenant's fuel limit:
/// ~16 comparisons a unit, so at most ~0.1 s of native work.
const PHRASE_FUEL_CEILING: u64 = 10_000_000;

/// Returned by `find-phrases` when its fuel is used up; reported as `out_of_fuel`.
#[derive(Debug, thiserror::Error)]
#[error("find-phrases: out of fuel")]
struct PhraseFuelExhausted;

impl HostState {
    fn new(footprint: Footprint, limits: &Limits) -> Self {
        HostState {
            footprint,
            memory_limit: limits.memory_bytes,
            memory_peak: 0,
            memory_denied: false,
            log_left: limits.log_bytes,
            log_used: 0,
            logs: Vec::new(),
            logs_truncated: false,
            phrase_fuel_left: limits.fuel.min(PHRASE_FUEL_CEILING),
            phrase_fuel_used: 0,
            deadline: Instant::now() + Duration::from_millis(limits.deadline_ms),
        }
    }
}

/// The host interfaces of earlier contract versions: the same log, with their own generated
/// types (they have no `find-phrases`).
macro_rules! earlier_host {
    ($($version:ident),+) => {$(
        impl $version::Host for HostState {
            fn log(&mut self, level: $version::Level, message: String) {
                let level = match level {
                    $version::Level::Debug => host::Level::Debug,
                    $version::Level::Info => host::Level::Info,
                    $version::Level::Warn => host::Level::Warn,
                    $version::Level::Error => host::Level::Error,
                };
                self.write_log(level, message);
            }
        }
    )+};
}
earlier_host!(host_1_0, host_1_1);

/// The 1.2.0 host: the current one, in 1.2.0's generated types.
impl host_1_2::Host for HostState {
    fn log(&mut self, level: host_1_2::Level, message: String) -> wasmtime::Result<()> {
        let level = match level {
            host_1_2::Level::Debug => host::Level::Debug,
            host_1_2::Level::Info => host::Level::Info,
            host_1_2::Level::Warn => host::Level::Warn,
            host_1_2::Level::Error => host::Level::Error,
        };
        self.write_log(level, message);
        Ok(())
    }

    fn find_phrases(
        &mut self,
        texts: Vec<String>,
        phrases: Vec<String>,
    ) -> wasmtime::Result<Vec<host_1_2::PhraseMatch>> {
        let found = host::Host::find_phrases(self, texts, phrases)?;
        Ok(found
            .into_iter()
            .map(|m| host_1_2::PhraseMatch {
                text: m.text,
                offset: m.offset,
                phrase: m.phrase,
                word: m.word,
            })
            .collect())
    }
}

impl host::Host for HostState {
    fn log(&mut self, level: host::Level, message: String) -> wasmtime::Result<()> {
        self.write_log(level, message);
        Ok(())
    }

    fn find_phrases(
        &mut self,
        texts: Vec<String>,
        phrases: Vec<String>,
    ) -> wasmtime::Result<Vec<host::PhraseMatch>> {
        if Instant::now() >= self.deadline {
            return Err(Trap::Interrupt.into());
        }
        let cost = rules_sdk::text::cost(&texts, &phrases);
        if cost > self.phrase_fuel_left {
            self.phrase_fuel_used += self.phrase_fuel_left;
            self.phrase_fuel_left = 0;
            return Err(PhraseFuelExhausted.into());
        }
        self.phrase_fuel_left -= cost;
        self.phrase_fuel_used += cost;
        let found = rules_sdk::text::find_phrases(&texts, &phrases)?;
        Ok(found
            .into_iter()
            .map(|m| host::PhraseMatch {
                text: m.text,
                offset: m.offset,
                phrase: m.phrase,
                word: m.word,
            })
            .collect())
    }
}

impl HostState {
    fn write_log(&mut self, level: host::Level, message: String) {
        if self.logs_truncated {
            return;
        }
        let take = message.len().min(self.log_left);
        if take < message.len() {
            self.logs_truncated = true;
        }
        if take == 0 {
            return;
        }
        let mut end = take;
        while !message.is_char_boundary(end) {
            end -= 1;
        }
        self.log_left -= end;
        self.log_used += end;
        let level = match level {
            host::Level::Debug => "debug",
            host::Level::Info => "info",
            host::Level::Warn => "warn",
            host::Level::Error => "error",
        };
        self.logs.push(LogLine {
            level: level.to_owned(),
            message: message[..end].to_owned(),
        });
    }
}

/// Returned by the limiter so the trap can be told apart from a guest abort.
#[derive(Debug, thiserror::Error)]
#[error("memory limit reached")]
struct MemoryDenied;

impl ResourceLimiter for HostState {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.memory_limit {
            self.memory_denied = true;
            return Err(MemoryDenied.into());
        }
        self.memory_peak = self.memory_peak.max(desired);
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= 100_000)
    }

    fn instances(&self) -> usize {
        self.footprint.core_instances as usize
    }
    fn tables(&self) -> usize {
        self.footprint.tables as usize
    }
    fn memories(&self) -> usize {
        self.footprint.memories as usize
    }
}

/// One wasmtime engine per compiler tier, shared by every tenant; cheap to clone.
#[derive(Clone)]
pub struct RuleEngine(Arc<EngineInner>);

/// A wasmtime engine (one compiler, its own instance pool) and the host linked into it.
struct Backend {
    engine: Engine,
    linker: Linker<HostState>,
}

/// The baseline tier and which uploads it compiles.
struct Baseline {
    backend: Backend,
    /// Uploads at least this large.
    above: usize,
}

struct EngineInner {
    optimized: Backend,
    /// `None`: every rule is compiled by Cranelift at upload.
    baseline: Option<Baseline>,
    stop: Arc<AtomicBool>,
    slots: u32,
    ceilings: PoolCeilings,
    compile_cache: Option<Arc<FunctionCache>>,
}

impl Drop for EngineInner {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

impl RuleEngine {
    /// `slots` caps concurrent evaluations (the pooling allocator's size); every slot can
    /// hold a rule as large as `ceilings`. Compiled functions are cached in memory.
    pub fn new(slots: u32, ceilings: PoolCeilings) -> Result<Self, RuleError> {
        let cache = FunctionCache::open(&CompileCacheConfig::default())
            .map_err(|e| RuleError::InvalidModule(e.to_string()))?;
        Self::with_compile_cache(slots, ceilings, Some(Arc::new(cache)))
    }

    /// As [`RuleEngine::new`], with the compiled-function cache given (`None`: every rule is
    /// compiled from scratch). One cache may serve several engines.
    pub fn with_compile_cache(
        slots: u32,
        ceilings: PoolCeilings,
        compile_cache: Option<Arc<FunctionCache>>,
    ) -> Result<Self, RuleError> {
        Self::with_options(slots, ceilings, compile_cache, Some(DEFAULT_BASELINE_ABOVE))
    }

    /// As [`RuleEngine::with_compile_cache`]; components of at least `baseline_above` bytes
    /// are compiled by the baseline compiler at upload (`None`: always by Cranelift).
    pub fn with_options(
        slots: u32,
        ceilings: PoolCeilings,
        compile_cache: Option<Arc<FunctionCache>>,
        baseline_above: Option<usize>,
    ) -> Result<Self, RuleError> {
        let slots = slots.max(1);
        let optimized = backend(slots, ceilings, Strategy::Cranelift, compile_cache.as_ref())?;
        // Its own pool of the same size: at most `slots` evaluations run at once whichever
        // compiler made their code (the registry's semaphore), and virtual address space is
        // what a second pool costs.
        let baseline = baseline_above
            .map(|above| {
                backend(slots, ceilings, Strategy::Winch, None)
                    .map(|backend| Baseline { backend, above })
            })
            .transpose()?;
        let stop = Arc::new(AtomicBool::new(false));
        {
            let engines: Vec<Engine> = std::iter::once(&optimized)
                .chain(baseline.as_ref().map(|b| &b.backend))
                .map(|b| b.engine.clone())
                .collect();
            let stop = stop.clone();
            std::thread::Builder::new()
                .name("verdict-rule-epoch".into())
                .spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        std::thread::sleep(TICK);
                        for engine in &engines {
                            engine.increment_epoch();
                        }
                    }
                })
                .map_err(|e| RuleError::InvalidModule(format!("cannot start the ticker: {e}")))?;
        }
        Ok(RuleEngine(Arc::new(EngineInner {
            optimized,
            baseline,
            stop,
            slots,
            ceilings,
            compile_cache,
        })))
    }

    fn backend(&self, tier: Tier) -> &Backend {
        match (tier, &self.0.baseline) {
            (Tier::Baseline, Some(b)) => &b.backend,
            _ => &self.0.optimized,
        }
    }

    /// Compiles an upload (or a stored rule whose artifact is unusable): by Winch when it is
    /// large enough, else — or when Winch refuses it, e.g. for a wasm proposal Winch does not
    /// implement (tail calls, exceptions) — by Cranelift.
    fn compile_upload(&self, component: &[u8]) -> Result<(Tier, Component), RuleError> {
        if let Some(b) = self
            .0
            .baseline
            .as_ref()
            .filter(|b| component.len() >= b.above)
        {
            match Component::new(&b.backend.engine, component) {
                Ok(c) => return Ok((Tier::Baseline, c)),
                Err(e) => {
                    if let Some(refused) = over_ceiling(&e) {
                        return Err(refused);
                    }
                    tracing::info!(error = %format!("{e:#}"), "the baseline compiler refused the rule; compiling it with Cranelift");
                }
            }
        }
        Ok((Tier::Optimized, self.compile_optimized(component)?))
    }
}

/// One engine: every limit on, the instance pool sized for `slots` rules as large as
/// `ceilings`, the host linked.
fn backend(
    slots: u32,
    ceilings: PoolCeilings,
    strategy: Strategy,
    compile_cache: Option<&Arc<FunctionCache>>,
) -> Result<Backend, RuleError> {
    let mut pool = PoolingAllocationConfig::new();
    pool.total_component_instances(slots)
        .total_core_instances(slots * ceilings.core_instances)
        .total_memories(slots * ceilings.memories)
        .total_tables(slots * ceilings.tables)
        .max_core_instances_per_component(ceilings.core_instances)
        .max_memories_per_component(ceilings.memories)
        .max_tables_per_component(ceilings.tables)
        .max_memory_size(CEILING.memory_bytes)
        .max_memories_per_module(ceilings.memories)
        .max_tables_per_module(ceilings.tables)
        .pagemap_scan(wasmtime::Enabled::Auto);
    if PoolingAllocationConfig::is_pagemap_scan_available() {
        pool.linear_memory_keep_resident(KEEP_RESIDENT)
            .table_keep_resident(64 << 10);
    }
    let mut cfg = WasmConfig::new();
    cfg.strategy(strategy)
        .wasm_component_model(true)
        .consume_fuel(true)
        .epoch_interruption(true)
        .max_wasm_stack(STACK_BYTES)
        .memory_init_cow(true)
        .allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    if let Some(cache) = compile_cache {
        cfg.enable_incremental_compilation(cache.clone())
            .map_err(|e| RuleError::InvalidModule(format!("cannot cache compiles: {e:#}")))?;
    }
    let engine = Engine::new(&cfg)
        .map_err(|e| RuleError::InvalidModule(format!("cannot start wasmtime: {e:#}")))?;
    let mut linker = Linker::new(&engine);
    host::add_to_linker::<HostState, wasmtime::component::HasSelf<HostState>>(&mut linker, |s| s)
        .map_err(|e| RuleError::InvalidModule(format!("cannot link the host: {e:#}")))?;
    host_1_0::add_to_linker::<HostState, wasmtime::component::HasSelf<HostState>>(
        &mut linker,
        |s| s,
    )
    .map_err(|e| RuleError::InvalidModule(format!("cannot link the 1.0.0 host: {e:#}")))?;
    host_1_1::add_to_linker::<HostState, wasmtime::component::HasSelf<HostState>>(
        &mut linker,
        |s| s,
    )
    .map_err(|e| RuleError::InvalidModule(format!("cannot link the 1.1.0 host: {e:#}")))?;
    host_1_2::add_to_linker::<HostState, wasmtime::component::HasSelf<HostState>>(
        &mut linker,
        |s| s,
    )
    .map_err(|e| RuleError::InvalidModule(format!("cannot link the 1.2.0 host: {e:#}")))?;
    Ok(Backend { engine, linker })
}

impl RuleEngine {
    /// Hits and misses of the compiled-function cache since it was opened.
    pub fn compile_cache_stats(&self) -> Option<CacheStats> {
        self.0.compile_cache.as_ref().map(|c| c.stats())
    }

    /// Validates an upload: size, format, imports, contract version, exports, compile, and a
    /// smoke run of every exported decision on a built-in fixture.
    pub fn prepare(&self, bytes: &[u8], limits: &Limits) -> Result<Prepared, RuleError> {
        if bytes.len() > limits.module_bytes {
            return Err(RuleError::ModuleTooLarge {
                size: bytes.len(),
                limit: limits.module_bytes,
            });
        }
        let component_bytes = if wasmparser::Parser::is_component(bytes) {
            bytes.to_vec()
        } else if wasmparser::Parser::is_core_wasm(bytes) {
            wrap_core_module(bytes)?
        } else {
            return Err(RuleError::InvalidModule(
                "not a WebAssembly module or component (bad magic number)".into(),
            ));
        };
        // Refused before compiling: a rule the pool cannot hold would only fail later.
        let mut timings = PrepareTimings::default();
        let mut phase = Instant::now();
        let mut lap = |slot: &mut Duration| {
            *slot = phase.elapsed();
            phase = Instant::now();
        };
        let (least, toolchain) = footprint::read(&component_bytes)?;
        self.fits(least, true)?;
        lap(&mut timings.read);
        let (tier, component) = self.compile_upload(&component_bytes)?;
        lap(&mut timings.compile);
        let rule = self.link(&component, tier, least, toolchain, None)?;
        lap(&mut timings.link);
        let artifact = component
            .serialize()
            .map_err(|e| RuleError::InvalidModule(format!("cannot serialize: {e:#}")))?;
        lap(&mut timings.serialize);
        for kind in rule.decisions.clone() {
            let eval = self.evaluate(&rule, &super::smoke::input(kind), limits);
            eval.result.map_err(|e| match e {
                RuleError::OutputInvalid(m) => {
                    RuleError::OutputInvalid(format!("on the built-in {kind:?} fixture: {m}"))
                }
                other => other,
            })?;
        }
        lap(&mut timings.smoke);
        tracing::info!(
            language = rule.toolchain.language.as_str(),
            tier = tier.as_str(),
            bytes = component_bytes.len(),
            compile_ms = timings.compile.as_millis() as u64,
            total_ms =
                (timings.read + timings.compile + timings.link + timings.serialize + timings.smoke)
                    .as_millis() as u64,
            "rule compiled"
        );
        Ok(Prepared {
            rule,
            component: component_bytes,
            artifact,
            timings,
        })
    }

    /// Compiles `component` with Cranelift.
    fn compile_optimized(&self, component: &[u8]) -> Result<Component, RuleError> {
        Component::new(&self.0.optimized.engine, component).map_err(|e| {
            over_ceiling(&e).unwrap_or_else(|| RuleError::InvalidModule(format!("{e:#}")))
        })
    }

    /// The optimized tier of a rule loaded at the baseline tier: Cranelift compiles the
    /// component again (minutes of CPU for CPython, less with the compiled-function cache),
    /// and the result is linked with the footprint already measured. Returns the rule and its
    /// artifact, to store in place of the baseline one.
    pub fn optimize(
        &self,
        component: &[u8],
        rule: &LoadedRule,
    ) -> Result<(LoadedRule, Vec<u8>), RuleError> {
        let compiled = self.compile_optimized(component)?;
        let optimized = self.link(
            &compiled,
            Tier::Optimized,
            rule.footprint,
            rule.toolchain.clone(),
            Some(rule.footprint),
        )?;
        let artifact = compiled
            .serialize()
            .map_err(|e| RuleError::InvalidModule(format!("cannot serialize: {e:#}")))?;
        Ok((optimized, artifact))
    }

    /// Loads a stored artifact (of either tier); falls back to compiling the component when
    /// the artifact was made by a different wasmtime or different settings.
    /// `known` is the footprint measured and the toolchain read at upload (stored with the
    /// rule); without it the component is read and measured again.
    pub fn load(
        &self,
        artifact: &[u8],
        component: &[u8],
        known: Option<(Footprint, Toolchain)>,
    ) -> Result<LoadedRule, RuleError> {
        let (least, toolchain, measured) = match known {
            // A Python rule is 18 MB: not read again on every load.
            Some((footprint, toolchain)) => (footprint, toolchain, Some(footprint)),
            None => {
                let (least, toolchain) = footprint::read(component)?;
                (least, toolchain, None)
            }
        };
        // The operator may have lowered a ceiling since the upload.
        self.fits(least, measured.is_none())?;
        // An artifact is tied to the compiler that made it: wasmtime refuses a baseline
        // artifact on the optimized engine (its settings differ), so each tier is tried.
        let mut refused = None;
        for tier in [Tier::Optimized, Tier::Baseline] {
            if tier == Tier::Baseline && self.0.baseline.is_none() {
                break;
            }
            // SAFETY: the artifact is one this server produced with `Component::serialize`
            // and stored in its own database; wasmtime still checks that settings match.
            #[allow(unsafe_code)]
            let deserialized =
                unsafe { Component::deserialize(&self.backend(tier).engine, artifact) };
            match deserialized {
                Ok(compiled) => return self.link(&compiled, tier, least, toolchain, measured),
                Err(e) => refused = refused.or(Some(e)),
            }
        }
        if let Some(e) = refused {
            tracing::info!(error = %e, "stored rule artifact unusable; recompiling");
        }
        let (tier, compiled) = self.compile_upload(component)?;
        self.link(&compiled, tier, least, toolchain, measured)
    }

    /// Refuses a rule that needs more of the pool than one slot holds, naming both numbers
    /// (`least`: the numbers are a lower bound, counted before compiling).
    fn fits(&self, needs: Footprint, least: bool) -> Result<(), RuleError> {
        let c = self.0.ceilings;
        let over = [
            (
                "core instances",
                needs.core_instances,
                c.core_instances,
                "rules_max_core_instances",
            ),
            ("memories", needs.memories, c.memories, "rules_max_memories"),
            ("tables", needs.tables, c.tables, "rules_max_tables"),
        ]
        .into_iter()
        .find(|(_, n, max, _)| n > max);
        match over {
            Some((what, needs, ceiling, key)) => Err(RuleError::OverPoolCeiling {
                what,
                needs: if least {
                    format!("at least {needs}")
                } else {
                    needs.to_string()
                },
                ceiling,
                key,
            }),
            None => Ok(()),
        }
    }

    /// What one instance of the compiled rule really takes: wasmtime adds adapter modules
    /// between a component's parts, which the binary does not list. Memories and tables come
    /// from the compiled component; core instances are found by instantiating under a store
    /// limit (a binary search from the binary's own count up to the ceiling).
    fn measure(
        &self,
        component: &Component,
        pre: &InstancePre<HostState>,
        least: Footprint,
    ) -> Result<Footprint, RuleError> {
        let engine = component.engine();
        let c = self.0.ceilings;
        let (memories, tables) = component
            .resources_required()
            .map(|r| (r.num_memories, r.num_tables))
            .unwrap_or((least.memories, least.tables));
        let needs = Footprint {
            core_instances: least.core_instances,
            memories,
            tables,
        };
        self.fits(needs, false)?;
        let fits = |instances: u32| -> Result<bool, RuleError> {
            let probe = Footprint {
                core_instances: instances,
                memories: c.memories,
                tables: c.tables,
            };
            let mut store = Store::new(engine, HostState::new(probe, &CEILING));
            store.limiter(|s| s as &mut dyn ResourceLimiter);
            let _ = store.set_fuel(CEILING.fuel);
            store.set_epoch_deadline(CEILING.deadline_ms + 1);
            match pre.instantiate(&mut store) {
                Ok(_) => Ok(true),
                Err(e) if format!("{e:#}").contains("instance count too high") => Ok(false),
                Err(e) => Err(RuleError::InvalidModule(format!(
                    "cannot instantiate: {e:#}"
                ))),
            }
        };
        let (mut low, mut high) = (least.core_instances.max(1), c.core_instances);
        // Most rules need exactly what their binary lists: one probe.
        if low <= high && fits(low)? {
            return Ok(Footprint {
                core_instances: low,
                ..needs
            });
        }
        if !fits(high)? {
            return Err(RuleError::OverPoolCeiling {
                what: "core instances",
                needs: format!("more than {high}"),
                ceiling: high,
                key: "rules_max_core_instances",
            });
        }
        // Invariant: `high` fits; everything below `low` does not.
        while low < high {
            let mid = low + (high - low) / 2;
            if fits(mid)? {
                high = mid;
            } else {
                low = mid + 1;
            }
        }
        Ok(Footprint {
            core_instances: high,
            ..needs
        })
    }

    pub fn ceilings(&self) -> PoolCeilings {
        self.0.ceilings
    }

    fn link(
        &self,
        component: &Component,
        tier: Tier,
        least: Footprint,
        toolchain: Toolchain,
        known: Option<Footprint>,
    ) -> Result<LoadedRule, RuleError> {
        let backend = self.backend(tier);
        let engine = &backend.engine;
        let ty = component.component_type();
        for (name, _) in ty.imports(engine) {
            check_import(name, name)?;
        }
        let mut decisions = Vec::new();
        let mut contract_version = None;
        for (name, _) in ty.exports(engine) {
            let Some((iface, v)) = split_versioned(name) else {
                continue;
            };
            let Some(short) = iface.strip_prefix("verdict:rules/") else {
                continue;
            };
            if !SUPPORTED_CONTRACT_VERSIONS.contains(&v) {
                return Err(unsupported(v));
            }
            if let Some(kind) = DecisionKind::ALL
                .into_iter()
                .find(|k| k.interface() == short)
            {
                decisions.push(kind);
                match &contract_version {
                    Some(seen) if seen != v => {
                        return Err(RuleError::InvalidModule(format!(
                            "the module exports decisions of two contract versions ({seen} and {v})"
                        )));
                    }
                    _ => contract_version = Some(v.to_owned()),
                }
            }
        }
        if decisions.is_empty() {
            return Err(RuleError::NoDecisions);
        }
        decisions.sort();
        let pre = backend
            .linker
            .instantiate_pre(component)
            .map_err(|e| RuleError::InvalidModule(format!("cannot link: {e:#}")))?;
        let footprint = match known {
            Some(f) => f,
            None => self.measure(component, &pre, least)?,
        };
        let mismatch = |what: &str, e: wasmtime::Error| {
            RuleError::InvalidModule(format!(
                "the `{what}` export does not match the contract: {e:#}"
            ))
        };
        let contract_version = contract_version.unwrap_or_else(|| CONTRACT_VERSION.to_owned());
        // Each decision's export indices, from the bindings of the module's contract version.
        macro_rules! indices {
            ($kind:expr, $iface:ident, $what:literal) => {
                decisions
                    .contains(&$kind)
                    .then(|| $iface::GuestIndices::new(&pre).map_err(|e| mismatch($what, e)))
                    .transpose()?
            };
        }
        let exports = if contract_version == "1.0.0" {
            Exports::V1_0 {
                closure: indices!(DecisionKind::Closure, closure_1_0, "closure"),
                transition: indices!(DecisionKind::Transition, transition_1_0, "transition"),
                ticketing: indices!(DecisionKind::Ticketing, ticketing_1_0, "ticketing"),
            }
        } else if contract_version == "1.2.0" {
            Exports::V1_2 {
                closure: indices!(DecisionKind::Closure, closure_1_2, "closure"),
                transition: indices!(DecisionKind::Transition, transition_1_2, "transition"),
                ticketing: indices!(DecisionKind::Ticketing, ticketing_1_2, "ticketing"),
            }
        } else if contract_version == "1.1.0" {
            Exports::V1_1 {
                closure: indices!(DecisionKind::Closure, closure_1_1, "closure"),
                transition: indices!(DecisionKind::Transition, transition_1_1, "transition"),
                ticketing: indices!(DecisionKind::Ticketing, ticketing_1_1, "ticketing"),
            }
        } else {
            Exports::Current {
                closure: indices!(DecisionKind::Closure, closure, "closure"),
                transition: indices!(DecisionKind::Transition, transition, "transition"),
                ticketing: indices!(DecisionKind::Ticketing, ticketing, "ticketing"),
            }
        };
        Ok(LoadedRule {
            pre,
            exports,
            tier,
            contract_version,
            decisions,
            footprint,
            toolchain,
        })
    }

    pub fn slots(&self) -> u32 {
        self.0.slots
    }

    /// Runs one decision in a fresh store. Blocking (CPU-bound): call it from a blocking
    /// thread in async code.
    pub fn evaluate(&self, rule: &LoadedRule, input: &RuleInput, limits: &Limits) -> Evaluation {
        let mut usage = Usage {
            fuel_limit: limits.fuel,
            memory_limit_bytes: limits.memory_bytes,
            deadline_ms: limits.deadline_ms,
            input_limit_bytes: limits.input_bytes,
            output_limit_bytes: limits.output_bytes,
            log_limit_bytes: limits.log_bytes,
            ..Usage::default()
        };
        let input_bytes = json_size(input);
        usage.input_bytes = input_bytes;
        if input_bytes > limits.input_bytes {
            return Evaluation {
                result: Err(RuleError::InputTooLarge {
                    size: input_bytes,
                    limit: limits.input_bytes,
                }),
                usage,
                logs: Vec::new(),
            };
        }
        let mut store = Store::new(
            &self.backend(rule.tier).engine,
            HostState::new(rule.footprint, limits),
        );
        store.limiter(|s| s as &mut dyn ResourceLimiter);
        // Fuel and epochs are always enabled on this engine, so these cannot fail.
        let _ = store.set_fuel(limits.fuel);
        let ticks = limits.deadline_ms.div_ceil(TICK.as_millis() as u64) + 1;
        store.set_epoch_deadline(ticks);
        let started = Instant::now();
        let result = run(rule, &mut store, input);
        usage.elapsed_us = started.elapsed().as_micros() as u64;
        let state = store.data();
        // find-phrases' native work counts as fuel used too.
        usage.fuel_used = limits.fuel - store.get_fuel().unwrap_or(0) + state.phrase_fuel_used;
        usage.memory_peak_bytes = state.memory_peak;
        usage.log_bytes = state.log_used;
        usage.logs_truncated = state.logs_truncated;
        let result = match result {
            Ok(output) => {
                let size = json_size(&output);
                usage.output_bytes = size;
                if size > limits.output_bytes {
                    Err(RuleError::OutputTooLarge {
                        size,
                        limit: limits.output_bytes,
                    })
                } else {
                    validate_output(input, &output).map(|()| output)
                }
            }
            Err(e) => Err(classify(e, state, limits)),
        };
        let logs = std::mem::take(&mut store.data_mut().logs);
        Evaluation {
            result,
            usage,
            logs,
        }
    }
}

fn run(
    rule: &LoadedRule,
    store: &mut Store<HostState>,
    input: &RuleInput,
) -> wasmtime::Result<RuleOutput> {
    let not_implemented = |k: DecisionKind| wasmtime::Error::new(NotImplemented(k.as_str()));
    // One decision: instantiate, find the export, call it with the input in that version's
    // records, and read the answer back.
    macro_rules! call {
        ($indices:expr, $kind:expr, $method:ident, $input:expr, $answer:path, $out:path) => {{
            let idx = $indices.as_ref().ok_or_else(|| not_implemented($kind))?;
            let instance = rule.pre.instantiate(&mut *store)?;
            let guest = idx.load(&mut *store, &instance)?;
            let answer = guest.$method(&mut *store, &$input)?;
            Ok($out($answer(answer)))
        }};
    }
    use convert::{v1_0, v1_1, v1_2, v1_3};
    match (&rule.exports, input) {
        (Exports::Current { closure, .. }, RuleInput::Closure(i)) => call!(
            closure,
            DecisionKind::Closure,
            call_decide,
            v1_3::closure_input(i),
            v1_3::closure_decision,
            RuleOutput::Closure
        ),
        (Exports::Current { transition, .. }, RuleInput::Transition(i)) => call!(
            transition,
            DecisionKind::Transition,
            call_choose,
            v1_3::transition_input(i),
            v1_3::transition_decision,
            RuleOutput::Transition
        ),
        (Exports::Current { ticketing, .. }, RuleInput::Ticketing(i)) => call!(
            ticketing,
            DecisionKind::Ticketing,
            call_plan,
            v1_3::ticket_input(i),
            v1_3::ticket_decision,
            RuleOutput::Ticketing
        ),
        (Exports::V1_2 { closure, .. }, RuleInput::Closure(i)) => call!(
            closure,
            DecisionKind::Closure,
            call_decide,
            v1_2::closure_input(i),
            v1_2::closure_decision,
            RuleOutput::Closure
        ),
        (Exports::V1_2 { transition, .. }, RuleInput::Transition(i)) => call!(
            transition,
            DecisionKind::Transition,
            call_choose,
            v1_2::transition_input(i),
            v1_2::transition_decision,
            RuleOutput::Transition
        ),
        (Exports::V1_2 { ticketing, .. }, RuleInput::Ticketing(i)) => call!(
            ticketing,
            DecisionKind::Ticketing,
            call_plan,
            v1_2::ticket_input(i),
            v1_2::ticket_decision,
            RuleOutput::Ticketing
        ),
        (Exports::V1_1 { closure, .. }, RuleInput::Closure(i)) => call!(
            closure,
            DecisionKind::Closure,
            call_decide,
            v1_1::closure_input(i),
            v1_1::closure_decision,
            RuleOutput::Closure
        ),
        (Exports::V1_1 { transition, .. }, RuleInput::Transition(i)) => call!(
            transition,
            DecisionKind::Transition,
            call_choose,
            v1_1::transition_input(i),
            v1_1::transition_decision,
            RuleOutput::Transition
        ),
        (Exports::V1_1 { ticketing, .. }, RuleInput::Ticketing(i)) => call!(
            ticketing,
            DecisionKind::Ticketing,
            call_plan,
            v1_1::ticket_input(i),
            v1_1::ticket_decision,
            RuleOutput::Ticketing
        ),
        (Exports::V1_0 { closure, .. }, RuleInput::Closure(i)) => call!(
            closure,
            DecisionKind::Closure,
            call_decide,
            v1_0::closure_input(i),
            v1_0::closure_decision,
            RuleOutput::Closure
        ),
        (Exports::V1_0 { transition, .. }, RuleInput::Transition(i)) => call!(
            transition,
            DecisionKind::Transition,
            call_choose,
            v1_0::transition_input(i),
            v1_0::transition_decision,
            RuleOutput::Transition
        ),
        (Exports::V1_0 { ticketing, .. }, RuleInput::Ticketing(i)) => call!(
            ticketing,
            DecisionKind::Ticketing,
            call_plan,
            v1_0::ticket_input(i),
            v1_0::ticket_decision,
            RuleOutput::Ticketing
        ),
    }
}

#[derive(Debug, thiserror::Error)]
#[error("not implemented: {0}")]
struct NotImplemented(&'static str);

/// Turns a wasmtime error into the typed error a rule author can look up.
fn classify(e: wasmtime::Error, state: &HostState, limits: &Limits) -> RuleError {
    if let Some(NotImplemented(k)) = e.downcast_ref::<NotImplemented>() {
        let k = DecisionKind::ALL
            .into_iter()
            .find(|d| d.as_str() == *k)
            .map(DecisionKind::as_str)
            .unwrap_or("unknown");
        return RuleError::NotImplemented(k);
    }
    if e.downcast_ref::<PhraseFuelExhausted>().is_some() {
        return RuleError::OutOfFuel { limit: limits.fuel };
    }
    if state.memory_denied || e.downcast_ref::<MemoryDenied>().is_some() {
        return RuleError::MemoryLimit {
            limit: limits.memory_bytes,
        };
    }
    let message = format!("{e:#}");
    if message.contains("pooling") && message.contains("limit") {
        return RuleError::Busy(None);
    }
    match e.downcast_ref::<Trap>() {
        Some(Trap::OutOfFuel) => RuleError::OutOfFuel { limit: limits.fuel },
        Some(Trap::Interrupt) => RuleError::DeadlineExceeded {
            limit_ms: limits.deadline_ms,
        },
        Some(Trap::StackOverflow) => RuleError::StackOverflow { limit: STACK_BYTES },
        Some(trap) => {
            // A Rust guest's panic message, or the uncaught exception the JS and Python SDKs'
            // builds log, reaches us as its last error log line.
            let panic = state
                .logs
                .iter()
                .rev()
                .find(|l| {
                    l.message.starts_with("panicked") || l.message.starts_with("uncaught exception")
                })
                .map(|l| format!(" ({})", l.message))
                .unwrap_or_default();
            let at = e
                .downcast_ref::<wasmtime::WasmBacktrace>()
                .and_then(|bt| {
                    bt.frames()
                        .first()
                        .and_then(|f| f.func_name().map(str::to_owned))
                })
                .map(|f| format!(" in `{f}`"))
                .unwrap_or_default();
            RuleError::Trap(format!("{trap}{at}{panic}"))
        }
        None => RuleError::Trap(format!("the rule failed: {message}")),
    }
}

/// wasmtime's pooling allocator checks a component against the per-component maxima when it
/// compiles it, counting what the binary does not show (adapter modules between its parts):
/// "The component transitively contains 13 core module instances, which exceeds the configured
/// maximum of 12 in the pooling allocator". That count is exact, so it is what the rule author
/// is told.
fn over_ceiling(e: &wasmtime::Error) -> Option<RuleError> {
    let message = format!("{e:#}");
    let rest = message.split("transitively contains ").nth(1)?;
    let (needs, rest) = rest.split_once(' ')?;
    let needs: u32 = needs.parse().ok()?;
    let ceiling: u32 = rest
        .split("configured maximum of ")
        .nth(1)?
        .split(' ')
        .next()?
        .parse()
        .ok()?;
    let (what, key) = if rest.starts_with("core module instances") {
        ("core instances", "rules_max_core_instances")
    } else if rest.starts_with("Wasm linear memories") {
        ("memories", "rules_max_memories")
    } else if rest.starts_with("tables") {
        ("tables", "rules_max_tables")
    } else {
        return None;
    };
    Some(RuleError::OverPoolCeiling {
        what,
        needs: needs.to_string(),
        ceiling,
        key,
    })
}

/// Rules may import the host interface (and the contract's type-only interface); anything
/// else — WASI, `env`, another package — is refused.
fn check_import(name: &str, shown: &str) -> Result<(), RuleError> {
    match split_versioned(name) {
        Some((HOST_INTERFACE | TYPES_INTERFACE, v)) if SUPPORTED_CONTRACT_VERSIONS.contains(&v) => {
            Ok(())
        }
        Some((HOST_INTERFACE | TYPES_INTERFACE, v)) => Err(unsupported(v)),
        _ => Err(RuleError::ForbiddenImport(shown.to_owned())),
    }
}

fn unsupported(found: &str) -> RuleError {
    RuleError::UnsupportedContractVersion {
        found: found.to_owned(),
        supported: SUPPORTED_CONTRACT_VERSIONS.join(", "),
    }
}

/// The size of `v` as JSON, counted without building the text.
fn json_size(v: &impl Serialize) -> usize {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut c = Count(0);
    let _ = serde_json::to_writer(&mut c, v);
    c.0
}

/// `verdict:rules/closure@1.0.0` → (`verdict:rules/closure`, `1.0.0`).
fn split_versioned(name: &str) -> Option<(&str, &str)> {
    name.rsplit_once('@')
}

/// An uploaded core module (what `cargo build --target wasm32-unknown-unknown` makes) becomes
/// a component with wit-component, after its imports pass the allow-list.
fn wrap_core_module(bytes: &[u8]) -> Result<Vec<u8>, RuleError> {
    for payload in wasmparser::Parser::new(0).parse_all(bytes) {
        let payload = payload.map_err(|e| RuleError::InvalidModule(e.to_string()))?;
        if let wasmparser::Payload::ImportSection(reader) = payload {
            for import in reader {
                let import = import.map_err(|e| RuleError::InvalidModule(e.to_string()))?;
                let (module, name) = match &import {
                    wasmparser::Imports::Single(_, i) => (i.module, i.name),
                    wasmparser::Imports::Compact1 { module, items } => {
                        let first = items
                            .clone()
                            .into_iter()
                            .next()
                            .and_then(Result::ok)
                            .map(|i| i.name)
                            .unwrap_or("");
                        (*module, first)
                    }
                    wasmparser::Imports::Compact2 { module, .. } => (*module, ""),
                };
                check_import(module, &format!("{module}::{name}"))?;
            }
        }
    }
    wit_component::ComponentEncoder::default()
        .validate(true)
        .module(bytes)
        .and_then(|mut e| e.encode())
        .map_err(|e| {
            RuleError::InvalidModule(format!(
                "cannot turn the core module into a component (was it built with rules-sdk?): {e:#}"
            ))
        })
}
