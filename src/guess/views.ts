/** A match as the API answers it: times as ISO strings, its options, and what may happen next. */
import type {
  GuessBetStatus,
  GuessBetTable,
  GuessMatchTable,
  GuessOptionTable,
} from "../db/index.js";
import { allowedActions, stateLabel, type MatchAction, type MatchState } from "./match-states.js";

export interface MatchView {
  id: string;
  externalId: string;
  type: string;
  title: string;
  teams: { id: string; name: string }[];
  startsAt: string;
  lockAt: string;
  /** iGuessState (docs/guess.md, "States"). */
  state: MatchState;
  stateName: string;
  approved: boolean;
  /** The winning option's id, once a result is set. */
  result: string | null;
  options: { id: string; label: string; odds: number }[];
  /** What an admin may do now (the lock-time transition is the system's). */
  actions: MatchAction[];
  createdAt: string;
  updatedAt: string;
}

export function matchView(
  row: GuessMatchTable,
  options: GuessOptionTable[],
  now: number,
): MatchView {
  const state = row.state as MatchState;
  return {
    id: row.id,
    externalId: row.external_id,
    type: row.type,
    title: row.title,
    teams: JSON.parse(row.teams) as { id: string; name: string }[],
    startsAt: new Date(row.starts_at).toISOString(),
    lockAt: new Date(row.lock_at).toISOString(),
    state,
    stateName: stateLabel(state),
    approved: row.approved === 1,
    result: row.result,
    options: options.map((o) => ({ id: o.option_id, label: o.label, odds: o.odds })),
    actions: allowedActions({
      state,
      approved: row.approved === 1,
      lockAt: row.lock_at,
      now,
    }).filter((action) => !SYSTEM_ACTIONS.includes(action)),
    createdAt: new Date(row.created_at).toISOString(),
    updatedAt: new Date(row.updated_at).toISOString(),
  };
}

const SYSTEM_ACTIONS: readonly MatchAction[] = ["lock", "settled", "paid", "refunded"];

/** A bet as users and admins see it. */
export interface BetView {
  betId: string;
  clientBetId: string;
  matchId: string;
  optionId: string;
  stake: number;
  /** The odds it was placed at (× 1000). */
  odds: number;
  /** What it pays if it wins: floor(stake × odds / 1000). */
  winAmount: number;
  status: GuessBetStatus;
  /** What was credited: the payout (paid) or the stake (refunded); 0 before. */
  credited: number;
  placedAt: string;
  settledAt: string | null;
}

export function betView(row: GuessBetTable): BetView {
  return {
    betId: row.id,
    clientBetId: row.client_bet_id,
    matchId: row.match_id,
    optionId: row.option_id,
    stake: row.stake,
    odds: row.odds,
    winAmount: row.win_amount,
    status: row.status,
    credited: row.credited,
    placedAt: new Date(row.created_at).toISOString(),
    settledAt: row.settled_at === null ? null : new Date(row.settled_at).toISOString(),
  };
}
