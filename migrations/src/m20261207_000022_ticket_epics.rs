//! Epics Verdict created on demand (one per repository of a project), so every ticket of a
//! repository goes under the same epic, and a deleted epic is replaced rather than lost.

// async_trait expands `&SchemaManager` with its own lifetimes; spelling `<'_>` breaks the impl.
#![allow(elided_lifetimes_in_paths)]

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum TicketEpics {
    Table,
    TenantId,
    ProjectKey,
    GroupKey,
    EpicId,
    EpicKey,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(TicketEpics::Table)
                .col(
                    ColumnDef::new(TicketEpics::TenantId)
                        .string_len(36)
                        .not_null(),
                )
                .col(
                    ColumnDef::new(TicketEpics::ProjectKey)
                        .string_len(64)
                        .not_null(),
                )
                .col(
                    ColumnDef::new(TicketEpics::GroupKey)
                        .string_len(1100)
                        .not_null(),
                )
                .col(
                    ColumnDef::new(TicketEpics::EpicId)
                        .string_len(32)
                        .not_null(),
                )
                .col(
                    ColumnDef::new(TicketEpics::EpicKey)
                        .string_len(80)
                        .not_null(),
                )
                .col(
                    ColumnDef::new(TicketEpics::CreatedAt)
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .primary_key(
                    Index::create()
                        .col(TicketEpics::TenantId)
                        .col(TicketEpics::ProjectKey)
                        .col(TicketEpics::GroupKey),
                )
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(TicketEpics::Table).to_owned())
            .await
    }
}
