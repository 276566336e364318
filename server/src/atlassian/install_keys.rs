//! Public keys for signed installs, fetched by `kid` from the install-keys server: the kid is
//! validated before it goes into a URL, fetches are time-boxed, keys are cached by kid for an
//! hour at most (Atlassian rotates by issuing a new kid; a key it withdraws stops being
//! trusted within the hour) and at most [`MAX_CACHED_KEYS`] at a time.

use std::time::Duration;

use crate::cache::TtlCache;

use jsonwebtoken::DecodingKey;
use url::Url;

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("the token's kid `{0}` is not a valid key id")]
    BadKid(String),
    #[error("no install key with kid `{0}`")]
    Unknown(String),
    #[error("the install-keys server could not be reached: {0}")]
    Unavailable(String),
    #[error("the install-keys server answered with an invalid key: {0}")]
    Invalid(String),
}

/// Largest PEM accepted from the key server.
const MAX_PEM_BYTES: usize = 16 * 1024;
/// How long a fetched key is trusted before it is fetched again.
pub const KEY_CACHE_TTL: Duration = Duration::from_secs(3600);
/// Most keys held at once (Atlassian has a handful live at any time).
pub const MAX_CACHED_KEYS: usize = 64;

pub struct InstallKeys {
    base: Url,
    http: reqwest::Client,
    cache: TtlCache<DecodingKey>,
}

/// Letters, digits, `-`, `_`, `.` and `/` (never `..`), at most 200 characters.
pub fn valid_kid(kid: &str) -> bool {
    !kid.is_empty()
        && kid.len() <= 200
        && !kid.contains("..")
        && !kid.starts_with('/')
        && kid
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'))
}

impl InstallKeys {
    pub fn new(base: Url, timeout: Duration) -> Self {
        Self::with_ttl(base, timeout, KEY_CACHE_TTL)
    }

    /// [`InstallKeys::new`] with another cache lifetime (tests).
    pub fn with_ttl(base: Url, timeout: Duration, ttl: Duration) -> Self {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("HTTP client");
        Self {
            base,
            http,
            cache: TtlCache::new(ttl, MAX_CACHED_KEYS),
        }
    }

    pub async fn key(&self, kid: &str) -> Result<DecodingKey, KeyError> {
        if !valid_kid(kid) {
            return Err(KeyError::BadKid(kid.chars().take(60).collect()));
        }
        if let Some(k) = self.cache.get(kid) {
            return Ok(k);
        }
        let url = format!("{}/{kid}", self.base.as_str().trim_end_matches('/'));
        let resp = self
            .http
            .get(&url)
            .send()
            .await
            .map_err(|e| KeyError::Unavailable(e.to_string()))?;
        match resp.status().as_u16() {
            200 => {}
            404 | 403 => return Err(KeyError::Unknown(kid.to_owned())),
            s => return Err(KeyError::Unavailable(format!("status {s}"))),
        }
        let pem = crate::jira::outbound::read_bounded(resp, MAX_PEM_BYTES)
            .await
            .map_err(|e| KeyError::Invalid(e.to_string()))?;
        let key = DecodingKey::from_rsa_pem(&pem).map_err(|e| KeyError::Invalid(e.to_string()))?;
        self.cache.put(kid, key.clone());
        Ok(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kids_that_could_escape_the_url_are_refused() {
        assert!(valid_kid("0b0c0e3c-2a7a-4d8f-bf3c-4f1c1d2e3f4a"));
        assert!(valid_kid("prod/key-1.pem"));
        for bad in [
            "",
            "../secret",
            "/etc/passwd",
            "a?b",
            "a#b",
            "a b",
            "a%2e%2e",
            "http://x",
        ] {
            assert!(!valid_kid(bad), "{bad}");
        }
    }

    #[tokio::test]
    async fn a_withdrawn_key_stops_being_trusted_once_its_cache_entry_expires() {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicBool, Ordering};
        const PEM: &str = include_str!("../../../tests/jira-double/src/keys/install.pub.pem");
        let published = Arc::new(AtomicBool::new(true));
        let flag = published.clone();
        let app = axum::Router::new().route(
            "/{kid}",
            axum::routing::get(move || {
                let flag = flag.clone();
                async move {
                    if flag.load(Ordering::SeqCst) {
                        (axum::http::StatusCode::OK, PEM)
                    } else {
                        (axum::http::StatusCode::NOT_FOUND, "")
                    }
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base: Url = format!("http://{}", listener.local_addr().unwrap())
            .parse()
            .unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        let keys = InstallKeys::with_ttl(base, Duration::from_secs(5), Duration::from_millis(300));
        keys.key("k1").await.expect("published");
        // Atlassian withdraws the key: trusted from the cache a little longer, then not.
        published.store(false, Ordering::SeqCst);
        keys.key("k1").await.expect("cached");
        tokio::time::sleep(Duration::from_millis(350)).await;
        assert!(matches!(keys.key("k1").await, Err(KeyError::Unknown(_))));
    }
}
