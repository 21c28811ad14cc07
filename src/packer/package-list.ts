/**
 * GET /api/v1/packages: the mothers under the packages root, so a client can
 * offer one to choose. Paths are relative to the root with forward slashes —
 * exactly what `apk` takes — and never the server's absolute paths. The same
 * rule as resolveMother: a symlink is listed only if it resolves to a file
 * inside the root. Bounded work per request: at most MAX_DEPTH directories
 * deep and MAX_SCANNED directory entries read; a directory that cannot be
 * read is skipped, not an error.
 */
import type { Dirent } from "node:fs";
import { readdir, realpath, stat } from "node:fs/promises";
import { join } from "node:path";
import { GamedockError, intParam } from "../core/index.js";
import { inside } from "./mother-path.js";

/** Directories below the root that are walked (a file at root/1/2/…/8/x.apk is listed). */
export const MAX_DEPTH = 8;
/** Directory entries read per request; past it the answer says `truncated`. */
export const MAX_SCANNED = 20_000;

export interface PackageEntry {
  /** Relative to the packages root, forward slashes: what a pack job's `apk` takes. */
  path: string;
  size: number;
  modifiedAt: string;
}

export interface PackagePage {
  packages: PackageEntry[];
  /** Pass as ?cursor= for the next page; null on the last page. */
  nextCursor: string | null;
  /** True when the walk stopped at MAX_SCANNED entries: some packages are not listed. */
  truncated: boolean;
}

export interface PackageQuery {
  /** Case-insensitive substring of the path; "" lists every package. */
  q: string;
  /** The path after which the page starts (decoded from the cursor); null for the first page. */
  after: string | null;
  limit: number;
}

/** A page cursor: opaque to clients ("p" + the last path listed, base64url). */
export function encodePackageCursor(path: string): string {
  return `p${Buffer.from(path, "utf8").toString("base64url")}`;
}

/** The path a cursor carries; null for anything that is not one of ours. */
export function decodePackageCursor(cursor: string): string | null {
  if (!/^p[A-Za-z0-9_-]{1,8192}$/.test(cursor)) return null;
  const path = Buffer.from(cursor.slice(1), "base64url").toString("utf8");
  return path !== "" && encodePackageCursor(path) === cursor ? path : null;
}

const isApk = (name: string): boolean => name.toLowerCase().endsWith(".apk");

/** Entries of a directory in name order; [] when it cannot be read. */
async function entriesOf(dir: string): Promise<Dirent[]> {
  try {
    const entries = await readdir(dir, { withFileTypes: true });
    return entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  } catch {
    return []; // unreadable (EACCES), or gone since it was listed
  }
}

/** A symlink's target when it is a file inside the root; else null. */
async function linkedFile(root: string, link: string): Promise<string | null> {
  try {
    const real = await realpath(link);
    if (!inside(root, real)) return null;
    return (await stat(real)).isFile() ? real : null;
  } catch {
    return null; // dangling, a loop, unreadable
  }
}

/**
 * Every *.apk under `root` (relative path → absolute file), walked in name
 * order. Names beginning with "." are skipped: the `.files` cache of mothers
 * uploaded to the file service, temp files, hidden directories. Symlinked
 * directories are not followed (no loops, no package listed twice).
 */
async function walk(root: string): Promise<{ found: Map<string, string>; truncated: boolean }> {
  const found = new Map<string, string>();
  let scanned = 0;
  const pending: { dir: string; rel: string; depth: number }[] = [{ dir: root, rel: "", depth: 0 }];
  for (let next = pending.pop(); next; next = pending.pop()) {
    const subdirs: typeof pending = [];
    for (const entry of await entriesOf(next.dir)) {
      if (++scanned > MAX_SCANNED) return { found, truncated: true };
      if (entry.name.startsWith(".")) continue;
      const abs = join(next.dir, entry.name);
      const rel = next.rel === "" ? entry.name : `${next.rel}/${entry.name}`;
      if (entry.isDirectory()) {
        if (next.depth < MAX_DEPTH) subdirs.push({ dir: abs, rel, depth: next.depth + 1 });
      } else if (isApk(entry.name)) {
        const file = entry.isFile()
          ? abs
          : entry.isSymbolicLink()
            ? await linkedFile(root, abs)
            : null;
        if (file !== null) found.set(rel, file);
      }
    }
    pending.push(...subdirs.reverse()); // popped in name order
  }
  return { found, truncated: false };
}

/** One page of the packages under `packagesRoot`, sorted by path. A missing root lists none. */
export async function listPackages(
  packagesRoot: string,
  query: PackageQuery,
): Promise<PackagePage> {
  let root: string;
  try {
    root = await realpath(packagesRoot);
  } catch {
    return { packages: [], nextCursor: null, truncated: false }; // not created yet, or unreadable
  }
  const { found, truncated } = await walk(root);
  const needle = query.q.toLowerCase();
  const paths = [...found.keys()]
    .filter(
      (path) => (query.after === null || path > query.after) && path.toLowerCase().includes(needle),
    )
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const page = paths.slice(0, query.limit);
  const packages: PackageEntry[] = [];
  for (const path of page) {
    const info = await stat(found.get(path) ?? "").catch(() => null);
    if (!info?.isFile()) continue; // removed since the walk
    packages.push({ path, size: info.size, modifiedAt: info.mtime.toISOString() });
  }
  const last = page.at(-1);
  const more = paths.length > page.length && last !== undefined;
  return { packages, nextCursor: more ? encodePackageCursor(last) : null, truncated };
}

/** Most characters of `q`. */
const MAX_Q = 256;
const DEFAULT_LIMIT = 100;
const MAX_LIMIT = 500;

/** `?name=` given at most once, as text. */
export function singleParam(value: unknown, field: string): string | undefined {
  if (value === undefined || typeof value === "string") return value;
  throw new GamedockError("E_INVALID_REQUEST", `${field} must be given once, as text`, { field });
}

/** `?q=&cursor=&limit=` of GET /api/v1/packages; a bad one is 400 E_INVALID_REQUEST naming it. */
export function packageQuery(query: Record<string, unknown>): PackageQuery {
  const q = singleParam(query.q, "q") ?? "";
  if (q.length > MAX_Q) {
    throw new GamedockError("E_INVALID_REQUEST", `q must be at most ${MAX_Q} characters`, {
      field: "q",
    });
  }
  const cursor = singleParam(query.cursor, "cursor");
  const after = cursor === undefined || cursor === "" ? null : decodePackageCursor(cursor);
  if (cursor !== undefined && cursor !== "" && after === null) {
    throw new GamedockError(
      "E_INVALID_REQUEST",
      "cursor must be a nextCursor value from an earlier answer",
      { field: "cursor" },
    );
  }
  const limit = intParam(singleParam(query.limit, "limit"), "limit", 1, MAX_LIMIT, DEFAULT_LIMIT);
  return { q, after, limit };
}
