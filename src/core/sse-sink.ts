/**
 * One client's event stream with real backpressure: frames go to the socket
 * while it takes them; when it does not (write() returned false), they wait in
 * a queue of shared strings until 'drain'. A client whose queue passes
 * `maxQueuedBytes` is not reading — it is dropped, so a stalled client never
 * makes the server hold more than that for it.
 */
import type { ServerResponse } from "node:http";

/** Starts an event stream on a raw response: the headers every stream sends. */
export function writeSseHead(res: ServerResponse): void {
  res.writeHead(200, {
    "content-type": "text/event-stream; charset=utf-8",
    "cache-control": "no-cache",
    connection: "keep-alive",
    "x-accel-buffering": "no", // nginx: do not buffer the stream
  });
}

/** What a stream of server-sent events offers its producer. */
export interface SseSubscriber {
  /** Gone (closed, or dropped for not reading): nothing more is written. */
  readonly closed: boolean;
  /** One or more serialized frames ("event: …\ndata: …\n\n"). */
  write(frames: string): void;
  /** The stream is over. */
  end(): void;
  /** Resolves once what was written has gone out (or the subscriber is gone). */
  drained(): Promise<void>;
}

export class SseSink implements SseSubscriber {
  #queue: string[] = [];
  #head = 0;
  #queuedBytes = 0;
  #waiting = false;
  #closed = false;
  #drainWaiters: (() => void)[] = [];

  constructor(
    private readonly res: ServerResponse,
    private readonly maxQueuedBytes: number,
    /** A client that takes longer than this to read what waits for it is dropped, ms. */
    private readonly drainTimeoutMs: number,
    /** Called once, when the stream closes for any reason; `dropped` when we cut it. */
    private readonly onClose: (dropped: boolean) => void,
  ) {
    res.on("close", () => {
      this.#close(false);
    });
  }

  get closed(): boolean {
    return this.#closed;
  }

  write(frame: string): void {
    if (this.#closed) return;
    if (this.#waiting) {
      this.#queue.push(frame);
      this.#queuedBytes += frame.length;
      if (this.#queuedBytes > this.maxQueuedBytes) this.#drop();
      return;
    }
    if (!this.res.write(frame)) this.#wait();
  }

  end(): void {
    if (this.#closed) return;
    if (this.#waiting) {
      // After the queue: the frames before `end` still go out.
      this.#drainWaiters.push(() => this.res.end());
      return;
    }
    this.res.end();
  }

  /**
   * Resolves when everything written so far has reached the socket, or the
   * stream closed — dropping a client that does not read within the timeout.
   */
  drained(): Promise<void> {
    if (!this.#waiting || this.#closed) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#drop();
      }, this.drainTimeoutMs);
      timer.unref();
      this.#drainWaiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  #wait(): void {
    this.#waiting = true;
    this.res.once("drain", () => {
      this.#flush();
    });
  }

  #flush(): void {
    this.#waiting = false;
    while (this.#head < this.#queue.length && !this.#closed) {
      const frame = this.#queue[this.#head++]!;
      this.#queuedBytes -= frame.length;
      if (!this.res.write(frame)) {
        this.#wait();
        return;
      }
    }
    this.#queue = [];
    this.#head = 0;
    for (const waiter of this.#drainWaiters.splice(0)) waiter();
  }

  #drop(): void {
    this.#close(true);
    this.res.destroy();
  }

  #close(dropped: boolean): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#queue = [];
    this.#queuedBytes = 0;
    for (const waiter of this.#drainWaiters.splice(0)) waiter();
    this.onClose(dropped);
  }
}
