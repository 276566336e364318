//! An admin's issue template (first part) expanded with finding values (the rest, one per
//! line): validation, expansion and rendering to ADF and wiki markup stay within Jira's
//! limits. The first part is also tried as a ticket field map, parsed and expanded, and as a
//! comment naming the date a risk was accepted until.
#![no_main]

use std::collections::BTreeMap;

use libfuzzer_sys::fuzz_target;
use verdict_wire::template::{self, Format, MAX_RENDERED_CHARS, MAX_SUMMARY_CHARS, RichText};
use verdict_wire::{field_map, risk_date};

/// Jira's own limit on a rich-text field.
const JIRA_LIMIT: usize = 32_767;

/// Jira refuses ADF whose text nodes are empty (the schema's `minLength: 1`).
fn assert_valid_adf(v: &serde_json::Value) {
    if let Some(map) = v.as_object() {
        if map.get("type").and_then(|t| t.as_str()) == Some("text") {
            let text = map.get("text").and_then(|t| t.as_str()).unwrap_or("");
            assert!(!text.is_empty(), "an empty ADF text node: {v}");
        }
        map.values().for_each(assert_valid_adf);
    } else if let Some(items) = v.as_array() {
        items.iter().for_each(assert_valid_adf);
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (tpl, values) = text.split_once('\0').unwrap_or((text, ""));
    assert_valid_adf(&template::to_adf(tpl));
    let map = field_map::parse(tpl);
    let today = risk_date::NaiveDate::from_ymd_opt(2026, 12, 7).expect("date");
    if let Some(d) = risk_date::accepted_until(&[tpl], today) {
        assert!(d > today && (d - today).num_days() <= risk_date::MAX_DAYS_AHEAD);
    }
    let _ = template::to_wiki(tpl);
    assert!(template::summary(values).chars().count() <= MAX_SUMMARY_CHARS);
    let mut vars = BTreeMap::new();
    for (name, value) in template::VARIABLES.iter().zip(values.split('\n')) {
        vars.insert(*name, value.replace('\u{1}', "\n"));
    }
    if let Ok(map) = map {
        for v in map.entries.values() {
            let _ = field_map::expand(v, &vars);
        }
    }
    if template::validate(tpl).is_err() {
        return;
    }
    let _ = template::expand(tpl, &vars);
    for format in [Format::Adf, Format::Wiki] {
        let Ok((rendered, _cut)) = template::render(tpl, &vars, format) else {
            continue;
        };
        let sent = match rendered {
            RichText::Adf(v) => {
                assert_valid_adf(&v);
                v.to_string()
            }
            RichText::Wiki(s) => s,
        };
        assert!(
            sent.chars().count() <= JIRA_LIMIT,
            "rendered {} characters (target {MAX_RENDERED_CHARS})",
            sent.chars().count()
        );
    }
});
