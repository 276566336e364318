// Helpers for Verdict rules in JavaScript/TypeScript. Bundled into the rule by
// `verdict-rule build`; the default policy's reading of comments is not here — a rule that
// does not know answers `defer` and the host's default policy decides.
import host from "verdict:rules/host@1.3.0";

const write = (level) => (message) => host.log(level, String(message));

export const log = {
  debug: write("debug"),
  info: write("info"),
  warn: write("warn"),
  error: write("error"),
};

// A rule has no stdout (WASI is stubbed and would trap): console goes to the rule's log.
const join = (args) => args.map((a) => (typeof a === "string" ? a : safeJson(a))).join(" ");
function safeJson(v) {
  try {
    return JSON.stringify(v);
  } catch {
    return String(v);
  }
}
globalThis.console = {
  debug: (...a) => log.debug(join(a)),
  log: (...a) => log.info(join(a)),
  info: (...a) => log.info(join(a)),
  warn: (...a) => log.warn(join(a)),
  error: (...a) => log.error(join(a)),
};

export class Config {
  constructor(entries) {
    this.values = new Map((entries ?? []).map((e) => [e.key, e.value]));
  }
  get(key) {
    return this.values.get(key) ?? null;
  }
  number(key) {
    const v = this.get(key);
    if (v === null || v.trim() === "") return null;
    const n = Number(v.trim());
    return Number.isFinite(n) ? n : null;
  }
  bool(key) {
    const v = this.get(key)?.trim().toLowerCase();
    if (v === "true" || v === "yes" || v === "1") return true;
    if (v === "false" || v === "no" || v === "0") return false;
    return null;
  }
  list(key) {
    return (this.get(key) ?? "")
      .split(",")
      .map((s) => s.trim())
      .filter((s) => s !== "");
  }
}

export const closure = {
  apply: (status, reason, confidence = 0.9) => ({
    tag: "apply",
    val: { status, reason, confidence },
  }),
  skip: (reason) => ({ tag: "skip", val: reason }),
  defer: () => ({ tag: "defer" }),
};

export const transition = {
  take: (id, reason, resolution = null) => ({ tag: "take", val: { id, resolution, reason } }),
  none: (reason) => ({ tag: "none", val: reason }),
  defer: () => ({ tag: "defer" }),
};

export const ticketing = {
  create: (plan) => ({
    tag: "create",
    val: {
      project: plan.project,
      issueType: plan.issueType,
      priority: plan.priority ?? null,
      labels: plan.labels ?? [],
      dueDate: plan.dueDate ?? null,
      reason: plan.reason,
      // Contract 1.3.0: { field: JSON value } over the field map; a group; an assignee; an epic key.
      fields: Object.entries(plan.fields ?? {}).map(([field, value]) => ({
        field,
        value: JSON.stringify(value),
      })),
      group: plan.group ?? null,
      assignee: plan.assignee ?? null,
      epic: plan.epic ?? null,
    },
  }),
  skip: (reason) => ({ tag: "skip", val: reason }),
  defer: () => ({ tag: "defer" }),
};

export const DAY_MS = 86_400_000;

export function dateAfter(nowMs, days) {
  return new Date(nowMs + days * DAY_MS).toISOString().slice(0, 10);
}

const RANKS = { info: 0, low: 1, medium: 2, high: 3, critical: 4 };
export function severityRank(severity) {
  return RANKS[severity] ?? 0;
}

export function expiry(page) {
  const label = page.labels.find((l) => /^expires-\d{4}-\d{2}-\d{2}$/.test(l));
  return label ? label.slice("expires-".length) : null;
}

export { references } from "./evidence.js";

/**
 * Every place each phrase is said in each text — as whole words, in any case, any run of
 * whitespace matching one space — found by the host in native code: `[{ text, offset, phrase,
 * word }]`, ordered by text and offset (`text`/`phrase` index the lists, `offset` counts
 * characters of the text before the match, `word` the words that ended before it).
 */
export function findPhrases(texts, phrases) {
  return host.findPhrases(texts, phrases);
}
