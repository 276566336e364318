//! The built-in default policy: what a closed ticket means, from its resolution and its
//! comment thread. Precision first — a wrong False Positive or Accepted Risk hides a live
//! vulnerability, a wrong Resolved hides one too — so unclear, hedged or conflicting evidence
//! means `Skip`.
//!
//! Comments are read in English, German, Spanish, French, Portuguese and Italian (the words
//! are in [`lexicon`]): quoted text, code blocks and links are left out, the rest is
//! lower-cased with accents folded and matched phrase by phrase on word boundaries. A phrase
//! with a negation shortly before it in its clause means its opposite ("not a false
//! positive"); a fix in the future or as an obligation ("will be fixed") has not happened.
//! Across a thread the last word counts where it reports a fact (fixed, still vulnerable);
//! replacing one verdict with another needs the comment to say it corrects itself
//! ("actually", "en fait", …), otherwise the thread is unclear.

mod lexicon;

use crate::FindingStatus;
pub use crate::contract::Comment;
use lexicon::*;

/// What the policy looks at.
#[derive(Debug, Clone)]
pub struct ClosedTicket<'a> {
    /// The status category key: `new`, `indeterminate` or `done`.
    pub status_category: &'a str,
    /// The resolution's display name, if any (e.g. "Done", "Won't Do", "Known Risk").
    pub resolution: Option<&'a str>,
    pub comments: &'a [Comment],
}

/// What a closure that fixed nothing (a duplicate, a move, a clean-up) becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NotFixedOutcome {
    /// Leave the finding open; the decision records why (the default).
    #[default]
    Skip,
    /// Read such wording and resolutions as saying nothing, as Verdict did before: a closure
    /// as *Done* is then Resolved.
    Ignore,
}

impl NotFixedOutcome {
    pub fn parse(value: &str) -> Option<Self> {
        match value.trim() {
            "skip" => Some(Self::Skip),
            "ignore" => Some(Self::Ignore),
            _ => None,
        }
    }
}

/// Which resolution names mean what (compared case-insensitively). Names in no list — such
/// as "Won't Do" — say nothing on their own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyConfig {
    pub false_positive_resolutions: Vec<String>,
    pub accepted_risk_resolutions: Vec<String>,
    pub resolved_resolutions: Vec<String>,
    /// Resolutions that close a ticket without fixing anything ("Duplicate").
    pub not_fixed_resolutions: Vec<String>,
    pub not_fixed: NotFixedOutcome,
}

impl Default for PolicyConfig {
    fn default() -> Self {
        let v = |names: &[&str]| names.iter().map(|n| (*n).to_owned()).collect();
        Self {
            false_positive_resolutions: v(&[
                "False Positive",
                "Not a Bug",
                "Not an Issue",
                "Invalid",
            ]),
            accepted_risk_resolutions: v(&[
                "Known Risk",
                "Risk Accepted",
                "Accepted Risk",
                "Won't Fix",
            ]),
            resolved_resolutions: v(&["Done", "Fixed", "Resolved", "Complete"]),
            not_fixed_resolutions: v(&[
                "Duplicate",
                "Cannot Reproduce",
                "Incomplete",
                "Obsolete",
                "Moved",
            ]),
            not_fixed: NotFixedOutcome::Skip,
        }
    }
}

/// The policy's answer: a status to apply, or `None` to leave the finding as it is.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    pub status: Option<FindingStatus>,
    /// Why, in words an auditor can follow.
    pub reason: String,
    /// 0–1; `Skip` decisions carry the confidence that skipping is right.
    pub confidence: f32,
}

impl Decision {
    fn apply(status: FindingStatus, confidence: f32, reason: impl Into<String>) -> Self {
        Decision {
            status: Some(status),
            reason: reason.into(),
            confidence,
        }
    }
    fn skip(reason: impl Into<String>) -> Self {
        Decision {
            status: None,
            reason: reason.into(),
            confidence: 1.0,
        }
    }
}

/// What one piece of evidence says the closure means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stance {
    FalsePositive,
    AcceptedRisk,
    Fixed,
    /// Closed without a fix here: a duplicate, a move to another backlog, a clean-up, "cannot
    /// reproduce".
    NotFixed,
    /// The finding is real ("true positive", "exploitable", "not a false positive"); says
    /// nothing about whether it was dealt with.
    Real,
    /// The vulnerability is still there, or fixing it is only planned ("not fixed yet",
    /// "let's just fix it", "we do not accept the risk").
    Unfixed,
}

impl Stance {
    pub fn describe(self) -> &'static str {
        match self {
            Stance::FalsePositive => "a false positive",
            Stance::AcceptedRisk => "an accepted risk",
            Stance::Fixed => "fixed",
            Stance::NotFixed => "closed without a fix (duplicate, moved, clean-up)",
            Stance::Real => "a real issue",
            Stance::Unfixed => "not fixed yet",
        }
    }

    /// A verdict on the finding, as opposed to a statement about it.
    fn is_verdict(self) -> bool {
        matches!(
            self,
            Stance::FalsePositive | Stance::AcceptedRisk | Stance::Fixed | Stance::NotFixed
        )
    }
}

/// What one comment says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommentSignal {
    pub stance: Stance,
    /// Hedged ("maybe", "I think") or asked as a question: not evidence on its own.
    pub hedged: bool,
    /// Says it corrects something said before ("actually", "correction", …).
    pub correction: bool,
    /// Gives two different verdicts ("false positive, or we accept the risk"): unclear.
    pub mixed: bool,
}

/// The text a reader weighs: without quoted earlier comments (`{quote}` blocks, `bq.` and
/// `>` lines), code and preformatted blocks, and link targets — a URL's words
/// (`/fixed-in-2-0/`) are not a triager's. Called only for comments [`Tokens::read`] saw
/// markup in.
fn visible_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut hidden: Option<&str> = None;
    for line in text.split_inclusive('\n') {
        let mut rest = line;
        loop {
            if let Some(close) = hidden {
                match find_ascii_ci(rest, close) {
                    Some(i) => {
                        rest = &rest[i + close.len()..];
                        hidden = None;
                    }
                    None => break,
                }
            } else {
                let trimmed = rest.trim_start();
                if rest.len() == line.len()
                    && (trimmed.starts_with('>') || trimmed.starts_with("bq."))
                {
                    break;
                }
                let next = ["{quote}", "{code", "{noformat}"]
                    .iter()
                    .filter_map(|m| find_ascii_ci(rest, m).map(|i| (i, *m)))
                    .min_by_key(|(i, _)| *i);
                match next {
                    Some((i, marker)) => {
                        push_without_urls(&mut out, &rest[..i]);
                        out.push('\n');
                        let after = &rest[i + marker.len()..];
                        // `{code:java}`: skip the marker's parameters.
                        let after = match (marker, after.find('}')) {
                            ("{code", Some(j)) => &after[j + 1..],
                            _ => after,
                        };
                        hidden = Some(match marker {
                            "{quote}" => "{quote}",
                            "{noformat}" => "{noformat}",
                            _ => "{code}",
                        });
                        rest = after;
                    }
                    None => {
                        push_without_urls(&mut out, rest);
                        break;
                    }
                }
            }
        }
    }
    out
}

fn find_ascii_ci(hay: &str, needle: &str) -> Option<usize> {
    hay.as_bytes()
        .windows(needle.len())
        .position(|w| w.eq_ignore_ascii_case(needle.as_bytes()))
}

fn push_without_urls(out: &mut String, text: &str) {
    let mut rest = text;
    while let Some(i) = find_ascii_ci(rest, "http").filter(|i| {
        let tail = &rest[i + 4..];
        tail.starts_with("://") || tail.starts_with("s://")
    }) {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        let end = tail
            .find(|c: char| c.is_whitespace() || matches!(c, '|' | ']' | ')' | '"' | '<'))
            .unwrap_or(tail.len());
        out.push(' ');
        rest = &tail[end..];
    }
    out.push_str(rest);
}

/// What a byte is to the tokenizer: a word byte (letters lower-cased, digits: the byte
/// itself, always ≥ `b'0'`) or one of the classes below.
const C_BREAK: u8 = 0;
const C_SENTENCE: u8 = 1;
const C_CLAUSE: u8 = 2;
/// A dot: part of a word between digits (`2.4.1`), else a sentence's end.
const C_DOT: u8 = 3;
/// `{` or `>`: a word break that may start markup [`visible_text`] removes.
const C_MARKUP: u8 = 4;
const C_QUESTION: u8 = 5;
/// A byte of a non-ASCII character: decoded and folded on the slow path.
const C_HIGH: u8 = 6;

static CLASS: [u8; 256] = {
    let mut t = [C_HIGH; 256];
    let mut b = 0;
    while b < 128 {
        let c = b as u8;
        t[b] = match c {
            b'a'..=b'z' | b'0'..=b'9' => c,
            b'A'..=b'Z' => c + 32,
            b'!' | b'\n' => C_SENTENCE,
            b'?' => C_QUESTION,
            b',' | b';' | b':' => C_CLAUSE,
            b'.' => C_DOT,
            b'{' | b'>' => C_MARKUP,
            _ => C_BREAK,
        };
        b += 1;
    }
    t
};

/// A byte of an ASCII word as the lexicon spells it: lower-cased (a version's dot stays).
fn fold_ascii(b: u8) -> u8 {
    let c = CLASS[b as usize];
    if c >= b'0' { c } else { b }
}

/// What a lower-cased non-ASCII character is written as in the lexicon: accents folded,
/// `ß` as `ss`; other letters and digits as themselves; `None` for a word break.
fn fold_char(c: char, buf: &mut [u8; 4]) -> Option<&[u8]> {
    Some(match c {
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' => b"a",
        'ç' => b"c",
        'è' | 'é' | 'ê' | 'ë' => b"e",
        'ì' | 'í' | 'î' | 'ï' => b"i",
        'ñ' => b"n",
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' => b"o",
        'ù' | 'ú' | 'û' | 'ü' => b"u",
        'ý' | 'ÿ' => b"y",
        'ß' => b"ss",
        'æ' => b"ae",
        'œ' => b"oe",
        c if c.is_alphanumeric() => c.encode_utf8(buf).as_bytes(),
        _ => return None,
    })
}

/// A token's kind: a word or a break (sentence, clause, question's end).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TokenKind {
    Word,
    Sentence,
    Clause,
    Question,
}

#[derive(Debug, Clone, Copy)]
struct Token {
    kind: TokenKind,
    /// A word's bytes: `raw[start..end]` (ASCII, read through [`fold_ascii`]) or, for a
    /// word with non-ASCII letters, `folded[start..end]`, already folded.
    start: u32,
    end: u32,
    in_folded: bool,
    /// The hash of the folded word ([`word_hash`]).
    hash: u32,
    /// Evidence matched over this token: the match's number (0: none). A masked match
    /// counts as one word, and never as a negation, for later phrases.
    mask: u16,
}

/// A comment read once: its words and breaks, pointing into the raw text. Only words with
/// non-ASCII letters are copied (folded); the rest is read in place.
struct Tokens<'a> {
    raw: &'a [u8],
    folded: Vec<u8>,
    list: Vec<Token>,
}

fn digit_dot(raw: &[u8], i: usize) -> bool {
    i > 0 && raw[i - 1].is_ascii_digit() && raw.get(i + 1).is_some_and(u8::is_ascii_digit)
}

impl<'a> Tokens<'a> {
    /// Splits a comment into words (lower-cased, accents folded, `ß` as `ss`) and breaks:
    /// `!`, a line end and a dot (unless between digits) end a sentence, `?` ends a question,
    /// `,` `;` `:` end a clause; breaks next to each other make one (a sentence's end wins
    /// over a clause's, the later of two sentence ends counts). Also says whether the text
    /// may hold markup [`visible_text`] would remove (`{`, `>`, `://`, `bq.`).
    ///
    /// One pass over the raw bytes: an ASCII letter costs a table lookup and a hash step.
    fn read(text: &'a str) -> (Self, bool) {
        let raw = text.as_bytes();
        let n = raw.len();
        let mut tokens = Tokens {
            raw,
            folded: Vec::new(),
            list: Vec::with_capacity(n / 4 + 2),
        };
        let mut marked = false;
        // A word being written to `folded` (it has non-ASCII letters): where it starts
        // there, and its hash so far.
        let mut slow: Option<(usize, u32)> = None;
        let mut i = 0;
        while i < n {
            let c = CLASS[raw[i] as usize];
            if c >= b'0' {
                if let Some((_, hash)) = &mut slow {
                    tokens.folded.push(c);
                    *hash = hash_step(*hash, c);
                    i += 1;
                    continue;
                }
                let start = i;
                let mut hash = hash_step(HASH_START, c);
                i += 1;
                while i < n {
                    let c = CLASS[raw[i] as usize];
                    if c >= b'0' {
                        hash = hash_step(hash, c);
                    } else if c == C_DOT && digit_dot(raw, i) {
                        hash = hash_step(hash, b'.');
                    } else {
                        break;
                    }
                    i += 1;
                }
                if i < n && raw[i] >= 0x80 {
                    // The word may go on with non-ASCII letters: move it to `folded`.
                    let at = tokens.folded.len();
                    tokens
                        .folded
                        .extend(raw[start..i].iter().map(|b| fold_ascii(*b)));
                    slow = Some((at, hash));
                } else {
                    tokens.push_word(start, i, hash, false);
                }
                continue;
            }
            if c == C_BREAK && slow.is_none() {
                // A space between words, the commonest byte after letters.
                i += 1;
                continue;
            }
            if c == C_HIGH {
                let Some(ch) = text[i..].chars().next() else {
                    break;
                };
                i += ch.len_utf8();
                for lower in ch.to_lowercase() {
                    let mut buf = [0u8; 4];
                    match fold_char(lower, &mut buf) {
                        Some(bytes) => {
                            let (_, hash) = slow.get_or_insert((tokens.folded.len(), HASH_START));
                            for b in bytes {
                                *hash = hash_step(*hash, *b);
                            }
                            tokens.folded.extend_from_slice(bytes);
                        }
                        None => tokens.end_slow_word(&mut slow),
                    }
                }
                continue;
            }
            if c == C_DOT && slow.is_some() && digit_dot(raw, i) {
                if let Some((_, hash)) = &mut slow {
                    *hash = hash_step(*hash, b'.');
                }
                tokens.folded.push(b'.');
                i += 1;
                continue;
            }
            tokens.end_slow_word(&mut slow);
            let mark = match c {
                C_SENTENCE => Some(TokenKind::Sentence),
                C_QUESTION => Some(TokenKind::Question),
                C_CLAUSE => {
                    marked |= raw[i] == b':' && raw[i + 1..].starts_with(b"//");
                    Some(TokenKind::Clause)
                }
                C_DOT => {
                    marked |= i >= 2 && &raw[i - 2..i] == b"bq";
                    Some(TokenKind::Sentence)
                }
                C_MARKUP => {
                    marked = true;
                    None
                }
                _ => None,
            };
            if let Some(kind) = mark {
                tokens.push_break(kind);
            }
            i += 1;
        }
        tokens.end_slow_word(&mut slow);
        (tokens, marked)
    }

    fn push_word(&mut self, start: usize, end: usize, hash: u32, in_folded: bool) {
        self.list.push(Token {
            kind: TokenKind::Word,
            start: start as u32,
            end: end as u32,
            in_folded,
            hash: finish_hash(hash),
            mask: 0,
        });
    }

    fn end_slow_word(&mut self, slow: &mut Option<(usize, u32)>) {
        if let Some((start, hash)) = slow.take() {
            self.push_word(start, self.folded.len(), hash, true);
        }
    }

    /// Breaks next to each other make one: a sentence's end wins over a clause break, and
    /// the later of two sentence ends ("?!", "…?") counts.
    fn push_break(&mut self, kind: TokenKind) {
        match self.list.last_mut() {
            Some(last) if last.kind != TokenKind::Word => {
                if kind != TokenKind::Clause {
                    last.kind = kind;
                }
            }
            _ => self.list.push(Token {
                kind,
                start: 0,
                end: 0,
                in_folded: false,
                hash: 0,
                mask: 0,
            }),
        }
    }

    fn len(&self) -> usize {
        self.list.len()
    }

    fn kind(&self, at: usize) -> TokenKind {
        self.list[at].kind
    }

    /// Whether token `at` is a word whose folded bytes start with `prefix` (all of them when
    /// `whole`).
    fn word_is(&self, at: usize, prefix: &[u8], whole: bool) -> bool {
        let t = &self.list[at];
        let len = (t.end - t.start) as usize;
        if t.kind != TokenKind::Word || len < prefix.len() || (whole && len != prefix.len()) {
            return false;
        }
        let start = t.start as usize;
        if t.in_folded {
            self.folded[start..].starts_with(prefix)
        } else {
            self.raw[start..start + prefix.len()]
                .iter()
                .zip(prefix)
                .all(|(r, p)| fold_ascii(*r) == *p)
        }
    }

    /// Whether token `at` is one of `words` (`hashes` are theirs, from [`word_hashes`]).
    fn word_in(&self, at: usize, words: &[&str], hashes: &[u32]) -> bool {
        let hash = self.list[at].hash;
        hashes
            .iter()
            .zip(words)
            .any(|(h, w)| *h == hash && self.word_is(at, w.as_bytes(), true))
    }

    /// A word's first two folded bytes as a [`Starts`] key, if it is long enough to fit a
    /// `prefix*`.
    fn prefix_key(&self, at: usize) -> Option<usize> {
        let t = &self.list[at];
        if t.kind != TokenKind::Word || ((t.end - t.start) as usize) < WILD_KEY {
            return None;
        }
        let start = t.start as usize;
        Some(if t.in_folded {
            prefix_key_of(self.folded[start], self.folded[start + 1])
        } else {
            prefix_key_of(fold_ascii(self.raw[start]), fold_ascii(self.raw[start + 1]))
        })
    }

    /// The hash of a word's first `n` folded bytes, if it has that many.
    fn prefix_hash(&self, at: usize, n: usize) -> Option<u32> {
        let t = &self.list[at];
        if t.kind != TokenKind::Word || ((t.end - t.start) as usize) < n {
            return None;
        }
        let start = t.start as usize;
        let mut hash = HASH_START;
        if t.in_folded {
            for b in &self.folded[start..start + n] {
                hash = hash_step(hash, *b);
            }
        } else {
            for b in &self.raw[start..start + n] {
                hash = hash_step(hash, fold_ascii(*b));
            }
        }
        Some(finish_hash(hash))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// What the phrase means, and what it means when negated (`None`: nothing).
    Evidence(Stance, Option<Stance>),
    /// "cannot reproduce": not fixed, but yields to a false-positive explanation.
    NotReproduced,
    /// "moved to …": not fixed when its sentence names where the ticket went.
    Moved,
    /// "not reachable", "test code": a reason a finding is a false positive, which can also
    /// be the reason a risk was accepted.
    FpReason,
    /// "upgrade", "rotate": a fix only when planned ("we will upgrade") — then not done yet.
    FixVerb,
    Future,
    Hedge,
    /// A hedge that doubts by itself ("not sure", "are we sure"), even with no evidence.
    Doubt,
    Correction,
}

#[derive(Clone, Copy)]
struct Phrase {
    text: &'static [u8],
    kind: Kind,
    /// Where the phrase stands in [`LISTS`] (list by list, in order): of two evidence
    /// phrases of one length matching at one place, the lower rank wins.
    rank: u16,
}

const NO_PHRASE: Phrase = Phrase {
    text: b"",
    kind: Kind::Hedge,
    rank: u16::MAX,
};

const LISTS: [(&[&str], Kind); 14] = [
    (
        ACCEPTED_RISK,
        Kind::Evidence(Stance::AcceptedRisk, Some(Stance::Unfixed)),
    ),
    (
        FALSE_POSITIVE,
        Kind::Evidence(Stance::FalsePositive, Some(Stance::Real)),
    ),
    (FALSE_POSITIVE_REASONS, Kind::FpReason),
    (NOT_FIXED, Kind::Evidence(Stance::NotFixed, None)),
    (NOT_REPRODUCED, Kind::NotReproduced),
    (UNFIXED, Kind::Evidence(Stance::Unfixed, None)),
    (FIXED, Kind::Evidence(Stance::Fixed, Some(Stance::Unfixed))),
    (
        REAL,
        Kind::Evidence(Stance::Real, Some(Stance::FalsePositive)),
    ),
    (MOVED, Kind::Moved),
    (FIX_VERBS, Kind::FixVerb),
    (FUTURE, Kind::Future),
    (DOUBTS, Kind::Doubt),
    (HEDGES, Kind::Hedge),
    (CORRECTIONS, Kind::Correction),
];

/// FNV-1a, one byte at a time: cheap enough to run over every word of a comment, and a
/// `const fn`, so the phrases' first words are hashed at compile time.
const fn hash_step(hash: u32, b: u8) -> u32 {
    (hash ^ b as u32).wrapping_mul(0x0100_0193)
}
const HASH_START: u32 = 0x811c_9dc5;

/// A word's hash; never 0, which marks an empty slot.
const fn word_hash(word: &[u8]) -> u32 {
    let mut h = HASH_START;
    let mut i = 0;
    while i < word.len() {
        h = hash_step(h, word[i]);
        i += 1;
    }
    finish_hash(h)
}

const fn finish_hash(h: u32) -> u32 {
    if h == 0 { 1 } else { h }
}

/// A phrase's first word, and whether it ends in `*` ("rotat*": any word with that prefix).
const fn first_word(phrase: &[u8]) -> (usize, bool) {
    let mut i = 0;
    while i < phrase.len() && phrase[i] != b' ' {
        if phrase[i] == b'*' {
            return (i, true);
        }
        i += 1;
    }
    (i, false)
}

/// `prefix*` phrases are keyed by the hash of their first `WILD_KEY` bytes (every such
/// prefix is at least that long), in a table of their own.
const WILD_KEY: usize = 5;

#[derive(Clone, Copy)]
struct Slot {
    hash: u32,
    start: u16,
    end: u16,
}

/// Phrases grouped by a key hash in an open-addressing table (at most half full, so a key
/// that is not there is usually told so by one probe); within a group, longest first.
struct PhraseTable<const PHRASES: usize, const SLOTS: usize> {
    phrases: [Phrase; PHRASES],
    slots: [Slot; SLOTS],
}

/// Which table a phrase is in.
#[derive(Clone, Copy, PartialEq, Eq)]
enum TableOf {
    /// A literal first word, and no literal second one: keyed by the first word.
    FirstWord,
    /// Two literal first words: keyed by both ([`pair_hash`]), so the many phrases that
    /// start with "not", "is" or "wird" are compared only where the next word fits too.
    FirstTwoWords,
    /// A `prefix*` first word: keyed by its first [`WILD_KEY`] bytes.
    Prefix,
}

/// Two words' hashes as one key.
const fn pair_hash(first: u32, second: u32) -> u32 {
    finish_hash((first.rotate_left(7) ^ second).wrapping_mul(0x9e37_79b1))
}

/// A phrase's table, and its key there.
const fn phrase_key(text: &[u8]) -> (TableOf, u32) {
    let (len, is_wild) = first_word(text);
    if is_wild {
        assert!(
            len >= WILD_KEY,
            "a `prefix*` first word needs WILD_KEY literal bytes"
        );
        return (TableOf::Prefix, word_hash(text.split_at(WILD_KEY).0));
    }
    let first = word_hash(text.split_at(len).0);
    if len == text.len() {
        return (TableOf::FirstWord, first);
    }
    let rest = text.split_at(len + 1).1;
    let (second_len, second_wild) = first_word(rest);
    if second_wild {
        return (TableOf::FirstWord, first);
    }
    (
        TableOf::FirstTwoWords,
        pair_hash(first, word_hash(rest.split_at(second_len).0)),
    )
}

/// How many phrases each table holds.
const fn table_size(table: TableOf) -> usize {
    let mut n = 0;
    let mut l = 0;
    while l < LISTS.len() {
        let list = LISTS[l].0;
        let mut i = 0;
        while i < list.len() {
            if phrase_key(list[i].as_bytes()).0 as u8 == table as u8 {
                n += 1;
            }
            i += 1;
        }
        l += 1;
    }
    n
}

/// The slot holding `hash`, or the empty one where it would go.
const fn slot_of<const SLOTS: usize>(slots: &[Slot; SLOTS], hash: u32) -> usize {
    let mut i = hash as usize & (SLOTS - 1);
    while slots[i].hash != 0 && slots[i].hash != hash {
        i = (i + 1) & (SLOTS - 1);
    }
    i
}

const fn build_table<const PHRASES: usize, const SLOTS: usize>(
    table: TableOf,
) -> PhraseTable<PHRASES, SLOTS> {
    let mut slots = [Slot {
        hash: 0,
        start: 0,
        end: 0,
    }; SLOTS];
    // Count the phrases per key (in `end`).
    let mut distinct = 0;
    let mut l = 0;
    while l < LISTS.len() {
        let list = LISTS[l].0;
        let mut i = 0;
        while i < list.len() {
            let (of, hash) = phrase_key(list[i].as_bytes());
            if of as u8 == table as u8 {
                let s = slot_of(&slots, hash);
                if slots[s].hash == 0 {
                    slots[s].hash = hash;
                    distinct += 1;
                }
                slots[s].end += 1;
            }
            i += 1;
        }
        l += 1;
    }
    assert!(
        distinct * 2 <= SLOTS,
        "the phrase table is more than half full"
    );
    let mut next = 0u16;
    let mut s = 0;
    while s < SLOTS {
        let n = slots[s].end;
        slots[s].start = next;
        slots[s].end = next;
        next += n;
        s += 1;
    }
    // Place list by list, so equal lengths keep list order.
    let mut phrases = [NO_PHRASE; PHRASES];
    let mut rank = 0u16;
    let mut l = 0;
    while l < LISTS.len() {
        let (list, kind) = LISTS[l];
        let mut i = 0;
        while i < list.len() {
            let text = list[i].as_bytes();
            let (of, hash) = phrase_key(text);
            if of as u8 == table as u8 {
                let s = slot_of(&slots, hash);
                phrases[slots[s].end as usize] = Phrase { text, kind, rank };
                slots[s].end += 1;
            }
            rank += 1;
            i += 1;
        }
        l += 1;
    }
    // Longest first within a group (a stable insertion sort; groups are small).
    let mut s = 0;
    while s < SLOTS {
        let (lo, hi) = (slots[s].start as usize, slots[s].end as usize);
        let mut i = lo + 1;
        while i < hi {
            let mut j = i;
            while j > lo && phrases[j - 1].text.len() < phrases[j].text.len() {
                let t = phrases[j];
                phrases[j] = phrases[j - 1];
                phrases[j - 1] = t;
                j -= 1;
            }
            i += 1;
        }
        s += 1;
    }
    PhraseTable { phrases, slots }
}

impl<const PHRASES: usize, const SLOTS: usize> PhraseTable<PHRASES, SLOTS> {
    fn get(&self, hash: u32) -> &[Phrase] {
        let mut i = hash as usize & (SLOTS - 1);
        loop {
            let s = self.slots[i];
            if s.hash == hash {
                return &self.phrases[s.start as usize..s.end as usize];
            }
            if s.hash == 0 {
                return &[];
            }
            i = (i + 1) & (SLOTS - 1);
        }
    }
}

/// Every phrase, found from the word it starts with, built at compile time so a fresh wasm
/// instance pays nothing for it. A comment is read once, token by token: a word costs a
/// probe by its hash (and, from five bytes, one by its prefix's); only the phrases that
/// start with that word, or with a `prefix*` it fits, are compared with what follows.
static BY_WORD: PhraseTable<{ table_size(TableOf::FirstWord) }, 1024> =
    build_table(TableOf::FirstWord);
static BY_TWO_WORDS: PhraseTable<{ table_size(TableOf::FirstTwoWords) }, 4096> =
    build_table(TableOf::FirstTwoWords);
static BY_PREFIX: PhraseTable<{ table_size(TableOf::Prefix) }, 256> = build_table(TableOf::Prefix);

/// 16,384 bits.
struct BitSet([u64; 256]);

impl BitSet {
    const fn set(&mut self, i: usize) {
        self.0[(i >> 6) & 255] |= 1 << (i & 63);
    }
    fn has(&self, i: usize) -> bool {
        self.0[(i >> 6) & 255] & (1 << (i & 63)) != 0
    }
}

/// What a word must be to start a phrase: its hash's top bits are a phrase's literal first
/// word's, or its first two bytes a `prefix*`'s ([`Tokens::prefix_key`]).
struct Starts {
    words: BitSet,
    prefixes: BitSet,
}

const fn prefix_key_of(a: u8, b: u8) -> usize {
    ((a as usize & 127) << 7) | (b as usize & 127)
}

static STARTS: Starts = {
    let mut starts = Starts {
        words: BitSet([0; 256]),
        prefixes: BitSet([0; 256]),
    };
    let mut l = 0;
    while l < LISTS.len() {
        let list = LISTS[l].0;
        let mut i = 0;
        while i < list.len() {
            let text = list[i].as_bytes();
            let (len, wild) = first_word(text);
            if wild {
                starts.prefixes.set(prefix_key_of(text[0], text[1]));
            } else {
                starts
                    .words
                    .set(word_hash(text.split_at(len).0) as usize >> 18);
            }
            i += 1;
        }
        l += 1;
    }
    starts
};

/// The hashes of a word list, for [`Tokens::word_in`].
const fn word_hashes<const N: usize>(words: &[&str]) -> [u32; N] {
    let mut out = [0u32; N];
    let mut i = 0;
    while i < N {
        out[i] = word_hash(words[i].as_bytes());
        i += 1;
    }
    out
}

static NEGATION_HASHES: [u32; NEGATIONS.len()] = word_hashes(NEGATIONS);
static NEGATION_AFTER_HASHES: [u32; NEGATIONS_AFTER.len()] = word_hashes(NEGATIONS_AFTER);
static NO_BRIDGE_HASHES: [u32; NO_BRIDGES.len()] = word_hashes(NO_BRIDGES);
static MOVE_TARGET_HASHES: [u32; MOVE_TARGETS.len()] = word_hashes(MOVE_TARGETS);

/// A match: how many tokens the phrase covers, and whether a word a `*` stood for is a
/// negation ("risk * accepted" on "risk not accepted").
#[derive(Debug, Clone, Copy)]
struct Match {
    len: usize,
    negated_inside: bool,
}

/// Matches a phrase at token `at`: a word ending in `*` stands for any word with that
/// prefix, a `*` alone for one whole word (never a sentence or clause break).
fn match_phrase(tokens: &Tokens<'_>, at: usize, pattern: &[u8]) -> Option<Match> {
    let mut k = at;
    let mut negated_inside = false;
    for word in pattern.split(|b| *b == b' ') {
        if k >= tokens.len() {
            return None;
        }
        match word {
            b"*" => {
                if matches!(tokens.kind(k), TokenKind::Sentence | TokenKind::Clause) {
                    return None;
                }
                negated_inside |= tokens.word_in(k, NEGATIONS, &NEGATION_HASHES);
            }
            [prefix @ .., b'*'] => {
                if !tokens.word_is(k, prefix, false) {
                    return None;
                }
            }
            _ => {
                if !tokens.word_is(k, word, true) {
                    return None;
                }
            }
        }
        k += 1;
    }
    Some(Match {
        len: k - at,
        negated_inside,
    })
}

fn is_break(kind: TokenKind) -> bool {
    kind != TokenKind::Word
}

fn ends_sentence(kind: TokenKind) -> bool {
    matches!(kind, TokenKind::Sentence | TokenKind::Question)
}

/// Whether a negation stands within the three words before token `start` in the same
/// clause, or a German one right after the phrase ("wir akzeptieren das Risiko nicht").
/// Evidence matched earlier is masked: it counts as one word, and never as a negation.
fn negated(tokens: &Tokens<'_>, start: usize, end: usize) -> bool {
    // The words seen so far, nearest first; `None` for a masked match.
    let mut between: [Option<usize>; 3] = [None; 3];
    let mut k = start;
    let mut i = 0;
    let before = loop {
        if i == 3 || k == 0 {
            break false;
        }
        k -= 1;
        let mask = tokens.list[k].mask;
        if mask != 0 {
            while k > 0 && tokens.list[k - 1].mask == mask {
                k -= 1;
            }
            between[i] = None;
            i += 1;
            continue;
        }
        if is_break(tokens.kind(k)) {
            break false;
        }
        between[i] = Some(k);
        // Portuguese "no" means "in the": it negates only next to the phrase or across
        // the little words a Spanish or English negation takes ("no es un", "no se ha").
        let hit = if tokens.word_is(k, b"no", true) {
            between[..i]
                .iter()
                .all(|b| b.is_some_and(|b| tokens.word_in(b, NO_BRIDGES, &NO_BRIDGE_HASHES)))
        } else {
            tokens.word_in(k, NEGATIONS, &NEGATION_HASHES)
        };
        if hit {
            break true;
        }
        i += 1;
    };
    let after = end < tokens.len()
        && tokens.list[end].mask == 0
        && tokens.word_in(end, NEGATIONS_AFTER, &NEGATION_AFTER_HASHES);
    before || after
}

/// The tokens between breaks of the given kind around token `at`.
fn span_around(tokens: &Tokens<'_>, at: usize, mark: fn(TokenKind) -> bool) -> (usize, usize) {
    let list = &tokens.list;
    let start = list[..at]
        .iter()
        .rposition(|t| mark(t.kind))
        .map(|i| i + 1)
        .unwrap_or(0);
    let end = list[at..]
        .iter()
        .position(|t| mark(t.kind))
        .map(|i| at + i)
        .unwrap_or(list.len());
    (start, end)
}

/// The sentence around token `at`.
fn sentence_around(tokens: &Tokens<'_>, at: usize) -> (usize, usize) {
    span_around(tokens, at, ends_sentence)
}

/// Whether the sentence around token `at` is a question.
fn asked(tokens: &Tokens<'_>, at: usize) -> bool {
    let (_, end) = sentence_around(tokens, at);
    end < tokens.len() && tokens.kind(end) == TokenKind::Question
}

/// The clause (between commas, colons, semicolons or sentence ends) around token `at`.
fn clause_around(tokens: &Tokens<'_>, at: usize) -> (usize, usize) {
    span_around(tokens, at, is_break)
}

/// Whether the sentence around token `at` names where a moved ticket went.
fn names_a_move_target(tokens: &Tokens<'_>, at: usize) -> bool {
    let (start, end) = sentence_around(tokens, at);
    (start..end).any(|k| tokens.word_in(k, MOVE_TARGETS, &MOVE_TARGET_HASHES))
}

/// One piece of evidence in a comment.
#[derive(Debug, Clone, Copy)]
struct Found {
    stance: Stance,
    /// The token it starts at.
    at: usize,
    /// Yields to a clearer verdict in the same comment: "cannot reproduce" to a false
    /// positive, a false-positive reason ("not reachable") to an accepted risk.
    weak: bool,
    /// A fix verb that only counts when the fix is planned.
    planned_only: bool,
}

/// Reads one comment. `None` when it says nothing about what the closure means.
pub fn classify(text: &str) -> Option<CommentSignal> {
    // Most comments hold no markup: one pass. The rest are cleaned first, then read.
    let (tokens, marked) = Tokens::read(text);
    let visible;
    let mut tokens = if marked {
        visible = visible_text(text);
        Tokens::read(&visible).0
    } else {
        tokens
    };
    // Matched evidence is masked so its words count neither as negations for later phrases
    // ("won't fix … fixed") nor as evidence twice. Hedges, corrections and future words are
    // looked for at every word, masked or not.
    let mut found: Vec<Found> = Vec::new();
    let mut hedges: Vec<usize> = Vec::new();
    let mut futures: Vec<usize> = Vec::new();
    let mut doubt = false;
    let mut correction = false;
    let mut masks = 0u16;
    let mut evidence_from = 0;
    for at in 0..tokens.len() {
        let token = tokens.list[at];
        if token.kind != TokenKind::Word {
            continue;
        }
        // Most words start no phrase: two bit tests say so before any table is probed.
        let starts_phrase = STARTS.words.has(token.hash as usize >> 18);
        let prefix = tokens
            .prefix_key(at)
            .filter(|key| STARTS.prefixes.has(*key))
            .and_then(|_| tokens.prefix_hash(at, WILD_KEY));
        if !starts_phrase && prefix.is_none() {
            continue;
        }
        let mut groups: [&[Phrase]; 3] = [&[], &[], &[]];
        if starts_phrase {
            groups[0] = BY_WORD.get(token.hash);
            if let Some(next) = tokens.list.get(at + 1)
                && next.kind == TokenKind::Word
            {
                groups[1] = BY_TWO_WORDS.get(pair_hash(token.hash, next.hash));
            }
        }
        if let Some(hash) = prefix {
            groups[2] = BY_PREFIX.get(hash);
        }
        let candidates = groups.iter().flat_map(|g| g.iter());
        // Of the evidence phrases matching here, the longest wins (then the earlier list).
        let mut evidence: Option<(Match, Kind, &Phrase)> = None;
        for p in candidates {
            let Some(m) = match_phrase(&tokens, at, p.text) else {
                continue;
            };
            match p.kind {
                Kind::Hedge => hedges.push(at),
                Kind::Doubt => {
                    hedges.push(at);
                    doubt = true;
                }
                Kind::Correction => correction = true,
                Kind::Future => futures.push(at),
                kind => {
                    let better = evidence.is_none_or(|(_, _, q)| {
                        (p.text.len(), std::cmp::Reverse(p.rank))
                            > (q.text.len(), std::cmp::Reverse(q.rank))
                    });
                    if at >= evidence_from && better {
                        evidence = Some((m, kind, p));
                    }
                }
            }
        }
        let Some((m, kind, _)) = evidence else {
            continue;
        };
        let is_negated = m.negated_inside || negated(&tokens, at, at + m.len);
        let mut f = Found {
            stance: Stance::Real,
            at,
            weak: false,
            planned_only: false,
        };
        let stance = match kind {
            Kind::Evidence(Stance::Real, _) if is_negated => {
                // "not vulnerable": a reason, like "not reachable".
                f.weak = true;
                Some(Stance::FalsePositive)
            }
            Kind::Evidence(_, when_negated) if is_negated => when_negated,
            Kind::Evidence(stance, _) => Some(stance),
            Kind::FpReason if is_negated => Some(Stance::Real),
            Kind::FpReason => {
                f.weak = true;
                Some(Stance::FalsePositive)
            }
            Kind::NotReproduced if !is_negated => {
                f.weak = true;
                Some(Stance::NotFixed)
            }
            Kind::Moved if !is_negated && names_a_move_target(&tokens, at) => {
                Some(Stance::NotFixed)
            }
            Kind::FixVerb if !is_negated => {
                f.planned_only = true;
                Some(Stance::Unfixed)
            }
            _ => None,
        };
        if let Some(stance) = stance {
            f.stance = stance;
            found.push(f);
        }
        masks += 1;
        for t in &mut tokens.list[at..at + m.len] {
            t.mask = masks;
        }
        evidence_from = at + m.len;
    }
    // A fix that will happen, or must, has not happened ("will be patched", "decommissioned
    // next quarter").
    // A fix verb in the base form counts only as a plan ("we will upgrade it").
    found.retain_mut(|f| {
        if f.stance != Stance::Fixed && !f.planned_only {
            return true;
        }
        let (start, end) = clause_around(&tokens, f.at);
        let planned = futures.iter().any(|at| (start..end).contains(at));
        if planned {
            f.stance = Stance::Unfixed;
        }
        planned || !f.planned_only
    });
    // What a comment asks ("False positive? No — fixed in 2.1.") is not what it states:
    // questions count only when the comment states nothing.
    if found.iter().any(|f| !asked(&tokens, f.at)) {
        found.retain(|f| !asked(&tokens, f.at));
    }
    let Some(stance) = comment_stance(&found) else {
        // No evidence, but doubt ("are we sure? it might still be reachable"): it can cast
        // doubt on what the thread concluded before.
        let asks = tokens.list.iter().any(|t| t.kind == TokenKind::Question);
        return (doubt || (asks && !hedges.is_empty())).then_some(CommentSignal {
            stance: Stance::Real,
            hedged: true,
            correction,
            mixed: false,
        });
    };
    let Some(stance) = stance else {
        return Some(CommentSignal {
            stance: Stance::Real,
            hedged: false,
            correction,
            mixed: true,
        });
    };
    let at = found
        .iter()
        .find(|f| f.stance == stance)
        .map(|f| f.at)
        .unwrap_or(0);
    let (sentence_start, sentence_end) = sentence_around(&tokens, at);
    let hedged = asked(&tokens, at)
        || hedges
            .iter()
            .any(|h| (sentence_start..sentence_end).contains(h));
    Some(CommentSignal {
        stance,
        hedged,
        correction,
        mixed: false,
    })
}

/// What one comment's evidence adds up to: `None` when it says nothing, `Some(None)` when
/// it gives two different verdicts.
fn comment_stance(found: &[Found]) -> Option<Option<Stance>> {
    if found.is_empty() {
        return None;
    }
    let has = |s: Stance| found.iter().any(|f| f.stance == s);
    // Of "fixed" and "not fixed (yet)", the later one is the comment's conclusion
    // ("still vulnerable after the first patch; fixed in 2.1").
    let fix_word = found
        .iter()
        .rev()
        .find(|f| matches!(f.stance, Stance::Fixed | Stance::Unfixed))
        .map(|f| f.stance);
    let explained = has(Stance::FalsePositive) || has(Stance::AcceptedRisk);
    let mut verdicts: Vec<Stance> = Vec::new();
    for f in found {
        let counts = match f.stance {
            Stance::AcceptedRisk => true,
            Stance::FalsePositive => !(f.weak && has(Stance::AcceptedRisk)),
            Stance::NotFixed => !(f.weak && explained),
            // "Won't fix: the service is decommissioned in March": an accepted risk names
            // the fix it waits for.
            Stance::Fixed => fix_word == Some(Stance::Fixed) && !has(Stance::AcceptedRisk),
            Stance::Real | Stance::Unfixed => false,
        };
        if counts && !verdicts.contains(&f.stance) {
            verdicts.push(f.stance);
        }
    }
    Some(match verdicts.as_slice() {
        [one] => Some(*one),
        [] if fix_word == Some(Stance::Unfixed) => Some(Stance::Unfixed),
        [] if has(Stance::Real) => Some(Stance::Real),
        [] => return None,
        _ => None,
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ResolutionMeaning {
    FalsePositive,
    AcceptedRisk,
    Resolved,
    NotFixed,
    Unspecific,
}

fn resolution_meaning(resolution: Option<&str>, config: &PolicyConfig) -> ResolutionMeaning {
    let Some(r) = resolution.map(str::trim) else {
        return ResolutionMeaning::Unspecific;
    };
    let is = |list: &[String]| list.iter().any(|n| n.trim().eq_ignore_ascii_case(r));
    if is(&config.false_positive_resolutions) {
        ResolutionMeaning::FalsePositive
    } else if is(&config.accepted_risk_resolutions) {
        ResolutionMeaning::AcceptedRisk
    } else if is(&config.resolved_resolutions) {
        ResolutionMeaning::Resolved
    } else if is(&config.not_fixed_resolutions) && config.not_fixed == NotFixedOutcome::Skip {
        ResolutionMeaning::NotFixed
    } else {
        ResolutionMeaning::Unspecific
    }
}

/// What a comment thread says as a whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ThreadStance {
    /// No comment says anything about what the closure means.
    Silent,
    /// The thread agrees with itself (corrections taken into account); `comment` is the
    /// 0-based index of the last comment that says so.
    Clear { stance: Stance, comment: usize },
    /// Comments disagree (without one correcting the other), or a later comment casts doubt.
    Unclear(String),
    /// Only hedged or questioning comments.
    Unsure,
}

/// Reads a whole thread, oldest comment first.
pub fn thread_stance(comments: &[Comment]) -> ThreadStance {
    let mut stance: Option<(Stance, usize)> = None;
    let mut doubt_after: Option<usize> = None;
    for (i, c) in comments.iter().enumerate() {
        let Some(signal) = classify(&c.body) else {
            continue;
        };
        if signal.mixed {
            return ThreadStance::Unclear(format!(
                "comment {} gives two different verdicts",
                i + 1
            ));
        }
        if signal.hedged {
            if stance.map(|s| s.0) != Some(signal.stance) {
                doubt_after = Some(i);
            }
            continue;
        }
        let new = signal.stance;
        let conflict = |s: Stance, j: usize| {
            ThreadStance::Unclear(format!(
                "the comments conflict: comment {} says {}, comment {} says {}",
                j + 1,
                s.describe(),
                i + 1,
                new.describe()
            ))
        };
        stance = Some(match stance {
            None => (new, i),
            Some((s, _)) if s == new => (s, i),
            // A statement about the finding, then a verdict: the thread moved on ("it is
            // exploitable" → "patched"), unless it was called real and then a false positive
            // without a word of correction.
            Some((s, j)) if !s.is_verdict() => {
                if s == Stance::Real && new == Stance::FalsePositive && !signal.correction {
                    return conflict(s, j);
                }
                (new, i)
            }
            // Facts reported later stand: fixed after all, or not fixed after all.
            Some(_) if matches!(new, Stance::Fixed | Stance::Unfixed) => (new, i),
            // "It is real" after "fixed" means it is not fixed.
            Some((Stance::Fixed, _)) if new == Stance::Real => (Stance::Unfixed, i),
            Some(_) if signal.correction && new != Stance::Real => (new, i),
            Some((s, j)) => return conflict(s, j),
        });
    }
    match (stance, doubt_after) {
        (Some((_, last)), Some(doubt)) if doubt > last => ThreadStance::Unclear(format!(
            "comment {} casts doubt on the earlier conclusion",
            doubt + 1
        )),
        (Some((stance, comment)), _) => ThreadStance::Clear { stance, comment },
        (None, Some(_)) => ThreadStance::Unsure,
        (None, None) => ThreadStance::Silent,
    }
}

/// Decides what a closed ticket means.
pub fn decide(ticket: &ClosedTicket<'_>, config: &PolicyConfig) -> Decision {
    if ticket.status_category != "done" {
        return Decision::skip(format!(
            "the ticket is not closed (status category `{}`)",
            ticket.status_category
        ));
    }
    let (mut stance, doubt_after) = match thread_stance(ticket.comments) {
        ThreadStance::Unclear(why) => return Decision::skip(why),
        ThreadStance::Clear { stance, comment } => (Some((stance, comment)), None),
        ThreadStance::Unsure => (None, Some(())),
        ThreadStance::Silent => (None, None),
    };
    if config.not_fixed == NotFixedOutcome::Ignore
        && stance.is_some_and(|s| s.0 == Stance::NotFixed)
    {
        stance = None;
    }
    let resolution = resolution_meaning(ticket.resolution, config);
    let res_name = ticket.resolution.unwrap_or("none");
    use FindingStatus::*;
    use ResolutionMeaning as R;
    match (stance.map(|s| s.0), resolution) {
        (Some(Stance::NotFixed), _) => Decision::skip(format!(
            "not fixed: a comment says the ticket was closed without a fix here (a duplicate, a move, a clean-up or not reproduced; resolution `{res_name}`)"
        )),
        (Some(Stance::Unfixed), _) => Decision::skip(format!(
            "not fixed: the comments say the vulnerability is still there or its fix is only planned (resolution `{res_name}`)"
        )),
        (Some(Stance::FalsePositive), R::AcceptedRisk)
        | (Some(Stance::AcceptedRisk), R::FalsePositive) => Decision::skip(format!(
            "the comments and the resolution `{res_name}` disagree"
        )),
        (Some(Stance::Fixed) | Some(Stance::Real), R::FalsePositive | R::AcceptedRisk) => {
            Decision::skip(format!(
                "the comments say the issue is real but the resolution is `{res_name}`"
            ))
        }
        (Some(Stance::Fixed), R::NotFixed) => Decision::skip(format!(
            "a comment says it was fixed but the resolution `{res_name}` says nothing was fixed here"
        )),
        (Some(Stance::FalsePositive), r) => Decision::apply(
            FalsePositive,
            if r == R::FalsePositive { 0.95 } else { 0.85 },
            format!("a comment explains it is a false positive (resolution `{res_name}`)"),
        ),
        (Some(Stance::AcceptedRisk), r) => Decision::apply(
            AcceptedRisk,
            if r == R::AcceptedRisk { 0.95 } else { 0.8 },
            format!("a comment records accepting the risk (resolution `{res_name}`)"),
        ),
        (Some(Stance::Fixed), _) => Decision::apply(
            Resolved,
            0.9,
            format!("a comment says it was fixed (resolution `{res_name}`)"),
        ),
        (Some(Stance::Real), R::Resolved) => Decision::apply(
            Resolved,
            0.7,
            format!("closed as `{res_name}`; comments confirm the issue was real"),
        ),
        (Some(Stance::Real), _) => Decision::skip(format!(
            "the comments say the issue is real, but the resolution `{res_name}` does not say it was fixed"
        )),
        (None, R::NotFixed) => Decision::skip(format!(
            "not fixed: resolution `{res_name}` closes a ticket without fixing anything here"
        )),
        (None, R::FalsePositive) => Decision::apply(
            FalsePositive,
            0.85,
            format!("resolution `{res_name}` means false positive"),
        ),
        (None, R::AcceptedRisk) => Decision::apply(
            AcceptedRisk,
            0.85,
            format!("resolution `{res_name}` means accepted risk"),
        ),
        (None, R::Resolved) if doubt_after.is_some() => Decision::skip(format!(
            "closed as `{res_name}`, but the comments only guess at what it means"
        )),
        (None, R::Resolved) => Decision::apply(Resolved, 0.9, format!("closed as `{res_name}`")),
        (None, R::Unspecific) if doubt_after.is_some() => Decision::skip(format!(
            "resolution `{res_name}` says nothing and the comments are unsure"
        )),
        (None, R::Unspecific) => Decision::skip(format!(
            "resolution `{res_name}` does not say what the closure means and no comment explains it"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn thread(resolution: Option<&str>, comments: &[&str]) -> Option<FindingStatus> {
        let comments: Vec<Comment> = comments
            .iter()
            .map(|b| Comment {
                author: "u".into(),
                body: (*b).to_owned(),
                ..Comment::default()
            })
            .collect();
        let t = ClosedTicket {
            status_category: "done",
            resolution,
            comments: &comments,
        };
        decide(&t, &PolicyConfig::default()).status
    }

    use FindingStatus::*;

    #[test]
    fn resolution_alone() {
        assert_eq!(thread(Some("Done"), &[]), Some(Resolved));
        assert_eq!(thread(Some("False Positive"), &[]), Some(FalsePositive));
        assert_eq!(thread(Some("Known Risk"), &[]), Some(AcceptedRisk));
        assert_eq!(
            thread(Some("Won't Do"), &[]),
            None,
            "Won't Do alone is ambiguous"
        );
        assert_eq!(thread(None, &["looks good"]), None);
    }

    #[test]
    fn comments_in_four_languages() {
        let cases: &[(&str, Option<&str>, Option<FindingStatus>)] = &[
            (
                "False positive: this is test code",
                Some("Done"),
                Some(FalsePositive),
            ),
            (
                "Only in test fixtures, closing.",
                Some("Won't Do"),
                Some(FalsePositive),
            ),
            (
                "Das ist ein Fehlalarm, nur in Tests.",
                Some("Won't Do"),
                Some(FalsePositive),
            ),
            (
                "Es un falso positivo, código de prueba.",
                Some("Won't Do"),
                Some(FalsePositive),
            ),
            (
                "C'est un faux positif.",
                Some("Won't Do"),
                Some(FalsePositive),
            ),
            (
                "We accept the risk until Q3, see the approval page.",
                Some("Won't Do"),
                Some(AcceptedRisk),
            ),
            (
                "Risiko akzeptiert durch den CISO.",
                Some("Won't Do"),
                Some(AcceptedRisk),
            ),
            (
                "Aceptamos el riesgo hasta 2027.",
                Some("Won't Do"),
                Some(AcceptedRisk),
            ),
            (
                "Nous acceptons le risque.",
                Some("Won't Do"),
                Some(AcceptedRisk),
            ),
            (
                "Won't fix: legacy service, decommissioned next quarter.",
                Some("Won't Do"),
                Some(AcceptedRisk),
            ),
            ("Fixed in 2.3.1, deployed.", Some("Done"), Some(Resolved)),
            ("Behoben mit Version 4.2", Some("Won't Do"), Some(Resolved)),
            (
                "Corregido en la rama principal.",
                Some("Won't Do"),
                Some(Resolved),
            ),
            (
                "Corrigé dans la version 3.",
                Some("Won't Do"),
                Some(Resolved),
            ),
        ];
        for (comment, resolution, expected) in cases {
            assert_eq!(thread(*resolution, &[comment]), *expected, "{comment}");
        }
    }

    #[test]
    fn negations_turn_meaning_around() {
        assert_eq!(
            thread(
                Some("Done"),
                &["This is not a false positive, we patched it."]
            ),
            Some(Resolved)
        );
        assert_eq!(
            thread(Some("False Positive"), &["Not a false positive!"]),
            None
        );
        assert_eq!(
            thread(Some("Won't Do"), &["No es un falso positivo."]),
            None
        );
        assert_eq!(thread(Some("Won't Do"), &["Das ist kein Fehlalarm."]), None);
        assert_eq!(
            thread(Some("Won't Do"), &["Ce n'est pas un faux positif."]),
            None
        );
        assert_eq!(
            thread(
                Some("Known Risk"),
                &["We do not accept the risk, it must be fixed"]
            ),
            None
        );
        assert_eq!(
            thread(Some("Done"), &["It is not fixed yet"]),
            None,
            "closed as Done, but the comment says it is not fixed"
        );
        assert_eq!(thread(Some("Won't Do"), &["It is not fixed yet"]), None);
        // A negation in another clause does not count.
        assert_eq!(
            thread(
                Some("Won't Do"),
                &["Not sure why the scanner flagged it. It's a false positive."]
            ),
            Some(FalsePositive)
        );
    }

    #[test]
    fn hedges_and_questions_are_not_evidence() {
        assert_eq!(thread(Some("Won't Do"), &["Maybe a false positive?"]), None);
        assert_eq!(
            thread(
                Some("Won't Do"),
                &["I think this might be a false positive"]
            ),
            None
        );
        assert_eq!(
            thread(Some("Won't Do"), &["Is this a false positive?"]),
            None
        );
        assert_eq!(
            thread(Some("Won't Do"), &["Vielleicht ein Fehlalarm"]),
            None
        );
        assert_eq!(
            thread(Some("Won't Do"), &["Quizás es un falso positivo"]),
            None
        );
        assert_eq!(
            thread(Some("Won't Do"), &["Peut-être un faux positif"]),
            None
        );
        // A hedge after a clear conclusion casts doubt on it.
        assert_eq!(
            thread(
                Some("Won't Do"),
                &[
                    "False positive, test code.",
                    "Hmm, maybe it is exploitable after all?"
                ]
            ),
            None
        );
    }

    #[test]
    fn changed_minds_and_conflicts() {
        assert_eq!(
            thread(
                Some("Done"),
                &["False positive", "Actually it was real, fixed in 1.2"]
            ),
            Some(Resolved),
            "a correction replaces the earlier stance"
        );
        assert_eq!(
            thread(
                Some("Won't Do"),
                &["Falso positivo", "En realidad aceptamos el riesgo"]
            ),
            Some(AcceptedRisk)
        );
        assert_eq!(
            thread(Some("Won't Do"), &["False positive", "We accept the risk"]),
            None,
            "disagreement is a conflict"
        );
        assert_eq!(
            thread(Some("Known Risk"), &["false positive: test code"]),
            None,
            "comment and resolution disagree"
        );
        assert_eq!(
            thread(Some("Done"), &["false positive", "false positive, agreed"]),
            Some(FalsePositive)
        );
    }

    #[test]
    fn tricky_wording() {
        // "won't fix" is an accepted risk, never a negated "fix".
        assert_eq!(classify("won't fix").unwrap().stance, Stance::AcceptedRisk);
        // "not exploitable" is a false-positive reason, not a negation of one.
        assert_eq!(
            classify("The path is not exploitable").unwrap().stance,
            Stance::FalsePositive
        );
        // Two decisions in one comment: unclear.
        assert!(
            classify("false positive, or we just accept the risk")
                .unwrap()
                .mixed
        );
        assert_eq!(classify("nothing to see here"), None);
        assert_eq!(thread(Some("Done"), &["FP"]), Some(FalsePositive));
    }

    #[test]
    fn wording_that_reads_one_way_but_means_another() {
        // A wildcard word that is a negation turns the phrase around.
        assert_eq!(thread(None, &["The risk is not accepted."]), None);
        assert_eq!(
            thread(None, &["The risk was already accepted by the CISO."]),
            Some(AcceptedRisk)
        );
        // German negates after the verb.
        assert_eq!(thread(None, &["Wir akzeptieren das Risiko nicht."]), None);
        // "nothing to fix" is not a plan to fix.
        assert_eq!(
            thread(None, &["Rien à corriger, c'est une fausse détection."]),
            Some(FalsePositive)
        );
        // "no risk acceptance" is not "no risk".
        assert_eq!(thread(Some("Done"), &["No risk acceptance here."]), None);
        // A fix in the future or as a plan has not happened.
        assert_eq!(
            thread(Some("Done"), &["We will upgrade the library next sprint."]),
            None
        );
        assert_eq!(
            thread(Some("Done"), &["The fix will be deployed tomorrow."]),
            None
        );
        assert_eq!(thread(None, &["Let's just fix it."]), None);
        // A version's dots do not end a sentence.
        assert_eq!(
            thread(None, &["Bibliothek auf 4.17.21 aktualisiert."]),
            Some(Resolved)
        );
        // "moved the secret to the vault" is a fix; "moved to the team's backlog" is not.
        assert_eq!(
            thread(
                None,
                &["Rotated the key and moved the secret to the vault."]
            ),
            Some(Resolved)
        );
        assert_eq!(
            thread(Some("Done"), &["Moved to the platform team's backlog."]),
            None
        );
        // A reason shared by a false positive and an accepted risk: the acceptance decides.
        assert_eq!(
            thread(
                None,
                &["We accept the risk, the host is not reachable from outside."]
            ),
            Some(AcceptedRisk)
        );
        // A question is not what the comment states.
        assert_eq!(
            thread(None, &["False positive? No. Fixed in 2.1."]),
            Some(Resolved)
        );
        assert_eq!(thread(None, &["False positive?"]), None);
        // Portuguese "no" is "in the", not a negation.
        assert_eq!(
            thread(None, &["Listagem desligada no nginx e reimplantado."]),
            Some(Resolved)
        );
        assert_eq!(thread(None, &["No se ha desplegado."]), None);
        // An acceptance that ran out is no acceptance.
        assert_eq!(
            thread(
                Some("Done"),
                &["The risk acceptance expired, we must fix it now."]
            ),
            None
        );
        // "Safe", "certainly" and "we could" are not guesses.
        assert_eq!(
            thread(None, &["El endpoint ya es seguro, corregido en 2.1."]),
            Some(Resolved)
        );
        assert_eq!(
            thread(None, &["Com certeza é um falso positivo."]),
            Some(FalsePositive)
        );
        assert_eq!(
            thread(None, &["Wir konnten den Fix verifizieren, behoben."]),
            Some(Resolved)
        );
        // Quoted words and link targets are not the commenter's.
        assert_eq!(
            thread(
                None,
                &["{quote}false positive{quote}\nNo, we patched it in 2.1."]
            ),
            Some(Resolved)
        );
        assert_eq!(
            thread(
                None,
                &["Patched, see https://wiki.example.com/false-positive-handling"]
            ),
            Some(Resolved)
        );
    }

    #[test]
    fn closures_that_fixed_nothing_are_not_resolved() {
        for comment in [
            "Duplicate of SEC-12.",
            "Moved to the INFRA project.",
            "Backlog cleanup, closing old tickets.",
            "Cannot reproduce.",
            "Doublon de SEC-12.",
            "Duplicado de SEC-12.",
            "Nicht reproduzierbar.",
        ] {
            assert_eq!(thread(Some("Done"), &[comment]), None, "{comment}");
        }
        assert_eq!(thread(Some("Duplicate"), &[]), None);
        // A false-positive explanation outranks "could not reproduce".
        assert_eq!(
            thread(
                None,
                &["Could not reproduce: it is test code, false positive."]
            ),
            Some(FalsePositive)
        );
        // The setting restores the old reading.
        let config = PolicyConfig {
            not_fixed: NotFixedOutcome::Ignore,
            ..PolicyConfig::default()
        };
        let comments = [Comment {
            body: "Duplicate of SEC-12.".into(),
            ..Comment::default()
        }];
        let t = ClosedTicket {
            status_category: "done",
            resolution: Some("Done"),
            comments: &comments,
        };
        assert_eq!(decide(&t, &config).status, Some(Resolved));
    }

    #[test]
    fn no_phrase_is_listed_twice() {
        let mut seen = std::collections::BTreeMap::new();
        for (list, kind) in LISTS {
            for p in list {
                assert!(
                    p.bytes().all(|b| b.is_ascii_lowercase()
                        || b.is_ascii_digit()
                        || b == b' '
                        || b == b'*'),
                    "`{p}` is not in normalised form"
                );
                if let Some(first) = seen.insert(*p, kind) {
                    panic!("`{p}` is listed twice (first as {first:?})");
                }
            }
        }
    }

    /// The tokens of a text, words as their folded bytes, breaks as `|`, `^` and `?`.
    fn tokens(text: &str) -> (Vec<String>, bool) {
        let (t, marked) = Tokens::read(text);
        let words = (0..t.len())
            .map(|k| match t.kind(k) {
                TokenKind::Sentence => "|".to_owned(),
                TokenKind::Clause => "^".to_owned(),
                TokenKind::Question => "?".to_owned(),
                TokenKind::Word => {
                    let tok = t.list[k];
                    let (s, e) = (tok.start as usize, tok.end as usize);
                    let bytes: Vec<u8> = if tok.in_folded {
                        t.folded[s..e].to_vec()
                    } else {
                        t.raw[s..e].iter().map(|b| fold_ascii(*b)).collect()
                    };
                    assert_eq!(
                        finish_hash(tok.hash),
                        word_hash(&bytes),
                        "hash of {bytes:?}"
                    );
                    String::from_utf8(bytes).unwrap()
                }
            })
            .collect();
        (words, marked)
    }

    #[test]
    fn the_tokenizer_folds_words_and_merges_breaks() {
        let (t, marked) = tokens("Fixed in 2.4.1, ÜBER-prüft; Straße?! ok… Ende.");
        assert_eq!(
            t,
            [
                "fixed", "in", "2.4.1", "^", "uber", "pruft", "^", "strasse", "|", "ok", "ende",
                "|"
            ]
        );
        assert!(!marked);
        // A clause break after a sentence's end does not replace it; a question after does.
        assert_eq!(tokens("done. , next").0, ["done", "|", "next"]);
        assert_eq!(tokens("done. ? next").0, ["done", "?", "next"]);
        // Letters of other scripts stay; a character lower-casing to a letter and a mark
        // ends the word after the letter.
        assert_eq!(tokens("ИСПРАВЛЕНО İx").0, ["исправлено", "i", "x"]);
        // Markup that visible_text removes is noticed.
        for text in [
            "see {quote}x{quote}",
            "> fixed",
            "bq. fixed",
            "at https://x.example/",
        ] {
            assert!(tokens(text).1, "{text}");
        }
        assert!(!tokens("fixed: yes").1);
    }

    #[test]
    fn open_tickets_are_skipped() {
        let t = ClosedTicket {
            status_category: "indeterminate",
            resolution: None,
            comments: &[],
        };
        assert_eq!(decide(&t, &PolicyConfig::default()).status, None);
    }
}

#[cfg(test)]
mod fixture_threads {
    use super::*;

    /// Every thread in `tests/fixtures/closing-threads/threads.json` gets its expected decision.
    #[test]
    fn fixture_threads_decide_as_expected() {
        let text = include_str!("../../tests/fixtures/closing-threads/threads.json");
        let doc: serde_json::Value = serde_json::from_str(text).unwrap();
        let mut failures = Vec::new();
        for t in doc["threads"].as_array().unwrap() {
            let comments: Vec<Comment> = t["comments"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| Comment {
                    author: "someone".into(),
                    body: c.as_str().unwrap().to_owned(),
                    ..Comment::default()
                })
                .collect();
            let ticket = ClosedTicket {
                status_category: "done",
                resolution: t["resolution"].as_str(),
                comments: &comments,
            };
            let decision = decide(&ticket, &PolicyConfig::default());
            let got = decision.status.map(|s| s.as_str().to_owned());
            let want = t["expect"].as_str().map(str::to_owned);
            if got != want {
                failures.push(format!(
                    "{}: expected {want:?}, got {got:?} ({})",
                    t["name"], decision.reason
                ));
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }
}
