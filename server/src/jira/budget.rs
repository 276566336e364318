//! Jira Cloud's hourly points quota, spent fairly: one pool per app shared by every tenant
//! (Atlassian's Tier 1), a tenant's own pool where Atlassian grants one (Tier 2, learned from
//! `RateLimit-Policy`), a reserve only closure write-backs may spend, and a cap on what one
//! tenant's bulk work (exports, ticket updates, reconciliation) may take of the app's hour.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::header::HeaderMap;
use serde::Serialize;

/// Which work a Jira call serves. Closure work (reading a closed ticket, writing the verdict
/// back: transitions and comments) comes before bulk work when the hour's points run short.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    Closure,
    Bulk,
}

impl Priority {
    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Closure => "closure",
            Priority::Bulk => "bulk",
        }
    }
}

tokio::task_local! {
    /// The priority of the Jira calls made inside a scope (an outbound job sets it from its
    /// kind); calls outside any scope are closure work.
    static PRIORITY: Priority;
}

/// Runs `f` with its Jira calls counted as `p`.
pub async fn with_priority<F: std::future::Future>(p: Priority, f: F) -> F::Output {
    PRIORITY.scope(p, f).await
}

pub fn current_priority() -> Priority {
    PRIORITY.try_with(|p| *p).unwrap_or(Priority::Closure)
}

/// Every reason the budget gives starts with this (jobs waiting for it are found by it).
pub const HELD_BACK: &str = "held back by the hour's Jira points";

#[derive(Debug, Clone)]
pub struct BudgetConfig {
    /// The app's points per hour across all tenants (Atlassian's Tier 1: 65,000).
    pub app_hourly_points: u32,
    /// Part of every pool (percent) only closure work may spend.
    pub closure_reserve_percent: u32,
    /// Most of the app's bulk points (percent) one tenant may spend in an hour.
    pub tenant_share_percent: u32,
}

impl BudgetConfig {
    pub fn from_config(c: &crate::config::Config) -> Self {
        Self {
            app_hourly_points: c.jira_app_hourly_points,
            closure_reserve_percent: c.jira_closure_reserve_percent,
            tenant_share_percent: c.jira_tenant_share_percent,
        }
    }
}

/// The configuration's defaults.
impl Default for BudgetConfig {
    fn default() -> Self {
        Self::from_config(&crate::config::Config::default())
    }
}

/// A call the budget holds back, and until when.
#[derive(Debug, Clone)]
pub struct Deferred {
    pub wait: Duration,
    pub reason: String,
}

#[derive(Debug, Default, Clone)]
struct SiteUse {
    /// Points this site's calls spent from the app pool this hour (counted here).
    used: u32,
    /// The site's own pool, when Jira says it has one: (quota, remaining).
    tenant_pool: Option<(u32, u32)>,
    near_limit: bool,
    deferred_closure: u64,
    deferred_bulk: u64,
}

#[derive(Debug, Default)]
struct Hour {
    /// Hours since the epoch (UTC): Jira's quotas reset at the top of the hour.
    number: i64,
    /// Points spent from the app pool: counted here, raised to what Jira says it counted.
    app_used: u32,
    /// The pool's size as Jira states it (`RateLimit-Policy`), else the configured one.
    app_quota: Option<u32>,
    sites: HashMap<String, SiteUse>,
}

pub struct Budget {
    config: BudgetConfig,
    hour: Mutex<Hour>,
}

/// The hour's budget as the admin overview and metrics show it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct BudgetView {
    pub hour_started_at: DateTime<Utc>,
    pub resets_at: DateTime<Utc>,
    /// The app pool shared by every tenant on Jira Cloud.
    pub app_quota: u32,
    pub app_used: u32,
    /// Points of the app pool only closure work may spend.
    pub closure_reserve: u32,
    /// Most one tenant's bulk work may spend this hour.
    pub tenant_bulk_cap: u32,
    pub sites: Vec<SiteBudgetView>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SiteBudgetView {
    pub site: String,
    pub used: u32,
    /// The site's own pool (Atlassian's Tier 2), when Jira stated one.
    pub tenant_quota: Option<u32>,
    pub tenant_remaining: Option<u32>,
    /// Jira said fewer than 20 % of the points are left.
    pub near_limit: bool,
    /// Calls held back this hour, by priority.
    pub deferred_closure: u64,
    pub deferred_bulk: u64,
}

fn hour_of(now: DateTime<Utc>) -> i64 {
    now.timestamp().div_euclid(3600)
}

fn hour_start(n: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(n * 3600, 0).unwrap_or_default()
}

impl Budget {
    pub fn new(config: BudgetConfig) -> Self {
        Self {
            config,
            hour: Mutex::new(Hour::default()),
        }
    }

    fn roll(&self, now: DateTime<Utc>) -> std::sync::MutexGuard<'_, Hour> {
        let mut h = self.hour.lock().unwrap_or_else(|e| e.into_inner());
        let n = hour_of(now);
        if h.number != n {
            let quota = h.app_quota;
            *h = Hour {
                number: n,
                app_quota: quota,
                ..Hour::default()
            };
        }
        h
    }

    fn caps(&self, quota: u32) -> (u32, u32) {
        let reserve = quota.saturating_mul(self.config.closure_reserve_percent) / 100;
        let bulk = quota - reserve;
        let tenant_cap = (bulk.saturating_mul(self.config.tenant_share_percent) / 100).max(1);
        (reserve, tenant_cap)
    }

    /// Admits one call of `priority` to `site` (charging it a point) or says how long it must
    /// wait. `app_pool` is false for API-token and Data Center traffic, which no quota covers.
    pub fn admit(
        &self,
        site: &str,
        app_pool: bool,
        priority: Priority,
        now: DateTime<Utc>,
    ) -> Result<(), Deferred> {
        if !app_pool {
            return Ok(());
        }
        let mut guard = self.roll(now);
        let h = &mut *guard;
        let until_reset = (hour_start(h.number + 1) - now)
            .to_std()
            .unwrap_or_default()
            .max(Duration::from_secs(1));
        let quota = h.app_quota.unwrap_or(self.config.app_hourly_points);
        let (reserve, tenant_cap) = self.caps(quota);
        let app_used = h.app_used;
        let s = h.sites.entry(site.to_owned()).or_default();
        let refusal = if let Some((tq, remaining)) = s.tenant_pool {
            // The site's own pool: the reserve applies inside it.
            let tenant_reserve = tq.saturating_mul(self.config.closure_reserve_percent) / 100;
            match priority {
                _ if remaining == 0 => Some("the site's own Jira points for this hour are spent"),
                Priority::Bulk if remaining <= tenant_reserve => Some(
                    "the rest of the site's Jira points this hour is kept for closure write-backs",
                ),
                _ => None,
            }
        } else {
            match priority {
                _ if app_used >= quota => {
                    Some("the app's Jira points for this hour are spent (shared by every tenant)")
                }
                Priority::Bulk if app_used >= quota - reserve => Some(
                    "the rest of the app's Jira points this hour is kept for closure write-backs",
                ),
                Priority::Bulk if s.used >= tenant_cap => Some(
                    "this tenant's bulk work has had its share of the app's Jira points this hour (jira_tenant_share_percent)",
                ),
                _ => None,
            }
        };
        if let Some(reason) = refusal {
            match priority {
                Priority::Closure => s.deferred_closure += 1,
                Priority::Bulk => s.deferred_bulk += 1,
            }
            return Err(Deferred {
                wait: until_reset,
                reason: format!("{HELD_BACK}: {reason}"),
            });
        }
        s.used += 1;
        if let Some((_, remaining)) = s.tenant_pool.as_mut() {
            *remaining = remaining.saturating_sub(1);
        } else {
            h.app_used += 1;
        }
        Ok(())
    }

    /// Gives back the point [`Budget::admit`] charged for a call that was never sent (its site
    /// was paused).
    pub fn refund(&self, site: &str, app_pool: bool, now: DateTime<Utc>) {
        if !app_pool {
            return;
        }
        let mut guard = self.roll(now);
        let h = &mut *guard;
        let Some(s) = h.sites.get_mut(site) else {
            return;
        };
        s.used = s.used.saturating_sub(1);
        match s.tenant_pool.as_mut() {
            Some((q, remaining)) => *remaining = (*remaining + 1).min(*q),
            None => h.app_used = h.app_used.saturating_sub(1),
        }
    }

    /// Learns from an answer's quota headers (`RateLimit-Policy`, `RateLimit`, their `Beta-`
    /// forms, `X-RateLimit-NearLimit`): the pool's size, what is left, and whether the site
    /// has a pool of its own.
    pub fn learn(&self, site: &str, headers: &HeaderMap, now: DateTime<Utc>) {
        let policy = quota_header(headers, "ratelimit-policy");
        let state = quota_header(headers, "ratelimit");
        let near = ["x-ratelimit-nearlimit", "x-beta-ratelimit-nearlimit"]
            .iter()
            .any(|n| {
                headers
                    .get(*n)
                    .and_then(|v| v.to_str().ok())
                    .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
            });
        if policy.is_none() && state.is_none() && !near {
            return;
        }
        let mut h = self.roll(now);
        let name = policy
            .as_ref()
            .or(state.as_ref())
            .map(|q| q.name.clone())
            .unwrap_or_default();
        let tenant_pool = name.contains("tenant");
        let quota = policy.as_ref().and_then(|p| p.q);
        let remaining = state.as_ref().and_then(|s| s.r);
        if tenant_pool {
            let s = h.sites.entry(site.to_owned()).or_default();
            let known = s.tenant_pool.map(|(q, _)| q);
            if let Some(q) = quota.or(known) {
                s.tenant_pool = Some((q, remaining.unwrap_or(q).min(q)));
            }
            s.near_limit = near;
        } else {
            if let Some(q) = quota {
                h.app_quota = Some(q);
            }
            let q = h.app_quota.unwrap_or(self.config.app_hourly_points);
            if let Some(r) = remaining {
                // Jira's count covers every replica: never below what was counted here.
                h.app_used = h.app_used.max(q.saturating_sub(r));
            }
            h.sites.entry(site.to_owned()).or_default().near_limit = near;
        }
    }

    /// A quota 429: the pool it names is spent until the reset.
    pub fn spent(&self, site: &str, global: bool, now: DateTime<Utc>) {
        let mut h = self.roll(now);
        if global {
            h.app_used = h.app_quota.unwrap_or(self.config.app_hourly_points);
        } else {
            let s = h.sites.entry(site.to_owned()).or_default();
            let q = s.tenant_pool.map(|(q, _)| q).unwrap_or(0);
            s.tenant_pool = Some((q, 0));
        }
    }

    pub fn view(&self, now: DateTime<Utc>) -> BudgetView {
        let h = self.roll(now);
        let quota = h.app_quota.unwrap_or(self.config.app_hourly_points);
        let (reserve, tenant_cap) = self.caps(quota);
        let mut sites: Vec<SiteBudgetView> = h
            .sites
            .iter()
            .map(|(site, s)| SiteBudgetView {
                site: site.clone(),
                used: s.used,
                tenant_quota: s.tenant_pool.map(|(q, _)| q),
                tenant_remaining: s.tenant_pool.map(|(_, r)| r),
                near_limit: s.near_limit,
                deferred_closure: s.deferred_closure,
                deferred_bulk: s.deferred_bulk,
            })
            .collect();
        sites.sort_by(|a, b| a.site.cmp(&b.site));
        BudgetView {
            hour_started_at: hour_start(h.number),
            resets_at: hour_start(h.number + 1),
            app_quota: quota,
            app_used: h.app_used,
            closure_reserve: reserve,
            tenant_bulk_cap: tenant_cap,
            sites,
        }
    }
}

/// One quota header: `"global-app-quota";q=65000;w=3600` or `"tenant-app-quota";r=17842;t=2107`.
#[derive(Debug, Clone, PartialEq)]
struct QuotaHeader {
    name: String,
    q: Option<u32>,
    r: Option<u32>,
}

/// The header `name`, or its `Beta-` form (Jira sent only those before enforcement began).
fn quota_header(headers: &HeaderMap, name: &str) -> Option<QuotaHeader> {
    let raw = headers
        .get(name)
        .or_else(|| headers.get(format!("beta-{name}")))?
        .to_str()
        .ok()?;
    // Several policies may be listed; the first names the pool that applies.
    let first = raw.split(',').next()?.trim();
    let mut parts = first.split(';');
    let name = parts.next()?.trim().trim_matches('"').to_ascii_lowercase();
    let mut out = QuotaHeader {
        name,
        q: None,
        r: None,
    };
    for p in parts {
        let Some((k, v)) = p.trim().split_once('=') else {
            continue;
        };
        let v = v.trim().parse::<u32>().ok();
        match k.trim() {
            "q" => out.q = v,
            "r" => out.r = v,
            _ => {}
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn budget(points: u32) -> Budget {
        Budget::new(BudgetConfig {
            app_hourly_points: points,
            closure_reserve_percent: 20,
            tenant_share_percent: 50,
        })
    }

    #[test]
    fn bulk_work_keeps_to_its_share_and_closures_have_the_reserve() {
        let b = budget(100);
        let now = at("2026-12-07T10:15:00Z");
        // One tenant's bulk work: half of the 80 bulk points.
        for _ in 0..40 {
            b.admit("acme", true, Priority::Bulk, now).unwrap();
        }
        let d = b.admit("acme", true, Priority::Bulk, now).unwrap_err();
        assert!(d.reason.contains("share"), "{}", d.reason);
        assert_eq!(d.wait, Duration::from_secs(45 * 60));
        // Another tenant's bulk work still runs, up to the reserve.
        for _ in 0..40 {
            b.admit("globex", true, Priority::Bulk, now).unwrap();
        }
        let d = b.admit("initech", true, Priority::Bulk, now).unwrap_err();
        assert!(d.reason.contains("closure write-backs"), "{}", d.reason);
        // Closures spend the reserve, then wait too.
        for _ in 0..20 {
            b.admit("initech", true, Priority::Closure, now).unwrap();
        }
        assert!(b.admit("initech", true, Priority::Closure, now).is_err());
        // A call held back by its site's pause gives its point back.
        b.refund("initech", true, now);
        b.admit("initech", true, Priority::Closure, now).unwrap();
        assert!(b.admit("initech", true, Priority::Closure, now).is_err());
        // API-token and Data Center traffic is not in the pool.
        b.admit("dc", false, Priority::Bulk, now).unwrap();
        // The next hour starts afresh.
        b.admit("acme", true, Priority::Bulk, at("2026-12-07T11:00:01Z"))
            .unwrap();
        let v = b.view(at("2026-12-07T11:00:02Z"));
        assert_eq!((v.app_used, v.app_quota), (1, 100));
    }

    #[test]
    fn jira_states_the_pool_and_a_site_of_its_own() {
        let b = budget(65_000);
        let now = at("2026-12-07T10:15:00Z");
        let mut h = HeaderMap::new();
        h.insert(
            "ratelimit-policy",
            HeaderValue::from_static("\"global-app-quota\";q=1000;w=3600"),
        );
        h.insert(
            "ratelimit",
            HeaderValue::from_static("\"global-app-quota\";r=100;t=2700"),
        );
        b.learn("acme", &h, now);
        let v = b.view(now);
        assert_eq!((v.app_quota, v.app_used), (1000, 900));
        // Past the bulk part: bulk waits, closures go on.
        assert!(b.admit("acme", true, Priority::Bulk, now).is_err());
        b.admit("acme", true, Priority::Closure, now).unwrap();
        // A Tier 2 site (Beta headers, as Jira sent them before enforcement) has its own pool.
        let mut t = HeaderMap::new();
        t.insert(
            "beta-ratelimit-policy",
            HeaderValue::from_static("\"tenant-app-quota\";q=100100;w=3600"),
        );
        t.insert(
            "beta-ratelimit",
            HeaderValue::from_static("\"tenant-app-quota\";r=50000;t=2107"),
        );
        t.insert(
            "x-beta-ratelimit-nearlimit",
            HeaderValue::from_static("true"),
        );
        b.learn("big", &t, now);
        b.admit("big", true, Priority::Bulk, now).unwrap();
        let v = b.view(now);
        let big = v.sites.iter().find(|s| s.site == "big").unwrap();
        assert_eq!(
            (big.tenant_quota, big.tenant_remaining, big.near_limit),
            (Some(100_100), Some(49_999), true)
        );
        assert_eq!(v.app_used, 901, "the site's own pool is not the app's");
        b.spent("big", false, now);
        assert!(b.admit("big", true, Priority::Closure, now).is_err());
    }
}
