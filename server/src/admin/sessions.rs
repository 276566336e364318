//! The operator's sign-in on the standalone admin app: the `admin_token` is exchanged for a
//! session whose token lives only in an HttpOnly cookie (its SHA-256 in the database, so any
//! replica knows it) and a CSRF token that every change must echo in a header.

use base64::Engine as _;
use chrono::{DateTime, Duration, Utc};
use rand::RngCore;
use sea_orm::{ActiveModelTrait, ColumnTrait, DbErr, EntityTrait, QueryFilter, Set};
use sha2::{Digest, Sha256};

use crate::config::Secret;
use crate::store::Store;
use crate::store::entities::admin_sessions;

/// The cookie that carries the session token.
pub const COOKIE: &str = "verdict_admin";

/// A session just opened: the cookie token is known here only once.
pub struct NewSession {
    pub token: String,
    pub csrf_token: String,
    pub expires_at: DateTime<Utc>,
}

/// A live session.
#[derive(Debug, Clone)]
pub struct Session {
    pub csrf_token: String,
    pub expires_at: DateTime<Utc>,
}

fn random_token() -> String {
    let mut raw = [0u8; 32];
    rand::rng().fill_bytes(&mut raw);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
}

fn digest(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Whether `presented` is the configured admin token. Digests are compared so the time taken
/// says nothing about how much of the token was right.
pub fn admin_token_matches(expected: &Secret, presented: &str) -> bool {
    Sha256::digest(presented.as_bytes()) == Sha256::digest(expected.expose().as_bytes())
}

/// Opens a session lasting `hours`; expired sessions are pruned on the way.
pub async fn open(store: &Store, hours: u64) -> Result<NewSession, DbErr> {
    let token = random_token();
    let csrf_token = random_token();
    let now = Utc::now();
    let expires_at = now + Duration::hours(hours as i64);
    let _w = store.write_lock().await;
    admin_sessions::Entity::delete_many()
        .filter(admin_sessions::Column::ExpiresAt.lt(now))
        .exec(store.db())
        .await?;
    admin_sessions::ActiveModel {
        id: Set(digest(&token)),
        csrf_token: Set(csrf_token.clone()),
        created_at: Set(now),
        expires_at: Set(expires_at),
    }
    .insert(store.db())
    .await?;
    Ok(NewSession {
        token,
        csrf_token,
        expires_at,
    })
}

/// The live session for a cookie token, if any.
pub async fn find(store: &Store, token: &str) -> Result<Option<Session>, DbErr> {
    if token.is_empty() || token.len() > 100 {
        return Ok(None);
    }
    Ok(admin_sessions::Entity::find_by_id(digest(token))
        .one(store.db())
        .await?
        .filter(|s| s.expires_at > Utc::now())
        .map(|s| Session {
            csrf_token: s.csrf_token,
            expires_at: s.expires_at,
        }))
}

/// Signs out: the cookie token stops working at once, on every replica.
pub async fn close(store: &Store, token: &str) -> Result<(), DbErr> {
    let _w = store.write_lock().await;
    admin_sessions::Entity::delete_by_id(digest(token))
        .exec(store.db())
        .await?;
    Ok(())
}

/// Compares a presented CSRF token with the session's in constant time.
pub fn csrf_matches(session: &Session, presented: &str) -> bool {
    Sha256::digest(presented.as_bytes()) == Sha256::digest(session.csrf_token.as_bytes())
}
