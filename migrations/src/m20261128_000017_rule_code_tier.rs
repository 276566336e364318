//! Which compiler made a rule version's stored artifact: `baseline` (Winch, at upload, for a
//! large component) until the background tier-up stores Cranelift's `optimized` code.

// async_trait expands `&SchemaManager` with its own lifetimes; spelling `<'_>` breaks the impl.
#![allow(elided_lifetimes_in_paths)]

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Rules {
    Table,
    CodeTier,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // Every artifact stored before was Cranelift's.
        m.alter_table(
            Table::alter()
                .table(Rules::Table)
                .add_column(
                    ColumnDef::new(Rules::CodeTier)
                        .string_len(16)
                        .not_null()
                        .default("optimized"),
                )
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Rules::Table)
                .drop_column(Rules::CodeTier)
                .to_owned(),
        )
        .await
    }
}
