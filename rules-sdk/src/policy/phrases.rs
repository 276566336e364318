//! The lexicon as compile-time hash tables — phrases found by their first word, first two
//! words or a `prefix*` — and matching one phrase against the tokens at a place.

use super::Stance;
use super::lexicon::*;
use super::tokens::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
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
pub(super) struct Phrase {
    pub(super) text: &'static [u8],
    pub(super) kind: Kind,
    /// Where the phrase stands in [`LISTS`] (list by list, in order): of two evidence
    /// phrases of one length matching at one place, the lower rank wins.
    pub(super) rank: u16,
}

const NO_PHRASE: Phrase = Phrase {
    text: b"",
    kind: Kind::Hedge,
    rank: u16::MAX,
};

pub(super) const LISTS: [(&[&str], Kind); 14] = [
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
pub(super) const WILD_KEY: usize = 5;

#[derive(Clone, Copy)]
pub(super) struct Slot {
    pub(super) hash: u32,
    pub(super) start: u16,
    pub(super) end: u16,
}

/// Phrases grouped by a key hash in an open-addressing table (at most half full, so a key
/// that is not there is usually told so by one probe); within a group, longest first.
pub(super) struct PhraseTable<const PHRASES: usize, const SLOTS: usize> {
    phrases: [Phrase; PHRASES],
    slots: [Slot; SLOTS],
}

/// Which table a phrase is in.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum TableOf {
    /// A literal first word, and no literal second one: keyed by the first word.
    FirstWord,
    /// Two literal first words: keyed by both ([`pair_hash`]), so the many phrases that
    /// start with "not", "is" or "wird" are compared only where the next word fits too.
    FirstTwoWords,
    /// A `prefix*` first word: keyed by its first [`WILD_KEY`] bytes.
    Prefix,
}

/// Two words' hashes as one key.
pub(super) const fn pair_hash(first: u32, second: u32) -> u32 {
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
pub(super) const fn table_size(table: TableOf) -> usize {
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
    pub(super) fn get(&self, hash: u32) -> &[Phrase] {
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
pub(super) static BY_WORD: PhraseTable<{ table_size(TableOf::FirstWord) }, 1024> =
    build_table(TableOf::FirstWord);
pub(super) static BY_TWO_WORDS: PhraseTable<{ table_size(TableOf::FirstTwoWords) }, 4096> =
    build_table(TableOf::FirstTwoWords);
pub(super) static BY_PREFIX: PhraseTable<{ table_size(TableOf::Prefix) }, 256> =
    build_table(TableOf::Prefix);

/// 16,384 bits.
pub(super) struct BitSet([u64; 256]);

impl BitSet {
    const fn set(&mut self, i: usize) {
        self.0[(i >> 6) & 255] |= 1 << (i & 63);
    }
    pub(super) fn has(&self, i: usize) -> bool {
        self.0[(i >> 6) & 255] & (1 << (i & 63)) != 0
    }
}

/// What a word must be to start a phrase: its hash's top bits are a phrase's literal first
/// word's, or its first two bytes a `prefix*`'s (`Tokens::prefix_key`).
pub(super) struct Starts {
    pub(super) words: BitSet,
    pub(super) prefixes: BitSet,
}

pub(super) const fn prefix_key_of(a: u8, b: u8) -> usize {
    ((a as usize & 127) << 7) | (b as usize & 127)
}

pub(super) static STARTS: Starts = {
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
pub(super) const fn word_hashes<const N: usize>(words: &[&str]) -> [u32; N] {
    let mut out = [0u32; N];
    let mut i = 0;
    while i < N {
        out[i] = word_hash(words[i].as_bytes());
        i += 1;
    }
    out
}

pub(super) static NEGATION_HASHES: [u32; NEGATIONS.len()] = word_hashes(NEGATIONS);
pub(super) static NEGATION_AFTER_HASHES: [u32; NEGATIONS_AFTER.len()] =
    word_hashes(NEGATIONS_AFTER);
pub(super) static NO_BRIDGE_HASHES: [u32; NO_BRIDGES.len()] = word_hashes(NO_BRIDGES);
pub(super) static MOVE_TARGET_HASHES: [u32; MOVE_TARGETS.len()] = word_hashes(MOVE_TARGETS);

/// A match: how many tokens the phrase covers, and whether a word a `*` stood for is a
/// negation ("risk * accepted" on "risk not accepted").
#[derive(Debug, Clone, Copy)]
pub(super) struct Match {
    pub(super) len: usize,
    pub(super) negated_inside: bool,
}

/// Matches a phrase at token `at`: a word ending in `*` stands for any word with that
/// prefix, a `*` alone for one whole word (never a sentence or clause break).
pub(super) fn match_phrase(tokens: &Tokens<'_>, at: usize, pattern: &[u8]) -> Option<Match> {
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
