"""The comment classifier's idea in Python (the twin of rules-examples/ts/comment-classifier):
the last comment that takes a stance on the closure decides — False Positive, Accepted Risk
or Resolved — in English, German, French and Spanish. Precision first: a negated, hedged or
questioning comment leaves the decision to the host's default policy (`defer`), which reads
comments with the full six-language policy."""

import re

from verdict_rules import FindingStatus, StatusCategory, closure, log
from wit_world import exports
from wit_world.exports.closure import ClosureDecision, ClosureInput

# Word edges that know accented letters.
EDGE_L, EDGE_R = r"(?<![^\W_])", r"(?![^\W_])"
STANCES = [
    (
        FindingStatus.FALSE_POSITIVE,
        r"false positive|not a (real )?vulnerability|not exploitable|falsch[- ]positiv|fehlalarm"
        r"|kein echtes problem|faux positif|falso positivo",
    ),
    (
        FindingStatus.ACCEPTED_RISK,
        r"risk (is |was )?accepted|accept(ed)? the risk|risiko (wird )?akzeptiert|risque accepté"
        r"|riesgo aceptado|aceptamos el riesgo",
    ),
    (
        FindingStatus.RESOLVED,
        r"fixed in|fixed by|fixed it|we fixed|patched|has been fixed|upgraded to|behoben|corrigé"
        r"|corregido|solucionado",
    ),
]
PATTERNS = [(s, re.compile(EDGE_L + "(" + p + ")" + EDGE_R, re.IGNORECASE)) for s, p in STANCES]
NEGATION = re.compile(r"\b(not|no|never|isn't|wasn't|nicht|kein|pas|jamais|nunca)\s+(\w+\s+){0,2}$", re.IGNORECASE)
HEDGE = re.compile(r"\b(maybe|might|probably|perhaps|not sure|vielleicht|peut-être|quizás|tal vez)\b|\?", re.IGNORECASE)
UNCLEAR = "unclear"
NAMES = {
    FindingStatus.FALSE_POSITIVE: "false positive",
    FindingStatus.ACCEPTED_RISK: "accepted risk",
    FindingStatus.RESOLVED: "resolved",
}


def stance_of(body: str):
    """The stance one comment takes, UNCLEAR, or None when it takes none."""
    for stance, pattern in PATTERNS:
        m = pattern.search(body)
        if not m:
            continue
        if HEDGE.search(body) or NEGATION.search(body[: m.start()]):
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
