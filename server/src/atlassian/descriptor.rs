//! The Connect descriptor: the repository's `atlassian-connect.json` template, served with
//! the configured `baseUrl` and `key`, and the rules Atlassian applies to it.

use serde_json::Value;

use crate::config::{Config, Mode};

const TEMPLATE: &str = include_str!("../../../atlassian-connect.json");

pub fn render(config: &Config) -> Value {
    let mut d: Value = serde_json::from_str(TEMPLATE).expect("the descriptor template is JSON");
    d["baseUrl"] = Value::String(config.base_url.as_str().trim_end_matches('/').to_owned());
    d["key"] = Value::String(config.app_key.clone());
    d
}

/// Atlassian's descriptor rules (required fields, key pattern and length, https base URL in
/// production, webhooks need the read scope, lifecycle paths relative). Empty when valid.
pub fn problems(d: &Value, mode: Mode) -> Vec<String> {
    let mut out = Vec::new();
    for field in ["key", "baseUrl", "authentication"] {
        if d.get(field).is_none() {
            out.push(format!("`{field}` is required"));
        }
    }
    if let Some(key) = d.get("key").and_then(Value::as_str) {
        let ok = !key.is_empty()
            && key.len() <= 80
            && key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'));
        if !ok {
            out.push(format!(
                "`key` `{key}` must match ^[a-zA-Z0-9-._]+$ and be at most 80 characters"
            ));
        }
    }
    if let Some(base) = d.get("baseUrl").and_then(Value::as_str) {
        if base.len() > 200 {
            out.push("`baseUrl` is longer than 200 characters".into());
        }
        if mode == Mode::Production && !base.starts_with("https://") {
            out.push(format!("`baseUrl` `{base}` must be https"));
        }
    }
    if d.get("authentication").is_some()
        && d.pointer("/authentication/type")
            .and_then(Value::as_str)
            .map(str::to_ascii_lowercase)
            != Some("jwt".into())
    {
        out.push("`authentication.type` must be jwt".into());
    }
    let scopes: Vec<String> = d
        .get("scopes")
        .and_then(Value::as_array)
        .map(|s| {
            s.iter()
                .filter_map(|x| x.as_str().map(str::to_ascii_lowercase))
                .collect()
        })
        .unwrap_or_default();
    let has_webhooks = d
        .pointer("/modules/webhooks")
        .and_then(Value::as_array)
        .is_some_and(|w| !w.is_empty());
    if has_webhooks && !scopes.iter().any(|s| s == "read") {
        out.push("webhooks require the READ scope".into());
    }
    for hook in ["installed", "uninstalled", "enabled", "disabled"] {
        match d
            .pointer(&format!("/lifecycle/{hook}"))
            .and_then(Value::as_str)
        {
            Some(p) if p.starts_with('/') => {}
            Some(p) => out.push(format!(
                "lifecycle `{hook}` path `{p}` must be relative to baseUrl"
            )),
            None => out.push(format!("lifecycle `{hook}` is missing")),
        }
    }
    for m in ["signed-install", "context-qsh", "gdpr"] {
        if d.pointer(&format!("/apiMigrations/{m}"))
            .and_then(Value::as_bool)
            != Some(true)
        {
            out.push(format!("apiMigrations `{m}` must be true"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_template_is_valid_for_development_and_production_urls() {
        let mut config = Config::default();
        assert!(problems(&render(&config), Mode::Development).is_empty());
        config.base_url = "https://verdict.example.com".parse().unwrap();
        assert!(problems(&render(&config), Mode::Production).is_empty());
    }
}
