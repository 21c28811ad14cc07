/**
 * `gamedock doctor`: the effective configuration checked against everything
 * it names — the directories, the database, every queue backend, every upload
 * target, the tus lock Redis, every notifier, the cluster's queue and tools —
 * and Debian's Android tools.
 * Checks run at once, each against its own deadline, and come back in a
 * fixed order. Nothing is changed except a probe object in each target (and
 * a probe file in each directory), removed again.
 */
import type { Config, Logger } from "../../core/index.js";
import { isLoopback, resolveConfig } from "../resolve.js";
import { fail, pass, runProbe, type Check } from "./check.js";
import { checkClusterQueue, checkClusterTool } from "./cluster.js";
import { checkDatabase } from "./database.js";
import { checkNotifier, checkQueue, checkRedis } from "./engines.js";
import { writableDir } from "./paths.js";
import { checkTarget } from "./targets.js";
import { TOOLS, checkTool } from "./tools.js";

export type { Check } from "./check.js";

export interface DoctorOptions {
  /** Longest wait for one probe, ms. */
  timeoutMs: number;
  /** Where the config came from, for the first line ("defaults", "gamedock.json"). */
  source: string;
  /** Drivers log connection trouble here; doctor reports it in its checks instead. */
  logger: Logger;
}

/** References between config sections that serve would refuse at start. */
function checkReferences(config: Config, source: string): Check {
  const problems: { detail: string; fix: string }[] = [];
  const queues = Object.keys(config.queues);
  const targets = Object.keys(config.targets);
  if (!queues.includes(config.packer.queue))
    problems.push({
      detail: `packer.queue ${JSON.stringify(config.packer.queue)} is not one of queues (${queues.join(", ") || "none"})`,
      fix: "set packer.queue to a configured queue, or configure that queue",
    });
  for (const key of ["packer", "files"] as const) {
    if (!targets.includes(config[key].target))
      problems.push({
        detail: `${key}.target ${JSON.stringify(config[key].target)} is not one of targets (${targets.join(", ") || "none"})`,
        fix: `set ${key}.target to a configured target, or configure that target`,
      });
  }
  if (!isLoopback(config.server.host) && config.server.tokens.length === 0)
    problems.push({
      detail: `server.host ${config.server.host} is not a loopback address and server.tokens is empty`,
      fix: "set server.tokens (or GAMEDOCK_SERVER_TOKENS), or bind to 127.0.0.1",
    });
  if (problems.length === 0) return pass("config", source);
  return fail(
    "config",
    `${source}: ${problems.map((p) => p.detail).join("; ")}`,
    problems.map((p) => p.fix).join("; "),
  );
}

function checkDirectory(key: string, dir: string, timeoutMs: number): Promise<Check> {
  return runProbe(
    key,
    timeoutMs,
    async () => {
      const state = await writableDir(dir);
      return pass(key, state.exists ? `${dir} is writable` : `${dir} (created at the first start)`);
    },
    () =>
      `make ${dir} writable for this user, or set ${key}${key === "data" ? " (or --data)" : ""}`,
  );
}

export async function runDoctor(config: Config, options: DoctorOptions): Promise<Check[]> {
  const { timeoutMs, logger } = options;
  const resolved = resolveConfig(config);
  const directories = new Map<string, string>([
    [resolved.data, "data"],
    [resolved.packer.workDir, "packer.workDir"],
    [resolved.packer.packagesRoot, "packer.packagesRoot"],
  ]);
  const probes: Promise<Check>[] = [
    Promise.resolve(checkReferences(config, options.source)),
    ...[...directories].map(([dir, key]) => checkDirectory(key, dir, timeoutMs)),
    checkDatabase(resolved.database, timeoutMs),
    ...Object.entries(resolved.queues).map(([name, queue]) =>
      checkQueue(name, queue, timeoutMs, logger),
    ),
    ...Object.entries(resolved.targets).map(([name, target]) =>
      checkTarget(name, target, timeoutMs),
    ),
  ];
  if (config.files.lockRedisUrl !== "")
    probes.push(checkRedis("files.lockRedisUrl", config.files.lockRedisUrl, timeoutMs));
  probes.push(
    ...Object.entries(resolved.notifiers).map(([name, sink]) =>
      checkNotifier(name, sink, timeoutMs),
    ),
    ...TOOLS.map(checkTool),
    Promise.resolve(checkClusterQueue(config)),
    ...Object.entries(config.cluster.tools).map(([name, path]) => checkClusterTool(name, path)),
  );
  return Promise.all(probes);
}
