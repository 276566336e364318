"""The comment classifier's idea in Python (the twin of rules-examples/ts/comment-classifier):
the last comment that takes a stance on the closure decides — False Positive, Accepted Risk
or Resolved — in English, German, French and Spanish. Precision first: a negated, hedged or
questioning comment leaves the decision to the host's default policy (`defer`), which reads
comments with the full six-language policy."""

import re

from verdict_rules import FindingStatus, StatusCategory, closure, find_phrases, log
from wit_world import exports
from wit_world.exports.closure import ClosureDecision, ClosureInput

# The order is the precedence within one comment.
STANCES = [
    (
        FindingStatus.FALSE_POSITIVE,
        [
            "false positive",
            "not a vulnerability",
            "not a real vulnerability",
            "not exploitable",
            "falsch positiv",
            "falsch-positiv",
            "fehlalarm",
            "kein echtes problem",
            "faux positif",
            "falso positivo",
        ],
    ),
    (
        FindingStatus.ACCEPTED_RISK,
        [
            "risk accepted",
            "risk is accepted",
            "risk was accepted",
            "accept the risk",
            "accepted the risk",
            "risiko akzeptiert",
            "risiko wird akzeptiert",
            "risque accepté",
            "riesgo aceptado",
            "aceptamos el riesgo",
        ],
    ),
    (
        FindingStatus.RESOLVED,
        [
            "fixed in",
            "fixed by",
            "fixed it",
            "we fixed",
            "patched",
            "has been fixed",
            "upgraded to",
            "behoben",
            "corrigé",
            "corregido",
            "solucionado",
        ],
    ),
]
# A negation at most two words before the phrase ("not fixed", "n'est pas vraiment corrigé").
NEGATIONS = ["not", "no", "never", "isn't", "wasn't", "nicht", "kein", "pas", "jamais", "nunca"]
HEDGES = ["maybe", "might", "probably", "perhaps", "not sure", "vielleicht", "peut-être", "quizás", "tal vez", "?"]
UNCLEAR = "unclear"
NAMES = {
    FindingStatus.FALSE_POSITIVE: "false positive",
    FindingStatus.ACCEPTED_RISK: "accepted risk",
    FindingStatus.RESOLVED: "resolved",
}

# Every phrase in one list, searched by the host in one call per decision. Each phrase's
# kind: ("stance", status), ("negation", how many words the negation is) or ("hedge",).
PHRASES: list[str] = []
KINDS: list[tuple] = []
for status, phrases in STANCES:
    PHRASES += phrases
    KINDS += [("stance", status)] * len(phrases)
for negation in NEGATIONS:
    PHRASES.append(negation)
    # How many words the negation itself is ("isn't" is two: `isn` and `t`).
    KINDS.append(("negation", len(re.findall(r"[^\W_]+", negation))))
PHRASES += HEDGES
KINDS += [("hedge",)] * len(HEDGES)


def stance_of(found):
    """The stance one comment takes, UNCLEAR, or None when it takes none (`found`: its
    matches, ordered by offset)."""
    for status, _ in STANCES:
        first = next((m for m in found if KINDS[m.phrase] == ("stance", status)), None)
        if first is None:
            continue
        negated = any(
            KINDS[m.phrase][0] == "negation" and 0 <= first.word - m.word - KINDS[m.phrase][1] <= 2 for m in found
        )
        if negated or any(KINDS[m.phrase][0] == "hedge" for m in found):
            return UNCLEAR
        return status
    return None


class Closure(exports.Closure):
    def decide(self, input: ClosureInput) -> ClosureDecision:
        if input.ticket.status.category != StatusCategory.DONE:
            return closure.defer()
        comments = input.ticket.comments
        per_comment = [[] for _ in comments]
        for m in find_phrases([c.body for c in comments], PHRASES):
            per_comment[m.text].append(m)
        stances = [(c.id, s) for c, found in zip(comments, per_comment) if (s := stance_of(found)) is not None]
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
