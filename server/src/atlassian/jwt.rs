//! Verifying Atlassian's JWTs. Lifecycle `installed`/`uninstalled` are RS256 with a key fetched
//! by `kid` (here, since it needs the key fetcher); the rest is in `verdict_wire::connect_jwt`.

use jsonwebtoken::{Algorithm, Validation};

pub use verdict_wire::connect_jwt::*;

use super::install_keys::{InstallKeys, KeyError};

impl From<KeyError> for AuthError {
    fn from(e: KeyError) -> Self {
        match e {
            KeyError::Unavailable(_) => AuthError::KeyUnavailable(e.to_string()),
            _ => AuthError::Key(e.to_string()),
        }
    }
}

/// Verifies a signed-install lifecycle call (`installed` / `uninstalled`).
pub async fn verify_install(
    keys: &InstallKeys,
    token: &str,
    accepted_audiences: &[String],
    request: &Request<'_>,
    body_client_key: &str,
) -> Result<ConnectClaims, AuthError> {
    let (alg, kid) = header_alg(token)?;
    if alg != "RS256" {
        return Err(AuthError::WrongAlgorithm {
            expected: "RS256",
            got: alg,
        });
    }
    let kid = kid.ok_or(AuthError::MissingKid)?;
    let key = keys.key(&kid).await?;
    let mut validation = Validation::new(Algorithm::RS256);
    validation.leeway = LEEWAY_SECS;
    validation.set_required_spec_claims(&["exp", "iss", "aud"]);
    let audiences: Vec<String> = accepted_audiences
        .iter()
        .flat_map(|a| [a.clone(), format!("{a}/")])
        .collect();
    validation.set_audience(&audiences);
    let data =
        jsonwebtoken::decode::<ConnectClaims>(token, &key, &validation).map_err(decode_error)?;
    check_qsh(&data.claims, request, false)?;
    // The body is not signed: bind it to the token, or one tenant's token could install another.
    if data.claims.iss != body_client_key {
        return Err(AuthError::IssuerMismatch);
    }
    Ok(data.claims)
}
