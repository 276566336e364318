//! What can go wrong with a rule, each with a stable code a rule author can look up in the
//! README ("Rule errors").

use std::fmt;

/// A rule failure. `code()` is stable; the message is for humans.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuleError {
    #[error("the module is {size} bytes, over the {limit}-byte limit")]
    ModuleTooLarge { size: usize, limit: usize },
    #[error("invalid module: {0}")]
    InvalidModule(String),
    #[error(
        "unsupported contract version {found}: this server runs verdict:rules versions {supported}"
    )]
    UnsupportedContractVersion { found: String, supported: String },
    #[error(
        "forbidden import `{0}`: rules may only import verdict:rules/host (no WASI, no other imports){hint}",
        hint = wasi_hint(.0)
    )]
    ForbiddenImport(String),
    #[error(
        "the module exports none of verdict:rules/closure, transition or ticketing (a Rust rule needs rules_sdk::export_rule!)"
    )]
    NoDecisions,
    #[error("the rule does not implement the `{0}` decision")]
    NotImplemented(&'static str),
    #[error("the input is {size} bytes, over the {limit}-byte limit")]
    InputTooLarge { size: usize, limit: usize },
    #[error("out of fuel: the rule used more than {limit} instructions")]
    OutOfFuel { limit: u64 },
    #[error("deadline exceeded: the rule ran longer than {limit_ms} ms")]
    DeadlineExceeded { limit_ms: u64 },
    #[error("memory limit: the rule tried to grow its memory beyond {limit} bytes")]
    MemoryLimit { limit: usize },
    #[error("stack overflow: the rule recursed beyond the {limit}-byte stack")]
    StackOverflow { limit: usize },
    /// wasmtime's trap description (`wasm trap: …`), where it happened, and a panic message.
    #[error("{0}")]
    Trap(String),
    #[error("invalid output: {0}")]
    OutputInvalid(String),
    #[error("the output is {size} bytes, over the {limit}-byte limit")]
    OutputTooLarge { size: usize, limit: usize },
    /// No instance free: `Some(n)` — the `n` this tenant may use at once are busy; `None` —
    /// the server's whole pool is.
    #[error("{}", busy_text(*.0))]
    Busy(Option<u32>),
    #[error(
        "the rule needs {needs} {what} per instance; this server allows {ceiling} (the operator's `{key}`)"
    )]
    OverPoolCeiling {
        what: &'static str,
        /// `38`, or `at least 70` / `more than 64` where it could not be counted exactly.
        needs: String,
        ceiling: u32,
        key: &'static str,
    },
}

fn busy_text(share: Option<u32>) -> String {
    match share {
        Some(n) => format!(
            "all {n} rule instances this tenant may use at once are busy (rules_tenant_share_percent); try again"
        ),
        None => {
            "every rule instance of the server is busy (rules_max_concurrent); try again".into()
        }
    }
}

impl RuleError {
    /// The stable code (also the metric label).
    pub fn code(&self) -> &'static str {
        match self {
            RuleError::ModuleTooLarge { .. } => "module_too_large",
            RuleError::InvalidModule(_) => "invalid_module",
            RuleError::UnsupportedContractVersion { .. } => "unsupported_contract_version",
            RuleError::ForbiddenImport(_) => "forbidden_import",
            RuleError::NoDecisions => "no_decisions",
            RuleError::NotImplemented(_) => "not_implemented",
            RuleError::InputTooLarge { .. } => "input_too_large",
            RuleError::OutOfFuel { .. } => "out_of_fuel",
            RuleError::DeadlineExceeded { .. } => "deadline_exceeded",
            RuleError::MemoryLimit { .. } => "memory_limit",
            RuleError::StackOverflow { .. } => "stack_overflow",
            RuleError::Trap(_) => "trap",
            RuleError::OutputInvalid(_) => "output_invalid",
            RuleError::OutputTooLarge { .. } => "output_too_large",
            RuleError::Busy(_) => "busy",
            RuleError::OverPoolCeiling { .. } => "over_pool_ceiling",
        }
    }

    /// Errors found before running anything (bad upload) as opposed to a run that failed.
    pub fn is_module_error(&self) -> bool {
        matches!(
            self,
            RuleError::ModuleTooLarge { .. }
                | RuleError::InvalidModule(_)
                | RuleError::UnsupportedContractVersion { .. }
                | RuleError::ForbiddenImport(_)
                | RuleError::NoDecisions
                | RuleError::OverPoolCeiling { .. }
        )
    }
}

/// What a rule error code means and what to do about it, in words (the admin app shows it
/// next to the technical message).
pub fn explain(code: &str) -> &'static str {
    match code {
        "module_too_large" => {
            "The file is bigger than this tenant allows for a rule (rules.limits.module_bytes). Build it in release mode with LTO and opt-level set, or raise the limit."
        }
        "invalid_module" => {
            "This is not a WebAssembly rule Verdict can load: it is not wasm, it does not compile, or its exports do not match the verdict:rules contract. Rebuild it with rules-sdk for wasm32-unknown-unknown."
        }
        "unsupported_contract_version" => {
            "The rule was built against a version of the verdict:rules contract this server does not support. Rebuild it with the rules-sdk that matches this server."
        }
        "forbidden_import" => {
            "The rule asks for something from outside the sandbox (WASI, files, clocks, `env`). Rules may only import verdict:rules/host (logging); remove the dependency that needs it. JavaScript and Python rules must be built with WASI stubbed (--stub-wasi), as the SDKs' build scripts do."
        }
        "no_decisions" => {
            "The module exports none of the three decisions (closure, transition, ticketing). A Rust rule needs rules_sdk::export_rule!(YourRule)."
        }
        "not_implemented" => {
            "The rule does not make this decision; the default policy makes it instead."
        }
        "input_too_large" => {
            "The ticket's data is larger than the rule may receive (rules.limits.input_bytes)."
        }
        "out_of_fuel" => {
            "The rule ran too many instructions (rules.limits.fuel): it loops, or does too much work for one ticket."
        }
        "deadline_exceeded" => {
            "The rule ran longer than its time limit (rules.limits.deadline_ms)."
        }
        "memory_limit" => {
            "The rule tried to use more memory than allowed (rules.limits.memory_bytes)."
        }
        "stack_overflow" => "The rule recursed too deeply and overflowed its stack.",
        "trap" => {
            "The rule crashed (a panic, an unreachable instruction, a bad memory access). The message says where; a Rust panic's message is included."
        }
        "output_invalid" => {
            "The rule answered something Verdict will not act on (an unknown transition, a verdict without a reason, a malformed date or label)."
        }
        "output_too_large" => {
            "The rule's answer is larger than allowed (rules.limits.output_bytes)."
        }
        "busy" => "Every rule instance was busy at that moment; try again.",
        "over_pool_ceiling" => {
            "The rule links more WebAssembly modules, memories or tables than one instance slot of this server holds (an interpreter such as QuickJS or CPython links several). The server's operator can raise rules_max_core_instances, rules_max_memories or rules_max_tables."
        }
        _ => "An unknown rule error.",
    }
}

/// How to build without WASI, for the toolchains that link it by default.
fn wasi_hint(import: &str) -> &'static str {
    if import.starts_with("wasi:") || import.starts_with("wasi_snapshot_preview1") {
        ". A JavaScript or Python rule links WASI unless it is built with stubs: \
         `componentize-qjs --stub-wasi …` (rules-sdk-js's build script does) or \
         `componentize-py … componentize --stub-wasi …` (rules-sdk-py's build script does); \
         a Rust rule must be built for wasm32-unknown-unknown, not wasm32-wasip1/p2"
    } else {
        ""
    }
}

/// Shown in logs as `code: message`.
pub struct Coded<'a>(pub &'a RuleError);

impl fmt::Display for Coded<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.0.code(), self.0)
    }
}
