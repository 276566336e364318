//! A Forge Remote event body as Forge sends it: its type, the typed event the inbox worker
//! reads from it, its lifecycle reading, and the identity that makes retries one delivery.
#![no_main]

use libfuzzer_sys::fuzz_target;
use verdict_wire::forge_event::{self, ForgeEventType};
use verdict_wire::jira_event::JiraEvent;

fuzz_target!(|data: &[u8]| {
    let Ok(body) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    if let Ok(name) = forge_event::event_type(&body) {
        let _ = ForgeEventType::parse(&name).is_lifecycle();
    }
    let id = forge_event::delivery_identity(&body);
    assert!(id.starts_with("forge:") && id.len() == 6 + 64);
    // A retry differs only in its retryContext: it is the same delivery.
    if let Some(p) = body.get("payload").and_then(|p| p.as_object()) {
        let mut retried = p.clone();
        retried.insert(
            "retryContext".into(),
            serde_json::json!({"retryCount": 3, "retryReason": "TIMEOUT_ERROR"}),
        );
        let retried = serde_json::json!({"payload": retried});
        assert_eq!(forge_event::delivery_identity(&retried), id);
        assert_eq!(forge_event::retry_count(&retried), 3);
    }
    let _ = forge_event::lifecycle(&body);
    if let Ok(event) = forge_event::parse(&body) {
        assert!(event.matched_webhook_ids.is_empty());
        let _ = (event.closes(), event.reopens(), event.status_changed());
    }
    if forge_event::is_forge(&body) {
        assert_eq!(
            JiraEvent::parse(&body).ok(),
            forge_event::parse(&body).ok(),
            "a Forge body reads the same through JiraEvent::parse"
        );
    }
});
