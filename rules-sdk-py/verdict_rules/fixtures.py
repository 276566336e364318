"""The fixture format every Verdict SDK shares (NAME.input.json / NAME.expected.json, as
`verdict rules test` reads them) turned into the bindings' records, and a rule's answer
checked against the expectation — the same checks as rules-sdk's `Expected`."""

from __future__ import annotations

import dataclasses
import enum
import typing
from typing import Any

from wit_world.exports import closure, ticketing, transition

# Jira's status-category keys, as the fixtures (and Verdict's JSON) spell them.
_CATEGORY = {"new": "TO_DO", "indeterminate": "IN_PROGRESS", "done": "DONE"}

INPUTS = {
    "closure": closure.ClosureInput,
    "transition": transition.TransitionInput,
    "ticketing": ticketing.TicketInput,
}


def _convert(tp: Any, value: Any) -> Any:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin is typing.Union and type(None) in args:
        inner = next(a for a in args if a is not type(None))
        return None if value is None else _convert(inner, value)
    if origin in (list, typing.List):
        return [_convert(args[0], v) for v in (value or [])]
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        name = _CATEGORY.get(value, str(value).upper()) if tp.__name__ == "StatusCategory" else str(value).upper()
        return tp[name]
    if dataclasses.is_dataclass(tp):
        return from_json(tp, value or {})
    if tp is float:
        return float(value or 0)
    if tp is int:
        return int(value or 0)
    if tp is bool:
        return bool(value)
    if tp is str:
        return "" if value is None else str(value)
    return value


def from_json(cls: type, data: dict) -> Any:
    """A bindings record from its JSON form (snake_case keys; absent → empty / None)."""
    hints = typing.get_type_hints(cls)
    fields = {}
    for f in dataclasses.fields(cls):
        tp = hints[f.name]
        if f.name in data:
            fields[f.name] = _convert(tp, data[f.name])
        else:
            fields[f.name] = _convert(tp, None)
    return cls(**fields)


def to_guest(fixture: dict) -> tuple[str, Any]:
    """`{"closure": {...}}` → ("closure", ClosureInput)."""
    if len(fixture) != 1 or next(iter(fixture)) not in INPUTS:
        raise ValueError('not a rule input: expected {"closure": …}, {"transition": …} or {"ticketing": …}')
    kind, data = next(iter(fixture.items()))
    record = from_json(INPUTS[kind], data)
    if kind == "closure":
        # As the host does (contract 1.1.0): whether each page names the ticket, from what
        # the fixture shows; a fixture may say `true` itself (the host reads the whole body).
        from . import references

        for page in record.pages:
            page.references_ticket = bool(page.references_ticket) or references(page, record.ticket)
    return kind, record


def decide(module: Any, kind: str, input: Any) -> Any:
    """Runs the decision `kind` of the rule `module` (its `Closure`/`Transition`/`Ticketing`)."""
    cls_name, method = {
        "closure": ("Closure", "decide"),
        "transition": ("Transition", "choose"),
        "ticketing": ("Ticketing", "plan"),
    }[kind]
    cls = getattr(module, cls_name, None)
    if cls is None:
        raise LookupError(f"the rule does not implement the `{kind}` decision (no class {cls_name})")
    return getattr(cls(), method)(input)


def _outcome(decision: Any) -> str:
    # ClosureDecision_Apply → apply
    return type(decision).__name__.rsplit("_", 1)[-1].lower()


def check(expected: dict, decision: Any) -> list[str]:
    """Every mismatch between `expected` and the rule's answer (empty when it matches)."""
    outcome = _outcome(decision)
    value = getattr(decision, "value", None)
    got: dict[str, Any] = {"outcome": outcome}
    if outcome == "apply":
        got["status"] = value.status.name.lower()
    if outcome == "take":
        got["transition"] = value.id
        got["resolution"] = value.resolution
    if outcome == "create":
        got.update(
            project=value.project,
            issue_type=value.issue_type,
            priority=value.priority,
            due_date=value.due_date,
            labels=value.labels,
            group=value.group,
            assignee=value.assignee,
            epic=value.epic,
        )
    errors = []
    for key in ("outcome", "status", "transition", "resolution", "project", "issue_type", "priority", "due_date", "labels", "group", "assignee", "epic"):
        want = expected.get(key)
        if want is not None and got.get(key) != want:
            errors.append(f"{key}: expected `{want}`, got `{got.get(key) if got.get(key) is not None else 'none'}`")
    contains = expected.get("reason_contains")
    if contains:
        reason = value if isinstance(value, str) else getattr(value, "reason", "") or ""
        if contains not in reason:
            errors.append(f"reason: expected it to contain `{contains}`, got `{reason}`")
    return errors
