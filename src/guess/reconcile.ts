/**
 * `gamedock guess reconcile`: every wallet's balance must equal the sum of
 * its ledger, and every ledger entry's uid must have a wallet. Two set-based
 * queries, whatever the number of wallets; a mismatch is listed, never
 * repaired (which side is wrong is an operator's call).
 */
import { sql, type Kysely } from "kysely";
import type { Tables } from "../db/index.js";

export interface Mismatch {
  uid: string;
  /** The wallet's balance; null when the ledger has entries for a uid without a wallet. */
  balance: number | null;
  ledgerSum: number;
}

export interface Reconciliation {
  wallets: number;
  entries: number;
  mismatches: Mismatch[];
}

/** At most this many mismatches are listed (the counts are always whole). */
const LIST_LIMIT = 1000;

export async function reconcile(db: Kysely<Tables>): Promise<Reconciliation> {
  const sums = db
    .selectFrom("guess_ledger")
    .select(["uid", (eb) => eb.fn.sum<number | string>("amount").as("total")])
    .groupBy("uid")
    .as("sums");
  const wrongWallets = await db
    .selectFrom("guess_wallets as w")
    .leftJoin(sums, "sums.uid", "w.uid")
    .select(["w.uid", "w.balance", "sums.total"])
    .where(sql<boolean>`w.balance <> coalesce(sums.total, 0)`)
    .orderBy("w.uid")
    .limit(LIST_LIMIT)
    .execute();
  const orphans = await db
    .selectFrom(sums)
    .leftJoin("guess_wallets as w", "w.uid", "sums.uid")
    .select(["sums.uid", "sums.total"])
    .where("w.uid", "is", null)
    .orderBy("sums.uid")
    .limit(LIST_LIMIT)
    .execute();
  const counts = await db
    .selectFrom("guess_wallets")
    .select((eb) => eb.fn.countAll<number | string>().as("n"))
    .executeTakeFirstOrThrow();
  const entries = await db
    .selectFrom("guess_ledger")
    .select((eb) => eb.fn.countAll<number | string>().as("n"))
    .executeTakeFirstOrThrow();
  return {
    wallets: Number(counts.n),
    entries: Number(entries.n),
    mismatches: [
      ...wrongWallets.map((row) => ({
        uid: row.uid,
        balance: row.balance,
        ledgerSum: Number(row.total ?? 0),
      })),
      ...orphans.map((row) => ({ uid: row.uid, balance: null, ledgerSum: Number(row.total) })),
    ],
  };
}
