//! Fair queues: a partial index per queue on `(tenant_id, due, id)` over the waiting states,
//! which the claim's tenant scan and each tenant's share walk in order (see `server::queue`).

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

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let db = m.get_connection();
        for sql in CREATE {
            db.execute_unprepared(sql).await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let db = m.get_connection();
        for name in [
            "ix_webhook_deliveries_tenant_due",
            "ix_outbox_jobs_tenant_due",
        ] {
            db.execute_unprepared(&format!("DROP INDEX {name}")).await?;
        }
        Ok(())
    }
}
