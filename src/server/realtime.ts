/**
 * The realtime runtime as `serve` runs it: the bus from `realtime.bus`, the
 * gateway at /ws on serve's HTTP server, and a logic worker for the default
 * group with the configured handler modules (samples/handlers.js when none
 * are named). Also the token secret that `gamedock token` shares with it.
 */
import { dirname, join, resolve } from "node:path";
import type { FastifyInstance } from "fastify";
import { fileURLToPath } from "node:url";
import { openBus, type Bus } from "../bus/index.js";
import {
  GamedockError,
  newOwnerName,
  type Config,
  type Lifecycle,
  type Logger,
} from "../core/index.js";
import {
  AppGroups,
  Gateway,
  LogicWorker,
  Pusher,
  RealtimeOperations,
  composeHandlers,
  jwksAuthenticator,
  loadHandlerModules,
  registerOperationsRoutes,
  registerPushRoute,
  secretAuthenticator,
  type Authenticator,
} from "../realtime/index.js";
import { openDatabase } from "../db/index.js";
import {
  ChatAdmin,
  Conversations,
  Messages,
  chatHandlerModule,
  registerChatAdminRoutes,
} from "../chat/index.js";
import { fileLookup } from "../files/index.js";
import { guessHandlerModule } from "../guess/index.js";
import { guessServices } from "./guess.js";
import {
  openHandlerServices,
  type OpenedServices,
  type SharedServices,
} from "./handler-services.js";
import { resolveConfig } from "./resolve.js";
import { closeHttpServer, createHttpServer } from "./http.js";
import { listenOn } from "./listen.js";
import { checkExposure } from "./runtime.js";
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
  /**
   * Takes /ws upgrades on the app's server and adds POST /api/v1/push and the
   * operations API; with chat enabled and serve's database, chat's too.
   */
  attach(app: FastifyInstance): void;
  /** Pushes over this runtime's bus (guessing's match changes, settlements, reminders). */
  pusher: Pusher;
  /** Verifies users' connection tokens (also for HTTP routes that act as the user). */
  authenticator: Authenticator;
  /** The live gateways and their status records (the operations API's view). */
  operations: RealtimeOperations;
  /** Closes sockets with 1012, lets handlers in flight reply, closes the bus. */
  close(): Promise<void>;
}

/** What a logic worker runs: its group and handler modules (defaults from realtime.*). */
export interface LogicRoleOptions {
  group?: string;
  handlers?: readonly string[];
  concurrency?: number;
}

const processName = (): string => newOwnerName().replace(/\//g, "-");

const pusherFor = (config: Config, bus: Bus): Pusher =>
  new Pusher(bus, { history: config.realtime.history });

/** POST /api/v1/push and /api/v1/realtime/… on an app, over the bus. */
function registerRoutes(app: FastifyInstance, config: Config, bus: Bus): void {
  const pusher = pusherFor(config, bus);
  registerPushRoute(app, pusher);
  registerOperationsRoutes(app, new RealtimeOperations(bus), new AppGroups(bus, pusher));
}

/** /api/v1/chat/… (support staff) over serve's database, when chat is enabled. */
function registerChatAdmin(app: FastifyInstance, config: Config, shared: SharedServices): void {
  if (!config.chat.enabled || !shared.database) return;
  const { database } = shared;
  const messages = new Messages(
    database,
    new Conversations(database, config.chat.maxGroupMembers),
    shared.files ? fileLookup(shared.files) : undefined,
    config.chat,
  );
  registerChatAdminRoutes(app, new ChatAdmin(database, messages));
}

/** A logic worker with the services its modules declared; closing it closes them. */
interface StartedWorker {
  stop(): Promise<void>;
}

async function startLogicWorker(
  config: Config,
  bus: Bus,
  log: Logger,
  options: LogicRoleOptions,
  shared: SharedServices = {},
): Promise<StartedWorker> {
  const c = config.realtime;
  const paths = options.handlers?.length
    ? options.handlers
    : c.handlers.length
      ? c.handlers
      : [SAMPLE_HANDLERS];
  const loaded = await loadHandlerModules(paths, process.cwd());
  // Guessing's (2000–2999) and chat's (3000–3999) handlers are built in: they run over gamedock's database.
  const builtIn = config.guess.enabled || config.chat.enabled;
  const ownDatabase =
    builtIn && !shared.database ? await openDatabase(resolveConfig(config).database) : null;
  const database = shared.database ?? ownDatabase;
  const modules = [...loaded];
  if (database && config.guess.enabled) {
    modules.push(guessHandlerModule(guessServices(config, database)));
  }
  if (database && config.chat.enabled) modules.push(chatHandlerModule(config, database));
  let services: OpenedServices;
  try {
    composeHandlers(modules); // a configured module that claims 2000–2999 is refused here
    services = await openHandlerServices(config, modules, log, {
      ...shared,
      ...(database ? { database } : {}),
    });
  } catch (err) {
    await ownDatabase?.close();
    throw err;
  }
  const group = options.group ?? c.defaultGroup;
  const pusher = pusherFor(config, bus);
  const worker = new LogicWorker({
    bus,
    group,
    consumer: processName(),
    handlers: composeHandlers(modules, (module) => services.servicesOf(module)),
    concurrency: options.concurrency ?? c.concurrency,
    handlerTimeoutMs: c.handlerTimeoutMs,
    claimIdleMs: c.claimIdleMs,
    presenceTtlMs: c.presenceTtlMs,
    pusher,
    groups: new AppGroups(bus, pusher),
    log: log.child({ group }),
  });
  try {
    await worker.start();
  } catch (err) {
    await services.close();
    await ownDatabase?.close();
    throw err;
  }
  return {
    async stop() {
      await worker.stop();
      await services.close();
      await ownDatabase?.close();
    },
  };
}

async function startGateway(
  config: Config,
  auth: Authenticator,
  bus: Bus,
  log: Logger,
): Promise<Gateway> {
  const c = config.realtime;
  const gateway = new Gateway({
    bus,
    authenticator: auth,
    gatewayId: processName(),
    defaultGroup: c.defaultGroup,
    maxFrameBytes: c.maxFrameBytes,
    path: WS_PATH,
    pusher: pusherFor(config, bus),
    presenceTtlMs: c.presenceTtlMs,
    drainTimeoutMs: c.drainTimeoutMs,
    limits: { ...c.limits, allowedOrigins: c.allowedOrigins },
    log,
  });
  await gateway.start();
  return gateway;
}

/** `serve`: the gateway and a logic worker for the default group, on one bus; handlers share serve's database and files. */
export async function openRealtime(
  config: Config,
  data: string,
  logger: Logger,
  shared: SharedServices = {},
): Promise<RealtimeRuntime> {
  const log = logger.child({ component: "realtime" });
  const bus: Bus = await openBus(config.realtime.bus, { logger: log });
  let gateway: Gateway | null = null;
  let logic: StartedWorker | null = null;
  let auth: Authenticator;
  try {
    logic = await startLogicWorker(config, bus, log, {}, shared);
    auth = await authenticator(config, data, log);
    gateway = await startGateway(config, auth, bus, log);
  } catch (err) {
    await logic?.stop().catch(() => undefined);
    await bus.close();
    throw err;
  }
  const started = gateway;
  const worker = logic;
  return {
    pusher: pusherFor(config, bus),
    authenticator: auth,
    operations: new RealtimeOperations(bus),
    attach(app) {
      started.attach(app.server);
      registerRoutes(app, config, bus);
      registerChatAdmin(app, config, shared);
    },
    async close() {
      await started.stop();
      await worker.stop();
      await bus.close();
    },
  };
}

/** `gamedock gateway` and `gamedock logic` share the bus with other processes: Redis. */
function requireSharedBus(config: Config, command: string): void {
  if (config.realtime.bus.driver !== "redis") {
    throw new GamedockError(
      "E_CONFIG",
      `gamedock ${command} talks to the other processes through the bus: set realtime.bus to { "driver": "redis", "url": "redis://…" } (the memory bus lives inside one process; gamedock serve runs a gateway and a logic worker in one)`,
    );
  }
}

/** `gamedock gateway`: /ws and /healthz on their own, over a Redis bus. */
export async function startGatewayProcess(
  config: Config,
  logger: Logger,
  lifecycle: Lifecycle,
): Promise<{ url: string; close(): Promise<void> }> {
  requireSharedBus(config, "gateway");
  checkExposure(config);
  const log = logger.child({ component: "realtime" });
  const bus = await openBus(config.realtime.bus, { logger: log });
  let gateway: Gateway;
  try {
    gateway = await startGateway(
      config,
      await authenticator(config, resolve(config.data), log),
      bus,
      log,
    );
  } catch (err) {
    await bus.close();
    throw err;
  }
  const app = createHttpServer({
    logger,
    tokens: config.server.tokens,
    bodyLimit: config.server.maxBodyBytes,
  });
  gateway.attach(app.server);
  registerRoutes(app, config, bus);
  let url: string;
  try {
    url = await listenOn(app, config);
  } catch (err) {
    await gateway.stop();
    await bus.close();
    throw err;
  }
  let closing: Promise<void> | null = null;
  const close = (): Promise<void> =>
    (closing ??= (async () => {
      await gateway.stop();
      await closeHttpServer(app);
      await bus.close();
    })());
  lifecycle.onShutdown("gateway", close);
  logger.info({ event: "listening", url }, "gamedock gateway is listening");
  return { url, close };
}

/** `gamedock logic`: one logic worker over a Redis bus; stops after the handlers in flight. */
export async function startLogicProcess(
  config: Config,
  logger: Logger,
  lifecycle: Lifecycle,
  options: LogicRoleOptions,
): Promise<{ group: string; close(): Promise<void> }> {
  requireSharedBus(config, "logic");
  const log = logger.child({ component: "realtime" });
  const bus = await openBus(config.realtime.bus, { logger: log });
  let worker: StartedWorker;
  try {
    worker = await startLogicWorker(config, bus, log, options);
  } catch (err) {
    await bus.close();
    throw err;
  }
  let closing: Promise<void> | null = null;
  const close = (): Promise<void> =>
    (closing ??= (async () => {
      await worker.stop();
      await bus.close();
    })());
  lifecycle.onShutdown("logic", close);
  const group = options.group ?? config.realtime.defaultGroup;
  logger.info({ event: "logic-started", group }, "gamedock logic is handling requests");
  return { group, close };
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
