//! Resource limits for one rule evaluation: defaults, per-tenant overrides and the hard
//! ceilings no override can pass.

use serde::{Deserialize, Serialize};

/// Limits for one evaluation. Every field has a default and a hard ceiling.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Instruction budget (wasmtime fuel).
    pub fuel: u64,
    /// Wall-clock deadline, milliseconds.
    pub deadline_ms: u64,
    /// Linear memory, bytes.
    pub memory_bytes: usize,
    /// Serialized input size, bytes.
    pub input_bytes: usize,
    /// Serialized output size, bytes.
    pub output_bytes: usize,
    /// Log text kept per evaluation, bytes (the rest is dropped and marked truncated).
    pub log_bytes: usize,
    /// Uploaded module size, bytes.
    pub module_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            fuel: 10_000_000,
            deadline_ms: 50,
            memory_bytes: 16 << 20,
            input_bytes: 256 << 10,
            output_bytes: 16 << 10,
            log_bytes: 1 << 10,
            // A Python rule carries CPython: ~18 MB. Rust rules are ~0.3 MB, JS ~1.1 MB.
            module_bytes: 32 << 20,
        }
    }
}

/// No tenant override may exceed these.
pub const CEILING: Limits = Limits {
    fuel: 1_000_000_000,
    deadline_ms: 1_000,
    memory_bytes: 64 << 20,
    input_bytes: 4 << 20,
    output_bytes: 256 << 10,
    log_bytes: 64 << 10,
    module_bytes: 64 << 20,
};

/// The largest body `POST /api/v1/rules` reads, whatever `api_body_limit_bytes` says: the
/// largest module any tenant may upload, plus room for a multipart envelope.
pub const UPLOAD_BODY_BYTES: usize = CEILING.module_bytes + (1 << 20);

/// The wasm stack is engine-wide in wasmtime, so it is a server setting, not per tenant.
pub const STACK_BYTES: usize = 512 << 10;

impl Limits {
    /// Each field capped at [`CEILING`] and at least 1.
    pub fn clamped(self) -> Limits {
        Limits {
            fuel: self.fuel.clamp(1, CEILING.fuel),
            deadline_ms: self.deadline_ms.clamp(1, CEILING.deadline_ms),
            memory_bytes: self.memory_bytes.clamp(64 << 10, CEILING.memory_bytes),
            input_bytes: self.input_bytes.clamp(1, CEILING.input_bytes),
            output_bytes: self.output_bytes.clamp(1, CEILING.output_bytes),
            log_bytes: self.log_bytes.min(CEILING.log_bytes),
            module_bytes: self.module_bytes.clamp(1, CEILING.module_bytes),
        }
    }

    /// The names, for messages.
    pub const KEYS: [&'static str; 7] = [
        "fuel",
        "deadline_ms",
        "memory_bytes",
        "input_bytes",
        "output_bytes",
        "log_bytes",
        "module_bytes",
    ];

    /// Overrides one limit by name (from tenant settings `rules.limits.<name>`); errors name
    /// the key and the ceiling.
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), String> {
        let n: u64 = value
            .trim()
            .parse()
            .map_err(|_| format!("rules.limits.{key} must be a whole number, got `{value}`"))?;
        let ceiling = match key {
            "fuel" => CEILING.fuel,
            "deadline_ms" => CEILING.deadline_ms,
            "memory_bytes" => CEILING.memory_bytes as u64,
            "input_bytes" => CEILING.input_bytes as u64,
            "output_bytes" => CEILING.output_bytes as u64,
            "log_bytes" => CEILING.log_bytes as u64,
            "module_bytes" => CEILING.module_bytes as u64,
            _ => {
                return Err(format!(
                    "unknown limit rules.limits.{key}; known: {}",
                    Self::KEYS.join(", ")
                ));
            }
        };
        if n == 0 || n > ceiling {
            return Err(format!(
                "rules.limits.{key} must be between 1 and {ceiling}, got {n}"
            ));
        }
        match key {
            "fuel" => self.fuel = n,
            "deadline_ms" => self.deadline_ms = n,
            "memory_bytes" => self.memory_bytes = n as usize,
            "input_bytes" => self.input_bytes = n as usize,
            "output_bytes" => self.output_bytes = n as usize,
            "log_bytes" => self.log_bytes = n as usize,
            _ => self.module_bytes = n as usize,
        }
        Ok(())
    }
}

/// What one rule instance may take from the instance pool, server-wide (set by the operator:
/// `rules_max_core_instances`, `rules_max_memories`, `rules_max_tables`). A Rust rule needs
/// one core instance, one memory and one table; an interpreter compiled to a component
/// (QuickJS, CPython) links several modules. The pool holds this much for every slot, so
/// any accepted rule can always run in any slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct PoolCeilings {
    pub core_instances: u32,
    pub memories: u32,
    pub tables: u32,
}

impl Default for PoolCeilings {
    fn default() -> Self {
        PoolCeilings {
            core_instances: 64,
            memories: 4,
            tables: 8,
        }
    }
}
