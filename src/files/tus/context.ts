/**
 * What one tus request carries past @tus/server into our datastore and hooks.
 * @tus/server calls DataStore.write(stream, id, offset) and the hooks without
 * the request's owner or its Upload-Checksum header, so handle() runs each
 * request inside an AsyncLocalStorage context that they read back.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { type ErrorAnswer, GamedockError } from "../../core/index.js";
import type { ExpectedChecksum } from "./checksum.js";

export interface TusRequestContext {
  /** Who the upload is accounted to (a token's id, or "local"). */
  readonly owner: string;
  /** Only the owner may see the upload (API tokens are on). */
  readonly ownerOnly: boolean;
  readonly requestId: string | undefined;
  /** The PATCH (or creation-with-upload POST) body's declared checksum. */
  readonly checksum: ExpectedChecksum | null;
  /** The error answer onResponseError made, for the response being written (json-server.ts). */
  answered: ErrorAnswer | null;
}

const storage = new AsyncLocalStorage<TusRequestContext>();

export function runInRequest<T>(context: TusRequestContext, run: () => Promise<T>): Promise<T> {
  return storage.run(context, run);
}

/** The current request's context; null outside handle() (the sweeper). */
export function currentRequest(): TusRequestContext | null {
  return storage.getStore() ?? null;
}

export function requireRequest(): TusRequestContext {
  const context = storage.getStore();
  if (!context) {
    throw new GamedockError("E_INTERNAL", "tus datastore used outside a request (no owner known)");
  }
  return context;
}
