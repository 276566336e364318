// Accepts risk only with paperwork (the TypeScript twin of rules-examples/risk-acceptance):
// when the ticket was closed as accepting the risk (by resolution, or a comment that says so
// without a negation), a linked Confluence page must be about this ticket (the host says so in
// `referencesTicket`, from its title, body and labels), carry the approval label
// (`risk.approved_label`, default `risk-approved`), must not be expired (`expires-YYYY-MM-DD`)
// and must be younger than `risk.max_age_days` (default 365). Without one it skips; anything
// else is left to the default policy.
import {
  closure as decision,
  Config,
  DAY_MS,
  dateAfter,
  expiry,
  log,
} from "@verdict/rules-sdk";
import type { ClosureDecision, ClosureInput, Page, Ticket } from "@verdict/rules-sdk";

const AR_RESOLUTIONS = ["Known Risk", "Risk Accepted", "Accepted Risk"];
const UNSPECIFIC = ["won't do", "won't fix"];
const SAYS_ACCEPTED =
  /\b(risk (is |was )?accepted|accept(ed|ing)? (the )?risk|risk acceptance|riesgo aceptado|aceptamos el riesgo|risque accepté|risiko akzeptiert)\b/i;
const NEGATED =
  /\b(not|no|never|don't|do not|isn't|wasn't|won't|cannot|can't|nicht|kein|keine|no se|pas|jamais)\b[^.!?]{0,40}\b(accept|acept|akzept)/i;

function invalid(
  page: Page,
  ticket: Ticket,
  label: string,
  maxAgeDays: number,
  now: number,
): string | null {
  if (!page.referencesTicket) {
    return `\`${page.title}\` is not about ${ticket.key}`;
  }
  if (!page.labels.some((l) => l.toLowerCase() === label.toLowerCase())) {
    return `\`${page.title}\` is not labelled \`${label}\``;
  }
  const expires = expiry(page);
  if (expires !== null && expires < dateAfter(now, 0)) {
    return `\`${page.title}\` expired on ${expires}`;
  }
  if (now - page.lastModified > maxAgeDays * DAY_MS) {
    return `\`${page.title}\` was last changed more than ${maxAgeDays} days ago`;
  }
  return null;
}

function decide(input: ClosureInput): ClosureDecision {
  const config = new Config(input.config);
  const resolution = input.ticket.resolution?.trim().toLowerCase() ?? "";
  const configured = config.list("resolutions.accepted_risk");
  const arResolutions = (configured.length > 0 ? configured : AR_RESOLUTIONS).map((r) =>
    r.toLowerCase(),
  );
  const byResolution = arResolutions.includes(resolution);
  const said = input.ticket.comments.filter((c) => SAYS_ACCEPTED.test(c.body));
  if (said.some((c) => NEGATED.test(c.body))) {
    log.info("a comment about accepting the risk is negated; the default policy decides");
    return decision.defer();
  }
  const label = config.get("risk.approved_label") ?? "risk-approved";
  const maxAge = config.number("risk.max_age_days") ?? 365;
  const approved = input.pages.find(
    (p) => invalid(p, input.ticket, label, maxAge, input.now) === null,
  );
  if (!byResolution && said.length === 0) {
    // An approved page turns an unspecific "Won't Do" into Accepted Risk.
    if (approved && UNSPECIFIC.includes(resolution) && input.ticket.status.category === "done") {
      return decision.apply(
        "accepted-risk",
        `approved risk acceptance page \`${approved.title}\` (${approved.url})`,
        0.9,
      );
    }
    return decision.defer();
  }
  if (approved) {
    return decision.apply(
      "accepted-risk",
      `risk accepted with approved page \`${approved.title}\` (${approved.url})`,
      0.95,
    );
  }
  const why = input.pages
    .map((p) => invalid(p, input.ticket, label, maxAge, input.now))
    .filter((w): w is string => w !== null);
  return decision.skip(
    why.length === 0
      ? "risk acceptance without a linked, approved Confluence page"
      : `risk acceptance not approved: ${why.join("; ")}`,
  );
}

export const closure = { decide };
