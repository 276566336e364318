//! Finding phrases in text, for rules: the host's `find-phrases` (contract 1.2.0) and its
//! native twin. In wasm the host does the work in native code, where an interpreter's own
//! string search costs QuickJS ~100 instructions per character; natively (tests, the server's
//! implementation of the host function) this module does it.
//!
//! A phrase matches as whole words, in any case, with any run of whitespace matching one
//! space: `"risk accepted"` is in `"The RISK\n accepted."` but not in `"risk acceptedness"`.
//! Only letters and digits make words (`char::is_alphanumeric`), so a phrase that starts or
//! ends with punctuation (`"?"`, `"n't"`) needs no word edge on that side. Every occurrence
//! of every phrase is reported, overlapping ones too.

use serde::{Deserialize, Serialize};

/// Where a phrase was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct PhraseMatch {
    /// Index of the text in the list searched.
    pub text: u32,
    /// Characters (Unicode scalar values) of the text before the match.
    pub offset: u32,
    /// Index of the phrase in the list searched.
    pub phrase: u32,
    /// Words (runs of letters and digits) that end before the match: a match two words after
    /// another one has a `word` two more than that one's last word.
    pub word: u32,
}

/// The most phrases one call may search for.
pub const MAX_PHRASES: usize = 1_000;
/// The most matches one call may return.
pub const MAX_MATCHES: usize = 10_000;

/// Why a search was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FindError {
    TooManyPhrases(usize),
    TooManyMatches,
}

impl std::fmt::Display for FindError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FindError::TooManyPhrases(n) => {
                write!(f, "find-phrases: {n} phrases, at most {MAX_PHRASES}")
            }
            FindError::TooManyMatches => write!(
                f,
                "find-phrases: more than {MAX_MATCHES} matches (search fewer texts or longer phrases)"
            ),
        }
    }
}

impl std::error::Error for FindError {}

/// Text as it is compared: lowercased per character, whitespace runs as one space; with the
/// original character index of each position and the words that ended before it.
struct Normalised {
    chars: Vec<char>,
    origin: Vec<u32>,
    words_before: Vec<u32>,
}

fn normalise(text: &str) -> Normalised {
    let mut chars = Vec::with_capacity(text.len());
    let mut origin = Vec::with_capacity(text.len());
    let mut in_space = false;
    for (i, c) in text.chars().enumerate() {
        if c.is_whitespace() {
            if !in_space {
                chars.push(' ');
                origin.push(i as u32);
            }
            in_space = true;
            continue;
        }
        in_space = false;
        for l in c.to_lowercase() {
            chars.push(l);
            origin.push(i as u32);
        }
    }
    let mut words_before = Vec::with_capacity(chars.len());
    let (mut words, mut in_word) = (0u32, false);
    for c in &chars {
        let word = c.is_alphanumeric();
        if in_word && !word {
            words += 1;
        }
        in_word = word;
        words_before.push(words);
    }
    Normalised {
        chars,
        origin,
        words_before,
    }
}

/// A phrase as it is compared: normalised like text, without surrounding whitespace.
fn phrase_chars(phrase: &str) -> Vec<char> {
    let mut chars = normalise(phrase.trim()).chars;
    chars.shrink_to_fit();
    chars
}

/// The fuel the host charges for one search, before doing it: about one unit per 16
/// character comparisons the search could make at worst (every phrase compared in full at
/// every position), so a rule cannot buy unmetered native work.
pub fn cost(texts: &[String], phrases: &[String]) -> u64 {
    let text_bytes: u64 = texts.iter().map(|t| t.len() as u64 + 1).sum();
    let phrase_bytes: u64 = phrases.iter().map(|p| p.len() as u64 + 1).sum();
    text_bytes.saturating_mul(phrase_bytes) / 16 + text_bytes + phrase_bytes
}

/// Every place each phrase is said in each text, ordered by text, offset and phrase. An empty
/// phrase matches nothing.
pub fn find_phrases(texts: &[String], phrases: &[String]) -> Result<Vec<PhraseMatch>, FindError> {
    if phrases.len() > MAX_PHRASES {
        return Err(FindError::TooManyPhrases(phrases.len()));
    }
    // Phrases by their first character: each position of a text is compared only with the
    // phrases that can start there.
    let wanted: Vec<Vec<char>> = phrases.iter().map(|p| phrase_chars(p)).collect();
    let mut by_first: std::collections::HashMap<char, Vec<usize>> = Default::default();
    for (p, phrase) in wanted.iter().enumerate() {
        if let Some(&first) = phrase.first() {
            by_first.entry(first).or_default().push(p);
        }
    }
    let mut found = Vec::new();
    for (t, text) in texts.iter().enumerate() {
        let n = normalise(text);
        let len = n.chars.len();
        for at in 0..len {
            let Some(candidates) = by_first.get(&n.chars[at]) else {
                continue;
            };
            let word_before = at > 0 && n.chars[at - 1].is_alphanumeric();
            for &p in candidates {
                let phrase = &wanted[p];
                let end = at + phrase.len();
                if end > len || n.chars[at..end] != phrase[..] {
                    continue;
                }
                if word_before && phrase[0].is_alphanumeric() {
                    continue;
                }
                let last = phrase[phrase.len() - 1];
                if end < len && last.is_alphanumeric() && n.chars[end].is_alphanumeric() {
                    continue;
                }
                if found.len() == MAX_MATCHES {
                    return Err(FindError::TooManyMatches);
                }
                found.push(PhraseMatch {
                    text: t as u32,
                    offset: n.origin[at],
                    phrase: p as u32,
                    word: n.words_before[at],
                });
            }
        }
    }
    found.sort();
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn find(texts: &[&str], phrases: &[&str]) -> Vec<(u32, u32, u32, u32)> {
        let texts: Vec<String> = texts.iter().map(|s| s.to_string()).collect();
        let phrases: Vec<String> = phrases.iter().map(|s| s.to_string()).collect();
        find_phrases(&texts, &phrases)
            .unwrap()
            .into_iter()
            .map(|m| (m.text, m.offset, m.phrase, m.word))
            .collect()
    }

    #[test]
    fn the_shared_cases_hold() {
        let cases: Vec<serde_json::Value> =
            serde_json::from_str(include_str!("../tests/find-phrases.json")).unwrap();
        for case in cases {
            let texts: Vec<String> = serde_json::from_value(case["texts"].clone()).unwrap();
            let phrases: Vec<String> = serde_json::from_value(case["phrases"].clone()).unwrap();
            let expected: Vec<PhraseMatch> =
                serde_json::from_value(case["matches"].clone()).unwrap();
            assert_eq!(
                find_phrases(&texts, &phrases).unwrap(),
                expected,
                "{}",
                case["name"]
            );
        }
    }

    #[test]
    fn words_and_offsets_count_what_is_before_the_match() {
        assert_eq!(
            find(&["It is NOT  really fixed."], &["fixed", "not"]),
            vec![(0, 6, 1, 2), (0, 18, 0, 4)]
        );
    }

    #[test]
    fn limits_are_named() {
        let many: Vec<String> = (0..=MAX_PHRASES).map(|i| i.to_string()).collect();
        assert_eq!(
            find_phrases(&[], &many),
            Err(FindError::TooManyPhrases(MAX_PHRASES + 1))
        );
        let text = vec!["a ".repeat(MAX_MATCHES + 1)];
        assert_eq!(
            find_phrases(&text, &["a".to_string()]),
            Err(FindError::TooManyMatches)
        );
    }
}
