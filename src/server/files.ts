/**
 * The file service as processes run it: openFilesService builds its context
 * from the configuration (database, the `files.target` store, the signing
 * key), mounts the tus handler and starts the sweeper; startFiles is
 * `gamedock files` — the /files routes and /healthz alone, for running several
 * instances behind nginx. `gamedock serve` mounts the same service.
 */
import { join } from "node:path";
import { openBlobStore, type BlobStore } from "../blob/index.js";
import {
  GamedockError,
  type Clock,
  type Config,
  type Lifecycle,
  type Logger,
} from "../core/index.js";
import { openDatabase, type Database } from "../db/index.js";
import {
  registerFileRoutes,
  SqlFileMetadata,
  openTusMount,
  startSweeper,
  type FileMounts,
  type FilesContext,
  type FilesSettings,
} from "../files/index.js";
import { closeHttpServer, createHttpServer } from "./http.js";
import { listenOn } from "./listen.js";
import { resolveConfig } from "./resolve.js";
import { checkExposure } from "./runtime.js";
import { loadSigningKey } from "./signing-key.js";

export interface FilesService {
  ctx: FilesContext;
  mounts: FileMounts;
  /** Stops the sweeper and tus, closes the store (and the database if this service opened it). */
  close(): Promise<void>;
}

function settingsOf(config: Config): FilesSettings {
  const f = config.files;
  return {
    maxUploadBytes: f.maxUploadBytes,
    quotaBytes: f.quotaBytes,
    fileTtlSeconds: f.fileTtlSeconds,
    uploadTtlSeconds: f.uploadTtlSeconds,
    signedUrlTtlSeconds: f.signedUrlTtlSeconds,
    sweepIntervalMs: f.sweepIntervalMs,
    lockRedisUrl: f.lockRedisUrl,
    lockPrefix: f.lockPrefix,
  };
}

export interface FilesServiceOptions {
  /** What expiry and signed URLs measure time by (tests pass a ManualClock); default the system's. */
  clock?: Clock;
}

/** `database`: share the caller's (serve's); without it the service opens and closes its own. */
export async function openFilesService(
  config: Config,
  logger: Logger,
  database?: Database,
  options: FilesServiceOptions = {},
): Promise<FilesService> {
  const resolved = resolveConfig(config);
  const target = resolved.targets[config.files.target];
  if (!target) {
    throw new GamedockError(
      "E_CONFIG",
      `files.target ${JSON.stringify(config.files.target)} is not one of targets: ${Object.keys(resolved.targets).join(", ")}`,
      { field: "files.target" },
    );
  }
  const log = logger.child({ component: "files" });
  const signingKey = config.files.signingSecret
    ? Buffer.from(config.files.signingSecret, "utf8")
    : await loadSigningKey(join(resolved.data, "signing.key"), log);
  const db = database ?? (await openDatabase(resolved.database));
  let store: BlobStore | null = null;
  try {
    store = await openBlobStore(target);
    const ctx: FilesContext = {
      metadata: new SqlFileMetadata(db),
      store,
      settings: settingsOf(config),
      signingKey,
      tokens: config.server.tokens,
      logger: log,
      ...(options.clock ? { clock: options.clock } : {}),
    };
    // The tus handler (resumable uploads) plugs in here; its sweep hook joins the sweeper's.
    const tus = await openTusMount(ctx);
    const sweepUploads = tus.sweepExpired?.bind(tus);
    const sweeper = startSweeper(ctx, sweepUploads ? { sweepUploads } : {});
    const opened = store;
    return {
      ctx,
      mounts: { tus },
      async close() {
        await sweeper.stop();
        await tus.close?.();
        await opened.close();
        if (!database) await db.close();
      },
    };
  } catch (err) {
    await store?.close();
    if (!database) await db.close();
    throw err;
  }
}

export interface RunningFiles {
  url: string;
  data: string;
  close(): Promise<void>;
}

/** `gamedock files`: the file service routes and /healthz, nothing else. */
export async function startFiles(
  config: Config,
  logger: Logger,
  lifecycle: Lifecycle,
  options: FilesServiceOptions = {},
): Promise<RunningFiles> {
  checkExposure(config);
  const service = await openFilesService(config, logger, undefined, options);
  const app = createHttpServer({
    logger,
    tokens: config.server.tokens,
    bodyLimit: config.server.maxBodyBytes,
  });
  registerFileRoutes(app, service.ctx, service.mounts);
  let url: string;
  try {
    url = await listenOn(app, config);
  } catch (err) {
    await app.close().catch(() => undefined);
    await service.close();
    throw err;
  }
  let closing: Promise<void> | null = null;
  const close = (): Promise<void> =>
    (closing ??= (async () => {
      await closeHttpServer(app);
      await service.close();
    })());
  lifecycle.onShutdown("files", close);
  const data = resolveConfig(config).data;
  logger.info({ event: "listening", url, data }, "gamedock files is listening");
  return { url, data, close };
}
