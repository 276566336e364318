// Generates TypeScript declarations for the verdict:rules contract from the WIT (../rules-sdk
// owns it) with jco's type generator, into types/. jco's generator describes jco's own JS
// mapping; componentize-qjs, which builds the rules, maps two things differently, and the
// declarations are adjusted to what a rule really receives and returns: s64/u64 are numbers
// (not bigint) and an absent option is null (not undefined).
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { packageDir } from "../lib/packages.js";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..");

export async function generateTypes(out = join(root, "types")) {
  // The CLI (`jco types <path>`) cannot read a WIT path here (jco 1.35 with preview2-shim
  // 0.26: "failed to read path for WIT", os error 44), so the WIT is passed as source.
  const pkg = packageDir("@bytecodealliance/jco-transpile");
  const bindgen = await import(join(pkg, "vendor/js-component-bindgen-component.js"));
  await bindgen.$init;
  const wit = readFileSync(join(root, "wit/rules.wit"), "utf8");
  const files = bindgen.generateTypes("rule", {
    wit: { tag: "source", val: wit },
    world: "rule",
    guest: true,
    tlaCompat: false,
    features: { tag: "list", val: [] },
  });
  rmSync(out, { recursive: true, force: true });
  const written = [];
  for (const [name, bytes] of files) {
    const text = adjust(new TextDecoder().decode(bytes));
    const path = join(out, name);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, text);
    written.push(name);
  }
  return written;
}

/** jco's mapping → componentize-qjs's mapping. */
export function adjust(text) {
  return text
    .replace(/\bbigint\b/g, "number")
    .replace(/^(\s+)([A-Za-z0-9_]+)\?: (.+),$/gm, "$1$2: $3 | null,");
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const written = await generateTypes(process.argv[2]);
  console.log(`generated ${written.length} declaration files from wit/rules.wit`);
}
