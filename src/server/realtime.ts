/**
 * The realtime runtime as `serve` runs it: the bus from `realtime.bus`, the
 * gateway at /ws on serve's HTTP server, and a logic worker for the default
 * group with the configured handler modules (samples/handlers.js when none
 * are named). Also the token secret that `gamedock token` shares with it.
 */
import { hostname } from "node:os";
import { dirname, join, resolve } from "node:path";
import type { Server } from "node:http";
import { fileURLToPath } from "node:url";
import { openBus, type Bus } from "../bus/index.js";
import { GamedockError, newOwnerName, type Config, type Logger } from "../core/index.js";
import {
  Gateway,
  LogicWorker,
  composeHandlers,
  jwksAuthenticator,
  loadHandlerModules,
  secretAuthenticator,
  type Authenticator,
} from "../realtime/index.js";
import { loadSigningKey } from "./signing-key.js";

/** samples/ at the package root, from src/server or dist/server alike. */
export const SAMPLE_HANDLERS = resolve(
  dirname(fileURLToPath(import.meta.url)),
  "../../samples/handlers.js",
);

export const WS_PATH = "/ws";

/** The HS256 secret: realtime.jwtSecret, else <data>/realtime.key (generated once, mode 0600). */
export async function realtimeSecret(
  config: Config,
  data: string,
  logger: Logger,
): Promise<Uint8Array> {
  if (config.realtime.jwtSecret) return new TextEncoder().encode(config.realtime.jwtSecret);
  return loadSigningKey(join(data, "realtime.key"), logger, {
    purpose: "realtime connection tokens",
    setting: "realtime.jwtSecret",
    event: "realtime-key",
  });
}

async function authenticator(config: Config, data: string, logger: Logger): Promise<Authenticator> {
  if (config.realtime.jwksUrl) return jwksAuthenticator(config.realtime.jwksUrl);
  return secretAuthenticator(await realtimeSecret(config, data, logger));
}

export interface RealtimeRuntime {
  /** Takes /ws upgrades on the server. */
  attach(server: Server): void;
  /** Closes sockets with 1012, lets handlers in flight reply, closes the bus. */
  close(): Promise<void>;
}

export async function openRealtime(
  config: Config,
  data: string,
  logger: Logger,
): Promise<RealtimeRuntime> {
  const c = config.realtime;
  const log = logger.child({ component: "realtime" });
  const paths = c.handlers.length > 0 ? c.handlers : [SAMPLE_HANDLERS];
  const handlers = composeHandlers(await loadHandlerModules(paths, process.cwd()));
  const auth = await authenticator(config, data, logger);
  const bus: Bus = await openBus(c.bus, { logger: log });
  const gateway = new Gateway({
    bus,
    authenticator: auth,
    gatewayId: newOwnerName().replace(/\//g, "-"),
    defaultGroup: c.defaultGroup,
    maxFrameBytes: c.maxFrameBytes,
    path: WS_PATH,
    log,
  });
  const logic = new LogicWorker({
    bus,
    group: c.defaultGroup,
    consumer: `${hostname()}-${process.pid}`,
    handlers,
    concurrency: c.concurrency,
    handlerTimeoutMs: c.handlerTimeoutMs,
    claimIdleMs: c.claimIdleMs,
    log,
  });
  try {
    await gateway.start();
    await logic.start();
  } catch (err) {
    await gateway.stop().catch(() => undefined);
    await bus.close();
    throw err instanceof GamedockError ? err : new GamedockError("E_INTERNAL", String(err));
  }
  return {
    attach(server) {
      gateway.attach(server);
    },
    async close() {
      await gateway.stop();
      await logic.stop();
      await bus.close();
    },
  };
}

/**
 * A connection token signed with the secret serve uses (`gamedock token`):
 * for development and scripts. With realtime.jwksUrl set, tokens come from
 * the identity provider that publishes those keys, not from here.
 */
export async function mintRealtimeToken(
  config: Config,
  logger: Logger,
  claims: { uid: string; group?: string; ttlSeconds: number },
): Promise<string> {
  if (config.realtime.jwksUrl) {
    throw new GamedockError(
      "E_CONFIG",
      "realtime.jwksUrl is set: gateways accept tokens signed by the keys published there, so get one from that identity provider",
    );
  }
  const { mintToken } = await import("../realtime/index.js");
  const data = resolve(config.data);
  return mintToken(await realtimeSecret(config, data, logger), claims);
}
