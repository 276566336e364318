//! Verdict: sits beside Jira, pushes security findings into tickets and decides what a closed
//! ticket means (Resolved, False Positive, Accepted Risk) with customer-supplied rules.

#![deny(unsafe_code)]

pub mod admin;
pub mod app;
pub mod atlassian;
pub mod cache;
pub mod cli;
pub mod config;
pub mod demo;
pub mod findings;
pub mod http;
pub mod jira;
pub mod metrics;
pub mod outbox;
pub mod queue;
pub use verdict_wire::redact;
pub mod rules;
pub mod state;
pub mod store;
pub mod sync;
pub mod telemetry;
pub mod tenants;
pub mod triage;
pub mod webhooks;
