//! Reading and verifying Atlassian's JWTs without I/O: the `JWT` header scheme, the
//! unverified issuer, HS256 Connect tokens with exact `qsh`, OAuth webhook tokens. Each scheme
//! is pinned to one algorithm; the `context-qsh` placeholder is only accepted where a route
//! asks for it. (RS256 install tokens need a fetched key: the server verifies those.)

use base64::Engine as _;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serde_json::Value;

use crate::qsh;

/// Clock skew tolerated on `exp`.
pub const LEEWAY_SECS: u64 = 10;

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("missing or malformed Authorization header")]
    Missing,
    #[error("malformed JWT: {0}")]
    Malformed(String),
    #[error("JWT must be signed with {expected}, not {got}")]
    WrongAlgorithm { expected: &'static str, got: String },
    #[error("JWT has no kid")]
    MissingKid,
    /// The token names a key that does not exist or is not a valid key (the message says which).
    #[error("{0}")]
    Key(String),
    /// The key server could not be reached: the caller may try again later.
    #[error("{0}")]
    KeyUnavailable(String),
    #[error("JWT signature does not verify")]
    BadSignature,
    #[error("JWT verification failed: {0}")]
    Invalid(String),
    #[error("the token has expired")]
    Expired,
    #[error("JWT has no qsh claim")]
    MissingQsh,
    #[error("context JWTs (qsh `context-qsh`) are not accepted here")]
    ContextQsh,
    #[error("JWT qsh does not match the request")]
    QshMismatch,
    #[error("JWT issuer does not match the clientKey in the body")]
    IssuerMismatch,
    #[error("no installed tenant for this JWT issuer")]
    UnknownTenant,
}

impl AuthError {
    /// A short, fixed name for why the token was refused (a metrics label: never the token,
    /// never free text).
    pub fn reason(&self) -> &'static str {
        match self {
            AuthError::Missing => "missing",
            AuthError::Malformed(_) => "malformed",
            AuthError::WrongAlgorithm { .. } => "wrong_algorithm",
            AuthError::MissingKid => "missing_kid",
            AuthError::Key(_) | AuthError::KeyUnavailable(_) => "signing_key",
            AuthError::BadSignature => "bad_signature",
            AuthError::Invalid(_) => "invalid_claims",
            AuthError::Expired => "expired",
            AuthError::MissingQsh => "missing_qsh",
            AuthError::ContextQsh => "context_qsh",
            AuthError::QshMismatch => "qsh_mismatch",
            AuthError::IssuerMismatch => "issuer_mismatch",
            AuthError::UnknownTenant => "unknown_tenant",
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct ConnectClaims {
    pub iss: String,
    #[serde(default)]
    pub sub: Option<String>,
    pub exp: i64,
    #[serde(default)]
    pub qsh: Option<String>,
}

/// Reads the `JWT <token>` scheme (Atlassian's), case-insensitively.
pub fn token_from_header(header: Option<&str>) -> Result<&str, AuthError> {
    let header = header.ok_or(AuthError::Missing)?;
    let (scheme, token) = header.split_once(' ').ok_or(AuthError::Missing)?;
    if !scheme.eq_ignore_ascii_case("jwt") || token.trim().is_empty() {
        return Err(AuthError::Missing);
    }
    Ok(token.trim())
}

/// The header's `alg` and `kid`, unverified: to pick the verification scheme.
pub fn header_alg(token: &str) -> Result<(String, Option<String>), AuthError> {
    let raw = token
        .split('.')
        .next()
        .ok_or_else(|| AuthError::Malformed("no header".into()))?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(raw.trim_end_matches('='))
        .map_err(|_| AuthError::Malformed("header is not base64url".into()))?;
    let v: Value = serde_json::from_slice(&bytes)
        .map_err(|_| AuthError::Malformed("header is not JSON".into()))?;
    let alg = v
        .get("alg")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    let kid = v.get("kid").and_then(Value::as_str).map(str::to_owned);
    Ok((alg, kid))
}

/// The `iss` of a token, unverified: only to choose the key to verify it with.
pub fn unverified_issuer(token: &str) -> Result<String, AuthError> {
    let raw = token
        .split('.')
        .nth(1)
        .ok_or_else(|| AuthError::Malformed("no payload".into()))?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(raw.trim_end_matches('='))
        .map_err(|_| AuthError::Malformed("payload is not base64url".into()))?;
    let v: Value = serde_json::from_slice(&bytes)
        .map_err(|_| AuthError::Malformed("payload is not JSON".into()))?;
    v.get("iss")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| AuthError::Malformed("no iss".into()))
}

/// Whether the token's `qsh` binds it to this request.
pub fn check_qsh(
    claims: &ConnectClaims,
    request: &Request<'_>,
    allow_context: bool,
) -> Result<(), AuthError> {
    let presented = claims.qsh.as_deref().ok_or(AuthError::MissingQsh)?;
    if presented == qsh::CONTEXT_QSH {
        return if allow_context {
            Ok(())
        } else {
            Err(AuthError::ContextQsh)
        };
    }
    if presented == qsh::qsh(request.method, request.path, request.query) {
        return Ok(());
    }
    // Encoded path segments: some clients hash the decoded path (Atlassian's own apps hit this).
    let decoded = percent_encoding::percent_decode_str(request.path).decode_utf8_lossy();
    if decoded != request.path && presented == qsh::qsh(request.method, &decoded, request.query) {
        return Ok(());
    }
    Err(AuthError::QshMismatch)
}

/// The request as qsh sees it: the path is relative to Verdict's base URL path.
pub struct Request<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub query: &'a str,
}

/// A failed decode: an expired token is told apart, so a page can say "refresh".
pub fn decode_error(e: jsonwebtoken::errors::Error) -> AuthError {
    match e.kind() {
        jsonwebtoken::errors::ErrorKind::ExpiredSignature => AuthError::Expired,
        jsonwebtoken::errors::ErrorKind::InvalidSignature => AuthError::BadSignature,
        _ => AuthError::Invalid(e.to_string()),
    }
}

/// Verifies an HS256 Connect JWT with the issuer's shared secret.
pub fn verify_hs256(
    token: &str,
    shared_secret: &str,
    request: &Request<'_>,
    allow_context_qsh: bool,
) -> Result<ConnectClaims, AuthError> {
    let (alg, _) = header_alg(token)?;
    if alg != "HS256" {
        return Err(AuthError::WrongAlgorithm {
            expected: "HS256",
            got: alg,
        });
    }
    let mut validation = Validation::new(Algorithm::HS256);
    validation.leeway = LEEWAY_SECS;
    validation.validate_aud = false;
    validation.set_required_spec_claims(&["exp", "iss"]);
    let data = jsonwebtoken::decode::<ConnectClaims>(
        token,
        &DecodingKey::from_secret(shared_secret.as_bytes()),
        &validation,
    )
    .map_err(decode_error)?;
    check_qsh(&data.claims, request, allow_context_qsh)?;
    Ok(data.claims)
}

/// Verifies the bearer JWT on an OAuth 2.0 dynamic-webhook delivery: HS256 with the app's
/// client secret (Atlassian does not document the claims; `aud`, when present, must be the
/// client id).
pub fn verify_oauth_webhook(
    token: &str,
    client_secret: &str,
    client_id: &str,
) -> Result<(), AuthError> {
    let (alg, _) = header_alg(token)?;
    if alg != "HS256" {
        return Err(AuthError::WrongAlgorithm {
            expected: "HS256",
            got: alg,
        });
    }
    let mut validation = Validation::new(Algorithm::HS256);
    validation.leeway = LEEWAY_SECS;
    validation.validate_aud = false;
    validation.set_required_spec_claims(&["exp"]);
    let data = jsonwebtoken::decode::<Value>(
        token,
        &DecodingKey::from_secret(client_secret.as_bytes()),
        &validation,
    )
    .map_err(decode_error)?;
    match data.claims.get("aud") {
        None => Ok(()),
        Some(Value::String(a)) if a == client_id => Ok(()),
        Some(Value::Array(a)) if a.iter().any(|x| x.as_str() == Some(client_id)) => Ok(()),
        Some(_) => Err(AuthError::Invalid("aud is not this app's client id".into())),
    }
}
