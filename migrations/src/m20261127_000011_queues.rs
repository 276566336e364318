//! Queues at scale: the inbox gets a `due_at` like the outbox's `next_attempt_at`, both get a
//! partial index that serves the claim's order directly, and retention and replicas get theirs.

// async_trait expands `&SchemaManager` with its own lifetimes; spelling `<'_>` breaks the impl.
#![allow(elided_lifetimes_in_paths)]

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::ConnectionTrait;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum WebhookDeliveries {
    Table,
    DueAt,
}

#[derive(DeriveIden)]
enum Replicas {
    Table,
    Id,
    StartedAt,
    HeartbeatAt,
}

#[derive(DeriveIden)]
enum JiraSitePace {
    Table,
    Site,
    Rate,
    PausedUntil,
    UpdatedBy,
    UpdatedAt,
}

/// Partial indexes: SQLite (≥ 3.8) and PostgreSQL spell them the same way. A claim's `WHERE`
/// repeats the index's predicate, so both planners walk the index in order and stop at the
/// batch size, whatever the backlog.
const CREATE: &[&str] = &[
    "CREATE INDEX ix_webhook_deliveries_claim ON webhook_deliveries (due_at, id) \
     WHERE state IN ('pending', 'processing')",
    "CREATE INDEX ix_webhook_deliveries_finished ON webhook_deliveries (processed_at) \
     WHERE state IN ('done', 'ignored')",
    "CREATE INDEX ix_outbox_jobs_claim ON outbox_jobs (next_attempt_at, id) \
     WHERE state IN ('pending', 'processing')",
    "CREATE INDEX ix_outbox_jobs_finished ON outbox_jobs (updated_at) \
     WHERE state IN ('done', 'skipped')",
    "CREATE INDEX ix_decisions_created_at ON decisions (created_at)",
];

const DROP_OLD: &[&str] = &[
    "DROP INDEX ix_webhook_deliveries_state",
    "DROP INDEX idx_outbox_jobs_due",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(WebhookDeliveries::Table)
                .add_column(
                    ColumnDef::new(WebhookDeliveries::DueAt)
                        .timestamp_with_time_zone()
                        .null(),
                )
                .to_owned(),
        )
        .await?;
        let db = m.get_connection();
        // A waiting delivery is due when its backoff (kept in lease_until until now) ends, or
        // at once.
        db.execute_unprepared(
            "UPDATE webhook_deliveries SET due_at = COALESCE(lease_until, received_at) \
             WHERE state IN ('pending', 'processing')",
        )
        .await?;
        // The outbox's due time now also ends a running job's lease.
        db.execute_unprepared(
            "UPDATE outbox_jobs SET next_attempt_at = lease_until \
             WHERE state = 'processing' AND lease_until IS NOT NULL",
        )
        .await?;
        for sql in DROP_OLD.iter().chain(CREATE) {
            db.execute_unprepared(sql).await?;
        }
        m.create_table(
            Table::create()
                .table(Replicas::Table)
                .col(
                    ColumnDef::new(Replicas::Id)
                        .string_len(64)
                        .not_null()
                        .primary_key(),
                )
                .col(
                    ColumnDef::new(Replicas::StartedAt)
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(Replicas::HeartbeatAt)
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(JiraSitePace::Table)
                .col(
                    ColumnDef::new(JiraSitePace::Site)
                        .string_len(255)
                        .not_null()
                        .primary_key(),
                )
                // Requests per second Jira allows this app on the site (all replicas together),
                // as learned from its headers; null until learned.
                .col(ColumnDef::new(JiraSitePace::Rate).double().null())
                .col(
                    ColumnDef::new(JiraSitePace::PausedUntil)
                        .timestamp_with_time_zone()
                        .null(),
                )
                .col(
                    ColumnDef::new(JiraSitePace::UpdatedBy)
                        .string_len(64)
                        .not_null(),
                )
                .col(
                    ColumnDef::new(JiraSitePace::UpdatedAt)
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(JiraSitePace::Table).to_owned())
            .await?;
        m.drop_table(Table::drop().table(Replicas::Table).to_owned())
            .await?;
        let db = m.get_connection();
        for name in [
            "ix_webhook_deliveries_claim",
            "ix_webhook_deliveries_finished",
            "ix_outbox_jobs_claim",
            "ix_outbox_jobs_finished",
            "ix_decisions_created_at",
        ] {
            db.execute_unprepared(&format!("DROP INDEX {name}")).await?;
        }
        db.execute_unprepared(
            "CREATE INDEX ix_webhook_deliveries_state ON webhook_deliveries (state, id)",
        )
        .await?;
        db.execute_unprepared(
            "CREATE INDEX idx_outbox_jobs_due ON outbox_jobs (state, next_attempt_at)",
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(WebhookDeliveries::Table)
                .drop_column(WebhookDeliveries::DueAt)
                .to_owned(),
        )
        .await?;
        Ok(())
    }
}
