//! Dynamic webhooks an OAuth 2.0 connection registered in Jira: their ids, when they expire
//! (Jira drops them after 30 days unless refreshed) and the last registration error.

// async_trait expands `&SchemaManager` with its own lifetimes; spelling `<'_>` breaks the impl.
#![allow(elided_lifetimes_in_paths)]

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum OauthConnections {
    Table,
    WebhookIds,
    WebhooksExpireAt,
    WebhookError,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for mut column in [
            ColumnDef::new(OauthConnections::WebhookIds)
                .json()
                .null()
                .to_owned(),
            ColumnDef::new(OauthConnections::WebhooksExpireAt)
                .timestamp_with_time_zone()
                .null()
                .to_owned(),
            ColumnDef::new(OauthConnections::WebhookError)
                .text()
                .null()
                .to_owned(),
        ] {
            m.alter_table(
                Table::alter()
                    .table(OauthConnections::Table)
                    .add_column(&mut column)
                    .to_owned(),
            )
            .await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for column in [
            OauthConnections::WebhookError,
            OauthConnections::WebhooksExpireAt,
            OauthConnections::WebhookIds,
        ] {
            m.alter_table(
                Table::alter()
                    .table(OauthConnections::Table)
                    .drop_column(column)
                    .to_owned(),
            )
            .await?;
        }
        Ok(())
    }
}
