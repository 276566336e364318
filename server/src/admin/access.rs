//! Who may administer: a context token or a Forge invocation proves who is asking, not that
//! they administer Jira. This asks Jira (`ADMINISTER`, with the app's own credentials) and
//! remembers the answer for `admin_permission_cache_secs`.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::AdminError;
use crate::state::AppState;

/// The Jira global permission that makes someone a Jira administrator.
pub const ADMINISTER: &str = "ADMINISTER";

/// A "no" is kept at most this long, so someone just made an admin is not kept waiting.
const NEGATIVE_TTL: Duration = Duration::from_secs(30);
/// How long a page waits for Jira's answer before saying it cannot check.
const CHECK_TIMEOUT: Duration = Duration::from_secs(10);

/// Cached answers per (tenant, account).
pub struct AdminAccess {
    ttl: Duration,
    answers: Mutex<HashMap<(String, String), (bool, Instant)>>,
}

impl AdminAccess {
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            answers: Mutex::new(HashMap::new()),
        }
    }

    fn cached(&self, tenant: &str, account: &str) -> Option<bool> {
        let answers = self.answers.lock().unwrap_or_else(|e| e.into_inner());
        let (is_admin, at) = answers.get(&(tenant.to_owned(), account.to_owned()))?;
        let ttl = if *is_admin {
            self.ttl
        } else {
            self.ttl.min(NEGATIVE_TTL)
        };
        (at.elapsed() < ttl).then_some(*is_admin)
    }

    fn remember(&self, tenant: &str, account: &str, is_admin: bool) {
        let mut answers = self.answers.lock().unwrap_or_else(|e| e.into_inner());
        // Bounded: an old entry is worthless after the TTL anyway.
        if answers.len() > 10_000 {
            answers.retain(|_, (_, at)| at.elapsed() < self.ttl);
        }
        answers.insert(
            (tenant.to_owned(), account.to_owned()),
            (is_admin, Instant::now()),
        );
    }

    /// Ok when `account` is a Jira administrator of the tenant's site.
    pub async fn require_jira_admin(
        &self,
        state: &AppState,
        tenant: &str,
        account: &str,
    ) -> Result<(), AdminError> {
        let is_admin = match self.cached(tenant, account) {
            Some(answer) => answer,
            None => {
                let check = async {
                    let auth = state
                        .jira_auth(tenant)
                        .await
                        .map_err(|e| AdminError::PermissionCheckFailed(e.to_string()))?;
                    state
                        .jira()
                        .has_global_permission(&auth, account, ADMINISTER)
                        .await
                        .map_err(|e| AdminError::PermissionCheckFailed(e.to_string()))
                };
                let answer = tokio::time::timeout(CHECK_TIMEOUT, check)
                    .await
                    .map_err(|_| {
                        AdminError::PermissionCheckFailed(format!(
                            "Jira did not answer within {} s",
                            CHECK_TIMEOUT.as_secs()
                        ))
                    })??;
                self.remember(tenant, account, answer);
                answer
            }
        };
        if is_admin {
            Ok(())
        } else {
            Err(AdminError::NotJiraAdmin(format!("Account {account}")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_expire_and_noes_expire_sooner() {
        let access = AdminAccess::new(Duration::from_secs(300));
        access.remember("t", "yes", true);
        access.remember("t", "no", false);
        assert_eq!(access.cached("t", "yes"), Some(true));
        assert_eq!(access.cached("t", "no"), Some(false));
        assert_eq!(access.cached("other-tenant", "yes"), None);
        let old = Instant::now() - Duration::from_secs(60);
        access
            .answers
            .lock()
            .unwrap()
            .values_mut()
            .for_each(|v| v.1 = old);
        assert_eq!(access.cached("t", "yes"), Some(true));
        assert_eq!(access.cached("t", "no"), None);
        let none = AdminAccess::new(Duration::ZERO);
        none.remember("t", "yes", true);
        assert_eq!(none.cached("t", "yes"), None);
    }
}
