/**
 * The task cluster as `serve` runs it: the service over the shared database,
 * its routes, the sweep, and — when `cluster.tools` names tools — an
 * in-process executor that talks to this server over loopback like any other
 * executor and consumes its tasks from the server's own cluster queue.
 */
import { createHash } from "node:crypto";
import { hostname } from "node:os";
import { isAbsolute, join, resolve } from "node:path";
import type { FastifyInstance } from "fastify";
import {
  ClusterService,
  Executor,
  httpInputSource,
  openStagingCache,
  registerClusterRoutes,
  sweepCluster,
} from "../cluster/index.js";
import { GamedockError, type Config, type Logger } from "../core/index.js";
import type { Database } from "../db/index.js";
import type { FilesContext } from "../files/index.js";
import type { QueueBackend } from "../queue/index.js";
import { baseEnv } from "./executor.js";
import { resolveConfig } from "./resolve.js";

export interface ClusterRuntime {
  service: ClusterService;
  register(app: FastifyInstance): Promise<void>;
  /** Starts the in-process executor (if tools are configured) once the server listens at `url`. */
  startExecutor(url: string): Promise<void>;
  close(): Promise<void>;
}

const under = (data: string, value: string, fallback: string): string =>
  value === "" ? join(data, fallback) : isAbsolute(value) ? value : resolve(value);

export function openCluster(
  config: Config,
  data: string,
  logger: Logger,
  database: Database,
  backends: ReadonlyMap<string, QueueBackend>,
  files: FilesContext,
  /** Queues task.finished outbox rows for the notify stage. */
  deliver: (ids: string[]) => Promise<void>,
): ClusterRuntime {
  const c = config.cluster;
  const queue = backends.get(c.queue);
  if (!queue) {
    throw new GamedockError(
      "E_CONFIG",
      `cluster.queue ${JSON.stringify(c.queue)} is not one of queues: ${[...backends.keys()].join(", ")}`,
      {
        field: "cluster.queue",
      },
    );
  }
  const log = logger.child({ component: "cluster" });
  const service = new ClusterService(
    database,
    queue,
    { has: async (sha256, size) => (await files.metadata.findBlob(sha256))?.size === size },
    {
      envAllow: c.envAllow,
      heartbeatMs: c.heartbeatMs,
      lostAfterMs: c.lostAfterMs,
      retentionSeconds: c.retentionSeconds,
      defaults: c.defaults,
      limits: c.limits,
      pool: c.executor.pool,
      notifiers: Object.keys(config.notifiers),
      baseUrl: resolveConfig(config).packer.baseUrl,
    },
    log,
    deliver,
  );
  let running: Promise<unknown> | null = null;
  const sweeper = setInterval(() => {
    running ??= sweepCluster(service)
      .catch((err: unknown) => {
        log.warn({ event: "cluster-sweep-failed", err }, "cluster sweep failed");
      })
      .finally(() => {
        running = null;
      });
  }, c.sweepIntervalMs);
  sweeper.unref();
  let executor: Executor | null = null;

  return {
    service,
    register: (app) =>
      registerClusterRoutes(app, {
        service,
        streams: config.packer.events,
        remoteExecutors: queue.driver === "redis",
      }),
    async startExecutor(url) {
      if (Object.keys(c.tools).length === 0) return;
      const token = config.server.tokens[0] ?? null;
      const cacheDir = under(data, c.executor.cacheDir, "cluster-cache");
      const cache = await openStagingCache({
        dir: cacheDir,
        maxBytes: c.executor.cacheMaxBytes,
        source: httpInputSource({ baseUrl: url, ...(token ? { token } : {}) }),
        logger: log,
      });
      executor = new Executor({
        id: `${hostname()}-serve-${createHash("sha256").update(cacheDir).digest("hex").slice(0, 8)}`,
        server: url,
        token,
        pool: c.executor.pool,
        slots: c.executor.slots,
        tools: c.tools,
        queue,
        cache,
        workDir: under(data, c.executor.workDir, "cluster-work"),
        baseEnv: baseEnv(),
        limits: { ...c.limits, tailBytes: 4096 },
        retentionSeconds: c.retentionSeconds,
        localKey: service.localKey,
        logger: log.child({ role: "executor" }),
      });
      await executor.start();
    },
    async close() {
      clearInterval(sweeper);
      await executor?.stop();
      await running;
    },
  };
}
