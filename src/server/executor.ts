/**
 * `gamedock executor`: an executor on any machine. Its config holds
 * `cluster.tools` and the queue it takes work from (`cluster.queue`, which must
 * be the server's Redis queue); flags override the pool, slots and cache. It
 * talks to the server's HTTP API for everything else.
 */
import { createHash } from "node:crypto";
import { hostname } from "node:os";
import { isAbsolute, join, resolve } from "node:path";
import { Executor, httpInputSource, openStagingCache } from "../cluster/executor/index.js"; // not ../cluster: the executor never loads the server side
import { GamedockError, type Config, type Lifecycle, type Logger } from "../core/index.js";
import { openQueueBackend } from "../queue/index.js";
import { resolveConfig } from "./resolve.js";

export interface ExecutorFlags {
  server: string;
  token?: string;
  pool?: string;
  slots?: number;
  cache?: string;
  cacheMax?: number;
  id?: string;
  /** key=value labels. */
  label?: string[];
}

export async function startExecutor(
  config: Config,
  flags: ExecutorFlags,
  logger: Logger,
  lifecycle: Lifecycle,
): Promise<{ id: string; tools: string[] }> {
  const c = config.cluster;
  if (Object.keys(c.tools).length === 0) {
    throw new GamedockError(
      "E_CONFIG",
      "cluster.tools names no tool: an executor offers the tools its config maps to binaries",
      {
        field: "cluster.tools",
      },
    );
  }
  const resolved = resolveConfig(config);
  const queueConfig = resolved.queues[c.queue];
  if (!queueConfig) {
    throw new GamedockError(
      "E_CONFIG",
      `cluster.queue ${JSON.stringify(c.queue)} is not one of queues`,
      { field: "cluster.queue" },
    );
  }
  if (queueConfig.driver !== "redis") {
    throw new GamedockError(
      "E_CONFIG",
      `cluster.queue ${JSON.stringify(c.queue)} is a ${queueConfig.driver} queue; an executor takes work from the server's Redis queue (the same url and prefix)`,
      { field: "cluster.queue" },
    );
  }
  const under = (value: string, fallback: string): string =>
    value === "" ? join(resolved.data, fallback) : isAbsolute(value) ? value : resolve(value);
  const cacheDir = flags.cache ? resolve(flags.cache) : under(c.executor.cacheDir, "cluster-cache");
  const token = flags.token ?? process.env.GAMEDOCK_TOKEN ?? config.server.tokens[0] ?? null;
  const log = logger.child({ component: "executor" });
  const queue = await openQueueBackend(queueConfig, { logger: log });
  const cache = await openStagingCache({
    dir: cacheDir,
    maxBytes: flags.cacheMax ?? c.executor.cacheMaxBytes,
    source: httpInputSource({ baseUrl: flags.server, ...(token ? { token } : {}) }),
    logger: log,
  });
  const id =
    flags.id ?? `${hostname()}-${createHash("sha256").update(cacheDir).digest("hex").slice(0, 8)}`;
  const executor = new Executor({
    id,
    server: flags.server.replace(/\/+$/, ""),
    token,
    pool: flags.pool ?? c.executor.pool,
    slots: flags.slots ?? c.executor.slots,
    tools: c.tools,
    labels: Object.fromEntries(
      (flags.label ?? []).map((pair) => {
        const eq = pair.indexOf("=");
        if (eq <= 0)
          throw new GamedockError("E_USAGE", `--label ${JSON.stringify(pair)} must be key=value`);
        return [pair.slice(0, eq), pair.slice(eq + 1)];
      }),
    ),
    queue,
    cache,
    workDir: under(c.executor.workDir, "cluster-work"),
    baseEnv: baseEnv(),
    limits: { ...c.limits, tailBytes: 4096 },
    retentionSeconds: c.retentionSeconds,
    logger: log,
  });
  try {
    await executor.start();
  } catch (err) {
    await cache.close();
    await queue.close();
    throw err;
  }
  lifecycle.onShutdown("executor", async () => {
    await executor.stop();
    await queue.close();
  });
  return { id, tools: Object.keys(c.tools) };
}

/** What every tool's environment starts from: the executor's PATH, HOME and temp dir, nothing else. */
export function baseEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const key of ["PATH", "HOME", "TMPDIR"]) {
    const value = process.env[key];
    if (value !== undefined) env[key] = value;
  }
  return env;
}
