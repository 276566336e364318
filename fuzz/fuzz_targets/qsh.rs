//! Atlassian's query string hash over a method, path and query (one per line): never panics,
//! and the canonical form does not depend on the order of the query's parameters.
#![no_main]

use libfuzzer_sys::fuzz_target;
use verdict_wire::qsh;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut lines = text.splitn(3, '\n');
    let method = lines.next().unwrap_or("");
    let path = lines.next().unwrap_or("");
    let query = lines.next().unwrap_or("");
    let canonical = qsh::canonical(method, path, query);
    let hash = qsh::qsh(method, path, query);
    assert_eq!(hash.len(), 64);
    let reversed: Vec<&str> = query.split('&').rev().collect();
    assert_eq!(
        canonical,
        qsh::canonical(method, path, &reversed.join("&")),
        "parameter order changed the canonical request"
    );
});
