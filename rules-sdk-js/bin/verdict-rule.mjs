#!/usr/bin/env node
// verdict-rule: builds a Verdict rule written in TypeScript or JavaScript into a WebAssembly
// component that `verdict rules check` and the upload accept.
//
//   verdict-rule build src/rule.ts [-o rule.wasm]   type-check (tsconfig.json, if any), bundle
//                                                   with the SDK, componentize with QuickJS
//                                                   (WASI stubbed), record the toolchain
//   verdict-rule types                              regenerate the contract's declarations
//
// `--keep-wasi` leaves componentize-qjs's WASI imports in place: Verdict refuses such a rule
// (it exists to show that refusal). `--opt-size` takes componentize-qjs's QuickJS built for
// size: a third smaller module (1.15 MB instead of 1.7 MB), about half as fast (the comment
// classifier: p50 3.1 ms instead of 1.4–1.8 ms).
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { componentize } from "componentize-qjs";
import { bundle } from "../lib/bundle.js";
import { addProducers } from "../lib/producers.js";
import { packageDir, packageVersion } from "../lib/packages.js";
import { generateTypes } from "../scripts/gen-types.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const version = packageVersion;
const INTERFACES = { closure: "closure", transition: "transition", ticketing: "ticketing" };

const METHODS = { closure: "decide", transition: "choose", ticketing: "plan" };

function wrapper(entry, decisions) {
  const guarded = decisions
    .map((d) => `export const ${d} = { ${METHODS[d]}: guard((input) => rule.${d}.${METHODS[d]}(input)) };`)
    .join("\n");
  return `import * as rule from ${JSON.stringify(entry)};
import host from "verdict:rules/host@1.3.0";
const guard = (decide) => (input) => {
  try {
    return decide(input);
  } catch (e) {
    try {
      host.log("error", \`uncaught exception: \${String(e)}\${e && e.stack ? "\\n" + e.stack : ""}\`);
    } catch {}
    throw e;
  }
};
${guarded}
`;
}

function fail(message) {
  console.error(`verdict-rule: ${message}`);
  process.exit(1);
}

async function build(entry, out, { stubWasi, optSize }) {
  if (!existsSync(entry)) fail(`no such file: ${entry}`);
  if (!existsSync(join(root, "types"))) await generateTypes();
  const typescript = /\.m?ts$/.test(entry);
  if (typescript && existsSync("tsconfig.json")) {
    const tsc = join(packageDir("typescript"), "bin/tsc");
    const r = spawnSync(process.execPath, [tsc, "--noEmit", "-p", "tsconfig.json"], {
      stdio: "inherit",
    });
    if (r.status !== 0) fail("type errors (tsc --noEmit); nothing was built");
  }
  const { exports } = await bundle(resolve(entry), "wasm");
  const decisions = exports.filter((e) => e in INTERFACES);
  const unknown = exports.filter((e) => !(e in INTERFACES));
  if (decisions.length === 0) {
    fail(`${entry} exports none of closure, transition, ticketing (found: ${exports.join(", ") || "nothing"})`);
  }
  if (unknown.length > 0) {
    fail(`${entry} exports ${unknown.join(", ")}: a rule exports only closure, transition and ticketing`);
  }
  // A world with exactly the decisions this rule makes, in the contract's own package.
  const dir = mkdtempSync(join(tmpdir(), "verdict-rule-build-"));
  try {
    // The rule's decisions, wrapped so an exception is logged before it becomes a trap:
    // the host then reports its message with the `trap` error.
    const entryFile = join(dir, "entry.js");
    writeFileSync(entryFile, wrapper(resolve(entry), decisions));
    const { code } = await bundle(entryFile, "wasm");
    const wit = readFileSync(join(root, "wit/rules.wit"), "utf8");
    const world = `\nworld verdict-build {\n    import host;\n${decisions
      .map((d) => `    export ${INTERFACES[d]};\n`)
      .join("")}}\n`;
    writeFileSync(join(dir, "rules.wit"), wit + world);
    writeFileSync(join(dir, "rule.js"), code);
    const { component } = await componentize({
      witPath: join(dir, "rules.wit"),
      jsSource: code,
      jsPath: join(dir, "rule.js"),
      moduleRoot: dir,
      world: "verdict-build",
      stubWasi,
      sync: true,
      optSize,
    });
    const sdk = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
    const marked = addProducers(component, {
      language: [[typescript ? "TypeScript" : "JavaScript", ""]],
      "processed-by": [["componentize-qjs", version("componentize-qjs")]],
      sdk: [["verdict-rules-sdk-js", sdk.version]],
    });
    writeFileSync(out, marked);
    console.log(`${out}: ${marked.length} bytes, decisions: ${decisions.join(", ")}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const [command, ...args] = process.argv.slice(2);
if (command === "build" && args[0]) {
  const o = args.indexOf("-o");
  const out = o >= 0 ? args[o + 1] : "rule.wasm";
  if (!out) fail("-o needs a file name");
  await build(args[0], out, {
    stubWasi: !args.includes("--keep-wasi"),
    optSize: args.includes("--opt-size"),
  });
} else if (command === "types") {
  const written = await generateTypes();
  console.log(`generated ${written.length} declaration files`);
} else {
  console.error("usage: verdict-rule build <src/rule.ts|rule.js> [-o rule.wasm] [--opt-size] [--keep-wasi]\n       verdict-rule types");
  process.exit(2);
}
