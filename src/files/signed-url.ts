/**
 * Signed, expiring download URLs: `/files/<id>?expires=<unix s>&sig=<hex>`
 * with sig = HMAC-SHA256(signing key, `${id}\n${expires}`). Anyone holding the
 * URL may download that one file until it expires, without an API token — what
 * a chat message or a CDN needs. The newline cannot occur in an id, so no two
 * (id, expires) pairs sign the same text.
 */
import { createHmac, timingSafeEqual } from "node:crypto";
import { GamedockError } from "../core/index.js";

function signature(key: Buffer, subject: string, expires: number): Buffer {
  return createHmac("sha256", key).update(`${subject}\n${expires}`).digest();
}

/**
 * The `expires=…&sig=…` query that lets anyone GET `subject` until `expires`
 * (unix seconds). A file's subject is its id (no newline); other routes sign
 * subjects of several newline-separated parts (a pack job's child:
 * `pack-child\n<job>\n<channel>`), so no two kinds of subject sign the same text.
 */
export function signatureQuery(key: Buffer, subject: string, expires: number): string {
  return `expires=${expires}&sig=${signature(key, subject, expires).toString("hex")}`;
}

/** The path (with query) of a download of `id` valid until `expires` (unix seconds). */
export function signedPath(key: Buffer, id: string, expires: number): string {
  return `/files/${encodeURIComponent(id)}?${signatureQuery(key, id, expires)}`;
}

function refused(id: string, why: string): GamedockError {
  return new GamedockError(
    "E_SIGNATURE",
    `the signed URL of file ${JSON.stringify(id)} ${why}; ask for a new one (POST /files/${id}/sign)`,
    { id },
  );
}

/** Throws E_SIGNATURE unless `sig` signs (id, expires) and `expires` is still ahead of `nowMs`. */
export function verifySignedUrl(
  key: Buffer,
  id: string,
  expires: string | undefined,
  sig: string | undefined,
  nowMs = Date.now(),
): void {
  verifySignature(key, id, expires, sig, (why) => refused(id, why), nowMs);
}

/** Throws `refuse(why)` unless `sig` signs (subject, expires) and `expires` is still ahead of `nowMs`. */
export function verifySignature(
  key: Buffer,
  subject: string,
  expires: string | undefined,
  sig: string | undefined,
  refuse: (why: string) => GamedockError,
  nowMs = Date.now(),
): void {
  if (expires === undefined || !/^\d{1,12}$/.test(expires)) {
    throw refuse("has no valid expires parameter (unix seconds)");
  }
  if (sig === undefined || !/^[0-9a-f]{64}$/i.test(sig)) {
    throw refuse("has no valid sig parameter (64 hex digits)");
  }
  const expected = signature(key, subject, Number(expires));
  if (!timingSafeEqual(expected, Buffer.from(sig, "hex"))) {
    throw refuse("has a wrong signature");
  }
  if (Number(expires) * 1000 <= nowMs) {
    throw refuse(`expired at ${new Date(Number(expires) * 1000).toISOString()}`);
  }
}
