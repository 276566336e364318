//! Storage: connecting to SQLite (embedded default) or PostgreSQL, migrations, and the
//! sea-orm entities every domain module reads and writes through.

pub mod entities;

use std::str::FromStr;
use std::time::Duration;

use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbErr};

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use verdict_migrations::{Migrator, MigratorTrait};

use crate::config::{Backend, Config};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open database {url}: {source}")]
    Connect { url: String, source: DbErr },
    #[error("invalid database URL {url}: {message}")]
    BadUrl { url: String, message: String },
    #[error("database migration failed: {0}")]
    Migrate(DbErr),
    #[error("database error: {0}")]
    Db(#[from] DbErr),
}

/// Opens the configured database. SQLite gets WAL (readers never block the writer), a busy
/// timeout (concurrent writers wait instead of failing) and enforced foreign keys.
pub async fn connect(config: &Config) -> Result<DatabaseConnection, StoreError> {
    let url = &config.database_url;
    match url.backend() {
        Some(Backend::Sqlite) => {
            let options = SqliteConnectOptions::from_str(url.expose())
                .map_err(|e| StoreError::BadUrl {
                    url: url.redacted(),
                    message: e.to_string(),
                })?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_millis(config.sqlite_busy_timeout_ms))
                .foreign_keys(true);
            let pool = SqlitePoolOptions::new()
                .max_connections(config.database_max_connections)
                .connect_with(options)
                .await
                .map_err(|e| StoreError::Connect {
                    url: url.redacted(),
                    source: DbErr::Conn(sea_orm::RuntimeErr::SqlxError(e)),
                })?;
            Ok(sea_orm::SqlxSqliteConnector::from_sqlx_sqlite_pool(pool))
        }
        Some(Backend::Postgres) => {
            let mut options = ConnectOptions::new(url.expose().to_owned());
            options
                .max_connections(config.database_max_connections)
                .connect_timeout(Duration::from_secs(10))
                .sqlx_logging(false);
            Database::connect(options)
                .await
                .map_err(|source| StoreError::Connect {
                    url: url.redacted(),
                    source,
                })
        }
        None => Err(StoreError::BadUrl {
            url: url.redacted(),
            message: "expected sqlite: or postgres://".into(),
        }),
    }
}

/// Applies pending migrations; returns the names of those applied now.
pub async fn migrate(db: &DatabaseConnection) -> Result<Vec<String>, StoreError> {
    let pending: Vec<String> = Migrator::get_pending_migrations(db)
        .await
        .map_err(StoreError::Migrate)?
        .iter()
        .map(|m| m.name().to_owned())
        .collect();
    Migrator::up(db, None).await.map_err(StoreError::Migrate)?;
    Ok(pending)
}

/// True when the database answers a trivial query; backs `/readyz`.
pub async fn ping(db: &DatabaseConnection) -> Result<(), StoreError> {
    db.execute_unprepared("SELECT 1").await?;
    Ok(())
}

/// The database plus what it takes to write to it safely. SQLite allows one writer at a time
/// and fails (rather than waits) when a read transaction upgrades to a write under
/// contention, so writers queue on an in-process gate there; PostgreSQL needs none.
#[derive(Clone)]
pub struct Store {
    db: DatabaseConnection,
    write_gate: Option<std::sync::Arc<tokio::sync::Mutex<()>>>,
}

impl Store {
    pub fn new(db: DatabaseConnection) -> Self {
        let write_gate = matches!(db.get_database_backend(), sea_orm::DatabaseBackend::Sqlite)
            .then(|| std::sync::Arc::new(tokio::sync::Mutex::new(())));
        Self { db, write_gate }
    }

    pub fn db(&self) -> &DatabaseConnection {
        &self.db
    }

    /// Hold the returned guard for the whole write transaction.
    pub async fn write_lock(&self) -> Option<tokio::sync::MutexGuard<'_, ()>> {
        match &self.write_gate {
            Some(gate) => Some(gate.lock().await),
            None => None,
        }
    }

    pub async fn close(self) -> Result<(), StoreError> {
        self.db.close().await?;
        Ok(())
    }
}
