//! Tenants and their API keys, findings, the findings' audit trail and their Jira links.

// async_trait expands `&SchemaManager` with its own lifetimes; spelling `<'_>` breaks the impl.
#![allow(elided_lifetimes_in_paths)]

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Tenants {
    Table,
    Id,
    Name,
    Kind,
    Enabled,
    CreatedAt,
}

#[derive(DeriveIden)]
enum ApiKeys {
    Table,
    Id,
    TenantId,
    Name,
    Prefix,
    KeyHash,
    CreatedAt,
    RevokedAt,
}

#[derive(DeriveIden)]
enum Findings {
    Table,
    Id,
    TenantId,
    ExternalId,
    Title,
    Description,
    Severity,
    Score,
    CvssVector,
    CvssScore,
    CweIds,
    ScanType,
    Repository,
    FilePath,
    Line,
    CodeSnippet,
    IsSecret,
    Tags,
    Status,
    ContentHash,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum FindingEvents {
    Table,
    Id,
    TenantId,
    FindingId,
    Kind,
    FromStatus,
    ToStatus,
    ActorKind,
    ActorId,
    Source,
    Reason,
    RuleId,
    RuleVersion,
    CreatedAt,
}

#[derive(DeriveIden)]
enum JiraLinks {
    Table,
    Id,
    TenantId,
    FindingId,
    Site,
    IssueId,
    IssueKey,
    ProjectKey,
    CreatedAt,
    UpdatedAt,
}

fn id_col<T: IntoIden>(name: T) -> ColumnDef {
    // UUIDs as text: identical on SQLite and PostgreSQL, and v7 ids sort by creation time.
    ColumnDef::new(name)
        .string_len(36)
        .not_null()
        .primary_key()
        .to_owned()
}

fn tenant_fk<T: IntoIden + 'static>(table: T, name: &str) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(name)
        .from(table, Alias::new("tenant_id"))
        .to(Tenants::Table, Tenants::Id)
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Tenants::Table)
                .col(id_col(Tenants::Id))
                .col(
                    ColumnDef::new(Tenants::Name)
                        .string_len(200)
                        .not_null()
                        .unique_key(),
                )
                .col(ColumnDef::new(Tenants::Kind).string_len(32).not_null())
                .col(
                    ColumnDef::new(Tenants::Enabled)
                        .boolean()
                        .not_null()
                        .default(true),
                )
                .col(
                    ColumnDef::new(Tenants::CreatedAt)
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(ApiKeys::Table)
                .col(id_col(ApiKeys::Id))
                .col(ColumnDef::new(ApiKeys::TenantId).string_len(36).not_null())
                .col(ColumnDef::new(ApiKeys::Name).string_len(200).not_null())
                .col(ColumnDef::new(ApiKeys::Prefix).string_len(32).not_null())
                .col(
                    ColumnDef::new(ApiKeys::KeyHash)
                        .string_len(64)
                        .not_null()
                        .unique_key(),
                )
                .col(
                    ColumnDef::new(ApiKeys::CreatedAt)
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(ApiKeys::RevokedAt)
                        .timestamp_with_time_zone()
                        .null(),
                )
                .foreign_key(&mut tenant_fk(ApiKeys::Table, "fk_api_keys_tenant"))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_api_keys_tenant")
                .table(ApiKeys::Table)
                .col(ApiKeys::TenantId)
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Findings::Table)
                .col(id_col(Findings::Id))
                .col(ColumnDef::new(Findings::TenantId).string_len(36).not_null())
                .col(
                    ColumnDef::new(Findings::ExternalId)
                        .string_len(512)
                        .not_null(),
                )
                .col(ColumnDef::new(Findings::Title).string_len(1024).not_null())
                .col(ColumnDef::new(Findings::Description).text().null())
                .col(ColumnDef::new(Findings::Severity).string_len(16).not_null())
                .col(ColumnDef::new(Findings::Score).double().null())
                .col(ColumnDef::new(Findings::CvssVector).string_len(256).null())
                .col(ColumnDef::new(Findings::CvssScore).double().null())
                .col(ColumnDef::new(Findings::CweIds).json().not_null())
                .col(ColumnDef::new(Findings::ScanType).string_len(64).null())
                .col(ColumnDef::new(Findings::Repository).string_len(1024).null())
                .col(ColumnDef::new(Findings::FilePath).string_len(4096).null())
                .col(ColumnDef::new(Findings::Line).integer().null())
                .col(ColumnDef::new(Findings::CodeSnippet).text().null())
                .col(
                    ColumnDef::new(Findings::IsSecret)
                        .boolean()
                        .not_null()
                        .default(false),
                )
                .col(ColumnDef::new(Findings::Tags).json().not_null())
                .col(ColumnDef::new(Findings::Status).string_len(32).not_null())
                .col(
                    ColumnDef::new(Findings::ContentHash)
                        .string_len(64)
                        .not_null(),
                )
                .col(
                    ColumnDef::new(Findings::CreatedAt)
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(Findings::UpdatedAt)
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .foreign_key(&mut tenant_fk(Findings::Table, "fk_findings_tenant"))
                .to_owned(),
        )
        .await?;
        // Imports upsert on the scanner's id, so it is unique per tenant.
        m.create_index(
            Index::create()
                .name("ux_findings_tenant_external_id")
                .table(Findings::Table)
                .col(Findings::TenantId)
                .col(Findings::ExternalId)
                .unique()
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_findings_tenant_status")
                .table(Findings::Table)
                .col(Findings::TenantId)
                .col(Findings::Status)
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_findings_tenant_updated")
                .table(Findings::Table)
                .col(Findings::TenantId)
                .col(Findings::UpdatedAt)
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(FindingEvents::Table)
                .col(id_col(FindingEvents::Id))
                .col(
                    ColumnDef::new(FindingEvents::TenantId)
                        .string_len(36)
                        .not_null(),
                )
                .col(
                    ColumnDef::new(FindingEvents::FindingId)
                        .string_len(36)
                        .not_null(),
                )
                .col(
                    ColumnDef::new(FindingEvents::Kind)
                        .string_len(32)
                        .not_null(),
                )
                .col(
                    ColumnDef::new(FindingEvents::FromStatus)
                        .string_len(32)
                        .null(),
                )
                .col(
                    ColumnDef::new(FindingEvents::ToStatus)
                        .string_len(32)
                        .null(),
                )
                .col(
                    ColumnDef::new(FindingEvents::ActorKind)
                        .string_len(32)
                        .not_null(),
                )
                .col(
                    ColumnDef::new(FindingEvents::ActorId)
                        .string_len(256)
                        .not_null(),
                )
                .col(
                    ColumnDef::new(FindingEvents::Source)
                        .string_len(32)
                        .not_null(),
                )
                .col(ColumnDef::new(FindingEvents::Reason).text().null())
                .col(ColumnDef::new(FindingEvents::RuleId).string_len(128).null())
                .col(
                    ColumnDef::new(FindingEvents::RuleVersion)
                        .string_len(64)
                        .null(),
                )
                .col(
                    ColumnDef::new(FindingEvents::CreatedAt)
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .foreign_key(&mut tenant_fk(
                    FindingEvents::Table,
                    "fk_finding_events_tenant",
                ))
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_finding_events_finding")
                        .from(FindingEvents::Table, FindingEvents::FindingId)
                        .to(Findings::Table, Findings::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_finding_events_finding")
                .table(FindingEvents::Table)
                .col(FindingEvents::FindingId)
                .col(FindingEvents::Id)
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(JiraLinks::Table)
                .col(id_col(JiraLinks::Id))
                .col(
                    ColumnDef::new(JiraLinks::TenantId)
                        .string_len(36)
                        .not_null(),
                )
                .col(
                    ColumnDef::new(JiraLinks::FindingId)
                        .string_len(36)
                        .not_null()
                        .unique_key(),
                )
                .col(ColumnDef::new(JiraLinks::Site).string_len(512).not_null())
                // The issue id is the stable link; the key changes when an issue moves project.
                .col(ColumnDef::new(JiraLinks::IssueId).string_len(32).not_null())
                .col(
                    ColumnDef::new(JiraLinks::IssueKey)
                        .string_len(64)
                        .not_null(),
                )
                .col(
                    ColumnDef::new(JiraLinks::ProjectKey)
                        .string_len(32)
                        .not_null(),
                )
                .col(
                    ColumnDef::new(JiraLinks::CreatedAt)
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(JiraLinks::UpdatedAt)
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .foreign_key(&mut tenant_fk(JiraLinks::Table, "fk_jira_links_tenant"))
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_jira_links_finding")
                        .from(JiraLinks::Table, JiraLinks::FindingId)
                        .to(Findings::Table, Findings::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_jira_links_tenant_issue")
                .table(JiraLinks::Table)
                .col(JiraLinks::TenantId)
                .col(JiraLinks::IssueId)
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            JiraLinks::Table.into_iden(),
            FindingEvents::Table.into_iden(),
            Findings::Table.into_iden(),
            ApiKeys::Table.into_iden(),
            Tenants::Table.into_iden(),
        ] {
            m.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}
