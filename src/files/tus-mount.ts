/**
 * Builds the tus 1.0 handler (src/files/tus) for a files context. Imported on
 * first use, so a process that never opens the file service never loads
 * @tus/server. Uploads in progress are resumable uploads of ctx.store under tus/.
 */
import type { FilesContext, TusMount } from "./context.js";

export async function openTusMount(ctx: FilesContext): Promise<TusMount> {
  const { createTusHandler } = await import("./tus/index.js");
  const { settings } = ctx;
  return createTusHandler({
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
