//! Confluence pages for a closure: pages linked from the ticket's comments and description —
//! links to the tenant's own site only — and pages a CQL search finds for the issue key in the
//! tenant's configured spaces (`confluence.spaces`). Cached briefly; any Confluence failure
//! means fewer pages, never a lost decision.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};
use std::time::{Duration, Instant};

use regex::Regex;
use rules_sdk::{ConfigEntry, Page, names_ticket};
use serde_json::Value;

use crate::atlassian::JiraAuth;
use crate::state::AppState;

/// Setting: comma-separated Confluence space keys to search and accept pages from.
pub const KEY_SPACES: &str = "confluence.spaces";
/// How long a fetched page is reused.
pub const TTL: Duration = Duration::from_secs(60);
/// Most pages passed to a rule per ticket.
pub const MAX_PAGES: usize = 10;
const EXCERPT_CHARS: usize = 300;
/// Most issue keys remembered per page body (a page naming more is a list, not a record).
const MAX_BODY_KEYS: usize = 1_000;

/// A page as read, with the issue keys its whole body names (the excerpt is only its start).
#[derive(Clone)]
struct Fetched {
    page: Page,
    body_keys: Vec<String>,
}

/// (tenant, page id) → when fetched, and the page (`None`: it could not be read).
type PageMap = HashMap<(String, String), (Instant, Option<Fetched>)>;

/// An issue key as a word, in upper case. The ASCII word boundaries give the same answer as
/// `rules_sdk::names_ticket`: `SEC-1` is in `risk-sec-1` and `SEC-1-notes`, not in `SEC-12`
/// or `APPSEC-1`.
static ISSUE_KEY: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?-u:\b)[A-Z][A-Z0-9_]*-[0-9]+(?-u:\b)").expect("regex"));

/// The issue keys `text` names, upper-cased, sorted, at most [`MAX_BODY_KEYS`].
fn named_keys(text: &str) -> Vec<String> {
    let upper = text.to_ascii_uppercase();
    let mut keys: Vec<String> = ISSUE_KEY
        .find_iter(&upper)
        .map(|m| m.as_str().to_owned())
        .collect();
    keys.sort();
    keys.dedup();
    keys.truncate(MAX_BODY_KEYS);
    keys
}

/// Whether the page is about the ticket `key`: the key in its title, a label or anywhere in its
/// body (links to the ticket included). What the host tells rules in `references_ticket`.
fn references(page: &Page, body_keys: &[String], key: &str) -> bool {
    let wanted = key.trim().to_ascii_uppercase();
    names_ticket(&page.title, key)
        || page.labels.iter().any(|l| names_ticket(l, key))
        || body_keys.binary_search(&wanted).is_ok()
}

#[derive(Clone, Default)]
pub struct PageCache(Arc<Mutex<PageMap>>);

/// Where a closure's pages come from.
#[derive(Clone, Copy)]
pub struct PageQuery<'a> {
    pub tenant: &'a str,
    pub auth: &'a JiraAuth,
    pub issue_key: &'a str,
    /// The ticket's comments and description, where links are found.
    pub texts: &'a [&'a str],
    /// The tenant's own site URLs: links elsewhere are not followed.
    pub sites: &'a [String],
    pub config: &'a [ConfigEntry],
}

/// A Confluence page link found in a ticket's text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageLink {
    /// What comes before `/wiki/` (`https://acme.atlassian.net`), `None` for a bare path.
    pub site: Option<String>,
    pub space: String,
    pub id: String,
}

impl PageLink {
    pub fn url(&self) -> String {
        format!(
            "{}/wiki/spaces/{}/pages/{}",
            self.site.as_deref().unwrap_or(""),
            self.space,
            self.id
        )
    }

    /// Whether the link points into one of `sites` (the tenant's own site URLs). A bare path
    /// (`/wiki/spaces/…`) can only mean the site it was written on.
    pub fn on(&self, sites: &[String]) -> bool {
        match &self.site {
            None => true,
            Some(site) => sites.iter().any(|own| same_site(site, own)),
        }
    }
}

/// Same scheme, host and port, and the same path (a site can live under one: `/s/acme`),
/// trailing slashes ignored.
fn same_site(a: &str, b: &str) -> bool {
    let parts = |u: &str| {
        url::Url::parse(u.trim()).ok().map(|u| {
            let path = u.path().trim_end_matches('/').to_owned();
            (
                u.scheme().to_owned(),
                u.host_str().map(str::to_owned),
                u.port_or_known_default(),
                path,
            )
        })
    };
    matches!((parts(a), parts(b)), (Some(x), Some(y)) if x == y)
}

/// Every Confluence page link in `text`, once per page and site.
pub fn linked_pages(text: &str) -> Vec<PageLink> {
    const MARK: &str = "/wiki/spaces/";
    let mut out: Vec<PageLink> = Vec::new();
    let mut from = 0;
    while let Some(i) = text[from..].find(MARK).map(|i| from + i) {
        // The URL this path belongs to starts after the last character a URL cannot hold.
        let start = text[..i]
            .rfind(|c: char| c.is_whitespace() || "<>\"'()[]|{}".contains(c))
            .map_or(0, |j| j + 1);
        let origin = &text[start..i];
        let site = origin.contains("://").then(|| origin.to_owned());
        let rest = &text[i + MARK.len()..];
        from = i + MARK.len();
        let space: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '~' || *c == '_')
            .collect();
        let Some(p) = rest[space.len()..].strip_prefix("/pages/") else {
            continue;
        };
        let id: String = p.chars().take_while(char::is_ascii_digit).collect();
        let link = PageLink { site, space, id };
        // Per site: a link to another site must not hide the same page id on this one.
        if !link.space.is_empty() && !link.id.is_empty() && !out.contains(&link) {
            out.push(link);
        }
    }
    out
}

fn strip_tags(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' => {
                in_tag = false;
                out.push(' ');
            }
            _ if !in_tag => out.push(c),
            _ => {}
        }
    }
    let words: Vec<&str> = out.split_whitespace().collect();
    words.join(" ").chars().take(EXCERPT_CHARS).collect()
}

fn text(v: Option<&Value>) -> String {
    v.and_then(Value::as_str).unwrap_or_default().to_owned()
}

/// The names of a Confluence `labels.results` list.
fn labels(results: Option<&Value>) -> Vec<String> {
    results
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|l| l.get("name").and_then(Value::as_str).map(str::to_owned))
        .collect()
}

fn millis(v: Option<&Value>) -> i64 {
    v.and_then(Value::as_str)
        .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
        .map(|d| d.timestamp_millis())
        .unwrap_or(0)
}

impl PageCache {
    fn cached(&self, tenant: &str, id: &str) -> Option<Option<Fetched>> {
        let map = self.0.lock().expect("page cache");
        map.get(&(tenant.to_owned(), id.to_owned()))
            .filter(|(at, _)| at.elapsed() < TTL)
            .map(|(_, p)| p.clone())
    }

    fn remember(&self, tenant: &str, id: &str, page: Option<Fetched>) {
        let mut map = self.0.lock().expect("page cache");
        if map.len() > 10_000 {
            map.retain(|_, (at, _)| at.elapsed() < TTL);
        }
        map.insert((tenant.to_owned(), id.to_owned()), (Instant::now(), page));
    }

    async fn fetch(
        &self,
        state: &AppState,
        tenant: &str,
        auth: &JiraAuth,
        space: &str,
        id: &str,
    ) -> Option<Fetched> {
        if let Some(hit) = self.cached(tenant, id) {
            return hit;
        }
        let path = format!("/wiki/api/v2/pages/{id}?include-labels=true&body-format=storage");
        let page = match state.jira().get(auth, &path).await {
            Ok(v) => Some(Fetched {
                body_keys: named_keys(
                    v.pointer("/body/storage/value")
                        .and_then(Value::as_str)
                        .unwrap_or_default(),
                ),
                page: Page {
                    id: id.to_owned(),
                    title: text(v.get("title")),
                    labels: labels(v.pointer("/labels/results")),
                    space: space.to_owned(),
                    last_modified: millis(v.pointer("/version/createdAt")),
                    excerpt: strip_tags(
                        v.pointer("/body/storage/value")
                            .and_then(Value::as_str)
                            .unwrap_or_default(),
                    ),
                    url: text(v.pointer("/_links/base")) + &text(v.pointer("/_links/webui")),
                    // Set for the ticket at hand in `pages_for`.
                    references_ticket: false,
                },
            }),
            Err(e) => {
                tracing::warn!(tenant, page = id, error = %e, "cannot read a linked Confluence page");
                None
            }
        };
        self.remember(tenant, id, page.clone());
        page
    }

    /// The pages a closure rule sees (at most [`MAX_PAGES`]); what was left out, and why, is
    /// added to `notes`.
    pub async fn pages_for(
        &self,
        state: &AppState,
        q: &PageQuery<'_>,
        notes: &mut Vec<String>,
    ) -> Vec<Page> {
        let PageQuery {
            tenant,
            auth,
            issue_key,
            texts,
            sites,
            config,
        } = *q;
        let spaces: Option<Vec<String>> = rules_sdk::Config(config)
            .list(KEY_SPACES)
            .map(|v| v.into_iter().map(str::to_owned).collect());
        let allowed = |space: &str| spaces.as_ref().is_none_or(|s| s.iter().any(|x| x == space));
        let mut pages: Vec<Page> = Vec::new();
        let mut seen: Vec<String> = Vec::new();
        for link in texts.iter().flat_map(|t| linked_pages(t)) {
            if !link.on(sites) {
                // Only the id would be read, from this tenant's Confluence: a page on another
                // site is not that page, and is not evidence here.
                let note = format!(
                    "ignored a link to {}: not this site's Confluence",
                    link.url()
                );
                if !notes.contains(&note) {
                    notes.push(note);
                }
                continue;
            }
            if pages.len() >= MAX_PAGES || seen.contains(&link.id) || !allowed(&link.space) {
                continue;
            }
            seen.push(link.id.clone());
            if let Some(f) = self.fetch(state, tenant, auth, &link.space, &link.id).await {
                let mut page = f.page;
                page.references_ticket = references(&page, &f.body_keys, issue_key);
                pages.push(page);
            }
        }
        for space in spaces.iter().flatten() {
            if pages.len() >= MAX_PAGES {
                break;
            }
            let cql = format!("text ~ \"{issue_key}\" AND space = \"{space}\" AND type = page");
            let path = format!(
                "/wiki/rest/api/search?cql={}&limit={MAX_PAGES}",
                percent_encoding::utf8_percent_encode(&cql, percent_encoding::NON_ALPHANUMERIC)
            );
            let found = match state.jira().get(auth, &path).await {
                Ok(v) => v,
                Err(e) => {
                    tracing::warn!(tenant, space, error = %e, "Confluence search failed; going on without its pages");
                    continue;
                }
            };
            let base = found
                .pointer("/_links/base")
                .and_then(Value::as_str)
                .unwrap_or_default();
            for r in found
                .get("results")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let Some(id) = r.pointer("/content/id").and_then(Value::as_str) else {
                    continue;
                };
                if seen.iter().any(|s| s == id) || pages.len() >= MAX_PAGES {
                    continue;
                }
                seen.push(id.to_owned());
                let mut page = Page {
                    id: id.to_owned(),
                    title: text(r.get("title")),
                    labels: labels(r.pointer("/content/metadata/labels/results")),
                    space: space.clone(),
                    last_modified: millis(r.get("lastModified")),
                    excerpt: strip_tags(
                        r.get("excerpt").and_then(Value::as_str).unwrap_or_default(),
                    ),
                    url: format!(
                        "{base}{}",
                        r.get("url").and_then(Value::as_str).unwrap_or_default()
                    ),
                    references_ticket: false,
                };
                // A search hit carries Confluence's excerpt of the body, not the body.
                page.references_ticket = references(&page, &named_keys(&page.excerpt), issue_key);
                pages.push(page);
            }
        }
        pages
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_references_a_ticket_its_body_names_as_a_word() {
        let body = "<p>Accepted for SEC-12 (see https://acme.atlassian.net/browse/APP-7), \
                    not APPSEC-1 nor SEC-1x; risk-ops-3 and ops-4-notes.</p>";
        let keys = named_keys(body);
        let page = Page {
            title: "Risk acceptance".into(),
            labels: vec!["risk-approved".into(), "risk-web-9".into()],
            ..Page::default()
        };
        for key in ["SEC-12", "APP-7", "APPSEC-1", "OPS-3", "OPS-4", "WEB-9"] {
            assert!(references(&page, &keys, key), "{key}: {keys:?}");
        }
        for key in ["SEC-1", "EC-1", "SEC-2", "APP-70"] {
            assert!(!references(&page, &keys, key), "{key}: {keys:?}");
        }
        // The same answers as the SDK's own check on the same text.
        for key in ["SEC-12", "APP-7", "SEC-1", "OPS-3", "EC-1"] {
            assert_eq!(
                keys.binary_search(&key.to_owned()).is_ok(),
                names_ticket(body, key),
                "{key}"
            );
        }
    }

    #[test]
    fn finds_page_links_and_the_site_they_are_on() {
        let t = "see https://acme.atlassian.net/wiki/spaces/SECOPS/pages/98001/Risk+acceptance and \
                 (http://127.0.0.1:9/s/acme/wiki/spaces/SEC/pages/12) again /wiki/spaces/SEC/pages/12 \
                 and /wiki/spaces/OPS/pages/7";
        let link = |site: Option<&str>, space: &str, id: &str| PageLink {
            site: site.map(str::to_owned),
            space: space.into(),
            id: id.into(),
        };
        let found = linked_pages(t);
        assert_eq!(
            found,
            vec![
                link(Some("https://acme.atlassian.net"), "SECOPS", "98001"),
                link(Some("http://127.0.0.1:9/s/acme"), "SEC", "12"),
                link(None, "SEC", "12"),
                link(None, "OPS", "7"),
            ]
        );
        assert!(linked_pages("no links /wiki/spaces/X/overview").is_empty());

        let ours = vec!["https://ACME.atlassian.net/".to_owned()];
        assert!(found[0].on(&ours));
        assert!(!found[1].on(&ours), "another site");
        assert!(found[3].on(&ours), "a bare path is this site's");
        let evil =
            &linked_pages("Risk accepted: https://evil.example/wiki/spaces/SECOPS/pages/98001")[0];
        assert!(!evil.on(&ours));
        assert_eq!(
            evil.url(),
            "https://evil.example/wiki/spaces/SECOPS/pages/98001"
        );
        let lookalike =
            &linked_pages("https://acme.atlassian.net.evil.example/wiki/spaces/S/pages/1")[0];
        assert!(!lookalike.on(&ours));
        let both = linked_pages(
            "https://evil.example/wiki/spaces/S/pages/1 https://acme.atlassian.net/wiki/spaces/S/pages/1",
        );
        assert_eq!(
            both.len(),
            2,
            "a foreign link does not hide this site's: {both:?}"
        );
        assert!(both[1].on(&ours));
    }
}
