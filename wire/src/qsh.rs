//! Atlassian's query string hash: SHA-256 of `METHOD&path&canonical-query`, with the context
//! path stripped, `&` in the path as `%26`, RFC 3986 encoding, sorted and comma-joined params.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use sha2::{Digest, Sha256};

const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// The value Atlassian puts in `qsh` for context tokens, valid only on page routes.
pub const CONTEXT_QSH: &str = "context-qsh";

pub fn canonical(method: &str, path: &str, query: &str) -> String {
    let path = match path.trim_end_matches('/') {
        "" => "/".to_owned(),
        p => p.replace('&', "%26"),
    };
    let mut pairs: Vec<(String, String)> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| p.split_once('=').unwrap_or((p, "")))
        .map(|(k, v)| (decode(k), decode(v)))
        .filter(|(k, _)| k != "jwt")
        .map(|(k, v)| (encode(&k), encode(&v)))
        .collect();
    pairs.sort();
    let mut joined: Vec<(String, Vec<String>)> = Vec::new();
    for (k, v) in pairs {
        match joined.last_mut() {
            Some((last, values)) if *last == k => values.push(v),
            _ => joined.push((k, vec![v])),
        }
    }
    let query: Vec<String> = joined
        .into_iter()
        .map(|(k, v)| format!("{k}={}", v.join(",")))
        .collect();
    format!(
        "{}&{}&{}",
        method.to_ascii_uppercase(),
        path,
        query.join("&")
    )
}

pub fn qsh(method: &str, path: &str, query: &str) -> String {
    hex::encode(Sha256::digest(canonical(method, path, query).as_bytes()))
}

fn encode(s: &str) -> String {
    utf8_percent_encode(s, UNRESERVED).to_string()
}

fn decode(s: &str) -> String {
    percent_decode_str(s).decode_utf8_lossy().into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atlassian_vectors() {
        assert_eq!(
            canonical(
                "get",
                "/path/to/service",
                "zee_last=param&repeated=parameter%201&first=param&repeated=parameter%202"
            ),
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
        assert_eq!(
            qsh("GET", "/", ""),
            "c88caad15a1c1a900b8ac08aa9686f4e8184539bea1deda36e2f649430df3239"
        );
        assert!(qsh("POST", "/installed", "").starts_with("4a2e1de8"));
        assert_eq!(
            canonical("POST", "/a&b/", "jwt=x&b=%2A&A=~"),
            "POST&/a%26b&A=~&b=%2A"
        );
    }
}
