/**
 * bench:guess, part 3 — the match lists (note 003's matchDataSortListKey_*,
 * matchResultDoing_* / Finish_*) straight from SQLite: BENCH_MATCHES
 * (10,000) matches of 5 types in every state, then pages of 50 — the first
 * page of one type's matches in progress, the next 20 pages by cursor, the
 * finished ones newest first — each timed over many calls, against one
 * match read by its primary key in the same run (the baseline). Says
 * whether the lists need the Redis cache the issue allows "only if a
 * benchmark shows the need".
 */
import { performance } from "node:perf_hooks";
import type { InsertObject } from "kysely";
import type { Database, Tables } from "../src/db/index.js";
import { Matches } from "../src/guess/index.js";

const MATCHES = Number(process.env.BENCH_MATCHES ?? 10_000);
const TYPES = ["lol", "dota2", "kog", "pubg", "valorant"];
const STATES = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
const CALLS = 300;

export interface ListsRun {
  matches: number;
  /** Median and p99 per call, ms. */
  lookup: { p50: number; p99: number };
  firstPage: { p50: number; p99: number };
  deepPage: { p50: number; p99: number };
  finished: { p50: number; p99: number };
}

async function timed(calls: number, call: (i: number) => Promise<unknown>) {
  const times: number[] = [];
  for (let i = 0; i < calls; i++) {
    const t = performance.now();
    await call(i);
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  return { p50: times[Math.floor(calls / 2)]!, p99: times[Math.floor(calls * 0.99)]! };
}

export async function benchLists(database: Database): Promise<ListsRun> {
  const now = Date.now();
  const rows: InsertObject<Tables, "guess_matches">[] = [];
  const options: InsertObject<Tables, "guess_options">[] = [];
  for (let i = 0; i < MATCHES; i++) {
    const id = `m-list-${String(i).padStart(6, "0")}`;
    rows.push({
      id,
      external_id: id,
      type: TYPES[i % TYPES.length]!,
      title: `Match ${i}`,
      teams: JSON.stringify([
        { id: "a", name: "A" },
        { id: "b", name: "B" },
      ]),
      starts_at: now + (i % 1000) * 60_000,
      lock_at: now + (i % 1000) * 60_000 - 300_000,
      state: STATES[Math.floor(i / TYPES.length) % STATES.length]!,
      approved: 1,
      result: null,
      created_at: now,
      updated_at: now,
    });
    for (const [seq, option] of ["a", "b", "draw"].entries()) {
      options.push({ match_id: id, option_id: option, seq, label: option, odds: 1500 + seq * 100 });
    }
  }
  await database.db.transaction().execute(async (trx) => {
    for (let i = 0; i < rows.length; i += 500) {
      await trx
        .insertInto("guess_matches")
        .values(rows.slice(i, i + 500))
        .execute();
    }
    for (let i = 0; i < options.length; i += 500) {
      await trx
        .insertInto("guess_options")
        .values(options.slice(i, i + 500))
        .execute();
    }
  });
  const matches = new Matches(database);
  const ids = rows.map((_, i) => `m-list-${String(i).padStart(6, "0")}`);
  const lookup = await timed(CALLS, (i) => matches.get(ids[(i * 37) % ids.length]!));
  const firstPage = await timed(CALLS, (i) =>
    matches.list({ type: TYPES[i % TYPES.length], status: "doing", limit: 50 }),
  );
  // 20 pages deep by cursor: where a user scrolling the list ends up.
  const cursors: string[] = [];
  let cursor: string | undefined;
  for (let page = 0; page < 20; page++) {
    const listed = await matches.list({ type: "lol", status: "doing", cursor, limit: 50 });
    if (listed.nextCursor === null) break;
    cursor = listed.nextCursor;
    cursors.push(cursor);
  }
  const deepPage = await timed(CALLS, (i) =>
    matches.list({ type: "lol", status: "doing", cursor: cursors[i % cursors.length], limit: 50 }),
  );
  const finished = await timed(CALLS, () => matches.list({ status: "finished", limit: 50 }));
  return { matches: MATCHES, lookup, firstPage, deepPage, finished };
}
