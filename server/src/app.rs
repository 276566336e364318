//! Starting and stopping the service: open the database, migrate, serve until a shutdown
//! signal, let in-flight requests finish, then close the database.

use std::future::{Future, IntoFuture as _};
use std::net::SocketAddr;

use tokio::net::TcpListener;

use crate::config::Config;
use crate::http;
use crate::state::AppState;
use crate::store::{self, Store, StoreError};
use crate::tenants::secrets::{self, SecretError};

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Secrets(#[from] SecretError),
    #[error("rules engine: {0}")]
    Rules(String),
}

pub struct App {
    state: AppState,
}

impl App {
    /// Loads the at-rest key, connects and applies pending migrations.
    pub async fn start(config: Config) -> Result<Self, StartError> {
        let secrets = secrets::load(&config)?;
        let db = store::connect(&config).await?;
        let applied = store::migrate(&db).await?;
        if !applied.is_empty() {
            tracing::info!(?applied, "applied database migrations");
        }
        let compile_cache = config
            .rule_compile_cache()
            .map(|c| crate::rules::FunctionCache::open(&c).map(std::sync::Arc::new))
            .transpose()
            .map_err(|e| StartError::Rules(e.to_string()))?;
        let engine = crate::rules::RuleEngine::with_options(
            config.rules_max_concurrent,
            config.rule_pool(),
            compile_cache,
            config.rule_baseline_above(),
        )
        .map_err(|e| StartError::Rules(e.to_string()))?;
        let state = AppState::new(config, Store::new(db), secrets, engine);
        // Active rules load in the background (a tenant's first decision loads its own on
        // demand): start-up does not wait for hundreds of precompiled artifacts, some of them
        // tens of MB (a Python rule carries CPython).
        let rules = state.rules().clone();
        tokio::spawn(async move {
            match rules.warm().await {
                Ok(0) => {}
                Ok(n) => tracing::info!(rules = n, "loaded active rules"),
                Err(e) => {
                    tracing::warn!(error = %e, "loading active rules in the background failed; they load on first use")
                }
            }
        });
        Ok(Self { state })
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    pub fn router(&self) -> axum::Router {
        http::router(self.state.clone())
    }

    /// Serves on `listener` until `shutdown` resolves, then waits for in-flight requests
    /// (bounded by `shutdown_grace_secs`) and closes the database.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let addr: SocketAddr = listener.local_addr()?;
        let grace = self.state.config().shutdown_grace();
        tracing::info!(%addr, database = %self.state.config().database_url, "verdict listening");
        let refresher = {
            let state = self.state.clone();
            let every =
                std::time::Duration::from_secs(state.config().webhook_refresh_interval_secs);
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(every);
                loop {
                    tick.tick().await;
                    match state.refresh_due_webhooks(chrono::Utc::now()).await {
                        Ok(0) => {}
                        Ok(n) => tracing::info!(refreshed = n, "refreshed dynamic webhooks"),
                        Err(e) => tracing::warn!(error = %e, "dynamic webhook refresh failed"),
                    }
                }
            })
        };
        // The closure pipeline: inbox workers, and the sweep that expires accepted risks and
        // comments on tickets past their due date.
        let (stop_workers, workers_stop) = tokio::sync::watch::channel(false);
        let workers = [
            crate::webhooks::worker::spawn(self.state.clone(), workers_stop.clone()),
            crate::sync::spawn(self.state.clone(), workers_stop.clone()),
            self.state.rules().spawn_evictor(workers_stop.clone()),
        ];
        let expiry = {
            let state = self.state.clone();
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
                loop {
                    tick.tick().await;
                    match crate::triage::expire_risks(&state, chrono::Utc::now()).await {
                        Ok(0) => {}
                        Ok(n) => tracing::info!(reopened = n, "accepted risks expired"),
                        Err(e) => tracing::warn!(error = %e, "accepted-risk expiry sweep failed"),
                    }
                    match crate::sync::sla::note_overdue(&state, chrono::Utc::now().date_naive())
                        .await
                    {
                        Ok(0) => {}
                        Ok(n) => tracing::info!(commented = n, "tickets past their due date"),
                        Err(e) => tracing::warn!(error = %e, "overdue ticket sweep failed"),
                    }
                }
            })
        };
        let retention = {
            let state = self.state.clone();
            let every = std::time::Duration::from_secs(state.config().retention_interval_secs);
            let periods = state.config().retention();
            let uninstalled_days = state.config().retention_uninstalled_days;
            let report_cycle =
                chrono::Duration::days(i64::from(state.config().personal_data_report_days));
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(every);
                loop {
                    tick.tick().await;
                    match crate::queue::retention::prune(
                        state.store(),
                        &periods,
                        chrono::Utc::now(),
                    )
                    .await
                    {
                        Ok(p) if p.total() == 0 => {}
                        Ok(p) => tracing::info!(pruned = ?p, "retention sweep deleted old rows"),
                        Err(e) => tracing::warn!(error = %e, "retention sweep failed"),
                    }
                    let cutoff =
                        chrono::Utc::now() - chrono::Duration::days(i64::from(uninstalled_days));
                    if let Err(e) =
                        crate::tenants::data::purge_uninstalled(state.store(), cutoff).await
                    {
                        tracing::warn!(error = %e, "purging uninstalled tenants failed");
                    }
                    if let Err(e) = crate::jira::budget::with_priority(
                        crate::jira::budget::Priority::Bulk,
                        crate::tenants::privacy::sweep(&state, report_cycle, chrono::Utc::now()),
                    )
                    .await
                    {
                        tracing::warn!(error = %e, "personal data reporting sweep failed");
                    }
                }
            })
        };
        let replica = crate::jira::shared::spawn(
            self.state.store().clone(),
            self.state.jira().governor().clone(),
            std::time::Duration::from_secs(self.state.config().replica_heartbeat_secs),
            workers_stop.clone(),
        );
        let metrics_server = match self.state.config().metrics_listen {
            Some(addr) => {
                let listener = TcpListener::bind(addr).await.map_err(|e| {
                    std::io::Error::new(e.kind(), format!("cannot bind metrics_listen {addr}: {e}"))
                })?;
                tracing::info!(%addr, "metrics listening");
                Some(tokio::spawn(
                    axum::serve(listener, http::metrics_router(self.state.clone())).into_future(),
                ))
            }
            None => None,
        };
        let (stopping_tx, stopping_rx) = tokio::sync::oneshot::channel::<()>();
        let server = axum::serve(listener, self.router()).with_graceful_shutdown(async move {
            shutdown.await;
            tracing::info!("shutdown requested; finishing in-flight requests");
            let _ = stopping_tx.send(());
        });
        let server = tokio::spawn(async move { server.await });
        // Once shutdown starts, in-flight requests get `grace` to finish, not forever.
        let result = tokio::select! {
            r = server => r.map_err(std::io::Error::other)?,
            _ = async {
                let _ = stopping_rx.await;
                tokio::time::sleep(grace).await;
            } => {
                tracing::warn!(?grace, "in-flight requests did not finish within the grace period");
                Ok(())
            }
        };
        refresher.abort();
        expiry.abort();
        retention.abort();
        if let Some(m) = metrics_server {
            m.abort();
        }
        // Workers finish the delivery in hand (its commit is atomic; an interrupted one is
        // simply leased again after a restart).
        let _ = stop_workers.send(true);
        for w in workers {
            let _ = tokio::time::timeout(grace, w).await;
        }
        let _ = tokio::time::timeout(grace, replica).await;
        let store = self.state.store().clone();
        drop(self);
        if let Err(e) = store.close().await {
            tracing::warn!(error = %e, "closing the database failed");
        }
        tracing::info!("verdict stopped");
        result
    }
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
}
