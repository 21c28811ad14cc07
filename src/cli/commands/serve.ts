/**
 * `gamedock serve` and `gamedock worker`: long-running processes. Flags
 * override the config file and GAMEDOCK_* variables; logs are JSON lines on
 * stderr (or --log-file); the first SIGINT/SIGTERM shuts down gracefully, a
 * second one exits at once.
 */
import { InvalidArgumentError, type Command } from "commander";
import { Lifecycle, createLogger, loadConfig, type Config, type Logger } from "../../core/index.js";

// The packer's stage names (src/packer/pipeline.ts), listed here so that the CLI
// does not load the packer (and zod, kysely, fastify) for commands like `pack`.
const STAGES = ["pack", "upload", "notify"] as const;
type Stage = (typeof STAGES)[number];

export interface ProcessOptions {
  config?: string;
  host?: string;
  port?: string;
  data?: string;
  logFile?: string;
  logLevel?: string;
  stages?: Stage[];
}

function stageList(value: string): Stage[] {
  if (value.trim() === "none") return [];
  const stages = value.split(",").map((s) => s.trim());
  for (const stage of stages) {
    if (!(STAGES as readonly string[]).includes(stage)) {
      throw new InvalidArgumentError(
        `unknown stage ${JSON.stringify(stage)}; use ${STAGES.join(",")}`,
      );
    }
  }
  return stages as Stage[];
}

/** Flags go through the same schema as the file and the environment. */
async function effectiveConfig(opts: ProcessOptions): Promise<Config> {
  const env: NodeJS.ProcessEnv = { ...process.env };
  if (opts.host !== undefined) env.GAMEDOCK_SERVER_HOST = opts.host;
  if (opts.port !== undefined) env.GAMEDOCK_SERVER_PORT = opts.port;
  if (opts.data !== undefined) env.GAMEDOCK_DATA = opts.data;
  if (opts.logFile !== undefined) env.GAMEDOCK_LOG_FILE = opts.logFile;
  if (opts.logLevel !== undefined) env.GAMEDOCK_LOG_LEVEL = opts.logLevel;
  return loadConfig({ file: opts.config, env });
}

export async function runUntilSignal(
  opts: ProcessOptions,
  start: (config: Config, lifecycle: Lifecycle, logger: Logger) => Promise<string>,
): Promise<void> {
  const config = await effectiveConfig(opts);
  const logger = await createLogger({ level: config.log.level, file: config.log.file || null });
  const lifecycle = new Lifecycle();
  lifecycle.install((signal) => {
    logger.info({ event: "shutdown", signal }, "shutting down (again to exit at once)");
    process.stderr.write(`gamedock: ${signal}: shutting down gracefully (again to exit at once)\n`);
  });
  const banner = await start(config, lifecycle, logger);
  process.stdout.write(`${banner}\n`);
  await new Promise<void>((resolve) => {
    lifecycle.signal.addEventListener("abort", () => {
      resolve();
    });
  });
  await lifecycle.shutdown();
  logger.info({ event: "stopped" }, "stopped");
  logger.flush();
  // A client library that keeps a socket open must not keep a stopped server alive.
  setTimeout(() => process.exit(process.exitCode ?? 0), 2000).unref();
}

export const common = (command: Command): Command =>
  command
    .option("--config <file>", "JSON config file (see docs/configuration.md)")
    .option("--data <dir>", "directory for embedded state: SQLite, blobs, packages", undefined)
    .option("--log-file <file>", "append JSON log lines here instead of stderr")
    .option("--log-level <level>", "fatal, error, warn, info, debug, trace or silent");

export function register(program: Command): void {
  common(
    program
      .command("serve")
      .description(
        "run everything in one process: the HTTP API (/api/v1/pack-jobs, /healthz, /metrics) and the\n" +
          "packaging stages on every configured queue. With no config: SQLite and blobs under --data,\n" +
          "in-process workers, http://127.0.0.1:8080. Mothers must be under <data>/packages.",
      )
      .option("--host <host>", "address to bind; anything but loopback needs server.tokens")
      .option("--port <port>", "TCP port (0 picks a free one)")
      .option(
        "--stages <list>",
        "packaging stages this process runs: pack,upload,notify, or none for an API-only server\n" +
          "whose work is done by `gamedock worker` processes",
        stageList,
        [...STAGES],
      ),
  ).action(async (opts: ProcessOptions) => {
    await runUntilSignal(opts, async (config, lifecycle, logger) => {
      const { startServe } = await import("../../server/index.js");
      const server = await startServe(config, logger, lifecycle, opts.stages ?? [...STAGES]);
      return `gamedock serve: listening on ${server.url} (data: ${server.data}; Ctrl-C stops)`;
    });
  });

  common(
    program
      .command("worker")
      .description(
        "run the packaging stages without HTTP, to add machines: shares the database, queues and\n" +
          "upload targets of the config with `gamedock serve`",
      )
      .option("--stages <list>", "stages to run: pack,upload,notify", stageList, [...STAGES]),
  ).action(async (opts: ProcessOptions) => {
    await runUntilSignal(opts, async (config, lifecycle, logger) => {
      const { startWorker } = await import("../../server/index.js");
      const stages = opts.stages ?? [...STAGES];
      await startWorker(config, logger, lifecycle, stages);
      return `gamedock worker: running stages ${stages.join(",")} (Ctrl-C stops)`;
    });
  });
}
