//! OAuth 2.0 (3LO) connections: the authorize redirect (state + PKCE, persisted so a restart
//! mid-consent is harmless), the callback's code exchange, `accessible-resources` → cloud id,
//! and rotating refresh tokens — refreshed single-flight per tenant and persisted atomically,
//! with Atlassian's `invalid_grant` (reconsent) told apart from `access_denied` (bad client).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::{Duration, Utc};
use oauth2::basic::{BasicClient, BasicErrorResponseType};
use oauth2::{
    AuthType, AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointNotSet,
    EndpointSet, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, RefreshToken, RequestTokenError,
    Scope, TokenResponse, TokenUrl,
};
use sea_orm::{ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, Set};
use serde_json::Value;
use url::Url;

use super::JiraAuth;
use crate::config::{Config, Secret};
use crate::store::entities::{oauth_connections, oauth_states, tenants};
use crate::tenants::secrets::SecretBox;
use crate::tenants::{ConnectionKind, ConnectionStatus};

/// What Verdict asks for: Jira work items, users, webhooks, and a refresh token.
pub const SCOPES: &[&str] = &[
    "read:jira-work",
    "write:jira-work",
    "read:jira-user",
    "manage:jira-webhook",
    // Atlassian's personal data reporting API (tenants::privacy).
    "report:personal-data",
    "offline_access",
];
/// How long an admin has to consent.
pub const STATE_TTL_MINUTES: i64 = 10;
/// Refresh this long before the access token expires.
pub const REFRESH_MARGIN_SECS: i64 = 60;

#[derive(Debug, thiserror::Error)]
pub enum OAuthError {
    #[error("OAuth 2.0 is not configured (set oauth_client_id and oauth_client_secret)")]
    NotConfigured,
    #[error("unknown or already used authorization state; start the connection again")]
    UnknownState,
    #[error("the authorization request expired; start the connection again")]
    StateExpired,
    #[error(
        "this connection link was already opened (in this or another browser); it works once, for whoever started the connection: start again"
    )]
    LinkUsed,
    #[error(
        "this browser did not open the connection link: finish the connection in the browser that opened the link Verdict gave to whoever started it"
    )]
    OtherBrowser,
    #[error("the Jira admin declined consent")]
    ConsentDeclined,
    #[error(
        "Atlassian rejected Verdict's OAuth client credentials (access_denied): check oauth_client_id and oauth_client_secret"
    )]
    ClientRejected,
    #[error("Atlassian refused the grant ({0}): an admin must reconnect and consent again")]
    ReconsentNeeded(String),
    #[error("the grant gives access to no Jira site")]
    NoSite,
    #[error("the grant covers several sites ({0}); start again naming one with `site`")]
    SeveralSites(String),
    #[error(
        "{0} is already connected to another Verdict tenant: a site has one OAuth 2.0 tenant (use that tenant's API keys, or have the operator disconnect it first)"
    )]
    SiteTaken(String),
    #[error("tenant has no OAuth 2.0 connection")]
    NotConnected,
    #[error("Atlassian could not be reached: {0}")]
    Transport(String),
    #[error("stored OAuth data is corrupt: {0}")]
    Corrupt(String),
    #[error("database error: {0}")]
    Db(#[from] sea_orm::DbErr),
}

/// Connection health as the admin sees it.
pub mod status {
    pub const CONNECTED: &str = "connected";
    pub const RECONSENT_NEEDED: &str = "reconsent_needed";
    pub const CLIENT_REJECTED: &str = "client_rejected";
}

type AtlassianClient =
    BasicClient<EndpointSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointSet>;

pub struct OAuth {
    client_id: Option<String>,
    client_secret: Option<Secret>,
    auth_url: Url,
    api_url: Url,
    redirect: String,
    begin: String,
    http: reqwest::Client,
    refreshing: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

/// A connection just made by a callback.
#[derive(Debug)]
pub struct Connected {
    pub tenant_id: String,
    pub site_url: String,
    /// The admin key that started the flow.
    pub started_by: Option<String>,
}

/// The cookie that binds a flow to the browser that opened its link.
pub const BINDER_COOKIE: &str = "verdict_oauth_binder";

fn random_token() -> String {
    use base64::Engine as _;
    use rand::RngCore as _;
    let mut raw = [0u8; 32];
    rand::rng().fill_bytes(&mut raw);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
}

fn digest(token: &str) -> String {
    use sha2::Digest as _;
    hex::encode(sha2::Sha256::digest(token.as_bytes()))
}

fn purpose(kind: &str, tenant_id: &str) -> String {
    format!("oauth-{kind}:{tenant_id}")
}

impl OAuth {
    pub fn new(config: &Config) -> Self {
        Self {
            client_id: config.oauth_client_id.clone(),
            client_secret: config.oauth_client_secret.clone(),
            auth_url: config.atlassian_auth_url.clone(),
            api_url: config.atlassian_api_url.clone(),
            redirect: config.public_url("/oauth/callback"),
            begin: config.public_url("/oauth/begin"),
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(std::time::Duration::from_secs(15))
                .build()
                .expect("HTTP client"),
            refreshing: Mutex::new(HashMap::new()),
        }
    }

    fn client(&self) -> Result<AtlassianClient, OAuthError> {
        let (Some(id), Some(secret)) = (&self.client_id, &self.client_secret) else {
            return Err(OAuthError::NotConfigured);
        };
        let base = self.auth_url.as_str().trim_end_matches('/');
        Ok(BasicClient::new(ClientId::new(id.clone()))
            .set_client_secret(ClientSecret::new(secret.expose().to_owned()))
            .set_auth_uri(
                AuthUrl::new(format!("{base}/authorize"))
                    .map_err(|e| OAuthError::Corrupt(e.to_string()))?,
            )
            .set_token_uri(
                TokenUrl::new(format!("{base}/oauth/token"))
                    .map_err(|e| OAuthError::Corrupt(e.to_string()))?,
            )
            .set_redirect_uri(
                RedirectUrl::new(self.redirect.clone())
                    .map_err(|e| OAuthError::Corrupt(e.to_string()))?,
            )
            // Atlassian takes the client credentials in the body.
            .set_auth_type(AuthType::RequestBody))
    }

    /// Starts a flow for `initiator_key_id` (an admin key) and returns the one-time link the
    /// initiator opens: Verdict's `/oauth/begin?flow=…`, which binds the flow to that browser
    /// (a cookie) and sends it on to Atlassian. `site` picks one site when the grant covers
    /// several.
    pub async fn start(
        &self,
        db: &DatabaseConnection,
        secrets: &SecretBox,
        tenant_id: &str,
        initiator_key_id: &str,
        site: Option<String>,
    ) -> Result<Url, OAuthError> {
        self.client()?;
        let verifier = PkceCodeVerifier::new(random_token());
        let flow = random_token();
        oauth_states::ActiveModel {
            state: Set(random_token()),
            tenant_id: Set(tenant_id.to_owned()),
            pkce_verifier: Set(secrets.seal(&purpose("pkce", tenant_id), verifier.secret())),
            site: Set(site),
            expires_at: Set(Utc::now() + Duration::minutes(STATE_TTL_MINUTES)),
            initiator_key_id: Set(Some(initiator_key_id.to_owned())),
            begin_hash: Set(Some(digest(&flow))),
            binder_hash: Set(None),
        }
        .insert(db)
        .await?;
        let mut link =
            Url::parse(&self.begin).map_err(|e| OAuthError::Corrupt(format!("begin URL: {e}")))?;
        link.query_pairs_mut().append_pair("flow", &flow);
        Ok(link)
    }

    /// Opens a flow's link: once only, in one browser. Returns Atlassian's authorize URL and
    /// the binder the browser must keep as a cookie and bring back to the callback.
    pub async fn begin(
        &self,
        db: &DatabaseConnection,
        secrets: &SecretBox,
        flow: &str,
    ) -> Result<(Url, String), OAuthError> {
        let client = self.client()?;
        let row = oauth_states::Entity::find()
            .filter(oauth_states::Column::BeginHash.eq(digest(flow)))
            .one(db)
            .await?
            .ok_or(OAuthError::UnknownState)?;
        if row.expires_at < Utc::now() {
            return Err(OAuthError::StateExpired);
        }
        let binder = random_token();
        // Claimed with a conditional update, so two browsers racing for one link get one win.
        let claimed = oauth_states::Entity::update_many()
            .col_expr(
                oauth_states::Column::BinderHash,
                sea_orm::sea_query::Expr::value(digest(&binder)),
            )
            .filter(oauth_states::Column::State.eq(&row.state))
            .filter(oauth_states::Column::BinderHash.is_null())
            .exec(db)
            .await?;
        if claimed.rows_affected != 1 {
            return Err(OAuthError::LinkUsed);
        }
        let verifier = secrets
            .open(&purpose("pkce", &row.tenant_id), &row.pkce_verifier)
            .map_err(|e| OAuthError::Corrupt(e.to_string()))?;
        let challenge =
            PkceCodeChallenge::from_code_verifier_sha256(&PkceCodeVerifier::new(verifier));
        let state = row.state.clone();
        let mut request = client
            .authorize_url(move || CsrfToken::new(state))
            .add_extra_param("audience", "api.atlassian.com")
            .add_extra_param("prompt", "consent")
            .set_pkce_challenge(challenge);
        for s in SCOPES {
            request = request.add_scope(Scope::new((*s).to_owned()));
        }
        Ok((request.url().0, binder))
    }

    /// Handles the redirect back from Atlassian. Returns the tenant id and the site connected.
    pub async fn callback(
        &self,
        db: &DatabaseConnection,
        secrets: &SecretBox,
        state: &str,
        code: Option<&str>,
        error: Option<&str>,
        binder: Option<&str>,
    ) -> Result<Connected, OAuthError> {
        let row = oauth_states::Entity::find_by_id(state)
            .one(db)
            .await?
            .ok_or(OAuthError::UnknownState)?;
        // Only the browser that opened the initiator's link may finish the flow: a callback
        // planted in someone else's browser (login CSRF), or a link replayed elsewhere, fails —
        // without consuming the state, so it cannot cancel the initiator's flow either.
        let bound = match (&row.binder_hash, binder) {
            (Some(expected), Some(given)) => *expected == digest(given),
            _ => false,
        };
        if !bound {
            return Err(OAuthError::OtherBrowser);
        }
        // Single use: from here the state is consumed whatever happens next.
        oauth_states::Entity::delete_by_id(state).exec(db).await?;
        if row.expires_at < Utc::now() {
            return Err(OAuthError::StateExpired);
        }
        match error {
            Some("access_denied") => return Err(OAuthError::ConsentDeclined),
            Some(other) => return Err(OAuthError::ReconsentNeeded(other.to_owned())),
            None => {}
        }
        let code = code.ok_or(OAuthError::UnknownState)?;
        let verifier = secrets
            .open(&purpose("pkce", &row.tenant_id), &row.pkce_verifier)
            .map_err(|e| OAuthError::Corrupt(e.to_string()))?;
        let token = self
            .client()?
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .set_pkce_verifier(PkceCodeVerifier::new(verifier))
            .request_async(&self.http)
            .await
            .map_err(token_error)?;
        let access = token.access_token().secret().clone();
        let resources = self
            .http
            .get(format!(
                "{}/oauth/token/accessible-resources",
                self.api_url.as_str().trim_end_matches('/')
            ))
            .bearer_auth(&access)
            .send()
            .await
            .map_err(|e| OAuthError::Transport(e.to_string()))?;
        let resources: Value = serde_json::from_slice(
            &crate::jira::outbound::read_bounded(resources, 1024 * 1024)
                .await
                .map_err(|e| OAuthError::Transport(e.to_string()))?,
        )
        .map_err(|e| OAuthError::Transport(e.to_string()))?;
        let sites: Vec<(String, String)> = resources
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|r| {
                Some((
                    r.get("id")?.as_str()?.to_owned(),
                    r.get("url")?.as_str()?.to_owned(),
                ))
            })
            .collect();
        let (cloud_id, site_url) = match (sites.len(), &row.site) {
            (0, _) => return Err(OAuthError::NoSite),
            (1, None) => sites[0].clone(),
            (_, Some(wanted)) => sites
                .iter()
                .find(|(_, url)| url.trim_end_matches('/') == wanted.trim_end_matches('/'))
                .cloned()
                .ok_or_else(|| {
                    OAuthError::SeveralSites(
                        sites
                            .iter()
                            .map(|s| s.1.clone())
                            .collect::<Vec<_>>()
                            .join(", "),
                    )
                })?,
            (_, None) => {
                return Err(OAuthError::SeveralSites(
                    sites
                        .iter()
                        .map(|s| s.1.clone())
                        .collect::<Vec<_>>()
                        .join(", "),
                ));
            }
        };
        // One tenant per site: webhook ids are per-site counters and every delivery carries the
        // app's token, so a second tenant on the site could not be told from the first.
        let holder = oauth_connections::Entity::find()
            .filter(oauth_connections::Column::CloudId.eq(&cloud_id))
            .filter(oauth_connections::Column::TenantId.ne(&row.tenant_id))
            .one(db)
            .await?;
        if holder.is_some() {
            return Err(OAuthError::SiteTaken(site_url));
        }
        let now = Utc::now();
        let expires = now
            + Duration::seconds(
                token
                    .expires_in()
                    .map(|d| d.as_secs() as i64)
                    .unwrap_or(3600),
            );
        let scope = token
            .scopes()
            .map(|s| {
                s.iter()
                    .map(|x| x.to_string())
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .unwrap_or_else(|| SCOPES.join(" "));
        let model = oauth_connections::ActiveModel {
            tenant_id: Set(row.tenant_id.clone()),
            cloud_id: Set(cloud_id),
            site_url: Set(site_url.clone()),
            scope: Set(scope),
            access_token: Set(secrets.seal(&purpose("access", &row.tenant_id), &access)),
            access_expires_at: Set(expires),
            refresh_token: Set(token
                .refresh_token()
                .map(|r| secrets.seal(&purpose("refresh", &row.tenant_id), r.secret()))),
            status: Set(status::CONNECTED.to_owned()),
            last_error: Set(None),
            updated_at: Set(now),
            // Webhooks are (re)registered right after the connection is made.
            ..Default::default()
        };
        let stored = if oauth_connections::Entity::find_by_id(&row.tenant_id)
            .one(db)
            .await?
            .is_some()
        {
            model.update(db).await.map(drop)
        } else {
            model.insert(db).await.map(drop)
        };
        // Two tenants consenting to one site at once: the unique index keeps one.
        stored.map_err(|e| match e.sql_err() {
            Some(sea_orm::SqlErr::UniqueConstraintViolation(_)) => {
                OAuthError::SiteTaken(site_url.clone())
            }
            _ => OAuthError::Db(e),
        })?;
        if let Some(t) = tenants::Entity::find_by_id(&row.tenant_id).one(db).await? {
            let mut t: tenants::ActiveModel = t.into();
            t.kind = Set(ConnectionKind::Oauth2.as_str().to_owned());
            t.site_url = Set(Some(site_url.clone()));
            t.status = Set(ConnectionStatus::Active.as_str().to_owned());
            t.updated_at = Set(Some(now));
            t.update(db).await?;
        }
        Ok(Connected {
            tenant_id: row.tenant_id,
            site_url,
            started_by: row.initiator_key_id,
        })
    }

    /// Credentials for the tenant's next call, refreshing the access token first when it is
    /// (nearly) expired. Concurrent callers for one tenant share one refresh.
    pub async fn jira_auth(
        &self,
        db: &DatabaseConnection,
        secrets: &SecretBox,
        tenant_id: &str,
    ) -> Result<JiraAuth, OAuthError> {
        let lock = {
            let mut map = self.refreshing.lock().unwrap_or_else(|e| e.into_inner());
            map.entry(tenant_id.to_owned()).or_default().clone()
        };
        let _guard = lock.lock().await;
        let row = oauth_connections::Entity::find_by_id(tenant_id)
            .one(db)
            .await?
            .ok_or(OAuthError::NotConnected)?;
        if row.status != status::CONNECTED {
            return Err(match row.status.as_str() {
                status::CLIENT_REJECTED => OAuthError::ClientRejected,
                _ => OAuthError::ReconsentNeeded(row.last_error.unwrap_or_default()),
            });
        }
        let api_base = Url::parse(&format!(
            "{}/ex/jira/{}",
            self.api_url.as_str().trim_end_matches('/'),
            row.cloud_id
        ))
        .map_err(|e| OAuthError::Corrupt(e.to_string()))?;
        if row.access_expires_at - Duration::seconds(REFRESH_MARGIN_SECS) > Utc::now() {
            let access = secrets
                .open(&purpose("access", tenant_id), &row.access_token)
                .map_err(|e| OAuthError::Corrupt(e.to_string()))?;
            return Ok(JiraAuth::OAuth2 {
                access_token: Secret::new(access),
                api_base_url: api_base,
            });
        }
        let sealed_refresh = row
            .refresh_token
            .clone()
            .ok_or_else(|| OAuthError::ReconsentNeeded("no refresh token".into()))?;
        let refresh = secrets
            .open(&purpose("refresh", tenant_id), &sealed_refresh)
            .map_err(|e| OAuthError::Corrupt(e.to_string()))?;
        let result = self
            .client()?
            .exchange_refresh_token(&RefreshToken::new(refresh))
            .request_async(&self.http)
            .await;
        let token = match result.map_err(token_error) {
            Ok(t) => t,
            Err(e @ (OAuthError::ReconsentNeeded(_) | OAuthError::ClientRejected)) => {
                let health = if matches!(e, OAuthError::ClientRejected) {
                    status::CLIENT_REJECTED
                } else {
                    status::RECONSENT_NEEDED
                };
                let mut active: oauth_connections::ActiveModel = row.into();
                active.status = Set(health.to_owned());
                active.last_error = Set(Some(e.to_string()));
                active.updated_at = Set(Utc::now());
                active.update(db).await?;
                tracing::warn!(tenant = tenant_id, error = %e, "OAuth refresh refused; the connection needs attention");
                return Err(e);
            }
            Err(e) => return Err(e),
        };
        let access = token.access_token().secret().clone();
        let now = Utc::now();
        // Rotation: the new refresh token replaces the one just used, only if it is still the
        // stored one (another replica may have refreshed meanwhile).
        let new_refresh = token
            .refresh_token()
            .map(|r| secrets.seal(&purpose("refresh", tenant_id), r.secret()))
            .unwrap_or(sealed_refresh.clone());
        let updated = oauth_connections::Entity::update_many()
            .col_expr(
                oauth_connections::Column::AccessToken,
                sea_orm::sea_query::Expr::value(
                    secrets.seal(&purpose("access", tenant_id), &access),
                ),
            )
            .col_expr(
                oauth_connections::Column::AccessExpiresAt,
                sea_orm::sea_query::Expr::value(
                    now + Duration::seconds(
                        token
                            .expires_in()
                            .map(|d| d.as_secs() as i64)
                            .unwrap_or(3600),
                    ),
                ),
            )
            .col_expr(
                oauth_connections::Column::RefreshToken,
                sea_orm::sea_query::Expr::value(Some(new_refresh)),
            )
            .col_expr(
                oauth_connections::Column::UpdatedAt,
                sea_orm::sea_query::Expr::value(now),
            )
            .filter(oauth_connections::Column::TenantId.eq(tenant_id))
            .filter(oauth_connections::Column::RefreshToken.eq(sealed_refresh))
            .exec(db)
            .await?;
        if updated.rows_affected == 0 {
            tracing::info!(
                tenant = tenant_id,
                "another replica refreshed first; its stored tokens stay, this call uses the token it received"
            );
        }
        Ok(JiraAuth::OAuth2 {
            access_token: Secret::new(access),
            api_base_url: api_base,
        })
    }

    /// The health of a tenant's OAuth connection: status and last error.
    pub async fn health(
        &self,
        db: &DatabaseConnection,
        tenant_id: &str,
    ) -> Result<Option<(String, Option<String>)>, OAuthError> {
        Ok(oauth_connections::Entity::find_by_id(tenant_id)
            .one(db)
            .await?
            .map(|r| (r.status, r.last_error)))
    }
}

fn token_error<RE: std::error::Error + 'static>(
    e: RequestTokenError<RE, oauth2::StandardErrorResponse<BasicErrorResponseType>>,
) -> OAuthError {
    match e {
        RequestTokenError::ServerResponse(resp) => match resp.error() {
            BasicErrorResponseType::Extension(code) if code == "access_denied" => {
                OAuthError::ClientRejected
            }
            BasicErrorResponseType::InvalidClient => OAuthError::ClientRejected,
            other => OAuthError::ReconsentNeeded(other.to_string()),
        },
        RequestTokenError::Request(e) => OAuthError::Transport(e.to_string()),
        RequestTokenError::Parse(e, _) => {
            OAuthError::Transport(format!("unexpected token response: {e}"))
        }
        RequestTokenError::Other(e) => OAuthError::Transport(e),
    }
}
