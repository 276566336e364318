//! Shared application state: the services every request handler and background worker uses
//! (store, findings, rules, Jira client, caches). Lives below the domain modules and the HTTP edge.

use std::sync::Arc;

use crate::atlassian::InstallKeys;
use crate::atlassian::forge::ForgeKeys;
use crate::atlassian::oauth::OAuth;
use crate::config::Config;
use crate::findings::Findings;
use crate::jira::JiraClient;
use crate::metrics::Metrics;
use crate::store::Store;
use crate::tenants::forge::SystemTokens;
use crate::tenants::secrets::SecretBox;

/// Why Verdict cannot call a tenant's Jira right now.
#[derive(Debug, thiserror::Error)]
pub enum ConnectionError {
    #[error(transparent)]
    Tenant(#[from] crate::tenants::TenantError),
    #[error(transparent)]
    OAuth(#[from] crate::atlassian::oauth::OAuthError),
    #[error(transparent)]
    Forge(#[from] crate::tenants::forge::ForgeTenantError),
    #[error("{0}")]
    NotConnected(String),
    /// Connected, but without credentials this moment (a Forge tenant between system tokens):
    /// work for Jira waits for them instead of failing.
    #[error("{0}")]
    Waiting(String),
}

/// Shared by every handler; cheap to clone.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

struct Inner {
    config: Config,
    store: Store,
    metrics: Arc<Metrics>,
    findings: Findings,
    secrets: SecretBox,
    install_keys: InstallKeys,
    forge_keys: ForgeKeys,
    forge_tokens: SystemTokens,
    oauth: OAuth,
    jira: JiraClient,
    connect_cache: crate::tenants::connect::ConnectCache,
    inbox: crate::webhooks::InboxWriter,
    inbox_queue: crate::queue::Queue,
    outbox_queue: crate::queue::Queue,
    rules: crate::rules::RuleRegistry,
    pages: crate::triage::PageCache,
    admin_access: crate::admin::access::AdminAccess,
    people: crate::admin::people::People,
}

impl AppState {
    pub fn new(
        config: Config,
        store: Store,
        secrets: SecretBox,
        engine: crate::rules::RuleEngine,
    ) -> Self {
        let rules = crate::rules::RuleRegistry::new(
            store.clone(),
            engine,
            config.rules_tenant_share_percent,
            crate::rules::registry::UploadLimits::from_config(&config),
        );
        let metrics = Arc::new(Metrics::new());
        let inbox_queue =
            crate::queue::Queue::new(&crate::queue::INBOX, store.clone(), metrics.queues());
        let outbox_queue =
            crate::queue::Queue::new(&crate::queue::OUTBOX, store.clone(), metrics.queues());
        let findings = Findings::new(store.clone(), metrics.clone(), outbox_queue.clone());
        let install_keys = InstallKeys::new(
            config.install_keys_url.clone(),
            std::time::Duration::from_millis(config.install_keys_timeout_ms),
        );
        let oauth = OAuth::new(&config);
        let inbox = crate::webhooks::InboxWriter::start(
            store.clone(),
            inbox_queue.clone(),
            config.inbox_max_pending_per_tenant,
        );
        let forge_keys = ForgeKeys::new(
            config.forge_jwks_url.clone(),
            std::time::Duration::from_millis(config.install_keys_timeout_ms),
        );
        let jira = JiraClient::for_config(&config);
        let admin_ttl = std::time::Duration::from_secs(config.admin_permission_cache_secs);
        Self(Arc::new(Inner {
            config,
            store,
            metrics,
            findings,
            secrets,
            install_keys,
            forge_keys,
            forge_tokens: SystemTokens::default(),
            oauth,
            jira,
            connect_cache: crate::tenants::connect::ConnectCache::new(
                std::time::Duration::from_secs(60),
            ),
            inbox,
            inbox_queue,
            outbox_queue,
            rules,
            pages: crate::triage::PageCache::default(),
            admin_access: crate::admin::access::AdminAccess::new(admin_ttl),
            people: Default::default(),
        }))
    }

    /// Woken when outbound Jira jobs were queued.
    /// Verified webhook deliveries waiting for the closure pipeline.
    pub fn inbox_queue(&self) -> &crate::queue::Queue {
        &self.0.inbox_queue
    }

    /// Outbound Jira jobs.
    pub fn outbox_queue(&self) -> &crate::queue::Queue {
        &self.0.outbox_queue
    }

    /// Display names of Atlassian accounts (Jira's answer, cached).
    pub fn people(&self) -> &crate::admin::people::People {
        &self.0.people
    }

    /// Who may administer which tenant (Jira's answer, cached).
    pub fn admin_access(&self) -> &crate::admin::access::AdminAccess {
        &self.0.admin_access
    }

    pub fn page_cache(&self) -> &crate::triage::PageCache {
        &self.0.pages
    }

    pub fn rules(&self) -> &crate::rules::RuleRegistry {
        &self.0.rules
    }

    /// Shared handle on the metrics, for services that outlive a request.
    pub fn metrics_arc(&self) -> &Arc<Metrics> {
        &self.0.metrics
    }

    pub fn inbox(&self) -> &crate::webhooks::InboxWriter {
        &self.0.inbox
    }

    pub fn connect_cache(&self) -> &crate::tenants::connect::ConnectCache {
        &self.0.connect_cache
    }

    pub fn jira(&self) -> &JiraClient {
        &self.0.jira
    }

    /// The credentials for Verdict's next call to this tenant's Jira, whatever its connection
    /// kind (refreshing an OAuth access token when due).
    pub async fn jira_auth(
        &self,
        tenant_id: &str,
    ) -> Result<crate::atlassian::JiraAuth, ConnectionError> {
        use crate::store::entities::tenants;
        use crate::tenants::ConnectionKind;
        use sea_orm::EntityTrait as _;
        let row = tenants::Entity::find_by_id(tenant_id)
            .one(self.store().db())
            .await
            .map_err(crate::tenants::TenantError::from)?
            .ok_or_else(|| crate::tenants::TenantError::NotFound(tenant_id.to_owned()))?;
        let kind: ConnectionKind = row.kind.parse()?;
        if row.status == crate::tenants::ConnectionStatus::Uninstalled.as_str() {
            return Err(ConnectionError::NotConnected(format!(
                "the app was uninstalled from {}",
                row.site_url.unwrap_or_default()
            )));
        }
        match kind {
            ConnectionKind::Connect => Ok(crate::tenants::connect::jira_auth(
                self.secrets(),
                &row,
                &self.config().app_key,
            )?),
            ConnectionKind::Oauth2 => Ok(self
                .oauth()
                .jira_auth(self.store().db(), self.secrets(), tenant_id)
                .await?),
            ConnectionKind::ApiToken | ConnectionKind::DataCenterPat => Ok(
                crate::tenants::credentials::jira_auth(self.secrets(), &row)?,
            ),
            ConnectionKind::Forge => self
                .forge_tokens()
                .jira_auth(
                    self.store().db(),
                    self.secrets(),
                    tenant_id,
                    chrono::Utc::now(),
                )
                .await?
                .ok_or_else(|| {
                    ConnectionError::Waiting(format!(
                        "no valid Forge app system token (Forge hands one over with every invocation, at the latest with the scheduled trigger within {} minutes)",
                        crate::tenants::forge::SCHEDULED_TRIGGER_MINUTES
                    ))
                }),
            ConnectionKind::Standalone => Err(ConnectionError::NotConnected(
                "the tenant is not connected to Jira".into(),
            )),
        }
    }

    /// Registers an OAuth tenant's dynamic webhooks now.
    pub async fn sync_webhooks(&self, tenant_id: &str) -> Result<(), sea_orm::DbErr> {
        crate::atlassian::dynamic_webhooks::sync(
            self.store().db(),
            self.secrets(),
            self.oauth(),
            self.jira(),
            self.config(),
            tenant_id,
        )
        .await
    }

    /// Refreshes the dynamic webhooks that expire soon (relative to `now`).
    pub async fn refresh_due_webhooks(
        &self,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<usize, sea_orm::DbErr> {
        crate::atlassian::dynamic_webhooks::refresh_due(
            self.store().db(),
            self.secrets(),
            self.oauth(),
            self.jira(),
            self.config(),
            now,
        )
        .await
    }

    pub fn oauth(&self) -> &OAuth {
        &self.0.oauth
    }

    pub fn forge_keys(&self) -> &ForgeKeys {
        &self.0.forge_keys
    }

    pub fn forge_tokens(&self) -> &SystemTokens {
        &self.0.forge_tokens
    }

    pub fn secrets(&self) -> &SecretBox {
        &self.0.secrets
    }

    pub fn install_keys(&self) -> &InstallKeys {
        &self.0.install_keys
    }

    pub fn config(&self) -> &Config {
        &self.0.config
    }

    pub fn store(&self) -> &Store {
        &self.0.store
    }

    pub fn metrics(&self) -> &Metrics {
        &self.0.metrics
    }

    pub fn findings(&self) -> &Findings {
        &self.0.findings
    }
}
