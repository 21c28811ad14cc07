/**
 * `GET /api/v1/files?q=&cursor=&limit=`: the stored files for operators,
 * newest first, one page at a time (docs/files.md#listing-get-apiv1files).
 * The cursor is the last file shown — base64url of "<createdAt ms>.<id>" —
 * and the next page is the files strictly after it in (createdAt, id)
 * descending order, so uploads finishing meanwhile never shift, repeat or
 * skip a row of a later page (an offset would).
 */
import { GamedockError, intParam } from "../core/index.js";
import { clockOf, type FilesContext } from "./context.js";
import type { FileListQuery, FileRecord } from "./contract.js";
import { fileView, type FileView } from "./views.js";

export const DEFAULT_PAGE = 50;
export const MAX_PAGE = 200;
/** Names are at most 255 bytes (names.ts): a longer search can match nothing. */
const MAX_SEARCH_BYTES = 255;
/** A q of 8–64 hex digits also finds files by sha256 or md5 prefix. */
const DIGEST_PREFIX = /^[0-9a-fA-F]{8,64}$/;
const CURSOR = /^(\d{1,15})\.([A-Za-z0-9_-]{1,64})$/;

export interface FileListPage {
  files: FileView[];
  nextCursor: string | null;
}

function invalid(field: string, message: string): GamedockError {
  return new GamedockError("E_INVALID_REQUEST", message, { field });
}

/** One query parameter as a string; a repeated one (`?q=a&q=b`) is refused. */
function single(value: unknown, field: string): string | undefined {
  if (value === undefined || typeof value === "string") return value;
  throw invalid(field, `${field} must be given at most once`);
}

export function encodeCursor(file: Pick<FileRecord, "createdAt" | "id">): string {
  return Buffer.from(`${file.createdAt.getTime()}.${file.id}`).toString("base64url");
}

/** A cursor this server gave; empty or absent: the first page. */
export function decodeCursor(cursor: string | undefined): FileListQuery["after"] {
  if (cursor === undefined || cursor === "") return undefined;
  const match = /^[A-Za-z0-9_-]+$/.test(cursor)
    ? CURSOR.exec(Buffer.from(cursor, "base64url").toString("utf8"))
    : null;
  if (!match) {
    throw invalid("cursor", "cursor must be a nextCursor value from an earlier answer");
  }
  return { createdAt: new Date(Number(match[1])), id: match[2]! };
}

/** `q`: a name substring, and when it is 8–64 hex digits also a digest prefix. */
export function searchOf(q: string | undefined): FileListQuery["search"] {
  if (q === undefined || q === "") return undefined;
  if (Buffer.byteLength(q, "utf8") > MAX_SEARCH_BYTES) {
    throw invalid(
      "q",
      `q is at most ${MAX_SEARCH_BYTES} bytes of UTF-8, as file names are; got ${Buffer.byteLength(q, "utf8")}`,
    );
  }
  return DIGEST_PREFIX.test(q) ? { name: q, digestPrefix: q.toLowerCase() } : { name: q };
}

/** The query string of a listing, checked: each bad parameter is a 400 naming it. */
export function listQueryOf(query: Record<string, unknown>, now: Date): FileListQuery {
  const limit = intParam(single(query.limit, "limit"), "limit", 1, MAX_PAGE, DEFAULT_PAGE);
  const after = decodeCursor(single(query.cursor, "cursor"));
  const search = searchOf(single(query.q, "q"));
  return { limit, now, ...(after ? { after } : {}), ...(search ? { search } : {}) };
}

export async function listFiles(
  ctx: FilesContext,
  query: Record<string, unknown>,
): Promise<FileListPage> {
  const list = listQueryOf(query, new Date(clockOf(ctx).now()));
  // One row more than asked says whether another page follows.
  const rows = await ctx.metadata.listFiles({ ...list, limit: list.limit + 1 });
  const shown = rows.slice(0, list.limit);
  const last = shown.at(-1);
  return {
    files: shown.map(fileView),
    nextCursor: rows.length > list.limit && last ? encodeCursor(last) : null,
  };
}
