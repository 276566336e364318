// Native fixture tests for a rule under `node --test`: every NAME.input.json in a folder is
// run through the rule's source (bundled for Node, the host log replaced by a double) and
// compared with NAME.expected.json — the same files `verdict rules test` runs on the wasm.
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { test } from "node:test";
import { bundle } from "./bundle.js";
import { check, decide, toGuest } from "./fixtures.js";

const path = (p) => (p instanceof URL ? fileURLToPath(p) : p);

/** Loads the rule's source natively (its exports: closure, transition, ticketing). */
export async function loadRule(entry) {
  const { code } = await bundle(path(entry), "node");
  const dir = mkdtempSync(join(tmpdir(), "verdict-rule-"));
  const file = join(dir, "rule.mjs");
  writeFileSync(file, code);
  try {
    return await import(pathToFileURL(file).href);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Registers one `node:test` test per fixture in `dir`. */
export async function testFixtures(entry, dir) {
  const rule = await loadRule(entry);
  const folder = path(dir);
  const names = readdirSync(folder)
    .filter((f) => f.endsWith(".input.json"))
    .map((f) => f.slice(0, -".input.json".length))
    .sort();
  if (names.length === 0) throw new Error(`no *.input.json fixtures in ${folder}`);
  for (const name of names) {
    test(name, () => {
      const read = (f) => JSON.parse(readFileSync(join(folder, f), "utf8"));
      const { kind, input } = toGuest(read(`${name}.input.json`));
      const expected = read(`${name}.expected.json`);
      const errors = check(expected, decide(rule, kind, input));
      if (errors.length > 0) throw new Error(errors.join("\n"));
    });
  }
}
