/**
 * The match lifecycle table of issue "Match guessing" (docs/guess.md): every
 * (state, action) pair is either the table's transition or E_MATCH_STATE
 * naming the current and the requested state — checked exhaustively.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  MATCH_ACTIONS,
  allowedActions,
  nextState,
  type MatchAction,
  type MatchFacts,
  type MatchState,
} from "../../src/guess/index.js";
import { GamedockError } from "../../src/core/index.js";

const NOW = Date.parse("2026-12-01T12:00:00Z");
const LATER = NOW + 3_600_000;
const EARLIER = NOW - 3_600_000;
const STATES: MatchState[] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];

/** The table as the issue gives it: [from, action, to]. */
const ALLOWED: [MatchState, MatchAction, MatchState][] = [
  [0, "approve", 0],
  [0, "open", 2],
  [1, "open", 2],
  [2, "close", 1],
  [0, "start", 1],
  [2, "start", 1],
  [2, "lock", 1],
  [1, "result", 3],
  [2, "result", 3],
  [1, "noResult", 7],
  [0, "cancel", 6],
  [1, "cancel", 6],
  [2, "cancel", 6],
  [3, "settled", 4],
  [4, "paid", 9],
  [6, "refunded", 8],
  [7, "refunded", 8],
  [8, "archive", 5],
  [9, "archive", 5],
];

function facts(state: MatchState, overrides: Partial<MatchFacts> = {}): MatchFacts {
  // Approved, and past the lock time only for `lock` (set per case below).
  return { state, approved: true, lockAt: LATER, now: NOW, ...overrides };
}

describe("match lifecycle", () => {
  it("allows exactly the table's transitions and refuses every other pair with E_MATCH_STATE", () => {
    for (const state of STATES) {
      for (const action of MATCH_ACTIONS) {
        const allowed = ALLOWED.find(([from, a]) => from === state && a === action);
        const when = facts(state, action === "lock" ? { lockAt: EARLIER } : {});
        if (allowed) {
          assert.equal(nextState(when, action), allowed[2], `${state} ${action}`);
          continue;
        }
        assert.throws(
          () => nextState(when, action),
          (err: unknown) => {
            assert.ok(err instanceof GamedockError);
            assert.equal(err.code, "E_MATCH_STATE");
            assert.equal(err.details?.current, state);
            assert.equal(typeof err.details?.requested, "number");
            assert.match(err.message, new RegExp(`in state ${state} \\(`));
            return true;
          },
          `${state} ${action} must be refused`,
        );
      }
    }
  });

  it("opens only approved matches, reopens only before the lock time, locks only after it", () => {
    assert.throws(() => nextState(facts(0, { approved: false }), "open"), /not approved/);
    assert.throws(() => nextState(facts(1, { lockAt: EARLIER }), "open"), /lock time has passed/);
    assert.throws(() => nextState(facts(2), "lock"), /lock time is ahead/);
    assert.equal(nextState(facts(2, { lockAt: NOW }), "lock"), 1, "at the lock time exactly");
  });

  it("lists the allowed actions of a state (what the admin API offers)", () => {
    assert.deepEqual(allowedActions(facts(0, { approved: false })), ["approve", "start", "cancel"]);
    assert.deepEqual(allowedActions(facts(2)), ["close", "start", "result", "cancel"]);
    assert.deepEqual(allowedActions(facts(5)), []);
  });
});
