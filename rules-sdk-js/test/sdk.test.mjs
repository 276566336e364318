// The SDK's own pieces: fixture conversion and checks, the producers section, the type
// adjustment to componentize-qjs's mapping.
import { test } from "node:test";
import assert from "node:assert/strict";
import { check, toGuest } from "../lib/fixtures.js";
import { addProducers } from "../lib/producers.js";
import { adjust } from "../scripts/gen-types.mjs";
import { references } from "../lib/evidence.js";

test("fixture inputs become the rule's shapes", () => {
  const { kind, input } = toGuest({
    closure: {
      ticket: {
        key: "SEC-1",
        issue_type: "Bug",
        status: { id: "3", name: "Done", category: "done" },
        comments: [{ id: "1", author: "a", body: "x", created: 5 }],
      },
      finding: { id: "f", severity: "high", status: "accepted_risk", scan_type: "sast" },
      now: 7,
    },
  });
  assert.equal(kind, "closure");
  assert.equal(input.ticket.issueType, "Bug");
  assert.equal(input.ticket.status.category, "done");
  assert.equal(input.ticket.resolution, null);
  assert.deepEqual(input.ticket.labels, []);
  assert.equal(input.ticket.comments[0].updated, 5);
  assert.equal(input.finding.status, "accepted-risk");
  assert.equal(input.finding.scanType, "sast");
  assert.deepEqual(input.pages, []);
  assert.throws(() => toGuest({ nonsense: {} }), /not a rule input/);
});

test("answers are checked like rules-sdk's Expected", () => {
  const apply = { tag: "apply", val: { status: "false-positive", reason: "in tests", confidence: 0.9 } };
  assert.deepEqual(check({ outcome: "apply", status: "false_positive", reason_contains: "tests" }, apply), []);
  assert.equal(check({ outcome: "skip" }, apply).length, 1);
  assert.match(check({ outcome: "apply", status: "resolved" }, apply)[0], /status: expected `resolved`/);
  const create = {
    tag: "create",
    val: { project: "SEC", issueType: "Bug", priority: null, labels: ["a"], dueDate: null, reason: "r" },
  };
  assert.deepEqual(check({ outcome: "create", labels: ["a"], project: "SEC" }, create), []);
  assert.equal(check({ outcome: "create", labels: ["b"] }, create).length, 1);
});

test("the producers section is a well-formed custom section at the end", () => {
  const base = Uint8Array.from([0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00]);
  const out = addProducers(base, { language: [["TypeScript", ""]] });
  assert.deepEqual(out.slice(0, 8), base);
  assert.equal(out[8], 0); // custom section id
  const size = out[9];
  assert.equal(out.length, 10 + size);
  const text = new TextDecoder().decode(out.slice(10));
  assert.match(text, /producers/);
  assert.match(text, /language/);
  assert.match(text, /TypeScript/);
});

test("declarations follow componentize-qjs: numbers, not bigint; null, not undefined", () => {
  const jco = "  export interface X {\n    now: bigint,\n    finding?: Finding,\n  }\n";
  assert.equal(adjust(jco), "  export interface X {\n    now: number,\n    finding: Finding | null,\n  }\n");
});

test("a page references a ticket by its key as a word", () => {
  const ticket = { key: "SEC-1" };
  const page = (title, labels = [], excerpt = "") => ({ title, labels, excerpt });
  for (const yes of [
    page("Risk acceptance SEC-1: legacy parser"),
    page("Risk acceptance", ["risk-approved", "sec-1"]),
    page("Risk acceptance", ["risk-sec-1"]),
    page("Risk", [], "Covers https://acme.atlassian.net/browse/SEC-1."),
  ]) {
    assert.equal(references(yes, ticket), true, JSON.stringify(yes));
  }
  for (const no of [
    page("Risk acceptance: legacy parser", ["risk-approved"], "Accepted by the CISO"),
    page("Risk acceptance SEC-12", [], "APPSEC-1 and SEC-10"),
    page("Risk", ["sec-1a"], "MYSEC-1"),
  ]) {
    assert.equal(references(no, ticket), false, JSON.stringify(no));
  }
});

test("fixture pages get referencesTicket as the host sets it, or as the fixture says", () => {
  const { input } = toGuest({
    closure: {
      ticket: { key: "SEC-12" },
      pages: [
        { id: "1", title: "Risk record", excerpt: "covers sec-12" },
        { id: "2", title: "Risk record", excerpt: "covers SEC-120" },
        { id: "3", title: "Risk record", excerpt: "", references_ticket: true },
      ],
    },
  });
  assert.deepEqual(
    input.pages.map((p) => p.referencesTicket),
    [true, false, true],
  );
});

test("find-phrases natively answers the cases the host answers", async () => {
  const { readFileSync } = await import("node:fs");
  const { findPhrases, MAX_PHRASES } = await import("../lib/host-double.js");
  const cases = JSON.parse(
    readFileSync(new URL("../../rules-sdk/tests/find-phrases.json", import.meta.url), "utf8"),
  );
  assert.ok(cases.length >= 6);
  for (const c of cases) assert.deepEqual(findPhrases(c.texts, c.phrases), c.matches, c.name);
  assert.throws(() => findPhrases([], Array(MAX_PHRASES + 1).fill("x")), /at most 1000/);
  assert.throws(() => findPhrases(["a ".repeat(10001)], ["a"]), /more than 10000 matches/);
});
