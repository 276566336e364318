//! A ticket's due date on its link, when Verdict said on the ticket that it passed it with its
//! finding still open (once per ticket), and a hash of the content last sent to the ticket (so
//! an update is sent only on a real change).

// async_trait expands `&SchemaManager` with its own lifetimes; spelling `<'_>` breaks the impl.
#![allow(elided_lifetimes_in_paths)]

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum JiraLinks {
    Table,
    DueDate,
    OverdueNotedAt,
    PushedHash,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // SQLite takes one added column per statement.
        m.alter_table(
            Table::alter()
                .table(JiraLinks::Table)
                .add_column(ColumnDef::new(JiraLinks::DueDate).string_len(10).null())
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(JiraLinks::Table)
                .add_column(
                    ColumnDef::new(JiraLinks::OverdueNotedAt)
                        .timestamp_with_time_zone()
                        .null(),
                )
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(JiraLinks::Table)
                .add_column(ColumnDef::new(JiraLinks::PushedHash).string_len(64).null())
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for col in [
            JiraLinks::PushedHash,
            JiraLinks::OverdueNotedAt,
            JiraLinks::DueDate,
        ] {
            m.alter_table(
                Table::alter()
                    .table(JiraLinks::Table)
                    .drop_column(col)
                    .to_owned(),
            )
            .await?;
        }
        Ok(())
    }
}
