/**
 * Matches in SQL (docs/guess.md, "Matches"): imported from the feed
 * (idempotent by external id; changed only while not yet open), moved
 * through their lifecycle by the admin actions and the lock-time sweep, and
 * listed by type and status in start order. Every change is one transaction
 * that first takes the match's row lock (an update of its own row, as the
 * packer's jobs do), so two admins acting at once decide one after the
 * other, and writes its audit row in the same transaction.
 */
import { randomBytes } from "node:crypto";
import type { Kysely, Transaction } from "kysely";
import { GamedockError } from "../core/index.js";
import type { Database, GuessMatchTable, GuessOptionTable, Tables } from "../db/index.js";
import { writeAudit } from "./audit.js";
import type { FeedMatch } from "./feed.js";
import { nextState, stateName, type MatchAction, type MatchState } from "./match-states.js";
import { isDuplicateKey } from "../db/sql-errors.js";
import { matchView, type MatchView } from "./views.js";

type Trx = Transaction<Tables>;

export type ImportOutcome = "created" | "updated" | "unchanged" | "refused";

export interface ImportResult {
  externalId: string;
  id: string;
  outcome: ImportOutcome;
  /** Why a change was refused (the match has opened). */
  reason?: string;
}

/** The lists (note 003's matchResultDoing_* / matchResultFinish_* and the approval list). */
export type MatchStatus = "pending" | "doing" | "finished";
export const MATCH_STATUSES: readonly MatchStatus[] = ["pending", "doing", "finished"];
const FINISHED: MatchState[] = [4, 5, 6, 7, 8, 9];
const DOING: MatchState[] = [0, 1, 2, 3];
/** Odds may change until a result, no result or cancel. */
const ODDS_STATES: MatchState[] = [0, 1, 2];

export interface MatchFilter {
  type?: string | undefined;
  status?: MatchStatus | undefined;
  /** From a previous page's nextCursor. */
  cursor?: string | undefined;
  limit: number;
}

export interface ActOptions {
  actor: string;
  reason?: string | null | undefined;
  /** The winning option (action "result"). */
  result?: string | undefined;
}

const newMatchId = (): string => `m${Date.now().toString(36)}-${randomBytes(5).toString("hex")}`;

function optionRows(matchId: string, match: FeedMatch): GuessOptionTable[] {
  return match.options.map((o, seq) => ({
    match_id: matchId,
    option_id: o.id,
    seq,
    label: o.label,
    odds: o.odds,
  }));
}

/** What the feed says of a match, as the columns and options store it (for comparing). */
function feedFacts(match: FeedMatch) {
  return {
    type: match.type,
    title: match.title,
    teams: JSON.stringify(match.teams),
    starts_at: match.startsAt,
    lock_at: match.lockAt,
    options: JSON.stringify(match.options.map((o) => [o.id, o.label, o.odds])),
  };
}

function storedFacts(row: GuessMatchTable, options: GuessOptionTable[]) {
  return {
    type: row.type,
    title: row.title,
    teams: row.teams,
    starts_at: row.starts_at,
    lock_at: row.lock_at,
    options: JSON.stringify(options.map((o) => [o.option_id, o.label, o.odds])),
  };
}

/** "<startsAt>.<id>" as base64url: where the next page starts. */
function encodeCursor(row: { starts_at: number; id: string }): string {
  return Buffer.from(`${row.starts_at}.${row.id}`).toString("base64url");
}

function decodeCursor(cursor: string): { startsAt: number; id: string } {
  const text = Buffer.from(cursor, "base64url").toString("utf8");
  const match = /^(\d{1,16})\.([A-Za-z0-9-]{1,40})$/.exec(text);
  if (!match) {
    throw new GamedockError("E_INVALID_REQUEST", "cursor is not one this server gave", {
      field: "cursor",
    });
  }
  return { startsAt: Number(match[1]), id: match[2]! };
}

export class Matches {
  private readonly db: Kysely<Tables>;

  constructor(
    database: Database,
    private readonly now: () => number = Date.now,
    /** Told of every committed change of a match (followers are pushed it, settlement enqueued). */
    private readonly onChange: (match: MatchView) => void = () => undefined,
  ) {
    this.db = database.db;
  }

  /** Imports each match of a feed in its own transaction; the answer says what became of each. */
  async importFeed(matches: FeedMatch[], actor: string): Promise<ImportResult[]> {
    const results: ImportResult[] = [];
    for (const match of matches) {
      const result = await this.importOne(match, actor);
      results.push(result);
      if (result.outcome === "updated") await this.announce(result.id);
    }
    return results;
  }

  /** Tells onChange of a match's committed state (settlement's transitions come through here). */
  async announce(id: string): Promise<void> {
    const match = await this.get(id);
    if (match) this.onChange(match);
  }

  async get(id: string): Promise<MatchView | null> {
    const row = await this.db
      .selectFrom("guess_matches")
      .selectAll()
      .where("id", "=", id)
      .executeTakeFirst();
    if (!row) return null;
    return matchView(row, await this.optionsOf(this.db, id), this.now());
  }

  async list(filter: MatchFilter): Promise<{ matches: MatchView[]; nextCursor: string | null }> {
    const descending = filter.status === "finished";
    let query = this.db.selectFrom("guess_matches").selectAll();
    if (filter.type !== undefined) query = query.where("type", "=", filter.type);
    if (filter.status === "pending") {
      query = query.where("state", "=", 0).where("approved", "=", 0);
    } else if (filter.status === "doing") {
      query = query.where("state", "in", DOING).where("approved", "=", 1);
    } else if (filter.status === "finished") {
      query = query.where("state", "in", FINISHED);
    }
    if (filter.cursor !== undefined) {
      const after = decodeCursor(filter.cursor);
      const op = descending ? "<" : ">";
      query = query.where((eb) =>
        eb.or([
          eb("starts_at", op, after.startsAt),
          eb.and([eb("starts_at", "=", after.startsAt), eb("id", op, after.id)]),
        ]),
      );
    }
    const order = descending ? "desc" : "asc";
    const rows = await query
      .orderBy("starts_at", order)
      .orderBy("id", order)
      .limit(filter.limit + 1)
      .execute();
    const page = rows.slice(0, filter.limit);
    const options = await this.optionsOfMany(page.map((r) => r.id));
    const now = this.now();
    const last = page.at(-1);
    return {
      matches: page.map((row) => matchView(row, options.get(row.id) ?? [], now)),
      nextCursor: rows.length > filter.limit && last ? encodeCursor(last) : null,
    };
  }

  /** An admin action: the transition, its audit row, in one transaction under the match's lock. */
  async act(id: string, action: MatchAction, options: ActOptions): Promise<MatchView> {
    const view = await this.actIn(id, action, options);
    this.onChange(view);
    return view;
  }

  private actIn(id: string, action: MatchAction, options: ActOptions): Promise<MatchView> {
    return this.db.transaction().execute(async (trx) => {
      const row = await lockMatch(trx, id);
      const matchOptions = await this.optionsOf(trx, id);
      const now = this.now();
      const to = nextState(
        { state: row.state as MatchState, approved: row.approved === 1, lockAt: row.lock_at, now },
        action,
      );
      const changes: Partial<GuessMatchTable> = { state: to, updated_at: now };
      if (action === "approve") changes.approved = 1;
      if (action === "result") {
        if (!matchOptions.some((o) => o.option_id === options.result)) {
          throw new GamedockError(
            "E_INVALID_REQUEST",
            `result must be one of the match's options: ${matchOptions.map((o) => o.option_id).join(", ")}`,
            { field: "result" },
          );
        }
        changes.result = options.result ?? null;
      }
      await trx.updateTable("guess_matches").set(changes).where("id", "=", id).execute();
      const after = { ...row, ...changes };
      await writeAudit(trx, {
        at: now,
        actor: options.actor,
        action,
        matchId: id,
        before: { state: row.state, approved: row.approved, result: row.result },
        after: { state: after.state, approved: after.approved, result: after.result },
        reason: options.reason ?? null,
      });
      return matchView(after, matchOptions, now);
    });
  }

  /**
   * New odds for some of a match's options, while it is not settled (states
   * 0, 1, 2), under the match's lock and with an audit row. A bet placed
   * before keeps the odds it was placed at; a bet naming the old odds is
   * refused E_ODDS_CHANGED.
   */
  async setOdds(
    id: string,
    odds: Readonly<Record<string, number>>,
    options: { actor: string; reason?: string | null | undefined },
  ): Promise<MatchView> {
    const view = await this.db.transaction().execute(async (trx) => {
      const row = await lockMatch(trx, id);
      if (!ODDS_STATES.includes(row.state as MatchState)) {
        throw new GamedockError(
          "E_MATCH_STATE",
          `cannot change the odds of a match in state ${stateName(row.state as MatchState)}: it needs state 0, 1 or 2`,
          { current: row.state, action: "odds" },
        );
      }
      const before = await this.optionsOf(trx, id);
      for (const optionId of Object.keys(odds)) {
        if (!before.some((o) => o.option_id === optionId)) {
          throw new GamedockError(
            "E_INVALID_REQUEST",
            `match ${id} has no option ${JSON.stringify(optionId)}; its options: ${before.map((o) => o.option_id).join(", ")}`,
            { field: `odds.${optionId}` },
          );
        }
      }
      const now = this.now();
      for (const [optionId, value] of Object.entries(odds)) {
        await trx
          .updateTable("guess_options")
          .set({ odds: value })
          .where("match_id", "=", id)
          .where("option_id", "=", optionId)
          .execute();
      }
      await trx
        .updateTable("guess_matches")
        .set({ updated_at: now })
        .where("id", "=", id)
        .execute();
      const after = await this.optionsOf(trx, id);
      const oddsOf = (rows: GuessOptionTable[]) =>
        Object.fromEntries(rows.map((o) => [o.option_id, o.odds]));
      await writeAudit(trx, {
        at: now,
        actor: options.actor,
        action: "odds",
        matchId: id,
        before: { odds: oddsOf(before) },
        after: { odds: oddsOf(after) },
        reason: options.reason ?? null,
      });
      return matchView({ ...row, updated_at: now }, after, now);
    });
    this.onChange(view);
    return view;
  }

  /** Betting stops by itself at the lock time: every open match past it moves to 1. */
  async lockDue(): Promise<number> {
    const now = this.now();
    const due = await this.db
      .selectFrom("guess_matches")
      .select("id")
      .where("state", "=", 2)
      .where("lock_at", "<=", now)
      .limit(1000)
      .execute();
    let locked = 0;
    for (const { id } of due) {
      try {
        await this.act(id, "lock", { actor: "system", reason: "lock time reached" });
        locked++;
      } catch (err) {
        // An admin moved it meanwhile (closed, started, set a result): nothing to lock.
        if (!(err instanceof GamedockError) || err.code !== "E_MATCH_STATE") throw err;
      }
    }
    return locked;
  }

  private async importOne(match: FeedMatch, actor: string): Promise<ImportResult> {
    try {
      return await this.importOneTx(match, actor);
    } catch (err) {
      // The same new match imported concurrently: the other insert won; compare against it.
      if (!isDuplicateKey(err)) throw err;
      return this.importOneTx(match, actor);
    }
  }

  private async importOneTx(match: FeedMatch, actor: string): Promise<ImportResult> {
    return this.db.transaction().execute(async (trx) => {
      const now = this.now();
      const existing = await trx
        .selectFrom("guess_matches")
        .select("id")
        .where("external_id", "=", match.externalId)
        .executeTakeFirst();
      if (!existing) {
        const id = newMatchId();
        const facts = feedFacts(match);
        await trx
          .insertInto("guess_matches")
          .values({
            id,
            external_id: match.externalId,
            type: facts.type,
            title: facts.title,
            teams: facts.teams,
            starts_at: facts.starts_at,
            lock_at: facts.lock_at,
            state: 0,
            approved: 0,
            result: null,
            created_at: now,
            updated_at: now,
          })
          .execute();
        await trx.insertInto("guess_options").values(optionRows(id, match)).execute();
        await writeAudit(trx, {
          at: now,
          actor,
          action: "import",
          matchId: id,
          before: null,
          after: { ...facts, state: 0 },
          reason: null,
        });
        return { externalId: match.externalId, id, outcome: "created" };
      }
      const row = await lockMatch(trx, existing.id);
      const before = storedFacts(row, await this.optionsOf(trx, row.id));
      const after = feedFacts(match);
      if (JSON.stringify(before) === JSON.stringify(after)) {
        return { externalId: match.externalId, id: row.id, outcome: "unchanged" };
      }
      if (row.state !== 0) {
        return {
          externalId: match.externalId,
          id: row.id,
          outcome: "refused",
          reason: `the match is in state ${row.state}: the feed may change it only before betting opens (state 0)`,
        };
      }
      await trx
        .updateTable("guess_matches")
        .set({
          type: after.type,
          title: after.title,
          teams: after.teams,
          starts_at: after.starts_at,
          lock_at: after.lock_at,
          updated_at: now,
        })
        .where("id", "=", row.id)
        .execute();
      await trx.deleteFrom("guess_options").where("match_id", "=", row.id).execute();
      await trx.insertInto("guess_options").values(optionRows(row.id, match)).execute();
      await writeAudit(trx, {
        at: now,
        actor,
        action: "import",
        matchId: row.id,
        before,
        after,
        reason: null,
      });
      return { externalId: match.externalId, id: row.id, outcome: "updated" };
    });
  }

  private optionsOf(db: Kysely<Tables>, id: string): Promise<GuessOptionTable[]> {
    return db
      .selectFrom("guess_options")
      .selectAll()
      .where("match_id", "=", id)
      .orderBy("seq")
      .execute();
  }

  private async optionsOfMany(ids: string[]): Promise<Map<string, GuessOptionTable[]>> {
    const byMatch = new Map<string, GuessOptionTable[]>();
    if (ids.length === 0) return byMatch;
    const rows = await this.db
      .selectFrom("guess_options")
      .selectAll()
      .where("match_id", "in", ids)
      .orderBy("match_id")
      .orderBy("seq")
      .execute();
    for (const row of rows) byMatch.set(row.match_id, [...(byMatch.get(row.match_id) ?? []), row]);
    return byMatch;
  }
}

/** The match's row, locked for this transaction (E_NOT_FOUND when absent). */
export async function lockMatch(trx: Trx, id: string): Promise<GuessMatchTable> {
  // A write first: the row lock on MySQL/PostgreSQL, the write lock on SQLite.
  await trx
    .updateTable("guess_matches")
    .set((eb) => ({ updated_at: eb.ref("updated_at") }))
    .where("id", "=", id)
    .execute();
  const row = await trx
    .selectFrom("guess_matches")
    .selectAll()
    .where("id", "=", id)
    .executeTakeFirst();
  if (!row) {
    throw new GamedockError("E_NOT_FOUND", `no match ${JSON.stringify(id)}`, { matchId: id });
  }
  return row;
}
