//! A webhook delivery body as Jira sends it: JSON, then the typed event and every question the
//! inbox worker asks of it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use verdict_wire::jira_event::{DeliverySite, EventKind, JiraEvent, delivery_site};

fuzz_target!(|data: &[u8]| {
    let Ok(payload) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    if let Some(name) = payload.get("webhookEvent").and_then(|v| v.as_str()) {
        let _ = EventKind::parse(name);
    }
    // A site a delivery names is a web origin (plus context path) or a gateway cloud id.
    match delivery_site(&payload) {
        Ok(DeliverySite::BaseUrl(base)) => assert!(
            (base.starts_with("https://") || base.starts_with("http://"))
                && !base.ends_with('/')
                && !base.contains("/rest/api/")
        ),
        Ok(DeliverySite::CloudId(id)) => assert!(!id.is_empty() && !id.contains('/')),
        Err(_) => {}
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
