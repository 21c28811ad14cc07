/**
 * Match guessing's operator commands, composed from the configuration the
 * way serve does: `gamedock guess reconcile` opens the configured database,
 * compares every wallet with its ledger and closes it again.
 */
import type { Config } from "../core/index.js";
import { openDatabase } from "../db/index.js";
import { reconcile, type Reconciliation } from "../guess/index.js";
import { resolveConfig } from "./resolve.js";

export async function reconcileWallets(config: Config): Promise<Reconciliation> {
  const database = await openDatabase(resolveConfig(config).database);
  try {
    return await reconcile(database.db);
  } finally {
    await database.close();
  }
}
