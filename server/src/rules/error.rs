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
    #[error("unsupported contract version {found}: this server supports verdict:rules@{supported}")]
    UnsupportedContractVersion { found: String, supported: String },
    #[error(
        "forbidden import `{0}`: rules may only import verdict:rules/host (no WASI, no other imports)"
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
    #[error("all {0} rule instances are busy; try again")]
    Busy(u32),
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
        )
    }
}

/// Shown in logs as `code: message`.
pub struct Coded<'a>(pub &'a RuleError);

impl fmt::Display for Coded<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.0.code(), self.0)
    }
}
