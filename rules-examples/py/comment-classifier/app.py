"""The comment classifier's idea in Python (the twin of rules-examples/ts/comment-classifier):
the last comment that takes a stance on the closure decides — False Positive, Accepted Risk
or Resolved — in English, German, French and Spanish. Precision first: a negated, hedged or
questioning comment leaves the decision to the host's default policy (`defer`), which reads
comments with the full six-language policy."""

import re

from verdict_rules import FindingStatus, StatusCategory, closure, log
from wit_world import exports
from wit_world.exports.closure import ClosureDecision, ClosureInput

# Every phrase of every stance in one pattern, searched in the comment lowercased once: a
# pattern that starts with a literal lets `re` skip ahead to where a phrase could begin, which
# a leading look-behind (the word edge) would prevent. The left edge is checked where a phrase
# matched; the right edge stays in the pattern.
STANCES = [FindingStatus.FALSE_POSITIVE, FindingStatus.ACCEPTED_RISK, FindingStatus.RESOLVED]
PHRASES = re.compile(
    r"(?:false positive|not a (?:real )?vulnerability|not exploitable|falsch[- ]positiv|fehlalarm"
    r"|kein echtes problem|faux positif|falso positivo"
    r"|(?P<risk>risk (?:is |was )?accepted|accept(?:ed)? the risk|risiko (?:wird )?akzeptiert"
    r"|risque accepté|riesgo aceptado|aceptamos el riesgo)"
    r"|(?P<fixed>fixed in|fixed by|fixed it|we fixed|patched|has been fixed|upgraded to|behoben"
    r"|corrigé|corregido|solucionado))(?![^\W_])"
)
NEGATION = re.compile(r"\b(not|no|never|isn't|wasn't|nicht|kein|pas|jamais|nunca)\s+(\w+\s+){0,2}$")
HEDGE = re.compile(r"\b(maybe|might|probably|perhaps|not sure|vielleicht|peut-être|quizás|tal vez)\b|\?")
UNCLEAR = "unclear"
NAMES = {
    FindingStatus.FALSE_POSITIVE: "false positive",
    FindingStatus.ACCEPTED_RISK: "accepted risk",
    FindingStatus.RESOLVED: "resolved",
}


def stance_of(body: str):
    """The stance one comment takes, UNCLEAR, or None when it takes none."""
    text = body.lower()
    first = [None, None, None]  # where each stance is first said, in the order of STANCES
    # Searched again from the next character after each match, so overlapping phrases are all
    # found, as with one look-behind pattern per stance.
    m = PHRASES.search(text)
    while m is not None:
        at = m.start()
        if at == 0 or not text[at - 1].isalnum():  # else mid-word
            group = 1 if m.group("risk") else 2 if m.group("fixed") else 0
            if first[group] is None:
                first[group] = at
        m = PHRASES.search(text, at + 1)
    for stance, at in zip(STANCES, first):
        if at is None:
            continue
        if HEDGE.search(text) or NEGATION.search(text[:at]):
            return UNCLEAR
        return stance
    return None


class Closure(exports.Closure):
    def decide(self, input: ClosureInput) -> ClosureDecision:
        if input.ticket.status.category != StatusCategory.DONE:
            return closure.defer()
        stances = [(c.id, s) for c in input.ticket.comments if (s := stance_of(c.body)) is not None]
        if not stances:
            return closure.defer()
        last_id, last = stances[-1]
        if last == UNCLEAR:
            log.info(f"comment {last_id} is negated, hedged or a question")
            return closure.defer()
        changed_mind = any(s != last for _, s in stances)
        note = " (an earlier comment said otherwise; the last word counts)" if changed_mind else ""
        return closure.apply(
            last, f"comment {last_id} says the finding is {NAMES[last]}{note}", 0.8 if changed_mind else 0.9
        )
