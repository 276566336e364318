//! What Verdict's calls to a Jira or Confluence site may reach: https only in production, no
//! loopback/link-local/unspecified/multicast address (checked on every resolved address, so
//! DNS cannot point a name there) unless the operator allows a range, redirects only within
//! the same host, and answers no larger than a bound.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use ipnet::IpNet;
use url::Url;

/// Most redirects followed within one site (e.g. http → https, or a context path).
pub const MAX_REDIRECTS: usize = 3;

#[derive(Debug, Clone, Default)]
pub struct OutboundPolicy {
    pub https_only: bool,
    pub refuse_local: bool,
    pub allowed: Vec<IpNet>,
    /// Most bytes read from one answer; 0 means the default.
    pub max_body_bytes: usize,
}

/// A refusal by the policy: the request was not sent (or its answer not read).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct PolicyRefusal(pub String);

impl OutboundPolicy {
    pub fn from_config(config: &crate::config::Config) -> Self {
        Self {
            https_only: config.mode == crate::config::Mode::Production,
            refuse_local: config.refuses_local_addresses(),
            allowed: config.outbound_allowed_ranges.0.clone(),
            max_body_bytes: config.jira_max_response_bytes,
        }
    }

    pub fn max_body(&self) -> usize {
        if self.max_body_bytes == 0 {
            32 * 1024 * 1024
        } else {
            self.max_body_bytes
        }
    }

    /// Why `ip` may not be called, if it may not.
    pub fn check_ip(&self, ip: IpAddr) -> Result<(), PolicyRefusal> {
        if !self.refuse_local || self.allowed.iter().any(|r| r.contains(&ip)) {
            return Ok(());
        }
        match local_kind(ip) {
            Some(kind) => Err(PolicyRefusal(format!(
                "{ip} is a {kind} address; Verdict does not call those (allow a range with outbound_allowed_ranges)"
            ))),
            None => Ok(()),
        }
    }

    /// The scheme, and the address when the host is an IP literal (names are checked when
    /// they resolve).
    pub fn check_url(&self, url: &Url) -> Result<(), PolicyRefusal> {
        match url.scheme() {
            "https" => {}
            "http" if !self.https_only => {}
            other => {
                return Err(PolicyRefusal(format!(
                    "{other}:// URLs are not called in production mode ({}); use https",
                    origin(url)
                )));
            }
        }
        match url.host() {
            Some(url::Host::Ipv4(ip)) => self.check_ip(IpAddr::V4(ip)),
            Some(url::Host::Ipv6(ip)) => self.check_ip(IpAddr::V6(ip)),
            Some(url::Host::Domain(_)) => Ok(()),
            None => Err(PolicyRefusal(format!("`{url}` has no host"))),
        }
    }

    /// The redirect rule: follow only to the same host and port (an http → https upgrade is
    /// fine), at most [`MAX_REDIRECTS`] times.
    pub fn redirect_policy(self: &Arc<Self>) -> reqwest::redirect::Policy {
        let policy = self.clone();
        reqwest::redirect::Policy::custom(move |attempt| {
            let Some(first) = attempt.previous().first() else {
                return attempt.stop();
            };
            let next = attempt.url();
            let same_host = next.host_str() == first.host_str()
                && (next.port_or_known_default() == first.port_or_known_default()
                    || (first.scheme() == "http" && next.scheme() == "https"));
            let downgrade = first.scheme() == "https" && next.scheme() == "http";
            if attempt.previous().len() > MAX_REDIRECTS
                || !same_host
                || downgrade
                || policy.check_url(next).is_err()
            {
                // The 3xx itself comes back to the caller, which reports where it pointed.
                attempt.stop()
            } else {
                attempt.follow()
            }
        })
    }
}

fn origin(url: &Url) -> String {
    url.origin().ascii_serialization()
}

/// What kind of local address `ip` is, if it is one callers must not reach.
fn local_kind(ip: IpAddr) -> Option<&'static str> {
    let ip = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    };
    match ip {
        IpAddr::V4(v4) => {
            if v4.is_loopback() {
                Some("loopback")
            } else if v4.is_link_local() {
                Some("link-local")
            } else if v4.is_unspecified() || v4.octets()[0] == 0 {
                Some("unspecified")
            } else if v4.is_multicast() || v4.is_broadcast() {
                Some("multicast")
            } else {
                None
            }
        }
        IpAddr::V6(v6) => {
            if v6.is_loopback() {
                Some("loopback")
            } else if v6.is_unicast_link_local() {
                Some("link-local")
            } else if v6.is_unspecified() {
                Some("unspecified")
            } else if v6.is_multicast() {
                Some("multicast")
            } else {
                None
            }
        }
    }
}

/// reqwest's resolver, filtered by the policy: a name whose addresses are all refused fails
/// to connect with the policy's reason; refused addresses among allowed ones are dropped.
pub struct PolicyResolver(pub Arc<OutboundPolicy>);

impl reqwest::dns::Resolve for PolicyResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let policy = self.0.clone();
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await
                .map_err(|e| Box::new(e) as Box<dyn std::error::Error + Send + Sync>)?
                .collect();
            let mut refusal = None;
            let kept: Vec<SocketAddr> = found
                .into_iter()
                .filter(|a| match policy.check_ip(a.ip()) {
                    Ok(()) => true,
                    Err(r) => {
                        refusal = Some(r);
                        false
                    }
                })
                .collect();
            if kept.is_empty()
                && let Some(r) = refusal
            {
                return Err(
                    Box::new(PolicyRefusal(format!("{host} resolves to {}", r.0)))
                        as Box<dyn std::error::Error + Send + Sync>,
                );
            }
            Ok(Box::new(kept.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// The policy refusal somewhere in a reqwest error's causes, if that is what failed.
pub fn refusal_in(err: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = cur {
        if let Some(r) = e.downcast_ref::<PolicyRefusal>() {
            return Some(r.0.clone());
        }
        cur = e.source();
    }
    None
}

/// Why an answer's body was not read whole.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    #[error("the answer is larger than {0} bytes")]
    TooLarge(usize),
    #[error("the answer broke off: {0}")]
    Transport(String),
}

/// Reads an answer's body, refusing one larger than `max` bytes without reading the rest.
pub async fn read_bounded(mut resp: reqwest::Response, max: usize) -> Result<Vec<u8>, BodyError> {
    if resp.content_length().is_some_and(|n| n > max as u64) {
        return Err(BodyError::TooLarge(max));
    }
    let mut raw = Vec::new();
    while let Some(chunk) = resp
        .chunk()
        .await
        .map_err(|e| BodyError::Transport(e.to_string()))?
    {
        if raw.len() + chunk.len() > max {
            return Err(BodyError::TooLarge(max));
        }
        raw.extend_from_slice(&chunk);
    }
    Ok(raw)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strict() -> OutboundPolicy {
        OutboundPolicy {
            https_only: true,
            refuse_local: true,
            allowed: vec!["10.9.0.0/16".parse().unwrap()],
            max_body_bytes: 0,
        }
    }

    #[test]
    fn local_addresses_are_refused_unless_allowed() {
        let p = strict();
        for bad in [
            "127.0.0.1",
            "169.254.169.254",
            "0.0.0.0",
            "::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "224.0.0.1",
        ] {
            assert!(p.check_ip(bad.parse().unwrap()).is_err(), "{bad}");
        }
        for ok in [
            "10.9.1.2",
            "192.168.1.10",
            "10.0.0.5",
            "8.8.8.8",
            "2001:db8::1",
        ] {
            assert!(p.check_ip(ok.parse().unwrap()).is_ok(), "{ok}");
        }
        let mut open = strict();
        open.refuse_local = false;
        assert!(open.check_ip("127.0.0.1".parse().unwrap()).is_ok());
        let mut allowed = strict();
        allowed.allowed.push("127.0.0.0/8".parse().unwrap());
        assert!(allowed.check_ip("127.0.0.1".parse().unwrap()).is_ok());
    }

    #[test]
    fn urls_must_be_https_in_production_and_literals_are_checked() {
        let p = strict();
        assert!(
            p.check_url(&"http://jira.example.com/".parse().unwrap())
                .is_err()
        );
        assert!(
            p.check_url(&"https://169.254.169.254/latest".parse().unwrap())
                .is_err()
        );
        assert!(
            p.check_url(&"https://jira.example.com/".parse().unwrap())
                .is_ok()
        );
    }
}
