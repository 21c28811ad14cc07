/**
 * Connection tokens: JWTs signed HS256 with `realtime.jwtSecret` (or the key
 * generated into the data directory), or by keys published at a JWKS URL.
 * Claims: `sub` (the uid), optional `group` (the logic group), `exp`.
 */
import { SignJWT, createRemoteJWKSet, errors, jwtVerify, type JWTPayload } from "jose";
import { GamedockError, textProblem } from "../core/index.js";

export interface TokenClaims {
  uid: string;
  /** The logic group; absent: the gateway's default. */
  group?: string;
  /** Expiry, seconds since the epoch; absent: the token does not expire. */
  exp?: number;
}

export interface Authenticator {
  /** The claims, or E_TOKEN_INVALID saying what is wrong (never the token). */
  verify(token: string): Promise<TokenClaims>;
}

const MAX_UID = 128;
export const GROUP_NAME = /^[A-Za-z0-9_.-]{1,64}$/;

function invalid(message: string): GamedockError {
  return new GamedockError("E_TOKEN_INVALID", message);
}

/** Checks the claims gamedock reads: a printable uid, a group name. */
export function claimsOf(payload: JWTPayload): TokenClaims {
  const uid = payload.sub;
  if (typeof uid !== "string" || uid.length === 0 || uid.length > MAX_UID) {
    throw invalid(`the token's sub (the uid) must be a string of 1-${MAX_UID} characters`);
  }
  const problem = textProblem(uid);
  if (problem) throw invalid(`the token's sub (the uid) ${problem}`);
  const group = (payload as { group?: unknown }).group;
  if (group !== undefined && (typeof group !== "string" || !GROUP_NAME.test(group))) {
    throw invalid("the token's group must be 1-64 of A-Z a-z 0-9 _ . -");
  }
  return {
    uid,
    ...(group === undefined ? {} : { group }),
    ...(payload.exp ? { exp: payload.exp } : {}),
  };
}

async function verifying(run: () => Promise<{ payload: JWTPayload }>): Promise<TokenClaims> {
  try {
    return claimsOf((await run()).payload);
  } catch (err) {
    if (err instanceof GamedockError) throw err;
    if (err instanceof errors.JWTExpired) throw invalid("the token has expired");
    if (err instanceof errors.JOSEError) throw invalid(`the token is not valid: ${err.code}`);
    throw err;
  }
}

export function secretAuthenticator(secret: Uint8Array): Authenticator {
  return {
    verify: (token) => verifying(() => jwtVerify(token, secret, { algorithms: ["HS256"] })),
  };
}

export function jwksAuthenticator(url: string): Authenticator {
  const keys = createRemoteJWKSet(new URL(url));
  return { verify: (token) => verifying(() => jwtVerify(token, keys)) };
}

/** A token for `gamedock token` and tests: HS256, `sub` = uid, optional group, expiring after ttlSeconds. */
export async function mintToken(
  secret: Uint8Array,
  claims: { uid: string; group?: string; ttlSeconds: number },
): Promise<string> {
  claimsOf({ sub: claims.uid, group: claims.group }); // the same checks as a gateway's
  const jwt = new SignJWT(claims.group === undefined ? {} : { group: claims.group })
    .setProtectedHeader({ alg: "HS256" })
    .setSubject(claims.uid)
    .setIssuedAt()
    .setExpirationTime(Math.floor(Date.now() / 1000) + claims.ttlSeconds);
  return jwt.sign(secret);
}
