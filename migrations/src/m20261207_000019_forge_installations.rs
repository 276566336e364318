//! Native Forge installations: which tenant each installation id belongs to (a reinstall gets a
//! new id for the same site and reattaches the tenant), and the app system token Forge hands
//! over with every invocation, encrypted, so every replica and a restart can call Jira with it.

// async_trait expands `&SchemaManager` with its own lifetimes; spelling `<'_>` breaks the impl.
#![allow(elided_lifetimes_in_paths)]

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ForgeInstallations {
    Table,
    InstallationId,
    TenantId,
    CloudId,
    ApiBaseUrl,
    AppVersion,
    Status,
    SystemToken,
    TokenExpiresAt,
    InstalledAt,
    UninstalledAt,
    UpdatedAt,
    ReconciledAt,
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
                .table(ForgeInstallations::Table)
                .col(
                    ColumnDef::new(ForgeInstallations::InstallationId)
                        .string_len(200)
                        .not_null()
                        .primary_key(),
                )
                .col(
                    ColumnDef::new(ForgeInstallations::TenantId)
                        .string_len(36)
                        .not_null(),
                )
                .col(
                    ColumnDef::new(ForgeInstallations::CloudId)
                        .string_len(64)
                        .not_null(),
                )
                .col(
                    ColumnDef::new(ForgeInstallations::ApiBaseUrl)
                        .string_len(512)
                        .not_null(),
                )
                .col(
                    ColumnDef::new(ForgeInstallations::AppVersion)
                        .string_len(64)
                        .null(),
                )
                .col(
                    ColumnDef::new(ForgeInstallations::Status)
                        .string_len(16)
                        .not_null(),
                )
                .col(
                    ColumnDef::new(ForgeInstallations::SystemToken)
                        .text()
                        .null(),
                )
                .col(
                    ColumnDef::new(ForgeInstallations::TokenExpiresAt)
                        .timestamp_with_time_zone()
                        .null(),
                )
                .col(
                    ColumnDef::new(ForgeInstallations::InstalledAt)
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(ForgeInstallations::UninstalledAt)
                        .timestamp_with_time_zone()
                        .null(),
                )
                .col(
                    ColumnDef::new(ForgeInstallations::UpdatedAt)
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                // When the scheduled trigger last started a reconciliation (one replica a time).
                .col(
                    ColumnDef::new(ForgeInstallations::ReconciledAt)
                        .timestamp_with_time_zone()
                        .null(),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from(ForgeInstallations::Table, ForgeInstallations::TenantId)
                        .to(Tenants::Table, Tenants::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        // A reinstall is found by the site's cloud id; a tenant's installations by tenant.
        for (name, col) in [
            (
                "idx_forge_installations_cloud_id",
                ForgeInstallations::CloudId,
            ),
            (
                "idx_forge_installations_tenant_id",
                ForgeInstallations::TenantId,
            ),
        ] {
            m.create_index(
                Index::create()
                    .name(name)
                    .table(ForgeInstallations::Table)
                    .col(col)
                    .to_owned(),
            )
            .await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(ForgeInstallations::Table).to_owned())
            .await
    }
}
