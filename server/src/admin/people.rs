//! Names for the Atlassian account ids the admin app shows (who closed a ticket, who changed a
//! setting), asked of Jira in bulk and kept for an hour. A name is a courtesy: when Jira does
//! not answer, the account id is shown and nothing fails.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::state::AppState;

const TTL: Duration = Duration::from_secs(3600);
/// A page never waits longer than this for names.
const LOOKUP_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Default)]
pub struct People {
    names: Mutex<HashMap<(String, String), (String, Instant)>>,
}

impl People {
    /// The display names Jira knows for `accounts` of the tenant's site.
    pub async fn names(
        &self,
        state: &AppState,
        tenant: &str,
        accounts: &[String],
    ) -> HashMap<String, String> {
        let mut out = HashMap::new();
        let mut missing = Vec::new();
        {
            let names = self.names.lock().unwrap_or_else(|e| e.into_inner());
            for a in accounts {
                match names.get(&(tenant.to_owned(), a.clone())) {
                    Some((n, at)) if at.elapsed() < TTL => {
                        out.insert(a.clone(), n.clone());
                    }
                    _ if !missing.contains(a) => missing.push(a.clone()),
                    _ => {}
                }
            }
        }
        if missing.is_empty() {
            return out;
        }
        let lookup = async {
            let auth = state.jira_auth(tenant).await.map_err(|e| e.to_string())?;
            state
                .jira()
                .display_names(&auth, &missing)
                .await
                .map_err(|e| e.to_string())
        };
        let found = tokio::time::timeout(LOOKUP_TIMEOUT, lookup)
            .await
            .unwrap_or_else(|_| Err("Jira did not answer in time".into()));
        match found {
            Ok(found) => {
                let mut names = self.names.lock().unwrap_or_else(|e| e.into_inner());
                if names.len() > 50_000 {
                    names.clear();
                }
                for (id, name) in found {
                    names.insert(
                        (tenant.to_owned(), id.clone()),
                        (name.clone(), Instant::now()),
                    );
                    out.insert(id, name);
                }
            }
            Err(e) => tracing::debug!(tenant, error = %e, "no display names from Jira"),
        }
        out
    }
}
