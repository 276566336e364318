"""find-phrases computed in Python as the host computes it (rules-sdk/src/text.rs), for rules
run natively (tests); in the component the host does the work. Both are checked against
rules-sdk/tests/find-phrases.json."""

from __future__ import annotations

MAX_PHRASES = 1000
MAX_MATCHES = 10000


def _normalise(text: str):
    chars: list[str] = []
    origin: list[int] = []
    in_space = False
    for i, c in enumerate(text):
        if c.isspace():
            if not in_space:
                chars.append(" ")
                origin.append(i)
            in_space = True
            continue
        in_space = False
        for low in c.lower():
            chars.append(low)
            origin.append(i)
    words_before: list[int] = []
    words, in_word = 0, False
    for c in chars:
        word = c.isalnum()
        if in_word and not word:
            words += 1
        in_word = word
        words_before.append(words)
    return chars, origin, words_before


def find_phrases(texts: list[str], phrases: list[str], make):
    """Every match as `make(text, offset, phrase, word)`, ordered by text, offset, phrase."""
    if len(phrases) > MAX_PHRASES:
        raise ValueError(f"find-phrases: {len(phrases)} phrases, at most {MAX_PHRASES}")
    wanted = [_normalise(p.strip())[0] for p in phrases]
    found = []
    for t, text in enumerate(texts):
        chars, origin, words_before = _normalise(text)
        for p, phrase in enumerate(wanted):
            m = len(phrase)
            if m == 0 or m > len(chars):
                continue
            edge_before, edge_after = phrase[0].isalnum(), phrase[-1].isalnum()
            for at in range(len(chars) - m + 1):
                if chars[at] != phrase[0] or chars[at : at + m] != phrase:
                    continue
                end = at + m
                if edge_before and at > 0 and chars[at - 1].isalnum():
                    continue
                if edge_after and end < len(chars) and chars[end].isalnum():
                    continue
                if len(found) == MAX_MATCHES:
                    raise ValueError(
                        f"find-phrases: more than {MAX_MATCHES} matches (search fewer texts or longer phrases)"
                    )
                found.append((t, origin[at], p, words_before[at]))
    found.sort()
    return [make(*f) for f in found]
