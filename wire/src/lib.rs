//! What crosses Verdict's edges, parsed and rendered without I/O, so each parser can be fuzzed
//! alone (`fuzz/`): Jira webhook payloads and Forge events, Connect JWTs and `qsh`, ADF, issue templates,
//! ticket field maps, scanner findings batches, and the secret redaction applied before anything
//! is stored.

#![deny(unsafe_code)]

pub mod adf;
pub mod connect_jwt;
pub mod field_map;
pub mod findings;
pub mod forge_event;
pub mod jira_event;
pub mod qsh;
pub mod redact;
pub mod risk_date;
pub mod template;
