//! The built-in default policy: what a closed ticket means, from its resolution and its
//! comment thread. Precision first — a wrong False Positive or Accepted Risk hides a live
//! vulnerability — so unclear, hedged or conflicting evidence means `Skip`.
//!
//! Comment evidence is read in English, German, Spanish and French, after lower-casing and
//! folding accents, phrase by phrase on word boundaries. A phrase preceded (within its
//! clause) by a negation counts against its meaning ("not a false positive"). A later
//! comment that disagrees replaces the earlier stance only when it says it is a correction
//! ("actually", "correction", "en fait", …); otherwise disagreement is a conflict.

use crate::FindingStatus;
pub use crate::contract::Comment;

/// What the policy looks at.
#[derive(Debug, Clone)]
pub struct ClosedTicket<'a> {
    /// The status category key: `new`, `indeterminate` or `done`.
    pub status_category: &'a str,
    /// The resolution's display name, if any (e.g. "Done", "Won't Do", "Known Risk").
    pub resolution: Option<&'a str>,
    pub comments: &'a [Comment],
}

/// Which resolution names mean what (compared case-insensitively). Names in no list — such
/// as "Won't Do", "Duplicate" or "Cannot Reproduce" — say nothing on their own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyConfig {
    pub false_positive_resolutions: Vec<String>,
    pub accepted_risk_resolutions: Vec<String>,
    pub resolved_resolutions: Vec<String>,
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
    /// Evidence that the finding is real and not dealt with ("not a false positive",
    /// "not fixed", "we do not accept the risk").
    StillReal,
}

impl Stance {
    pub fn describe(self) -> &'static str {
        match self {
            Stance::FalsePositive => "a false positive",
            Stance::AcceptedRisk => "an accepted risk",
            Stance::Fixed => "fixed",
            Stance::StillReal => "still a real, unfixed issue",
        }
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
}

const FALSE_POSITIVE: &[&str] = &[
    // en
    "false positive",
    "false positives",
    "falsepositive",
    "fp",
    "not a real issue",
    "not a real vulnerability",
    "not a real finding",
    "not an actual issue",
    "not exploitable",
    "cannot be exploited",
    "can not be exploited",
    "not reachable",
    "unreachable code",
    "dead code",
    "test code",
    "test fixture",
    "test fixtures",
    "only in tests",
    "only used in tests",
    "unit test",
    "unit tests",
    "test data",
    "sample data",
    "dummy credentials",
    "dummy secret",
    "dummy key",
    "example key",
    "example credentials",
    "placeholder value",
    "fake credentials",
    "fake key",
    // de
    "falsch positiv",
    "falsch positive",
    "falsch positives",
    "fehlalarm",
    "kein echtes problem",
    "keine echte schwachstelle",
    "nicht ausnutzbar",
    "testcode",
    "nur in tests",
    "nur in den tests",
    "testdaten",
    // es
    "falso positivo",
    "falsos positivos",
    "no es explotable",
    "no explotable",
    "codigo de prueba",
    "codigo de pruebas",
    "solo en pruebas",
    "solo en los tests",
    "datos de prueba",
    "no es un problema real",
    // fr
    "faux positif",
    "faux positifs",
    "non exploitable",
    "pas exploitable",
    "code de test",
    "uniquement dans les tests",
    "donnees de test",
    "pas un vrai probleme",
];

const ACCEPTED_RISK: &[&str] = &[
    // en
    "accept the risk",
    "accepted the risk",
    "accepting the risk",
    "accepts the risk",
    "risk accepted",
    "accepted risk",
    "risk acceptance",
    "risk is accepted",
    "risk has been accepted",
    "known risk",
    "won t fix",
    "wont fix",
    "will not fix",
    "will not be fixed",
    "not going to fix",
    "exception approved",
    "approved exception",
    "risk exception",
    "security exception",
    // de
    "risiko akzeptiert",
    "risiko wird akzeptiert",
    "akzeptieren das risiko",
    "risiko akzeptieren",
    "risikoakzeptanz",
    "risiko ubernommen",
    "bekanntes risiko",
    "wird nicht behoben",
    "ausnahme genehmigt",
    // es
    "riesgo aceptado",
    "aceptamos el riesgo",
    "aceptar el riesgo",
    "aceptacion del riesgo",
    "aceptacion de riesgo",
    "riesgo conocido",
    "no se corregira",
    "excepcion aprobada",
    // fr
    "risque accepte",
    "acceptons le risque",
    "accepter le risque",
    "acceptation du risque",
    "risque connu",
    "ne sera pas corrige",
    "exception approuvee",
];

const FIXED: &[&str] = &[
    // en
    "fixed",
    "fix merged",
    "fix deployed",
    "fix released",
    "patched",
    "remediated",
    "upgraded",
    "bumped the",
    "key rotated",
    "rotated the key",
    "rotated the secret",
    "secret rotated",
    "credentials rotated",
    "revoked the key",
    "removed the secret",
    // de
    "behoben",
    "gefixt",
    "gepatcht",
    "korrigiert",
    "aktualisiert auf",
    "schlussel rotiert",
    // es
    "corregido",
    "arreglado",
    "solucionado",
    "parcheado",
    "actualizado a",
    "clave rotada",
    // fr
    "corrige",
    "resolu",
    "patche",
    "mis a jour vers",
    "cle changee",
];

/// Phrases saying the finding is real ("true positive", "exploitable"). Negated, they argue
/// for a false positive ("not vulnerable").
const REAL: &[&str] = &[
    // en
    "true positive",
    "real issue",
    "real vulnerability",
    "real problem",
    "valid finding",
    "legit finding",
    "confirmed vulnerability",
    "exploitable",
    "vulnerable",
    "is reachable",
    // de
    "echtes problem",
    "echte schwachstelle",
    "ausnutzbar",
    "verwundbar",
    "bestatigt",
    // es
    "verdadero positivo",
    "problema real",
    "vulnerabilidad real",
    "explotable",
    "vulnerable",
    // fr
    "vrai positif",
    "vrai probleme",
    "vulnerabilite reelle",
    "exploitable",
];

const NEGATIONS: &[&str] = &[
    "not", "no", "never", "t", "isnt", "wasnt", "dont", "didnt", "nor", "without", "nicht", "kein",
    "keine", "keinen", "keiner", "nie", "niemals", "ohne", "nunca", "ni", "sin", "pas", "jamais",
    "non", "sans", "aucun", "aucune",
];

const HEDGES: &[&str] = &[
    "maybe",
    "might",
    "may be",
    "possibly",
    "probably",
    "perhaps",
    "not sure",
    "unsure",
    "i think",
    "i guess",
    "i believe",
    "seems",
    "looks like",
    "could be",
    "likely",
    "vielleicht",
    "moglicherweise",
    "wahrscheinlich",
    "eventuell",
    "vermutlich",
    "scheint",
    "quizas",
    "quiza",
    "tal vez",
    "posiblemente",
    "probablemente",
    "parece",
    "creo que",
    "peut etre",
    "probablement",
    "je pense",
    "il semble",
    "semble",
];

const CORRECTIONS: &[&str] = &[
    "actually",
    "correction",
    "update",
    "scratch that",
    "on second thought",
    "my mistake",
    "i was wrong",
    "turns out",
    "after further",
    "on closer",
    "we were wrong",
    "korrektur",
    "eigentlich",
    "nachtrag",
    "stellt sich heraus",
    "doch",
    "ich lag falsch",
    "correccion",
    "en realidad",
    "me equivoque",
    "resulta que",
    "actualizacion",
    "en fait",
    "finalement",
    "je me suis trompe",
    "rectification",
];

/// Lower-cases, folds accents and `ß`, and turns every non-alphanumeric run into one space,
/// with a space at both ends so phrases match on word boundaries.
/// What an ASCII byte becomes: itself lower-cased (letters, digits), a word break (0) or a
/// clause break (1).
static ASCII_CLASS: [u8; 128] = {
    let mut t = [0u8; 128];
    let mut b = 0;
    while b < 128 {
        let c = b as u8;
        t[b] = match c {
            b'a'..=b'z' | b'0'..=b'9' => c,
            b'A'..=b'Z' => c + 32,
            b'.' | b',' | b';' | b':' | b'!' | b'?' | b'\n' => 1,
            _ => 0,
        };
        b += 1;
    }
    t
};

fn normalize(text: &str) -> Vec<u8> {
    // Byte-level, table-driven for ASCII (most comments); the char path only for the rest.
    // This function dominates a classifier's cost in wasm, where every instruction is fuel,
    // so it writes through a cursor into a buffer sized for the worst case.
    let bytes = text.as_bytes();
    // Worst case per input byte: " | " for a clause mark (3) or "ss" for 'ß' (2 bytes in).
    let mut out = vec![0u8; bytes.len() * 3 + 8];
    out[0] = b' ';
    let mut w = 1;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b < 0x80 {
            match ASCII_CLASS[b as usize] {
                0 => {
                    if out[w - 1] != b' ' {
                        out[w] = b' ';
                        w += 1;
                    }
                }
                1 => {
                    if !(w >= 3 && &out[w - 3..w] == b" | ") {
                        if out[w - 1] != b' ' {
                            out[w] = b' ';
                            w += 1;
                        }
                        out[w] = b'|';
                        out[w + 1] = b' ';
                        w += 2;
                    }
                }
                c => {
                    out[w] = c;
                    w += 1;
                }
            }
            i += 1;
            continue;
        }
        let Some(c) = text[i..].chars().next() else {
            break;
        };
        i += c.len_utf8();
        for c in c.to_lowercase() {
            let folded: &[u8] = match c {
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
                c if c.is_alphanumeric() => {
                    let mut buf = [0u8; 4];
                    let enc = c.encode_utf8(&mut buf).as_bytes();
                    if w + enc.len() + 4 > out.len() {
                        out.resize(out.len() * 2 + 8, 0);
                    }
                    out[w..w + enc.len()].copy_from_slice(enc);
                    w += enc.len();
                    continue;
                }
                _ => {
                    if out[w - 1] != b' ' {
                        out[w] = b' ';
                        w += 1;
                    }
                    continue;
                }
            };
            if w + folded.len() + 4 > out.len() {
                out.resize(out.len() * 2 + 8, 0);
            }
            out[w..w + folded.len()].copy_from_slice(folded);
            w += folded.len();
        }
    }
    if out[w - 1] != b' ' {
        out[w] = b' ';
        w += 1;
    }
    out.truncate(w);
    out
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// What the phrase means, and what it means when negated.
    Evidence(Stance, Stance),
    Hedge,
    Correction,
}

#[derive(Clone, Copy)]
struct Phrase {
    text: &'static [u8],
    kind: Kind,
}

const KEY_SPACE: usize = 38;
const BUCKETS: usize = KEY_SPACE * KEY_SPACE;

const fn key_byte(b: u8) -> usize {
    match b {
        b'a'..=b'z' => (b - b'a') as usize,
        b'0'..=b'9' => 26 + (b - b'0') as usize,
        b' ' => 36,
        _ => 37,
    }
}

const fn bucket_of(text: &[u8]) -> usize {
    let second = if text.len() > 1 {
        key_byte(text[1])
    } else {
        37
    };
    key_byte(text[0]) * KEY_SPACE + second
}

const LISTS: [(&[&str], Kind); 6] = [
    (
        ACCEPTED_RISK,
        Kind::Evidence(Stance::AcceptedRisk, Stance::StillReal),
    ),
    (
        FALSE_POSITIVE,
        Kind::Evidence(Stance::FalsePositive, Stance::StillReal),
    ),
    (FIXED, Kind::Evidence(Stance::Fixed, Stance::StillReal)),
    (
        REAL,
        Kind::Evidence(Stance::StillReal, Stance::FalsePositive),
    ),
    (HEDGES, Kind::Hedge),
    (CORRECTIONS, Kind::Correction),
];

const PHRASE_COUNT: usize = ACCEPTED_RISK.len()
    + FALSE_POSITIVE.len()
    + FIXED.len()
    + REAL.len()
    + HEDGES.len()
    + CORRECTIONS.len();

/// Every phrase (evidence, hedges, corrections) bucketed by its first two bytes, longest
/// first within a bucket, built at compile time: a fresh wasm instance pays nothing for it,
/// and a comment is scanned once, word by word.
struct PhraseIndex {
    phrases: [Phrase; PHRASE_COUNT],
    starts: [u16; BUCKETS + 1],
}

const fn build_index() -> PhraseIndex {
    let mut starts = [0u16; BUCKETS + 1];
    let mut l = 0;
    while l < LISTS.len() {
        let list = LISTS[l].0;
        let mut i = 0;
        while i < list.len() {
            starts[bucket_of(list[i].as_bytes()) + 1] += 1;
            i += 1;
        }
        l += 1;
    }
    let mut b = 1;
    while b <= BUCKETS {
        starts[b] += starts[b - 1];
        b += 1;
    }
    let mut next = starts;
    let mut phrases = [Phrase {
        text: b"",
        kind: Kind::Hedge,
    }; PHRASE_COUNT];
    // Lists are placed in order, so a phrase in two evidence lists keeps the first list's
    // meaning (lookups take the first evidence phrase that matches).
    let mut l = 0;
    while l < LISTS.len() {
        let (list, kind) = LISTS[l];
        let mut i = 0;
        while i < list.len() {
            let text = list[i].as_bytes();
            let b = bucket_of(text);
            phrases[next[b] as usize] = Phrase { text, kind };
            next[b] += 1;
            i += 1;
        }
        l += 1;
    }
    // Longest first within a bucket (a stable insertion sort; buckets are small).
    let mut b = 0;
    while b < BUCKETS {
        let (lo, hi) = (starts[b] as usize, starts[b + 1] as usize);
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
        b += 1;
    }
    PhraseIndex { phrases, starts }
}

static INDEX: PhraseIndex = build_index();

impl PhraseIndex {
    /// The phrases that start at `at` (a word start) and end on a word boundary, longest
    /// first.
    fn at<'a>(&'a self, norm: &'a [u8], at: usize) -> impl Iterator<Item = &'a Phrase> + 'a {
        let rest = &norm[at..];
        let range = if rest.len() < 2 {
            0..0
        } else {
            let b = bucket_of(rest);
            self.starts[b] as usize..self.starts[b + 1] as usize
        };
        self.phrases[range]
            .iter()
            .filter(move |p| rest.starts_with(p.text) && rest.get(p.text.len()) == Some(&b' '))
    }
}

/// Whether a negation stands within the three words before `start`, in the same clause.
fn negated(norm: &[u8], start: usize) -> bool {
    let before = &norm[..start];
    let clause = before.rsplit(|b| *b == b'|').next().unwrap_or(before);
    clause
        .split(|b| *b == b' ')
        .filter(|w| !w.is_empty())
        .rev()
        .take(3)
        .any(|w| NEGATIONS.iter().any(|n| n.as_bytes() == w))
}

/// The sentence (between clause marks) around a byte offset.
fn sentence_around(norm: &[u8], at: usize) -> (usize, usize) {
    let start = norm[..at]
        .iter()
        .rposition(|b| *b == b'|')
        .map(|i| i + 1)
        .unwrap_or(0);
    let end = norm[at..]
        .iter()
        .position(|b| *b == b'|')
        .map(|i| at + i)
        .unwrap_or(norm.len());
    (start, end)
}

fn trim_spaces(s: &[u8]) -> &[u8] {
    let start = s.iter().position(|b| *b != b' ').unwrap_or(s.len());
    let end = s.iter().rposition(|b| *b != b' ').map_or(start, |i| i + 1);
    &s[start..end]
}

/// Reads one comment. `None` when it says nothing about what the closure means.
pub fn classify(text: &str) -> Option<CommentSignal> {
    let original = normalize(text);
    let index = &INDEX;
    // Matched evidence is masked so its words count neither as negations for later phrases
    // ("won't fix … fixed") nor as evidence twice. Hedges and corrections are looked for in
    // the unmasked text, at every word.
    let bytes = &original[..];
    let mut norm: Vec<u8> = Vec::new();
    let mut found: Vec<(Stance, usize)> = Vec::new();
    let mut hedges: Vec<usize> = Vec::new();
    let mut correction = false;
    let mut evidence_from = 1;
    let mut at = 1;
    while at < bytes.len() {
        let mut evidence = None;
        for p in index.at(bytes, at) {
            match p.kind {
                Kind::Hedge => hedges.push(at),
                Kind::Correction => correction = true,
                Kind::Evidence(stance, negated_stance) => {
                    if evidence.is_none() && at >= evidence_from {
                        evidence = Some((p.text.len(), stance, negated_stance));
                    }
                }
            }
        }
        if let Some((len, stance, negated_stance)) = evidence {
            if norm.is_empty() {
                norm = bytes.to_vec();
            }
            let s = if negated(&norm, at) {
                negated_stance
            } else {
                stance
            };
            found.push((s, at));
            norm[at..at + len].fill(b'#');
            evidence_from = at + len + 1;
        }
        // Next word start.
        match bytes[at..].iter().position(|b| *b == b' ') {
            Some(i) => at += i + 1,
            None => break,
        }
    }
    if found.is_empty() {
        return None;
    }
    // Within one comment an explicit decision outranks "still real" ("not a false positive,
    // but we accept the risk"; "it was exploitable, now patched"); two different decisions
    // make the comment unclear.
    let decisions: Vec<Stance> = found
        .iter()
        .map(|f| f.0)
        .filter(|s| *s != Stance::StillReal)
        .collect();
    let stance = match decisions.first() {
        Some(first) if decisions.iter().all(|s| s == first) => *first,
        Some(_) => {
            return Some(CommentSignal {
                stance: Stance::StillReal,
                hedged: true,
                correction: false,
            });
        }
        None => Stance::StillReal,
    };
    let at = found
        .iter()
        .find(|f| f.0 == stance)
        .map(|f| f.1)
        .unwrap_or(0);
    let (sentence_start, sentence_end) = sentence_around(&original, at);
    let sentence = trim_spaces(&original[sentence_start..sentence_end]);
    let question = text.contains('?') && {
        // The question mark must close the sentence the evidence is in.
        original[at..].contains(&b'|')
            && text.split(['.', '!', '\n']).any(|s| {
                s.contains('?')
                    && normalize(s)
                        .windows(sentence.len().max(1))
                        .any(|w| w == sentence)
            })
    };
    let hedged = question
        || hedges
            .iter()
            .any(|h| (sentence_start..sentence_end).contains(h));
    Some(CommentSignal {
        stance,
        hedged,
        correction,
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ResolutionMeaning {
    FalsePositive,
    AcceptedRisk,
    Resolved,
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
        if signal.hedged {
            doubt_after = Some(i);
            continue;
        }
        match stance {
            None => stance = Some((signal.stance, i)),
            Some((s, _)) if s == signal.stance => stance = Some((s, i)),
            Some(_) if signal.correction => stance = Some((signal.stance, i)),
            Some((s, j)) => {
                return ThreadStance::Unclear(format!(
                    "the comments conflict: comment {} says {}, comment {} says {}",
                    j + 1,
                    s.describe(),
                    i + 1,
                    signal.stance.describe()
                ));
            }
        }
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
    let (stance, doubt_after) = match thread_stance(ticket.comments) {
        ThreadStance::Unclear(why) => return Decision::skip(why),
        ThreadStance::Clear { stance, comment } => (Some((stance, comment)), None),
        ThreadStance::Unsure => (None, Some(())),
        ThreadStance::Silent => (None, None),
    };
    let resolution = resolution_meaning(ticket.resolution, config);
    let res_name = ticket.resolution.unwrap_or("none");
    use FindingStatus::*;
    use ResolutionMeaning as R;
    match (stance.map(|s| s.0), resolution) {
        (Some(Stance::FalsePositive), R::AcceptedRisk)
        | (Some(Stance::AcceptedRisk), R::FalsePositive) => Decision::skip(format!(
            "the comments and the resolution `{res_name}` disagree"
        )),
        (Some(Stance::Fixed) | Some(Stance::StillReal), R::FalsePositive | R::AcceptedRisk) => {
            Decision::skip(format!(
                "the comments say the issue is real but the resolution is `{res_name}`"
            ))
        }
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
        (Some(Stance::StillReal), R::Resolved) => Decision::apply(
            Resolved,
            0.7,
            format!("closed as `{res_name}`; comments confirm the issue was real"),
        ),
        (Some(Stance::StillReal), _) => Decision::skip(format!(
            "the comments say the issue is real, but the resolution `{res_name}` does not say it was fixed"
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
            Some(Resolved),
            "real and closed as Done"
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
            classify("false positive, or maybe we just accept the risk")
                .unwrap()
                .hedged
        );
        assert_eq!(classify("nothing to see here"), None);
        assert_eq!(thread(Some("Done"), &["FP"]), Some(FalsePositive));
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
