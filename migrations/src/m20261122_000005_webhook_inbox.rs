//! The webhook inbox: every verified delivery is stored here before Jira gets its 2xx, so
//! nothing acknowledged can be lost; and the deliveries refused as malformed, for the admin.

// async_trait expands `&SchemaManager` with its own lifetimes; spelling `<'_>` breaks the impl.
#![allow(elided_lifetimes_in_paths)]

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum WebhookDeliveries {
    Table,
    Id,
    TenantId,
    Identifier,
    RetryCount,
    Event,
    Source,
    ReceivedAt,
    Body,
    State,
    Attempts,
    LeaseUntil,
    ProcessedAt,
    Outcome,
}

#[derive(DeriveIden)]
enum RejectedDeliveries {
    Table,
    Id,
    TenantId,
    Route,
    ReceivedAt,
    Reason,
    BodyExcerpt,
}

#[derive(DeriveIden)]
enum Tenants {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(WebhookDeliveries::Table)
                .col(
                    ColumnDef::new(WebhookDeliveries::Id)
                        .string_len(36)
                        .not_null()
                        .primary_key(),
                )
                .col(
                    ColumnDef::new(WebhookDeliveries::TenantId)
                        .string_len(36)
                        .not_null(),
                )
                // X-Atlassian-Webhook-Identifier: stable across Jira's retries.
                .col(
                    ColumnDef::new(WebhookDeliveries::Identifier)
                        .string_len(128)
                        .not_null(),
                )
                .col(
                    ColumnDef::new(WebhookDeliveries::RetryCount)
                        .integer()
                        .not_null()
                        .default(0),
                )
                .col(
                    ColumnDef::new(WebhookDeliveries::Event)
                        .string_len(64)
                        .not_null(),
                )
                .col(
                    ColumnDef::new(WebhookDeliveries::Source)
                        .string_len(32)
                        .not_null(),
                )
                .col(
                    ColumnDef::new(WebhookDeliveries::ReceivedAt)
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .col(ColumnDef::new(WebhookDeliveries::Body).text().not_null())
                .col(
                    ColumnDef::new(WebhookDeliveries::State)
                        .string_len(16)
                        .not_null(),
                )
                .col(
                    ColumnDef::new(WebhookDeliveries::Attempts)
                        .integer()
                        .not_null()
                        .default(0),
                )
                .col(
                    ColumnDef::new(WebhookDeliveries::LeaseUntil)
                        .timestamp_with_time_zone()
                        .null(),
                )
                .col(
                    ColumnDef::new(WebhookDeliveries::ProcessedAt)
                        .timestamp_with_time_zone()
                        .null(),
                )
                .col(ColumnDef::new(WebhookDeliveries::Outcome).text().null())
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_webhook_deliveries_tenant")
                        .from(WebhookDeliveries::Table, WebhookDeliveries::TenantId)
                        .to(Tenants::Table, Tenants::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ux_webhook_deliveries_identifier")
                .table(WebhookDeliveries::Table)
                .col(WebhookDeliveries::TenantId)
                .col(WebhookDeliveries::Identifier)
                .unique()
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_webhook_deliveries_state")
                .table(WebhookDeliveries::Table)
                .col(WebhookDeliveries::State)
                .col(WebhookDeliveries::Id)
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(RejectedDeliveries::Table)
                .col(
                    ColumnDef::new(RejectedDeliveries::Id)
                        .string_len(36)
                        .not_null()
                        .primary_key(),
                )
                .col(
                    ColumnDef::new(RejectedDeliveries::TenantId)
                        .string_len(36)
                        .null(),
                )
                .col(
                    ColumnDef::new(RejectedDeliveries::Route)
                        .string_len(128)
                        .not_null(),
                )
                .col(
                    ColumnDef::new(RejectedDeliveries::ReceivedAt)
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .col(ColumnDef::new(RejectedDeliveries::Reason).text().not_null())
                .col(
                    ColumnDef::new(RejectedDeliveries::BodyExcerpt)
                        .text()
                        .not_null(),
                )
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(RejectedDeliveries::Table).to_owned())
            .await?;
        m.drop_table(Table::drop().table(WebhookDeliveries::Table).to_owned())
            .await?;
        Ok(())
    }
}
