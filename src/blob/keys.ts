/**
 * Object key rules, checked before any driver touches the target, so a bad key
 * fails the same way on every driver and nothing is written.
 * Rule (contract.ts): 1–1024 bytes of UTF-8, '/'-separated, no empty, '.' or
 * '..' segment, no control characters.
 */
import { GamedockError, textProblem } from "../core/index.js";
import type { BlobKey } from "./contract.js";
import { STORE_AREA } from "./reserved.js";

export const MAX_KEY_BYTES = 1024;

/**
 * Keys of resumable uploads leave room for the names the drivers derive from
 * them (an s3 upload keeps `.gamedock/uploads/<key>` and `.gamedock/parts/<key>@<offset>`,
 * and S3 keys end at 1024 bytes).
 */
export const MAX_RESUMABLE_KEY_BYTES = 960;

/** The first segment of the drivers' bookkeeping area (".gamedock"). */
const STORE_SEGMENT = STORE_AREA.slice(0, -1);

function keyError(key: string, rule: string): GamedockError {
  return new GamedockError("E_BLOB_KEY", `invalid object key ${JSON.stringify(key)}: ${rule}`, {
    key,
  });
}

function notAString(what: string, value: unknown): GamedockError {
  return new GamedockError(
    "E_BLOB_KEY",
    `invalid object ${what}: expected a string, got ${typeof value}`,
  );
}

/** Rules shared by keys and list prefixes. */
function checkCharacters(key: string, what: string): void {
  if (Buffer.byteLength(key, "utf8") > MAX_KEY_BYTES) {
    throw keyError(key, `${what} must be at most ${MAX_KEY_BYTES} bytes of UTF-8`);
  }
  // A lone surrogate has no UTF-8 form (it would be stored under another name);
  // controls are invisible in logs and URLs, and some stores refuse them.
  const problem = textProblem(key);
  if (problem !== null) throw keyError(key, `${what} cannot be used: ${problem}`);
}

function checkSegment(key: string, segment: string): void {
  if (segment === "") {
    throw keyError(
      key,
      "segments between '/' must not be empty (no leading, trailing or double '/')",
    );
  }
  if (segment === "." || segment === "..") {
    throw keyError(key, "'.' and '..' segments are not allowed");
  }
}

/** Throws E_BLOB_KEY naming the key and the rule it breaks. */
export function validateBlobKey(key: BlobKey): void {
  // Keys may come from JSON or HTTP: refuse anything that is not a string.
  if (typeof key !== "string") throw notAString("key", key);
  if (key.length === 0) throw keyError(key, "key is empty");
  checkCharacters(key, "key");
  for (const segment of key.split("/")) checkSegment(key, segment);
  if (key.split("/", 1)[0] === STORE_SEGMENT) {
    throw keyError(
      key,
      `${STORE_AREA} is the store's own bookkeeping area (temp files, uploads in progress)`,
    );
  }
}

/** A key a resumable upload may use: a valid key of at most MAX_RESUMABLE_KEY_BYTES. */
export function validateResumableKey(key: BlobKey): void {
  validateBlobKey(key);
  if (Buffer.byteLength(key, "utf8") > MAX_RESUMABLE_KEY_BYTES) {
    throw keyError(
      key,
      `a resumable upload's key must be at most ${MAX_RESUMABLE_KEY_BYTES} bytes of UTF-8 (the store derives its bookkeeping names from it)`,
    );
  }
}

/** Whether a listed key is the store's bookkeeping (never shown by list). */
export function isStoreKey(key: string): boolean {
  return key.startsWith(STORE_AREA);
}

/**
 * A list prefix is any leading part of a valid key: "" (everything), "game/",
 * "game/1.2/hua". Every segment before the last '/' must be a valid segment.
 */
export function validateBlobPrefix(prefix: string): void {
  if (typeof prefix !== "string") throw notAString("prefix", prefix);
  if (prefix === "") return;
  checkCharacters(prefix, "prefix");
  const segments = prefix.split("/");
  segments.pop(); // the partial last segment may be anything a key segment may start with
  for (const segment of segments) checkSegment(prefix, segment);
}
