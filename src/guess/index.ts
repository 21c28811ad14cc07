/**
 * Match guessing (design note 003): matches through their lifecycle, wallets
 * with an append-only ledger, bets, settlement, payment callbacks and the
 * admin API. This first part holds the lifecycle table and the wallets.
 */
export {
  MATCH_ACTIONS,
  MATCH_STATE,
  allowedActions,
  nextState,
  stateName,
  type MatchAction,
  type MatchFacts,
  type MatchState,
} from "./match-states.js";
export { reconcile, type Mismatch, type Reconciliation } from "./reconcile.js";
export { Wallets, type LedgerPosting, type Posted } from "./wallet.js";
