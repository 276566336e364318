//! Masks secrets before text leaves Verdict for Jira or is stored (comments, rule inputs): known
//! credential formats, `key=value` assignments to secret-sounding names, private-key blocks and
//! high-entropy tokens.

use std::sync::LazyLock;

use regex::Regex;

/// What replaces a masked value.
pub const MASK: &str = "[REDACTED]";

/// What replaces a secret finding's code snippet entirely.
pub const SECRET_SNIPPET: &str =
    "[REDACTED: this finding is a secret; its snippet is kept in Verdict only]";

struct Pattern {
    name: &'static str,
    re: Regex,
    /// The capture group holding the secret (0 = the whole match).
    group: usize,
}

static PATTERNS: LazyLock<Vec<Pattern>> = LazyLock::new(|| {
    let p = |name, re: &str, group| Pattern {
        name,
        re: Regex::new(re).expect("static pattern"),
        group,
    };
    vec![
        p(
            "private-key",
            r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----[\s\S]*?(?:-----END [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----|\z)",
            0,
        ),
        p(
            "aws-access-key",
            r"\b(?:AKIA|ASIA|AGPA|AIDA|AROA)[0-9A-Z]{16}\b",
            0,
        ),
        p(
            "github-token",
            r"\b(?:gh[pousr]_[A-Za-z0-9]{30,255}|github_pat_[A-Za-z0-9_]{22,255})\b",
            0,
        ),
        p("gitlab-token", r"\bglpat-[A-Za-z0-9_\-]{20,}", 0),
        p("slack-token", r"\bxox[abposr]-[A-Za-z0-9\-]{10,}", 0),
        p(
            "stripe-key",
            r"\b(?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]{16,}\b",
            0,
        ),
        p("google-api-key", r"\bAIza[0-9A-Za-z_\-]{35}", 0),
        p(
            "jwt",
            r"\beyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}",
            0,
        ),
        p(
            "url-credentials",
            r"(?i)\b[a-z][a-z0-9+.\-]*://[^\s:/@]+:([^\s@/]{3,})@",
            1,
        ),
        p(
            "assignment",
            r#"(?i)(?:password|passwd|pwd|secret|token|api[_\-]?key|access[_\-]?key|private[_\-]?key|client[_\-]?secret|auth)[A-Za-z0-9_\-]*["']?\s*[:=]\s*["']?([^\s"',;]{6,})"#,
            1,
        ),
    ]
});

static TOKEN: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"[A-Za-z0-9+/=_\-]{24,}").expect("static pattern"));

static UUID: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
        .expect("static pattern")
});

/// Shannon entropy in bits per character.
fn entropy(s: &str) -> f64 {
    let mut counts = [0u32; 256];
    for b in s.bytes() {
        counts[b as usize] += 1;
    }
    let n = s.len() as f64;
    counts
        .iter()
        .filter(|c| **c > 0)
        .map(|c| {
            let p = f64::from(*c) / n;
            -p * p.log2()
        })
        .sum()
}

/// A random-looking credential: long, mixed letters and digits, high entropy. Identifiers
/// that are not secrets (UUIDs, hex digests, paths, words joined by dashes) stay.
fn looks_random(token: &str) -> bool {
    if UUID.is_match(token)
        || token.bytes().all(|b| b.is_ascii_hexdigit())
        || is_joined_words(token)
    {
        return false;
    }
    let upper = token.bytes().any(|b| b.is_ascii_uppercase());
    let lower = token.bytes().any(|b| b.is_ascii_lowercase());
    let digit = token.bytes().any(|b| b.is_ascii_digit());
    // Words joined by separators (`the-quick-brown-fox-jumps`) are not keys.
    let longest_alpha_run = token
        .split(|c: char| !c.is_ascii_alphabetic())
        .map(str::len)
        .max()
        .unwrap_or(0);
    upper && lower && digit && entropy(token) >= 4.0 && longest_alpha_run < token.len() * 3 / 4
}

/// Words and numbers joined by separators: a URL path (`net/wiki/spaces/SEC/pages/123456/Risk+acceptance`),
/// a title slug (`Risk-Acceptance-Record-2026`). Each part is a number or reads as a word (one
/// case, or capitalised), which a random key's parts do not (`wJalrXUtnFEMI/K7MDENG`).
fn is_joined_words(token: &str) -> bool {
    let mut parts = token
        .split(['/', '+', '-', '_', '=', '.'])
        .filter(|p| !p.is_empty())
        .peekable();
    if parts.peek().is_none() || !token.contains(['/', '+', '-', '_', '=', '.']) {
        return false;
    }
    parts.all(|p| {
        let digits = p.bytes().all(|b| b.is_ascii_digit());
        let letters = p.bytes().all(|b| b.is_ascii_alphabetic());
        let tail = &p[1..];
        let word = letters
            && (p.bytes().all(|b| b.is_ascii_lowercase())
                || p.bytes().all(|b| b.is_ascii_uppercase())
                || tail.bytes().all(|b| b.is_ascii_lowercase()));
        digits || (word && p.len() <= 20)
    })
}

/// Masks every secret in `text`; returns the masked text and how many values were masked.
pub fn mask(text: &str) -> (String, usize) {
    // A pass can make a pattern match that did not before (masking a token removes the `/`
    // that kept a URL's user part from reaching a `:password@`), so pass again until nothing
    // changes: masked text must mask to itself, since text is masked where it is stored and
    // again where it is used. Each pass that masks replaces unmasked text with masks, so this
    // ends; the bound is only a guard.
    let (mut out, mut count) = mask_once(text);
    for _ in 0..8 {
        let (again, n) = mask_once(&out);
        if n == 0 {
            break;
        }
        out = again;
        count += n;
    }
    (out, count)
}

fn mask_once(text: &str) -> (String, usize) {
    let mut out = text.to_owned();
    let mut count = 0;
    for p in PATTERNS.iter() {
        let mut next = String::with_capacity(out.len());
        let mut last = 0;
        for caps in p.re.captures_iter(&out) {
            let Some(m) = caps.get(p.group) else { continue };
            if m.as_str().contains(MASK) {
                continue;
            }
            next.push_str(&out[last..m.start()]);
            if p.group == 0 {
                next.push_str(&format!("[REDACTED:{}]", p.name));
            } else {
                next.push_str(MASK);
            }
            last = m.end();
            count += 1;
        }
        next.push_str(&out[last..]);
        out = next;
    }
    let mut next = String::with_capacity(out.len());
    let mut last = 0;
    for m in TOKEN.find_iter(&out) {
        if looks_random(m.as_str()) {
            next.push_str(&out[last..m.start()]);
            next.push_str(MASK);
            last = m.end();
            count += 1;
        }
    }
    next.push_str(&out[last..]);
    (next, count)
}

/// [`mask`] without the count.
pub fn masked(text: &str) -> String {
    mask(text).0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by the `redact` fuzz target (fuzz/regressions/redact/): the first pass masked a
    /// token holding the `/` that stopped the URL-credentials pattern, so a second masking
    /// masked more.
    #[test]
    fn masked_text_masks_to_itself() {
        let text = "https://host.example/Aq9xK2mZ/7pL4vB8nR3tY6wQ1x:s3cr3tpw@db";
        assert_eq!(
            mask_once(&mask_once(text).0).1,
            1,
            "one pass is not enough here"
        );
        let (once, n) = mask(text);
        assert!(!once.contains("s3cr3tpw"), "{once}");
        assert_eq!(n, 2, "{once}");
        assert_eq!(mask(&once), (once.clone(), 0));
        let fuzzed = include_bytes!("../../fuzz/regressions/redact/masking-twice-masked-more");
        let fuzzed = String::from_utf8_lossy(fuzzed);
        let once = masked(&fuzzed);
        assert_eq!(masked(&once), once);
    }

    #[test]
    fn masks_known_formats() {
        let cases = [
            "aws_access_key_id = AKIAIOSFODNN7EXAMPLE",
            "token ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789",
            "SLACK=xoxb-123456789012-abcdefghijkl",
            "stripe sk_live_4eC39HqLyjWDarjtT1zdp7dc",
            "key AIzaSyD-1234567890abcdefghijklmnopqrstu",
            "auth: eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
            "postgres://app:hunter2secret@db.internal:5432/prod",
            "password = \"correct horse\"",
            "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\n-----END RSA PRIVATE KEY-----",
            "secret: wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        ];
        for c in cases {
            let (m, n) = mask(c);
            assert!(n >= 1, "not masked: {c} -> {m}");
            for secret in [
                "AKIAIOSFODNN7EXAMPLE",
                "ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789",
                "sk_live_4eC39HqLyjWDarjtT1zdp7dc",
                "hunter2secret",
                "MIIEowIBAAKCAQEA",
                "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            ] {
                assert!(!m.contains(secret), "{c} -> {m}");
            }
        }
    }

    #[test]
    fn random_parts_joined_by_separators_are_still_masked() {
        for t in [
            "the key wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY leaked",
            "hook https://hooks.example.com/services/T0A1B2C3/Zx9fQ2LmP7vR4tW8yB3nK6hJ",
            "value Zx9fQ2LmP7vR4tW8-yB3nK6hJ1sD5gA0c",
        ] {
            let (m, n) = mask(t);
            assert!(n >= 1 && m.contains(MASK), "not masked: {t} -> {m}");
        }
    }

    #[test]
    fn masks_unknown_high_entropy_tokens() {
        let (m, n) = mask("the value Zx9fQ2LmP7vR4tW8yB3nK6hJ1sD5gA0c was committed");
        assert_eq!(n, 1, "{m}");
        assert!(m.contains("the value [REDACTED] was committed"));
    }

    #[test]
    fn leaves_ordinary_text_alone() {
        for t in [
            "SQL injection in src/main/java/com/example/UserRepository.java line 42",
            "finding 0192b5a4-7c1e-7d2e-9b3a-123456789abc, commit 3f786850e387550fdab836ed7e6dc881de23001b",
            "https://verdict.example.com/api/v1/findings/0192b5a4-7c1e-7d2e-9b3a-123456789abc",
            "CWE-79: Improper Neutralization of Input During Web Page Generation",
            "labels: verdict-finding-0192b5a4-7c1e-7d2e-9b3a-123456789abc severity-high",
            "Use parameterised queries (PreparedStatement) instead of concatenation.",
            "Accepted, see https://acme.atlassian.net/wiki/spaces/SEC/pages/123456/Risk+acceptance+APP-12",
            "record: https://acme.atlassian.net/wiki/spaces/SEC/pages/98765/Risk-Acceptance-Record-2026",
            "http://127.0.0.1:4567/wiki/spaces/SEC/pages/1001",
        ] {
            let (m, n) = mask(t);
            assert_eq!((m.as_str(), n), (t, 0));
        }
    }
}
