/**
 * Signed, expiring download URLs: `/files/<id>?expires=<unix s>&sig=<hex>`
 * with sig = HMAC-SHA256(signing key, `${id}\n${expires}`). Anyone holding the
 * URL may download that one file until it expires, without an API token — what
 * a chat message or a CDN needs. The newline cannot occur in an id, so no two
 * (id, expires) pairs sign the same text.
 */
import { createHmac, timingSafeEqual } from "node:crypto";
import { GamedockError } from "../core/index.js";

function signature(key: Buffer, id: string, expires: number): Buffer {
  return createHmac("sha256", key).update(`${id}\n${expires}`).digest();
}

/** The path (with query) of a download of `id` valid until `expires` (unix seconds). */
export function signedPath(key: Buffer, id: string, expires: number): string {
  const sig = signature(key, id, expires).toString("hex");
  return `/files/${encodeURIComponent(id)}?expires=${expires}&sig=${sig}`;
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
  if (expires === undefined || !/^\d{1,12}$/.test(expires)) {
    throw refused(id, "has no valid expires parameter (unix seconds)");
  }
  if (sig === undefined || !/^[0-9a-f]{64}$/i.test(sig)) {
    throw refused(id, "has no valid sig parameter (64 hex digits)");
  }
  const expected = signature(key, id, Number(expires));
  if (!timingSafeEqual(expected, Buffer.from(sig, "hex"))) {
    throw refused(id, "has a wrong signature");
  }
  if (Number(expires) * 1000 <= nowMs) {
    throw refused(id, `expired at ${new Date(Number(expires) * 1000).toISOString()}`);
  }
}
