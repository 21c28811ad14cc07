/**
 * Who may do what under /files. Without server.tokens (loopback only — the
 * server refuses to bind elsewhere without them) everything is open and every
 * file belongs to "local". With tokens, uploads, deletes and signing need
 * `Authorization: Bearer <token>`, and downloads need a token or a valid
 * signed URL. A request that carries `sig` is judged by its signature alone,
 * so an expired link fails the same way for everyone.
 *
 * The owner of a file is a short hash of the token, never the token itself:
 * it is stored in the database and shows up in logs.
 *
 * A user's realtime token (a JWT the gateway accepts) works too when the
 * file service has `users` (serve sets it): the request acts for that uid,
 * its files belong to "uid:<uid>" (chat checks a shared file is the
 * sender's by this), and it reaches only its own uploads, as an API token
 * does. An invalid user token is refused even on loopback.
 */
import type { FastifyRequest, onRequestAsyncHookHandler } from "fastify";
import { GamedockError, bearerToken, isKnownToken, tokenId } from "../core/index.js";
import { clockOf, type FilesContext } from "./context.js";
import { verifySignedUrl } from "./signed-url.js";

/** write: token needed; read: token or signed URL; open: anyone (tus OPTIONS discovery). */
export type FileAccess = "write" | "read" | "open";

declare module "fastify" {
  interface FastifyContextConfig {
    /** What a /files route needs (src/files/auth.ts); absent means "write". */
    fileAccess?: FileAccess;
  }
}

export const LOCAL_OWNER = "local";

/** The owner id of a token (its digest's prefix, never the token). */
export const tokenOwner = tokenId;

const bearer = (request: FastifyRequest): string | null =>
  bearerToken(request.headers.authorization);

const knownToken = (ctx: FilesContext, token: string): boolean => isKnownToken(token, ctx.tokens);

/** The uid of each request authorized by a user's realtime token. */
const users = new WeakMap<FastifyRequest, string>();

/** The owner id of a user's files. */
export const userOwner = (uid: string): string => `uid:${uid}`;

/** A JWT's shape (three base64url parts): what is tried as a user's token. */
const JWT = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

/** Whether only the caller's own uploads and files are its to touch (API tokens on, or a user). */
export function ownsOnly(ctx: FilesContext, request: FastifyRequest): boolean {
  return ctx.tokens.length > 0 || users.has(request);
}

/** The owner new files and uploads of this (already authorized) request belong to. */
export function ownerOf(ctx: FilesContext, request: FastifyRequest): string {
  const uid = users.get(request);
  if (uid !== undefined) return userOwner(uid);
  if (ctx.tokens.length === 0) return LOCAL_OWNER;
  const token = bearer(request);
  return token === null ? LOCAL_OWNER : tokenOwner(token);
}

function queryValue(request: FastifyRequest, name: string): string | undefined {
  const value = (request.query as Record<string, unknown>)[name];
  return typeof value === "string" ? value : undefined;
}

function hasSignature(request: FastifyRequest): boolean {
  const query = request.query as Record<string, unknown>;
  return query.sig !== undefined || query.expires !== undefined;
}

function checkSignature(ctx: FilesContext, request: FastifyRequest): void {
  const id = (request.params as Record<string, unknown>).id;
  if (typeof id !== "string") {
    throw new GamedockError(
      "E_SIGNATURE",
      `signed URLs are for downloads by id (/files/<id>?expires=…&sig=…), not ${request.url.split("?")[0] ?? ""}`,
    );
  }
  verifySignedUrl(
    ctx.signingKey,
    id,
    queryValue(request, "expires"),
    queryValue(request, "sig"),
    clockOf(ctx).now(),
  );
}

function checkToken(ctx: FilesContext, request: FastifyRequest, access: FileAccess): void {
  if (ctx.tokens.length === 0) return;
  const token = bearer(request);
  if (token !== null && token !== "" && knownToken(ctx, token)) return;
  const alternative = access === "read" ? " or use a signed URL (POST /files/<id>/sign)" : "";
  throw new GamedockError(
    "E_UNAUTHORIZED",
    `this file service needs an API token: send Authorization: Bearer <token> (server.tokens)${alternative}`,
  );
}

/** For a request let through by a signature that turns out to need a token (tus HEAD). */
export function requireToken(ctx: FilesContext, request: FastifyRequest): void {
  if (!users.has(request)) checkToken(ctx, request, "write");
}

/** onRequest hook of the /files scope: enforces each route's `config.fileAccess`. */
export function authorizeFiles(ctx: FilesContext): onRequestAsyncHookHandler {
  return async (request) => {
    const access = request.routeOptions.config.fileAccess ?? "write";
    if (access === "read" && hasSignature(request)) {
      checkSignature(ctx, request);
      return;
    }
    if (access === "open") return;
    const token = bearer(request);
    if (token !== null && ctx.users && JWT.test(token) && !knownToken(ctx, token)) {
      users.set(request, (await ctx.users.verify(token)).uid);
      return;
    }
    checkToken(ctx, request, access);
  };
}
