//! A CQL subset for Confluence search: `text ~`, `title ~`, `label =`, `space =`, `type =`,
//! joined by `AND`.

use crate::model::Page;

#[derive(Debug)]
pub struct Cql {
    clauses: Vec<(String, String, String)>,
}

pub fn parse(cql: &str) -> Result<Cql, String> {
    let mut clauses = Vec::new();
    for part in split_and(cql) {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        let (field, op, value) = if let Some((f, v)) = part.split_once('~') {
            (f, "~", v)
        } else if let Some((f, v)) = part.split_once('=') {
            (f, "=", v)
        } else {
            return Err(format!("Could not parse cql : {cql}"));
        };
        let field = field.trim().to_ascii_lowercase();
        if !["text", "title", "label", "space", "type"].contains(&field.as_str()) {
            return Err(format!(
                "Could not parse cql : {cql} (unsupported field `{field}`)"
            ));
        }
        let value = value.trim().trim_matches('"').trim_matches('\'').to_owned();
        clauses.push((field, op.to_owned(), value));
    }
    if clauses.is_empty() {
        return Err("CQL query must not be empty".into());
    }
    Ok(Cql { clauses })
}

fn split_and(s: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut current = String::new();
    let mut in_quotes = false;
    let words: Vec<&str> = s.split(' ').collect();
    for w in words {
        let quotes = w.matches('"').count();
        if !in_quotes && w.eq_ignore_ascii_case("and") {
            parts.push(std::mem::take(&mut current));
            continue;
        }
        if quotes % 2 == 1 {
            in_quotes = !in_quotes;
        }
        if !current.is_empty() {
            current.push(' ');
        }
        current.push_str(w);
    }
    parts.push(current);
    parts
}

impl Cql {
    pub fn matches(&self, page: &Page) -> bool {
        self.clauses.iter().all(|(field, op, value)| {
            let v = value.to_lowercase();
            match (field.as_str(), op.as_str()) {
                ("text", "~") => {
                    page.title.to_lowercase().contains(&v) || page.body.to_lowercase().contains(&v)
                }
                ("title", "~") => page.title.to_lowercase().contains(&v),
                ("title", "=") => page.title.eq_ignore_ascii_case(value),
                ("label", _) => page.labels.iter().any(|l| l.eq_ignore_ascii_case(value)),
                ("space", _) => page.space_key.eq_ignore_ascii_case(value),
                ("type", _) => v == "page",
                _ => false,
            }
        })
    }
}
