/**
 * The handler API: a module maps msgIds to async functions and owns a range
 * of msgIds; `serve` and `gamedock logic` load several modules, refusing to
 * start when two claim overlapping ranges.
 *
 *   export default defineHandlers({
 *     name: "samples",
 *     range: [1000, 1999],
 *     services: { redis: "optional" },
 *     handlers: { 1001: async (ctx, body) => body },
 *   });
 *
 * A module declares the services it needs (`db`, `redis`, `files`), each
 * "required" (the worker refuses to start without it) or "optional"; its
 * handlers find them on `ctx.services`. `ctx.push` and `ctx.groups` are
 * always there.
 *
 * A handler's return value is the reply's body. It may throw: the client
 * gets E_HANDLER (a GamedockError's code and message when it throws one).
 * `ctx.messageId` is the same every time one request is delivered, so a
 * handler with side effects can use it as an idempotency key.
 */
import { isAbsolute, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import type { Redis } from "ioredis";
import type { Kysely } from "kysely";
import { GamedockError } from "../core/index.js";
import type { Tables } from "../db/index.js";
import type { FileLookup } from "../files/index.js";
import type { MembershipChange } from "./groups.js";
import { FIRST_APP_MSG_ID, MAX_MSG_ID } from "./protocol.js";
import type { PushOptions, PushResult, PushTarget } from "./push.js";

export interface HandlerLog {
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
  error(fields: object, message: string): void;
}

export type ServiceName = "db" | "redis" | "files";
export const SERVICE_NAMES: readonly ServiceName[] = ["db", "redis", "files"];
export type ServiceNeeds = Partial<Record<ServiceName, "required" | "optional">>;

/** The file service as handlers see it (chat checks and links files). */
export type FileAccess = FileLookup;

/** What a module declared and the process could give it. */
export interface HandlerServices {
  /** gamedock's database (database.url; SQLite on embedded defaults), through Kysely. */
  db?: Kysely<Tables>;
  /** The Redis of the bus (realtime.bus), with keys prefixed "<bus prefix>:app:". */
  redis?: Redis;
  files?: FileAccess;
}

/** Application groups as handlers change them: members get the group's pushes. */
export interface GroupAccess {
  join(uid: string, group: string): Promise<MembershipChange>;
  leave(uid: string, group: string): Promise<MembershipChange>;
  of(uid: string): Promise<string[]>;
}

export interface HandlerContext {
  /** From the connection's token. */
  uid: string;
  /** The logic group the request came through. */
  group: string;
  msgId: number;
  /** Stable across redelivery of one request: the idempotency key. */
  messageId: string;
  /** True when another worker may have handled this request before (it died). */
  redelivered: boolean;
  connId: string;
  gatewayId: string;
  /** The client's address as the gateway saw it. */
  ip: string;
  /** Aborted when the handler is past its time limit (the client got E_TIMEOUT). */
  signal: AbortSignal;
  log: HandlerLog;
  /**
   * Pushes to a uid, several uids or everyone ({all: true}). Persisted
   * (the default) it goes into the history a reconnecting client reads;
   * `persist: false` reaches only who is connected now.
   */
  push(to: PushTarget, msgId: number, body: unknown, options?: PushOptions): Promise<PushResult>;
  /** Adds uids to application groups and removes them ({group} pushes reach members). */
  groups: GroupAccess;
  /** The services the module declared (absent: not declared, or optional and not available). */
  services: HandlerServices;
}

export type Handler = (ctx: HandlerContext, body: unknown) => unknown;

export interface HandlerModule {
  name: string;
  /** Inclusive [first, last] msgIds the module owns. */
  range: readonly [number, number];
  services: ServiceNeeds;
  handlers: Readonly<Record<number, Handler>>;
}

/** A msgId's handler with the services of its module. */
export interface HandlerRoute {
  handler: Handler;
  services: HandlerServices;
}

/** Checks a module's shape and returns it; its range defaults to the span of its msgIds. */
export function defineHandlers(module: {
  name: string;
  range?: readonly [number, number];
  services?: ServiceNeeds;
  handlers: Record<number, Handler>;
}): HandlerModule {
  return checkModule(module, module.name);
}

function bad(source: string, message: string): GamedockError {
  return new GamedockError("E_CONFIG", `handler module ${source}: ${message}`);
}

function checkModule(value: unknown, source: string): HandlerModule {
  if (typeof value !== "object" || value === null) {
    throw bad(source, "its default export must be defineHandlers({ name, range, handlers })");
  }
  const { name, range, handlers, services } = value as Partial<HandlerModule>;
  if (typeof name !== "string" || name.length === 0) throw bad(source, "needs a name");
  if (typeof handlers !== "object" || handlers === null) throw bad(source, "needs handlers");
  const ids = Object.keys(handlers).map(Number);
  for (const [key, handler] of Object.entries(handlers)) {
    const id = Number(key);
    if (!Number.isInteger(id) || id < FIRST_APP_MSG_ID || id > MAX_MSG_ID) {
      throw bad(source, `msgId ${key} is outside ${FIRST_APP_MSG_ID}..${MAX_MSG_ID}`);
    }
    if (typeof handler !== "function") throw bad(source, `the handler of ${key} is not a function`);
  }
  if (
    range !== undefined &&
    !(
      Array.isArray(range) &&
      Number.isInteger(range[0]) &&
      Number.isInteger(range[1]) &&
      range[0] <= range[1]
    )
  ) {
    throw bad(source, `range must be [first, last] msgIds, got ${JSON.stringify(range)}`);
  }
  // No range and no handlers: it owns nothing ([0, -1] overlaps no range).
  const owned: readonly [number, number] =
    range ?? (ids.length > 0 ? [Math.min(...ids), Math.max(...ids)] : [0, -1]);
  const [first, last] = owned;
  const outside = ids.find((id) => id < first || id > last);
  if (outside !== undefined)
    throw bad(source, `msgId ${outside} is outside its range ${first}..${last}`);
  return { name, range: owned, services: checkNeeds(services, source), handlers };
}

function checkNeeds(services: unknown, source: string): ServiceNeeds {
  if (services === undefined) return {};
  if (typeof services !== "object" || services === null || Array.isArray(services)) {
    throw bad(source, `services must be an object like { db: "required", redis: "optional" }`);
  }
  for (const [name, need] of Object.entries(services)) {
    if (!(SERVICE_NAMES as readonly string[]).includes(name)) {
      throw bad(
        source,
        `unknown service ${JSON.stringify(name)} (known: ${SERVICE_NAMES.join(", ")})`,
      );
    }
    if (need !== "required" && need !== "optional") {
      throw bad(
        source,
        `service ${name} must be "required" or "optional", got ${JSON.stringify(need)}`,
      );
    }
  }
  return services;
}

/**
 * The msgId → handler table of several modules, each handler with its
 * module's services; E_CONFIG names both modules of an overlap.
 */
export function composeHandlers(
  modules: readonly HandlerModule[],
  servicesOf: (module: HandlerModule) => HandlerServices = () => ({}),
): Map<number, HandlerRoute> {
  const table = new Map<number, HandlerRoute>();
  modules.forEach((module, i) => {
    for (const other of modules.slice(0, i)) {
      const [a1, a2] = module.range;
      const [b1, b2] = other.range;
      if (a1 <= b2 && b1 <= a2) {
        throw new GamedockError(
          "E_CONFIG",
          `handler modules "${other.name}" (msgIds ${b1}..${b2}) and "${module.name}" (${a1}..${a2}) overlap: each msgId belongs to one module`,
        );
      }
    }
    const services = servicesOf(module);
    for (const [id, handler] of Object.entries(module.handlers))
      table.set(Number(id), { handler, services });
  });
  return table;
}

/** Imports handler modules by path (relative to `cwd`); a missing or bad module is E_CONFIG. */
export async function loadHandlerModules(
  paths: readonly string[],
  cwd: string,
): Promise<HandlerModule[]> {
  const modules: HandlerModule[] = [];
  for (const path of paths) {
    const full = isAbsolute(path) ? path : resolve(cwd, path);
    let loaded: { default?: unknown };
    try {
      loaded = (await import(pathToFileURL(full).href)) as { default?: unknown };
    } catch (err) {
      throw bad(full, `cannot be loaded: ${(err as Error).message}`);
    }
    modules.push(checkModule(loaded.default, full));
  }
  composeHandlers(modules); // refuse overlaps at load, before anything starts
  return modules;
}
