//! Groups: the scanner facts findings are grouped by (rule id, package, vulnerability ids), the
//! group a ticket link belongs to, and one row per group naming its ticket — claimed before the
//! ticket is created, so two findings of a new group never file two tickets.

// async_trait expands `&SchemaManager` with its own lifetimes; spelling `<'_>` breaks the impl.
#![allow(elided_lifetimes_in_paths)]

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Findings {
    Table,
    RuleId,
    Package,
    VulnerabilityIds,
}

#[derive(DeriveIden)]
enum JiraLinks {
    Table,
    TenantId,
    GroupKey,
}

#[derive(DeriveIden)]
enum TicketGroups {
    Table,
    TenantId,
    GroupKey,
    IssueId,
    IssueKey,
    ProjectKey,
    ClaimedBy,
    ClaimedAt,
    UpdatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // SQLite takes one added column per statement.
        for col in [
            ColumnDef::new(Findings::RuleId)
                .string_len(256)
                .null()
                .to_owned(),
            ColumnDef::new(Findings::Package)
                .string_len(256)
                .null()
                .to_owned(),
            ColumnDef::new(Findings::VulnerabilityIds)
                .json()
                .null()
                .to_owned(),
        ] {
            let mut col = col;
            m.alter_table(
                Table::alter()
                    .table(Findings::Table)
                    .add_column(&mut col)
                    .to_owned(),
            )
            .await?;
        }
        m.alter_table(
            Table::alter()
                .table(JiraLinks::Table)
                .add_column(ColumnDef::new(JiraLinks::GroupKey).string_len(300).null())
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_jira_links_tenant_group")
                .table(JiraLinks::Table)
                .col(JiraLinks::TenantId)
                .col(JiraLinks::GroupKey)
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(TicketGroups::Table)
                .col(
                    ColumnDef::new(TicketGroups::TenantId)
                        .string_len(36)
                        .not_null(),
                )
                .col(
                    ColumnDef::new(TicketGroups::GroupKey)
                        .string_len(300)
                        .not_null(),
                )
                .col(ColumnDef::new(TicketGroups::IssueId).string_len(32).null())
                .col(ColumnDef::new(TicketGroups::IssueKey).string_len(80).null())
                .col(
                    ColumnDef::new(TicketGroups::ProjectKey)
                        .string_len(64)
                        .null(),
                )
                .col(
                    ColumnDef::new(TicketGroups::ClaimedBy)
                        .string_len(36)
                        .null(),
                )
                .col(
                    ColumnDef::new(TicketGroups::ClaimedAt)
                        .timestamp_with_time_zone()
                        .null(),
                )
                .col(
                    ColumnDef::new(TicketGroups::UpdatedAt)
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .primary_key(
                    Index::create()
                        .col(TicketGroups::TenantId)
                        .col(TicketGroups::GroupKey),
                )
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(TicketGroups::Table).to_owned())
            .await?;
        m.drop_index(
            Index::drop()
                .name("ix_jira_links_tenant_group")
                .table(JiraLinks::Table)
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(JiraLinks::Table)
                .drop_column(JiraLinks::GroupKey)
                .to_owned(),
        )
        .await?;
        for col in [
            Findings::VulnerabilityIds,
            Findings::Package,
            Findings::RuleId,
        ] {
            m.alter_table(
                Table::alter()
                    .table(Findings::Table)
                    .drop_column(col)
                    .to_owned(),
            )
            .await?;
        }
        Ok(())
    }
}
