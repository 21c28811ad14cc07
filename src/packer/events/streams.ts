/**
 * GET /api/v1/pack-jobs/:id/events: a job's progress as server-sent events
 * (docs/packer-api.md, "Events"): a `summary` first and after every change
 * (and as a heartbeat), one `channel` event per changed channel, `end` when
 * the job finishes.
 *
 * Bounded in every direction: one shared poll per job (job-watch.ts), at most
 * `maxSubscribers` open streams per process (503 E_SUBSCRIBERS_LIMIT), and a
 * subscriber that stops reading is dropped once `maxBufferedBytes` wait for it
 * (core/sse-sink.ts) — it never makes the server hold more for it.
 */
import type { FastifyReply, FastifyRequest } from "fastify";
import { GamedockError, SseSink, writeSseHead } from "../../core/index.js";
import type { PackerContext } from "../context.js";
import { JobWatch } from "./job-watch.js";

export class JobStreams {
  readonly #watches = new Map<string, Promise<JobWatch | null>>();
  #open = 0;

  constructor(private readonly ctx: PackerContext) {}

  /** Open streams in this process (for tests and metrics). */
  get openStreams(): number {
    return this.#open;
  }

  async serve(
    jobId: string,
    since: number | null,
    _request: FastifyRequest,
    reply: FastifyReply,
  ): Promise<void> {
    const { maxSubscribers, maxBufferedBytes } = this.ctx.settings.events;
    if (this.#open >= maxSubscribers) {
      throw new GamedockError(
        "E_SUBSCRIBERS_LIMIT",
        `this server already streams events to ${maxSubscribers} clients (packer.events.maxSubscribers); poll GET /api/v1/pack-jobs/${jobId} or retry later`,
        { limit: maxSubscribers },
      );
    }
    let watch = await this.#watch(jobId);
    // Its last subscriber may have just left and stopped it: start a fresh one.
    if (watch?.stopped) {
      this.#watches.delete(jobId);
      watch = await this.#watch(jobId);
    }
    if (!watch) {
      throw new GamedockError("E_JOB_NOT_FOUND", `no pack job with id ${JSON.stringify(jobId)}`, {
        id: jobId,
      });
    }
    reply.hijack();
    const res = reply.raw;
    writeSseHead(res);
    this.#open++;
    // A client that reads keeps up with a page of changes in far less than this.
    const drainTimeoutMs = Math.max(5000, this.ctx.settings.events.pollMs * 10);
    const subscriber = new SseSink(res, maxBufferedBytes, drainTimeoutMs, (dropped) => {
      this.#open--;
      watch.unsubscribe(subscriber);
      if (dropped) {
        this.ctx.logger.warn(
          { event: "sse-dropped", jobId, limit: maxBufferedBytes },
          "event stream client does not read; dropped",
        );
      }
    });
    await watch.subscribe(subscriber, since);
  }

  /** The job's watch, started on first use; null when the job does not exist. */
  #watch(jobId: string): Promise<JobWatch | null> {
    let entry = this.#watches.get(jobId);
    if (!entry) {
      const watch: JobWatch = new JobWatch(this.ctx, jobId, () => {
        if (this.#watches.get(jobId) === entry) this.#watches.delete(jobId);
      });
      entry = watch.start().then((found) => (found ? watch : null));
      this.#watches.set(jobId, entry);
      const started = entry;
      void started.then(
        (found) => {
          if (!found && this.#watches.get(jobId) === started) this.#watches.delete(jobId);
        },
        () => {
          if (this.#watches.get(jobId) === started) this.#watches.delete(jobId);
        },
      );
    }
    return entry;
  }
}
