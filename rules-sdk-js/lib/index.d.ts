/// <reference path="../types/interfaces/verdict-rules-types.d.ts" />
/// <reference path="../types/interfaces/verdict-rules-closure.d.ts" />
/// <reference path="../types/interfaces/verdict-rules-transition.d.ts" />
/// <reference path="../types/interfaces/verdict-rules-ticketing.d.ts" />
/// <reference path="../types/interfaces/verdict-rules-host.d.ts" />
// Helpers for Verdict rules written in TypeScript; the contract's types come from the WIT.

import type {
  ClosureDecision,
  ClosureInput,
} from "verdict:rules/closure@1.3.0";
import type {
  TransitionDecision,
  TransitionInput,
} from "verdict:rules/transition@1.3.0";
import type {
  TicketDecision,
  TicketInput,
  TicketPlan,
} from "verdict:rules/ticketing@1.3.0";
import type {
  ConfigEntry,
  FindingStatus,
  Page,
  Severity,
  Ticket,
} from "verdict:rules/types@1.3.0";

export type * from "verdict:rules/types@1.3.0";
export type { ClosureDecision, ClosureInput } from "verdict:rules/closure@1.3.0";
export type {
  OfferedTransition,
  TransitionChoice,
  TransitionDecision,
  TransitionInput,
} from "verdict:rules/transition@1.3.0";
export type { TicketDecision, TicketInput, TicketPlan } from "verdict:rules/ticketing@1.3.0";

/** What a rule module exports: any of the three decisions. */
export interface Rule {
  closure?: { decide(input: ClosureInput): ClosureDecision };
  transition?: { choose(input: TransitionInput): TransitionDecision };
  ticketing?: { plan(input: TicketInput): TicketDecision };
}

/** The rule's bounded log (the host keeps the first rules.limits.log_bytes per run). */
export declare const log: {
  debug(message: string): void;
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
};

/** The tenant's settings as the rule sees them. */
export declare class Config {
  constructor(entries: ConfigEntry[]);
  get(key: string): string | null;
  number(key: string): number | null;
  bool(key: string): boolean | null;
  list(key: string): string[];
}

export declare const closure: {
  apply(status: Exclude<FindingStatus, "open">, reason: string, confidence?: number): ClosureDecision;
  skip(reason: string): ClosureDecision;
  defer(): ClosureDecision;
};
export declare const transition: {
  take(id: string, reason: string, resolution?: string | null): TransitionDecision;
  none(reason: string): TransitionDecision;
  defer(): TransitionDecision;
};
export declare const ticketing: {
  /** `fields` maps a Jira field (id or name) to any JSON value (sent as the WIT's JSON text). */
  create(
    plan: Omit<TicketPlan, "priority" | "dueDate" | "labels" | "fields" | "group" | "assignee" | "epic"> &
      Partial<Omit<TicketPlan, "fields">> & { fields?: Record<string, unknown> },
  ): TicketDecision;
  skip(reason: string): TicketDecision;
  defer(): TicketDecision;
};

export declare const DAY_MS: number;
/** `YYYY-MM-DD` (UTC) of `nowMs` plus `days`. */
export declare function dateAfter(nowMs: number, days: number): string;
/** info 0 … critical 4. */
export declare function severityRank(severity: Severity): number;
/** A page's `expires-YYYY-MM-DD` label, when it has one. */
export declare function expiry(page: Page): string | null;
/**
 * Whether the page is about `ticket`: its key (as a word, any case) in the title, a label or
 * the excerpt. Evidence is only evidence for the ticket it names — anyone who can comment can
 * link an unrelated approved page.
 */
export declare function references(page: Page, ticket: Ticket): boolean;

/** Where a phrase was found (see `findPhrases`). */
export interface PhraseMatch {
  /** Index into the texts searched. */
  text: number;
  /** Characters (code points) of the text before the match. */
  offset: number;
  /** Index into the phrases searched. */
  phrase: number;
  /** Words (runs of letters and digits) of the text that ended before the match. */
  word: number;
}
/**
 * Every place each phrase is said in each text, found by the host in native code: as whole
 * words, in any case, any run of whitespace matching one space; a phrase that starts or ends
 * with punctuation (`"?"`) needs no word edge on that side. Ordered by text, offset, phrase.
 * Inside QuickJS, scanning text costs ~100 instructions per character per pass (`indexOf`,
 * `toLowerCase`, a regular expression ~1,100): this is the way to read comments. At most 1,000
 * phrases and 10,000 matches per call; the host charges fuel for the work.
 */
export declare function findPhrases(texts: string[], phrases: string[]): PhraseMatch[];
