//! Atlassian Document Format ↔ plain text, as much as triage needs: comment and description
//! text (with link targets, so Confluence links are found) and short comments Verdict posts.

use serde_json::{Value, json};

/// The text of an ADF document (or a plain string, as v2 and webhooks carry): paragraphs and
/// hard breaks become newlines, link and card URLs are kept.
pub fn to_text(v: &Value) -> String {
    let mut out = String::new();
    walk(v, &mut out);
    out.trim().to_owned()
}

fn walk(v: &Value, out: &mut String) {
    match v {
        Value::String(s) => out.push_str(s),
        Value::Object(o) => {
            let kind = o.get("type").and_then(Value::as_str).unwrap_or("");
            if let Some(t) = o.get("text").and_then(Value::as_str) {
                out.push_str(t);
            }
            if let Some(marks) = o.get("marks").and_then(Value::as_array) {
                for m in marks {
                    if let Some(href) = m.pointer("/attrs/href").and_then(Value::as_str) {
                        out.push_str(" (");
                        out.push_str(href);
                        out.push(')');
                    }
                }
            }
            if let Some(url) = v.pointer("/attrs/url").and_then(Value::as_str) {
                out.push(' ');
                out.push_str(url);
                out.push(' ');
            }
            if kind == "hardBreak" {
                out.push('\n');
            }
            if let Some(content) = o.get("content").and_then(Value::as_array) {
                for c in content {
                    walk(c, out);
                }
            }
            if matches!(
                kind,
                "paragraph" | "heading" | "listItem" | "codeBlock" | "blockquote"
            ) {
                out.push('\n');
            }
        }
        Value::Array(a) => a.iter().for_each(|x| walk(x, out)),
        _ => {}
    }
}

/// A one-paragraph-per-line ADF document.
pub fn from_text(text: &str) -> Value {
    let paragraphs: Vec<Value> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| json!({"type": "paragraph", "content": [{"type": "text", "text": l}]}))
        .collect();
    json!({"type": "doc", "version": 1, "content": paragraphs})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_keeps_links_and_breaks() {
        let doc = json!({"type": "doc", "version": 1, "content": [
            {"type": "paragraph", "content": [
                {"type": "text", "text": "see "},
                {"type": "text", "text": "the page", "marks": [{"type": "link", "attrs": {"href": "https://x/wiki/spaces/S/pages/1"}}]},
                {"type": "hardBreak"},
                {"type": "inlineCard", "attrs": {"url": "https://x/wiki/spaces/S/pages/2"}}]},
            {"type": "paragraph", "content": [{"type": "text", "text": "second"}]}]});
        let t = to_text(&doc);
        assert!(
            t.contains("the page (https://x/wiki/spaces/S/pages/1)"),
            "{t}"
        );
        assert!(t.contains("https://x/wiki/spaces/S/pages/2"), "{t}");
        assert!(t.ends_with("second"), "{t}");
        assert_eq!(to_text(&json!("plain v2 text")), "plain v2 text");
    }

    #[test]
    fn from_text_is_valid_adf() {
        let d = from_text("one\n\ntwo");
        assert_eq!(d["content"].as_array().unwrap().len(), 2);
        assert_eq!(to_text(&d), "one\ntwo");
    }
}
