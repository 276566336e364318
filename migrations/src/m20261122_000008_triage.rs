//! The closure pipeline's state: the last change applied per ticket (ordering), the comments
//! seen per ticket (evidence), accepted-risk expiries, and which worker holds a delivery.

// async_trait expands `&SchemaManager` with its own lifetimes; spelling `<'_>` breaks the impl.
#![allow(elided_lifetimes_in_paths)]

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum TicketStates {
    Table,
    TenantId,
    IssueId,
    IssueKey,
    LastEventAt,
    LastChangelogId,
    Category,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum TicketComments {
    Table,
    TenantId,
    IssueId,
    CommentId,
    Author,
    Body,
    Created,
    Updated,
    Deleted,
}

#[derive(DeriveIden)]
enum RiskExpiries {
    Table,
    FindingId,
    TenantId,
    ExpiresAt,
}

#[derive(DeriveIden)]
enum WebhookDeliveries {
    Table,
    LeaseOwner,
}

#[derive(DeriveIden)]
enum Decisions {
    Table,
    DeliveryId,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(TicketStates::Table)
                .col(
                    ColumnDef::new(TicketStates::TenantId)
                        .string_len(36)
                        .not_null(),
                )
                .col(
                    ColumnDef::new(TicketStates::IssueId)
                        .string_len(32)
                        .not_null(),
                )
                .col(
                    ColumnDef::new(TicketStates::IssueKey)
                        .string_len(64)
                        .not_null(),
                )
                .col(
                    ColumnDef::new(TicketStates::LastEventAt)
                        .big_integer()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(TicketStates::LastChangelogId)
                        .big_integer()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(TicketStates::Category)
                        .string_len(16)
                        .not_null(),
                )
                .col(
                    ColumnDef::new(TicketStates::UpdatedAt)
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .primary_key(
                    Index::create()
                        .col(TicketStates::TenantId)
                        .col(TicketStates::IssueId),
                )
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(TicketComments::Table)
                .col(
                    ColumnDef::new(TicketComments::TenantId)
                        .string_len(36)
                        .not_null(),
                )
                .col(
                    ColumnDef::new(TicketComments::IssueId)
                        .string_len(32)
                        .not_null(),
                )
                .col(
                    ColumnDef::new(TicketComments::CommentId)
                        .string_len(32)
                        .not_null(),
                )
                .col(
                    ColumnDef::new(TicketComments::Author)
                        .string_len(128)
                        .not_null(),
                )
                .col(ColumnDef::new(TicketComments::Body).text().not_null())
                .col(
                    ColumnDef::new(TicketComments::Created)
                        .big_integer()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(TicketComments::Updated)
                        .big_integer()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(TicketComments::Deleted)
                        .boolean()
                        .not_null()
                        .default(false),
                )
                .primary_key(
                    Index::create()
                        .col(TicketComments::TenantId)
                        .col(TicketComments::IssueId)
                        .col(TicketComments::CommentId),
                )
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(RiskExpiries::Table)
                .col(
                    ColumnDef::new(RiskExpiries::FindingId)
                        .string_len(36)
                        .not_null()
                        .primary_key(),
                )
                .col(
                    ColumnDef::new(RiskExpiries::TenantId)
                        .string_len(36)
                        .not_null(),
                )
                .col(
                    ColumnDef::new(RiskExpiries::ExpiresAt)
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(WebhookDeliveries::Table)
                .add_column(
                    ColumnDef::new(WebhookDeliveries::LeaseOwner)
                        .string_len(64)
                        .null(),
                )
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(Decisions::Table)
                .add_column(ColumnDef::new(Decisions::DeliveryId).string_len(36).null())
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Decisions::Table)
                .drop_column(Decisions::DeliveryId)
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(WebhookDeliveries::Table)
                .drop_column(WebhookDeliveries::LeaseOwner)
                .to_owned(),
        )
        .await?;
        for t in [
            RiskExpiries::Table.into_iden(),
            TicketComments::Table.into_iden(),
            TicketStates::Table.into_iden(),
        ] {
            m.drop_table(Table::drop().table(t).to_owned()).await?;
        }
        Ok(())
    }
}
