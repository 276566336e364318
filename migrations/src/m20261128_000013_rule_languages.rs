//! Rules in several languages: a rule version remembers the language and tools that built it
//! and what one instance of it takes from the pool (core instances, memories, tables).

// async_trait expands `&SchemaManager` with its own lifetimes; spelling `<'_>` breaks the impl.
#![allow(elided_lifetimes_in_paths)]

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Rules {
    Table,
    Language,
    Toolchain,
    CoreInstances,
    Memories,
    Tables,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // Null on versions uploaded before: the registry fills them in when it loads one.
        for column in [
            ColumnDef::new(Rules::Language)
                .string_len(16)
                .null()
                .to_owned(),
            ColumnDef::new(Rules::Toolchain)
                .string_len(512)
                .null()
                .to_owned(),
            ColumnDef::new(Rules::CoreInstances)
                .integer()
                .null()
                .to_owned(),
            ColumnDef::new(Rules::Memories).integer().null().to_owned(),
            ColumnDef::new(Rules::Tables).integer().null().to_owned(),
        ] {
            m.alter_table(
                Table::alter()
                    .table(Rules::Table)
                    .add_column(column)
                    .to_owned(),
            )
            .await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for column in [
            Rules::Tables,
            Rules::Memories,
            Rules::CoreInstances,
            Rules::Toolchain,
            Rules::Language,
        ] {
            m.alter_table(
                Table::alter()
                    .table(Rules::Table)
                    .drop_column(column)
                    .to_owned(),
            )
            .await?;
        }
        Ok(())
    }
}
