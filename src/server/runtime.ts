/**
 * Opens what the packer runs on — database, queue backends — and builds its
 * context. Shared by `serve` (with HTTP) and `worker` (stages only).
 */
import { GamedockError, type Config, type Logger } from "../core/index.js";
import { openDatabase, type Database } from "../db/index.js";
import { PackerContext, PackStore } from "../packer/index.js";
import { openQueueBackend, type QueueBackend } from "../queue/index.js";
import { isLoopback, resolveConfig, type Resolved } from "./resolve.js";

export interface Runtime {
  resolved: Resolved;
  database: Database;
  backends: Map<string, QueueBackend>;
  ctx: PackerContext;
  close(): Promise<void>;
}

export function checkExposure(config: Config): void {
  if (!isLoopback(config.server.host) && config.server.tokens.length === 0) {
    throw new GamedockError(
      "E_CONFIG",
      `server.host ${config.server.host} is not a loopback address, so API tokens are required: set server.tokens in the config file or GAMEDOCK_SERVER_TOKENS=token1,token2`,
      { field: "server.tokens" },
    );
  }
}

export async function openRuntime(
  config: Config,
  logger: Logger,
  signal: AbortSignal,
): Promise<Runtime> {
  const resolved = resolveConfig(config);
  if (!(resolved.packer.defaultQueue in resolved.queues)) {
    throw new GamedockError(
      "E_CONFIG",
      `packer.queue ${JSON.stringify(resolved.packer.defaultQueue)} is not one of queues: ${Object.keys(resolved.queues).join(", ")}`,
      { field: "packer.queue" },
    );
  }
  if (!(resolved.packer.defaultTarget in resolved.targets)) {
    throw new GamedockError(
      "E_CONFIG",
      `packer.target ${JSON.stringify(resolved.packer.defaultTarget)} is not one of targets: ${Object.keys(resolved.targets).join(", ")}`,
      { field: "packer.target" },
    );
  }
  const database = await openDatabase(resolved.database);
  const backends = new Map<string, QueueBackend>();
  try {
    for (const [name, queueConfig] of Object.entries(resolved.queues)) {
      backends.set(
        name,
        await openQueueBackend(queueConfig, {
          logger: logger.child({ component: "queue", backend: name }),
        }),
      );
    }
  } catch (err) {
    await Promise.all([...backends.values()].map((b) => b.close()));
    await database.close();
    throw err;
  }
  const store = new PackStore(database);
  const ctx = new PackerContext(
    store,
    backends,
    resolved.targets,
    resolved.notifiers,
    resolved.packer,
    logger.child({ component: "packer" }),
    signal,
  );
  return {
    resolved,
    database,
    backends,
    ctx,
    async close() {
      await ctx.close();
      await Promise.all([...backends.values()].map((b) => b.close()));
      await database.close();
    },
  };
}
