/**
 * Turns the effective configuration into what the modules take: "" paths
 * become their places under `data`, drivers' defaults are filled in.
 */
import { isAbsolute, join, resolve } from "node:path";
import type { BlobTargetConfig } from "../blob/index.js";
import type { Config } from "../core/index.js";
import type { DatabaseConfig } from "../db/index.js";
import type { SinkConfig } from "../notify/index.js";
import type { PackerSettings } from "../packer/index.js";
import type { QueueBackendConfig } from "../queue/index.js";

export interface Resolved {
  data: string;
  database: DatabaseConfig;
  queues: Record<string, QueueBackendConfig>;
  targets: Record<string, BlobTargetConfig>;
  notifiers: Record<string, SinkConfig>;
  packer: PackerSettings;
}

/** A host as sockets take it: an IPv6 address written the URL way ("[::1]") loses its brackets. */
export function bareHost(host: string): string {
  return /^\[(.*)\]$/.exec(host.trim())?.[1] ?? host.trim();
}

/** A host as URLs write it: IPv6 addresses in brackets. */
export function urlHost(host: string): string {
  const bare = bareHost(host);
  return bare.includes(":") ? `[${bare}]` : bare;
}

const LOOPBACK = new Set(["::1", "localhost", "0:0:0:0:0:0:0:1"]);
export const isLoopback = (host: string): boolean => {
  const bare = bareHost(host).toLowerCase();
  return LOOPBACK.has(bare) || /^(::ffff:)?127\./.test(bare);
};

function under(data: string, value: string, fallback: string): string {
  if (value === "") return join(data, fallback);
  return isAbsolute(value) ? value : resolve(value);
}

export function resolveConfig(config: Config): Resolved {
  const data = resolve(config.data);
  const db = config.database;
  const database: DatabaseConfig =
    db.driver === "sqlite"
      ? { driver: "sqlite", path: under(data, db.path, "gamedock.db") }
      : { driver: db.driver, url: db.url };
  const queues: Record<string, QueueBackendConfig> = {};
  for (const [name, entry] of Object.entries(config.queues)) {
    queues[name] =
      entry.driver === "sqlite"
        ? { driver: "sqlite", path: under(data, entry.path, "queue.db") }
        : entry;
  }
  const targets: Record<string, BlobTargetConfig> = {};
  for (const [name, entry] of Object.entries(config.targets)) {
    targets[name] =
      entry.driver === "fs" ? { ...entry, root: under(data, entry.root, "blobs") } : entry;
  }
  const host = urlHost(config.server.host);
  const p = config.packer;
  return {
    data,
    database,
    queues,
    targets,
    notifiers: config.notifiers,
    packer: {
      workDir: under(data, p.workDir, "work"),
      packagesRoot: under(data, p.packagesRoot, "packages"),
      baseUrl: config.server.publicUrl || `http://${host}:${config.server.port}`,
      defaultQueue: p.queue,
      defaultTarget: p.target,
      v1Style: config.pack.v1Style,
      format: config.pack.format,
      nameTemplate: config.pack.nameTemplate,
      concurrency: p.concurrency,
      retry: p.retry,
      leaseMs: p.leaseMs,
      sweepIntervalMs: p.sweepIntervalMs,
      motherRetentionMs: p.motherRetentionMs,
      limits: p.limits,
      events: p.events,
    },
  };
}
