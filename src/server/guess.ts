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
import {
  Matches,
  Wallets,
  fetchFeed,
  reconcile,
  registerGuessRoutes,
  type Reconciliation,
} from "../guess/index.js";
import { resolveConfig } from "./resolve.js";

const LOCK_SWEEP_MS = 1000;

export interface GuessRuntime {
  register(app: FastifyInstance): Promise<void>;
  close(): Promise<void>;
}

export function openGuess(config: Config, database: Database, logger: Logger): GuessRuntime {
  const log = logger.child({ component: "guess" });
  const matches = new Matches(database);
  const feed = config.guess.feedUrl === "" ? null : pollFeed(config, matches, log);
  let running: Promise<unknown> | null = null;
  const timer = setInterval(() => {
    running ??= matches
      .lockDue()
      .then((locked) => {
        if (locked > 0)
          log.info({ event: "locked", matches: locked }, "betting stopped at lock time");
      })
      .catch((err: unknown) => {
        log.warn({ event: "lock-sweep-error", err }, "lock-time sweep failed");
      })
      .finally(() => {
        running = null;
      });
  }, LOCK_SWEEP_MS);
  timer.unref();
  return {
    register: (app) => registerGuessRoutes(app, matches, new Wallets(database), database),
    async close() {
      clearInterval(timer);
      await feed?.close();
      await running;
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
