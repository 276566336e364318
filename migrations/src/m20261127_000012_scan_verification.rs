//! Scan verification: a closure decision remembers the resolution it read and whether a later
//! scan contradicted it, and a finding's decisions are found by an index.

// async_trait expands `&SchemaManager` with its own lifetimes; spelling `<'_>` breaks the impl.
#![allow(elided_lifetimes_in_paths)]

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Decisions {
    Table,
    TenantId,
    FindingId,
    CreatedAt,
    Resolution,
    ContradictedAt,
    ContradictedBy,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite alters one thing at a time.
        for column in [
            ColumnDef::new(Decisions::Resolution)
                .string_len(255)
                .null()
                .to_owned(),
            ColumnDef::new(Decisions::ContradictedAt)
                .timestamp_with_time_zone()
                .null()
                .to_owned(),
            ColumnDef::new(Decisions::ContradictedBy)
                .string_len(64)
                .null()
                .to_owned(),
        ] {
            m.alter_table(
                Table::alter()
                    .table(Decisions::Table)
                    .add_column(column)
                    .to_owned(),
            )
            .await?;
        }
        m.create_index(
            Index::create()
                .name("ix_decisions_finding")
                .table(Decisions::Table)
                .col(Decisions::TenantId)
                .col(Decisions::FindingId)
                .col(Decisions::CreatedAt)
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_index(
            Index::drop()
                .name("ix_decisions_finding")
                .table(Decisions::Table)
                .to_owned(),
        )
        .await?;
        for column in [
            Decisions::ContradictedBy,
            Decisions::ContradictedAt,
            Decisions::Resolution,
        ] {
            m.alter_table(
                Table::alter()
                    .table(Decisions::Table)
                    .drop_column(column)
                    .to_owned(),
            )
            .await?;
        }
        Ok(())
    }
}
