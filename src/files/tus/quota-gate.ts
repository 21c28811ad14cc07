/**
 * The quota for a tus upload whose length is deferred: its bytes are held as
 * they arrive (QuotaHold.cover, a step ahead), and the PATCH stops exactly at
 * the quota. The bytes before that point are stored and hashed like any
 * other, so the upload's offset and digests stay in step; then the PATCH is
 * answered 413 E_QUOTA naming the offset it reached. The client learns what
 * was kept with HEAD, as after any interrupted PATCH.
 */
import { Readable } from "node:stream";
import { GamedockError } from "../../core/index.js";
import type { QuotaHold } from "../quota.js";

export class QuotaGate {
  /** Set once the quota stopped the body: the answer for the PATCH. */
  stopped: GamedockError | null = null;

  constructor(
    private readonly hold: QuotaHold,
    private readonly quotaBytes: number,
  ) {}

  /**
   * `source` from byte `offset` of the upload, ending early at the quota.
   * The source is not destroyed when it ends early (`destroyOnStop` false):
   * the request body belongs to @tus/server, which ends the request itself.
   */
  wrap(source: Readable, offset: number, destroyOnStop: boolean): Readable {
    const gate = async function* (this: QuotaGate): AsyncGenerator<Buffer> {
      let total = offset;
      const chunks = source.iterator({ destroyOnReturn: destroyOnStop }) as AsyncIterable<
        Buffer | string
      >;
      for await (const piece of chunks) {
        const chunk = typeof piece === "string" ? Buffer.from(piece) : piece;
        total += chunk.length;
        const allowed = await this.hold.cover(total);
        if (allowed < total) {
          const keep = chunk.length - (total - allowed);
          if (keep > 0) yield chunk.subarray(0, keep);
          this.stopped = this.refusal(allowed);
          return;
        }
        yield chunk;
      }
    }.call(this);
    return Readable.from(gate, { objectMode: false });
  }

  private refusal(offset: number): GamedockError {
    return new GamedockError(
      "E_QUOTA",
      `the upload reached this token's quota of ${this.quotaBytes} bytes (files.quotaBytes) at byte ${offset}; the bytes up to there are stored (HEAD shows the offset) — delete files to make room, or end the upload by declaring Upload-Length: ${offset}`,
      { offset, quota: this.quotaBytes },
    );
  }
}
