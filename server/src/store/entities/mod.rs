//! sea-orm entities, one per table. Rows only: domain types and rules live in the domain modules.

pub mod admin_audit;
pub mod admin_sessions;
pub mod api_keys;
pub mod decisions;
pub mod finding_events;
pub mod findings;
pub mod forge_installations;
pub mod jira_links;
pub mod oauth_connections;
pub mod oauth_states;
pub mod outbox_jobs;
pub mod own_transitions;
pub mod personal_data_reports;
pub mod rejected_deliveries;
pub mod risk_expiries;
pub mod rules;
pub mod tenant_settings;
pub mod tenants;
pub mod ticket_comments;
pub mod ticket_epics;
pub mod ticket_groups;
pub mod ticket_states;
pub mod webhook_deliveries;
