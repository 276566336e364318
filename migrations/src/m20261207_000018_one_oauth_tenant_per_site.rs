//! One OAuth 2.0 connection per Jira site: dynamic webhook ids are per-site counters and the
//! delivery token is the app's, so two tenants on one site could not be told apart.

// async_trait expands `&SchemaManager` with its own lifetimes; spelling `<'_>` breaks the impl.
#![allow(elided_lifetimes_in_paths)]

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum OauthConnections {
    Table,
    CloudId,
}

const INDEX: &str = "ux_oauth_connections_cloud_id";

/// A row that another connection of the same site supersedes (connected later; the tenant id
/// breaks a tie). Only the newest connection's webhooks were live: registering deleted the
/// others', so the superseded tenants received nothing from that site already.
const SUPERSEDED: &str = "EXISTS (SELECT 1 FROM oauth_connections n \
     WHERE n.cloud_id = o.cloud_id AND (n.updated_at > o.updated_at \
     OR (n.updated_at = o.updated_at AND n.tenant_id > o.tenant_id)))";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let db = m.get_connection();
        // Superseded tenants keep their findings and decisions and become standalone; their
        // admin connects them again (to another site) or uses the site's tenant.
        db.execute_unprepared(&format!(
            "UPDATE tenants SET kind = 'standalone' WHERE id IN \
             (SELECT o.tenant_id FROM oauth_connections o WHERE {SUPERSEDED})"
        ))
        .await?;
        db.execute_unprepared(&format!(
            "DELETE FROM oauth_connections WHERE tenant_id IN \
             (SELECT o.tenant_id FROM oauth_connections o WHERE {SUPERSEDED})"
        ))
        .await?;
        m.create_index(
            Index::create()
                .name(INDEX)
                .table(OauthConnections::Table)
                .col(OauthConnections::CloudId)
                .unique()
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_index(
            Index::drop()
                .name(INDEX)
                .table(OauthConnections::Table)
                .to_owned(),
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use sea_orm_migration::MigratorTrait;
    use sea_orm_migration::sea_orm::{ConnectionTrait, Database, Statement};

    /// Two tenants connected to one site before this migration: the later connection keeps it,
    /// the earlier tenant becomes standalone with its findings, and the site is unique after.
    #[tokio::test]
    async fn a_site_connected_twice_keeps_its_latest_tenant() {
        let db = Database::connect("sqlite::memory:").await.unwrap();
        crate::Migrator::up(&db, Some(17)).await.unwrap();
        let exec = |sql: &str| {
            let sql = sql.to_owned();
            let db = &db;
            async move {
                db.execute(Statement::from_string(db.get_database_backend(), sql))
                    .await
                    .unwrap();
            }
        };
        for (id, at) in [
            ("old", "2026-11-01 00:00:00"),
            ("new", "2026-12-01 00:00:00"),
        ] {
            exec(&format!(
                "INSERT INTO tenants (id, name, kind, enabled, created_at, status) \
                 VALUES ('{id}', '{id}', 'oauth2', true, '{at}', 'active')"
            ))
            .await;
            exec(&format!(
                "INSERT INTO oauth_connections (tenant_id, cloud_id, site_url, scope, access_token, \
                 access_expires_at, status, updated_at) VALUES ('{id}', 'cloud-1', \
                 'https://acme.atlassian.net', 's', 't', '{at}', 'connected', '{at}')"
            ))
            .await;
        }
        crate::Migrator::up(&db, None).await.unwrap();
        let rows = db
            .query_all(Statement::from_string(
                db.get_database_backend(),
                "SELECT t.id, t.kind, o.tenant_id FROM tenants t \
                 LEFT JOIN oauth_connections o ON o.tenant_id = t.id ORDER BY t.id",
            ))
            .await
            .unwrap();
        let seen: Vec<(String, String, Option<String>)> = rows
            .iter()
            .map(|r| {
                (
                    r.try_get("", "id").unwrap(),
                    r.try_get("", "kind").unwrap(),
                    r.try_get("", "tenant_id").unwrap(),
                )
            })
            .collect();
        assert_eq!(
            seen,
            vec![
                ("new".into(), "oauth2".into(), Some("new".into())),
                ("old".into(), "standalone".into(), None),
            ]
        );
        let again = db
            .execute(Statement::from_string(
                db.get_database_backend(),
                "INSERT INTO oauth_connections (tenant_id, cloud_id, site_url, scope, access_token, \
                 access_expires_at, status, updated_at) VALUES ('old', 'cloud-1', 'x', 's', 't', \
                 '2026-12-02 00:00:00', 'connected', '2026-12-02 00:00:00')"
                    .to_owned(),
            ))
            .await;
        assert!(again.is_err(), "one connection per cloud id");
    }
}
