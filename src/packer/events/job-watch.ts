/**
 * One poll per job, shared by every subscriber of its event stream.
 *
 * A watch reads the job's row every `pollMs` (one query) and, when its
 * `change_seq` moved, only the channels changed since (changed_seq > last)
 * and the per-state counts — so the work per poll follows the changes, not
 * the size of the job or the number of subscribers. Each event is serialized
 * once and written to every subscriber. It wakes early when this process
 * changed the job, and it stops when its last subscriber leaves or the job ends.
 */
import type { SseSubscriber } from "../../core/index.js";
import type { PackerContext } from "../context.js";
import {
  afterChange,
  type ChangeCursor,
  type JobRow,
  type StateCounts,
  type TaskRow,
} from "../store/index.js";
import { channelView, jobSummary } from "../views.js";

/** Changed channels read per query. */
const CHANGES_PAGE = 200;
/** Pages a poll sends at most; more changes go out in the next poll, once clients had time to read. */
const PAGES_PER_POLL = 5;
/** Polls woken by local changes come at most this often, ms. */
const MIN_WAKE_GAP_MS = 100;

/** A subscriber of a job's events (an SSE stream: core's SseSink). */
export type JobSubscriber = SseSubscriber;

export function frame(name: string, data: unknown): string {
  return `event: ${name}\ndata: ${JSON.stringify(data)}\n\n`;
}

/** The `channel` events of a page of changed channels, as one string. */
function channelFrames(rows: readonly TaskRow[]): string {
  return rows.map((row) => frame("channel", channelView(row))).join("");
}

export class JobWatch {
  readonly subscribers = new Set<JobSubscriber>();
  /** Changes up to this position have been sent. */
  #cursor: ChangeCursor = afterChange(0);
  #summary = "";
  #status = "";
  #counts: StateCounts | null = null;
  #timer: NodeJS.Timeout | null = null;
  #polling: Promise<void> | null = null;
  #lastPoll = 0;
  #lastSummary = 0;
  #stopped = false;
  readonly #onChange = (id: string): void => {
    if (id === this.jobId) this.#wake();
  };

  constructor(
    private readonly ctx: PackerContext,
    readonly jobId: string,
    private readonly onStop: () => void,
  ) {}

  /** Reads where the job stands now; false if there is no such job. */
  async start(): Promise<boolean> {
    const job = await this.ctx.store.jobs.get(this.jobId);
    if (!job) return false;
    this.#cursor = afterChange(job.change_seq);
    await this.#refreshSummary(job);
    this.ctx.events.on("job", this.#onChange);
    this.#schedule(this.ctx.settings.events.pollMs);
    return true;
  }

  get stopped(): boolean {
    return this.#stopped;
  }

  get seq(): number {
    return this.#cursor.seq;
  }

  get summaryFrame(): string {
    return this.#summary;
  }

  /**
   * Adds a subscriber. `since` (a seq from GET /:id) first sends it the
   * channels changed after that point; without it, it starts from now.
   */
  async subscribe(subscriber: JobSubscriber, since: number | null): Promise<void> {
    this.subscribers.add(subscriber);
    subscriber.write(this.#summary);
    if (since !== null && since < this.#cursor.seq) {
      let after = afterChange(since);
      for (;;) {
        const rows = await this.ctx.store.jobs.changedSince(this.jobId, after, CHANGES_PAGE);
        if (rows.length > 0) subscriber.write(channelFrames(rows));
        const last = rows.at(-1);
        if (rows.length < CHANGES_PAGE || !last || subscriber.closed) break;
        after = { seq: last.changed_seq, pos: last.seq };
        await subscriber.drained(); // a page at a time: a client that reads keeps up
      }
    }
    if (this.#finished) this.#endAll();
  }

  unsubscribe(subscriber: JobSubscriber): void {
    this.subscribers.delete(subscriber);
    if (this.subscribers.size === 0) this.stop();
  }

  stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.ctx.events.off("job", this.#onChange);
    this.onStop();
  }

  #finished = false;
  /** The last poll left changes unsent. */
  #more = false;

  #schedule(ms: number): void {
    if (this.#stopped) return;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#timer = null;
      void this.#poll();
    }, ms);
    this.#timer.unref();
  }

  #wake(): void {
    if (this.#polling) return;
    const since = Date.now() - this.#lastPoll;
    this.#schedule(Math.max(0, MIN_WAKE_GAP_MS - since));
  }

  #poll(): Promise<void> {
    this.#polling ??= this.#pollOnce()
      .catch((err: unknown) => {
        this.ctx.logger.warn({ event: "sse-poll-failed", jobId: this.jobId, err }, "poll failed");
      })
      .finally(() => {
        this.#polling = null;
        this.#lastPoll = Date.now();
        if (!this.#finished) {
          this.#schedule(this.#more ? MIN_WAKE_GAP_MS : this.ctx.settings.events.pollMs);
        }
      });
    return this.#polling;
  }

  async #pollOnce(): Promise<void> {
    if (this.#stopped || this.ctx.signal.aborted) return;
    const job = await this.ctx.store.jobs.get(this.jobId);
    if (!job) {
      this.#finished = true;
      this.#endAll();
      return;
    }
    if (job.change_seq > this.#cursor.seq || this.#more) {
      let complete = false;
      for (let page = 0; page < PAGES_PER_POLL && !complete; page++) {
        const rows = await this.ctx.store.jobs.changedSince(this.jobId, this.#cursor, CHANGES_PAGE);
        // One string per page, written once per subscriber: a page of changes
        // costs each subscriber one write, not one per channel.
        if (rows.length > 0) this.#broadcast(channelFrames(rows));
        if (page + 1 < PAGES_PER_POLL) await new Promise((r) => setImmediate(r)); // let requests in
        const last = rows.at(-1);
        if (last) this.#cursor = { seq: last.changed_seq, pos: last.seq };
        complete = rows.length < CHANGES_PAGE;
      }
      // More changes wait: the next poll comes soon, after clients had time to read.
      this.#more = !complete;
      if (!complete) return;
      // A bump that stamped no channel (nothing to send) still counts as seen.
      if (job.change_seq > this.#cursor.seq) this.#cursor = afterChange(job.change_seq);
      await this.#refreshSummary(job);
      this.#broadcast(this.#summary);
    } else if (Date.now() - this.#lastSummary >= this.ctx.settings.events.summaryMs) {
      // Nothing changed: the last summary again, as a heartbeat (no query).
      this.#lastSummary = Date.now();
      this.#broadcast(this.#summary);
    }
    if (job.finished_at !== null) {
      this.#finished = true;
      this.#endAll();
    }
  }

  async #refreshSummary(job: JobRow): Promise<void> {
    this.#counts = (await this.ctx.store.jobs.counts([job.id])).get(job.id) ?? this.#counts;
    if (!this.#counts) return;
    this.#summary = frame("summary", jobSummary(job, this.#counts));
    this.#status = job.status;
    this.#lastSummary = Date.now();
    this.#finished = job.finished_at !== null;
  }

  #broadcast(text: string): void {
    for (const subscriber of this.subscribers) subscriber.write(text);
  }

  #endAll(): void {
    const end = frame("end", { id: this.jobId, status: this.#status });
    for (const subscriber of [...this.subscribers]) {
      subscriber.write(end);
      subscriber.end();
    }
    this.subscribers.clear();
    this.stop();
  }
}
