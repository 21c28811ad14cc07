/**
 * The four servers bench:realtime compares, each as the processes a user
 * would run, all started with the `gamedock` binary's node flags:
 *
 *   echo    bench/realtime-echo.ts — a raw ws echo server (baseline)
 *   relay   bench/realtime-relay.ts gateway + worker — the minimal
 *           ws ↔ Redis Streams relay (baseline)
 *   memory  `gamedock serve --stages none`: gateway and logic worker in one
 *           process on the memory bus, samples/handlers.js (1001 = echo)
 *   redis   `gamedock gateway` + `gamedock logic`, Redis bus, a unique prefix
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { binaryNodeFlags } from "./binary-flags.js";
import { ROOT, TSX, startNode, type Proc } from "./realtime-procs.js";

export type ServerKey = "echo" | "relay" | "memory" | "redis";

export const SERVER_NAMES: Record<ServerKey, string> = {
  echo: "raw ws echo",
  relay: "minimal ws ↔ Redis Streams relay",
  memory: "gamedock serve, memory bus",
  redis: "gamedock gateway + logic, Redis bus",
};

export interface ServerUnderTest {
  key: ServerKey;
  /** ws://…/ws */
  url: string;
  /** The processes whose CPU and RSS are the server's; the first takes the connections. */
  procs: Proc[];
  /** HS256 secret the load generator mints tokens with; null: the server takes no token. */
  secret: string | null;
  /** gamedock greets each authenticated socket (msgId 1). */
  awaitWelcome: boolean;
  /** The gamedock config file, for the report. */
  configFile: string | null;
  close(): Promise<void>;
}

export interface ServerContext {
  dir: string;
  redisUrl: string;
  prefix: string;
  /** Node arguments that run the gamedock CLI, without flags (each process adds its role's). */
  cli: readonly string[];
  /** realtime.limits the run needs (printed; defaults where they suffice). */
  limits: { maxConnections: number; ratePerSecond: number; rateBurst: number };
  needFiles: number;
  /** More realtime.* settings, for experiments (BENCH_REALTIME); {} in a normal run. */
  realtimeExtra: Record<string, unknown>;
}

export interface StartOptions {
  /** Only the connection-taking process (no logic worker, no relay worker): for idle RSS. */
  gatewayOnly?: boolean;
  /**
   * --inspect=127.0.0.1:0 on the connection-taking process ("front": a GC
   * before reading RSS) or on every process ("all": CPU profiles).
   */
  inspect?: "front" | "all";
}

export const SECRET = "bench-realtime-secret-0123456789abcdef";
const LISTENING = /listening on (http:\/\/\S+)/;

function nodeFlags(options: StartOptions, front: boolean): string[] {
  const inspect = options.inspect === "all" || (front && options.inspect === "front");
  return inspect ? ["--inspect=127.0.0.1:0"] : [];
}

function wsUrl(http: string): string {
  return `${http.replace(/^http/, "ws")}/ws`;
}

function gamedockConfig(ctx: ServerContext, key: "memory" | "redis"): string {
  const file = join(ctx.dir, `${key}.json`);
  const config = {
    data: join(ctx.dir, `data-${key}`),
    log: { level: "info", file: join(ctx.dir, `${key}.log`) },
    server: { port: 0 },
    realtime: {
      ...(key === "redis"
        ? { bus: { driver: "redis", url: ctx.redisUrl, prefix: `${ctx.prefix}-gd` } }
        : {}),
      jwtSecret: SECRET,
      // The private compiled copy has no samples/: name the module (1001 is echo).
      handlers: [join(ROOT, "samples/handlers.js")],
      limits: ctx.limits,
      ...ctx.realtimeExtra,
    },
  };
  writeFileSync(file, JSON.stringify(config, null, 2));
  return file;
}

export async function startServer(
  key: ServerKey,
  ctx: ServerContext,
  options: StartOptions = {},
): Promise<ServerUnderTest> {
  const procs: Proc[] = [];
  const base = { key, secret: null, awaitWelcome: false, configFile: null };
  const close = async (): Promise<void> => {
    for (const proc of [...procs].reverse()) await proc.stop();
  };
  /** `role`: whose flags of the binary it runs with (a baseline takes those of the role it stands for). */
  const start = async (
    name: string,
    role: string,
    args: string[],
    ready: RegExp,
    front: boolean,
  ) => {
    const proc = await startNode(
      name,
      [...binaryNodeFlags(role), ...nodeFlags(options, front), ...args],
      ready,
      { needFiles: ctx.needFiles },
    );
    procs.push(proc);
    return proc;
  };
  try {
    if (key === "echo") {
      const echo = await start(
        "raw ws echo",
        "gateway",
        [...TSX, join(ROOT, "bench/realtime-echo.ts")],
        LISTENING,
        true,
      );
      return { ...base, url: wsUrl(echo.match[1]!), procs, close };
    }
    if (key === "relay") {
      const relay = [...TSX, join(ROOT, "bench/realtime-relay.ts")];
      const redis = [ctx.redisUrl, `${ctx.prefix}-relay`];
      const gateway = await start(
        "relay gateway",
        "gateway",
        [...relay, "gateway", ...redis],
        LISTENING,
        true,
      );
      if (!options.gatewayOnly)
        await start("relay worker", "logic", [...relay, "worker", ...redis], /ready/, false);
      return { ...base, url: wsUrl(gateway.match[1]!), procs, close };
    }
    const configFile = gamedockConfig(ctx, key);
    const gamedock = { ...base, secret: SECRET, awaitWelcome: true, configFile };
    if (key === "memory") {
      const serve = await start(
        "gamedock serve",
        "serve",
        [...ctx.cli, "serve", "--config", configFile, "--stages", "none"],
        LISTENING,
        true,
      );
      return { ...gamedock, url: wsUrl(serve.match[1]!), procs, close };
    }
    const gateway = await start(
      "gamedock gateway",
      "gateway",
      [...ctx.cli, "gateway", "--config", configFile],
      LISTENING,
      true,
    );
    if (!options.gatewayOnly)
      await start(
        "gamedock logic",
        "logic",
        [...ctx.cli, "logic", "--config", configFile],
        /handling/,
        false,
      );
    return { ...gamedock, url: wsUrl(gateway.match[1]!), procs, close };
  } catch (err) {
    await close();
    throw err;
  }
}
