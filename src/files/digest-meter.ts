/**
 * A pass-through that hashes (sha256, md5) and counts the bytes of an upload
 * as they stream to the store, and cuts the stream off once it passes a
 * limit — so a chunked body of unknown length can never outgrow
 * files.maxUploadBytes, and the digests are ready when the store is done
 * without reading the object back. An `admit` check (the quota) may hold a
 * chunk back until it resolves, or refuse it.
 */
import { createHash, type Hash } from "node:crypto";
import { Transform, type TransformCallback } from "node:stream";

/** Larger than a socket read, so a slow store still lets the client keep sending. */
const BUFFER_BYTES = 1024 * 1024;

export interface Digests {
  size: number;
  sha256: string;
  md5: string;
}

/** Resolves when `total` bytes may pass; rejects with the refusal otherwise. */
export type Admit = (total: number) => Promise<void>;

export class DigestMeter extends Transform {
  #size = 0;
  readonly #sha256: Hash = createHash("sha256");
  readonly #md5: Hash = createHash("md5");
  /** The error that cut the stream off (over the limit, or not admitted), if one did. */
  refusal: Error | null = null;

  constructor(
    private readonly limit: number,
    private readonly tooLarge: (size: number) => Error,
    private readonly admit: Admit | null = null,
  ) {
    super({ writableHighWaterMark: BUFFER_BYTES, readableHighWaterMark: BUFFER_BYTES });
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.#size += chunk.length;
    if (this.#size > this.limit) {
      this.refusal = this.tooLarge(this.#size);
      callback(this.refusal);
      return;
    }
    if (!this.admit) {
      this.pass(chunk, callback);
      return;
    }
    this.admit(this.#size).then(
      () => {
        this.pass(chunk, callback);
      },
      (err: unknown) => {
        this.refusal = err instanceof Error ? err : new Error(String(err));
        callback(this.refusal);
      },
    );
  }

  private pass(chunk: Buffer, callback: TransformCallback): void {
    this.#sha256.update(chunk);
    this.#md5.update(chunk);
    callback(null, chunk);
  }

  /** Valid once the stream has ended. */
  digests(): Digests {
    return {
      size: this.#size,
      sha256: this.#sha256.digest("hex"),
      md5: this.#md5.digest("hex"),
    };
  }
}
