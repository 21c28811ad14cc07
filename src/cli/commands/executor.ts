/**
 * `gamedock executor`: run tasks of the cluster on this machine (docs/cluster.md).
 * The config file maps tool names to binaries (`cluster.tools`) and names the
 * server's Redis queue; the server's URL and token come from flags.
 */
import type { Command } from "commander";
import { GamedockError } from "../../core/index.js";
import { integerFlag, nonEmptyFlag } from "../flags.js";
import type { ExecutorFlags } from "../../server/executor.js";
import { collect } from "../output.js";
import { configFlags, runUntilSignal, type ProcessOptions } from "./serve.js";

type ExecutorOptions = ProcessOptions & ExecutorFlags;

const UNITS: Record<string, number> = {
  b: 1,
  kb: 1e3,
  kib: 1024,
  mb: 1e6,
  mib: 1024 ** 2,
  gb: 1e9,
  gib: 1024 ** 3,
  tb: 1e12,
  tib: 1024 ** 4,
};

/** "10GB", "512MiB", "1073741824" → bytes (at least 1 MiB). */
export function sizeFlag(flag: string): (value: string) => number {
  return (value) => {
    const match = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(value.trim());
    const unit = UNITS[(match?.[2] || "b").toLowerCase()];
    const bytes = match && unit !== undefined ? Math.floor(Number(match[1]) * unit) : NaN;
    if (!Number.isSafeInteger(bytes) || bytes < 1024 ** 2) {
      throw new GamedockError(
        "E_USAGE",
        `${flag} must be a size of at least 1 MiB, like 10GB, 512MiB or 1073741824, not ${JSON.stringify(value)}`,
      );
    }
    return bytes;
  };
}

export function register(program: Command): void {
  configFlags(
    program
      .command("executor")
      .summary("run cluster tasks on this machine")
      .description(
        "Run tasks of the cluster: register with the server, take the tasks of its pool whose tool the config offers (cluster.tools) from the server's Redis queue, stage their inputs in a size-bounded cache, run each tool in a sandbox, and return the outputs.\n" +
          "The first Ctrl-C stops taking work, gives back what runs and deregisters; a second exits at once.",
      )
      .requiredOption(
        "--server <url>",
        "the gamedock server's URL, e.g. http://10.0.0.5:8080",
        nonEmptyFlag("--server"),
      )
      .option(
        "--token <token>",
        "API token for the server (default: GAMEDOCK_TOKEN, then server.tokens[0])",
      )
      .option("--pool <pool>", "pool to take tasks of (default: cluster.executor.pool, default)")
      .option(
        "--slots <n>",
        "tasks run at once (default: cluster.executor.slots, 2)",
        integerFlag("--slots", 1, 256),
      )
      .option(
        "--cache <dir>",
        "staging cache directory (default: cluster.executor.cacheDir, <data>/cluster-cache)",
      )
      .option(
        "--cache-max <size>",
        "staging cache bound, e.g. 10GB (default: cluster.executor.cacheMaxBytes)",
        sizeFlag("--cache-max"),
      )
      .option(
        "--id <id>",
        "executor id (default: host name and a hash of the cache directory, stable across restarts)",
      )
      .option(
        "--label <key=value>",
        "a label shown in GET /api/v1/executors (repeatable)",
        collect,
        [],
      ),
  ).action(async (opts: ExecutorOptions) => {
    await runUntilSignal(opts, async (config, lifecycle, logger) => {
      const { startExecutor } = await import("../../server/executor.js");
      const started = await startExecutor(config, opts, logger, lifecycle);
      return `gamedock executor ${started.id}: running ${started.tools.join(", ")} for ${opts.server} (Ctrl-C stops)`;
    });
  });
}
