/**
 * Builds the tus 1.0 handler (src/files/tus) for a files context. Imported on
 * first use, so a process that never opens the file service never loads
 * @tus/server.
 */
import type { BlobTargetConfig } from "../blob/index.js";
import type { FilesContext, TusMount } from "./context.js";

/** `target`: the config of ctx.store (tus keeps uploads in progress in it, under tus/). */
export async function openTusMount(ctx: FilesContext, target: BlobTargetConfig): Promise<TusMount> {
  const { createTusHandler } = await import("./tus/index.js");
  const { settings } = ctx;
  return createTusHandler({
    target,
    store: ctx.store,
    metadata: ctx.metadata,
    limits: { maxUploadBytes: settings.maxUploadBytes, quotaBytes: settings.quotaBytes },
    uploadTtlSeconds: settings.uploadTtlSeconds,
    fileTtlSeconds: settings.fileTtlSeconds,
    lockRedisUrl: settings.lockRedisUrl,
    lockPrefix: settings.lockPrefix,
    logger: ctx.logger,
    ...(ctx.clock ? { clock: ctx.clock } : {}),
  });
}
