// The fixture format every Verdict SDK shares (NAME.input.json / NAME.expected.json, as
// `verdict rules test` reads them) turned into what a JS rule receives, and a JS rule's
// answer checked against the expectation — the same checks as rules-sdk's `Expected`.

import { references } from "./evidence.js";

const kebab = (v) => v.replace(/_/g, "-");
const CATEGORY = { new: "to-do", indeterminate: "in-progress", done: "done" };

const str = (v) => (v === undefined || v === null ? "" : String(v));
const opt = (v) => (v === undefined ? null : v);
const list = (v) => v ?? [];

function status(s) {
  return { id: str(s?.id), name: str(s?.name), category: CATEGORY[s?.category] ?? "to-do" };
}

function change(c) {
  if (!c) return null;
  return {
    id: str(c.id),
    author: opt(c.author),
    at: c.at ?? 0,
    items: list(c.items).map((i) => ({
      fieldId: str(i.field_id),
      fromId: opt(i.from_id),
      fromName: opt(i.from_name),
      toId: opt(i.to_id),
      toName: opt(i.to_name),
    })),
  };
}

function ticket(t) {
  t = t ?? {};
  return {
    id: str(t.id),
    key: str(t.key),
    project: str(t.project),
    issueType: str(t.issue_type),
    status: status(t.status),
    resolution: opt(t.resolution),
    labels: list(t.labels),
    priority: opt(t.priority),
    reporter: opt(t.reporter),
    assignee: opt(t.assignee),
    closer: opt(t.closer),
    created: t.created ?? 0,
    resolved: opt(t.resolved),
    closingChange: change(t.closing_change),
    comments: list(t.comments).map((c) => ({
      id: str(c.id),
      author: str(c.author),
      body: str(c.body),
      created: c.created ?? 0,
      updated: c.updated ?? c.created ?? 0,
    })),
  };
}

function finding(f) {
  if (!f) return null;
  return {
    id: str(f.id),
    title: str(f.title),
    severity: f.severity ?? "info",
    score: opt(f.score),
    cvss: opt(f.cvss),
    cwes: list(f.cwes),
    scanType: str(f.scan_type),
    repository: opt(f.repository),
    file: opt(f.file),
    tags: list(f.tags),
    ageDays: f.age_days ?? 0,
    status: kebab(f.status ?? "open"),
    ruleId: opt(f.rule_id),
    package: opt(f.package),
    vulnerabilityIds: list(f.vulnerability_ids),
  };
}

const config = (c) => list(c).map((e) => ({ key: str(e.key), value: str(e.value) }));

function page(p) {
  return {
    id: str(p.id),
    title: str(p.title),
    labels: list(p.labels),
    space: str(p.space),
    lastModified: p.last_modified ?? 0,
    excerpt: str(p.excerpt),
    url: str(p.url),
    referencesTicket: p.references_ticket === true,
  };
}

/** `{"closure": {...}}` → `{ kind: "closure", input }` in the rule's shapes. */
export function toGuest(fixture) {
  const [kind, i] = Object.entries(fixture)[0] ?? [];
  switch (kind) {
    case "closure": {
      const t = ticket(i.ticket);
      // As the host does (contract 1.1.0): whether each page names the ticket, from what the
      // fixture shows; a fixture may say `true` itself (the host reads the whole body).
      const pages = list(i.pages)
        .map(page)
        .map((p) => ({ ...p, referencesTicket: p.referencesTicket || references(p, t) }));
      return {
        kind,
        input: {
          ticket: t,
          finding: finding(i.finding),
          pages,
          config: config(i.config),
          now: i.now ?? 0,
        },
      };
    }
    case "transition":
      return {
        kind,
        input: {
          ticket: ticket(i.ticket),
          finding: finding(i.finding),
          target: kebab(i.target ?? "open"),
          transitions: list(i.transitions).map((t) => ({
            id: str(t.id),
            name: str(t.name),
            to: t.to ? status(t.to) : null,
            requiredFields: list(t.required_fields),
          })),
          resolutions: list(i.resolutions),
          config: config(i.config),
        },
      };
    case "ticketing":
      return {
        kind,
        input: { finding: finding(i.finding), config: config(i.config), now: i.now ?? 0 },
      };
    default:
      throw new Error(
        `not a rule input: expected {"closure": …}, {"transition": …} or {"ticketing": …}`,
      );
  }
}

/** Runs the exported decision of `rule` for `kind`. */
export function decide(rule, kind, input) {
  const call = {
    closure: () => rule.closure?.decide(input),
    transition: () => rule.transition?.choose(input),
    ticketing: () => rule.ticketing?.plan(input),
  }[kind];
  const out = call();
  if (out === undefined) throw new Error(`the rule does not implement the \`${kind}\` decision`);
  return out;
}

/** Every mismatch between `expected` and the rule's answer (empty when it matches). */
export function check(expected, decision) {
  const errors = [];
  const val = decision.val;
  const fields = {
    outcome: decision.tag,
    status: typeof val === "object" && val?.status ? val.status.replace(/-/g, "_") : undefined,
    transition: decision.tag === "take" ? val.id : undefined,
    resolution: decision.tag === "take" ? (val.resolution ?? undefined) : undefined,
    project: decision.tag === "create" ? val.project : undefined,
    issue_type: decision.tag === "create" ? val.issueType : undefined,
    priority: decision.tag === "create" ? (val.priority ?? undefined) : undefined,
    due_date: decision.tag === "create" ? (val.dueDate ?? undefined) : undefined,
    group: decision.tag === "create" ? (val.group ?? undefined) : undefined,
    assignee: decision.tag === "create" ? (val.assignee ?? undefined) : undefined,
    epic: decision.tag === "create" ? (val.epic ?? undefined) : undefined,
  };
  for (const [key, got] of Object.entries(fields)) {
    const want = expected[key];
    if (want !== undefined && want !== null && got !== want) {
      errors.push(`${key}: expected \`${want}\`, got \`${got ?? "none"}\``);
    }
  }
  if (Array.isArray(expected.labels)) {
    const got = decision.tag === "create" ? val.labels : [];
    if (JSON.stringify(got) !== JSON.stringify(expected.labels)) {
      errors.push(`labels: expected ${JSON.stringify(expected.labels)}, got ${JSON.stringify(got)}`);
    }
  }
  if (expected.reason_contains) {
    const reason = typeof val === "string" ? val : (val?.reason ?? "");
    if (!reason.includes(expected.reason_contains)) {
      errors.push(`reason: expected it to contain \`${expected.reason_contains}\`, got \`${reason}\``);
    }
  }
  return errors;
}

