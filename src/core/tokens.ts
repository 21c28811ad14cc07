/**
 * API tokens (server.tokens), checked the same way by every route: the token
 * from `Authorization: Bearer <token>`, compared by SHA-256 digest so neither
 * its length nor its bytes leak through timing.
 */
import { createHash, timingSafeEqual } from "node:crypto";

const digest = (token: string): Buffer => createHash("sha256").update(token).digest();

export function bearerToken(authorization: string | undefined): string | null {
  const header = authorization ?? "";
  return header.startsWith("Bearer ") ? header.slice(7).trim() : null;
}

export function isKnownToken(token: string, tokens: readonly string[]): boolean {
  const given = digest(token);
  let found = false;
  // No early exit: every configured token is compared.
  for (const known of tokens) found = timingSafeEqual(given, digest(known)) || found;
  return found;
}

/** A token's stable, non-secret id: "t-" and 16 hex digits of its sha256. */
export function tokenId(token: string): string {
  return `t-${digest(token).toString("hex").slice(0, 16)}`;
}
