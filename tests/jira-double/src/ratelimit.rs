//! Jira Cloud's rate limiting as the double applies it: a per-second burst bucket per site,
//! an hourly points quota per app, per-issue write limits — each answering 429 with
//! `Retry-After`, `RateLimit-Reason` and `X-RateLimit-*` headers — and injectable faults.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};

#[derive(Debug, Clone, Default)]
pub struct Limits {
    /// Requests per second per site, endpoint and method (all apps and tokens share it), as a
    /// token bucket: Cloud's burst limit.
    pub burst_per_second: Option<u32>,
    /// Points per hour in the app's global pool, shared by every site the app is on (Tier 1;
    /// every request costs 1 point). API-token and PAT traffic is not counted.
    pub hourly_points: Option<u32>,
    /// Points per hour in this site's own pool for the app (Tier 2); the site's app traffic
    /// then counts here, not in the global pool.
    pub tenant_hourly_points: Option<u32>,
    /// Writes per issue per 2 seconds.
    pub per_issue_writes: Option<u32>,
}

#[derive(Debug, Clone, Default)]
pub struct Faults {
    /// The next N requests answer this status (e.g. 500, 503).
    pub fail_next: Vec<u16>,
    /// Every N-th request answers 503 (0 = never).
    pub fail_every: u32,
    /// Added to every request.
    pub latency: Duration,
    /// The next N requests get their connection dropped mid-response.
    pub drop_next: u32,
    /// The next requests answer 302 to these URLs, one each (a proxy in front of a site).
    pub redirect_next: Vec<String>,
    /// The next N requests answer 200 with a JSON body of `oversized_bytes` bytes, streamed
    /// without a length.
    pub oversized_next: u32,
    pub oversized_bytes: usize,
    /// Only requests whose path contains this are affected (empty = all).
    pub path_filter: String,
    /// Requests seen so far (drives `fail_every`).
    pub seen: u64,
}

/// The points pool a request was counted in, for the answer's `RateLimit` headers.
#[derive(Debug, Clone)]
pub struct Quota {
    pub name: &'static str,
    pub quota: u32,
    pub remaining: u32,
    pub reset_in_secs: u64,
}

#[derive(Debug)]
pub struct Limited {
    pub reason: &'static str,
    pub retry_after_secs: u64,
    pub limit: u32,
    pub reset: DateTime<Utc>,
}

#[derive(Default)]
pub struct Limiter {
    buckets: HashMap<String, (f64, DateTime<Utc>)>,
    quotas: HashMap<String, (u32, i64)>,
    issue_writes: HashMap<String, Vec<DateTime<Utc>>>,
}

impl Limiter {
    #[allow(clippy::too_many_arguments)]
    pub fn check(
        &mut self,
        limits: &Limits,
        site: &str,
        app: &str,
        app_pool: bool,
        endpoint: &str,
        write_issue: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Option<Quota>, Limited> {
        let mut quota = None;
        if let Some(rate) = limits.burst_per_second {
            let cap = rate as f64;
            let (tokens, last) = self
                .buckets
                .entry(format!("{site} {endpoint}"))
                .or_insert((cap, now));
            let elapsed = (now - *last).num_milliseconds().max(0) as f64 / 1000.0;
            *tokens = (*tokens + elapsed * cap).min(cap);
            *last = now;
            if *tokens < 1.0 {
                let wait = ((1.0 - *tokens) / cap).max(0.001);
                return Err(Limited {
                    reason: "jira-burst-based",
                    retry_after_secs: wait.ceil() as u64,
                    limit: rate,
                    reset: now + chrono::Duration::milliseconds((wait * 1000.0) as i64),
                });
            }
            *tokens -= 1.0;
        }
        if app_pool {
            let hour = now.timestamp() / 3600;
            let reset = DateTime::from_timestamp((hour + 1) * 3600, 0).expect("valid time");
            let pool = match (limits.tenant_hourly_points, limits.hourly_points) {
                (Some(points), _) => Some((format!("{site}/{app}"), points, true)),
                (None, Some(points)) => Some((app.to_owned(), points, false)),
                _ => None,
            };
            if let Some((key, points, tenant)) = pool {
                let (used, at_hour) = self.quotas.entry(key).or_insert((0, hour));
                if *at_hour != hour {
                    *used = 0;
                    *at_hour = hour;
                }
                let name = if tenant {
                    "tenant-app-quota"
                } else {
                    "global-app-quota"
                };
                if *used >= points {
                    return Err(Limited {
                        reason: if tenant {
                            "jira-quota-tenant-based"
                        } else {
                            "jira-quota-global-based"
                        },
                        retry_after_secs: (reset - now).num_seconds().max(1) as u64,
                        limit: points,
                        reset,
                    });
                }
                *used += 1;
                quota = Some(Quota {
                    name,
                    quota: points,
                    remaining: points - *used,
                    reset_in_secs: (reset - now).num_seconds().max(0) as u64,
                });
            }
        }
        if let (Some(max), Some(issue)) = (limits.per_issue_writes, write_issue) {
            let window = chrono::Duration::seconds(2);
            let writes = self
                .issue_writes
                .entry(format!("{site}/{issue}"))
                .or_default();
            writes.retain(|t| now - *t < window);
            if writes.len() as u32 >= max {
                let reset = writes[0] + window;
                return Err(Limited {
                    reason: "jira-per-issue-on-write",
                    retry_after_secs: (reset - now).num_seconds().max(1) as u64,
                    limit: max,
                    reset,
                });
            }
            writes.push(now);
        }
        Ok(quota)
    }
}

/// A request's endpoint as Jira's burst limits count it: the method and the path with every
/// id-like segment (one holding a digit, except the API version) as `{}`.
pub fn endpoint(method: &str, path: &str) -> String {
    let segments: Vec<&str> = path.split('/').collect();
    let template: Vec<&str> = segments
        .iter()
        .enumerate()
        .map(|(i, seg)| {
            let version = i > 0 && segments[i - 1] == "api";
            if !version && seg.bytes().any(|b| b.is_ascii_digit()) {
                "{}"
            } else {
                seg
            }
        })
        .collect();
    format!("{method} {}", template.join("/"))
}
