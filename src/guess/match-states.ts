/**
 * A match's lifecycle (docs/guess.md, "States"): the numbers are design note
 * 003's `iGuessState`, kept as they are in the API and the database. The
 * note's prose contradicts itself on 2 (it calls it both "betting" and
 * "stop betting"); this table is the one implemented:
 *
 *   0 not started  → approve (a flag; stays 0), open → 2, start → 1, cancel → 6
 *   2 betting open → close/start → 1, lock (at the lock time) → 1, result → 3, cancel → 6
 *   1 stopped      → open → 2 (before the lock time), result → 3, no result → 7, cancel → 6
 *   3 settling     → settled → 4            4 settled → paid → 9
 *   6 cancelled, 7 no result → refunded → 8
 *   8 refunded, 9 paid → archive → 5 (closed)
 *
 * Anything else is E_MATCH_STATE naming the current state and the one asked for.
 */
import { GamedockError } from "../core/index.js";

export const MATCH_STATE = {
  notStarted: 0,
  stopped: 1,
  betting: 2,
  settling: 3,
  settled: 4,
  closed: 5,
  cancelled: 6,
  noResult: 7,
  refunded: 8,
  paid: 9,
} as const;

export type MatchState = (typeof MATCH_STATE)[keyof typeof MATCH_STATE];

const NAMES: Record<MatchState, string> = {
  0: "not started",
  1: "betting stopped",
  2: "betting open",
  3: "settling",
  4: "settled",
  5: "closed",
  6: "cancelled",
  7: "no result",
  8: "refunded",
  9: "paid",
};

/** "settled", "betting open" …: the state's meaning in words. */
export function stateLabel(state: MatchState): string {
  return NAMES[state];
}

/** "4 (settled)": the number and its meaning, for messages. */
export function stateName(state: MatchState): string {
  return `${state} (${NAMES[state]})`;
}

/** Admin actions (approve … archive) and the system's own (lock, settled, paid, refunded). */
export type MatchAction =
  | "approve"
  | "open"
  | "close"
  | "start"
  | "lock"
  | "result"
  | "noResult"
  | "cancel"
  | "settled"
  | "paid"
  | "refunded"
  | "archive";

export const MATCH_ACTIONS: readonly MatchAction[] = [
  "approve",
  "open",
  "close",
  "start",
  "lock",
  "result",
  "noResult",
  "cancel",
  "settled",
  "paid",
  "refunded",
  "archive",
];

/** What a transition depends on besides the state. */
export interface MatchFacts {
  state: MatchState;
  approved: boolean;
  /** When betting stops by itself (ms since the epoch). */
  lockAt: number;
  now: number;
}

interface Rule {
  from: readonly MatchState[];
  to: MatchState;
  /** A further condition: null when it holds, else why not. */
  unless?: (facts: MatchFacts) => string | null;
}

const RULES: Record<MatchAction, Rule> = {
  approve: { from: [0], to: 0 },
  open: {
    from: [0, 1],
    to: 2,
    unless: (f) =>
      f.state === 0 && !f.approved
        ? "it is not approved yet"
        : f.state === 1 && f.now >= f.lockAt
          ? "its lock time has passed"
          : null,
  },
  close: { from: [2], to: 1 },
  start: { from: [0, 2], to: 1 },
  lock: { from: [2], to: 1, unless: (f) => (f.now < f.lockAt ? "its lock time is ahead" : null) },
  result: { from: [1, 2], to: 3 },
  noResult: { from: [1], to: 7 },
  cancel: { from: [0, 1, 2], to: 6 },
  settled: { from: [3], to: 4 },
  paid: { from: [4], to: 9 },
  refunded: { from: [6, 7], to: 8 },
  archive: { from: [8, 9], to: 5 },
};

/** Why `action` is not allowed from `facts`, or null when it is. */
function refusal(facts: MatchFacts, action: MatchAction): string | null {
  const rule = RULES[action];
  return !rule.from.includes(facts.state)
    ? `it needs state ${rule.from.map(stateName).join(" or ")}`
    : (rule.unless?.(facts) ?? null);
}

/** The state `action` leads to from `facts`; E_MATCH_STATE when it is not allowed. */
export function nextState(facts: MatchFacts, action: MatchAction): MatchState {
  const rule = RULES[action];
  const why = refusal(facts, action);
  if (why !== null) {
    throw new GamedockError(
      "E_MATCH_STATE",
      `cannot ${action} a match in state ${stateName(facts.state)} (to ${stateName(rule.to)}): ${why}`,
      { current: facts.state, requested: rule.to, action },
    );
  }
  return rule.to;
}

/**
 * The actions allowed from `facts`, in MATCH_ACTIONS order (for lists and
 * the dashboard). Asked for every match of every list page: no exceptions
 * thrown to find out (they cost more than the rest of a match's view).
 */
export function allowedActions(facts: MatchFacts): MatchAction[] {
  return MATCH_ACTIONS.filter((action) => refusal(facts, action) === null);
}
