//! Confluence pages for a closure: pages linked from the ticket's comments and description,
//! and pages a CQL search finds for the issue key in the tenant's configured spaces
//! (`confluence.spaces`). Cached briefly; any Confluence failure means fewer pages, never a
//! lost decision.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rules_sdk::{ConfigEntry, Page};
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

/// (tenant, page id) → when fetched, and the page (`None`: it could not be read).
type PageMap = HashMap<(String, String), (Instant, Option<Page>)>;

#[derive(Clone, Default)]
pub struct PageCache(Arc<Mutex<PageMap>>);

/// `(space key, page id)` for every Confluence page URL in `text`.
pub fn linked_pages(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find("/wiki/spaces/") {
        rest = &rest[i + "/wiki/spaces/".len()..];
        let space: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '~' || *c == '_')
            .collect();
        let after = &rest[space.len()..];
        if let Some(p) = after.strip_prefix("/pages/") {
            let id: String = p.chars().take_while(char::is_ascii_digit).collect();
            if !space.is_empty() && !id.is_empty() && !out.iter().any(|(_, x)| *x == id) {
                out.push((space, id));
            }
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

fn millis(v: Option<&Value>) -> i64 {
    v.and_then(Value::as_str)
        .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
        .map(|d| d.timestamp_millis())
        .unwrap_or(0)
}

impl PageCache {
    fn cached(&self, tenant: &str, id: &str) -> Option<Option<Page>> {
        let map = self.0.lock().expect("page cache");
        map.get(&(tenant.to_owned(), id.to_owned()))
            .filter(|(at, _)| at.elapsed() < TTL)
            .map(|(_, p)| p.clone())
    }

    fn remember(&self, tenant: &str, id: &str, page: Option<Page>) {
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
    ) -> Option<Page> {
        if let Some(hit) = self.cached(tenant, id) {
            return hit;
        }
        let path = format!("/wiki/api/v2/pages/{id}?include-labels=true&body-format=storage");
        let page = match state.jira().get(auth, &path).await {
            Ok(v) => Some(Page {
                id: id.to_owned(),
                title: v
                    .get("title")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned(),
                labels: v
                    .pointer("/labels/results")
                    .and_then(Value::as_array)
                    .map(|a| {
                        a.iter()
                            .filter_map(|l| {
                                l.get("name").and_then(Value::as_str).map(str::to_owned)
                            })
                            .collect()
                    })
                    .unwrap_or_default(),
                space: space.to_owned(),
                last_modified: millis(v.pointer("/version/createdAt")),
                excerpt: strip_tags(
                    v.pointer("/body/storage/value")
                        .and_then(Value::as_str)
                        .unwrap_or_default(),
                ),
                url: format!(
                    "{}{}",
                    v.pointer("/_links/base")
                        .and_then(Value::as_str)
                        .unwrap_or_default(),
                    v.pointer("/_links/webui")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                ),
            }),
            Err(e) => {
                tracing::warn!(tenant, page = id, error = %e, "cannot read a linked Confluence page");
                None
            }
        };
        self.remember(tenant, id, page.clone());
        page
    }

    /// The pages a closure rule sees (at most [`MAX_PAGES`]).
    pub async fn pages_for(
        &self,
        state: &AppState,
        tenant: &str,
        auth: &JiraAuth,
        issue_key: &str,
        texts: &[&str],
        config: &[ConfigEntry],
    ) -> Vec<Page> {
        let spaces: Option<Vec<String>> = rules_sdk::Config(config)
            .list(KEY_SPACES)
            .map(|v| v.into_iter().map(str::to_owned).collect());
        let allowed = |space: &str| spaces.as_ref().is_none_or(|s| s.iter().any(|x| x == space));
        let mut pages: Vec<Page> = Vec::new();
        let mut seen: Vec<String> = Vec::new();
        for (space, id) in texts.iter().flat_map(|t| linked_pages(t)) {
            if pages.len() >= MAX_PAGES || seen.contains(&id) || !allowed(&space) {
                continue;
            }
            seen.push(id.clone());
            if let Some(p) = self.fetch(state, tenant, auth, &space, &id).await {
                pages.push(p);
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
                pages.push(Page {
                    id: id.to_owned(),
                    title: r
                        .get("title")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_owned(),
                    labels: r
                        .pointer("/content/metadata/labels/results")
                        .and_then(Value::as_array)
                        .map(|a| {
                            a.iter()
                                .filter_map(|l| {
                                    l.get("name").and_then(Value::as_str).map(str::to_owned)
                                })
                                .collect()
                        })
                        .unwrap_or_default(),
                    space: space.clone(),
                    last_modified: millis(r.get("lastModified")),
                    excerpt: strip_tags(
                        r.get("excerpt").and_then(Value::as_str).unwrap_or_default(),
                    ),
                    url: format!(
                        "{base}{}",
                        r.get("url").and_then(Value::as_str).unwrap_or_default()
                    ),
                });
            }
        }
        pages
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_page_links() {
        let t = "see https://acme.atlassian.net/wiki/spaces/SECOPS/pages/98001/Risk+acceptance and \
                 http://127.0.0.1:9/s/acme/wiki/spaces/SEC/pages/12 (again /wiki/spaces/SEC/pages/12)";
        assert_eq!(
            linked_pages(t),
            vec![
                ("SECOPS".to_owned(), "98001".to_owned()),
                ("SEC".to_owned(), "12".to_owned())
            ]
        );
        assert!(linked_pages("no links /wiki/spaces/X/overview").is_empty());
    }
}
