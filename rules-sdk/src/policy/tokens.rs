//! A comment read once into words and breaks, pointing into its raw text: the policy's
//! tokenizer, and the word hash the phrase tables are keyed by.

use super::phrases::{WILD_KEY, prefix_key_of};

/// What a byte is to the tokenizer: a word byte (letters lower-cased, digits: the byte
/// itself, always ≥ `b'0'`) or one of the classes below.
const C_BREAK: u8 = 0;
const C_SENTENCE: u8 = 1;
const C_CLAUSE: u8 = 2;
/// A dot: part of a word between digits (`2.4.1`), else a sentence's end.
const C_DOT: u8 = 3;
/// `{` or `>`: a word break that may start markup `visible_text` removes.
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
pub(super) enum TokenKind {
    Word,
    Sentence,
    Clause,
    Question,
}

#[derive(Debug, Clone, Copy)]
pub(super) struct Token {
    pub(super) kind: TokenKind,
    /// A word's bytes: `raw[start..end]` (ASCII, read through [`fold_ascii`]) or, for a
    /// word with non-ASCII letters, `folded[start..end]`, already folded.
    pub(super) start: u32,
    pub(super) end: u32,
    pub(super) in_folded: bool,
    /// The hash of the folded word ([`word_hash`]).
    pub(super) hash: u32,
    /// Evidence matched over this token: the match's number (0: none). A masked match
    /// counts as one word, and never as a negation, for later phrases.
    pub(super) mask: u16,
}

/// A comment read once: its words and breaks, pointing into the raw text. Only words with
/// non-ASCII letters are copied (folded); the rest is read in place.
pub(super) struct Tokens<'a> {
    pub(super) raw: &'a [u8],
    pub(super) folded: Vec<u8>,
    pub(super) list: Vec<Token>,
}

fn digit_dot(raw: &[u8], i: usize) -> bool {
    i > 0 && raw[i - 1].is_ascii_digit() && raw.get(i + 1).is_some_and(u8::is_ascii_digit)
}

impl<'a> Tokens<'a> {
    /// Splits a comment into words (lower-cased, accents folded, `ß` as `ss`) and breaks:
    /// `!`, a line end and a dot (unless between digits) end a sentence, `?` ends a question,
    /// `,` `;` `:` end a clause; breaks next to each other make one (a sentence's end wins
    /// over a clause's, the later of two sentence ends counts). Also says whether the text
    /// may hold markup `visible_text` would remove (`{`, `>`, `://`, `bq.`).
    ///
    /// One pass over the raw bytes: an ASCII letter costs a table lookup and a hash step.
    pub(super) fn read(text: &'a str) -> (Self, bool) {
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

    pub(super) fn len(&self) -> usize {
        self.list.len()
    }

    pub(super) fn kind(&self, at: usize) -> TokenKind {
        self.list[at].kind
    }

    /// Whether token `at` is a word whose folded bytes start with `prefix` (all of them when
    /// `whole`).
    pub(super) fn word_is(&self, at: usize, prefix: &[u8], whole: bool) -> bool {
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

    /// Whether token `at` is one of `words` (`hashes` are theirs, from `word_hashes`).
    pub(super) fn word_in(&self, at: usize, words: &[&str], hashes: &[u32]) -> bool {
        let hash = self.list[at].hash;
        hashes
            .iter()
            .zip(words)
            .any(|(h, w)| *h == hash && self.word_is(at, w.as_bytes(), true))
    }

    /// A word's first two folded bytes as a `Starts` key, if it is long enough to fit a
    /// `prefix*`.
    pub(super) fn prefix_key(&self, at: usize) -> Option<usize> {
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
    pub(super) fn prefix_hash(&self, at: usize, n: usize) -> Option<u32> {
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

/// FNV-1a, one byte at a time: cheap enough to run over every word of a comment, and a
/// `const fn`, so the phrases' first words are hashed at compile time.
const fn hash_step(hash: u32, b: u8) -> u32 {
    (hash ^ b as u32).wrapping_mul(0x0100_0193)
}
const HASH_START: u32 = 0x811c_9dc5;

/// A word's hash; never 0, which marks an empty slot.
pub(super) const fn word_hash(word: &[u8]) -> u32 {
    let mut h = HASH_START;
    let mut i = 0;
    while i < word.len() {
        h = hash_step(h, word[i]);
        i += 1;
    }
    finish_hash(h)
}

pub(super) const fn finish_hash(h: u32) -> u32 {
    if h == 0 { 1 } else { h }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
