//! Fair queues: a partial index per queue on `(tenant_id, due, id)` over the waiting states,
//! which the claim's tenant scan and each tenant's share walk in order (see `server::queue`).
//! It replaces the `(due, id)` claim indexes, which no query reads any more and every insert
//! into the inbox and outbox paid for.

// async_trait expands `&SchemaManager` with its own lifetimes; spelling `<'_>` breaks the impl.
#![allow(elided_lifetimes_in_paths)]

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::ConnectionTrait;

#[derive(DeriveMigrationName)]
pub struct Migration;

const CREATE: &[&str] = &[
    "CREATE INDEX ix_webhook_deliveries_tenant_due ON webhook_deliveries (tenant_id, due_at, id) \
     WHERE state IN ('pending', 'processing')",
    "CREATE INDEX ix_outbox_jobs_tenant_due ON outbox_jobs (tenant_id, next_attempt_at, id) \
     WHERE state IN ('pending', 'processing')",
];

/// The claim indexes of `m20261127_000011_queues`: dropped by `up`, made again by `down`.
const REPLACED: &[&str] = &[
    "CREATE INDEX ix_webhook_deliveries_claim ON webhook_deliveries (due_at, id) \
     WHERE state IN ('pending', 'processing')",
    "CREATE INDEX ix_outbox_jobs_claim ON outbox_jobs (next_attempt_at, id) \
     WHERE state IN ('pending', 'processing')",
];

/// The name in a `CREATE INDEX name ON …` statement.
fn name(create: &str) -> &str {
    create.split_whitespace().nth(2).unwrap_or_default()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let db = m.get_connection();
        for sql in CREATE {
            db.execute_unprepared(sql).await?;
        }
        for sql in REPLACED {
            db.execute_unprepared(&format!("DROP INDEX {}", name(sql)))
                .await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let db = m.get_connection();
        for sql in REPLACED {
            db.execute_unprepared(sql).await?;
        }
        for sql in CREATE {
            db.execute_unprepared(&format!("DROP INDEX {}", name(sql)))
                .await?;
        }
        Ok(())
    }
}
