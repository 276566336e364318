//! Who may administer: a context token or a Forge invocation proves who is asking, not that
//! they administer Jira. This asks Jira (`ADMINISTER`, with the app's own credentials) and
//! remembers the answer for `admin_permission_cache_secs`.

use std::time::Duration;

use super::AdminError;
use crate::cache::TtlCache;
use crate::state::AppState;

/// The Jira global permission that makes someone a Jira administrator.
pub const ADMINISTER: &str = "ADMINISTER";

/// A "no" is kept at most this long, so someone just made an admin is not kept waiting.
const NEGATIVE_TTL: Duration = Duration::from_secs(30);
/// How long a page waits for Jira's answer before saying it cannot check.
const CHECK_TIMEOUT: Duration = Duration::from_secs(10);

/// Cached answers per (tenant, account): a "yes" for the configured time, a "no" for at most
/// [`NEGATIVE_TTL`].
pub struct AdminAccess {
    admins: TtlCache<()>,
    others: TtlCache<()>,
}

/// Most (tenant, account) answers of each kind remembered at once.
const MAX_ANSWERS: usize = 10_000;

fn key(tenant: &str, account: &str) -> String {
    format!("{tenant}\u{1f}{account}")
}

impl AdminAccess {
    pub fn new(ttl: Duration) -> Self {
        Self {
            admins: TtlCache::new(ttl, MAX_ANSWERS),
            others: TtlCache::new(ttl.min(NEGATIVE_TTL), MAX_ANSWERS),
        }
    }

    fn cached(&self, tenant: &str, account: &str) -> Option<bool> {
        let k = key(tenant, account);
        if self.admins.get(&k).is_some() {
            Some(true)
        } else {
            self.others.get(&k).map(|()| false)
        }
    }

    fn remember(&self, tenant: &str, account: &str, is_admin: bool) {
        let k = key(tenant, account);
        let (yes, no) = if is_admin {
            (&self.admins, &self.others)
        } else {
            (&self.others, &self.admins)
        };
        no.forget(&k);
        yes.put(&k, ());
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
    use std::time::Instant;

    use super::*;

    #[test]
    fn answers_expire_and_noes_expire_sooner() {
        let access = AdminAccess::new(Duration::from_secs(300));
        access.remember("t", "yes", true);
        access.remember("t", "no", false);
        assert_eq!(access.cached("t", "yes"), Some(true));
        assert_eq!(access.cached("t", "no"), Some(false));
        assert_eq!(access.cached("other-tenant", "yes"), None);
        // A minute on: the yes stands, the no is asked again.
        let later = Instant::now() + Duration::from_secs(60);
        assert_eq!(access.admins.get_at(&key("t", "yes"), later), Some(()));
        assert_eq!(access.others.get_at(&key("t", "no"), later), None);
        // Made an admin: the old no goes at once.
        access.remember("t", "no", true);
        assert_eq!(access.cached("t", "no"), Some(true));
        let none = AdminAccess::new(Duration::ZERO);
        none.remember("t", "yes", true);
        assert_eq!(none.cached("t", "yes"), None);
    }
}
