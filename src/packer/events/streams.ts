/**
 * GET /api/v1/pack-jobs/:id/events: a job's progress as server-sent events
 * (docs/packer-api.md, "Events"): a `summary` first and after every change
 * (and as a heartbeat), one `channel` event per changed channel, `end` when
 * the job finishes.
 *
 * Bounded in every direction: one shared poll per job (job-watch.ts), at most
 * `maxSubscribers` open streams per process (503 E_SUBSCRIBERS_LIMIT), and a
 * subscriber that stops reading is dropped once `maxBufferedBytes` wait in its
 * socket — it never makes the server hold more for it.
 */
import type { FastifyReply, FastifyRequest } from "fastify";
import { GamedockError } from "../../core/index.js";
import type { PackerContext } from "../context.js";
import { JobWatch, type JobSubscriber } from "./job-watch.js";

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
    res.writeHead(200, {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-cache",
      connection: "keep-alive",
      "x-accel-buffering": "no", // nginx: do not buffer the stream
    });
    this.#open++;
    let closed = false;
    const subscriber: JobSubscriber = {
      write: (text) => {
        if (closed) return;
        // A client that does not read: drop it rather than buffer for it.
        if (res.writableLength > maxBufferedBytes) {
          this.ctx.logger.warn(
            { event: "sse-dropped", jobId, buffered: res.writableLength },
            "event stream client does not read; dropped",
          );
          res.destroy();
          return;
        }
        res.write(text);
      },
      end: () => {
        if (!closed) res.end();
      },
    };
    const done = (): void => {
      if (closed) return;
      closed = true;
      this.#open--;
      watch.unsubscribe(subscriber);
    };
    // The response closes when the client goes away (or we end it).
    res.on("close", done);
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
