//! A webhook delivery body as Jira sends it: JSON, then the typed event and every question the
//! inbox worker asks of it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use verdict_wire::jira_event::{EventKind, JiraEvent};

fuzz_target!(|data: &[u8]| {
    let Ok(payload) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    if let Some(name) = payload.get("webhookEvent").and_then(|v| v.as_str()) {
        let _ = EventKind::parse(name);
    }
    if let Ok(event) = JiraEvent::parse(&payload) {
        let _ = (
            event.status_changed(),
            event.resolution_set(),
            event.resolution_cleared(),
            event.closes(),
            event.reopens(),
            event.change("status"),
        );
    }
});
