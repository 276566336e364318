"""The SDK's own helpers, natively (the examples test the rest through their fixtures)."""

from types import SimpleNamespace

from verdict_rules import references


def page(title, labels=(), excerpt=""):
    return SimpleNamespace(title=title, labels=list(labels), excerpt=excerpt)


def test_a_page_references_a_ticket_by_its_key_as_a_word():
    ticket = SimpleNamespace(key="SEC-1")
    for yes in [
        page("Risk acceptance SEC-1: legacy parser"),
        page("Risk acceptance", ["risk-approved", "sec-1"]),
        page("Risk acceptance", ["risk-sec-1"]),
        page("Risk", [], "Covers https://acme.atlassian.net/browse/SEC-1."),
    ]:
        assert references(yes, ticket), yes
    for no in [
        page("Risk acceptance: legacy parser", ["risk-approved"], "Accepted by the CISO"),
        page("Risk acceptance SEC-12", [], "APPSEC-1 and SEC-10"),
        page("Risk", ["sec-1a"], "MYSEC-1"),
    ]:
        assert not references(no, ticket), no


def test_fixture_pages_get_references_ticket_as_the_host_sets_it_or_as_the_fixture_says():
    from verdict_rules.fixtures import to_guest

    _, closure = to_guest({"closure": {
        "ticket": {"key": "SEC-12", "status": {"id": "3", "name": "Done", "category": "done"}},
        "pages": [
            {"id": "1", "title": "Risk record", "excerpt": "covers sec-12"},
            {"id": "2", "title": "Risk record", "excerpt": "covers SEC-120"},
            {"id": "3", "title": "Risk record", "excerpt": "", "references_ticket": True},
        ],
    }})
    assert [p.references_ticket for p in closure.pages] == [True, False, True]


def test_find_phrases_natively_answers_the_cases_the_host_answers():
    import json
    from pathlib import Path

    import pytest

    from verdict_rules import find_phrases
    from verdict_rules.text import MAX_PHRASES

    cases = json.loads((Path(__file__).parents[2] / "rules-sdk" / "tests" / "find-phrases.json").read_text())
    assert len(cases) >= 6
    for case in cases:
        got = [
            {"text": m.text, "offset": m.offset, "phrase": m.phrase, "word": m.word}
            for m in find_phrases(case["texts"], case["phrases"])
        ]
        assert got == case["matches"], case["name"]
    with pytest.raises(ValueError, match="at most 1000"):
        find_phrases([], ["x"] * (MAX_PHRASES + 1))
    with pytest.raises(ValueError, match="more than 10000 matches"):
        find_phrases(["a " * 10001], ["a"])
