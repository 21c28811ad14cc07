/**
 * `gamedock serve`: everything in one process — the HTTP API (packaging jobs,
 * the /files service, the task cluster), the realtime gateway at /ws with a
 * logic worker, the packer's stages consuming every
 * configured queue, and an executor when `cluster.tools` names tools. Shutdown (first SIGINT/SIGTERM): stop accepting requests, let
 * handlers in flight finish or hand their work back (an interrupted upload
 * keeps its multipart upload for the restart), close queues and the database.
 */
import type { Config, Lifecycle, Logger } from "../core/index.js";
import {
  PackerPipeline,
  STAGES,
  queueNotifications,
  registerPackRoutes,
  type Stage,
} from "../packer/index.js";
import { join } from "node:path";
import { localCopyOf, registerFileApiRoutes, registerFileRoutes } from "../files/index.js";
import { openFilesService } from "./files.js";
import { openCluster } from "./cluster.js";
import { openGuess, type GuessRuntime } from "./guess.js";
import { openRealtime } from "./realtime.js";
import { closeHttpServer, createHttpServer } from "./http.js";
import { listenOn } from "./listen.js";
import { registerMetrics } from "./metrics.js";
import { registerSummary } from "./summary.js";
import { registerDashboard } from "../web/index.js";
import { checkExposure, openRuntime } from "./runtime.js";
import { seedPackagesRoot } from "./sample.js";

export interface RunningServer {
  url: string;
  data: string;
  close(): Promise<void>;
}

export async function startServe(
  config: Config,
  logger: Logger,
  lifecycle: Lifecycle,
  stages: readonly Stage[] = STAGES,
): Promise<RunningServer> {
  checkExposure(config);
  const runtime = await openRuntime(config, logger, lifecycle.signal);
  const sample = await seedPackagesRoot(runtime.resolved.packer.packagesRoot);
  if (sample)
    logger.info({ event: "sample", path: sample }, "created the packages root with demo.apk");
  const files = await openFilesService(config, logger, runtime.database).catch(
    async (err: unknown) => {
      await runtime.close();
      throw err;
    },
  );
  // Pack jobs may name their mother by file id: a local copy under the packages root.
  const fileCache = join(runtime.resolved.packer.packagesRoot, ".files");
  runtime.ctx.fileSource = (id) => localCopyOf(files.ctx, id, fileCache);
  runtime.ctx.signingKey = files.ctx.signingKey;
  const app = createHttpServer({
    logger,
    tokens: config.server.tokens,
    bodyLimit: config.server.maxBodyBytes,
  });
  await registerPackRoutes(app, runtime.ctx);
  registerFileRoutes(app, files.ctx, files.mounts);
  registerFileApiRoutes(app, files.ctx);
  const cluster = openCluster(
    config,
    runtime.resolved.data,
    logger,
    runtime.database,
    runtime.backends,
    files.ctx,
    (ids) => queueNotifications(runtime.ctx, ids),
  );
  await cluster.register(app);
  await registerMetrics(app, runtime.ctx.store);
  const pipeline = new PackerPipeline(runtime.ctx);
  let url: string;
  let realtime: Awaited<ReturnType<typeof openRealtime>> | null = null;
  let guess: GuessRuntime | null = null;
  try {
    realtime = await openRealtime(config, runtime.resolved.data, logger, {
      database: runtime.database,
      files: files.ctx,
    });
    realtime.attach(app);
    // /files takes a user's realtime token too (chat uploads; owner "uid:<uid>").
    files.ctx.users = realtime.authenticator;
    registerSummary(app, {
      database: runtime.database,
      queues: runtime.backends,
      files: files.ctx.store,
      filesTarget: config.files.target,
      targets: new Map(
        Object.keys(config.targets).map((name) => [name, () => runtime.ctx.target(name)]),
      ),
      cluster: cluster.service,
      realtime: realtime.operations,
    });
    await registerDashboard(app);
    if (config.guess.enabled) {
      guess = await openGuess(config, runtime.database, logger, realtime, runtime.backends);
      await guess.register(app);
    }
    await pipeline.start(stages);
    url = await listenOn(app, config);
    await cluster.startExecutor(url);
  } catch (err) {
    await realtime?.close().catch(() => undefined);
    await guess?.close().catch(() => undefined);
    await cluster.close().catch(() => undefined);
    await pipeline.stop().catch(() => undefined);
    await app.close().catch(() => undefined);
    await files.close();
    await runtime.close();
    throw err;
  }
  let closing: Promise<void> | null = null;
  const close = (): Promise<void> =>
    (closing ??= (async () => {
      await guess?.close(); // its sweeps push over the realtime bus
      await realtime.close(); // then: its sockets are not the HTTP server's to wait for
      await cluster.close();
      await closeHttpServer(app);
      await pipeline.stop();
      await files.close();
      await runtime.close();
    })());
  lifecycle.onShutdown("serve", close);
  logger.info(
    { event: "listening", url, data: runtime.resolved.data, queues: [...runtime.backends.keys()] },
    "gamedock serve is listening",
  );
  return { url, data: runtime.resolved.data, close };
}
