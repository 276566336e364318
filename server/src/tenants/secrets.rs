//! Encryption at rest for what Atlassian hands Verdict (Connect shared secrets, OAuth tokens,
//! API tokens): XChaCha20-Poly1305 with a random nonce per value and the value's purpose as
//! associated data, so a ciphertext cannot be moved to another column or tenant unnoticed.

use std::fmt;

use base64::Engine as _;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;

/// Stored values start with this version tag, so the scheme can change without guessing.
const VERSION: &str = "v1";

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SecretError {
    #[error("the secret key must be base64 of exactly 32 bytes")]
    BadKey,
    #[error("stored secret is malformed")]
    Malformed,
    #[error("stored secret does not decrypt with this key (wrong VERDICT_SECRET_KEY, or tampered)")]
    Undecryptable,
    #[error("cannot use the development key file {path}: {message}")]
    KeyFile { path: String, message: String },
}

/// The at-rest key. Never printed.
#[derive(Clone)]
pub struct SecretBox {
    cipher: XChaCha20Poly1305,
}

impl fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretBox(REDACTED)")
    }
}

impl SecretBox {
    pub fn from_base64(key: &str) -> Result<Self, SecretError> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(key.trim())
            .map_err(|_| SecretError::BadKey)?;
        if bytes.len() != 32 {
            return Err(SecretError::BadKey);
        }
        Ok(Self {
            cipher: XChaCha20Poly1305::new_from_slice(&bytes).map_err(|_| SecretError::BadKey)?,
        })
    }

    /// A fresh random key, base64-encoded (what `VERDICT_SECRET_KEY` holds).
    pub fn generate_key() -> String {
        let mut key = [0u8; 32];
        rand::rng().fill_bytes(&mut key);
        base64::engine::general_purpose::STANDARD.encode(key)
    }

    /// `purpose` names what the value is and whose (e.g. `connect-shared-secret:<tenant id>`).
    pub fn seal(&self, purpose: &str, plaintext: &str) -> String {
        let mut nonce = [0u8; 24];
        rand::rng().fill_bytes(&mut nonce);
        let sealed = self
            .cipher
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: plaintext.as_bytes(),
                    aad: purpose.as_bytes(),
                },
            )
            .expect("encryption of in-memory data cannot fail");
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        format!("{VERSION}.{}.{}", b64.encode(nonce), b64.encode(sealed))
    }

    pub fn open(&self, purpose: &str, stored: &str) -> Result<String, SecretError> {
        let mut parts = stored.split('.');
        let (Some(VERSION), Some(nonce), Some(sealed), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(SecretError::Malformed);
        };
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let nonce = b64.decode(nonce).map_err(|_| SecretError::Malformed)?;
        let sealed = b64.decode(sealed).map_err(|_| SecretError::Malformed)?;
        if nonce.len() != 24 {
            return Err(SecretError::Malformed);
        }
        let plain = self
            .cipher
            .decrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: &sealed,
                    aad: purpose.as_bytes(),
                },
            )
            .map_err(|_| SecretError::Undecryptable)?;
        String::from_utf8(plain).map_err(|_| SecretError::Malformed)
    }
}

/// The configured key, or in development mode a generated one kept in `secret_key_file`
/// (created with mode 0600) so encrypted secrets survive restarts.
pub fn load(config: &crate::config::Config) -> Result<SecretBox, SecretError> {
    if let Some(key) = &config.secret_key {
        return SecretBox::from_base64(key.expose());
    }
    let path = &config.secret_key_file;
    let file_error = |e: std::io::Error| SecretError::KeyFile {
        path: path.display().to_string(),
        message: e.to_string(),
    };
    if path.exists() {
        let key = std::fs::read_to_string(path).map_err(file_error)?;
        return SecretBox::from_base64(&key);
    }
    let key = SecretBox::generate_key();
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).map_err(file_error)?;
    std::io::Write::write_all(&mut file, key.as_bytes()).map_err(file_error)?;
    tracing::warn!(
        path = %path.display(),
        "no secret_key configured: generated a development at-rest key; set VERDICT_SECRET_KEY in production"
    );
    SecretBox::from_base64(&key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seals_and_opens_and_binds_the_purpose() {
        let b = SecretBox::from_base64(&SecretBox::generate_key()).unwrap();
        let stored = b.seal("connect-shared-secret:t1", "s3cr3t");
        assert!(!stored.contains("s3cr3t"));
        assert_ne!(
            stored,
            b.seal("connect-shared-secret:t1", "s3cr3t"),
            "random nonce"
        );
        assert_eq!(
            b.open("connect-shared-secret:t1", &stored).unwrap(),
            "s3cr3t"
        );
        assert_eq!(
            b.open("connect-shared-secret:t2", &stored),
            Err(SecretError::Undecryptable),
            "a value moved to another tenant does not open"
        );
        let other = SecretBox::from_base64(&SecretBox::generate_key()).unwrap();
        assert_eq!(
            other.open("connect-shared-secret:t1", &stored),
            Err(SecretError::Undecryptable)
        );
        assert_eq!(b.open("x", "garbage"), Err(SecretError::Malformed));
        assert!(format!("{b:?}").contains("REDACTED"));
    }

    #[test]
    fn keys_must_be_32_bytes_of_base64() {
        assert_eq!(
            SecretBox::from_base64("c2hvcnQ=").unwrap_err(),
            SecretError::BadKey
        );
        assert_eq!(
            SecretBox::from_base64("not base64!").unwrap_err(),
            SecretError::BadKey
        );
    }
}
