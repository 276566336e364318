//! Scoped API keys (`scanner` imports and reads findings; `admin` does everything, which is what
//! every key made before was) and OAuth flows bound to who started them and the browser that
//! opened the link.

// async_trait expands `&SchemaManager` with its own lifetimes; spelling `<'_>` breaks the impl.
#![allow(elided_lifetimes_in_paths)]

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ApiKeys {
    Table,
    Scope,
}

#[derive(DeriveIden)]
enum OauthStates {
    Table,
    InitiatorKeyId,
    BeginHash,
    BinderHash,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // Existing keys stay admin keys so nothing breaks; an operator narrows them.
        m.alter_table(
            Table::alter()
                .table(ApiKeys::Table)
                .add_column(
                    ColumnDef::new(ApiKeys::Scope)
                        .string_len(16)
                        .not_null()
                        .default("admin"),
                )
                .to_owned(),
        )
        .await?;
        // SQLite takes one added column per statement.
        for col in [
            OauthStates::InitiatorKeyId,
            OauthStates::BeginHash,
            OauthStates::BinderHash,
        ] {
            m.alter_table(
                Table::alter()
                    .table(OauthStates::Table)
                    .add_column(ColumnDef::new(col).string_len(64).null())
                    .to_owned(),
            )
            .await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for col in [
            OauthStates::InitiatorKeyId,
            OauthStates::BeginHash,
            OauthStates::BinderHash,
        ] {
            m.alter_table(
                Table::alter()
                    .table(OauthStates::Table)
                    .drop_column(col)
                    .to_owned(),
            )
            .await?;
        }
        m.alter_table(
            Table::alter()
                .table(ApiKeys::Table)
                .drop_column(ApiKeys::Scope)
                .to_owned(),
        )
        .await
    }
}
