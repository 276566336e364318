//! Forge Invocation Tokens: RS256, keys from the Forge JWKS (cached by `kid`, refetched when
//! an unknown `kid` appears, at most once a minute), `aud` = Verdict's Forge app id,
//! `iss` = `forge/invocation-token`. (The app system tokens invocations carry are kept by
//! `tenants::forge`.)

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serde_json::Value;
use url::Url;

use super::KeyError;
use super::jwt::{AuthError, LEEWAY_SECS};

pub const FIT_ISSUER: &str = "forge/invocation-token";
const REFETCH_INTERVAL: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, Deserialize)]
pub struct FitApp {
    pub id: String,
    #[serde(rename = "installationId")]
    pub installation_id: String,
    #[serde(rename = "apiBaseUrl")]
    pub api_base_url: String,
}

/// What a verified invocation says about its caller.
#[derive(Debug, Clone, Deserialize)]
pub struct ForgeInvocation {
    pub app: FitApp,
    #[serde(default)]
    pub context: Value,
    /// The Atlassian account that invoked the app (UI modules only).
    #[serde(default)]
    pub principal: Option<String>,
    pub exp: i64,
}

pub struct ForgeKeys {
    url: Url,
    http: reqwest::Client,
    keys: Mutex<(HashMap<String, DecodingKey>, Option<Instant>)>,
}

/// Largest JWKS document read from Forge's key endpoint.
const MAX_JWKS_BYTES: usize = 256 * 1024;

impl ForgeKeys {
    pub fn new(url: Url, timeout: Duration) -> Self {
        Self {
            url,
            http: reqwest::Client::builder()
                .timeout(timeout)
                .build()
                .expect("HTTP client"),
            keys: Mutex::new((HashMap::new(), None)),
        }
    }

    async fn key(&self, kid: &str) -> Result<DecodingKey, KeyError> {
        {
            let guard = self.keys.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(k) = guard.0.get(kid) {
                return Ok(k.clone());
            }
            if guard.1.is_some_and(|at| at.elapsed() < REFETCH_INTERVAL) {
                return Err(KeyError::Unknown(kid.to_owned()));
            }
        }
        let resp = self
            .http
            .get(self.url.clone())
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .map_err(|e| KeyError::Unavailable(e.to_string()))?;
        let raw = crate::jira::outbound::read_bounded(resp, MAX_JWKS_BYTES)
            .await
            .map_err(|e| KeyError::Invalid(e.to_string()))?;
        let jwks: Value =
            serde_json::from_slice(&raw).map_err(|e| KeyError::Invalid(e.to_string()))?;
        let mut fresh = HashMap::new();
        for k in jwks
            .get("keys")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let (Some(id), Some(n), Some(e)) = (
                k.get("kid").and_then(Value::as_str),
                k.get("n").and_then(Value::as_str),
                k.get("e").and_then(Value::as_str),
            ) else {
                continue;
            };
            if let Ok(key) = DecodingKey::from_rsa_components(n, e) {
                fresh.insert(id.to_owned(), key);
            }
        }
        let mut guard = self.keys.lock().unwrap_or_else(|e| e.into_inner());
        *guard = (fresh, Some(Instant::now()));
        guard
            .0
            .get(kid)
            .cloned()
            .ok_or_else(|| KeyError::Unknown(kid.to_owned()))
    }

    pub async fn verify(&self, token: &str, app_id: &str) -> Result<ForgeInvocation, AuthError> {
        let header =
            jsonwebtoken::decode_header(token).map_err(|e| AuthError::Malformed(e.to_string()))?;
        if header.alg != Algorithm::RS256 {
            return Err(AuthError::WrongAlgorithm {
                expected: "RS256",
                got: format!("{:?}", header.alg),
            });
        }
        let kid = header.kid.ok_or(AuthError::MissingKid)?;
        let key = self.key(&kid).await?;
        let mut validation = Validation::new(Algorithm::RS256);
        validation.leeway = LEEWAY_SECS;
        validation.validate_nbf = true;
        validation.set_audience(&[app_id]);
        validation.set_issuer(&[FIT_ISSUER]);
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        jsonwebtoken::decode::<ForgeInvocation>(token, &key, &validation)
            .map(|d| d.claims)
            .map_err(super::jwt::decode_error)
    }
}
