//! A scanner's findings batch body (`POST /api/v1/findings:batch`): each item parsed and
//! validated on its own, valid ones hashed for change detection.
#![no_main]

use libfuzzer_sys::fuzz_target;
use verdict_wire::findings::parse_finding;

fuzz_target!(|data: &[u8]| {
    let Ok(body) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    let items = match body.get("findings") {
        Some(serde_json::Value::Array(items)) => items.clone(),
        _ => vec![body],
    };
    for item in items {
        match parse_finding(item) {
            Ok(finding) => {
                let _ = finding.content_hash();
            }
            Err(e) => {
                let _ = (e.code(), e.field_error());
            }
        }
    }
});
