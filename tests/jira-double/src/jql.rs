//! A JQL subset over the double's issues: `project`, `key`/`issuekey`, `status`,
//! `statusCategory`, `labels`, `resolution`, `issuetype`, `assignee`, `reporter`, `updated`,
//! `created`, `summary ~`, `text ~`, `issue.property[key].path`, with `AND`/`OR`, parentheses,
//! `=`, `!=`, `~`, `IN`, `NOT IN`, `IS [NOT] EMPTY`, `<`/`<=`/`>`/`>=`, and `ORDER BY`.
//! Like enhanced search, a query with no restriction is refused.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde_json::Value;

use crate::model::{Issue, Site};

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(String),
    Str(String),
    Op(String),
    LParen,
    RParen,
    Comma,
}

fn lex(input: &str) -> Result<Vec<Tok>, String> {
    let mut out = Vec::new();
    let chars: Vec<char> = input.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            ' ' | '\t' | '\n' | '\r' => i += 1,
            '(' => {
                out.push(Tok::LParen);
                i += 1
            }
            ')' => {
                out.push(Tok::RParen);
                i += 1
            }
            ',' => {
                out.push(Tok::Comma);
                i += 1
            }
            '"' | '\'' => {
                let quote = c;
                let mut s = String::new();
                i += 1;
                while i < chars.len() && chars[i] != quote {
                    if chars[i] == '\\' && i + 1 < chars.len() {
                        i += 1;
                    }
                    s.push(chars[i]);
                    i += 1;
                }
                if i >= chars.len() {
                    return Err("unterminated string in JQL".into());
                }
                i += 1;
                out.push(Tok::Str(s));
            }
            '=' | '!' | '<' | '>' | '~' => {
                let mut op = c.to_string();
                if i + 1 < chars.len() && (chars[i + 1] == '=' || (c == '!' && chars[i + 1] == '~'))
                {
                    op.push(chars[i + 1]);
                    i += 1;
                }
                i += 1;
                out.push(Tok::Op(op));
            }
            _ => {
                let mut s = String::new();
                while i < chars.len() && !" \t\n\r(),=!<>~\"'".contains(chars[i]) {
                    s.push(chars[i]);
                    i += 1;
                }
                // `issue.property[key].path` keeps its brackets in the word.
                out.push(Tok::Word(s));
            }
        }
    }
    Ok(out)
}

#[derive(Debug, Clone)]
enum Expr {
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Clause {
        field: String,
        op: String,
        values: Vec<String>,
    },
}

#[derive(Debug, Clone)]
pub struct Query {
    expr: Option<Expr>,
    order: Vec<(String, bool)>,
}

struct Parser {
    toks: Vec<Tok>,
    pos: usize,
}

impl Parser {
    fn peek_word(&self, w: &str) -> bool {
        matches!(self.toks.get(self.pos), Some(Tok::Word(x)) if x.eq_ignore_ascii_case(w))
    }
    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.pos).cloned();
        self.pos += 1;
        t
    }
    fn or(&mut self) -> Result<Expr, String> {
        let mut left = self.and()?;
        while self.peek_word("OR") {
            self.pos += 1;
            left = Expr::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }
    fn and(&mut self) -> Result<Expr, String> {
        let mut left = self.atom()?;
        while self.peek_word("AND") {
            self.pos += 1;
            left = Expr::And(Box::new(left), Box::new(self.atom()?));
        }
        Ok(left)
    }
    fn value(&mut self) -> Result<String, String> {
        match self.next() {
            Some(Tok::Word(w)) | Some(Tok::Str(w)) => Ok(w),
            other => Err(format!("expected a value, found {other:?}")),
        }
    }
    fn atom(&mut self) -> Result<Expr, String> {
        if matches!(self.toks.get(self.pos), Some(Tok::LParen)) {
            self.pos += 1;
            let e = self.or()?;
            if self.next() != Some(Tok::RParen) {
                return Err("expected `)`".into());
            }
            return Ok(e);
        }
        let field = match self.next() {
            Some(Tok::Word(w)) | Some(Tok::Str(w)) => w,
            other => return Err(format!("expected a field, found {other:?}")),
        };
        let op = match self.next() {
            Some(Tok::Op(o)) => o,
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case("in") => "in".into(),
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case("not") => {
                if self.peek_word("in") {
                    self.pos += 1;
                    "not in".into()
                } else {
                    return Err("expected IN after NOT".into());
                }
            }
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case("is") => {
                if self.peek_word("not") {
                    self.pos += 1;
                    "is not".into()
                } else {
                    "is".into()
                }
            }
            other => {
                return Err(format!(
                    "expected an operator after `{field}`, found {other:?}"
                ));
            }
        };
        let values = if op == "in" || op == "not in" {
            if self.next() != Some(Tok::LParen) {
                return Err("expected `(` after IN".into());
            }
            let mut vs = vec![self.value()?];
            loop {
                match self.next() {
                    Some(Tok::Comma) => vs.push(self.value()?),
                    Some(Tok::RParen) => break,
                    other => return Err(format!("expected `,` or `)`, found {other:?}")),
                }
            }
            vs
        } else {
            vec![self.value()?]
        };
        Ok(Expr::Clause {
            field: field.to_ascii_lowercase(),
            op,
            values,
        })
    }
}

/// The message enhanced search gives for a query without a restriction.
pub const UNBOUNDED: &str =
    "Unbounded JQL queries are not allowed here. Please add a search restriction to your query.";

pub fn parse(jql: &str) -> Result<Query, String> {
    let toks = lex(jql)?;
    let order_at = toks.windows(2).position(|w| {
        matches!((&w[0], &w[1]), (Tok::Word(a), Tok::Word(b)) if a.eq_ignore_ascii_case("order") && b.eq_ignore_ascii_case("by"))
    });
    let (where_toks, order_toks) = match order_at {
        Some(at) => (toks[..at].to_vec(), toks[at + 2..].to_vec()),
        None => (toks, Vec::new()),
    };
    let expr = if where_toks.is_empty() {
        None
    } else {
        let mut p = Parser {
            toks: where_toks,
            pos: 0,
        };
        let e = p.or()?;
        if p.pos < p.toks.len() {
            return Err(format!("unexpected {:?}", p.toks[p.pos]));
        }
        Some(e)
    };
    let mut order = Vec::new();
    let mut it = order_toks.into_iter().peekable();
    while let Some(t) = it.next() {
        let Tok::Word(field) = t else { continue };
        let desc = match it.peek() {
            Some(Tok::Word(d)) if d.eq_ignore_ascii_case("desc") => {
                it.next();
                true
            }
            Some(Tok::Word(a)) if a.eq_ignore_ascii_case("asc") => {
                it.next();
                false
            }
            _ => false,
        };
        order.push((field.to_ascii_lowercase(), desc));
        if matches!(it.peek(), Some(Tok::Comma)) {
            it.next();
        }
    }
    if order.len() > 7 {
        return Err("At most 7 ORDER BY fields are allowed.".into());
    }
    Ok(Query { expr, order })
}

impl Query {
    pub fn is_bounded(&self) -> bool {
        self.expr.is_some()
    }

    /// Fields used by the query (for dynamic webhooks' JQL restrictions).
    pub fn fields(&self) -> Vec<(String, String)> {
        fn walk(e: &Expr, out: &mut Vec<(String, String)>) {
            match e {
                Expr::And(a, b) | Expr::Or(a, b) => {
                    walk(a, out);
                    walk(b, out);
                }
                Expr::Clause { field, op, .. } => out.push((field.clone(), op.clone())),
            }
        }
        let mut out = Vec::new();
        if let Some(e) = &self.expr {
            walk(e, &mut out);
        }
        out
    }

    pub fn uses_or(&self) -> bool {
        fn walk(e: &Expr) -> bool {
            match e {
                Expr::Or(..) => true,
                Expr::And(a, b) => walk(a) || walk(b),
                Expr::Clause { .. } => false,
            }
        }
        self.expr.as_ref().is_some_and(walk)
    }

    pub fn matches(&self, site: &Site, issue: &Issue, now: DateTime<Utc>) -> Result<bool, String> {
        match &self.expr {
            Some(e) => eval(e, site, issue, now),
            None => Ok(true),
        }
    }

    /// The site's issues this query finds, in its order.
    pub fn find<'a>(&self, site: &'a Site, now: DateTime<Utc>) -> Result<Vec<&'a Issue>, String> {
        let mut hits = Vec::new();
        for i in site.issues.values() {
            if self.matches(site, i, now)? {
                hits.push(i);
            }
        }
        self.sort(&mut hits);
        Ok(hits)
    }

    pub fn sort(&self, issues: &mut [&Issue]) {
        let order = if self.order.is_empty() {
            vec![("key".to_owned(), true)]
        } else {
            self.order.clone()
        };
        issues.sort_by(|a, b| {
            for (field, desc) in &order {
                let ord = match field.as_str() {
                    "updated" => a.updated.cmp(&b.updated),
                    "created" => a.created.cmp(&b.created),
                    "key" | "issuekey" | "id" => {
                        a.id.parse::<u64>()
                            .unwrap_or(0)
                            .cmp(&b.id.parse::<u64>().unwrap_or(0))
                    }
                    "summary" => a.summary.cmp(&b.summary),
                    _ => std::cmp::Ordering::Equal,
                };
                let ord = if *desc { ord.reverse() } else { ord };
                if ord != std::cmp::Ordering::Equal {
                    return ord;
                }
            }
            std::cmp::Ordering::Equal
        });
    }
}

fn parse_time(v: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, String> {
    let v = v.trim();
    if let Some(rel) = v.strip_prefix('-').or_else(|| v.strip_prefix('+')) {
        let sign = if v.starts_with('-') { -1 } else { 1 };
        let (num, unit) = rel.split_at(rel.len() - 1);
        let n: i64 = num
            .parse()
            .map_err(|_| format!("invalid relative date `{v}`"))?;
        let d = match unit {
            "m" => Duration::minutes(n),
            "h" => Duration::hours(n),
            "d" => Duration::days(n),
            "w" => Duration::weeks(n),
            _ => return Err(format!("invalid relative date `{v}`")),
        };
        return Ok(now + d * sign);
    }
    for fmt in ["%Y-%m-%d %H:%M", "%Y/%m/%d %H:%M"] {
        if let Ok(t) = chrono::NaiveDateTime::parse_from_str(v, fmt) {
            return Ok(t.and_utc());
        }
    }
    for fmt in ["%Y-%m-%d", "%Y/%m/%d"] {
        if let Ok(d) = NaiveDate::parse_from_str(v, fmt) {
            return Ok(d.and_hms_opt(0, 0, 0).expect("midnight").and_utc());
        }
    }
    Err(format!("Date value '{v}' for field 'updated' is invalid."))
}

fn eval(e: &Expr, site: &Site, i: &Issue, now: DateTime<Utc>) -> Result<bool, String> {
    match e {
        Expr::And(a, b) => Ok(eval(a, site, i, now)? && eval(b, site, i, now)?),
        Expr::Or(a, b) => Ok(eval(a, site, i, now)? || eval(b, site, i, now)?),
        Expr::Clause { field, op, values } => clause(field, op, values, site, i, now),
    }
}

fn clause(
    field: &str,
    op: &str,
    values: &[String],
    site: &Site,
    i: &Issue,
    now: DateTime<Utc>,
) -> Result<bool, String> {
    let eq = |candidates: &[String]| -> bool {
        values
            .iter()
            .any(|v| candidates.iter().any(|c| c.eq_ignore_ascii_case(v)))
    };
    let set_op = |candidates: Vec<String>| -> Result<bool, String> {
        let empty = candidates.is_empty();
        match op {
            "=" | "in" => Ok(eq(&candidates)),
            "!=" | "not in" => Ok(!eq(&candidates)),
            "is" if values[0].eq_ignore_ascii_case("empty")
                || values[0].eq_ignore_ascii_case("null") =>
            {
                Ok(empty)
            }
            "is not"
                if values[0].eq_ignore_ascii_case("empty")
                    || values[0].eq_ignore_ascii_case("null") =>
            {
                Ok(!empty)
            }
            _ => Err(format!(
                "The operator '{op}' is not supported by the '{field}' field."
            )),
        }
    };
    let text_op = |text: &str| -> Result<bool, String> {
        let t = text.to_lowercase();
        let hit = values
            .iter()
            .any(|v| t.contains(&v.to_lowercase().trim_matches('*').to_owned()));
        match op {
            "~" => Ok(hit),
            "!~" => Ok(!hit),
            _ => Err(format!(
                "The operator '{op}' is not supported by the '{field}' field."
            )),
        }
    };
    let wf = site.workflow_of(i);
    let status = wf.status(&i.status).expect("status");
    match field {
        "project" => {
            let p = &site.projects[&i.project_key];
            set_op(vec![p.key.clone(), p.id.clone(), p.name.clone()])
        }
        "key" | "issuekey" | "id" => set_op(vec![i.key.clone(), i.id.clone()]),
        "status" => set_op(vec![status.name.clone(), status.id.clone()]),
        "statuscategory" => set_op(vec![
            status.category.key().to_owned(),
            status.category.name().to_owned(),
            status.category.id().to_string(),
        ]),
        "labels" => set_op(i.labels.clone()),
        "resolution" => {
            let r = i.resolution.as_deref().and_then(|r| site.resolution(r));
            if values.len() == 1 && values[0].eq_ignore_ascii_case("unresolved") {
                let unresolved = r.is_none();
                return Ok(if op == "=" { unresolved } else { !unresolved });
            }
            set_op(
                r.map(|r| vec![r.name.clone(), r.id.clone()])
                    .unwrap_or_default(),
            )
        }
        "issuetype" | "type" => {
            let t = site.issue_type(&i.issue_type).expect("type");
            set_op(vec![t.name.clone(), t.id.clone()])
        }
        "assignee" => set_op(i.assignee.clone().into_iter().collect()),
        "reporter" => set_op(vec![i.reporter.clone()]),
        "summary" => text_op(&i.summary),
        "text" => {
            let mut all = i.summary.clone();
            if let Some(d) = &i.description {
                all.push(' ');
                all.push_str(&crate::adf::to_text(d));
            }
            for c in &i.comments {
                all.push(' ');
                all.push_str(&crate::adf::to_text(&c.body));
            }
            text_op(&all)
        }
        "updated" | "created" => {
            let t = if field == "updated" {
                i.updated
            } else {
                i.created
            };
            let v = parse_time(&values[0], now)?;
            match op {
                ">" => Ok(t > v),
                ">=" => Ok(t >= v),
                "<" => Ok(t < v),
                "<=" => Ok(t <= v),
                "=" => Ok(t == v),
                _ => Err(format!(
                    "The operator '{op}' is not supported by the '{field}' field."
                )),
            }
        }
        f if f.starts_with("issue.property[") => {
            // issue.property[key].path = value
            let rest = &f["issue.property[".len()..];
            let (key, path) = rest
                .split_once(']')
                .ok_or("malformed issue.property clause")?;
            let prop = i
                .properties
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(key))
                .map(|(_, v)| v);
            let mut v: Option<&Value> = prop;
            for seg in path
                .trim_start_matches('.')
                .split('.')
                .filter(|s| !s.is_empty())
            {
                v = v.and_then(|x| x.get(seg));
            }
            let found: Vec<String> = v
                .map(|x| match x {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .into_iter()
                .collect();
            set_op(found)
        }
        other => Err(format!(
            "Field '{other}' does not exist or you do not have permission to view it."
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_subset() {
        let q = parse("project = SEC AND statusCategory != done AND labels in (a, \"b c\") ORDER BY updated DESC, key").unwrap();
        assert!(q.is_bounded());
        assert_eq!(
            q.order,
            vec![("updated".into(), true), ("key".into(), false)]
        );
        assert_eq!(q.fields().len(), 3);
        assert!(!parse("order by key desc").unwrap().is_bounded());
        assert!(!parse("").unwrap().is_bounded());
        assert!(parse("project = ").is_err());
        assert!(
            parse("(project = A OR project = B) AND status = Done")
                .unwrap()
                .uses_or()
        );
    }

    #[test]
    fn relative_and_absolute_dates() {
        let now = Utc::now();
        assert!(parse_time("-1d", now).unwrap() < now);
        assert!(parse_time("2026-01-02", now).is_ok());
        assert!(parse_time("2026-01-02 10:30", now).is_ok());
        assert!(parse_time("yesterday", now).is_err());
    }
}
