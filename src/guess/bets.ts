/**
 * Placing bets (docs/guess.md, "Bets"). One transaction per bet: it reads
 * the match under a shared row lock (so an admin's close or result, which
 * takes the row's write lock, waits for the bets in flight and every bet
 * after it sees the new state), debits the stake through the ledger (cause
 * "stake:<bet id>"), checks the user's total on the match, and inserts the
 * bet. The debit comes before the total because it takes the wallet's row
 * lock: two bets of one user on one match are decided one after the other,
 * so they cannot both fit under the per-match limit.
 *
 * Idempotent by (uid, clientBetId): a retry, or a request the realtime
 * runtime delivers again after a worker died, gets the first bet back and
 * is debited once (the unique index decides a race).
 */
import { randomBytes } from "node:crypto";
import { sql, type Kysely, type Transaction } from "kysely";
import { GamedockError } from "../core/index.js";
import type { Database, DbDialect, GuessBetTable, Tables } from "../db/index.js";
import { decodeNewestCursor, newestPage, olderThan } from "./newest-first.js";
import { isDeadlock, isDuplicateKey } from "../db/sql-errors.js";
import { betView, type BetView } from "./views.js";
import type { Wallets } from "./wallet.js";

type Trx = Transaction<Tables>;

export interface BetLimits {
  minStake: number;
  maxStake: number;
  maxStakePerMatch: number;
}

export interface BetRequest {
  matchId: string;
  optionId: string;
  /** Minor units. */
  stake: number;
  /** The client's id for this bet (a retry repeats it). */
  clientBetId: string;
  /** The odds the user saw: when given and no longer current, E_ODDS_CHANGED. */
  odds?: number | undefined;
}

export interface Placed {
  bet: BetView;
  /** The balance right after the stake (the current balance for a repeat). */
  balance: number;
  /** True when this clientBetId was placed before: nothing new was debited. */
  repeated: boolean;
}

const DEADLOCK_RETRIES = 5;

/** Bet ids: "b" + time + random (newBetId). */
const BET_ID = /b[a-z0-9]{1,12}-[0-9a-f]{12}/;

const newBetId = (): string => `b${Date.now().toString(36)}-${randomBytes(6).toString("hex")}`;

/** floor(stake × odds / 1000), exact for any stake and odds the limits allow. */
export const winAmount = (stake: number, odds: number): number =>
  Number((BigInt(stake) * BigInt(odds)) / 1000n);

export class Bets {
  private readonly db: Kysely<Tables>;
  private readonly dialect: DbDialect;

  constructor(
    database: Database,
    private readonly wallets: Wallets,
    private readonly limits: BetLimits,
    private readonly now: () => number = Date.now,
  ) {
    this.db = database.db;
    this.dialect = database.dialect;
  }

  async place(uid: string, request: BetRequest): Promise<Placed> {
    this.checkStake(request.stake);
    for (let attempt = 1; ; attempt++) {
      const first = await this.repeatOf(uid, request.clientBetId);
      if (first) return first;
      try {
        return await this.db.transaction().execute((trx) => this.placeIn(trx, uid, request));
      } catch (err) {
        // A deadlock victim rolled back whole: try again.
        if (isDeadlock(err) && attempt < DEADLOCK_RETRIES) continue;
        // The same clientBetId placed concurrently: the first insert won; answer with it.
        if (isDuplicateKey(err)) {
          const won = await this.repeatOf(uid, request.clientBetId);
          if (won) return won;
        }
        throw err;
      }
    }
  }

  /** A user's bets, newest first, optionally on one match. */
  async list(
    uid: string,
    page: { matchId?: string | undefined; cursor?: string | undefined; limit: number },
  ): Promise<{ bets: BetView[]; nextCursor: string | null }> {
    let query = this.db.selectFrom("guess_bets").selectAll().where("uid", "=", uid);
    if (page.matchId !== undefined) query = query.where("match_id", "=", page.matchId);
    if (page.cursor !== undefined) {
      query = query.where(olderThan(decodeNewestCursor(page.cursor, BET_ID), "created_at", "id"));
    }
    const rows = await query
      .orderBy("created_at", "desc")
      .orderBy("id", "desc")
      .limit(page.limit + 1)
      .execute();
    const { shown, nextCursor } = newestPage(rows, page.limit, (row) => ({
      at: row.created_at,
      key: row.id,
    }));
    return { bets: shown.map(betView), nextCursor };
  }

  private checkStake(stake: number): void {
    const { minStake, maxStake } = this.limits;
    if (!Number.isSafeInteger(stake) || stake < minStake || stake > maxStake) {
      throw new GamedockError(
        "E_BET_LIMIT",
        `stake must be a whole number of minor units from ${minStake} to ${maxStake}, got ${stake}`,
        { field: "stake", minStake, maxStake },
      );
    }
  }

  private async repeatOf(uid: string, clientBetId: string): Promise<Placed | null> {
    const row = await this.db
      .selectFrom("guess_bets")
      .selectAll()
      .where("uid", "=", uid)
      .where("client_bet_id", "=", clientBetId)
      .executeTakeFirst();
    if (!row) return null;
    return { bet: betView(row), balance: await this.wallets.balance(uid), repeated: true };
  }

  private async placeIn(trx: Trx, uid: string, request: BetRequest): Promise<Placed> {
    const now = this.now();
    const match = await this.readMatchShared(trx, request.matchId);
    if (!match || match.approved !== 1) {
      throw new GamedockError("E_NOT_FOUND", `no match ${JSON.stringify(request.matchId)}`, {
        field: "matchId",
      });
    }
    if (match.state !== 2 || match.lock_at <= now) {
      throw new GamedockError(
        "E_BETTING_CLOSED",
        match.state === 2
          ? `match ${request.matchId} stopped taking bets at its lock time ${new Date(match.lock_at).toISOString()}`
          : `match ${request.matchId} takes no bets in state ${match.state} (only while betting is open, state 2)`,
        { matchId: request.matchId, state: match.state },
      );
    }
    const option = await trx
      .selectFrom("guess_options")
      .select("odds")
      .where("match_id", "=", request.matchId)
      .where("option_id", "=", request.optionId)
      .executeTakeFirst();
    if (!option) {
      throw new GamedockError(
        "E_INVALID_REQUEST",
        `match ${request.matchId} has no option ${JSON.stringify(request.optionId)}`,
        { field: "optionId" },
      );
    }
    if (request.odds !== undefined && request.odds !== option.odds) {
      throw new GamedockError(
        "E_ODDS_CHANGED",
        `the odds of ${request.optionId} are now ${option.odds}, not ${request.odds}: confirm the new odds and bet again`,
        { field: "odds", odds: option.odds },
      );
    }
    const id = newBetId();
    // First the debit: it locks the wallet, so this user's bets decide one at a time.
    const posted = await this.wallets.postIn(trx, {
      cause: `stake:${id}`,
      uid,
      kind: "stake",
      amount: -request.stake,
      matchId: request.matchId,
    });
    const staked = await this.stakedOn(trx, uid, request.matchId);
    if (staked + request.stake > this.limits.maxStakePerMatch) {
      throw new GamedockError(
        "E_BET_LIMIT",
        `a user may stake at most ${this.limits.maxStakePerMatch} on one match; ${uid} has staked ${staked} on ${request.matchId}`,
        { field: "stake", maxStakePerMatch: this.limits.maxStakePerMatch, staked },
      );
    }
    const row: GuessBetTable = {
      id,
      uid,
      client_bet_id: request.clientBetId,
      match_id: request.matchId,
      option_id: request.optionId,
      stake: request.stake,
      odds: option.odds,
      win_amount: winAmount(request.stake, option.odds),
      status: "placed",
      credited: 0,
      push_state: 0,
      created_at: now,
      settled_at: null,
    };
    await trx.insertInto("guess_bets").values(row).execute();
    return { bet: betView(row), balance: posted.balanceAfter, repeated: false };
  }

  /** The match's state, held shared: an admin's change (a write) waits for the bets in flight. */
  private readMatchShared(trx: Trx, id: string) {
    const query = trx
      .selectFrom("guess_matches")
      .select(["state", "approved", "lock_at"])
      .where("id", "=", id);
    // SQLite runs one write transaction at a time: no row locks to take.
    if (this.dialect === "postgres") return query.forShare().executeTakeFirst();
    if (this.dialect === "mysql")
      return query.modifyEnd(sql`lock in share mode`).executeTakeFirst();
    return query.executeTakeFirst();
  }

  /**
   * What the user has staked on the match, read after the wallet's lock.
   * PostgreSQL's read-committed statements see the latest commits as they
   * are (and refuse FOR SHARE with an aggregate); MySQL needs a locking read.
   */
  private async stakedOn(trx: Trx, uid: string, matchId: string): Promise<number> {
    const query = trx
      .selectFrom("guess_bets")
      .select((eb) => eb.fn.sum<number | string | null>("stake").as("total"))
      .where("uid", "=", uid)
      .where("match_id", "=", matchId);
    const row = await (
      this.dialect === "mysql" ? query.modifyEnd(sql`lock in share mode`) : query
    ).executeTakeFirst();
    return Number(row?.total ?? 0);
  }
}
