//! Issue content from templates: `{{variable}}` substitution and `{{#variable}}…{{/variable}}`
//! sections kept only when the variable has a value, over a small line markup (`## heading`,
//! `- bullet`, ```` ``` ```` code fences, paragraphs) rendered to ADF (Cloud) or wiki markup
//! (Data Center), and shortened safely below Jira's 32,767-character limit.

use std::collections::BTreeMap;

use serde_json::{Value, json};

/// Rich text, already in the representation the tenant's API takes.
#[derive(Debug, Clone, PartialEq)]
pub enum RichText {
    /// Atlassian Document Format (Cloud, REST v3).
    Adf(Value),
    /// Wiki markup (Data Center, REST v2).
    Wiki(String),
}

impl Default for RichText {
    fn default() -> Self {
        RichText::Wiki(String::new())
    }
}

impl RichText {
    /// The JSON value Jira's REST API takes for a rich-text field.
    pub fn to_json(&self) -> Value {
        match self {
            RichText::Adf(v) => v.clone(),
            RichText::Wiki(s) => Value::String(s.clone()),
        }
    }
}

/// Jira refuses rich-text fields longer than 32,767 characters; stay clearly below, measured
/// on what is sent (the ADF JSON, or the wiki text).
pub const MAX_RENDERED_CHARS: usize = 32_000;
/// Jira's summary limit.
pub const MAX_SUMMARY_CHARS: usize = 255;

/// Every variable a template may use.
pub const VARIABLES: &[&str] = &[
    "id",
    "external_id",
    "title",
    "description",
    "severity",
    "score",
    "cvss",
    "cvss_vector",
    "cvss_score",
    "cwes",
    "scan_type",
    "repository",
    "file",
    "line",
    "location",
    "snippet",
    "tags",
    "finding_url",
    "rule_id",
    "package",
    "vulnerability_ids",
];

/// The full built-in template.
pub const FULL: &str = "\
## {{title}}
- Severity: {{severity}}
{{#score}}- Score: {{score}}
{{/score}}{{#cvss}}- CVSS: {{cvss}}
{{/cvss}}{{#cwes}}- Weakness: {{cwes}}
{{/cwes}}{{#vulnerability_ids}}- Vulnerabilities: {{vulnerability_ids}}
{{/vulnerability_ids}}{{#scan_type}}- Scanner: {{scan_type}}
{{/scan_type}}{{#rule_id}}- Rule: {{rule_id}}
{{/rule_id}}{{#package}}- Package: {{package}}
{{/package}}{{#repository}}- Repository: {{repository}}
{{/repository}}{{#location}}- Location: {{location}}
{{/location}}{{#tags}}- Tags: {{tags}}
{{/tags}}
{{#description}}{{description}}

{{/description}}{{#snippet}}```
{{snippet}}
```

{{/snippet}}Finding {{external_id}} in Verdict: {{finding_url}}
";

/// The limited built-in template: no description or code leaves Verdict.
pub const LIMITED: &str = "\
{{severity}} finding from {{scan_type}}{{#repository}} in {{repository}}{{/repository}}.

Details are in Verdict: {{finding_url}}
";

/// A template setting's value: `full`, `limited`, or the template text itself.
pub fn resolve(setting: Option<&str>) -> &str {
    match setting.map(str::trim) {
        None | Some("") | Some("full") => FULL,
        Some("limited") => LIMITED,
        Some(_) => setting.unwrap_or(FULL),
    }
}

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum TemplateError {
    #[error("unknown template variable `{0}` (known: {known})", known = VARIABLES.join(", "))]
    UnknownVariable(String),
    #[error("section `{{{{#{0}}}}}` is not closed with `{{{{/{0}}}}}`")]
    Unclosed(String),
    #[error("`{{{{/{0}}}}}` closes a section that is not open")]
    UnexpectedClose(String),
}

/// Checks a template before it is stored.
pub fn validate(template: &str) -> Result<(), TemplateError> {
    expand(template, &BTreeMap::new()).map(|_| ())
}

/// Substitutes `vars` into `template` (missing variables are empty).
pub fn expand(template: &str, vars: &BTreeMap<&str, String>) -> Result<String, TemplateError> {
    let mut out = String::with_capacity(template.len() * 2);
    let mut rest = template;
    // Sections open, and whether their content is kept.
    let mut open: Vec<(String, bool)> = Vec::new();
    while let Some(start) = rest.find("{{") {
        let keep = open.iter().all(|(_, k)| *k);
        if keep {
            out.push_str(&rest[..start]);
        }
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            if keep {
                out.push_str(&rest[start..]);
            }
            rest = "";
            break;
        };
        let tag = after[..end].trim();
        rest = &after[end + 2..];
        let (kind, name) = match tag.chars().next() {
            Some('#') => ('#', tag[1..].trim()),
            Some('/') => ('/', tag[1..].trim()),
            _ => (' ', tag),
        };
        if !VARIABLES.contains(&name) {
            return Err(TemplateError::UnknownVariable(name.to_owned()));
        }
        let value = vars.get(name).map(String::as_str).unwrap_or("");
        match kind {
            '#' => open.push((name.to_owned(), !value.trim().is_empty())),
            '/' => match open.pop() {
                Some((n, _)) if n == name => {}
                _ => return Err(TemplateError::UnexpectedClose(name.to_owned())),
            },
            _ => {
                if keep {
                    out.push_str(value);
                }
            }
        }
    }
    if let Some((name, _)) = open.pop() {
        return Err(TemplateError::Unclosed(name));
    }
    out.push_str(rest);
    Ok(out)
}

enum Block {
    Heading(String),
    Bullets(Vec<String>),
    Code(String),
    Paragraph(Vec<String>),
}

fn blocks(markup: &str) -> Vec<Block> {
    let mut out = Vec::new();
    let mut lines = markup.lines().peekable();
    while let Some(line) = lines.next() {
        let t = line.trim_end();
        if t.trim().is_empty() {
            continue;
        }
        if t.starts_with("```") {
            let mut code = Vec::new();
            for l in lines.by_ref() {
                if l.trim_end().starts_with("```") {
                    break;
                }
                code.push(l);
            }
            out.push(Block::Code(code.join("\n")));
        } else if let Some(h) = t.strip_prefix("## ") {
            out.push(Block::Heading(h.trim().to_owned()));
        } else if let Some(b) = t.strip_prefix("- ") {
            let mut items = vec![b.to_owned()];
            while let Some(n) = lines.peek().and_then(|l| l.trim_end().strip_prefix("- ")) {
                items.push(n.to_owned());
                lines.next();
            }
            out.push(Block::Bullets(items));
        } else {
            let mut para = vec![t.to_owned()];
            while let Some(n) = lines.peek() {
                let n = n.trim_end();
                if n.trim().is_empty()
                    || n.starts_with("```")
                    || n.starts_with("## ")
                    || n.starts_with("- ")
                {
                    break;
                }
                para.push(n.to_owned());
                lines.next();
            }
            out.push(Block::Paragraph(para));
        }
    }
    out
}

fn adf_text(s: &str) -> Vec<Value> {
    // URLs become links, so people can click through to the finding.
    let mut nodes = Vec::new();
    let mut words = String::new();
    for (i, part) in s.split(' ').enumerate() {
        if i > 0 {
            words.push(' ');
        }
        if part.starts_with("https://") || part.starts_with("http://") {
            if !words.is_empty() {
                nodes.push(json!({"type": "text", "text": std::mem::take(&mut words)}));
            }
            nodes.push(json!({"type": "text", "text": part,
                "marks": [{"type": "link", "attrs": {"href": part}}]}));
        } else {
            words.push_str(part);
        }
    }
    if !words.is_empty() {
        nodes.push(json!({"type": "text", "text": words}));
    }
    nodes
}

/// Markup as an ADF document.
pub fn to_adf(markup: &str) -> Value {
    let content: Vec<Value> = blocks(markup)
        .into_iter()
        .map(|b| match b {
            Block::Heading(h) => {
                json!({"type": "heading", "attrs": {"level": 2}, "content": adf_text(&h)})
            }
            Block::Bullets(items) => {
                json!({"type": "bulletList", "content": items.iter().map(|i| json!({
                "type": "listItem",
                "content": [{"type": "paragraph", "content": adf_text(i)}],
            })).collect::<Vec<_>>()})
            }
            Block::Code(c) => {
                if c.is_empty() {
                    json!({"type": "codeBlock"})
                } else {
                    json!({"type": "codeBlock", "content": [{"type": "text", "text": c}]})
                }
            }
            Block::Paragraph(lines) => {
                let mut content = Vec::new();
                for (i, l) in lines.iter().enumerate() {
                    if i > 0 {
                        content.push(json!({"type": "hardBreak"}));
                    }
                    content.extend(adf_text(l));
                }
                json!({"type": "paragraph", "content": content})
            }
        })
        .collect();
    json!({"type": "doc", "version": 1, "content": content})
}

/// Wiki markup's special characters in plain text, escaped.
fn wiki_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '{' | '}' | '[' | ']' | '*' | '_' | '|' | '^' | '~' | '!') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Markup as Jira wiki text.
pub fn to_wiki(markup: &str) -> String {
    let mut out = Vec::new();
    for b in blocks(markup) {
        out.push(match b {
            Block::Heading(h) => format!("h2. {}", wiki_escape(&h)),
            Block::Bullets(items) => items
                .iter()
                .map(|i| format!("* {}", wiki_escape(i)))
                .collect::<Vec<_>>()
                .join("\n"),
            // `{code}` content is literal; only a closing tag inside would end it early.
            Block::Code(c) => format!("{{code}}\n{}\n{{code}}", c.replace("{code}", "{ code}")),
            Block::Paragraph(lines) => lines
                .iter()
                .map(|l| wiki_escape(l))
                .collect::<Vec<_>>()
                .join("\n"),
        });
    }
    out.join("\n\n")
}

/// Which representation to produce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Adf,
    Wiki,
}

fn render_once(
    template: &str,
    vars: &BTreeMap<&str, String>,
    format: Format,
) -> Result<(RichText, usize), TemplateError> {
    let markup = expand(template, vars)?;
    Ok(match format {
        Format::Adf => {
            let doc = to_adf(&markup);
            let len = serde_json::to_string(&doc)
                .map(|s| s.chars().count())
                .unwrap_or(0);
            (RichText::Adf(doc), len)
        }
        Format::Wiki => {
            let text = to_wiki(&markup);
            let len = text.chars().count();
            (RichText::Wiki(text), len)
        }
    })
}

const TRUNCATED: &str = "… [truncated; the full text is in Verdict]";

fn shorten(s: &str, keep_chars: usize) -> String {
    let mut out: String = s.chars().take(keep_chars).collect();
    out.push_str(TRUNCATED);
    out
}

/// Renders `template` with `vars`, shortening the longest values (snippet, description, …)
/// until the result fits [`MAX_RENDERED_CHARS`]. Returns the text and whether it was cut.
pub fn render(
    template: &str,
    vars: &BTreeMap<&str, String>,
    format: Format,
) -> Result<(RichText, bool), TemplateError> {
    let mut vars = vars.clone();
    let mut cut = false;
    for _ in 0..64 {
        let (text, len) = render_once(template, &vars, format)?;
        if len <= MAX_RENDERED_CHARS {
            return Ok((text, cut));
        }
        cut = true;
        let over = len - MAX_RENDERED_CHARS;
        let (name, value) = vars
            .iter()
            .max_by_key(|(_, v)| v.chars().count())
            .map(|(k, v)| (*k, v.clone()))
            .expect("a template over the limit has variables");
        let n = value.chars().count();
        if n <= TRUNCATED.chars().count() * 2 {
            break;
        }
        // Escaping/JSON can make a character cost more than one: cut generously.
        let keep = n.saturating_sub(over * 2 + 64).min(n / 2 + n / 4);
        vars.insert(name, shorten(&value, keep));
    }
    // Only the template's own text is left too long: cut the markup itself.
    let markup = expand(template, &vars)?;
    let mut keep = markup.chars().count();
    loop {
        keep = keep * 3 / 4;
        let short = shorten(&markup, keep);
        let (text, len) = match format {
            Format::Adf => {
                let d = to_adf(&short);
                let l = serde_json::to_string(&d)
                    .map(|s| s.chars().count())
                    .unwrap_or(0);
                (RichText::Adf(d), l)
            }
            Format::Wiki => {
                let w = to_wiki(&short);
                let l = w.chars().count();
                (RichText::Wiki(w), l)
            }
        };
        if len <= MAX_RENDERED_CHARS || keep == 0 {
            return Ok((text, true));
        }
    }
}

/// A summary that fits Jira's limit, on one line.
pub fn summary(title: &str) -> String {
    let one_line: String = title.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() <= MAX_SUMMARY_CHARS {
        return one_line;
    }
    let mut s: String = one_line.chars().take(MAX_SUMMARY_CHARS - 1).collect();
    s.push('…');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&'static str, &str)]) -> BTreeMap<&'static str, String> {
        pairs.iter().map(|(k, v)| (*k, v.to_string())).collect()
    }

    #[test]
    fn substitutes_and_drops_empty_sections() {
        let t = "A {{title}}{{#score}} scored {{score}}{{/score}}.";
        assert_eq!(expand(t, &vars(&[("title", "x")])).unwrap(), "A x.");
        assert_eq!(
            expand(t, &vars(&[("title", "x"), ("score", "9.1")])).unwrap(),
            "A x scored 9.1."
        );
        assert_eq!(
            validate("{{nope}}"),
            Err(TemplateError::UnknownVariable("nope".into()))
        );
        assert_eq!(
            validate("{{#title}}x"),
            Err(TemplateError::Unclosed("title".into()))
        );
        assert_eq!(
            validate("x{{/title}}"),
            Err(TemplateError::UnexpectedClose("title".into()))
        );
        validate(FULL).unwrap();
        validate(LIMITED).unwrap();
    }

    #[test]
    fn renders_adf_and_wiki() {
        let v = vars(&[
            ("title", "SQL injection"),
            ("severity", "high"),
            ("snippet", "q = \"select * from t where id=\" + id"),
            ("finding_url", "https://verdict.example/f/1"),
            ("external_id", "ext-1"),
        ]);
        let (adf, cut) = render(FULL, &v, Format::Adf).unwrap();
        assert!(!cut);
        let RichText::Adf(doc) = adf else { panic!() };
        let kinds: Vec<&str> = doc["content"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["type"].as_str().unwrap())
            .collect();
        assert_eq!(kinds, ["heading", "bulletList", "codeBlock", "paragraph"]);
        assert!(
            doc.to_string()
                .contains("\"href\":\"https://verdict.example/f/1\"")
        );
        let (wiki, _) = render(FULL, &v, Format::Wiki).unwrap();
        let RichText::Wiki(w) = wiki else { panic!() };
        assert!(
            w.starts_with("h2. SQL injection\n\n* Severity: high"),
            "{w}"
        );
        assert!(
            w.contains("{code}\nq = \"select * from t where id=\" + id\n{code}"),
            "{w}"
        );
    }

    #[test]
    fn truncates_below_jiras_limit() {
        let big = "x\"<>{}".repeat(20_000);
        let v = vars(&[("title", "t"), ("snippet", &big), ("description", &big)]);
        for f in [Format::Adf, Format::Wiki] {
            let (text, cut) = render(FULL, &v, f).unwrap();
            assert!(cut);
            let len = match &text {
                RichText::Adf(d) => serde_json::to_string(d).unwrap().chars().count(),
                RichText::Wiki(w) => w.chars().count(),
            };
            assert!(len <= MAX_RENDERED_CHARS, "{len}");
            assert!(format!("{text:?}").contains("truncated"));
        }
        assert_eq!(summary(&"a".repeat(300)).chars().count(), 255);
        assert_eq!(summary("two\nlines"), "two lines");
    }
}
