/**
 * Wallets and their ledger (docs/guess.md, "Wallets"). A balance changes only
 * together with one ledger entry, in one transaction, and an entry is unique
 * by its cause ("stake:<bet id>", "topup:<order id>", …): posting the same
 * cause again changes nothing and answers what the first posting did, so a
 * retried bet or a provider's repeated callback moves money once.
 *
 * A debit is a conditional update (`balance + amount >= 0`), so two debits
 * racing for the last of a balance cannot both pass on any database; a CHECK
 * on the column backs it up. Money is integer minor units (fen).
 */
import { sql, type Kysely, type Transaction } from "kysely";
import { GamedockError } from "../core/index.js";
import type { Database, DbDialect, GuessLedgerKind, Tables } from "../db/index.js";
import { decodeNewestCursor, newestPage, olderThan } from "./newest-first.js";
import { isDeadlock, isDuplicateKey } from "../db/sql-errors.js";

export interface LedgerPosting {
  /** Unique per entry: "<kind>:<id of what caused it>". */
  cause: string;
  uid: string;
  kind: GuessLedgerKind;
  /** Signed minor units: credits > 0, debits < 0. */
  amount: number;
  matchId?: string | null;
  reason?: string | null;
}

export interface Posted {
  /** false: the cause was posted before; nothing changed now. */
  applied: boolean;
  /** The balance right after the entry (the first posting's, for a repeat). */
  balanceAfter: number;
}

const MAX_AMOUNT = Number.MAX_SAFE_INTEGER;

const DEADLOCK_RETRIES = 5;

function checkPosting(posting: LedgerPosting): void {
  if (!Number.isSafeInteger(posting.amount) || posting.amount === 0) {
    throw new GamedockError(
      "E_INVALID_REQUEST",
      `a ledger amount must be a non-zero whole number of minor units, got ${posting.amount}`,
    );
  }
  if (Math.abs(posting.amount) > MAX_AMOUNT) {
    throw new GamedockError("E_INVALID_REQUEST", `ledger amount ${posting.amount} is too large`);
  }
  if (posting.cause.length === 0 || posting.cause.length > 191) {
    throw new GamedockError("E_INVALID_REQUEST", "a ledger cause must be 1–191 characters");
  }
}

/** A ledger entry as the API answers it. */
export interface LedgerEntryView {
  cause: string;
  kind: GuessLedgerKind;
  amount: number;
  balanceAfter: number;
  matchId: string | null;
  reason: string | null;
  at: string;
}

export class Wallets {
  private readonly db: Kysely<Tables>;
  private readonly dialect: DbDialect;

  constructor(
    database: Database,
    private readonly now: () => number = Date.now,
  ) {
    this.db = database.db;
    this.dialect = database.dialect;
  }

  /** The balance of `uid` (0 for a uid that never had a wallet). */
  async balance(uid: string): Promise<number> {
    const row = await this.db
      .selectFrom("guess_wallets")
      .select("balance")
      .where("uid", "=", uid)
      .executeTakeFirst();
    return row?.balance ?? 0;
  }

  /**
   * Posts one entry and moves the balance with it, in one transaction; a
   * cause posted before (now or concurrently) changes nothing. A debit larger
   * than the balance: E_INSUFFICIENT_FUNDS, and nothing is written.
   */
  async post(
    posting: LedgerPosting,
    /** More of the same change, in the same transaction (an audit row). */
    within?: (trx: Transaction<Tables>, posted: Posted) => Promise<void>,
  ): Promise<Posted> {
    checkPosting(posting);
    for (let attempt = 1; ; attempt++) {
      const earlier = await this.find(this.db, posting.cause);
      if (earlier) return earlier;
      try {
        return await this.db.transaction().execute(async (trx) => {
          const posted = await this.postIn(trx, posting);
          await within?.(trx, posted);
          return posted;
        });
      } catch (err) {
        // A deadlock victim rolled back whole: post again (the loser of a cause race then finds it).
        if (isDeadlock(err) && attempt < DEADLOCK_RETRIES) continue;
        if (!isDuplicateKey(err)) throw err;
        // Another posting of the same cause committed first: it is the one that counts.
        const first = await this.find(this.db, posting.cause);
        if (!first) throw err;
        return first;
      }
    }
  }

  /**
   * The posting inside the caller's transaction (bets and settlement post
   * with their own rows). A repeated cause surfaces as the driver's
   * duplicate-key error, which rolls the caller's transaction back.
   */
  async postIn(trx: Transaction<Tables>, posting: LedgerPosting): Promise<Posted> {
    checkPosting(posting);
    const now = this.now();
    if (posting.amount > 0) {
      await this.credit(trx, posting.uid, posting.amount, now);
    } else if (!(await this.debit(trx, posting.uid, posting.amount, now))) {
      const balance = await this.balanceIn(trx, posting.uid);
      throw new GamedockError(
        "E_INSUFFICIENT_FUNDS",
        `wallet of ${JSON.stringify(posting.uid)} holds ${balance}; ${posting.kind} needs ${-posting.amount}`,
        { uid: posting.uid, balance, needed: -posting.amount },
      );
    }
    const balanceAfter = await this.balanceIn(trx, posting.uid);
    await trx
      .insertInto("guess_ledger")
      .values({
        cause: posting.cause,
        uid: posting.uid,
        kind: posting.kind,
        amount: posting.amount,
        balance_after: balanceAfter,
        match_id: posting.matchId ?? null,
        reason: posting.reason ?? null,
        created_at: now,
      })
      .execute();
    return { applied: true, balanceAfter };
  }

  /** A wallet's ledger, newest first, a page at a time. */
  async history(
    uid: string,
    page: { cursor?: string | undefined; limit: number },
  ): Promise<{ entries: LedgerEntryView[]; nextCursor: string | null }> {
    let query = this.db.selectFrom("guess_ledger").selectAll().where("uid", "=", uid);
    if (page.cursor !== undefined) {
      query = query.where(
        olderThan(decodeNewestCursor(page.cursor, /.{1,191}/), "created_at", "cause"),
      );
    }
    const rows = await query
      .orderBy("created_at", "desc")
      .orderBy("cause", "desc")
      .limit(page.limit + 1)
      .execute();
    const { shown, nextCursor } = newestPage(rows, page.limit, (row) => ({
      at: row.created_at,
      key: row.cause,
    }));
    return {
      entries: shown.map((row) => ({
        cause: row.cause,
        kind: row.kind,
        amount: row.amount,
        balanceAfter: row.balance_after,
        matchId: row.match_id,
        reason: row.reason,
        at: new Date(row.created_at).toISOString(),
      })),
      nextCursor,
    };
  }

  private async find(db: Kysely<Tables>, cause: string): Promise<Posted | null> {
    const row = await db
      .selectFrom("guess_ledger")
      .select("balance_after")
      .where("cause", "=", cause)
      .executeTakeFirst();
    return row ? { applied: false, balanceAfter: row.balance_after } : null;
  }

  private async balanceIn(trx: Transaction<Tables>, uid: string): Promise<number> {
    const row = await trx
      .selectFrom("guess_wallets")
      .select("balance")
      .where("uid", "=", uid)
      .executeTakeFirst();
    return row?.balance ?? 0;
  }

  /**
   * One upsert: the wallet is created with the amount or grows by it. One
   * statement takes the row's write lock at once; a read-then-write (insert
   * ignore, then update) would let two credits deadlock on MySQL.
   */
  private async credit(
    trx: Transaction<Tables>,
    uid: string,
    amount: number,
    now: number,
  ): Promise<void> {
    const insert = trx
      .insertInto("guess_wallets")
      .values({ uid, balance: amount, updated_at: now });
    // PostgreSQL needs the existing row's column qualified (`excluded` is the other one).
    const current =
      this.dialect === "postgres" ? sql.ref("guess_wallets.balance") : sql.ref("balance");
    const grown = { balance: sql<number>`${current} + ${amount}`, updated_at: now };
    await (
      this.dialect === "mysql"
        ? insert.onDuplicateKeyUpdate(grown)
        : insert.onConflict((conflict) => conflict.column("uid").doUpdateSet(grown))
    ).execute();
  }

  /** A conditional update: false when the wallet is missing or holds less than the debit. */
  private async debit(
    trx: Transaction<Tables>,
    uid: string,
    amount: number,
    now: number,
  ): Promise<boolean> {
    const moved = await trx
      .updateTable("guess_wallets")
      .set((eb) => ({ balance: eb("balance", "+", amount), updated_at: now }))
      .where("uid", "=", uid)
      .where((eb) => eb(eb("balance", "+", amount), ">=", 0))
      .executeTakeFirst();
    return Number(moved.numUpdatedRows) > 0;
  }
}
