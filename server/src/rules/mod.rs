//! The rules engine: customer rules as WebAssembly components run in wasmtime under strict
//! limits, the module registry per tenant, and the native default policy behind it all.

pub mod compile_cache;
mod convert;
pub mod decide;
pub mod engine;
pub mod error;
pub mod footprint;
pub mod limits;
pub mod registry;
pub mod replay;
pub mod scaffold;
pub mod smoke;
mod validate;

pub use compile_cache::{CacheStats, CompileCacheConfig, FunctionCache};
pub use decide::{Decided, DecisionSource, RuleUnavailable};
pub use engine::{
    DEFAULT_BASELINE_ABOVE, Evaluation, LoadedRule, LogLine, PrepareTimings, Prepared, RuleEngine,
    Tier, Usage,
};
pub use error::{RuleError, explain};
pub use footprint::{Footprint, Language, Toolchain};
pub use limits::{Limits, PoolCeilings};
pub use registry::{RuleRegistry, RuleVersion, RulesError};

/// The current contract (rules-sdk's WIT).
#[allow(clippy::all, missing_docs)]
mod bindings {
    wasmtime::component::bindgen!({
        world: "rule",
        path: "../rules-sdk/wit",
        // find-phrases traps when a rule exceeds its limits.
        imports: { default: trappable },
    });
}

/// The frozen 1.2.0 contract: modules built before 1.3.0 (no grouping facts, fields, group or
/// assignee).
#[allow(clippy::all, missing_docs)]
mod bindings_1_2 {
    wasmtime::component::bindgen!({
        world: "rule",
        path: "../rules-sdk/wit-frozen/1.2.0",
        imports: { default: trappable },
    });
}

/// The frozen 1.1.0 contract: modules built before 1.2.0 (no `find-phrases`).
#[allow(clippy::all, missing_docs)]
mod bindings_1_1 {
    wasmtime::component::bindgen!({
        world: "rule",
        path: "../rules-sdk/wit-frozen/1.1.0",
    });
}

/// The frozen 1.0.0 contract: modules built before 1.1.0 get its records.
#[allow(clippy::all, missing_docs)]
mod bindings_1_0 {
    wasmtime::component::bindgen!({
        world: "rule",
        path: "../rules-sdk/wit-frozen/1.0.0",
    });
}
