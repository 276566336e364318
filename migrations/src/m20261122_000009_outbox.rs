//! The outbox of outbound Jira actions (create issue, transition, comment, remote link) run by
//! leased workers, and the transitions Verdict made itself (so their webhooks are not read as
//! human decisions).

// async_trait expands `&SchemaManager` with its own lifetimes; spelling `<'_>` breaks the impl.
#![allow(elided_lifetimes_in_paths)]

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum OutboxJobs {
    Table,
    Id,
    TenantId,
    Kind,
    FindingId,
    BulkId,
    Payload,
    State,
    Attempts,
    NextAttemptAt,
    LeaseUntil,
    LeaseOwner,
    LastError,
    Outcome,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum OwnTransitions {
    Table,
    TenantId,
    IssueId,
    ToStatusId,
    ExpiresAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(OutboxJobs::Table)
                .col(
                    ColumnDef::new(OutboxJobs::Id)
                        .string_len(36)
                        .not_null()
                        .primary_key(),
                )
                .col(
                    ColumnDef::new(OutboxJobs::TenantId)
                        .string_len(36)
                        .not_null(),
                )
                .col(ColumnDef::new(OutboxJobs::Kind).string_len(32).not_null())
                .col(ColumnDef::new(OutboxJobs::FindingId).string_len(36).null())
                .col(ColumnDef::new(OutboxJobs::BulkId).string_len(36).null())
                .col(ColumnDef::new(OutboxJobs::Payload).text().not_null())
                .col(ColumnDef::new(OutboxJobs::State).string_len(16).not_null())
                .col(
                    ColumnDef::new(OutboxJobs::Attempts)
                        .integer()
                        .not_null()
                        .default(0),
                )
                .col(
                    ColumnDef::new(OutboxJobs::NextAttemptAt)
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(OutboxJobs::LeaseUntil)
                        .timestamp_with_time_zone()
                        .null(),
                )
                .col(ColumnDef::new(OutboxJobs::LeaseOwner).string_len(64).null())
                .col(ColumnDef::new(OutboxJobs::LastError).text().null())
                .col(ColumnDef::new(OutboxJobs::Outcome).text().null())
                .col(
                    ColumnDef::new(OutboxJobs::CreatedAt)
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(OutboxJobs::UpdatedAt)
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_outbox_jobs_due")
                .table(OutboxJobs::Table)
                .col(OutboxJobs::State)
                .col(OutboxJobs::NextAttemptAt)
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_outbox_jobs_tenant_state")
                .table(OutboxJobs::Table)
                .col(OutboxJobs::TenantId)
                .col(OutboxJobs::State)
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_outbox_jobs_bulk")
                .table(OutboxJobs::Table)
                .col(OutboxJobs::BulkId)
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_outbox_jobs_finding")
                .table(OutboxJobs::Table)
                .col(OutboxJobs::FindingId)
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(OwnTransitions::Table)
                .col(
                    ColumnDef::new(OwnTransitions::TenantId)
                        .string_len(36)
                        .not_null(),
                )
                .col(
                    ColumnDef::new(OwnTransitions::IssueId)
                        .string_len(32)
                        .not_null(),
                )
                .col(
                    ColumnDef::new(OwnTransitions::ToStatusId)
                        .string_len(32)
                        .not_null(),
                )
                .col(
                    ColumnDef::new(OwnTransitions::ExpiresAt)
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .primary_key(
                    Index::create()
                        .col(OwnTransitions::TenantId)
                        .col(OwnTransitions::IssueId)
                        .col(OwnTransitions::ToStatusId),
                )
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            OwnTransitions::Table.into_iden(),
            OutboxJobs::Table.into_iden(),
        ] {
            m.drop_table(Table::drop().table(t).to_owned()).await?;
        }
        Ok(())
    }
}
