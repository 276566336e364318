// The comment classifier's idea in TypeScript: the last comment that takes a stance on the
// closure decides — False Positive, Accepted Risk or Resolved — in English, German, French
// and Spanish. Precision first: a negated, hedged or questioning comment, or two comments
// that disagree, leave the decision to the host's default policy (`defer`), which reads
// comments with the full six-language policy.
import { closure as decision, log } from "@verdict/rules-sdk";
import type { ClosureDecision, ClosureInput, FindingStatus } from "@verdict/rules-sdk";

type Stance = Exclude<FindingStatus, "open">;

const STANCES: [Stance, RegExp][] = [
  [
    "false-positive",
    /(?<![\p{L}\p{N}])(false positive|not a (real )?vulnerability|not exploitable|falsch[- ]positiv|fehlalarm|kein echtes problem|faux positif|falso positivo)(?![\p{L}\p{N}])/iu,
  ],
  [
    "accepted-risk",
    /(?<![\p{L}\p{N}])(risk (is |was )?accepted|accept(ed)? the risk|risiko (wird )?akzeptiert|risque accepté|riesgo aceptado|aceptamos el riesgo)(?![\p{L}\p{N}])/iu,
  ],
  [
    "resolved",
    /(?<![\p{L}\p{N}])(fixed in|fixed by|fixed it|we fixed|patched|has been fixed|upgraded to|behoben|corrigé|corregido|solucionado)(?![\p{L}\p{N}])/iu,
  ],
];
const NEGATION = /\b(not|no|never|isn't|wasn't|nicht|kein|pas|jamais|nunca)\s+(\w+\s+){0,2}$/i;
const HEDGE = /\b(maybe|might|probably|perhaps|not sure|vielleicht|peut-être|quizás|tal vez)\b|\?/i;

/** The stance one comment takes, or null when it takes none or is unclear. */
function stanceOf(body: string): Stance | "unclear" | null {
  for (const [stance, pattern] of STANCES) {
    const m = pattern.exec(body);
    if (!m) continue;
    if (HEDGE.test(body) || NEGATION.test(body.slice(0, m.index))) return "unclear";
    return stance;
  }
  return null;
}

function decide(input: ClosureInput): ClosureDecision {
  if (input.ticket.status.category !== "done") return decision.defer();
  const stances = input.ticket.comments
    .map((c) => ({ id: c.id, stance: stanceOf(c.body) }))
    .filter((s) => s.stance !== null);
  const last = stances.at(-1);
  if (!last) return decision.defer();
  if (last.stance === "unclear") {
    log.info(`comment ${last.id} is negated, hedged or a question`);
    return decision.defer();
  }
  const status = last.stance as Stance;
  const changedMind = stances.some((s) => s.stance !== status);
  return decision.apply(
    status,
    `comment ${last.id} says the finding is ${status.replace("-", " ")}${changedMind ? " (an earlier comment said otherwise; the last word counts)" : ""}`,
    changedMind ? 0.8 : 0.9,
  );
}

export const closure = { decide };
