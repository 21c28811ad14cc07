/**
 * One of the tool's output streams (stdout or stderr) captured to a log file,
 * streamed, never held whole:
 * - the file keeps the first `maxBytes` bytes; what comes after is read and
 *   dropped (so the tool never blocks on a full pipe) and the capture says
 *   `truncated`;
 * - the tail is the last `tailBytes` bytes the tool wrote, past the cut too:
 *   the end of the output is where a tool says why it failed.
 *
 * The tool writes into a pipe rather than straight into the file: only a pipe
 * lets the runner stop the file at the limit while the tool keeps writing.
 */
import { createWriteStream } from "node:fs";
import { Transform, type Readable, type TransformCallback } from "node:stream";
import { pipeline } from "node:stream/promises";
import { errnoCode } from "../../core/index.js";

export class LogCapture {
  readonly path: string;
  readonly #maxBytes: number;
  readonly #tailBytes: number;
  #kept = 0;
  #tail: Buffer = Buffer.alloc(0);
  #truncated = false;
  #failure: unknown = undefined;

  constructor(path: string, maxBytes: number, tailBytes: number) {
    this.path = path;
    this.#maxBytes = maxBytes;
    this.#tailBytes = tailBytes;
  }

  get truncated(): boolean {
    return this.#truncated;
  }

  /** Why writing the log file failed (ENOSPC, EIO), if it did. */
  get failure(): unknown {
    return this.#failure;
  }

  /**
   * Copies `source` into the log until it ends. Never rejects: a stream the
   * runner destroyed (a grandchild that escaped the group holds the pipe)
   * ends the capture with what it has; a failed write is kept in `failure`.
   */
  async capture(source: Readable): Promise<void> {
    const file = createWriteStream(this.path, { flags: "wx", mode: 0o600 });
    try {
      await pipeline(source, this.#cutter(), file);
    } catch (err) {
      if (errnoCode(err) !== "ERR_STREAM_PREMATURE_CLOSE") this.#failure = err;
    }
  }

  /** The last `tailBytes` of the output as text, never starting inside a UTF-8 sequence. */
  tail(): string {
    let start = 0;
    // Continuation bytes are 10xxxxxx; a sequence has at most three of them.
    while (start < Math.min(3, this.#tail.length) && (this.#tail[start]! & 0xc0) === 0x80) start++;
    return this.#tail.subarray(start).toString("utf8");
  }

  #cutter(): Transform {
    return new Transform({
      transform: (chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback) => {
        this.#keepTail(chunk);
        const room = this.#maxBytes - this.#kept;
        if (chunk.length > room) this.#truncated = true;
        if (room <= 0) {
          done();
          return;
        }
        const kept = chunk.length > room ? chunk.subarray(0, room) : chunk;
        this.#kept += kept.length;
        done(null, kept);
      },
    });
  }

  #keepTail(chunk: Buffer): void {
    if (this.#tailBytes <= 0) return;
    if (chunk.length >= this.#tailBytes) {
      this.#tail = Buffer.from(chunk.subarray(chunk.length - this.#tailBytes));
      return;
    }
    const joined = Buffer.concat([this.#tail, chunk]);
    this.#tail = joined.subarray(Math.max(0, joined.length - this.#tailBytes));
  }
}
