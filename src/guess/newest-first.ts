/**
 * Newest-first keyset pages, as a user's bets, orders and ledger and the
 * audit trail are listed: rows by (time, key) descending, and the cursor
 * the last row shown, base64url of "<time>.<key>". A page after a cursor is
 * the rows strictly older than it, so rows written meanwhile never shift a
 * page (an offset would).
 */
import { sql, type RawBuilder, type SqlBool } from "kysely";
import { GamedockError } from "../core/index.js";

export interface NewestKey {
  at: number;
  key: string;
}

/** A cursor this server gave, whose key matches `key` (a pattern without anchors). */
export function decodeNewestCursor(cursor: string, key: RegExp): NewestKey {
  const match = new RegExp(`^(\\d{1,16})\\.(${key.source})$`, "s").exec(
    Buffer.from(cursor, "base64url").toString("utf8"),
  );
  if (!match) {
    throw new GamedockError("E_INVALID_REQUEST", "cursor is not one this server gave", {
      field: "cursor",
    });
  }
  return { at: Number(match[1]), key: match[2]! };
}

/** The rows older than `after` in (timeColumn, keyColumn) order. */
export function olderThan(
  after: NewestKey,
  timeColumn: string,
  keyColumn: string,
): RawBuilder<SqlBool> {
  const time = sql.ref(timeColumn);
  return sql<SqlBool>`(${time} < ${after.at} or (${time} = ${after.at} and ${sql.ref(keyColumn)} < ${after.key}))`;
}

/** The page of `rows` (fetched with limit + 1) and the cursor of the next one, if any. */
export function newestPage<R>(
  rows: readonly R[],
  limit: number,
  keyOf: (row: R) => NewestKey,
): { shown: R[]; nextCursor: string | null } {
  const shown = rows.slice(0, limit);
  const last = shown.at(-1);
  if (rows.length <= limit || last === undefined) return { shown, nextCursor: null };
  const { at, key } = keyOf(last);
  return { shown, nextCursor: Buffer.from(`${at}.${key}`).toString("base64url") };
}
