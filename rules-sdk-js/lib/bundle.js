// One ES module from a rule's source (TypeScript or JavaScript) and this SDK, with rolldown:
// for the wasm build the contract's imports stay imports; for native tests the host is the
// double in host-double.js.
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { rolldown } from "rolldown";

const lib = dirname(fileURLToPath(import.meta.url));

/** Bundles `entry`; `target` is "wasm" or "node". Returns the code and its export names. */
export async function bundle(entry, target) {
  const alias = { "@verdict/rules-sdk": join(lib, "index.js") };
  if (target === "node") alias["verdict:rules/host@1.3.0"] = join(lib, "host-double.js");
  const build = await rolldown({
    input: entry,
    platform: target === "node" ? "node" : "neutral",
    resolve: { alias },
    external: (id) => target === "wasm" && id.startsWith("verdict:"),
    logLevel: "warn",
  });
  const { output } = await build.generate({ format: "esm" });
  await build.close();
  const chunk = output.find((o) => o.type === "chunk" && o.isEntry);
  return { code: chunk.code, exports: chunk.exports };
}
