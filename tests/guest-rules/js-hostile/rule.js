// A JavaScript rule that misbehaves on request (the last comment says how), for the host's
// containment tests: each misbehaviour must end as a typed rule error, never hurt the host.
import { findPhrases } from "@verdict/rules-sdk";

const hoard = [];
// Native search the host must meter: its worst case (2,001 text bytes × 101,000 phrase bytes
// / 16) is over any evaluation's find-phrases fuel.
const costly = Array.from({ length: 1000 }, (_, i) => `${i}`.padEnd(100, "y"));

function recurse(n) {
  return recurse(n + 1) + 1;
}

export const closure = {
  decide(input) {
    const ask = input.ticket.comments.at(-1)?.body ?? "";
    if (ask === "loop") {
      for (;;) {}
    }
    if (ask === "allocate") {
      // Growing memory comes before zeroing it: the limit is hit before the fuel runs out.
      for (;;) hoard.push(new Uint8Array(64 << 20));
    }
    if (ask === "recurse") return recurse(0);
    if (ask === "throw") throw new Error("asked to throw");
    if (ask === "phrases") findPhrases([ask], Array(1001).fill("x"));
    if (ask === "search") findPhrases(["x".repeat(2000)], costly);
    return { tag: "defer" };
  },
};
