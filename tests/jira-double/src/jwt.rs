//! JWT helpers for the double (signing what Jira signs, verifying what apps send).

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::Value;

pub fn hs256(claims: &Value, secret: &str) -> String {
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .expect("HS256 signing cannot fail")
}

pub fn rs256(claims: &Value, private_pem: &str, kid: &str) -> String {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(kid.to_owned());
    let key = EncodingKey::from_rsa_pem(private_pem.as_bytes()).expect("valid test key");
    jsonwebtoken::encode(&header, claims, &key).expect("RS256 signing")
}

/// The payload of a JWT without verifying it (to find the issuer before choosing a key).
pub fn unverified_claims(token: &str) -> Option<Value> {
    use base64::Engine as _;
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    serde_json::from_slice(&bytes).ok()
}

pub fn unverified_header(token: &str) -> Option<Value> {
    use base64::Engine as _;
    let header = token.split('.').next()?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(header.trim_end_matches('='))
        .ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// Verifies an HS256 token with `secret`, pinning the algorithm, requiring `exp`.
pub fn verify_hs256(
    token: &str,
    secret: &str,
    leeway_secs: u64,
    now: i64,
) -> Result<Value, String> {
    let header = unverified_header(token).ok_or("malformed JWT")?;
    if header.get("alg").and_then(Value::as_str) != Some("HS256") {
        return Err("JWT algorithm must be HS256".into());
    }
    let mut validation = jsonwebtoken::Validation::new(Algorithm::HS256);
    validation.validate_aud = false;
    validation.validate_exp = false;
    validation.required_spec_claims.clear();
    let data = jsonwebtoken::decode::<Value>(
        token,
        &jsonwebtoken::DecodingKey::from_secret(secret.as_bytes()),
        &validation,
    )
    .map_err(|e| format!("JWT signature verification failed: {e}"))?;
    let exp = data
        .claims
        .get("exp")
        .and_then(Value::as_i64)
        .ok_or("JWT has no exp")?;
    if exp + leeway_secs as i64 <= now {
        return Err("JWT expired".into());
    }
    Ok(data.claims)
}
