/**
 * Reservations (note 003's `noticesvr`): a user reserves a match and is
 * pushed "starts soon" once, guess.remindBeforeMs before it starts. The
 * reminder is marked sent after the push, so a crash in between sends it
 * again (at least once; the push carries the match id to drop a repeat).
 */
import type { Kysely } from "kysely";
import { GamedockError } from "../core/index.js";
import type { Database, Tables } from "../db/index.js";
import { isDuplicateKey } from "../db/sql-errors.js";

/** Reservations to remind for one match. */
export interface DueReminder {
  matchId: string;
  title: string;
  startsAt: number;
  uids: string[];
}

/** States a match can be reserved in: before it has started or been decided. */
const RESERVABLE = [0, 1, 2];

/** Most reminders taken in one sweep (the rest go in the next). */
const SWEEP_LIMIT = 5000;

export class Reservations {
  private readonly db: Kysely<Tables>;

  constructor(
    database: Database,
    private readonly now: () => number = Date.now,
  ) {
    this.db = database.db;
  }

  /** Reserves an approved match that has not started; reserving again changes nothing. */
  async reserve(uid: string, matchId: string): Promise<{ matchId: string; startsAt: string }> {
    const match = await this.db
      .selectFrom("guess_matches")
      .select(["approved", "state", "starts_at"])
      .where("id", "=", matchId)
      .executeTakeFirst();
    if (!match || match.approved !== 1) {
      throw new GamedockError("E_NOT_FOUND", `no match ${JSON.stringify(matchId)}`, {
        field: "matchId",
      });
    }
    if (!RESERVABLE.includes(match.state) || match.starts_at <= this.now()) {
      throw new GamedockError(
        "E_MATCH_STATE",
        `match ${matchId} has started (state ${match.state}): there is nothing to remind of`,
        { matchId, state: match.state },
      );
    }
    try {
      await this.db
        .insertInto("guess_reservations")
        .values({ match_id: matchId, uid, created_at: this.now(), reminded_at: null })
        .execute();
    } catch (err) {
      if (!isDuplicateKey(err)) throw err;
    }
    return { matchId, startsAt: new Date(match.starts_at).toISOString() };
  }

  async cancel(uid: string, matchId: string): Promise<void> {
    await this.db
      .deleteFrom("guess_reservations")
      .where("match_id", "=", matchId)
      .where("uid", "=", uid)
      .execute();
  }

  /** Reservations not yet reminded of matches that start within `beforeMs` (and have not started). */
  async due(beforeMs: number): Promise<DueReminder[]> {
    const now = this.now();
    const rows = await this.db
      .selectFrom("guess_reservations as r")
      .innerJoin("guess_matches as m", "m.id", "r.match_id")
      .select(["r.match_id", "r.uid", "m.title", "m.starts_at"])
      .where("r.reminded_at", "is", null)
      .where("m.starts_at", "<=", now + beforeMs)
      .where("m.starts_at", ">", now)
      .where("m.state", "in", RESERVABLE)
      .orderBy("r.match_id")
      .limit(SWEEP_LIMIT)
      .execute();
    const byMatch = new Map<string, DueReminder>();
    for (const row of rows) {
      const due = byMatch.get(row.match_id) ?? {
        matchId: row.match_id,
        title: row.title,
        startsAt: row.starts_at,
        uids: [],
      };
      due.uids.push(row.uid);
      byMatch.set(row.match_id, due);
    }
    return [...byMatch.values()];
  }

  async markReminded(matchId: string, uids: readonly string[]): Promise<void> {
    await this.db
      .updateTable("guess_reservations")
      .set({ reminded_at: this.now() })
      .where("match_id", "=", matchId)
      .where("uid", "in", uids)
      .execute();
  }
}
