//! Atlassian Document Format: the validation Jira applies to v3 rich-text fields, ADF built
//! from plain text (for v2 input), and ADF flattened to text (for v2 output and webhooks).

use serde_json::{Value, json};

/// Jira's message when a v3 rich-text field is not an ADF document.
pub const NOT_ADF: &str = "Operation value must be an Atlassian Document";

/// Checks the document shape Jira insists on: `{"type":"doc","version":1,"content":[...]}`
/// with every node carrying a string `type`, text nodes a string `text`.
pub fn validate(doc: &Value) -> Result<(), String> {
    let Some(obj) = doc.as_object() else {
        return Err(NOT_ADF.into());
    };
    if obj.get("type").and_then(Value::as_str) != Some("doc") {
        return Err(NOT_ADF.into());
    }
    if obj.get("version").and_then(Value::as_u64) != Some(1) {
        return Err(NOT_ADF.into());
    }
    let Some(content) = obj.get("content").and_then(Value::as_array) else {
        return Err(NOT_ADF.into());
    };
    content.iter().try_for_each(validate_node)
}

fn validate_node(node: &Value) -> Result<(), String> {
    let ty = node
        .get("type")
        .and_then(Value::as_str)
        .ok_or_else(|| "ADF node without a type".to_owned())?;
    if ty == "text" && node.get("text").and_then(Value::as_str).is_none() {
        return Err("ADF text node without text".into());
    }
    if let Some(content) = node.get("content") {
        content
            .as_array()
            .ok_or_else(|| format!("ADF `{ty}` node content must be an array"))?
            .iter()
            .try_for_each(validate_node)?;
    }
    Ok(())
}

/// One paragraph per line of text.
pub fn from_text(text: &str) -> Value {
    let paragraphs: Vec<Value> = text
        .split('\n')
        .map(|line| {
            if line.is_empty() {
                json!({"type": "paragraph", "content": []})
            } else {
                json!({"type": "paragraph", "content": [{"type": "text", "text": line}]})
            }
        })
        .collect();
    json!({"type": "doc", "version": 1, "content": paragraphs})
}

/// Flattens ADF to text: block nodes end lines, links keep their URL.
pub fn to_text(doc: &Value) -> String {
    let mut out = String::new();
    walk(doc, &mut out);
    out.trim_end_matches('\n').to_owned()
}

fn walk(node: &Value, out: &mut String) {
    match node.get("type").and_then(Value::as_str) {
        Some("text") => {
            let text = node.get("text").and_then(Value::as_str).unwrap_or_default();
            let href = node
                .get("marks")
                .and_then(Value::as_array)
                .and_then(|marks| {
                    marks.iter().find_map(|m| {
                        (m.get("type").and_then(Value::as_str) == Some("link"))
                            .then(|| m.pointer("/attrs/href").and_then(Value::as_str))
                            .flatten()
                    })
                });
            match href {
                Some(h) if h != text => out.push_str(&format!("[{text}|{h}]")),
                _ => out.push_str(text),
            }
        }
        Some("hardBreak") => out.push('\n'),
        Some("inlineCard") | Some("blockCard") => {
            if let Some(url) = node.pointer("/attrs/url").and_then(Value::as_str) {
                out.push_str(url);
            }
        }
        Some("mention") => {
            if let Some(t) = node.pointer("/attrs/text").and_then(Value::as_str) {
                out.push_str(t);
            }
        }
        ty => {
            if let Some(content) = node.get("content").and_then(Value::as_array) {
                content.iter().for_each(|c| walk(c, out));
            }
            if matches!(
                ty,
                Some("paragraph" | "heading" | "codeBlock" | "listItem" | "blockquote" | "rule")
            ) {
                out.push('\n');
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_strings_and_malformed_docs_are_rejected() {
        assert_eq!(validate(&json!("just text")).unwrap_err(), NOT_ADF);
        assert!(validate(&json!({"type": "doc", "content": []})).is_err());
        assert!(
            validate(&json!({"type": "doc", "version": 1, "content": [{"text": "x"}]})).is_err()
        );
        assert!(validate(&from_text("a\nb")).is_ok());
    }

    #[test]
    fn round_trips_text_and_keeps_links() {
        assert_eq!(
            to_text(&from_text("line one\nline two")),
            "line one\nline two"
        );
        let doc = json!({"type":"doc","version":1,"content":[{"type":"paragraph","content":[
            {"type":"text","text":"see "},
            {"type":"text","text":"the page","marks":[{"type":"link","attrs":{"href":"https://x.atlassian.net/wiki/spaces/SEC/pages/1"}}]},
            {"type":"inlineCard","attrs":{"url":"https://x.atlassian.net/wiki/x/2"}}]}]});
        assert_eq!(
            to_text(&doc),
            "see [the page|https://x.atlassian.net/wiki/spaces/SEC/pages/1]https://x.atlassian.net/wiki/x/2"
        );
    }
}
