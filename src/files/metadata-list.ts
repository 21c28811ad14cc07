/**
 * The listing half of SqlFileMetadata: live files newest first, one keyset
 * page at a time, optionally searched by name or digest prefix. One SELECT,
 * the same on SQLite, MySQL/MariaDB and PostgreSQL; migration 0013 indexes
 * (created_at, id) so a page reads only its own rows.
 */
import { type Kysely, type RawBuilder, type SqlBool, sql } from "kysely";
import { GamedockError } from "../core/index.js";
import type { DbDialect, FileTable, Tables } from "../db/index.js";
import type { FileListQuery } from "./contract.js";

/**
 * The LIKE escape character. Not the backslash: MySQL reads a backslash in a
 * string literal as an escape itself (so `escape '\'` is not portable), and
 * the backslash is MySQL's default LIKE escape besides.
 */
const ESCAPE = "!";

/** `text` as a LIKE pattern that matches it literally anywhere: "50%_off" → "%50!%!_off%". */
export function containsPattern(text: string): string {
  return `%${text.replace(/[!%_]/g, (c) => `${ESCAPE}${c}`)}%`;
}

/**
 * lower(name) contains lower(text). On MySQL the comparison is binary after
 * lowering both: utf8mb4_general_ci (MariaDB's default) would also equate
 * "e" and "é", and every emoji with every other.
 */
function nameContains(dialect: DbDialect, text: string): RawBuilder<SqlBool> {
  const pattern = containsPattern(text);
  const name =
    dialect === "mysql"
      ? sql`lower(${sql.ref("name")}) collate utf8mb4_bin`
      : sql`lower(${sql.ref("name")})`;
  return sql<SqlBool>`${name} like lower(${pattern}) escape ${sql.lit(ESCAPE)}`;
}

/** Column starts with `hex` (lowercase hex digits: nothing to escape). */
function startsWith(column: "sha256" | "md5", hex: string): RawBuilder<SqlBool> {
  return sql<SqlBool>`${sql.ref(column)} like ${`${hex}%`}`;
}

export async function listFileRows(
  db: Kysely<Tables>,
  dialect: DbDialect,
  query: FileListQuery,
): Promise<FileTable[]> {
  const now = query.now.getTime();
  let select = db
    .selectFrom("files")
    .selectAll()
    .where((eb) => eb.or([eb("expires_at", "is", null), eb("expires_at", ">", now)]));
  const search = query.search;
  if (search) {
    const digest = search.digestPrefix;
    if (digest !== undefined && !/^[0-9a-f]{1,64}$/.test(digest)) {
      // The caller's bug (the route lowercases and checks q), not the user's: never in a LIKE.
      throw new GamedockError(
        "E_INTERNAL",
        `digestPrefix must be lowercase hex, got ${JSON.stringify(digest)}`,
      );
    }
    select = select.where((eb) => {
      const either = [nameContains(dialect, search.name)];
      if (digest !== undefined) {
        either.push(startsWith("sha256", digest));
        if (digest.length <= 32) either.push(startsWith("md5", digest));
      }
      return eb.or(either);
    });
  }
  const after = query.after;
  if (after) {
    const at = after.createdAt.getTime();
    select = select.where((eb) =>
      eb.or([
        eb("created_at", "<", at),
        eb.and([eb("created_at", "=", at), eb("id", "<", after.id)]),
      ]),
    );
  }
  return select.orderBy("created_at", "desc").orderBy("id", "desc").limit(query.limit).execute();
}
