//! The double's own query-string-hash (qsh) implementation, written from Atlassian's
//! canonical-request rules and independent of Verdict's code, so each checks the other.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use sha2::{Digest, Sha256};

/// RFC 3986 unreserved characters stay; everything else is percent-encoded (space → `%20`).
const ENCODE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

fn encode(s: &str) -> String {
    utf8_percent_encode(s, ENCODE).to_string()
}

fn decode(s: &str) -> String {
    // Form-style `+` is not a space in a URL query; keep it literal as Jira does.
    percent_decode_str(s).decode_utf8_lossy().into_owned()
}

/// `METHOD&path&canonical-query`. `path` must already be relative to the context path
/// (the installed base URL's path for calls to Jira, the app's base URL path for calls to an app).
pub fn canonical_request(method: &str, path: &str, query: &str) -> String {
    let mut path = if path.is_empty() {
        "/".to_owned()
    } else {
        path.to_owned()
    };
    if path.len() > 1 && path.ends_with('/') {
        path.pop();
    }
    let path = path.replace('&', "%26");
    let mut params: Vec<(String, Vec<String>)> = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let (k, v) = (decode(k), decode(v));
        if k == "jwt" {
            continue;
        }
        let (k, v) = (encode(&k), encode(&v));
        match params.iter_mut().find(|(name, _)| *name == k) {
            Some((_, values)) => values.push(v),
            None => params.push((k, vec![v])),
        }
    }
    params.sort_by(|a, b| a.0.cmp(&b.0));
    let query = params
        .into_iter()
        .map(|(k, mut values)| {
            values.sort();
            format!("{k}={}", values.join(","))
        })
        .collect::<Vec<_>>()
        .join("&");
    format!("{}&{}&{}", method.to_ascii_uppercase(), path, query)
}

pub fn qsh(method: &str, path: &str, query: &str) -> String {
    hex::encode(Sha256::digest(
        canonical_request(method, path, query).as_bytes(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn published_test_vector() {
        let canonical = canonical_request(
            "get",
            "/path/to/service",
            "zee_last=param&repeated=parameter%201&first=param&repeated=parameter%202",
        );
        assert_eq!(
            canonical,
            "GET&/path/to/service&first=param&repeated=parameter%201,parameter%202&zee_last=param"
        );
        assert_eq!(
            qsh(
                "GET",
                "/path/to/service",
                "zee_last=param&repeated=parameter%201&first=param&repeated=parameter%202"
            ),
            "e52bb281606c3bd9ca16cfe96fe2df78f5d9ffa126f06befd750dfa10fa1a897"
        );
    }

    #[test]
    fn more_vectors() {
        assert_eq!(
            qsh("GET", "/", ""),
            "c88caad15a1c1a900b8ac08aa9686f4e8184539bea1deda36e2f649430df3239"
        );
        assert!(qsh("POST", "/installed", "").starts_with("4a2e1de8"));
        // The jwt parameter never counts; `*` is encoded; `~` is not; `&` in the path is.
        assert_eq!(
            canonical_request("GET", "/a&b/", "jwt=x&q=a*b~c&Z=1&a=2"),
            "GET&/a%26b&Z=1&a=2&q=a%2Ab~c"
        );
    }
}
