/**
 * Match guessing (design note 003): matches through their lifecycle, wallets
 * with an append-only ledger, bets, settlement, payment callbacks and the
 * admin API. Landed so far: the lifecycle table, wallets and the ledger,
 * matches with the feed import, the admin actions, the audit and the lists,
 * bets and reservations over the realtime connection, settlement, top-up
 * orders and the payment providers' callbacks.
 */
export {
  MATCH_ACTIONS,
  MATCH_STATE,
  allowedActions,
  nextState,
  stateLabel,
  stateName,
  type MatchAction,
  type MatchFacts,
  type MatchState,
} from "./match-states.js";
export { reconcile, type Mismatch, type Reconciliation } from "./reconcile.js";
export { Wallets, type LedgerEntryView, type LedgerPosting, type Posted } from "./wallet.js";
export { listAudit, writeAudit, type AuditEntry, type AuditView } from "./audit.js";
export { MAX_FEED_MATCHES, parseFeed, type Feed, type FeedMatch } from "./feed.js";
export { MAX_FEED_BYTES, fetchFeed } from "./feed-poll.js";
export {
  MATCH_STATUSES,
  Matches,
  type ImportResult,
  type MatchFilter,
  type MatchStatus,
} from "./matches.js";
export { registerGuessRoutes } from "./routes.js";
export type { BetView, MatchView } from "./views.js";
export { Bets, winAmount, type BetLimits, type BetRequest, type Placed } from "./bets.js";
export { Reservations, type DueReminder } from "./reservations.js";
export { guessHandlerModule, type GuessHandlerDeps } from "./handlers.js";
export { GUESS_PUSH, GUESS_RANGE, GUESS_REQUEST, followGroup } from "./msg-ids.js";
export {
  CLIENT_ORDER_ID,
  ORDER_CURRENCY,
  OrderIds,
  Orders,
  type AppliedPayment,
  type CreatedOrder,
  type OrderRequest,
  type OrderView,
} from "./orders.js";
export {
  PAY_ERROR_HEADER,
  parseForm,
  registerPaymentRoutes,
  type PaymentRouteOptions,
} from "./pay-routes.js";
export { loadPaymentKeys, providerConfigured, type PaymentSettings } from "./pay-config.js";
export * from "./pay-notify.js";
export { GuessStats, MAX_STATS_DAYS, type DayStats, type MatchStats } from "./stats.js";
export {
  SETTLING_STATES,
  Settlement,
  type BatchResult,
  type OutcomeNotifier,
  type SettledBet,
  type SettlementPhase,
  type SettlementProgress,
} from "./settlement.js";
