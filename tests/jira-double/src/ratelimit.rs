//! Jira Cloud's rate limiting as the double applies it: a per-second burst bucket per site,
//! an hourly points quota per app, per-issue write limits — each answering 429 with
//! `Retry-After`, `RateLimit-Reason` and `X-RateLimit-*` headers — and injectable faults.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};

#[derive(Debug, Clone, Default)]
pub struct Limits {
    /// Requests per second per site (all apps and tokens share it), as a token bucket.
    pub burst_per_second: Option<u32>,
    /// Points per hour per app (every request costs 1 point; writes cost 1).
    pub hourly_points: Option<u32>,
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
    pub fn check(
        &mut self,
        limits: &Limits,
        site: &str,
        app: &str,
        write_issue: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Option<(u32, u32)>, Limited> {
        let mut remaining = None;
        if let Some(rate) = limits.burst_per_second {
            let cap = rate as f64;
            let (tokens, last) = self.buckets.entry(site.to_owned()).or_insert((cap, now));
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
            remaining = Some((rate, *tokens as u32));
        }
        if let Some(points) = limits.hourly_points {
            let hour = now.timestamp() / 3600;
            let (used, at_hour) = self.quotas.entry(app.to_owned()).or_insert((0, hour));
            if *at_hour != hour {
                *used = 0;
                *at_hour = hour;
            }
            let reset = DateTime::from_timestamp((hour + 1) * 3600, 0).expect("valid time");
            if *used >= points {
                return Err(Limited {
                    reason: "jira-quota-tenant-based",
                    retry_after_secs: (reset - now).num_seconds().max(1) as u64,
                    limit: points,
                    reset,
                });
            }
            *used += 1;
            remaining = Some((points, points - *used));
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
        Ok(remaining)
    }
}
