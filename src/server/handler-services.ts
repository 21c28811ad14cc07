/**
 * The services handler modules declare (`services: { db, redis, files }`),
 * opened once per process for the modules that ask: serve shares its own
 * database and file service; `gamedock logic` opens what is needed. A
 * required service the process cannot give refuses the start (E_CONFIG
 * naming the module); an optional one is simply absent from `ctx.services`.
 */
import { join } from "node:path";
import { Redis } from "ioredis";
import { GamedockError, type Config, type Logger } from "../core/index.js";
import { openDatabase, type Database } from "../db/index.js";
import {
  fileLookup,
  SqlFileMetadata,
  type FileLookupContext,
  type FilesContext,
} from "../files/index.js";
import type { HandlerModule, HandlerServices, ServiceName } from "../realtime/index.js";
import { resolveConfig } from "./resolve.js";
import { loadSigningKey } from "./signing-key.js";

export interface OpenedServices {
  servicesOf(module: HandlerModule): HandlerServices;
  close(): Promise<void>;
}

/** What the caller already has open and shares. */
export interface SharedServices {
  database?: Database;
  files?: FilesContext;
}

const wanted = (modules: readonly HandlerModule[], name: ServiceName): boolean =>
  modules.some((m) => m.services[name] !== undefined);

export async function openHandlerServices(
  config: Config,
  modules: readonly HandlerModule[],
  logger: Logger,
  shared: SharedServices = {},
): Promise<OpenedServices> {
  const opened: HandlerServices = {};
  const closers: (() => Promise<void>)[] = [];
  const close = async (): Promise<void> => {
    for (const closer of closers.reverse()) await closer().catch(() => undefined);
  };
  try {
    let database = shared.database;
    if (!database && (wanted(modules, "db") || (wanted(modules, "files") && !shared.files))) {
      const own = await openDatabase(resolveConfig(config).database);
      closers.push(() => own.close());
      database = own;
    }
    if (wanted(modules, "db") && database) opened.db = database.db;
    if (wanted(modules, "files")) {
      opened.files = fileLookup(shared.files ?? (await ownFiles(config, database!, logger)));
    }
    const bus = config.realtime.bus;
    if (wanted(modules, "redis") && bus.driver === "redis") {
      // Handlers' keys stay out of the bus's own: "<prefix>:app:<their key>".
      const redis = new Redis(bus.url, { keyPrefix: `${bus.prefix}:app:`, lazyConnect: true });
      redis.on("error", (err: Error) => {
        logger.warn({ err: err.message }, "handler redis connection error");
      });
      await redis.connect();
      closers.push(async () => {
        await redis.quit();
      });
      opened.redis = redis;
    }
  } catch (err) {
    await close();
    throw err;
  }
  for (const module of modules) {
    for (const [name, need] of Object.entries(module.services)) {
      if (need === "required" && opened[name as ServiceName] === undefined) {
        await close();
        throw new GamedockError(
          "E_CONFIG",
          `handler module "${module.name}" requires the ${name} service, which this process cannot give${name === "redis" ? ": set realtime.bus to a redis bus" : ""}`,
        );
      }
    }
  }
  return {
    servicesOf: (module) =>
      Object.fromEntries(
        Object.keys(module.services)
          .filter((name) => opened[name as ServiceName] !== undefined)
          .map((name) => [name, opened[name as ServiceName]]),
      ),
    close,
  };
}

/** The file service's metadata and signing key, without its store or sweeper (gamedock logic). */
async function ownFiles(
  config: Config,
  database: Database,
  logger: Logger,
): Promise<FileLookupContext> {
  const signingKey = config.files.signingSecret
    ? Buffer.from(config.files.signingSecret, "utf8")
    : await loadSigningKey(join(resolveConfig(config).data, "signing.key"), logger);
  return {
    metadata: new SqlFileMetadata(database),
    signingKey,
    settings: { signedUrlTtlSeconds: config.files.signedUrlTtlSeconds },
  };
}
