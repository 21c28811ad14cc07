/**
 * A pass-through that hashes (sha256, md5) and counts the bytes of an upload
 * as they stream to the store, and cuts the stream off once it passes a
 * limit — so a chunked body of unknown length can never outgrow
 * files.maxUploadBytes, and the digests are ready when the store is done
 * without reading the object back.
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

export class DigestMeter extends Transform {
  #size = 0;
  readonly #sha256: Hash = createHash("sha256");
  readonly #md5: Hash = createHash("md5");
  /** The error that cut the stream off at the limit, if it was. */
  overLimit: Error | null = null;

  constructor(
    private readonly limit: number,
    private readonly tooLarge: (size: number) => Error,
  ) {
    super({ writableHighWaterMark: BUFFER_BYTES, readableHighWaterMark: BUFFER_BYTES });
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.#size += chunk.length;
    if (this.#size > this.limit) {
      this.overLimit = this.tooLarge(this.#size);
      callback(this.overLimit);
      return;
    }
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
