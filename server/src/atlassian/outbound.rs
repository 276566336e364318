//! Credentials for Verdict's own calls to a tenant's Jira/Confluence, one variant per
//! connection kind. Each produces the `Authorization` header for a specific request (Connect
//! JWTs hash the request) and knows the base URL its calls must go to.

use std::fmt;

use base64::Engine as _;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;
use url::Url;

use super::qsh;
use crate::config::Secret;

/// Connect JWTs Verdict signs live this long (Atlassian recommends at most 3 minutes).
pub const CONNECT_JWT_TTL_SECS: i64 = 180;

#[derive(Clone)]
pub enum JiraAuth {
    /// Connect (and Connect-on-Forge): HS256 JWT, iss = app key, qsh of the request; calls go
    /// to the site URL from the install payload.
    Connect {
        app_key: String,
        shared_secret: Secret,
        site_url: Url,
    },
    /// Forge Remote: the app system token from `x-forge-oauth-system`, opaque, used as a bearer
    /// on the `apiBaseUrl` the invocation token named.
    ForgeSystemToken { token: Secret, api_base_url: Url },
    /// OAuth 2.0 (3LO) access token on `api.atlassian.com/ex/jira/{cloudId}`.
    OAuth2 {
        access_token: Secret,
        api_base_url: Url,
    },
    /// Cloud API token: basic auth with the user's email.
    ApiToken {
        email: String,
        token: Secret,
        site_url: Url,
    },
    /// Jira Data Center personal access token (bearer), REST v2 only.
    DataCenterPat { token: Secret, base_url: Url },
}

impl JiraAuth {
    /// Whether Jira counts this connection's calls against the app's points quota (Forge,
    /// Connect and OAuth 2.0 apps); API tokens and Data Center are outside it.
    pub fn in_app_pool(&self) -> bool {
        matches!(
            self,
            JiraAuth::Connect { .. } | JiraAuth::ForgeSystemToken { .. } | JiraAuth::OAuth2 { .. }
        )
    }
}

impl fmt::Debug for JiraAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print credentials: only the kind and where it points.
        write!(f, "JiraAuth::{}({})", self.kind(), self.base_url())
    }
}

/// Which REST representation the tenant speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiFlavor {
    /// Jira Cloud REST v3: ADF for rich text.
    CloudV3,
    /// Jira Data Center REST v2: wiki markup.
    DataCenterV2,
}

impl JiraAuth {
    pub fn kind(&self) -> &'static str {
        match self {
            JiraAuth::Connect { .. } => "connect",
            JiraAuth::ForgeSystemToken { .. } => "forge",
            JiraAuth::OAuth2 { .. } => "oauth2",
            JiraAuth::ApiToken { .. } => "api_token",
            JiraAuth::DataCenterPat { .. } => "data_center_pat",
        }
    }

    /// Where REST paths (`/rest/api/3/…`, `/wiki/…`) are appended.
    pub fn base_url(&self) -> &Url {
        match self {
            JiraAuth::Connect { site_url, .. } | JiraAuth::ApiToken { site_url, .. } => site_url,
            JiraAuth::ForgeSystemToken { api_base_url, .. }
            | JiraAuth::OAuth2 { api_base_url, .. } => api_base_url,
            JiraAuth::DataCenterPat { base_url, .. } => base_url,
        }
    }

    pub fn flavor(&self) -> ApiFlavor {
        match self {
            JiraAuth::DataCenterPat { .. } => ApiFlavor::DataCenterV2,
            _ => ApiFlavor::CloudV3,
        }
    }

    /// The full URL for a REST path (which starts with `/`).
    pub fn url(&self, path_and_query: &str) -> String {
        format!(
            "{}{}",
            self.base_url().as_str().trim_end_matches('/'),
            path_and_query
        )
    }

    /// The `Authorization` header value for `method` on `url` (an absolute URL under `base_url`).
    pub fn authorization(&self, method: &str, url: &Url, now: i64) -> String {
        match self {
            JiraAuth::Connect {
                app_key,
                shared_secret,
                site_url,
            } => {
                // qsh is over the path relative to the installed base URL; Confluence's
                // base URL ends in `/wiki`, so its REST paths are hashed without it.
                let context = site_url.path().trim_end_matches('/');
                let rel = url.path().strip_prefix(context).unwrap_or(url.path());
                let rel = rel
                    .strip_prefix("/wiki")
                    .filter(|r| r.starts_with('/'))
                    .unwrap_or(rel);
                let claims = json!({
                    "iss": app_key,
                    "iat": now,
                    "exp": now + CONNECT_JWT_TTL_SECS,
                    "qsh": qsh::qsh(method, rel, url.query().unwrap_or("")),
                });
                let token = jsonwebtoken::encode(
                    &Header::new(Algorithm::HS256),
                    &claims,
                    &EncodingKey::from_secret(shared_secret.expose().as_bytes()),
                )
                .expect("HS256 signing cannot fail");
                format!("JWT {token}")
            }
            JiraAuth::ForgeSystemToken { token, .. }
            | JiraAuth::OAuth2 {
                access_token: token,
                ..
            }
            | JiraAuth::DataCenterPat { token, .. } => format!("Bearer {}", token.expose()),
            JiraAuth::ApiToken { email, token, .. } => {
                let raw = format!("{email}:{}", token.expose());
                format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD.encode(raw)
                )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connect_jwts_hash_the_request_relative_to_the_site() {
        let auth = JiraAuth::Connect {
            app_key: "io.verdict.jira".into(),
            shared_secret: Secret::new("s"),
            site_url: Url::parse("https://h.example/s/acme").unwrap(),
        };
        let url = Url::parse(
            "https://h.example/s/acme/rest/api/3/search/jql?jql=project%20%3D%20SEC&fields=key",
        )
        .unwrap();
        let header = auth.authorization("GET", &url, 1_000);
        let token = header.strip_prefix("JWT ").unwrap();
        let mut v = jsonwebtoken::Validation::new(Algorithm::HS256);
        v.validate_exp = false;
        let claims = jsonwebtoken::decode::<serde_json::Value>(
            token,
            &jsonwebtoken::DecodingKey::from_secret(b"s"),
            &v,
        )
        .unwrap()
        .claims;
        assert_eq!(claims["iss"], "io.verdict.jira");
        assert_eq!(claims["exp"], 1_180);
        assert_eq!(
            claims["qsh"],
            qsh::qsh(
                "GET",
                "/rest/api/3/search/jql",
                "jql=project%20%3D%20SEC&fields=key"
            )
        );
        assert!(!format!("{auth:?}").contains("\"s\""));
    }

    #[test]
    fn bearer_and_basic_kinds() {
        let site = Url::parse("https://x.atlassian.net").unwrap();
        let api = JiraAuth::ApiToken {
            email: "a@b.c".into(),
            token: Secret::new("tok"),
            site_url: site.clone(),
        };
        assert_eq!(api.authorization("GET", &site, 0), "Basic YUBiLmM6dG9r");
        let pat = JiraAuth::DataCenterPat {
            token: Secret::new("pat"),
            base_url: site.clone(),
        };
        assert_eq!(pat.authorization("GET", &site, 0), "Bearer pat");
        assert_eq!(pat.flavor(), ApiFlavor::DataCenterV2);
        assert!(!format!("{pat:?}").contains("pat\""));
    }
}
