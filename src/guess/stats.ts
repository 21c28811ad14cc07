/**
 * Statistics (note 003's `osssvr`; docs/guess.md, "Statistics"): bets,
 * stakes, payouts, refunds and active users per day in a time zone
 * (guess.statsTimeZone, default Asia/Shanghai), and per match.
 *
 * Days are bucketed in SQL as (time + offset) / 86 400 000 over stretches of
 * the range where the zone's UTC offset does not change — all of it for
 * Asia/Shanghai; a zone with daylight saving time is split at its changes —
 * so a day of the zone is one bucket, computed by the database with the
 * indexes on the bets' and the ledger's times, on every dialect.
 */
import { sql, type Kysely } from "kysely";
import { GamedockError, zoneOffsetMs } from "../core/index.js";
import type { Database, DbDialect, Tables } from "../db/index.js";

const DAY_MS = 86_400_000;
/** The longest range one request may ask for, in days. */
export const MAX_STATS_DAYS = 366;

export interface DayStats {
  /** The zone's calendar day, YYYY-MM-DD. */
  day: string;
  bets: number;
  stakes: number;
  /** Distinct uids who placed a bet that day. */
  activeUsers: number;
  payouts: number;
  refunds: number;
}

export interface MatchStats {
  matchId: string;
  bets: number;
  stakes: number;
  users: number;
  /** Stakes by option. */
  byOption: { optionId: string; bets: number; stakes: number }[];
  payouts: number;
  refunds: number;
}

/** The UTC instant a zone's day (YYYY-MM-DD) starts. */
function dayStart(day: string, timeZone: string): number {
  const midnightUtc = Date.parse(`${day}T00:00:00Z`);
  // The offset at the local midnight: guess with the offset near it, then settle.
  let start = midnightUtc - zoneOffsetMs(timeZone, midnightUtc);
  start = midnightUtc - zoneOffsetMs(timeZone, start);
  return start;
}

const DAY = /^\d{4}-\d{2}-\d{2}$/;

function checkDay(value: string, field: string): string {
  if (!DAY.test(value) || Number.isNaN(Date.parse(`${value}T00:00:00Z`))) {
    throw new GamedockError("E_INVALID_REQUEST", `${field} must be a day as YYYY-MM-DD`, {
      field,
    });
  }
  return value;
}

/** A stretch [from, to) of instants over which the zone's offset is constant. */
interface Stretch {
  from: number;
  to: number;
  offset: number;
}

/** [from, to) split where the zone's offset changes (checked at each day's start and end). */
function stretches(from: number, to: number, timeZone: string): Stretch[] {
  const out: Stretch[] = [];
  let start = from;
  let offset = zoneOffsetMs(timeZone, from);
  for (let t = from + DAY_MS; t < to + DAY_MS; t += DAY_MS) {
    const at = Math.min(t, to);
    const next = zoneOffsetMs(timeZone, at - 1);
    if (next !== offset) {
      // The change lies in the last day: find the hour it happens (offsets change on the hour or half).
      let change = at - DAY_MS;
      while (zoneOffsetMs(timeZone, change) === offset) change += 15 * 60_000;
      out.push({ from: start, to: change, offset });
      start = change;
      offset = next;
    }
    if (at === to) break;
  }
  out.push({ from: start, to, offset });
  return out;
}

export class GuessStats {
  private readonly db: Kysely<Tables>;
  private readonly dialect: DbDialect;

  constructor(
    database: Database,
    /** An IANA zone: the statistics' days are its days. */
    readonly timeZone: string,
  ) {
    this.db = database.db;
    this.dialect = database.dialect;
  }

  /** Every day from `from` to `to` (inclusive, the zone's days), zeros included. */
  async daily(range: {
    from: string;
    to: string;
  }): Promise<{ timeZone: string; days: DayStats[] }> {
    const from = checkDay(range.from, "from");
    const to = checkDay(range.to, "to");
    const days: DayStats[] = [];
    for (let t = Date.parse(`${from}T00:00:00Z`); t <= Date.parse(`${to}T00:00:00Z`); t += DAY_MS) {
      days.push({
        day: new Date(t).toISOString().slice(0, 10),
        bets: 0,
        stakes: 0,
        activeUsers: 0,
        payouts: 0,
        refunds: 0,
      });
    }
    if (days.length === 0) {
      throw new GamedockError("E_INVALID_REQUEST", "from must not be after to", { field: "from" });
    }
    if (days.length > MAX_STATS_DAYS) {
      throw new GamedockError(
        "E_INVALID_REQUEST",
        `a range is at most ${MAX_STATS_DAYS} days, got ${days.length}`,
        { field: "to" },
      );
    }
    const byDay = new Map(days.map((d) => [d.day, d]));
    const start = dayStart(from, this.timeZone);
    const dayAfter = new Date(Date.parse(`${to}T00:00:00Z`) + DAY_MS).toISOString().slice(0, 10);
    // On a day the offset changes, a user active on both sides of the change counts twice.
    for (const stretch of stretches(start, dayStart(dayAfter, this.timeZone), this.timeZone)) {
      const bucket = this.bucket(stretch.offset);
      const bets = await sql<{
        bucket: number | string;
        bets: number | string;
        stakes: number | string;
        users: number | string;
      }>`
        select ${bucket} as bucket, count(*) as bets, sum(stake) as stakes, count(distinct uid) as users
        from guess_bets where created_at >= ${stretch.from} and created_at < ${stretch.to}
        group by 1`.execute(this.db);
      for (const row of bets.rows) {
        const day = byDay.get(dayOf(Number(row.bucket)));
        if (!day) continue;
        day.bets += Number(row.bets);
        day.stakes += Number(row.stakes);
        day.activeUsers += Number(row.users);
      }
      const credits = await sql<{ bucket: number | string; kind: string; total: number | string }>`
        select ${bucket} as bucket, kind, sum(amount) as total
        from guess_ledger where kind in ('payout', 'refund')
          and created_at >= ${stretch.from} and created_at < ${stretch.to}
        group by 1, 2`.execute(this.db);
      for (const row of credits.rows) {
        const day = byDay.get(dayOf(Number(row.bucket)));
        if (!day) continue;
        if (row.kind === "payout") day.payouts += Number(row.total);
        else day.refunds += Number(row.total);
      }
    }
    return { timeZone: this.timeZone, days };
  }

  /** One match's bets, stakes by option, users, payouts and refunds. */
  async match(matchId: string): Promise<MatchStats> {
    const options = await this.db
      .selectFrom("guess_bets")
      .select((eb) => [
        "option_id",
        eb.fn.countAll<number | string>().as("bets"),
        eb.fn.sum<number | string>("stake").as("stakes"),
      ])
      .where("match_id", "=", matchId)
      .groupBy("option_id")
      .orderBy("option_id")
      .execute();
    const totals = await this.db
      .selectFrom("guess_bets")
      .select((eb) => [
        eb.fn.count<number | string>("uid").distinct().as("users"),
        eb.fn
          .sum<number | string | null>(
            eb.case().when("status", "=", "paid").then(eb.ref("credited")).else(0).end(),
          )
          .as("payouts"),
        eb.fn
          .sum<number | string | null>(
            eb.case().when("status", "=", "refunded").then(eb.ref("credited")).else(0).end(),
          )
          .as("refunds"),
      ])
      .where("match_id", "=", matchId)
      .executeTakeFirstOrThrow();
    const byOption = options.map((o) => ({
      optionId: o.option_id,
      bets: Number(o.bets),
      stakes: Number(o.stakes),
    }));
    return {
      matchId,
      bets: byOption.reduce((a, o) => a + o.bets, 0),
      stakes: byOption.reduce((a, o) => a + o.stakes, 0),
      users: Number(totals.users),
      byOption,
      payouts: Number(totals.payouts ?? 0),
      refunds: Number(totals.refunds ?? 0),
    };
  }

  /**
   * The day number (days since the epoch in the zone) of created_at, as SQL.
   * The numbers are ours and written into the statement: SQLite would take
   * bound JavaScript numbers as reals, and divide them as reals.
   */
  private bucket(offset: number) {
    const shifted = sql`(created_at + ${sql.lit(offset)})`;
    return this.dialect === "mysql"
      ? sql`${shifted} div ${sql.lit(DAY_MS)}`
      : sql`${shifted} / ${sql.lit(DAY_MS)}`;
  }
}

const dayOf = (bucket: number): string => new Date(bucket * DAY_MS).toISOString().slice(0, 10);
