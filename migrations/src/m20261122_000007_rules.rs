//! Rules (uploaded wasm, its precompiled artifact, which version is active per scope), the
//! tenant settings rules read, and the decision log the closure pipeline writes and replay reads.

// async_trait expands `&SchemaManager` with its own lifetimes; spelling `<'_>` breaks the impl.
#![allow(elided_lifetimes_in_paths)]

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Rules {
    Table,
    Id,
    TenantId,
    Name,
    Version,
    Project,
    Decisions,
    ContractVersion,
    Sha256,
    SizeBytes,
    Module,
    Artifact,
    State,
    CreatedAt,
    ActivatedAt,
}

#[derive(DeriveIden)]
enum TenantSettings {
    Table,
    TenantId,
    Key,
    Value,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Decisions {
    Table,
    Id,
    TenantId,
    Kind,
    FindingId,
    IssueId,
    IssueKey,
    Input,
    Output,
    Source,
    RuleId,
    RuleName,
    RuleVersion,
    ErrorCode,
    ErrorMessage,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Tenants {
    Table,
    Id,
}

fn tenant_fk(
    name: &str,
    table: impl IntoIden + 'static,
    col: impl IntoIden + 'static,
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(name)
        .from(table, col)
        .to(Tenants::Table, Tenants::Id)
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Rules::Table)
                .col(
                    ColumnDef::new(Rules::Id)
                        .string_len(36)
                        .not_null()
                        .primary_key(),
                )
                .col(ColumnDef::new(Rules::TenantId).string_len(36).not_null())
                .col(ColumnDef::new(Rules::Name).string_len(100).not_null())
                .col(ColumnDef::new(Rules::Version).integer().not_null())
                // A Jira project key, or NULL for tenant-wide.
                .col(ColumnDef::new(Rules::Project).string_len(64).null())
                .col(ColumnDef::new(Rules::Decisions).string_len(64).not_null())
                .col(
                    ColumnDef::new(Rules::ContractVersion)
                        .string_len(16)
                        .not_null(),
                )
                .col(ColumnDef::new(Rules::Sha256).string_len(64).not_null())
                .col(ColumnDef::new(Rules::SizeBytes).integer().not_null())
                .col(ColumnDef::new(Rules::Module).blob().not_null())
                .col(ColumnDef::new(Rules::Artifact).blob().not_null())
                .col(ColumnDef::new(Rules::State).string_len(16).not_null())
                .col(
                    ColumnDef::new(Rules::CreatedAt)
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(Rules::ActivatedAt)
                        .timestamp_with_time_zone()
                        .null(),
                )
                .foreign_key(&mut tenant_fk(
                    "fk_rules_tenant",
                    Rules::Table,
                    Rules::TenantId,
                ))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ux_rules_version")
                .table(Rules::Table)
                .col(Rules::TenantId)
                .col(Rules::Name)
                .col(Rules::Version)
                .unique()
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(TenantSettings::Table)
                .col(
                    ColumnDef::new(TenantSettings::TenantId)
                        .string_len(36)
                        .not_null(),
                )
                .col(
                    ColumnDef::new(TenantSettings::Key)
                        .string_len(128)
                        .not_null(),
                )
                .col(ColumnDef::new(TenantSettings::Value).text().not_null())
                .col(
                    ColumnDef::new(TenantSettings::UpdatedAt)
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .primary_key(
                    Index::create()
                        .col(TenantSettings::TenantId)
                        .col(TenantSettings::Key),
                )
                .foreign_key(&mut tenant_fk(
                    "fk_tenant_settings_tenant",
                    TenantSettings::Table,
                    TenantSettings::TenantId,
                ))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Decisions::Table)
                .col(
                    ColumnDef::new(Decisions::Id)
                        .string_len(36)
                        .not_null()
                        .primary_key(),
                )
                .col(
                    ColumnDef::new(Decisions::TenantId)
                        .string_len(36)
                        .not_null(),
                )
                .col(ColumnDef::new(Decisions::Kind).string_len(16).not_null())
                .col(ColumnDef::new(Decisions::FindingId).string_len(36).null())
                .col(ColumnDef::new(Decisions::IssueId).string_len(32).null())
                .col(ColumnDef::new(Decisions::IssueKey).string_len(64).null())
                .col(ColumnDef::new(Decisions::Input).text().not_null())
                .col(ColumnDef::new(Decisions::Output).text().not_null())
                // `rule`, `default`, `default_after_error`
                .col(ColumnDef::new(Decisions::Source).string_len(24).not_null())
                .col(ColumnDef::new(Decisions::RuleId).string_len(36).null())
                .col(ColumnDef::new(Decisions::RuleName).string_len(100).null())
                .col(ColumnDef::new(Decisions::RuleVersion).integer().null())
                .col(ColumnDef::new(Decisions::ErrorCode).string_len(32).null())
                .col(ColumnDef::new(Decisions::ErrorMessage).text().null())
                .col(
                    ColumnDef::new(Decisions::CreatedAt)
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .foreign_key(&mut tenant_fk(
                    "fk_decisions_tenant",
                    Decisions::Table,
                    Decisions::TenantId,
                ))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_decisions_tenant_kind")
                .table(Decisions::Table)
                .col(Decisions::TenantId)
                .col(Decisions::Kind)
                .col(Decisions::CreatedAt)
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            Decisions::Table.into_iden(),
            TenantSettings::Table.into_iden(),
            Rules::Table.into_iden(),
        ] {
            m.drop_table(Table::drop().table(t).to_owned()).await?;
        }
        Ok(())
    }
}
