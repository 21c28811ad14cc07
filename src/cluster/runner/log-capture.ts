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
 *
 * Runs in the launcher process (launcher-main.ts): node: imports only.
 */
import { createWriteStream, type WriteStream } from "node:fs";
import type { Readable } from "node:stream";

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
    // The file is made only once there is something to keep: a silent stream costs no file.
    let file: WriteStream | null = null;
    const open = (): WriteStream => {
      const stream = createWriteStream(this.path, { flags: "wx", mode: 0o600 });
      stream.on("error", (err) => {
        this.#failure ??= err;
      });
      return stream;
    };
    try {
      for await (const chunk of source as AsyncIterable<Buffer>) {
        const kept = this.#take(chunk);
        if (kept.length === 0 || this.#failure !== undefined) continue;
        file ??= open();
        // Backpressure: wait for the file, not the tool, when the disk is slower.
        const target = file;
        if (!target.write(kept)) {
          await new Promise<void>((resolve) => {
            target.once("drain", () => {
              resolve();
            });
          });
        }
      }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ERR_STREAM_PREMATURE_CLOSE")
        this.#failure ??= err;
    } finally {
      const opened = file;
      if (opened) {
        await new Promise<void>((resolve) => {
          opened.end(() => {
            resolve();
          });
        });
      }
    }
  }

  /** Whether anything was written to the log file (a silent stream leaves none). */
  get written(): boolean {
    return this.#kept > 0;
  }

  /** The last `tailBytes` of the output as text, never starting inside a UTF-8 sequence. */
  tail(): string {
    let start = 0;
    // Continuation bytes are 10xxxxxx; a sequence has at most three of them.
    while (start < Math.min(3, this.#tail.length) && (this.#tail[start]! & 0xc0) === 0x80) start++;
    return this.#tail.subarray(start).toString("utf8");
  }

  /** Records the chunk's tail and returns the part the file still has room for. */
  #take(chunk: Buffer): Buffer {
    this.#keepTail(chunk);
    const room = this.#maxBytes - this.#kept;
    if (chunk.length > room) this.#truncated = true;
    if (room <= 0) return chunk.subarray(0, 0);
    const kept = chunk.length > room ? chunk.subarray(0, room) : chunk;
    this.#kept += kept.length;
    return kept;
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
