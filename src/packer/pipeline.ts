/**
 * The running packer: recovery first, then consumers for every stage on every
 * configured queue backend, each with its own concurrency (design note 001's
 * packet_count, retry_packet_count, upload_count, message_count), a lease
 * heartbeat for the tasks this process holds, and the periodic recovery sweep.
 */
import { directoryError, makeDirectory } from "../core/index.js";
import type { Consumer } from "../queue/index.js";
import type { PackerContext } from "./context.js";
import { handleNotify } from "./notify-stage.js";
import { handlePack } from "./pack-stage.js";
import { OWNER } from "./owner.js";
import { recover } from "./recovery.js";
import { sweepComposeLeftovers } from "./target-sweep.js";
import { handleUpload } from "./upload-stage.js";
import { cleanWorkDir, sweepTargets } from "./work-cleanup.js";

export type Stage = "pack" | "upload" | "notify";
export const STAGES: readonly Stage[] = ["pack", "upload", "notify"];

export class PackerPipeline {
  readonly #consumers: Consumer[] = [];
  readonly #timers: NodeJS.Timeout[] = [];
  readonly #running = new Set<Promise<void>>();

  constructor(readonly ctx: PackerContext) {}

  async start(stages: readonly Stage[] = STAGES): Promise<void> {
    const { ctx } = this;
    const { concurrency, leaseMs, sweepIntervalMs } = ctx.settings;
    // Level by level: a work directory that cannot exist fails here, at once.
    await makeDirectory(ctx.settings.workDir, directoryError("work directory (packer.workDir)"));
    await cleanWorkDir(ctx);
    const abandoned = await sweepTargets(ctx);
    if (abandoned > 0) {
      ctx.logger.info(
        { event: "abandoned-temps", removed: abandoned },
        "removed temp files of dead writers",
      );
    }
    // The default target's compose probe now, so its answer (a warning on a no) is in the
    // start-up log; not awaited: a store that does not answer must not hold up the start.
    void ctx.composes(ctx.settings.defaultTarget).catch(() => undefined);
    const counts = await recover(ctx);
    if (counts.uploads + counts.packs + counts.notifications > 0) {
      ctx.logger.info({ event: "recovered", ...counts }, "recovered interrupted work");
    }
    for (const name of ctx.backends.keys()) {
      const queues = ctx.queues(name);
      // Uploads first: recovered uploads were queued first, and their consumers start first.
      if (stages.includes("upload")) {
        this.#consumers.push(
          queues.upload.consume((d) => handleUpload(ctx, d), { concurrency: concurrency.upload }),
        );
      }
      if (stages.includes("notify")) {
        this.#consumers.push(
          queues.notify.consume((d) => handleNotify(ctx, d), { concurrency: concurrency.notify }),
        );
      }
      if (stages.includes("pack")) {
        this.#consumers.push(
          queues.pack.consume((d) => handlePack(ctx, d), { concurrency: concurrency.pack }),
          queues.packRetry.consume((d) => handlePack(ctx, d), {
            concurrency: concurrency.retryPack,
          }),
        );
      }
    }
    this.#every(Math.max(250, Math.floor(leaseMs / 3)), async () => {
      await ctx.store.tasks.renewLeases(OWNER, leaseMs);
    });
    this.#every(sweepIntervalMs, async () => {
      await recover(ctx);
      await cleanWorkDir(ctx);
      await sweepTargets(ctx);
      await sweepComposeLeftovers(ctx);
    });
  }

  /** Runs `work` every `ms`, skipping a tick while the previous run is still going. */
  #every(ms: number, work: () => Promise<void>): void {
    let running: Promise<void> | null = null;
    const timer = setInterval(() => {
      if (running) return;
      running = work()
        .catch((err: unknown) => {
          this.ctx.logger.warn({ event: "background-error", err }, "background task failed");
        })
        .finally(() => {
          this.#running.delete(run);
          running = null;
        });
      const run = running;
      this.#running.add(run);
    }, ms);
    timer.unref();
    this.#timers.push(timer);
  }

  /** Stops taking work and waits for handlers in flight (they hand back what they cannot finish). */
  async stop(): Promise<void> {
    for (const timer of this.#timers) clearInterval(timer);
    await Promise.all(this.#consumers.map((c) => c.close()));
    await Promise.all(this.#running);
  }
}
