"""Helpers for Verdict rules written in Python.

A rule is a module with classes named after the decisions it makes (`Closure`, `Transition`,
`Ticketing`), built with `verdict-rule-py build`. The default policy's reading of comments is
not here: a rule that does not know answers `defer` and the host's default policy decides.
"""

from __future__ import annotations

# Imported here, not where used: a built rule is a snapshot taken after its imports ran, and
# it has no file system to import anything later.
import json
import sys
from datetime import datetime, timedelta, timezone
from typing import Any

if sys.platform != "wasi":
    # Natively (tests, editors) the contract's bindings are generated on first use.
    from . import bindings as _bindings

    _bindings.ensure()

from wit_world.imports import host, types  # noqa: E402

DAY_MS = 86_400_000

Severity = types.Severity
FindingStatus = types.FindingStatus
StatusCategory = types.StatusCategory


class _Log:
    """The rule's bounded log (the host keeps the first `rules.limits.log_bytes` per run)."""

    def debug(self, message: str) -> None:
        host.log(host.Level.DEBUG, str(message))

    def info(self, message: str) -> None:
        host.log(host.Level.INFO, str(message))

    def warn(self, message: str) -> None:
        host.log(host.Level.WARN, str(message))

    def error(self, message: str) -> None:
        host.log(host.Level.ERROR, str(message))


log = _Log()


def find_phrases(texts: list[str], phrases: list[str]) -> list[host.PhraseMatch]:
    """Every place each phrase is said in each text — as whole words, in any case, any run of
    whitespace matching one space — found by the host in native code. Each match has `text`
    and `phrase` (indexes into the lists), `offset` (characters of the text before it) and
    `word` (words that ended before it); ordered by text, offset, phrase. At most 1,000
    phrases and 10,000 matches per call; the host charges fuel for the work."""
    return host.find_phrases(texts, phrases)


if sys.platform != "wasi":
    # Natively the search is computed here, exactly as the host computes it.
    from . import text as _text

    host.find_phrases = lambda texts, phrases: _text.find_phrases(texts, phrases, host.PhraseMatch)


class Config:
    """The tenant's settings as the rule sees them."""

    def __init__(self, entries: list[types.ConfigEntry]):
        self.values = {e.key: e.value for e in entries}

    def get(self, key: str) -> str | None:
        return self.values.get(key)

    def number(self, key: str) -> float | None:
        value = (self.get(key) or "").strip()
        try:
            return float(value) if value else None
        except ValueError:
            return None

    def bool(self, key: str) -> bool | None:
        value = (self.get(key) or "").strip().lower()
        if value in ("true", "yes", "1"):
            return True
        if value in ("false", "no", "0"):
            return False
        return None

    def list(self, key: str) -> list[str]:
        return [v.strip() for v in (self.get(key) or "").split(",") if v.strip()]


class closure:
    """Closure decisions (`wit_world.exports.closure.ClosureDecision`)."""

    @staticmethod
    def apply(status: types.FindingStatus, reason: str, confidence: float = 0.9):
        from wit_world.exports.closure import ClosureDecision_Apply

        return ClosureDecision_Apply(types.Verdict(status, reason, confidence))

    @staticmethod
    def skip(reason: str):
        from wit_world.exports.closure import ClosureDecision_Skip

        return ClosureDecision_Skip(reason)

    @staticmethod
    def defer():
        from wit_world.exports.closure import ClosureDecision_Defer

        return ClosureDecision_Defer()


class transition:
    """Transition decisions (`wit_world.exports.transition.TransitionDecision`)."""

    @staticmethod
    def take(id: str, reason: str, resolution: str | None = None):
        from wit_world.exports.transition import TransitionChoice, TransitionDecision_Take

        return TransitionDecision_Take(TransitionChoice(id, resolution, reason))

    @staticmethod
    def none(reason: str):
        from wit_world.exports.transition import TransitionDecision_None

        return TransitionDecision_None(reason)

    @staticmethod
    def defer():
        from wit_world.exports.transition import TransitionDecision_Defer

        return TransitionDecision_Defer()


class ticketing:
    """Ticketing decisions (`wit_world.exports.ticketing.TicketDecision`)."""

    @staticmethod
    def create(
        project: str,
        issue_type: str,
        reason: str,
        priority: str | None = None,
        labels: list[str] | None = None,
        due_date: str | None = None,
        fields: dict[str, Any] | None = None,
        group: str | None = None,
        assignee: str | None = None,
        epic: str | None = None,
    ):
        """`fields` maps a Jira field (id or name) to any JSON value (contract 1.3.0, like
        `ticket.fields`); `group` puts findings with the same group in one ticket; `assignee`
        is an account id (Cloud) or user name (Data Center); `epic` is a key Verdict keeps one
        epic per (created on demand)."""
        from wit_world.exports.ticketing import TicketDecision_Create, TicketField, TicketPlan

        return TicketDecision_Create(
            TicketPlan(
                project,
                issue_type,
                priority,
                labels or [],
                due_date,
                reason,
                [TicketField(k, json.dumps(v)) for k, v in (fields or {}).items()],
                group,
                assignee,
                epic,
            )
        )

    @staticmethod
    def skip(reason: str):
        from wit_world.exports.ticketing import TicketDecision_Skip

        return TicketDecision_Skip(reason)

    @staticmethod
    def defer():
        from wit_world.exports.ticketing import TicketDecision_Defer

        return TicketDecision_Defer()


def date_after(now_ms: int, days: int) -> str:
    """`YYYY-MM-DD` (UTC) of `now_ms` plus `days` (rules have no clock: use the input's `now`)."""
    day = datetime.fromtimestamp(now_ms // DAY_MS * 86_400, tz=timezone.utc)
    return (day + timedelta(days=days)).strftime("%Y-%m-%d")


_RANKS = {
    types.Severity.INFO: 0,
    types.Severity.LOW: 1,
    types.Severity.MEDIUM: 2,
    types.Severity.HIGH: 3,
    types.Severity.CRITICAL: 4,
}


def severity_rank(severity: types.Severity) -> int:
    """info 0 … critical 4."""
    return _RANKS[severity]


def severity_name(severity: types.Severity) -> str:
    """`critical`, `high`, … as Verdict's settings spell them."""
    return severity.name.lower()


def expiry(page: types.Page) -> str | None:
    """A page's `expires-YYYY-MM-DD` label, when it has one."""
    for label in page.labels:
        if label.startswith("expires-") and len(label) == len("expires-YYYY-MM-DD"):
            return label[len("expires-") :]
    return None


def _names_key(text: str, key: str) -> bool:
    # A key inside a longer word is another key (`SEC-1` is not in `SEC-12` or `APPSEC-1`);
    # slugs count (`risk-sec-1`, `SEC-1-notes`).
    upper = text.upper()

    def outside(i: int) -> bool:
        if i < 0 or i >= len(upper):
            return True
        c = upper[i]
        return c == "-" or not (c.isascii() and (c.isalnum() or c == "_"))

    i = upper.find(key)
    while i != -1:
        if outside(i - 1) and outside(i + len(key)):
            return True
        i = upper.find(key, i + 1)
    return False


def references(page: types.Page, ticket: types.Ticket) -> bool:
    """Whether the page is about `ticket`: its key (as a word, any case) in the title, a label
    or the excerpt. Evidence is only evidence for the ticket it names — anyone who can comment
    can link an unrelated approved page."""
    key = ticket.key.strip().upper()
    if not key:
        return False
    return (
        _names_key(page.title, key)
        or any(_names_key(label, key) for label in page.labels)
        or _names_key(page.excerpt, key)
    )
