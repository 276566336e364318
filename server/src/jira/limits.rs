//! Client-side rate limiting per Jira site: a concurrency limit and a pacing bucket per site,
//! a pacing bucket per endpoint (method and path template) whose rate is learned from Jira's
//! burst limits — Cloud's are per tenant × endpoint × method — and pauses (per site, or
//! app-wide for the global quota pool) when Jira says a quota is spent.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::Rng as _;
use reqwest::header::HeaderMap;

/// What a 429 (or a 503 with `Retry-After`) said.
#[derive(Debug, Clone, PartialEq)]
pub struct RateLimitSignal {
    /// `Retry-After` in seconds, when present.
    pub retry_after: Option<Duration>,
    /// `RateLimit-Reason`, e.g. `jira-burst-based`, `jira-quota-tenant-based`.
    pub reason: Option<String>,
    /// `X-RateLimit-Limit`.
    pub limit: Option<u32>,
    /// `X-RateLimit-Reset` (ISO 8601 `yyyy-MM-ddTHH:mmZ`) as a time from now.
    pub reset_in: Option<Duration>,
}

impl RateLimitSignal {
    pub fn from_headers(h: &HeaderMap, now: chrono::DateTime<chrono::Utc>) -> Self {
        let text = |name: &str| {
            h.get(name)
                .and_then(|v| v.to_str().ok())
                .map(|s| s.trim().to_owned())
        };
        let retry_after = text("retry-after").and_then(|v| {
            v.parse::<f64>()
                .ok()
                .filter(|s| s.is_finite() && *s >= 0.0)
                .map(Duration::from_secs_f64)
                .or_else(|| {
                    // HTTP-date form.
                    chrono::DateTime::parse_from_rfc2822(&v).ok().map(|t| {
                        (t.with_timezone(&chrono::Utc) - now)
                            .to_std()
                            .unwrap_or_default()
                    })
                })
        });
        let reset_in = text("x-ratelimit-reset").and_then(|v| {
            chrono::DateTime::parse_from_rfc3339(&v)
                .ok()
                .or_else(|| {
                    chrono::NaiveDateTime::parse_from_str(&v, "%Y-%m-%dT%H:%MZ")
                        .ok()
                        .map(|n| n.and_utc().fixed_offset())
                })
                .map(|t| {
                    (t.with_timezone(&chrono::Utc) - now)
                        .to_std()
                        .unwrap_or_default()
                })
        });
        Self {
            retry_after,
            reason: text("ratelimit-reason"),
            limit: text("x-ratelimit-limit").and_then(|v| v.parse().ok()),
            reset_in,
        }
    }

    /// A quota (hourly points) limit, not a burst: stop calling until it resets.
    pub fn is_quota(&self) -> bool {
        self.reason.as_deref().is_some_and(|r| r.contains("quota"))
    }

    /// The app's global pool is spent: every tenant must wait.
    pub fn is_global(&self) -> bool {
        self.reason
            .as_deref()
            .is_some_and(|r| r.contains("quota-global"))
    }

    pub fn is_burst(&self) -> bool {
        !self.is_quota()
            && !self
                .reason
                .as_deref()
                .is_some_and(|r| r.contains("per-issue"))
    }

    /// How long to wait before the next call: exactly `Retry-After` (or the reset time for a
    /// quota) — never less; burst waits get up to 20 % jitter so callers do not stampede.
    pub fn wait(&self, fallback: Duration) -> Duration {
        let base = if self.is_quota() {
            self.reset_in.or(self.retry_after)
        } else {
            self.retry_after
        }
        .unwrap_or(fallback);
        if self.is_burst() {
            base.mul_f64(1.0 + rand::rng().random_range(0.0..0.2))
        } else {
            base
        }
    }
}

/// One site's gate.
struct Gate {
    permits: Arc<tokio::sync::Semaphore>,
    state: Mutex<Pace>,
}

struct Pace {
    /// Requests per second this site gets from us now.
    rate: f64,
    /// Whether `rate` came from Jira's own `X-RateLimit-Limit`.
    learned: bool,
    /// The earliest time the next request may start.
    next_slot: Instant,
    paused_until: Option<Instant>,
    /// When the rate was last cut, so a volley of 429s for requests already in flight counts
    /// as one signal.
    last_cut: Option<Instant>,
}

/// All sites' gates plus the app-wide pause.
pub struct Governor {
    gates: Mutex<HashMap<String, Arc<Gate>>>,
    global_pause: Mutex<Option<Instant>>,
    max_concurrent: usize,
    initial_rate: f64,
    /// Live replicas sharing each site's rate (this one included); each paces at rate / share.
    share: std::sync::atomic::AtomicU32,
    /// What this replica learned and the others have not been told yet.
    news: Mutex<HashMap<String, SiteNews>>,
}

/// The site key under which the app-wide (global quota) pause travels between replicas.
pub const ALL_SITES: &str = "*";

/// What one replica learned about a site that the others should know: Jira's rate for the
/// app on that site (all replicas together), and a pause until a wall-clock time.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SiteNews {
    pub rate: Option<f64>,
    pub paused_until: Option<chrono::DateTime<chrono::Utc>>,
}

/// A held slot: the concurrency permit is released when it drops.
pub struct Slot {
    _permit: tokio::sync::OwnedSemaphorePermit,
}

/// Calls would have to wait longer than the caller wants; try again at `until`.
#[derive(Debug, Clone)]
pub struct Paused {
    pub wait: Duration,
    pub reason: String,
}

/// Pauses longer than this are not slept through inside a call; the caller reschedules.
pub const MAX_INLINE_WAIT: Duration = Duration::from_secs(20);

/// An endpoint as Jira's burst limits see it: the method and the path with every segment that
/// holds a digit (ids, issue keys, cloud ids; not the API version) as `{}` —
/// `POST /rest/api/3/issue/{}/transitions`.
pub fn endpoint_key(method: &str, path: &str) -> String {
    let segments: Vec<&str> = path.split('/').collect();
    let template: Vec<&str> = segments
        .iter()
        .enumerate()
        .map(|(i, seg)| {
            // The API version (`/rest/api/3`, `/wiki/api/v2`) is part of the endpoint.
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

/// Headroom kept below a learned limit (other apps and people share the site's bucket).
const LEARNED_SHARE: f64 = 0.95;

impl Governor {
    pub fn new(max_concurrent: u32, initial_rate: u32) -> Self {
        Self {
            gates: Mutex::new(HashMap::new()),
            global_pause: Mutex::new(None),
            max_concurrent: max_concurrent.max(1) as usize,
            initial_rate: f64::from(initial_rate.max(1)),
            share: std::sync::atomic::AtomicU32::new(1),
            news: Mutex::new(HashMap::new()),
        }
    }

    /// How many live replicas share every site's rate (at least 1).
    pub fn set_share(&self, replicas: u32) {
        self.share
            .store(replicas.max(1), std::sync::atomic::Ordering::Relaxed);
    }

    pub fn share(&self) -> u32 {
        self.share.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn tell(&self, site: &str, rate: Option<f64>, pause: Option<Duration>) {
        let mut news = self.news.lock().expect("news");
        let n = news.entry(site.to_owned()).or_default();
        if rate.is_some() {
            n.rate = rate;
        }
        if let Some(p) = pause {
            let until = chrono::Utc::now() + chrono::Duration::from_std(p).unwrap_or_default();
            n.paused_until = Some(n.paused_until.map_or(until, |t| t.max(until)));
        }
    }

    /// Takes what was learned since the last call, to publish to the other replicas.
    pub fn take_news(&self) -> HashMap<String, SiteNews> {
        std::mem::take(&mut *self.news.lock().expect("news"))
    }

    /// Applies what another replica learned about `site` (or [`ALL_SITES`]).
    pub fn apply_news(&self, site: &str, news: &SiteNews) {
        let now = Instant::now();
        let until = news
            .paused_until
            .and_then(|t| (t - chrono::Utc::now()).to_std().ok())
            .map(|d| now + d);
        if site == ALL_SITES {
            if let Some(until) = until {
                let mut g = self.global_pause.lock().expect("pause");
                *g = Some(g.map_or(until, |t| t.max(until)));
            }
            return;
        }
        let gate = self.gate(site);
        let mut p = gate.state.lock().expect("pace");
        if let Some(rate) = news.rate.filter(|r| r.is_finite() && *r > 0.0) {
            p.rate = rate;
            p.learned = true;
        }
        if let Some(until) = until {
            if until - now > MAX_INLINE_WAIT {
                p.paused_until = Some(p.paused_until.map_or(until, |t| t.max(until)));
            } else {
                p.next_slot = p.next_slot.max(until);
            }
        }
    }

    fn gate(&self, site: &str) -> Arc<Gate> {
        let mut gates = self.gates.lock().expect("gates");
        gates
            .entry(site.to_owned())
            .or_insert_with(|| {
                Arc::new(Gate {
                    permits: Arc::new(tokio::sync::Semaphore::new(self.max_concurrent)),
                    state: Mutex::new(Pace {
                        rate: self.initial_rate,
                        learned: false,
                        next_slot: Instant::now(),
                        paused_until: None,
                        last_cut: None,
                    }),
                })
            })
            .clone()
    }

    /// Waits for a concurrency permit, the site's next pacing slot and the endpoint's.
    /// Returns `Paused` when the site (or the app) is paused for longer than
    /// [`MAX_INLINE_WAIT`]. `endpoint` is [`endpoint_key`]'s.
    pub async fn acquire(&self, site: &str, endpoint: &str) -> Result<Slot, Paused> {
        let gate = self.gate(site);
        let lane = self.lane(site, endpoint);
        loop {
            let now = Instant::now();
            let pause = {
                let global = *self.global_pause.lock().expect("pause");
                let local = gate.state.lock().expect("pace").paused_until;
                global.into_iter().chain(local).filter(|t| *t > now).max()
            };
            if let Some(until) = pause {
                let wait = until - now;
                if wait > MAX_INLINE_WAIT {
                    return Err(Paused {
                        wait,
                        reason: "Jira's rate-limit quota is spent until its reset".into(),
                    });
                }
                tokio::time::sleep(wait).await;
                continue;
            }
            break;
        }
        let permit = gate
            .permits
            .clone()
            .acquire_owned()
            .await
            .expect("semaphore never closed");
        let start = {
            let mut p = gate.state.lock().expect("pace");
            let mut e = lane.state.lock().expect("pace");
            let now = Instant::now();
            let start = p.next_slot.max(e.next_slot).max(now);
            p.next_slot = start + Duration::from_secs_f64(f64::from(self.share()) / p.rate);
            if e.learned {
                e.next_slot = start + Duration::from_secs_f64(f64::from(self.share()) / e.rate);
            }
            start
        };
        tokio::time::sleep_until(start.into()).await;
        Ok(Slot { _permit: permit })
    }

    /// An endpoint's pacing bucket on a site (its key travels between replicas like a site's).
    fn lane(&self, site: &str, endpoint: &str) -> Arc<Gate> {
        self.gate(&format!("{site} {endpoint}"))
    }

    /// Learns from a rate-limited answer and returns how long this request should wait. A
    /// burst limit Jira states is the endpoint's; one it does not state slows the site.
    pub fn limited(&self, site: &str, endpoint: &str, signal: &RateLimitSignal) -> Duration {
        let stated = signal.is_burst() && signal.limit.is_some_and(|l| l > 0);
        let key = if stated {
            format!("{site} {endpoint}")
        } else {
            site.to_owned()
        };
        let site = key.as_str();
        let gate = self.gate(site);
        let wait = signal.wait(Duration::from_secs(2));
        let until = Instant::now() + wait;
        if signal.is_global() {
            let mut g = self.global_pause.lock().expect("pause");
            *g = Some(g.map_or(until, |t| t.max(until)));
            self.tell(ALL_SITES, None, Some(wait));
        } else if signal.is_quota() {
            let mut p = gate.state.lock().expect("pace");
            p.paused_until = Some(p.paused_until.map_or(until, |t| t.max(until)));
            self.tell(site, None, Some(wait));
        } else if signal.is_burst() {
            let mut p = gate.state.lock().expect("pace");
            match signal.limit {
                Some(limit) if limit > 0 => {
                    p.rate = f64::from(limit) * LEARNED_SHARE;
                    p.learned = true;
                }
                // No limit given, and none learned yet: halve (once per second), but keep
                // moving. A learned limit stands (a stray 429 says nothing new about it).
                _ if !p.learned => {
                    let now = Instant::now();
                    if p.last_cut.is_none_or(|t| now - t > Duration::from_secs(1)) {
                        p.rate = (p.rate / 2.0).max(0.5);
                        p.last_cut = Some(now);
                    }
                }
                _ => {}
            }
            // Everyone queued behind waits too: the bucket is empty right now.
            p.next_slot = p.next_slot.max(until);
            let rate = p.learned.then_some(p.rate);
            drop(p);
            self.tell(site, rate, Some(wait));
        }
        wait
    }

    /// Learns from a successful answer's headers: a stated limit sets the pace (Data Center's,
    /// with its interval, is the site's; Cloud's is the endpoint's); near the limit, slow down
    /// a little; with nothing stated, creep back up towards the start rate.
    pub fn succeeded(&self, site: &str, endpoint: &str, headers: &HeaderMap) {
        let num = |n: &str| {
            headers
                .get(n)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<f64>().ok())
        };
        let per_endpoint = num("x-ratelimit-interval-seconds").is_none()
            && num("x-ratelimit-limit").is_some_and(|l| l > 0.0);
        let key = if per_endpoint {
            format!("{site} {endpoint}")
        } else {
            site.to_owned()
        };
        let site = key.as_str();
        let gate = self.gate(site);
        let mut p = gate.state.lock().expect("pace");
        if let Some(limit) = num("x-ratelimit-limit").filter(|l| *l > 0.0) {
            // DC states its interval; Cloud's burst limit is per second.
            let interval = num("x-ratelimit-interval-seconds").unwrap_or(1.0).max(1.0);
            let rate = limit / interval * LEARNED_SHARE;
            if !p.learned || (p.rate - rate).abs() > 1e-9 {
                self.tell(site, Some(rate), None);
            }
            p.rate = rate;
            p.learned = true;
        }
        let near = headers
            .get("x-ratelimit-nearlimit")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.eq_ignore_ascii_case("true"));
        if near {
            p.rate = (p.rate * 0.9).max(0.5);
        } else if !p.learned && p.rate < self.initial_rate {
            // Additive increase of about 2 requests/s per second, whatever the current rate.
            p.rate = (p.rate + 2.0 / p.rate).min(self.initial_rate);
        }
    }

    /// The sites whose rate was learned from Jira (or from another replica), with that rate.
    pub fn learned(&self) -> Vec<(String, f64)> {
        let gates = self.gates.lock().expect("gates");
        let mut out: Vec<(String, f64)> = gates
            .iter()
            .filter_map(|(site, g)| {
                let p = g.state.lock().expect("pace");
                p.learned.then(|| (site.clone(), p.rate))
            })
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    /// The pace currently used for a site (requests per second), for diagnostics and tests.
    pub fn rate(&self, site: &str) -> f64 {
        self.gate(site).state.lock().expect("pace").rate
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn reads_jira_429_headers() {
        let now = chrono::DateTime::parse_from_rfc3339("2026-11-22T10:15:00Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        let s = RateLimitSignal::from_headers(
            &headers(&[
                ("retry-after", "3"),
                ("ratelimit-reason", "jira-quota-tenant-based"),
                ("x-ratelimit-limit", "100100"),
                ("x-ratelimit-reset", "2026-11-22T11:00Z"),
            ]),
            now,
        );
        assert_eq!(s.retry_after, Some(Duration::from_secs(3)));
        assert!(s.is_quota() && !s.is_global() && !s.is_burst());
        assert_eq!(s.reset_in, Some(Duration::from_secs(45 * 60)));
        // A quota waits for the reset, exactly.
        assert_eq!(s.wait(Duration::ZERO), Duration::from_secs(45 * 60));
        let b = RateLimitSignal::from_headers(
            &headers(&[
                ("retry-after", "2"),
                ("ratelimit-reason", "jira-burst-based"),
            ]),
            now,
        );
        let w = b.wait(Duration::ZERO);
        assert!(
            w >= Duration::from_secs(2) && w <= Duration::from_millis(2400),
            "{w:?}"
        );
    }

    #[tokio::test]
    async fn learns_the_burst_limit_and_paces() {
        let g = Governor::new(8, 50);
        assert_eq!(g.rate("s"), 50.0);
        let sig = RateLimitSignal {
            retry_after: Some(Duration::from_millis(10)),
            reason: Some("jira-burst-based".into()),
            limit: Some(20),
            reset_in: None,
        };
        g.limited("s", "GET /x", &sig);
        assert!((g.rate("s GET /x") - 19.0).abs() < 1e-9);
        // Another endpoint of the site, and another site, are unaffected.
        assert_eq!(g.rate("s"), 50.0);
        assert_eq!(g.rate("s POST /x"), 50.0);
        assert_eq!(g.rate("t"), 50.0);
        let started = Instant::now();
        for _ in 0..20 {
            drop(g.acquire("s", "GET /x").await.unwrap());
        }
        // 20 slots at 19/s take about a second (minus the first, plus the 10 ms pause).
        let took = started.elapsed();
        assert!(took >= Duration::from_millis(950), "{took:?}");
    }

    #[test]
    fn endpoints_are_templated_by_their_ids() {
        assert_eq!(
            endpoint_key("POST", "/rest/api/3/issue/APP-12/transitions"),
            "POST /rest/api/3/issue/{}/transitions"
        );
        assert_eq!(
            endpoint_key("GET", "/ex/jira/1b2c-77/rest/api/3/issue/10001"),
            "GET /ex/jira/{}/rest/api/3/issue/{}"
        );
    }

    #[test]
    fn a_volley_of_bare_429s_halves_once_and_recovers() {
        let g = Governor::new(8, 40);
        let bare = RateLimitSignal {
            retry_after: Some(Duration::from_millis(1)),
            reason: None,
            limit: None,
            reset_in: None,
        };
        for _ in 0..15 {
            g.limited("s", "GET /x", &bare);
        }
        assert_eq!(g.rate("s"), 20.0);
        for _ in 0..300 {
            g.succeeded("s", "GET /x", &HeaderMap::new());
        }
        assert_eq!(g.rate("s"), 40.0);
    }

    #[tokio::test]
    async fn quota_pause_is_reported_not_slept() {
        let g = Governor::new(8, 50);
        let sig = RateLimitSignal {
            retry_after: Some(Duration::from_secs(600)),
            reason: Some("jira-quota-global-based".into()),
            limit: None,
            reset_in: None,
        };
        g.limited("s", "GET /x", &sig);
        // Global: every site pauses.
        let p = g.acquire("other", "GET /x").await.err().expect("paused");
        assert!(p.wait > Duration::from_secs(590));
    }
}
