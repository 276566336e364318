"""Appends a `producers` custom section (the tool-conventions format) to a component, so the
host can tell which language and toolchain built a rule."""

from __future__ import annotations


def _leb(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _name(s: str) -> bytes:
    raw = s.encode()
    return _leb(len(raw)) + raw


def add_producers(component: bytes, fields: dict[str, list[tuple[str, str]]]) -> bytes:
    body = _leb(len(fields))
    for field, values in fields.items():
        body += _name(field) + _leb(len(values))
        for name, ver in values:
            body += _name(name) + _name(ver)
    payload = _name("producers") + body
    return component + b"\x00" + _leb(len(payload)) + payload
