/**
 * sha256 and md5 of uploads on two worker threads, one per algorithm, off
 * the event loop: on this machine's CPU the two digests of 1 GiB cost about
 * 1.7 s on one core, which the main thread spent between reading the
 * socket and writing the disk (docs/benchmarks.md, "Uploads"). Each upload
 * is a job; its bytes go to each worker copied into one of that worker's
 * reused buffers, moved (transferred) there and back: no allocation per
 * batch, and at most MAX_IN_FLIGHT buffers per worker, so memory stays flat
 * however fast the client sends. (SharedArrayBuffers were tried first: the
 * workers' heaps hardly grow, so they rarely collect, and the shared memory
 * they had hashed piled up to the size of the upload.) The workers are made
 * on first use, shared by every upload of the process, and unref'd so they
 * never keep it alive.
 */
import { Worker } from "node:worker_threads";

/** The worker's code (CommonJS, evaluated: no file to resolve under tsx or in dist). */
const WORKER_SOURCE = `
const { parentPort, workerData } = require("node:worker_threads");
const { createHash } = require("node:crypto");
const jobs = new Map();
parentPort.on("message", (m) => {
  if (m.type === "data") {
    let hash = jobs.get(m.job);
    if (!hash) jobs.set(m.job, (hash = createHash(workerData.algorithm)));
    hash.update(new Uint8Array(m.bytes, 0, m.length));
    parentPort.postMessage({ type: "ack", job: m.job, bytes: m.bytes }, [m.bytes]);
  } else if (m.type === "end") {
    const hash = jobs.get(m.job) ?? createHash(workerData.algorithm);
    jobs.delete(m.job);
    parentPort.postMessage({ type: "digest", job: m.job, hex: hash.digest("hex") });
  } else if (m.type === "drop") {
    jobs.delete(m.job);
  }
});
`;

type Algorithm = "sha256" | "md5";
const ALGORITHMS: readonly Algorithm[] = ["sha256", "md5"];

/** Buffers a worker holds at once, each BATCH_BYTES: bounds the memory of every upload together. */
const MAX_IN_FLIGHT = 4;
/** A batch buffer's size: what one update may carry at most. */
export const BATCH_BYTES = 2 * 1024 * 1024;

interface JobState {
  digest: ((hex: string) => void) | null;
  fail: ((err: Error) => void) | null;
}

class HashWorker {
  private readonly worker: Worker;
  private readonly jobs = new Map<number, JobState>();
  private broken: Error | null = null;
  /** Buffers back from the worker, ready for the next batch. */
  private readonly free: ArrayBuffer[] = [];
  private inFlight = 0;
  /** Replies awaited (acks and digests): while any is, the worker keeps the process alive. */
  private awaited = 0;
  /** Senders waiting for a buffer. */
  private readonly waiting: (() => void)[] = [];

  constructor(algorithm: Algorithm) {
    // No inherited node flags: the source is plain CommonJS (not tsx's, nor --input-type=module's).
    this.worker = new Worker(WORKER_SOURCE, {
      eval: true,
      execArgv: [],
      workerData: { algorithm },
    });
    this.worker.on(
      "message",
      (m: { type: string; job: number; hex?: string; bytes?: ArrayBuffer }) => {
        this.settled();
        if (m.type === "ack") {
          this.inFlight--;
          if (m.bytes) this.free.push(m.bytes);
          this.waiting.shift()?.();
          return;
        }
        const state = this.jobs.get(m.job);
        if (!state) return;
        if (m.type === "digest") {
          this.jobs.delete(m.job);
          state.digest?.(m.hex ?? "");
        }
      },
    );
    this.worker.on("error", (err) => {
      this.fail(err);
    });
    this.worker.on("exit", (code) => {
      this.fail(new Error(`the hash worker exited (${code})`));
    });
    // After the listeners: adding a "message" listener refs the worker's port again.
    this.worker.unref();
  }

  /** A reply is now awaited: an idle process must not exit before it comes. */
  private expect(): void {
    if (this.awaited++ === 0) this.worker.ref();
  }

  /** A reply came: with none awaited, the worker no longer keeps the process alive. */
  private settled(): void {
    if (this.awaited > 0 && --this.awaited === 0) this.worker.unref();
  }

  /** Copies `chunks` (at most BATCH_BYTES in all) into a buffer and moves it to the worker. */
  async send(job: number, chunks: readonly Buffer[], length: number): Promise<void> {
    while (this.inFlight >= MAX_IN_FLIGHT && !this.broken) {
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    }
    if (this.broken) throw this.broken;
    this.state(job);
    const bytes = this.free.pop() ?? new ArrayBuffer(BATCH_BYTES);
    const view = Buffer.from(bytes);
    let at = 0;
    for (const chunk of chunks) {
      chunk.copy(view, at);
      at += chunk.length;
    }
    this.inFlight++;
    this.expect();
    this.worker.postMessage({ type: "data", job, bytes, length }, [bytes]);
  }

  digest(job: number): Promise<string> {
    if (this.broken) return Promise.reject(this.broken);
    const state = this.state(job);
    return new Promise((resolve, reject) => {
      state.digest = resolve;
      state.fail = reject;
      this.expect();
      this.worker.postMessage({ type: "end", job });
    });
  }

  drop(job: number): void {
    if (this.jobs.delete(job)) this.worker.postMessage({ type: "drop", job });
  }

  private state(job: number): JobState {
    let state = this.jobs.get(job);
    if (!state) {
      state = { digest: null, fail: null };
      this.jobs.set(job, state);
    }
    return state;
  }

  private fail(err: Error): void {
    this.broken = err;
    for (const state of this.jobs.values()) state.fail?.(err);
    this.jobs.clear();
    for (const wake of this.waiting.splice(0)) wake();
  }
}

let workers: Record<Algorithm, HashWorker> | null = null;
let nextJob = 1;

const pool = (): Record<Algorithm, HashWorker> =>
  (workers ??= { sha256: new HashWorker("sha256"), md5: new HashWorker("md5") });

/** One upload's sha256 and md5, computed on the worker threads. */
export class OffThreadDigests {
  private readonly job = nextJob++;

  /** Hands `chunks` (at most BATCH_BYTES in all) to both workers; resolves once they took them. */
  async update(chunks: readonly Buffer[], length: number): Promise<void> {
    const w = pool();
    await Promise.all(ALGORITHMS.map((a) => w[a].send(this.job, chunks, length)));
  }

  async hex(): Promise<{ sha256: string; md5: string }> {
    const w = pool();
    const [sha256, md5] = await Promise.all(ALGORITHMS.map((a) => w[a].digest(this.job)));
    return { sha256: sha256!, md5: md5! };
  }

  /** Forgets the job (an upload that failed). */
  drop(): void {
    const w = pool();
    for (const a of ALGORITHMS) w[a].drop(this.job);
  }
}
