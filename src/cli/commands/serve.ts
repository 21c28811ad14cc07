/**
 * `gamedock serve` and `gamedock worker`: long-running processes. Flags
 * override the config file and GAMEDOCK_* variables; logs are JSON lines on
 * stderr (or --log-file); the first SIGINT/SIGTERM shuts down gracefully, a
 * second one exits at once.
 */
import { Option, type Command } from "commander";
import {
  DEFAULTS,
  GamedockError,
  Lifecycle,
  createLogger,
  loadConfig,
  type Config,
  type Logger,
} from "../../core/index.js";
import { hostFlag, nonEmptyFlag, portFlag } from "../flags.js";

// The packer's stage names (src/packer/pipeline.ts), listed here so that the CLI
// does not load the packer (and zod, kysely, fastify) for commands like `pack`.
const STAGES = ["pack", "upload", "notify"] as const;
type Stage = (typeof STAGES)[number];

const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"];

export interface ProcessOptions {
  config?: string;
  host?: string;
  port?: number;
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
      throw new GamedockError(
        "E_USAGE",
        `--stages takes ${STAGES.join(",")} (any of them, comma-separated) or none, not ${JSON.stringify(stage)}`,
      );
    }
  }
  return stages as Stage[];
}

/**
 * Flags go through the same schema as the file and the environment. They
 * were checked when parsed (flags.ts), so a config error is about the file
 * or the environment, as its message says.
 */
export async function effectiveConfig(opts: ProcessOptions): Promise<Config> {
  const env: NodeJS.ProcessEnv = { ...process.env };
  if (opts.host !== undefined) env.GAMEDOCK_SERVER_HOST = opts.host;
  if (opts.port !== undefined) env.GAMEDOCK_SERVER_PORT = String(opts.port);
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

/** --config, --data and the log flags: every process command takes them. */
export function configFlags(command: Command): Command {
  return command
    .option("--config <file>", "JSON config file (see docs/configuration.md)")
    .option(
      "--data <dir>",
      `directory for embedded state: SQLite, blobs, packages (default: data, ${DEFAULTS.data})`,
      nonEmptyFlag("--data"),
    )
    .option("--log-file <file>", "append JSON log lines to this file instead of stderr")
    .addOption(
      new Option(
        "--log-level <level>",
        "least severe log level written (default: log.level, info)",
      ).choices(LOG_LEVELS),
    );
}

/** --host and --port, for the commands that listen. */
export function listenFlags(command: Command): Command {
  const { host, port } = DEFAULTS.server;
  return command
    .option(
      "--host <host>",
      `address to bind; any but loopback needs server.tokens (default: server.host, ${host})`,
      hostFlag,
    )
    .option(
      "--port <port>",
      `TCP port, 0 picks a free one (default: server.port, ${port})`,
      portFlag,
    );
}

function stagesOption(description: string): Option {
  return new Option("--stages <list>", description)
    .argParser(stageList)
    .default([...STAGES], STAGES.join(","));
}

export function register(program: Command): void {
  configFlags(
    listenFlags(
      program
        .command("serve")
        .summary("run the API, /files and packaging in one process")
        .description(
          "Run everything in one process: the packaging API (/api/v1/pack-jobs), the file service (/files), /healthz and /metrics, and the packaging stages on every configured queue.\n" +
            `With no config it runs on embedded defaults: SQLite and blobs under --data, in-process workers, http://${DEFAULTS.server.host}:${DEFAULTS.server.port}. Mother APKs go under <data>/packages.\n` +
            "Flags override the config file and GAMEDOCK_* variables. The first Ctrl-C shuts down gracefully; a second exits at once.",
        ),
    ).addOption(
      stagesOption(
        "packaging stages this process runs: any of pack,upload,notify, or none for an API-only server whose work `gamedock worker` processes do",
      ),
    ),
  ).action(async (opts: ProcessOptions) => {
    await runUntilSignal(opts, async (config, lifecycle, logger) => {
      const { startServe } = await import("../../server/index.js");
      const server = await startServe(config, logger, lifecycle, opts.stages ?? [...STAGES]);
      return `gamedock serve: listening on ${server.url} (data: ${server.data}; Ctrl-C stops)`;
    });
  });

  configFlags(
    program
      .command("worker")
      .summary("run the packaging stages without HTTP, to add machines")
      .description(
        "Run the packaging stages without HTTP, to add machines.\n" +
          "A worker shares the database, the queues and the upload targets of its config with `gamedock serve`: the same SQLite files on one machine; MySQL or PostgreSQL and Redis or RabbitMQ across machines.",
      )
      .addOption(stagesOption("packaging stages this process runs: any of pack,upload,notify")),
  ).action(async (opts: ProcessOptions) => {
    await runUntilSignal(opts, async (config, lifecycle, logger) => {
      const { startWorker } = await import("../../server/index.js");
      const stages = opts.stages ?? [...STAGES];
      await startWorker(config, logger, lifecycle, stages);
      return `gamedock worker: running stages ${stages.join(",")} (Ctrl-C stops)`;
    });
  });
}
