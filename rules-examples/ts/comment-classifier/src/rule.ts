// The comment classifier's idea in TypeScript: the last comment that takes a stance on the
// closure decides — False Positive, Accepted Risk or Resolved — in English, German, French
// and Spanish (when an earlier comment said otherwise, the last word counts, at a lower
// confidence). Precision first: a negated, hedged or questioning last stance leaves the
// decision to the host's default policy (`defer`), which reads comments with the full
// six-language policy.
import { closure as decision, findPhrases, log } from "@verdict/rules-sdk";
import type { ClosureDecision, ClosureInput, FindingStatus, PhraseMatch } from "@verdict/rules-sdk";

type Stance = Exclude<FindingStatus, "open">;

// The order is the precedence within one comment.
const STANCES: [Stance, string[]][] = [
  [
    "false-positive",
    [
      "false positive",
      "not a vulnerability",
      "not a real vulnerability",
      "not exploitable",
      "falsch positiv",
      "falsch-positiv",
      "fehlalarm",
      "kein echtes problem",
      "faux positif",
      "falso positivo",
    ],
  ],
  [
    "accepted-risk",
    [
      "risk accepted",
      "risk is accepted",
      "risk was accepted",
      "accept the risk",
      "accepted the risk",
      "risiko akzeptiert",
      "risiko wird akzeptiert",
      "risque accepté",
      "riesgo aceptado",
      "aceptamos el riesgo",
    ],
  ],
  [
    "resolved",
    [
      "fixed in",
      "fixed by",
      "fixed it",
      "we fixed",
      "patched",
      "has been fixed",
      "upgraded to",
      "behoben",
      "corrigé",
      "corregido",
      "solucionado",
    ],
  ],
];
// A negation at most two words before the phrase ("not fixed", "n'est pas vraiment corrigé").
const NEGATIONS = ["not", "no", "never", "isn't", "wasn't", "nicht", "kein", "pas", "jamais", "nunca"];
const HEDGES = ["maybe", "might", "probably", "perhaps", "not sure", "vielleicht", "peut-être", "quizás", "tal vez", "?"];

// Every phrase in one list, searched by the host in one call per decision (scanning the
// comments inside QuickJS would cost ~100 instructions per character per pass).
type Kind = { stance: Stance } | { negation: number } | "hedge";
const PHRASES: string[] = [];
const KINDS: Kind[] = [];
function add(list: string[], kind: (phrase: string) => Kind) {
  for (const phrase of list) {
    PHRASES.push(phrase);
    KINDS.push(kind(phrase));
  }
}
for (const [stance, list] of STANCES) add(list, () => ({ stance }));
// How many words the negation itself is ("isn't" is two: `isn` and `t`).
add(NEGATIONS, (p) => ({ negation: p.split(/[^\p{L}\p{N}]+/u).filter(Boolean).length }));
add(HEDGES, () => "hedge");

/** The stance one comment takes, or null when it takes none or is unclear. */
function stanceOf(found: PhraseMatch[]): Stance | "unclear" | null {
  for (const [stance] of STANCES) {
    // Matches come ordered by offset: the first is where the comment first says it.
    const m = found.find((f) => {
      const k = KINDS[f.phrase];
      return typeof k === "object" && "stance" in k && k.stance === stance;
    });
    if (!m) continue;
    const negated = found.some((f) => {
      const k = KINDS[f.phrase];
      if (typeof k !== "object" || !("negation" in k)) return false;
      const between = m.word - f.word - k.negation;
      return between >= 0 && between <= 2;
    });
    if (negated || found.some((f) => KINDS[f.phrase] === "hedge")) return "unclear";
    return stance;
  }
  return null;
}

function decide(input: ClosureInput): ClosureDecision {
  if (input.ticket.status.category !== "done") return decision.defer();
  const comments = input.ticket.comments;
  const perComment: PhraseMatch[][] = comments.map(() => []);
  for (const m of findPhrases(
    comments.map((c) => c.body),
    PHRASES,
  ))
    perComment[m.text].push(m);
  const stances = comments
    .map((c, i) => ({ id: c.id, stance: stanceOf(perComment[i]) }))
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
