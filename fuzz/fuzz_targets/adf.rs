//! Atlassian Document Format from Jira (comments, descriptions) to the text triage reads, and
//! the text Verdict posts back to ADF.
#![no_main]

use libfuzzer_sys::fuzz_target;
use verdict_wire::adf;

fuzz_target!(|data: &[u8]| {
    if let Ok(doc) = serde_json::from_slice::<serde_json::Value>(data) {
        let _ = adf::to_text(&doc);
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let doc = adf::from_text(text);
        let _ = adf::to_text(&doc);
    }
});
