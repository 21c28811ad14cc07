/**
 * sha256 and md5 of uploads on a worker thread, off the event loop: on this
 * machine's CPU the two digests of 1 GiB cost about 1.7 s on one core, which
 * the main thread spent between reading the socket and writing the disk
 * (docs/benchmarks.md, "Uploads"). Each upload is a job; its bytes go to the
 * worker copied into one of its reused buffers, moved (transferred) there
 * and back: no allocation per batch, and at most MAX_IN_FLIGHT buffers at
 * once, so memory stays flat however fast clients send. One worker computes
 * both digests: two (one per algorithm) were no faster on 2 cores — the
 * upload, not the hashing, is the bound — and cost a second V8 isolate
 * (8 MB) and a second copy and message per batch. (SharedArrayBuffers were
 * tried first: the worker's heap hardly grows, so it rarely collects, and the
 * shared memory it had hashed piled up to the size of the upload.) The
 * worker is made on first use, shared by every upload of the process, and
 * keeps the process alive only while a reply is awaited.
 */
import { Worker } from "node:worker_threads";

/** The worker's code (CommonJS, evaluated: no file to resolve under tsx or in dist). */
const WORKER_SOURCE = `
const { parentPort, workerData } = require("node:worker_threads");
const { createHash } = require("node:crypto");
const jobs = new Map();
const start = () => workerData.algorithms.map((algorithm) => createHash(algorithm));
parentPort.on("message", (m) => {
  if (m.type === "data") {
    let hashes = jobs.get(m.job);
    if (!hashes) jobs.set(m.job, (hashes = start()));
    const bytes = new Uint8Array(m.bytes, 0, m.length);
    for (const hash of hashes) hash.update(bytes);
    parentPort.postMessage({ type: "ack", job: m.job, bytes: m.bytes }, [m.bytes]);
  } else if (m.type === "end") {
    const hashes = jobs.get(m.job) ?? start();
    jobs.delete(m.job);
    parentPort.postMessage({ type: "digest", job: m.job, hex: hashes.map((h) => h.digest("hex")) });
  } else if (m.type === "drop") {
    jobs.delete(m.job);
  }
});
`;

/** Buffers the worker holds at once, each BATCH_BYTES: bounds the memory of every upload together. */
const MAX_IN_FLIGHT = 4;
/** A batch buffer's size: what one update may carry at most. */
export const BATCH_BYTES = 1280 * 1024;

interface JobState {
  digest: ((hex: string[]) => void) | null;
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

  constructor(algorithms: readonly string[]) {
    // No inherited node flags: the source is plain CommonJS (not tsx's, nor --input-type=module's).
    this.worker = new Worker(WORKER_SOURCE, {
      eval: true,
      execArgv: [],
      // A hash worker holds no more than its job table: a small heap keeps its memory small.
      resourceLimits: {
        maxYoungGenerationSizeMb: 1,
        maxOldGenerationSizeMb: 8,
        codeRangeSizeMb: 2,
      },
      workerData: { algorithms },
    });
    this.worker.on(
      "message",
      (m: { type: string; job: number; hex?: string[]; bytes?: ArrayBuffer }) => {
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
          state.digest?.(m.hex ?? []);
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

  digest(job: number): Promise<string[]> {
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

let worker: HashWorker | null = null;
let nextJob = 1;

const shared = (): HashWorker => (worker ??= new HashWorker(["sha256", "md5"]));

/** One upload's sha256 and md5, computed on the hash worker. */
export class OffThreadDigests {
  private readonly job = nextJob++;

  /** Hands `chunks` (`length` bytes in all) to the worker; resolves once it took them. */
  async update(chunks: readonly Buffer[], length: number): Promise<void> {
    if (length <= BATCH_BYTES) {
      await this.send(chunks, length);
      return;
    }
    // In batches that fit the worker's buffers (a chunk larger than one is sliced).
    for (const chunk of chunks) {
      for (let at = 0; at < chunk.length; at += BATCH_BYTES) {
        const slice = chunk.subarray(at, at + BATCH_BYTES);
        await this.send([slice], slice.length);
      }
    }
  }

  private async send(chunks: readonly Buffer[], length: number): Promise<void> {
    await shared().send(this.job, chunks, length);
  }

  async hex(): Promise<{ sha256: string; md5: string }> {
    const [sha256, md5] = await shared().digest(this.job);
    return { sha256: sha256!, md5: md5! };
  }

  /** Forgets the job (an upload that failed, or was left). */
  drop(): void {
    shared().drop(this.job);
  }
}
