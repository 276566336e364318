//! When each tenant's stored account ids were last reported to Atlassian's personal data
//! reporting API, and what came back: the sweep reports a tenant again one cycle later.

// async_trait expands `&SchemaManager` with its own lifetimes; spelling `<'_>` breaks the impl.
#![allow(elided_lifetimes_in_paths)]

use sea_orm_migration::prelude::*;

#[derive(DeriveIden)]
enum PersonalDataReports {
    Table,
    TenantId,
    ReportedAt,
    Accounts,
    Closed,
    Updated,
}

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(PersonalDataReports::Table)
                .col(
                    ColumnDef::new(PersonalDataReports::TenantId)
                        .string()
                        .not_null()
                        .primary_key(),
                )
                .col(
                    ColumnDef::new(PersonalDataReports::ReportedAt)
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(PersonalDataReports::Accounts)
                        .big_integer()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(PersonalDataReports::Closed)
                        .big_integer()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(PersonalDataReports::Updated)
                        .big_integer()
                        .not_null(),
                )
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(PersonalDataReports::Table).to_owned())
            .await
    }
}
