//! OAuth 2.0 (3LO) connections: tokens (encrypted), the site they reach, their health, and
//! the short-lived authorization requests (state + PKCE verifier) waiting for a callback.

// async_trait expands `&SchemaManager` with its own lifetimes; spelling `<'_>` breaks the impl.
#![allow(elided_lifetimes_in_paths)]

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum OauthConnections {
    Table,
    TenantId,
    CloudId,
    SiteUrl,
    Scope,
    AccessToken,
    AccessExpiresAt,
    RefreshToken,
    Status,
    LastError,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum OauthStates {
    Table,
    State,
    TenantId,
    PkceVerifier,
    Site,
    ExpiresAt,
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
                .table(OauthConnections::Table)
                .col(
                    ColumnDef::new(OauthConnections::TenantId)
                        .string_len(36)
                        .not_null()
                        .primary_key(),
                )
                .col(
                    ColumnDef::new(OauthConnections::CloudId)
                        .string_len(64)
                        .not_null(),
                )
                .col(
                    ColumnDef::new(OauthConnections::SiteUrl)
                        .string_len(512)
                        .not_null(),
                )
                .col(ColumnDef::new(OauthConnections::Scope).text().not_null())
                .col(
                    ColumnDef::new(OauthConnections::AccessToken)
                        .text()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(OauthConnections::AccessExpiresAt)
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .col(ColumnDef::new(OauthConnections::RefreshToken).text().null())
                .col(
                    ColumnDef::new(OauthConnections::Status)
                        .string_len(32)
                        .not_null(),
                )
                .col(ColumnDef::new(OauthConnections::LastError).text().null())
                .col(
                    ColumnDef::new(OauthConnections::UpdatedAt)
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_oauth_connections_tenant")
                        .from(OauthConnections::Table, OauthConnections::TenantId)
                        .to(Tenants::Table, Tenants::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(OauthStates::Table)
                .col(
                    ColumnDef::new(OauthStates::State)
                        .string_len(128)
                        .not_null()
                        .primary_key(),
                )
                .col(
                    ColumnDef::new(OauthStates::TenantId)
                        .string_len(36)
                        .not_null(),
                )
                .col(ColumnDef::new(OauthStates::PkceVerifier).text().not_null())
                .col(ColumnDef::new(OauthStates::Site).string_len(512).null())
                .col(
                    ColumnDef::new(OauthStates::ExpiresAt)
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_oauth_states_tenant")
                        .from(OauthStates::Table, OauthStates::TenantId)
                        .to(Tenants::Table, Tenants::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(OauthStates::Table).to_owned())
            .await?;
        m.drop_table(Table::drop().table(OauthConnections::Table).to_owned())
            .await?;
        Ok(())
    }
}
