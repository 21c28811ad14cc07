/**
 * bench:guess, part 1 — settlement of BENCH_BETS (100,000) bets on one
 * match, against the floor: the bare set-based statements for the same
 * number of rows in the same database and run, in one transaction, with no
 * batches, row lock, transitions or checks.
 *
 * Two matches are seeded alike (BENCH_BETS bets each from BENCH_USERS
 * users, a third of them winners, the wallets and their topup and stake
 * entries as placing would have left them), both already in state 3 with
 * the result set. The floor settles and pays one; `Settlement.run` (batches
 * of guess.settleBatch's default, 2,000) the other, from state 3 to 9 —
 * every payout in the ledger and every balance updated; no pushes (their
 * delivery after commit is not counted). Then both are checked: one payout
 * per winning bet, summing to what the winners are owed.
 */
import { performance } from "node:perf_hooks";
import { sql, type InsertObject, type Kysely } from "kysely";
import { DEFAULTS } from "../src/core/index.js";
import type { Database, DbDialect, Tables } from "../src/db/index.js";
import { Settlement, winAmount } from "../src/guess/index.js";

export const BETS = Number(process.env.BENCH_BETS ?? 100_000);
const USERS = Number(process.env.BENCH_USERS ?? 20_000);
const STAKE = 100;
const ODDS = { home: 1850, away: 2100 };
const CHUNK = 500;

export interface SettleRun {
  dialect: DbDialect;
  floorMs: number;
  settleMs: number;
  seedMs: number;
  winners: number;
}

async function insertChunks<T extends keyof Tables>(
  db: Kysely<Tables>,
  table: T,
  rows: readonly Tables[T][],
): Promise<void> {
  for (let i = 0; i < rows.length; i += CHUNK) {
    const chunk = rows.slice(i, i + CHUNK) as InsertObject<Tables, T>[];
    await db.insertInto(table).values(chunk).execute();
  }
}

/** Two matches in state 3 with BETS bets each; wallets and ledger as placing would leave them. */
async function seed(database: Database, now: number): Promise<{ floor: string; settled: string }> {
  const db = database.db;
  const ids = { floor: "m-bench-floor", settled: "m-bench-settle" };
  await db.transaction().execute(async (trx) => {
    for (const id of Object.values(ids)) {
      await trx
        .insertInto("guess_matches")
        .values({
          id,
          external_id: id,
          type: "lol",
          title: id,
          teams: "[]",
          starts_at: now,
          lock_at: now,
          state: 3,
          approved: 1,
          result: "away",
          created_at: now,
          updated_at: now,
        })
        .execute();
      await insertChunks(
        trx,
        "guess_options",
        Object.entries(ODDS).map(([option, odds], seq) => ({
          match_id: id,
          option_id: option,
          seq,
          label: option,
          odds,
        })),
      );
    }
    const spent = new Map<string, number>();
    const bets: Tables["guess_bets"][] = [];
    const stakes: Tables["guess_ledger"][] = [];
    for (const [m, id] of Object.values(ids).entries()) {
      for (let i = 0; i < BETS; i++) {
        const uid = `u${i % USERS}`;
        const option = i % 3 === 0 ? "away" : "home";
        const betId = `b${m}-${String(i).padStart(7, "0")}`;
        bets.push({
          id: betId,
          uid,
          client_bet_id: betId,
          match_id: id,
          option_id: option,
          stake: STAKE,
          odds: ODDS[option],
          win_amount: winAmount(STAKE, ODDS[option]),
          status: "placed",
          credited: 0,
          push_state: 0,
          created_at: now,
          settled_at: null,
        });
        spent.set(uid, (spent.get(uid) ?? 0) + STAKE);
        stakes.push({
          cause: `stake:${betId}`,
          uid,
          kind: "stake",
          amount: -STAKE,
          balance_after: 0, // not read by settlement
          match_id: id,
          reason: null,
          created_at: now,
        });
      }
    }
    const funds = 1_000_000;
    await insertChunks(
      trx,
      "guess_wallets",
      [...spent].map(([uid, total]) => ({ uid, balance: funds - total, updated_at: now })),
    );
    await insertChunks(trx, "guess_ledger", [
      ...[...spent.keys()].map((uid) => ({
        cause: `topup:${uid}`,
        uid,
        kind: "topup" as const,
        amount: funds,
        balance_after: funds,
        match_id: null,
        reason: null,
        created_at: now,
      })),
      ...stakes,
    ]);
    await insertChunks(trx, "guess_bets", bets);
  });
  return ids;
}

/**
 * The floor: what settling and paying a match must do at least — decide
 * every bet, grow every winner's wallet, write one payout entry per winning
 * bet, mark them paid — as single statements in one transaction.
 */
async function floor(database: Database, matchId: string, now: number): Promise<void> {
  const mysql = database.dialect === "mysql";
  await database.db.transaction().execute(async (trx) => {
    await sql`
      update guess_bets as b
      set status = case when b.option_id = 'away' then 'won' else 'lost' end,
          push_state = case when b.option_id = 'away' then 0 else 1 end, settled_at = ${now}
      where b.match_id = ${matchId} and b.status = 'placed'`.execute(trx);
    const totals = sql`(select b.uid, sum(b.win_amount) as total from guess_bets b
      where b.match_id = ${matchId} and b.status = 'won' group by b.uid)`;
    await (
      mysql
        ? sql`update guess_wallets w join ${totals} t on t.uid = w.uid
          set w.balance = w.balance + t.total, w.updated_at = ${now}`
        : sql`update guess_wallets set balance = balance + t.total, updated_at = ${now}
          from ${totals} as t where t.uid = guess_wallets.uid`
    ).execute(trx);
    const cause = mysql ? sql`concat('payout:', b.id)` : sql`'payout:' || b.id`;
    const at = database.dialect === "postgres" ? sql`cast(${now} as bigint)` : sql`${now}`;
    await sql`
      insert into guess_ledger (cause, uid, kind, amount, balance_after, match_id, reason, created_at)
      select ${cause}, b.uid, 'payout', b.win_amount,
        w.balance - (sum(b.win_amount) over (partition by b.uid order by b.id
          rows between current row and unbounded following) - b.win_amount),
        b.match_id, null, ${at}
      from guess_bets b join guess_wallets w on w.uid = b.uid
      where b.match_id = ${matchId} and b.status = 'won'`.execute(trx);
    await sql`
      update guess_bets as b set status = 'paid', credited = b.win_amount, push_state = 1
      where b.match_id = ${matchId} and b.status = 'won'`.execute(trx);
  });
}

/** One payout per winning bet, summing to what the winners are owed. */
async function check(database: Database, matchId: string): Promise<number> {
  const row = await database.db
    .selectFrom("guess_ledger")
    .select((eb) => [
      eb.fn.countAll<number | string>().as("n"),
      eb.fn.sum<number | string>("amount").as("total"),
    ])
    .where("match_id", "=", matchId)
    .where("kind", "=", "payout")
    .executeTakeFirstOrThrow();
  const winners = Math.ceil(BETS / 3);
  const owed = winners * winAmount(STAKE, ODDS.away);
  if (Number(row.n) !== winners || Number(row.total) !== owed) {
    throw new Error(
      `${matchId}: ${row.n} payouts summing to ${row.total}; expected ${winners} summing to ${owed}`,
    );
  }
  return winners;
}

export async function benchSettlement(database: Database): Promise<SettleRun> {
  const now = Date.now();
  let t = performance.now();
  const ids = await seed(database, now);
  const seedMs = performance.now() - t;

  t = performance.now();
  await floor(database, ids.floor, now);
  const floorMs = performance.now() - t;

  const settlement = new Settlement(database, DEFAULTS.guess.settleBatch);
  t = performance.now();
  const state = await settlement.run(ids.settled);
  const settleMs = performance.now() - t;
  if (state !== 9) throw new Error(`settlement ended in state ${state}, not 9`);

  await check(database, ids.floor);
  const winners = await check(database, ids.settled);
  return { dialect: database.dialect, floorMs, settleMs, seedMs, winners };
}
