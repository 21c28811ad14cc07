/**
 * `gamedock worker`: the packer's stages without HTTP, for more machines.
 * Workers share the database (MySQL/PostgreSQL, or one SQLite file on one
 * machine), the queue backends and the upload targets with `serve`.
 */
import type { Config, Lifecycle, Logger } from "../core/index.js";
import { PackerPipeline, type Stage } from "../packer/index.js";
import { openRuntime } from "./runtime.js";

export async function startWorker(
  config: Config,
  logger: Logger,
  lifecycle: Lifecycle,
  stages: readonly Stage[],
): Promise<{ close(): Promise<void> }> {
  const runtime = await openRuntime(config, logger, lifecycle.signal);
  const pipeline = new PackerPipeline(runtime.ctx);
  try {
    await pipeline.start(stages);
  } catch (err) {
    await runtime.close();
    throw err;
  }
  let closing: Promise<void> | null = null;
  const close = (): Promise<void> =>
    (closing ??= (async () => {
      await pipeline.stop();
      await runtime.close();
    })());
  lifecycle.onShutdown("worker", close);
  logger.info(
    { event: "worker-started", stages, queues: [...runtime.backends.keys()] },
    "gamedock worker is running",
  );
  return { close };
}
