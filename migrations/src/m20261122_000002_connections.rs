//! What a connected tenant needs: its Atlassian identity (client key, site URL, Connect-on-Forge
//! installation id), its encrypted shared secret and its lifecycle status.

// async_trait expands `&SchemaManager` with its own lifetimes; spelling `<'_>` breaks the impl.
#![allow(elided_lifetimes_in_paths)]

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Tenants {
    Table,
    ClientKey,
    SiteUrl,
    DisplayUrl,
    SharedSecret,
    InstallationId,
    OauthClientId,
    Status,
    InstalledAt,
    UninstalledAt,
    UpdatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // SQLite takes one column per ALTER TABLE.
        let columns = [
            ColumnDef::new(Tenants::ClientKey)
                .string_len(256)
                .null()
                .to_owned(),
            ColumnDef::new(Tenants::SiteUrl)
                .string_len(512)
                .null()
                .to_owned(),
            ColumnDef::new(Tenants::DisplayUrl)
                .string_len(512)
                .null()
                .to_owned(),
            // Encrypted at rest (see tenants::secrets); never plaintext.
            ColumnDef::new(Tenants::SharedSecret)
                .text()
                .null()
                .to_owned(),
            ColumnDef::new(Tenants::InstallationId)
                .string_len(256)
                .null()
                .to_owned(),
            ColumnDef::new(Tenants::OauthClientId)
                .string_len(256)
                .null()
                .to_owned(),
            ColumnDef::new(Tenants::Status)
                .string_len(32)
                .not_null()
                .default("active")
                .to_owned(),
            ColumnDef::new(Tenants::InstalledAt)
                .timestamp_with_time_zone()
                .null()
                .to_owned(),
            ColumnDef::new(Tenants::UninstalledAt)
                .timestamp_with_time_zone()
                .null()
                .to_owned(),
            ColumnDef::new(Tenants::UpdatedAt)
                .timestamp_with_time_zone()
                .null()
                .to_owned(),
        ];
        for mut column in columns {
            m.alter_table(
                Table::alter()
                    .table(Tenants::Table)
                    .add_column(&mut column)
                    .to_owned(),
            )
            .await?;
        }
        m.create_index(
            Index::create()
                .name("ux_tenants_client_key")
                .table(Tenants::Table)
                .col(Tenants::ClientKey)
                .unique()
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ux_tenants_installation_id")
                .table(Tenants::Table)
                .col(Tenants::InstallationId)
                .unique()
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_index(
            Index::drop()
                .name("ux_tenants_installation_id")
                .table(Tenants::Table)
                .to_owned(),
        )
        .await?;
        m.drop_index(
            Index::drop()
                .name("ux_tenants_client_key")
                .table(Tenants::Table)
                .to_owned(),
        )
        .await?;
        for column in [
            Tenants::UpdatedAt,
            Tenants::UninstalledAt,
            Tenants::InstalledAt,
            Tenants::Status,
            Tenants::OauthClientId,
            Tenants::InstallationId,
            Tenants::SharedSecret,
            Tenants::DisplayUrl,
            Tenants::SiteUrl,
            Tenants::ClientKey,
        ] {
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
