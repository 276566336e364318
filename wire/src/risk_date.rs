//! The date a risk was accepted until, read from a closing thread ("accepted until 2027-06-30",
//! "befristet bis 30.06.2027", "2027年6月30日まで"): a written date next to an "until" word in one
//! of the languages the default policy reads. Only future dates count; unclear ones are left.

pub use chrono::NaiveDate;
use regex::Regex;
use std::sync::LazyLock;

/// An explicit acceptance date is used at most this far ahead.
pub const MAX_DAYS_AHEAD: i64 = 3650;

/// Words that, just before a date, make it the end of something.
const CUES_BEFORE: &[&str] = &[
    "until",
    "till",
    "through",
    "thru",
    "expires",
    "expiring",
    "expiry",
    "expiration",
    "valid to",
    "valid through",
    "review by",
    "review on",
    "revisit",
    "re-evaluate",
    "reassess",
    "re-assess",
    "deadline",
    "bis",
    "bis zum",
    "befristet",
    "gültig bis",
    "hasta",
    "hasta el",
    "vence",
    "jusqu'au",
    "jusqu’au",
    "jusqu'à",
    "jusqu’à",
    "expire le",
    "até",
    "ate",
    "válido até",
    "fino al",
    "fino a",
    "scade",
    "entro il",
    "tot",
    "t/m",
    "geldig tot",
    "do",
    "ważne do",
    "till och med",
    "t.o.m.",
    "fram till",
    "giltig till",
    "gültig",
    "期限",
    "截止",
    "到期",
    "有效期至",
    "直到",
    "기한",
];
/// Words that, just after a date, make it the end of something (Japanese, Korean, Chinese,
/// Turkish put them after).
const CUES_AFTER: &[&str] = &[
    "まで",
    "까지",
    "为止",
    "為止",
    "前",
    "kadar",
    "'e kadar",
    "tarihine kadar",
];

static DATES: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r"(?P<iso>(?-u:\b)(?P<iy>20\d\d)[-/](?P<im>\d{1,2})[-/](?P<id>\d{1,2})(?-u:\b))",
        r"|(?P<dot>(?-u:\b)(?P<dd>\d{1,2})\.(?P<dm>\d{1,2})\.(?P<dy>20\d\d)(?-u:\b))",
        r"|(?P<cjk>(?P<cy>20\d\d)\s*[年년]\s*(?P<cm>\d{1,2})\s*[月월]\s*(?P<cd>\d{1,2})\s*[日일]?)",
    ))
    .expect("date pattern")
});

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric()
}

/// Whether `window` (text just before a date, lowercased) ends with a cue, as a word.
fn ends_with_cue(window: &str) -> bool {
    let w = window
        .trim_end_matches(|c: char| c.is_whitespace() || matches!(c, ':' | ',' | '(' | '"'))
        .trim_end_matches(" the")
        .trim_end_matches(" el")
        .trim_end_matches(" le")
        .trim_end_matches(" den")
        .trim_end_matches(" dem");
    CUES_BEFORE.iter().any(|cue| {
        // Latin cues are whole words ("todo" is not "do"); CJK ones run into their neighbours.
        let latin = cue.chars().next().is_some_and(|c| (c as u32) < 0x2E80);
        w.ends_with(cue)
            && (!latin
                || w[..w.len() - cue.len()]
                    .chars()
                    .next_back()
                    .is_none_or(|c| !is_word_char(c)))
    })
}

fn starts_with_cue(window: &str) -> bool {
    let w = window.trim_start();
    CUES_AFTER.iter().any(|cue| {
        w.starts_with(cue)
            && w[cue.len()..]
                .chars()
                .next()
                .is_none_or(|c| !c.is_ascii_alphabetic() || !cue.is_ascii())
    })
}

/// The text of `s` ending at byte `end`, at most `max` characters.
fn before(s: &str, end: usize, max: usize) -> &str {
    let head = &s[..end];
    let start = head
        .char_indices()
        .rev()
        .nth(max.saturating_sub(1))
        .map(|(i, _)| i)
        .unwrap_or(0);
    &head[start..]
}

fn after(s: &str, start: usize, max: usize) -> &str {
    let tail = &s[start..];
    let end = tail
        .char_indices()
        .nth(max)
        .map(|(i, _)| i)
        .unwrap_or(tail.len());
    &tail[..end]
}

/// The dates in `text` that something lasts until, in order.
pub fn until_dates(text: &str) -> Vec<NaiveDate> {
    let lower = text.to_lowercase();
    // Lowercasing can change byte offsets (rare scripts): then read the text as written.
    let text = if lower.len() == text.len() {
        lower.as_str()
    } else {
        text
    };
    DATES
        .captures_iter(text)
        .filter_map(|c| {
            let whole = c.get(0)?;
            let n = |k: &str| c.name(k).and_then(|m| m.as_str().parse::<u32>().ok());
            let date = if c.name("iso").is_some() {
                NaiveDate::from_ymd_opt(n("iy")? as i32, n("im")?, n("id")?)
            } else if c.name("dot").is_some() {
                NaiveDate::from_ymd_opt(n("dy")? as i32, n("dm")?, n("dd")?)
            } else {
                NaiveDate::from_ymd_opt(n("cy")? as i32, n("cm")?, n("cd")?)
            }?;
            let cued = ends_with_cue(before(text, whole.start(), 30))
                || starts_with_cue(after(text, whole.end(), 16));
            cued.then_some(date)
        })
        .collect()
}

/// The date a risk is accepted until: from the newest comment (first in `newest_first`) that
/// names one after `today` and at most [`MAX_DAYS_AHEAD`] days ahead. When that comment names
/// several such dates, the thread is unclear about it and `None` is returned.
pub fn accepted_until(newest_first: &[&str], today: NaiveDate) -> Option<NaiveDate> {
    for text in newest_first {
        let mut dates: Vec<NaiveDate> = until_dates(text)
            .into_iter()
            .filter(|d| *d > today && (*d - today).num_days() <= MAX_DAYS_AHEAD)
            .collect();
        dates.dedup();
        match dates.as_slice() {
            [] => continue,
            [one] => return Some(*one),
            _ => return None,
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn dates_next_to_an_until_word_in_several_languages() {
        let today = d(2026, 12, 7);
        for (text, want) in [
            (
                "Risk accepted until 2027-06-30, compensating WAF rule in place.",
                d(2027, 6, 30),
            ),
            ("Accepted risk, valid through 2027/03/01.", d(2027, 3, 1)),
            (
                "Risiko akzeptiert, befristet bis 30.06.2027.",
                d(2027, 6, 30),
            ),
            ("Riesgo aceptado hasta el 2027-01-15.", d(2027, 1, 15)),
            ("Risque accepté jusqu'au 1.2.2027", d(2027, 2, 1)),
            ("Risco aceito até 2027-05-05", d(2027, 5, 5)),
            ("Ryzyko zaakceptowane do 31.12.2027", d(2027, 12, 31)),
            ("Risken accepteras till och med 2027-04-01", d(2027, 4, 1)),
            ("Risk 2027-08-01 tarihine kadar kabul edildi", d(2027, 8, 1)),
            ("2027年6月30日までリスク受容", d(2027, 6, 30)),
            ("2027년 6월 30일까지 위험 수용", d(2027, 6, 30)),
            ("风险接受，有效期至2027-09-30", d(2027, 9, 30)),
        ] {
            assert_eq!(accepted_until(&[text], today), Some(want), "{text}");
        }
    }

    #[test]
    fn other_dates_and_unclear_threads_are_left() {
        let today = d(2026, 12, 7);
        for text in [
            "Scanned on 2027-01-02, nothing new.",
            "Accepted until 2025-06-30.",
            "Accepted until 2040-01-01.",
            "Accepted until 2027-02-30.",
            "Accepted until 2027-03-01 or until 2027-06-01, to be decided.",
            "Release 2027-01-10 fixes it.",
        ] {
            assert_eq!(accepted_until(&[text], today), None, "{text}");
        }
        // The newest comment with a date decides.
        assert_eq!(
            accepted_until(
                &[
                    "Extended: accepted until 2027-09-30.",
                    "Accepted until 2027-03-31."
                ],
                today
            ),
            Some(d(2027, 9, 30))
        );
    }
}
