/**
 * Match guessing as `serve` runs it: the routes over the shared database,
 * the sweep that stops betting at each match's lock time (every second: a
 * bet arriving in between is refused by its own check of the lock time), and
 * the feed poll when `guess.feedUrl` is set; and
 * `gamedock guess reconcile`, which opens the configured database, compares
 * every wallet with its ledger and closes it again.
 */
import type { FastifyInstance } from "fastify";
import { redactUrl, type Config, type Logger } from "../core/index.js";
import { openDatabase, type Database } from "../db/index.js";
import type { Authenticator, Pusher } from "../realtime/index.js";
import {
  Bets,
  GUESS_PUSH,
  Matches,
  GuessStats,
  Orders,
  Reservations,
  SETTLING_STATES,
  registerPaymentRoutes,
  Settlement,
  Wallets,
  fetchFeed,
  followGroup,
  reconcile,
  registerGuessRoutes,
  type MatchView,
  type Reconciliation,
} from "../guess/index.js";
import type { QueueBackend } from "../queue/index.js";
import { startSettlement, type SettlementRunner } from "./guess-settlement.js";
import { resolveConfig } from "./resolve.js";

const SWEEP_MS = 1000;

/** Guessing's parts over one database, with guess.* limits. */
export interface GuessServices {
  matches: Matches;
  wallets: Wallets;
  bets: Bets;
  reservations: Reservations;
  settlement: Settlement;
  orders: Orders;
  stats: GuessStats;
}

export function guessServices(
  config: Config,
  database: Database,
  onChange?: (match: MatchView) => void,
): GuessServices {
  const wallets = new Wallets(database);
  const { minStake, maxStake, maxStakePerMatch } = config.guess;
  return {
    matches: new Matches(database, Date.now, onChange),
    wallets,
    bets: new Bets(database, wallets, { minStake, maxStake, maxStakePerMatch }),
    reservations: new Reservations(database),
    settlement: new Settlement(database, config.guess.settleBatch),
    orders: new Orders(database, wallets, config.guess.payments),
    stats: new GuessStats(database, config.guess.statsTimeZone),
  };
}

export interface GuessRuntime {
  register(app: FastifyInstance): Promise<void>;
  close(): Promise<void>;
}

/**
 * Guessing as serve runs it: every change of a match is pushed to its
 * followers, and a result, no-result or cancel enqueues its settlement;
 * each second one sweep stops betting at lock times and sends "starts
 * soon" to those who reserved a match.
 */
export async function openGuess(
  config: Config,
  database: Database,
  logger: Logger,
  realtime: { pusher: Pusher; authenticator: Authenticator },
  backends: ReadonlyMap<string, QueueBackend>,
): Promise<GuessRuntime> {
  const { pusher, authenticator } = realtime;
  const log = logger.child({ component: "guess" });
  let settling: SettlementRunner | null = null;
  const pushed = (what: string, work: Promise<unknown>): void => {
    work.catch((err: unknown) => {
      log.warn({ event: "guess-async-error", what, err }, "a guessing follow-up failed");
    });
  };
  const services = guessServices(config, database, (match) => {
    if (match.approved) {
      pushed(
        "match-changed",
        pusher.push({ group: followGroup(match.id) }, GUESS_PUSH.matchChanged, { match }),
      );
    }
    // Lost, this enqueue is made good by the next start's sweep of unfinished matches.
    if (settling && SETTLING_STATES.includes(match.state)) {
      pushed("settle-enqueue", settling.enqueue(match.id));
    }
  });
  const { matches, reservations, settlement, orders } = services;
  settling = await startSettlement({
    config,
    database,
    backends,
    pusher,
    matches,
    settlement,
    log,
  });
  const feed = config.guess.feedUrl === "" ? null : pollFeed(config, matches, log);
  const remind = async (): Promise<void> => {
    for (const due of await reservations.due(config.guess.remindBeforeMs)) {
      const match = {
        id: due.matchId,
        title: due.title,
        startsAt: new Date(due.startsAt).toISOString(),
      };
      await pusher.push({ uids: due.uids }, GUESS_PUSH.startsSoon, { match });
      await reservations.markReminded(due.matchId, due.uids);
    }
  };
  let running: Promise<unknown> | null = null;
  const timer = setInterval(() => {
    running ??= (async () => {
      const locked = await matches.lockDue();
      if (locked > 0)
        log.info({ event: "locked", matches: locked }, "betting stopped at lock time");
      await remind();
      await orders.closeExpired();
    })()
      .catch((err: unknown) => {
        log.warn({ event: "sweep-error", err }, "guessing sweep failed");
      })
      .finally(() => {
        running = null;
      });
  }, SWEEP_MS);
  timer.unref();
  const runner = settling;
  return {
    async register(app) {
      await registerGuessRoutes(app, services, database);
      await registerPaymentRoutes(app, {
        orders,
        settings: config.guess.payments,
        authenticator,
        logger,
        onCredited: async (uid, balance, orderId) => {
          await pusher.push({ uid }, GUESS_PUSH.balanceChanged, { orderId, balance });
        },
      });
    },
    async close() {
      clearInterval(timer);
      await feed?.close();
      await running;
      await runner.close();
    },
  };
}

/** Fetches guess.feedUrl now and every guess.feedPollMs, and imports what it says (actor "feed"). */
function pollFeed(config: Config, matches: Matches, log: Logger): { close(): Promise<void> } {
  const url = config.guess.feedUrl;
  let running: Promise<void> | null = null;
  const poll = (): void => {
    running ??= fetchFeed(url)
      .then(async (feed) => {
        const results = await matches.importFeed(feed.matches, "feed");
        const counts: Record<string, number> = {};
        for (const r of results) counts[r.outcome] = (counts[r.outcome] ?? 0) + 1;
        log.info({ event: "feed-imported", url: redactUrl(url), ...counts }, "match feed imported");
        for (const r of results.filter((x) => x.outcome === "refused")) {
          log.warn(
            { event: "feed-refused", externalId: r.externalId, reason: r.reason },
            "the feed changes a match that has opened; kept as it is",
          );
        }
      })
      .catch((err: unknown) => {
        log.warn({ event: "feed-error", url: redactUrl(url), err }, "match feed not imported");
      })
      .finally(() => {
        running = null;
      });
  };
  poll();
  const timer = setInterval(poll, config.guess.feedPollMs);
  timer.unref();
  return {
    async close() {
      clearInterval(timer);
      await running;
    },
  };
}

export async function reconcileWallets(config: Config): Promise<Reconciliation> {
  const database = await openDatabase(resolveConfig(config).database);
  try {
    return await reconcile(database.db);
  } finally {
    await database.close();
  }
}
