/**
 * Match guessing as `serve` runs it: the routes over the shared database and
 * the sweep that stops betting at each match's lock time (every second: a
 * bet arriving in between is refused by its own check of the lock time); and
 * `gamedock guess reconcile`, which opens the configured database, compares
 * every wallet with its ledger and closes it again.
 */
import type { FastifyInstance } from "fastify";
import type { Config, Logger } from "../core/index.js";
import { openDatabase, type Database } from "../db/index.js";
import {
  Matches,
  Wallets,
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

export function openGuess(database: Database, logger: Logger): GuessRuntime {
  const log = logger.child({ component: "guess" });
  const matches = new Matches(database);
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
