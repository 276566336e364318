//! Verdict's schema as ordered migrations, portable across SQLite (default) and PostgreSQL.
//! `verdict migrate` and `verdict serve` apply whatever is pending, in order.

#![forbid(unsafe_code)]

pub use sea_orm_migration::prelude::*;

mod m20261122_000001_initial;
mod m20261122_000002_connections;
mod m20261122_000003_oauth;
mod m20261122_000004_dynamic_webhooks;
mod m20261122_000005_webhook_inbox;
mod m20261122_000006_credentials;
mod m20261122_000007_rules;
mod m20261122_000008_triage;
mod m20261122_000009_outbox;
mod m20261124_000010_admin;
mod m20261127_000011_queues;
mod m20261127_000012_scan_verification;
mod m20261128_000013_rule_languages;
mod m20261128_000014_fair_queues;
mod m20261128_000015_decision_notes;
mod m20261128_000016_personal_data_reports;
mod m20261128_000017_rule_code_tier;
mod m20261207_000018_one_oauth_tenant_per_site;
mod m20261207_000019_forge_installations;
mod m20261207_000020_scoped_keys;
mod m20261207_000021_ticket_due_dates;
mod m20261207_000022_ticket_epics;
mod m20261207_000023_ticket_groups;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261122_000001_initial::Migration),
            Box::new(m20261122_000002_connections::Migration),
            Box::new(m20261122_000003_oauth::Migration),
            Box::new(m20261122_000004_dynamic_webhooks::Migration),
            Box::new(m20261122_000005_webhook_inbox::Migration),
            Box::new(m20261122_000006_credentials::Migration),
            Box::new(m20261122_000007_rules::Migration),
            Box::new(m20261122_000008_triage::Migration),
            Box::new(m20261122_000009_outbox::Migration),
            Box::new(m20261124_000010_admin::Migration),
            Box::new(m20261127_000011_queues::Migration),
            Box::new(m20261127_000012_scan_verification::Migration),
            Box::new(m20261128_000013_rule_languages::Migration),
            Box::new(m20261128_000014_fair_queues::Migration),
            Box::new(m20261128_000015_decision_notes::Migration),
            Box::new(m20261128_000016_personal_data_reports::Migration),
            Box::new(m20261128_000017_rule_code_tier::Migration),
            Box::new(m20261207_000018_one_oauth_tenant_per_site::Migration),
            Box::new(m20261207_000019_forge_installations::Migration),
            Box::new(m20261207_000020_scoped_keys::Migration),
            Box::new(m20261207_000021_ticket_due_dates::Migration),
            Box::new(m20261207_000022_ticket_epics::Migration),
            Box::new(m20261207_000023_ticket_groups::Migration),
        ]
    }
}
