//! Credentials for API-token and Data Center PAT connections, and the secret that signs a
//! site's admin webhooks (`X-Hub-Signature`). Both encrypted at rest.

// async_trait expands `&SchemaManager` with its own lifetimes; spelling `<'_>` breaks the impl.
#![allow(elided_lifetimes_in_paths)]

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Tenants {
    Table,
    Credentials,
    WebhookSecret,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for mut column in [
            ColumnDef::new(Tenants::Credentials)
                .text()
                .null()
                .to_owned(),
            ColumnDef::new(Tenants::WebhookSecret)
                .text()
                .null()
                .to_owned(),
        ] {
            m.alter_table(
                Table::alter()
                    .table(Tenants::Table)
                    .add_column(&mut column)
                    .to_owned(),
            )
            .await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for column in [Tenants::WebhookSecret, Tenants::Credentials] {
            m.alter_table(
                Table::alter()
                    .table(Tenants::Table)
                    .drop_column(column)
                    .to_owned(),
            )
            .await?;
        }
        Ok(())
    }
}
