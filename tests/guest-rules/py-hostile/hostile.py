"""A Python rule that misbehaves on request (the last comment says how), for the host's
containment tests: each misbehaviour must end as a typed rule error, never hurt the host."""

from verdict_rules import closure
from wit_world import exports

hoard = []


def recurse(n):
    return recurse(n + 1) + 1


class Closure(exports.Closure):
    def decide(self, input):
        ask = input.ticket.comments[-1].body if input.ticket.comments else ""
        if ask == "loop":
            while True:
                pass
        if ask == "allocate":
            while True:
                hoard.append(bytearray(1 << 20))
        if ask == "recurse":
            return recurse(0)
        if ask == "throw":
            raise ValueError("asked to throw")
        return closure.defer()
