//! The built-in default policy: what a closed ticket means, from its resolution and its
//! comment thread. Precision first — a wrong False Positive or Accepted Risk hides a live
//! vulnerability, a wrong Resolved hides one too — so unclear, hedged or conflicting evidence
//! means `Skip`.
//!
//! Comments are read in English, German, Spanish, French, Portuguese and Italian (the words
//! are in [`lexicon`]): quoted text, code blocks and links are left out, the rest is
//! lower-cased with accents folded and matched phrase by phrase on word boundaries ([`tokens`]
//! reads a comment in one pass, [`phrases`] holds the lexicon as hash tables). A phrase
//! with a negation shortly before it in its clause means its opposite ("not a false
//! positive"); a fix in the future or as an obligation ("will be fixed") has not happened.
//! Across a thread the last word counts where it reports a fact (fixed, still vulnerable);
//! replacing one verdict with another needs the comment to say it corrects itself
//! ("actually", "en fait", …), otherwise the thread is unclear.

mod lexicon;
mod phrases;
mod tokens;

use crate::FindingStatus;
pub use crate::contract::Comment;
use lexicon::*;
use phrases::*;
use tokens::*;

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
    // Nothing after the phrase is masked yet: evidence is matched left to right.
    let after = end < tokens.len() && tokens.word_in(end, NEGATIONS_AFTER, &NEGATION_AFTER_HASHES);
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
